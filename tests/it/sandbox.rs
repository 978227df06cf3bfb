//! Nothing is lost: a failing UDF inside a write transaction leaves the
//! database as it was; schema trust; and a soak of hostile and normal calls.

use std::time::Duration;

use anyhow::Result;
use rusqlite::Connection;
use wasmudf::{Database, Engine, Limits};
use wasmudf_test_guests as guests;

fn count_and_integrity(path: &std::path::Path) -> Result<(i64, i64, String)> {
    let conn = Connection::open(path)?;
    let (n, sum): (i64, i64) = conn.query_row("SELECT count(*), total(x) FROM t", [], |r| {
        Ok((r.get(0)?, r.get::<_, f64>(1)? as i64))
    })?;
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    Ok((n, sum, check))
}

fn seeded_file() -> Result<(tempfile::TempDir, std::path::PathBuf)> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("data.db");
    let conn = Connection::open(&path)?;
    conn.execute_batch(
        "CREATE TABLE t(id INTEGER PRIMARY KEY, x INTEGER, note TEXT);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)
         INSERT INTO t(x, note) SELECT i, 'row ' || i FROM n;",
    )?;
    Ok((dir, path))
}

fn tight_engine() -> Engine {
    Engine::builder()
        .limits(Limits {
            timeout: Duration::from_millis(200),
            max_memory_bytes: 16 << 20,
            ..Limits::default()
        })
        .build()
        .expect("engine")
}

#[test]
fn a_failing_udf_mid_transaction_loses_nothing_sync_api() -> Result<()> {
    let (_dir, path) = seeded_file()?;
    let before = count_and_integrity(&path)?;
    assert_eq!(before, (100, 5050, "ok".to_string()));
    let engine = tight_engine();
    for (guest, bad) in [
        (guests::MEMORY_BOMB, "bomb(1000)"),
        (guests::INFINITE_LOOP, "spin()"),
        (guests::PANIC, "boom('mid-transaction')"),
    ] {
        let mut conn = Connection::open(&path)?;
        engine.load_file(guest)?.register(&conn)?;
        let tx = conn.transaction()?;
        tx.execute("INSERT INTO t(x, note) SELECT x + 1000, note FROM t", [])?;
        tx.execute("UPDATE t SET note = 'changed'", [])?;
        tx.execute("DELETE FROM t WHERE id % 3 = 0", [])?;
        let failed = tx.execute(&format!("INSERT INTO t(x, note) VALUES (1, {bad})"), []);
        assert!(failed.is_err(), "{bad} did not fail");
        drop(tx); // rolls back
        assert_eq!(count_and_integrity(&path)?, before, "after {bad}");
    }
    Ok(())
}

#[test]
fn a_failing_udf_mid_transaction_loses_nothing_async_api() -> Result<()> {
    let (_dir, path) = seeded_file()?;
    let before = count_and_integrity(&path)?;
    let engine = tight_engine();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let db = Database::builder()
            .path(&path)
            .components([
                engine.load_file(guests::MEMORY_BOMB)?,
                engine.load_file(guests::INFINITE_LOOP)?,
            ])
            .pool_size(2)
            .open()
            .await?;
        for bad in ["bomb(1000)", "spin()"] {
            let mut tx = db.transaction().await?;
            tx.execute("INSERT INTO t(x, note) SELECT x + 1000, note FROM t", ())
                .await?;
            tx.execute("DELETE FROM t WHERE id % 2 = 0", ()).await?;
            let failed = tx.execute(&format!("UPDATE t SET x = x + {bad}"), ()).await;
            assert!(failed.is_err(), "{bad} did not fail");
            drop(tx);
        }
        // Writes through the pool still work afterwards.
        db.execute("INSERT INTO t(x, note) VALUES (0, 'after')", ())
            .await?;
        db.execute("DELETE FROM t WHERE note = 'after'", ()).await?;
        anyhow::Ok(())
    })?;
    assert_eq!(count_and_integrity(&path)?, before);
    Ok(())
}

#[test]
fn a_schema_that_calls_an_untrusted_udf_is_refused() -> Result<()> {
    let (_dir, path) = seeded_file()?;
    {
        // Someone else's tool wrote a view and a trigger that call UDFs.
        let conn = Connection::open(&path)?;
        wasmudf_tests::component("text")
            .trusted(true)
            .register(&conn)?;
        conn.execute_batch(
            "CREATE VIEW shout AS SELECT unicode_upper(note) AS s FROM t;
             CREATE TABLE log(v);
             CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN INSERT INTO log VALUES (unicode_upper(new.note)); END;",
        )?;
    }
    let conn = Connection::open(&path)?;
    wasmudf_tests::component("text").register(&conn)?; // untrusted
    let view = conn.query_row("SELECT count(*) FROM shout", [], |r| r.get::<_, i64>(0));
    assert!(
        view.expect_err("view")
            .to_string()
            .contains("unsafe use of")
    );
    let trigger = conn.execute("INSERT INTO t(x, note) VALUES (1, 'x')", []);
    assert!(
        trigger
            .expect_err("trigger")
            .to_string()
            .contains("unsafe use of")
    );
    assert_eq!(count_and_integrity(&path)?.0, 100);
    Ok(())
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// Several threads mixing hostile and normal calls: normal answers stay
/// right, instances stay within their cap, memory stays bounded.
#[test]
fn soak_hostile_and_normal_calls_on_many_threads() -> Result<()> {
    const THREADS: usize = 4;
    const CALLS: usize = 1500;
    const MAX_INSTANCES: u32 = 24;
    let engine = Engine::builder()
        .limits(Limits {
            // Fuel, not the deadline, stops the loops: a deadline short
            // enough to keep the soak quick also failed normal calls when
            // the machine was loaded (4 threads on 2 busy cores).
            timeout: Duration::from_secs(30),
            fuel: Some(50_000_000),
            max_memory_bytes: 16 << 20,
            max_instances: MAX_INSTANCES,
            ..Limits::default()
        })
        .build()?;
    let paths = [
        guests::IDENTITY,
        guests::TEXT,
        guests::INFINITE_LOOP,
        guests::MEMORY_BOMB,
        guests::PANIC,
        guests::UNREACHABLE,
    ];
    let components: Vec<_> = paths
        .iter()
        .map(|p| engine.load_file(p))
        .collect::<Result<_, _>>()?;
    let run = |warmup: bool| -> Result<()> {
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..THREADS)
                .map(|t| {
                    let components = &components;
                    let engine = &engine;
                    scope.spawn(move || -> Result<()> {
                        let conn = Connection::open_in_memory()?;
                        for c in components {
                            c.register(&conn)?;
                        }
                        let calls = if warmup { 100 } else { CALLS };
                        for i in 0..calls as i64 {
                            let hostile = match (i + t as i64) % 40 {
                                0 => Some("SELECT spin()"),
                                10 => Some("SELECT bomb(100)"),
                                20 => Some("SELECT boom('soak')"),
                                30 => Some("SELECT hit_unreachable()"),
                                _ => None,
                            };
                            if let Some(sql) = hostile {
                                let r = conn.query_row(sql, [], |r| r.get::<_, i64>(0));
                                anyhow::ensure!(r.is_err(), "{sql} succeeded");
                            } else {
                                let (a, up): (i64, String) = conn.query_row(
                                    "SELECT identity(?1), unicode_upper('straße' || ?1)",
                                    [i],
                                    |r| Ok((r.get(0)?, r.get(1)?)),
                                )?;
                                anyhow::ensure!(a == i, "identity({i}) = {a}");
                                anyhow::ensure!(
                                    up == format!("STRASSE{i}"),
                                    "unicode_upper gave {up}"
                                );
                            }
                            let live = engine.instance_stats().live;
                            anyhow::ensure!(
                                live <= u64::from(MAX_INSTANCES),
                                "{live} live instances"
                            );
                        }
                        Ok(())
                    })
                })
                .collect();
            for w in workers {
                w.join().expect("worker thread")?;
            }
            Ok(())
        })
    };
    run(true)?;
    let before = rss_kib();
    run(false)?;
    let after = rss_kib();
    let stats = engine.instance_stats();
    assert!(
        stats.replaced > 0,
        "no hostile call replaced an instance: {stats:?}"
    );
    // Every connection is gone: every instance must be too.
    assert_eq!(stats.live, 0, "{stats:?}");
    assert!(
        after.saturating_sub(before) < 64 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
    Ok(())
}
