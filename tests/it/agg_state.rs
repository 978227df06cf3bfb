//! Aggregate state is bounded and released: step batches are capped in
//! bytes as well as rows, and every accumulator the host creates is
//! finished or dropped, whatever happens to the query. `acc-live` counts
//! its live accumulators, so a leak is visible.

use std::time::Duration;

use anyhow::{Context as _, Result};
use rusqlite::Connection;
use rusqlite::types::Value;
use wasmudf::{Engine, Interrupt, Limits};
use wasmudf_tests::{conn_with, load_on, scalar};

/// `count_live` accumulators alive in the connection's instance.
fn live(conn: &Connection) -> Result<i64> {
    match scalar(conn, "SELECT live_accumulators()")? {
        Value::Integer(n) => Ok(n),
        other => anyhow::bail!("live_accumulators() gave {other:?}"),
    }
}

const ROWS: &str = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)";

#[test]
fn failed_aggregate_calls_leave_no_accumulator_alive() -> Result<()> {
    let conn = conn_with(&["acc-live"])?;
    let failing = [
        // The failing row is still buffered when finalize flushes it.
        "SELECT count_live(column1) FROM (VALUES (1), (-1), (2))",
        "SELECT column1, count_live(column2) FROM (VALUES (1, 1), (1, -1), (2, 5)) \
         GROUP BY column1",
        // A window fails in a step between two values.
        "SELECT count_live(column2) OVER (ORDER BY column1 ROWS 1 PRECEDING) \
         FROM (VALUES (1, 1), (2, -1), (3, 2))",
    ];
    for _ in 0..10 {
        for sql in failing {
            let err = conn
                .prepare(sql)?
                .query_map([], |r| r.get::<_, Value>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()
                .expect_err(sql);
            assert!(err.to_string().contains("asked to fail"), "{sql}: {err}");
        }
    }
    assert_eq!(live(&conn)?, 0);
    assert_eq!(
        scalar(
            &conn,
            "SELECT count_live(column1) FROM (VALUES (1), ('a'), (NULL))"
        )?,
        Value::Integer(3)
    );
    assert_eq!(live(&conn)?, 0);
    Ok(())
}

#[test]
fn a_window_over_101000_empty_frame_partitions_works() -> Result<()> {
    let conn = conn_with(&["acc-live"])?;
    // Every partition has one row, whose frame (the row before it) is
    // empty: SQLite asks for the value of an aggregate it never stepped,
    // and never finalizes it.
    let sql = format!(
        "{ROWS} SELECT count(*), sum(c) FROM (
             SELECT count_live(i) OVER (PARTITION BY i ROWS BETWEEN 1 PRECEDING AND 1 PRECEDING)
                 AS c FROM n)"
    );
    let (rows, sum): (i64, i64) =
        conn.query_row(&sql, [101_000], |r| Ok((r.get(0)?, r.get(1)?)))?;
    assert_eq!((rows, sum), (101_000, 0));
    assert_eq!(live(&conn)?, 0);
    Ok(())
}

#[test]
fn an_interrupted_aggregate_releases_its_accumulator_afterwards() -> Result<()> {
    let conn = Connection::open_in_memory()?;
    let interrupt = Interrupt::new();
    wasmudf_tests::component("acc-live").register_with(&conn, &interrupt)?;
    {
        let mut stmt = conn.prepare(&format!(
            "{ROWS} SELECT count_live(i) OVER (ORDER BY i) FROM n"
        ))?;
        let mut rows = stmt.query([10])?;
        let first: i64 = rows.next()?.context("a first row")?.get(0)?;
        assert_eq!(first, 1);
        // The statement is torn down while no guest code may run: the
        // accumulator can only be released later.
        interrupt.interrupt();
    }
    interrupt.reset();
    assert_eq!(live(&conn)?, 0);
    Ok(())
}

/// Peak RSS of this process, in KiB, since start or the last
/// [`reset_peak_rss`].
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// Sets the peak RSS to the current RSS (Linux: `clear_refs` mode 5).
fn reset_peak_rss() -> Result<()> {
    std::fs::write("/proc/self/clear_refs", "5").context("resetting VmHWM")
}

/// Marks the child process [`big_rows_in_a_32_mib_guest`] runs its
/// workload in, so its peak RSS is its own and not the other tests'.
const RSS_CHILD: &str = "WASMUDF_TEST_RSS_CHILD";

/// The workload: aggregates over rows of 100 KB, 1 MiB and one of 8 MiB,
/// with the guest's memory capped at 32 MiB. Returns the growth of the
/// peak RSS while they ran, in KiB.
fn big_rows_workload() -> Result<u64> {
    let engine = Engine::builder()
        .limits(Limits {
            max_memory_bytes: 32 << 20,
            timeout: Duration::from_secs(30),
            ..Limits::default()
        })
        .build()?;
    let conn = Connection::open_in_memory()?;
    load_on(&engine, "acc-live").register(&conn)?;
    assert_eq!(live(&conn)?, 0, "warm-up");
    reset_peak_rss()?;
    let before = peak_rss_kib();
    let count = |sql: &str, n: i64| -> Result<i64> {
        Ok(conn.query_row(&format!("{ROWS} {sql}"), [n], |r| r.get(0))?)
    };
    // 3,000 rows of 100 KB TEXT: 300 MB through a guest of 32 MiB. One
    // batch of 1,024 such rows would be 100 MB.
    assert_eq!(
        count(
            "SELECT count_live(printf('%.*c', 100000, 'x')) FROM n",
            3000
        )?,
        3000
    );
    // 300 rows of 1 MiB BLOB, each over the batch budget, so each alone.
    assert_eq!(
        count("SELECT count_live(zeroblob(1 << 20)) FROM n", 300)?,
        300
    );
    // One row of 8 MiB, and a window over 2 MiB rows.
    assert_eq!(count("SELECT count_live(zeroblob(8 << 20)) FROM n", 1)?, 1);
    assert_eq!(
        count(
            "SELECT sum(c) FROM (SELECT count_live(zeroblob(2 << 20)) \
             OVER (ORDER BY i ROWS 2 PRECEDING) AS c FROM n)",
            20
        )?,
        57
    );
    assert_eq!(live(&conn)?, 0);
    Ok(peak_rss_kib().saturating_sub(before))
}

#[test]
fn big_rows_in_a_32_mib_guest() -> Result<()> {
    if std::env::var_os(RSS_CHILD).is_some() {
        let growth = big_rows_workload()?;
        println!("peak RSS growth: {growth} KiB");
        return Ok(());
    }
    let out = std::process::Command::new(std::env::current_exe()?)
        .args([
            "agg_state::big_rows_in_a_32_mib_guest",
            "--exact",
            "--nocapture",
        ])
        .env(RSS_CHILD, "1")
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let growth: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("peak RSS growth: "))
        .and_then(|l| l.strip_suffix(" KiB"))
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no measurement in {stdout:?}"))?;
    eprintln!("big rows: peak RSS grew by {growth} KiB");
    // 600 MB went through; the guest may hold 32 MiB, the host a batch
    // and the row SQLite is building.
    assert!(growth < 128 << 10, "peak RSS grew by {growth} KiB");
    Ok(())
}
