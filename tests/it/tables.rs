//! Table-valued functions: the example guests' known answers, joins and
//! hidden columns, batching and early ends, limits per batch, hostile
//! cursors, and rows consumed slowly through the async `Database`.

use std::time::Duration;

use anyhow::Result;
use futures::StreamExt;
use rusqlite::Connection;
use rusqlite::types::Value;
use wasmudf::{Database, Engine, Error, Limits};
use wasmudf_tests::{
    CallLog, component, conn_with, load_on, occupy_idle_blocking_threads, runtime, scalar,
    warnings_during,
};

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

fn int(i: i64) -> Value {
    Value::Integer(i)
}

/// Every row of `sql`, every column.
fn rows(conn: &Connection, sql: &str) -> rusqlite::Result<Vec<Vec<Value>>> {
    let mut stmt = conn.prepare(sql)?;
    let width = stmt.column_count();
    stmt.query_map([], |row| (0..width).map(|i| row.get(i)).collect())?
        .collect()
}

/// The message of the error `sql` must fail with.
fn error(conn: &Connection, sql: &str) -> String {
    match rows(conn, sql) {
        Ok(rows) => panic!("`{sql}` succeeded with {rows:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn regex_matches_known_answers() -> Result<()> {
    let conn = conn_with(&["regex-matches"])?;
    assert_eq!(
        rows(&conn, r"SELECT * FROM regex_matches('\d+', 'a1b22c333')")?,
        [
            vec![text("1"), int(2), int(3)],
            vec![text("22"), int(4), int(6)],
            vec![text("333"), int(7), int(10)],
        ]
    );
    // Positions count characters, as `substr` does: it cuts the match back
    // out of the text.
    let text_with_accents = "ÀéébéB";
    assert_eq!(
        rows(
            &conn,
            &format!(
                "SELECT match, substr('{text_with_accents}', start, \"end\" - start) \
                 FROM regex_matches('(?i)b+', '{text_with_accents}')"
            )
        )?,
        [vec![text("b"), text("b")], vec![text("B"), text("B")]]
    );
    assert_eq!(
        rows(&conn, "SELECT match, start FROM regex_matches('a*', 'baa')")?,
        [vec![text(""), int(1)], vec![text("aa"), int(2)]]
    );
    assert_eq!(
        scalar(&conn, "SELECT count(*) FROM regex_matches('x', 'none')")?,
        int(0)
    );
    // NULL gives no rows; a bad pattern or type is an error naming the
    // function; the connection carries on.
    assert_eq!(
        scalar(&conn, "SELECT count(*) FROM regex_matches(NULL, 'a')")?,
        int(0)
    );
    let e = error(&conn, "SELECT * FROM regex_matches('(', 'a')");
    assert!(
        e.contains("regex_matches: invalid regular expression"),
        "{e}"
    );
    let e = error(&conn, "SELECT * FROM regex_matches('a', 3)");
    assert!(
        e.contains("regex_matches: argument 2 must be TEXT, got INTEGER"),
        "{e}"
    );
    assert_eq!(
        scalar(&conn, "SELECT count(*) FROM regex_matches('.', 'abc')")?,
        int(3)
    );
    Ok(())
}

#[test]
fn split_known_answers_joins_and_hidden_columns() -> Result<()> {
    let conn = conn_with(&["split", "regex-matches", "text"])?;
    assert_eq!(
        rows(&conn, "SELECT * FROM split('a,b,,c', ',')")?,
        [
            vec![int(1), text("a")],
            vec![int(2), text("b")],
            vec![int(3), text("")],
            vec![int(4), text("c")],
        ]
    );
    assert_eq!(
        rows(&conn, "SELECT * FROM split('', ',')")?,
        [vec![int(1), text("")]]
    );
    assert_eq!(
        rows(&conn, "SELECT part FROM split('x--y----z', '--')")?,
        [
            vec![text("x")],
            vec![text("y")],
            vec![text("")],
            vec![text("z")]
        ]
    );
    // The arguments are hidden columns: selected by name, or given as
    // constraints instead of in parentheses.
    assert_eq!(
        rows(&conn, "SELECT arg1, arg2, part FROM split('p;q', ';')")?,
        [
            vec![text("p;q"), text(";"), text("p")],
            vec![text("p;q"), text(";"), text("q")],
        ]
    );
    assert_eq!(
        rows(
            &conn,
            "SELECT part FROM split WHERE arg1 = 'u v' AND arg2 = ' '"
        )?,
        [vec![text("u")], vec![text("v")]]
    );
    assert!(
        rows(&conn, "SELECT * FROM split")
            .expect_err("no arguments")
            .to_string()
            .contains("split: expected 2 arguments, got 0")
    );
    // Joined with a table, correlated in a subquery, one function's rows
    // feeding another's arguments, and a scalar of another component on
    // the rows.
    conn.execute_batch(
        "CREATE TABLE t(id INTEGER PRIMARY KEY, csv TEXT);
         INSERT INTO t VALUES (1, 'a1,b22'), (2, ''), (3, 'c333'), (4, NULL);",
    )?;
    assert_eq!(
        rows(
            &conn,
            "SELECT t.id, s.ordinal, s.part FROM t, split(t.csv, ',') AS s ORDER BY t.id, s.ordinal"
        )?,
        [
            vec![int(1), int(1), text("a1")],
            vec![int(1), int(2), text("b22")],
            vec![int(2), int(1), text("")],
            vec![int(3), int(1), text("c333")],
        ]
    );
    assert_eq!(
        rows(
            &conn,
            "SELECT id, (SELECT count(*) FROM split(csv, ',')) FROM t ORDER BY id"
        )?,
        [
            vec![int(1), int(2)],
            vec![int(2), int(1)],
            vec![int(3), int(1)],
            vec![int(4), int(0)],
        ]
    );
    assert_eq!(
        rows(
            &conn,
            r"SELECT t.id, unicode_upper(s.part), m.match
              FROM t, split(t.csv, ',') AS s, regex_matches('\d+', s.part) AS m
              ORDER BY t.id, s.ordinal"
        )?,
        [
            vec![int(1), text("A1"), text("1")],
            vec![int(1), text("B22"), text("22")],
            vec![int(3), text("C333"), text("333")],
        ]
    );
    // LEFT JOIN keeps the rows with no parts.
    assert_eq!(
        rows(
            &conn,
            "SELECT t.id, count(s.part) FROM t LEFT JOIN split(t.csv, ',') AS s GROUP BY t.id \
             ORDER BY t.id"
        )?,
        [
            vec![int(1), int(2)],
            vec![int(2), int(1)],
            vec![int(3), int(1)],
            vec![int(4), int(0)],
        ]
    );
    let e = error(&conn, "SELECT * FROM split('abc', '')");
    assert!(e.contains("split: the separator must not be empty"), "{e}");
    let e = error(&conn, "SELECT * FROM split('abc')");
    assert!(e.contains("split: expected 2 arguments, got 1"), "{e}");
    let e = error(&conn, "SELECT * FROM split('a', 'b', 'c')");
    assert!(e.contains("too many arguments"), "{e}");
    // Read-only: it is not a table one can write.
    assert!(
        conn.execute("INSERT INTO split(ordinal, part) VALUES (1, 'x')", [])
            .is_err()
    );
    Ok(())
}

/// An engine whose functions all take the component path, so that the
/// `table-test` guest's `tt_open()` and `tt_produced()` run in the instance
/// that holds the cursors (the direct path has an instance of its own).
fn component_path_engine(limits: Limits) -> Result<Engine> {
    Ok(Engine::builder()
        .limits(limits)
        .direct_calls(false)
        .build()?)
}

fn table_test_conn(engine: &Engine) -> Result<Connection> {
    let conn = Connection::open_in_memory()?;
    load_on(engine, "table-test").register(&conn)?;
    Ok(conn)
}

#[test]
fn rows_come_in_batches_and_a_cursor_nobody_reads_is_dropped() -> Result<()> {
    let engine = component_path_engine(Limits::default())?;
    let conn = table_test_conn(&engine)?;
    // `LIMIT` stops a function that never ends, and the guest produced no
    // more than the first (small) batch.
    assert_eq!(
        rows(&conn, "SELECT value FROM tt_forever() LIMIT 5")?,
        (1..=5).map(|i| vec![int(i)]).collect::<Vec<_>>()
    );
    assert_eq!(scalar(&conn, "SELECT tt_open()")?, int(0), "dropped");
    let Value::Integer(produced) = scalar(&conn, "SELECT tt_produced()")? else {
        panic!("an integer")
    };
    assert!((5..=16).contains(&produced), "produced {produced} rows");
    // Many batches.
    assert_eq!(
        rows(&conn, "SELECT count(*), sum(value) FROM tt_count(100000)")?,
        [vec![int(100_000), int(5_000_050_000)]]
    );
    // One cursor called again for every outer row.
    assert_eq!(
        scalar(
            &conn,
            "SELECT count(*) FROM tt_count(30) AS a, tt_count(a.value) AS b"
        )?,
        int(465)
    );
    assert_eq!(scalar(&conn, "SELECT tt_open()")?, int(0));
    // A statement reset halfway drops its cursor too.
    {
        let mut stmt = conn.prepare("SELECT value FROM tt_forever()")?;
        let mut it = stmt.query([])?;
        for want in 1..=3 {
            let row = it.next()?.expect("a row");
            assert_eq!(row.get::<_, i64>(0)?, want);
        }
        assert_eq!(scalar(&conn, "SELECT tt_open()")?, int(1), "still open");
    }
    assert_eq!(scalar(&conn, "SELECT tt_open()")?, int(0));
    Ok(())
}

#[test]
fn limits_apply_to_each_batch_and_the_connection_survives() -> Result<()> {
    let engine = component_path_engine(Limits {
        timeout: Duration::from_millis(300),
        max_result_bytes: 64 << 10,
        ..Limits::default()
    })?;
    let conn = table_test_conn(&engine)?;
    let ok = |conn: &Connection| -> Result<()> {
        assert_eq!(
            scalar(conn, "SELECT count(*) FROM tt_misbehave(40, 'end')")?,
            int(40)
        );
        Ok(())
    };
    ok(&conn)?;
    let cases = [
        ("spin", "tt_misbehave: deadline exceeded"),
        ("fail", "tt_misbehave: failed after 40 rows"),
        ("trap", "tt_misbehave: trapped"),
        ("big", "tt_misbehave: result too big: 1048576 bytes"),
        ("open", "tt_misbehave: refused to open"),
    ];
    for (how, expected) in cases {
        let e = error(&conn, &format!("SELECT * FROM tt_misbehave(40, '{how}')"));
        assert!(e.contains(expected), "{how}: {e}");
        ok(&conn)?;
    }
    // Fuel too, per batch.
    let engine = Engine::builder()
        .limits(Limits {
            fuel: Some(50_000_000),
            ..Limits::default()
        })
        .build()?;
    let conn = table_test_conn(&engine)?;
    let e = error(&conn, "SELECT * FROM tt_misbehave(1, 'spin')");
    assert!(e.contains("tt_misbehave: fuel exhausted"), "{e}");
    ok(&conn)?;
    // A trap in another call loses the cursors of the instance it replaced.
    let engine = component_path_engine(Limits::default())?;
    let conn = table_test_conn(&engine)?;
    let mut stmt = conn.prepare("SELECT value FROM tt_forever()")?;
    let mut it = stmt.query([])?;
    let mut read = 0;
    while read < 16 {
        it.next()?.expect("a row");
        read += 1;
    }
    let e = error(&conn, "SELECT * FROM tt_misbehave(0, 'trap')");
    assert!(e.contains("trapped"), "{e}");
    let lost = it.next().expect_err("the cursor's instance is gone");
    assert!(
        lost.to_string().contains("tt_forever: ") && lost.to_string().contains("state lost"),
        "{lost}"
    );
    drop(it);
    drop(stmt);
    ok(&conn)?;
    Ok(())
}

#[test]
fn hostile_cursors_are_refused() -> Result<()> {
    let conn = conn_with(&["bad-cursor"])?;
    let e = error(&conn, "SELECT * FROM ragged()");
    assert!(
        e.contains("ragged: a batch of 3 values is not at most 16 rows of 2 columns"),
        "{e}"
    );
    let e = error(&conn, "SELECT * FROM flood()");
    assert!(
        e.contains("flood: a batch of 32 values is not at most 16 rows of 1 column"),
        "{e}"
    );
    assert_eq!(
        scalar(
            &conn,
            "SELECT count(*) FROM (SELECT * FROM endless_empty() LIMIT 5000)"
        )?,
        int(5000)
    );
    Ok(())
}

/// `drop-loop`'s `close_loop(n)`: its cursor's destructor never returns.
/// Each of the 40 rows of `t` opens and closes a cursor; the first close
/// runs into the deadline (reported once, and the instance replaced), and
/// no later one runs the destructor again, so the join costs one deadline,
/// not 40, and answers every row.
#[test]
fn a_cursor_destructor_that_loops_costs_one_deadline_not_one_per_row() -> Result<()> {
    let engine = Engine::builder()
        .limits(Limits {
            timeout: Duration::from_millis(250),
            // A small pool: the test binary's engines share one address
            // space, and each reserves room for all of its instances.
            max_instances: 16,
            ..Limits::default()
        })
        .build()?;
    let conn = Connection::open_in_memory()?;
    load_on(&engine, "drop-loop").register(&conn)?;
    conn.execute_batch(
        "CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER);
         WITH RECURSIVE c(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM c WHERE k < 40)
         INSERT INTO t(n) SELECT k % 3 + 1 FROM c;",
    )?;
    let join = "SELECT t.id, c.i FROM t, close_loop(t.n) AS c ORDER BY t.id, c.i";
    let expected: Vec<Vec<Value>> = (1..=40)
        .flat_map(|id: i64| (1..=id % 3 + 1).map(move |i| vec![int(id), int(i)]))
        .collect();
    let before = engine.instance_stats();
    let (got, warnings) = warnings_during(|| rows(&conn, join));
    assert_eq!(got?, expected);
    let after = engine.instance_stats();
    assert_eq!(
        after.replaced - before.replaced,
        1,
        "one destructor ran into the deadline"
    );
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("drop_loop") && warnings[0].contains("deadline exceeded"),
        "{warnings:?}"
    );
    // The instances whose cursors were forgotten were replaced, not kept
    // growing: none is left over once the scan ends.
    assert_eq!(after.live, before.live);
    // The same query again: no destructor runs, no deadline, same rows.
    let (again, warnings) = warnings_during(|| rows(&conn, join));
    assert_eq!(again?, expected);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(engine.instance_stats().replaced, after.replaced);
    Ok(())
}

#[test]
fn a_table_function_cannot_take_over_a_module() -> Result<()> {
    // SQLite's own, used already or not yet.
    let conn = Connection::open_in_memory()?;
    let err = component("shadow-modules")
        .register(&conn)
        .expect_err("clash");
    assert!(matches!(err, Error::NameClash { .. }), "{err}");
    assert!(
        err.to_string().contains("SQLite's builtin `json_each`"),
        "{err}"
    );
    assert_eq!(
        scalar(&conn, "SELECT count(*) FROM json_each('[1,2,3]')")?,
        int(3)
    );
    let err = component("shadow-modules")
        .register(&conn)
        .expect_err("clash");
    assert!(err.to_string().contains("`json_each`"), "{err}");
    // Another component's, or the same one twice.
    component("split").register(&conn)?;
    let again = component("split").register(&conn).expect_err("clash");
    assert!(
        again.to_string().contains("of component") && again.to_string().contains("split"),
        "{again}"
    );
    assert_eq!(
        scalar(&conn, "SELECT count(*) FROM split('a,b', ',')")?,
        int(2)
    );
    // `allow_override` lets an embedder replace them.
    component("split").allow_override(true).register(&conn)?;
    assert_eq!(
        scalar(&conn, "SELECT count(*) FROM split('a,b', ',')")?,
        int(2)
    );
    component("shadow-modules")
        .allow_override(true)
        .register(&conn)?;
    assert_eq!(
        scalar(&conn, "SELECT value FROM json_each(1)")?,
        text("shadowed")
    );
    Ok(())
}

#[test]
fn table_functions_are_direct_only_unless_trusted() -> Result<()> {
    let conn = conn_with(&["split"])?;
    let view = "CREATE VIEW parts AS SELECT part FROM split('a,b', ',')";
    // SQLite refuses either the view or, at the latest, reading it.
    let e = match conn.execute_batch(view) {
        Err(e) => e.to_string(),
        Ok(()) => error(&conn, "SELECT * FROM parts"),
    };
    assert!(e.contains("unsafe use of virtual table"), "{e}");
    let trusted = Connection::open_in_memory()?;
    trusted.pragma_update(None, "trusted_schema", "ON")?;
    component("split").trusted(true).register(&trusted)?;
    trusted.execute_batch(view)?;
    assert_eq!(rows(&trusted, "SELECT * FROM parts")?.len(), 2);
    Ok(())
}

#[test]
fn rows_consumed_slowly_through_the_pool_hop_threads_and_stay_correct() -> Result<()> {
    runtime().block_on(async {
        let (engine, log) = CallLog::engine();
        let db = Database::builder()
            .components([load_on(&engine, "split"), load_on(&engine, "regex-matches")])
            .pool_size(1)
            .open()
            .await?;
        let csv: Vec<String> = (1..=60).map(|i| format!("p{i}x{}", i * i)).collect();
        let mut stream = db.stream(
            // No ORDER BY: sorting would run the whole join in the first
            // step; the nested loop yields parts, then matches, in order.
            r"SELECT s.ordinal, m.match FROM split(?1, ',') AS s,
                 regex_matches('\d+', s.part) AS m",
            [csv.join(",")],
        );
        let mut got = Vec::new();
        while let Some(row) = stream.next().await {
            let row = row?;
            got.push((row.get::<i64>(0)?, row.get::<String>(1)?));
            if got.len() % 5 == 0 {
                occupy_idle_blocking_threads().await;
            }
        }
        let expected: Vec<(i64, String)> = (1..=60)
            .flat_map(|i: i64| [(i, i.to_string()), (i, (i * i).to_string())])
            .collect();
        assert_eq!(got, expected);
        assert!(
            log.thread_count() >= 2,
            "all {} guest calls ran on one thread",
            log.calls()
        );
        Ok(())
    })
}

#[test]
fn a_cancelled_or_timed_out_scan_stops_and_the_connection_is_reused() -> Result<()> {
    runtime().block_on(async {
        let engine = component_path_engine(Limits::default())?;
        let db = Database::builder()
            .components([
                load_on(&engine, "table-test"),
                load_on(&engine, "bad-cursor"),
            ])
            .pool_size(1)
            .query_timeout(Duration::from_millis(300))
            .open()
            .await?;
        // Never ends: the query timeout interrupts it between batches.
        let err = db
            .query_row("SELECT count(*) FROM endless_empty()", ())
            .await
            .expect_err("times out");
        assert!(matches!(err, Error::Timeout(_)), "{err}");
        // A stream dropped halfway: the cursor is closed with the
        // statement, and the guest's state freed at the next call.
        let mut stream = db.stream("SELECT value FROM tt_forever()", ());
        for want in 1..=40 {
            let row = stream.next().await.expect("a row")?;
            assert_eq!(row.get::<i64>(0)?, want);
        }
        drop(stream);
        let row = tokio::time::timeout(
            Duration::from_secs(5),
            db.query_row("SELECT tt_open(), count(*) FROM tt_count(10)", ()),
        )
        .await??;
        assert_eq!(row.get::<i64>(1)?, 10);
        let row = db.query_row("SELECT tt_open()", ()).await?;
        assert_eq!(
            row.get::<i64>(0)?,
            0,
            "the dropped stream's cursor is freed"
        );
        Ok(())
    })
}
