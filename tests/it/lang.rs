//! Guests written in JavaScript (componentize-js) and Python
//! (componentize-py) through the SDKs in `guests/js` and `guests/python`:
//! the seed scenario in the seed's own language, aggregates that hop
//! threads, parallel queries, 64-bit integers, NULLs and thrown errors.
//!
//! These components carry a whole language runtime (12 and 18 MB), so they
//! are compiled once per test run: every engine here shares the on-disk
//! cache under the target directory.

use std::time::{Duration, Instant};

use anyhow::Result;
use futures::StreamExt;
use rusqlite::Connection;
use rusqlite::types::Value;
use wasmudf::{Component, Database, Engine, EngineBuilder, Limits};
use wasmudf_test_guests as guests;
use wasmudf_tests::{CallLog, occupy_idle_blocking_threads, runtime, slow_collect};

/// Limits for runtime-sized guests: SpiderMonkey's and CPython's heaps
/// want more than the 64 MiB default over long queries.
fn limits() -> Limits {
    Limits {
        max_memory_bytes: 256 << 20,
        timeout: Duration::from_secs(20),
        // A small pool: one of this module's engines lives as long as the
        // test binary (see `wasmudf_tests::long_lived`).
        max_instances: 256,
        ..Limits::default()
    }
}

/// The compiled-code cache every engine of this module shares.
fn with_cache(builder: EngineBuilder) -> EngineBuilder {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("lang-guest-cache");
    builder
        .limits(limits())
        .cache_dir(dir)
        .cache_secret_file(wasmudf_tests::cache_secret())
}

/// One engine for the plain (synchronous) tests.
fn shared_engine() -> &'static Engine {
    static ENGINE: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();
    ENGINE.get_or_init(|| {
        with_cache(Engine::builder())
            .build()
            .expect("engine builds")
    })
}

fn js(engine: &Engine) -> Component {
    load(engine, guests::JS_EXAMPLES)
}

fn py(engine: &Engine) -> Component {
    load(engine, guests::PY_EXAMPLES)
}

/// `path` on `engine`. The first call compiles it (and its direct-path
/// module) on the shared engine while every other caller waits, so the
/// cache is filled once and later engines only read it.
fn load(engine: &Engine, path: &'static str) -> Component {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static COMPILED: OnceLock<Mutex<HashMap<&'static str, Component>>> = OnceLock::new();
    let compiled = COMPILED.get_or_init(Default::default);
    let shared = {
        let mut compiled = compiled.lock().expect("compile lock");
        match compiled.get(path) {
            Some(c) => c.clone(),
            None => {
                let c = shared_engine()
                    .load_file(path)
                    .unwrap_or_else(|e| panic!("{path} loads: {e}"));
                if c.has_direct_path() {
                    c.probe_direct_instance()
                        .unwrap_or_else(|e| panic!("{path}: direct instance: {e}"));
                }
                compiled.insert(path, c.clone());
                c
            }
        }
    };
    if std::ptr::eq(engine, shared_engine()) {
        return shared;
    }
    engine
        .load_file(path)
        .unwrap_or_else(|e| panic!("{path} loads: {e}"))
}

/// An engine that records every guest call's thread, on the shared cache.
fn logged_engine() -> (Engine, std::sync::Arc<CallLog>) {
    CallLog::engine_with(with_cache(Engine::builder()))
}

fn conn(components: &[Component]) -> Result<Connection> {
    let conn = Connection::open_in_memory()?;
    for c in components {
        c.register(&conn)?;
    }
    Ok(conn)
}

fn one(conn: &Connection, sql: &str) -> rusqlite::Result<Value> {
    conn.query_row(sql, [], |r| r.get(0))
}

/// `sql` fails with every one of `needles` in its message, and the
/// connection then answers `check` with `expected`.
fn fails_then_works(conn: &Connection, sql: &str, needles: &[&str], check: (&str, Value)) {
    let err = one(conn, sql).expect_err(sql).to_string();
    for needle in needles {
        assert!(err.contains(needle), "{sql}: {err:?} lacks {needle:?}");
    }
    assert_eq!(one(conn, check.0).expect(check.0), check.1, "after {sql}");
}

#[test]
fn the_sdks_carry_the_projects_wit_unchanged() -> Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let wit = std::fs::read(root.join("wit/udf.wit"))?;
    for copy in [
        "guests/js/wit/udf.wit",
        "guests/python/wasmudf_guest/wit/udf.wit",
    ] {
        let theirs = std::fs::read(root.join(copy))?;
        assert!(theirs == wit, "{copy} differs from wit/udf.wit");
    }
    Ok(())
}

#[test]
fn javascript_scalars_keep_64_bit_integers_nulls_and_types() -> Result<()> {
    let conn = conn(&[js(shared_engine())])?;
    let max = Value::Integer(i64::MAX);
    assert_eq!(
        one(&conn, "SELECT js_i64_add(9223372036854775806, 1)")?,
        max
    );
    assert_eq!(
        one(&conn, "SELECT js_i64_add(-9223372036854775807, -1)")?,
        Value::Integer(i64::MIN)
    );
    assert_eq!(one(&conn, "SELECT js_i64_add(NULL, 1)")?, Value::Null);
    assert_eq!(
        one(&conn, "SELECT js_slugify('Héllo, Wörld!')")?,
        Value::Text("hello-world".into())
    );
    assert_eq!(one(&conn, "SELECT js_slugify(NULL)")?, Value::Null);
    // Numbers in, TEXT out: after the first such answer the host stops
    // using the fast entry points for the function; answers stay the same.
    assert_eq!(
        one(
            &conn,
            "SELECT group_concat(js_slugify(column1), ',') FROM (VALUES (1), (22), (NULL), (3.5), (-4))"
        )?,
        Value::Text("1,22,3-5,4".into())
    );
    assert_eq!(
        one(
            &conn,
            "SELECT js_format('{0} + {1} = {2}', 9223372036854775807, 0.5, NULL)"
        )?,
        Value::Text("9223372036854775807 + 0.5 = NULL".into())
    );
    // Overflow past i64 is an error, not a wrapped or rounded number, and
    // the connection answers the next call.
    fails_then_works(
        &conn,
        "SELECT js_i64_add(9223372036854775807, 1)",
        &["js_i64_add", "out of range"],
        ("SELECT js_i64_add(1, 2)", Value::Integer(3)),
    );
    Ok(())
}

#[test]
fn javascript_errors_of_any_type_become_sql_errors() -> Result<()> {
    let conn = conn(&[js(shared_engine())])?;
    let check = ("SELECT js_slugify('A b')", Value::Text("a-b".into()));
    // A negative sleep throws a RangeError-like error; a placeholder past
    // the arguments throws; neither traps the instance.
    fails_then_works(&conn, "SELECT js_sleep(-1)", &["js_sleep"], check.clone());
    fails_then_works(
        &conn,
        "SELECT js_format('{3}', 1)",
        &["js_format"],
        check.clone(),
    );
    // Again, on the same instance: a thrown error left it usable.
    fails_then_works(&conn, "SELECT js_sleep(-1)", &["js_sleep"], check);
    Ok(())
}

#[test]
fn python_scalars_keep_64_bit_integers_and_raise_sql_errors() -> Result<()> {
    let conn = conn(&[py(shared_engine())])?;
    assert_eq!(
        one(&conn, "SELECT py_add(9223372036854775806, 1)")?,
        Value::Integer(i64::MAX)
    );
    assert_eq!(one(&conn, "SELECT py_add(NULL, 1)")?, Value::Null);
    let ratio = one(&conn, "SELECT py_similarity('kitten', 'sitting')")?;
    // difflib: 2 * matches / total = 2 * 4 / 13.
    assert_eq!(ratio, Value::Real(8.0 / 13.0));
    fails_then_works(
        &conn,
        "SELECT py_add(9223372036854775807, 1)",
        &["py_add", "out of range"],
        ("SELECT py_add(40, 2)", Value::Integer(42)),
    );
    fails_then_works(
        &conn,
        "SELECT py_stdev(x) FROM (SELECT 'a' AS x UNION ALL SELECT 'b')",
        &["py_stdev"],
        ("SELECT py_add(1, 1)", Value::Integer(2)),
    );
    Ok(())
}

/// The seed scenario, in the seed's own language and in Python: `SELECT
/// js_sleep(200)` through the async pool answers 200 after sleeping in the
/// guest, and consecutive steps of one statement run on different threads.
#[test]
fn seed_scenario_in_javascript_and_python_through_the_async_pool() -> Result<()> {
    for (component, sleep, add) in [
        (js as fn(&Engine) -> Component, "js_sleep", "js_i64_add"),
        (py, "py_sleep", "py_add"),
    ] {
        seed_scenario(component, sleep, add)?;
    }
    Ok(())
}

fn seed_scenario(component: fn(&Engine) -> Component, sleep: &str, add: &str) -> Result<()> {
    runtime().block_on(async {
        let (engine, log) = logged_engine();
        let db = Database::builder()
            .components([component(&engine)])
            .pool_size(1)
            .open()
            .await?;
        let start = Instant::now();
        let row = db.query_row(&format!("SELECT {sleep}(200)"), ()).await?;
        assert_eq!(row.get::<i64>(0)?, 200, "{sleep}");
        assert!(
            start.elapsed() >= Duration::from_millis(200),
            "{sleep} did not sleep"
        );
        let mut stream = db.stream(
            &format!(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 24) \
                 SELECT i, {sleep}(i % 3), {add}(i, 9223372036854775000) FROM n"
            ),
            (),
        );
        let mut seen = 0;
        while let Some(row) = stream.next().await {
            let row = row?;
            let i: i64 = row.get(0)?;
            assert_eq!(row.get::<i64>(1)?, i % 3);
            assert_eq!(row.get::<i64>(2)?, i + 9_223_372_036_854_775_000);
            seen += 1;
            occupy_idle_blocking_threads().await;
        }
        assert_eq!(seen, 24);
        // One connection, one statement: more than one thread means the
        // guest's instance moved between threads mid-statement.
        assert!(
            log.thread_count() >= 2,
            "{sleep}: all {} calls on one thread",
            log.calls()
        );
        Ok(())
    })
}

#[test]
fn two_javascript_queries_run_in_parallel() -> Result<()> {
    runtime().block_on(async {
        let (engine, log) = logged_engine();
        let db = Database::builder()
            .components([js(&engine)])
            .pool_size(2)
            .open()
            .await?;
        // Instantiate on both connections first, so the overlap below is
        // the sleeps', not the first instantiation's.
        let (a, b) = tokio::join!(
            db.query_row("SELECT js_sleep(300)", ()),
            db.query_row("SELECT js_sleep(300)", ())
        );
        assert_eq!(a?.get::<i64>(0)?, 300);
        assert_eq!(b?.get::<i64>(0)?, 300);
        assert!(log.high_water() >= 2, "the two sleeps never overlapped");
        Ok(())
    })
}

/// `t(id, g, x)`: 4,000 rows in 200 groups, with repeated values.
const GROUPED: &str = "CREATE TABLE t(id INTEGER PRIMARY KEY, g INTEGER, x INTEGER);
     WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4000)
     INSERT INTO t(g, x) SELECT i % 200, (i * 7919) % 13 - 6 FROM n;";

/// The mode computed by SQLite itself: the most frequent value, ties to
/// the smallest.
const BUILTIN_MODE: &str = "SELECT g, x FROM (
       SELECT g, x, row_number() OVER (PARTITION BY g ORDER BY count(*) DESC, x) AS rn
       FROM t GROUP BY g, x) WHERE rn = 1 ORDER BY g";

#[test]
fn javascript_and_python_aggregates_hop_threads_and_match_sqlite() -> Result<()> {
    runtime().block_on(async {
        let (engine, log) = logged_engine();
        let db = Database::builder()
            .components([js(&engine), py(&engine)])
            .pool_size(1)
            .open()
            .await?;
        db.execute_batch(GROUPED).await?;
        let modes = slow_collect(&db, "SELECT g, js_mode(x) FROM t GROUP BY g ORDER BY g").await?;
        let builtin = db.query(BUILTIN_MODE, ()).await?;
        assert_eq!(modes.len(), 200);
        for (ours, theirs) in modes.iter().zip(&builtin) {
            assert_eq!(ours.as_slice(), theirs.values(), "group {:?}", ours[0]);
        }
        let stdevs =
            slow_collect(&db, "SELECT g, py_stdev(x) FROM t GROUP BY g ORDER BY g").await?;
        let builtin = db
            .query(
                "SELECT g, sum(x * x), sum(x), count(x) FROM t GROUP BY g ORDER BY g",
                (),
            )
            .await?;
        assert_eq!(stdevs.len(), 200);
        for (ours, theirs) in stdevs.iter().zip(&builtin) {
            let (sq, s, n): (i64, i64, i64) = (theirs.get(1)?, theirs.get(2)?, theirs.get(3)?);
            let (sq, s, n) = (sq as f64, s as f64, n as f64);
            let expected = ((sq - s * s / n) / (n - 1.0)).sqrt();
            let Value::Real(got) = ours[1] else {
                panic!("py_stdev gave {:?}", ours[1]);
            };
            assert!(
                (got - expected).abs() <= 1e-9 * expected.abs().max(1.0),
                "group {:?}: {got} vs {expected}",
                ours[0]
            );
        }
        assert!(log.thread_count() >= 2, "guest calls never changed thread");
        Ok(())
    })
}

/// The sliding frame both window tests use.
const FRAME: &str = "OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)";

/// Every row of `sql`, each mapped by `f`.
fn collect<T>(
    conn: &Connection,
    sql: &str,
    f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    conn.prepare(sql)?.query_map([], f)?.collect()
}

#[test]
fn javascript_window_matches_sqlite_over_a_sliding_frame() -> Result<()> {
    let conn = conn(&[js(shared_engine())])?;
    conn.execute_batch(GROUPED)?;
    let ours: Vec<(i64, Value)> = collect(
        &conn,
        &format!("SELECT id, js_mode(x) {FRAME} FROM t ORDER BY id"),
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    // The same frame, computed by SQLite: the rows of each frame, counted.
    let theirs: Vec<(i64, Value)> = collect(
        &conn,
        "WITH w AS (SELECT id, g, x, row_number() OVER (PARTITION BY g ORDER BY id) AS k
                        FROM t),
                  f AS (SELECT a.id, b.x, count(*) AS c FROM w a JOIN w b
                        ON a.g = b.g AND b.k BETWEEN a.k - 2 AND a.k GROUP BY a.id, b.x)
             SELECT id, x FROM (SELECT id, x, row_number() OVER
                                (PARTITION BY id ORDER BY c DESC, x) AS rn FROM f)
             WHERE rn = 1 ORDER BY id",
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    assert_eq!(ours.len(), 4000);
    assert_eq!(ours, theirs);
    Ok(())
}

#[test]
fn python_window_matches_sqlite_over_a_sliding_frame() -> Result<()> {
    let conn = conn(&[py(shared_engine())])?;
    conn.execute_batch(GROUPED)?;
    let ours: Vec<Value> = collect(
        &conn,
        &format!("SELECT py_mean(x) {FRAME} FROM t ORDER BY id"),
        |r| r.get(0),
    )?;
    let theirs: Vec<Value> = collect(
        &conn,
        &format!("SELECT avg(x) {FRAME} FROM t ORDER BY id"),
        |r| r.get(0),
    )?;
    assert_eq!(ours.len(), 4000);
    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        let (Value::Real(a), Value::Real(b)) = (a, b) else {
            panic!("row {i}: {a:?} vs {b:?}");
        };
        assert!((a - b).abs() <= 1e-12, "row {i}: {a} vs {b}");
    }
    Ok(())
}

/// componentize-py never drops the accumulator `finish` is handed, and a
/// store holds at most 100,000 handles: the host replaces such an instance
/// between groups, so one connection serves any number of groups.
#[test]
fn a_connection_serves_more_groups_than_a_store_has_handles() -> Result<()> {
    let conn = conn(&[py(shared_engine())])?;
    for _ in 0..2 {
        let groups: i64 = conn.query_row(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 75000)
             SELECT count(*) FROM (SELECT i, py_mean(i) AS m FROM n GROUP BY i) WHERE m = i",
            [],
            |r| r.get(0),
        )?;
        assert_eq!(groups, 75_000);
    }
    Ok(())
}

/// The rows of `sql`, as `(ordinal, part)`.
fn parts(conn: &Connection, sql: &str) -> rusqlite::Result<Vec<(i64, String)>> {
    let mut stmt = conn.prepare(sql)?;
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

#[test]
fn javascript_and_python_table_functions_answer_as_the_rust_one() -> Result<()> {
    let engine = shared_engine();
    let rust = wasmudf_tests::component("split");
    let conn = conn(&[js(engine), py(engine), rust])?;
    let long: Vec<String> = (0..3000).map(|i| format!("w{i}")).collect();
    let long = long.join(";");
    for (text, sep) in [
        ("a,b,,c", ","),
        ("", ","),
        ("x--y----z", "--"),
        ("ünï,cödé", ","),
        (long.as_str(), ";"),
    ] {
        let expected = parts(&conn, &format!("SELECT * FROM split('{text}', '{sep}')"))?;
        for f in ["js_split", "py_split"] {
            let got = parts(&conn, &format!("SELECT * FROM {f}('{text}', '{sep}')"))?;
            assert_eq!(got, expected, "{f}({text:.20?}, {sep:?})");
        }
    }
    // Joined, with a LIMIT that stops reading, and errors that leave the
    // connection answering.
    conn.execute_batch(
        "CREATE TABLE t(id INTEGER, csv TEXT);
         INSERT INTO t VALUES (1, 'a,b'), (2, 'c'), (3, NULL);",
    )?;
    for f in ["js_split", "py_split"] {
        let got = parts(
            &conn,
            &format!("SELECT t.id, s.part FROM t, {f}(t.csv, ',') AS s ORDER BY t.id, s.ordinal"),
        )?;
        assert_eq!(got, [(1, "a".into()), (1, "b".into()), (2, "c".into())]);
        let first = parts(&conn, &format!("SELECT * FROM {f}('{long}', ';') LIMIT 2"))?;
        assert_eq!(first, [(1, "w0".into()), (2, "w1".into())]);
        fails_then_works(
            &conn,
            &format!("SELECT * FROM {f}('abc', '')"),
            &[f, "the separator must not be empty"],
            (
                format!("SELECT count(*) FROM {f}('a;b', ';')").as_str(),
                Value::Integer(2),
            ),
        );
    }
    Ok(())
}

/// A component says which language its functions are written in: the
/// language of the author, not of the engine componentize-js embeds
/// (whose modules name `C11` and `C_plus_plus_14`).
#[test]
fn components_report_the_language_they_are_written_in() {
    let engine = shared_engine();
    assert_eq!(js(engine).language(), Some("JavaScript"));
    assert_eq!(wasmudf_tests::component("text").language(), Some("Rust"));
}
