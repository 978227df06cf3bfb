//! `median` and `sumsq` against answers SQLite's builtins compute on the
//! same data, including GROUP BY and window frames.

use std::time::Duration;

use anyhow::Result;
use rusqlite::Connection;
use rusqlite::types::Value;
use wasmudf::{Engine, Limits};
use wasmudf_tests::{conn_with, load_on, scalar, warnings_during};

/// A table `t(g, x)` of 2,000 rows in 37 groups, with NULLs, integers and
/// reals mixed in, from a fixed linear congruential sequence.
fn data() -> Result<Connection> {
    let conn = conn_with(&["stats"])?;
    conn.execute_batch("CREATE TABLE t(id INTEGER PRIMARY KEY, g INTEGER, x)")?;
    let mut insert = conn.prepare("INSERT INTO t(g, x) VALUES (?1, ?2)")?;
    let mut seed: u64 = 42;
    for i in 0..2000 {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let r = (seed >> 33) as i64;
        let x = match i % 11 {
            0 => Value::Null,
            1 | 2 => Value::Real((r % 10_000) as f64 / 7.0),
            _ => Value::Integer(r % 1000 - 500),
        };
        insert.execute(rusqlite::params![i % 37, x])?;
    }
    drop(insert);
    Ok(conn)
}

/// The median of each group, computed by SQLite alone: order the non-NULL
/// values and average the middle one or two.
const BUILTIN_MEDIAN: &str = "
    WITH ranked AS (
        SELECT g, x, row_number() OVER (PARTITION BY g ORDER BY x) AS rn,
               count(*) OVER (PARTITION BY g) AS n
        FROM t WHERE x IS NOT NULL)
    SELECT g, avg(x) FROM ranked
    WHERE rn IN ((n + 1) / 2, (n + 2) / 2)
    GROUP BY g ORDER BY g";

fn rows(conn: &Connection, sql: &str) -> Result<Vec<(i64, Option<f64>)>> {
    Ok(conn
        .prepare(sql)?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?)
}

fn assert_close(a: &[(i64, Option<f64>)], b: &[(i64, Option<f64>)]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.0, y.0);
        match (x.1, y.1) {
            (Some(p), Some(q)) => {
                assert!((p - q).abs() <= 1e-9 * p.abs().max(1.0), "{x:?} vs {y:?}")
            }
            (p, q) => assert_eq!(p, q, "group {}", x.0),
        }
    }
}

#[test]
fn median_matches_builtin_per_group() -> Result<()> {
    let conn = data()?;
    let ours = rows(&conn, "SELECT g, median(x) FROM t GROUP BY g ORDER BY g")?;
    let theirs = rows(&conn, BUILTIN_MEDIAN)?;
    assert_eq!(ours.len(), 37);
    assert_close(&ours, &theirs);
    Ok(())
}

#[test]
fn median_edge_cases() -> Result<()> {
    let conn = conn_with(&["stats"])?;
    let one = |sql| scalar(&conn, sql);
    assert_eq!(
        one("SELECT median(x) FROM (SELECT 1 AS x WHERE 0)")?,
        Value::Null
    );
    assert_eq!(one("SELECT median(NULL)")?, Value::Null);
    assert_eq!(
        one("SELECT median(x) FROM (SELECT 3 AS x UNION ALL SELECT 1 UNION ALL SELECT 2)")?,
        Value::Real(2.0)
    );
    assert_eq!(
        one(
            "SELECT median(x) FROM (SELECT 4 AS x UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3)"
        )?,
        Value::Real(2.5)
    );
    Ok(())
}

#[test]
fn median_over_many_rows_crosses_step_batches() -> Result<()> {
    let conn = conn_with(&["stats"])?;
    let got = scalar(
        &conn,
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10001) \
         SELECT median(i) FROM n",
    )?;
    assert_eq!(got, Value::Real(5001.0));
    Ok(())
}

#[test]
fn sumsq_matches_builtin_per_group() -> Result<()> {
    let conn = data()?;
    let ours = rows(&conn, "SELECT g, sumsq(x) FROM t GROUP BY g ORDER BY g")?;
    let theirs = rows(&conn, "SELECT g, sum(x * x) FROM t GROUP BY g ORDER BY g")?;
    assert_close(&ours, &theirs);
    Ok(())
}

#[test]
fn sumsq_keeps_integers_integral() -> Result<()> {
    let conn = conn_with(&["stats"])?;
    assert_eq!(
        scalar(
            &conn,
            "SELECT sumsq(x) FROM (SELECT 3 AS x UNION ALL SELECT 4)"
        )?,
        Value::Integer(25)
    );
    assert_eq!(
        scalar(&conn, "SELECT sumsq(x) FROM (SELECT 1 AS x WHERE 0)")?,
        Value::Null
    );
    Ok(())
}

#[test]
fn sumsq_over_sliding_growing_and_whole_partition_frames() -> Result<()> {
    let conn = data()?;
    for frame in [
        "OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)",
        "OVER (ORDER BY id)",
        "OVER (PARTITION BY g)",
        "OVER (ORDER BY id ROWS BETWEEN 5 PRECEDING AND 5 FOLLOWING)",
    ] {
        let ours = rows(
            &conn,
            &format!("SELECT id, sumsq(x) {frame} FROM t ORDER BY id"),
        )?;
        let theirs = rows(
            &conn,
            &format!("SELECT id, sum(x * x) {frame} FROM t ORDER BY id"),
        )?;
        assert_eq!(ours.len(), 2000, "{frame}");
        assert_close(&ours, &theirs);
    }
    Ok(())
}

#[test]
fn an_aggregate_of_no_arguments_counts_rows_across_batches() -> Result<()> {
    let conn = conn_with(&["bench"])?;
    let got = scalar(
        &conn,
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) \
         SELECT count_rows() FROM n",
    )?;
    assert_eq!(got, Value::Integer(3000));
    assert_eq!(
        scalar(&conn, "SELECT count_rows() FROM (SELECT 1 WHERE 0)")?,
        Value::Integer(0)
    );
    Ok(())
}

/// `drop-loop`'s `drop_loop_sum(x)`: an accumulator the host drops without
/// finishing it loops in its destructor. The value of an empty window frame
/// is such an accumulator, made and released in one callback: with 40
/// partitions that each start with an empty frame, the first release runs
/// into the deadline (reported once, the instance replaced) and no later
/// one runs the destructor, so the query answers, for one deadline, on the
/// direct path and on the component path alike.
#[test]
fn an_accumulator_destructor_that_loops_costs_one_deadline_not_one_per_frame() -> Result<()> {
    let sql = |f: &str| {
        format!(
            "SELECT id, {f} FROM w WINDOW win AS (PARTITION BY g ORDER BY id \
             ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) ORDER BY id"
        )
    };
    for direct in [true, false] {
        let engine = Engine::builder()
            .limits(Limits {
                timeout: Duration::from_millis(250),
                // A small pool: the test binary's engines share one address
                // space, and each reserves room for all of its instances.
                max_instances: 16,
                ..Limits::default()
            })
            .direct_calls(direct)
            .build()?;
        let conn = Connection::open_in_memory()?;
        load_on(&engine, "drop-loop").register(&conn)?;
        conn.execute_batch(
            "CREATE TABLE w(id INTEGER PRIMARY KEY, g INTEGER, x INTEGER);
             WITH RECURSIVE c(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM c WHERE k < 200)
             INSERT INTO w(g, x) SELECT k % 40, k * 7 % 13 FROM c;",
        )?;
        let window = |f: &str| -> Result<Vec<(i64, i64)>> {
            let mut stmt = conn.prepare(&sql(f))?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        };
        let expected = window("coalesce(sum(x) OVER win, 0)")?;
        let before = engine.instance_stats();
        let (got, warnings) = warnings_during(|| window("drop_loop_sum(x) OVER win"));
        assert_eq!(got?, expected, "direct: {direct}");
        let after = engine.instance_stats();
        assert_eq!(after.replaced - before.replaced, 1, "direct: {direct}");
        assert_eq!(warnings.len(), 1, "direct: {direct}: {warnings:?}");
        assert!(
            warnings[0].contains("drop_loop") && warnings[0].contains("deadline exceeded"),
            "{warnings:?}"
        );
        // Finished groups are the guest's; an aggregate over no rows is
        // finished too, and runs no destructor.
        let (empty, warnings) =
            warnings_during(|| scalar(&conn, "SELECT drop_loop_sum(x) FROM w WHERE 0"));
        assert_eq!(empty?, Value::Integer(0));
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(engine.instance_stats().replaced, after.replaced);
    }
    Ok(())
}
