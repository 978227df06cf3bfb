//! Deterministic means deterministic: a function declared DETERMINISTIC
//! sees no granted directory, sleeps without time passing, and reads the
//! same "random" bytes on every call. Each check runs the plain twin too,
//! which must see what the deterministic one may not.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use rusqlite::Connection;
use wasmudf::DirGrant;
use wasmudf_tests::component;

fn conn(grant: &Path) -> Result<Connection> {
    let conn = Connection::open_in_memory()?;
    component("determinism")
        .grant_dir(DirGrant::read_only(grant, "/data"))?
        .register(&conn)?;
    Ok(conn)
}

#[test]
fn a_deterministic_sleep_returns_at_once_and_moves_only_its_own_clock() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let conn = conn(dir.path())?;
    // The plain twin really sleeps.
    let start = Instant::now();
    let slept: i64 = conn.query_row("SELECT plain_nap(300)", [], |r| r.get(0))?;
    assert!(slept >= 300, "{slept}");
    assert!(start.elapsed() >= Duration::from_millis(300));
    // 100 deterministic naps of an hour each: if any of them slept, the
    // query would hit the 5 s deadline instead of answering.
    let naps: Vec<i64> = conn
        .prepare(
            "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 100)
             SELECT det_nap(3600000) FROM c",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    // The clock moved by exactly the hour slept, on every call alike.
    assert_eq!(naps, vec![3_600_000; 100]);
    Ok(())
}

#[test]
fn a_deterministic_function_sees_no_granted_directory() -> Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("data.txt"), "varies")?;
    let conn = conn(dir.path())?;
    let plain: String = conn.query_row("SELECT plain_read('/data/data.txt')", [], |r| r.get(0))?;
    assert_eq!(plain, "varies");
    let det = conn
        .query_row("SELECT det_read('/data/data.txt')", [], |r| {
            r.get::<_, String>(0)
        })
        .expect_err("no grant for a deterministic function")
        .to_string();
    assert!(
        det.contains("det_read: cannot read /data/data.txt"),
        "{det}"
    );
    Ok(())
}

#[test]
fn a_deterministic_function_reads_the_same_random_bytes_on_every_call() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let calls = |sql: &str| -> Result<Vec<Vec<u8>>> {
        // A fresh connection (and so a fresh instance) for each round.
        let conn = conn(dir.path())?;
        let mut out = Vec::new();
        for _ in 0..5 {
            out.push(conn.query_row(sql, [], |r| r.get(0))?);
        }
        Ok(out)
    };
    let plain = calls("SELECT plain_random()")?;
    assert!(
        plain.windows(2).all(|w| w[0] != w[1]),
        "plain twin repeats: {plain:?}"
    );
    let first = calls("SELECT det_random()")?;
    assert_eq!(first[0].len(), 16);
    assert!(first.iter().all(|b| *b == first[0]), "{first:?}");
    // And across instances.
    assert_eq!(calls("SELECT det_random()")?, first);
    Ok(())
}
