//! The async `Database`: the seed scenario, thread hopping, parallelism,
//! cancellation, indirect call sites and stress. Every test runs on a
//! multi-thread runtime with several blocking threads.

use std::time::Duration;

use anyhow::Result;
use futures::StreamExt;
use rusqlite::types::Value;
use wasmudf::{Database, Error};
use wasmudf_tests::{
    CallLog, component, load_on, occupy_idle_blocking_threads, runtime, slow_collect,
};

const EXAMPLES: &[&str] = &["sleep", "identity", "text", "sha256", "greatest", "stats"];

fn examples() -> Vec<wasmudf::Component> {
    EXAMPLES.iter().map(|n| component(n)).collect()
}

async fn open(pool: usize) -> Result<Database> {
    Ok(Database::builder()
        .components(examples())
        .pool_size(pool)
        .open()
        .await?)
}

fn block_on<F: Future<Output = Result<()>>>(f: F) -> Result<()> {
    runtime().block_on(f)
}

#[test]
fn seed_scenario_sleep_200_through_every_entry_point() -> Result<()> {
    block_on(async {
        let db = open(2).await?;
        let row = db.query_row("SELECT sleep(200)", ()).await?;
        assert_eq!(row.get::<i64>(0)?, 200);
        let rows = db.query("SELECT sleep(200) AS val", ()).await?;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].get_by_name::<i64>("val")?, 200);
        assert_eq!(db.execute("SELECT sleep(200)", ()).await?, 0);
        let mut stream = db.stream("SELECT sleep(200)", ());
        let row = stream.next().await.expect("one row")?;
        assert_eq!(row.get::<i64>(0)?, 200);
        assert!(stream.next().await.is_none());
        Ok(())
    })
}

#[test]
fn params_are_bound_with_to_sql() -> Result<()> {
    block_on(async {
        let db = open(1).await?;
        let row = db
            .query_row(
                "SELECT edit_distance(?1, ?2), identity(?3)",
                ("kitten", "sitting", 7i64),
            )
            .await?;
        assert_eq!(row.get::<i64>(0)?, 3);
        assert_eq!(row.get::<i64>(1)?, 7);
        let row = db
            .query_row("SELECT identity(?1)", [vec![1u8, 2, 3]])
            .await?;
        assert_eq!(row.get::<Vec<u8>>(0)?, vec![1, 2, 3]);
        Ok(())
    })
}

#[test]
fn one_statement_hops_threads_and_stays_correct() -> Result<()> {
    block_on(async {
        let (engine, log) = CallLog::engine();
        let db = Database::builder()
            .components([load_on(&engine, "identity"), load_on(&engine, "text")])
            .pool_size(1)
            .open()
            .await?;
        let mut stream = db.stream(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40) \
             SELECT i, identity(i), edit_distance('abc', substr('abcdef', 1, i % 6)) FROM n",
            (),
        );
        let mut seen = 0;
        while let Some(row) = stream.next().await {
            let row = row?;
            let i: i64 = row.get(0)?;
            assert_eq!(row.get::<i64>(1)?, i);
            let prefix = (i % 6) as usize;
            let expected = (prefix as i64 - 3).abs();
            assert_eq!(row.get::<i64>(2)?, expected, "row {i}");
            seen += 1;
            occupy_idle_blocking_threads().await;
        }
        assert_eq!(seen, 40);
        // With a pool of one connection, every call above was on the same
        // connection and statement: more than one thread means it moved.
        assert!(
            log.thread_count() >= 2,
            "all {} guest calls ran on one thread",
            log.calls()
        );
        Ok(())
    })
}

/// Builds `t(g, x)`: 3,000 rows over 150 groups.
async fn grouped_data(db: &Database) -> Result<()> {
    db.execute_batch(
        "CREATE TABLE t(id INTEGER PRIMARY KEY, g INTEGER, x INTEGER);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
         INSERT INTO t(g, x) SELECT i % 150, (i * 7919) % 1009 - 500 FROM n;",
    )
    .await?;
    Ok(())
}

#[test]
fn aggregates_and_windows_consumed_slowly_across_threads_match_builtins() -> Result<()> {
    block_on(async {
        let (engine, log) = CallLog::engine();
        let db = Database::builder()
            .components([load_on(&engine, "stats")])
            .pool_size(1)
            .open()
            .await?;
        grouped_data(&db).await?;
        let median =
            slow_collect(&db, "SELECT g, median_of(x) FROM t GROUP BY g ORDER BY g").await?;
        let builtin_median = db
            .query(
                "WITH r AS (SELECT g, x, row_number() OVER (PARTITION BY g ORDER BY x) rn,
                                   count(*) OVER (PARTITION BY g) n FROM t)
                 SELECT g, avg(x) FROM r WHERE rn IN ((n + 1) / 2, (n + 2) / 2)
                 GROUP BY g ORDER BY g",
                (),
            )
            .await?;
        assert_eq!(median.len(), 150);
        for (ours, theirs) in median.iter().zip(&builtin_median) {
            assert_eq!(ours[0], theirs.values()[0]);
            assert_eq!(ours[1], theirs.values()[1], "group {:?}", ours[0]);
        }
        let frame = "OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)";
        let ours = slow_collect(
            &db,
            &format!("SELECT id, sumsq(x) {frame} FROM t ORDER BY id"),
        )
        .await?;
        let theirs = db
            .query(
                &format!("SELECT id, sum(x * x) {frame} FROM t ORDER BY id"),
                (),
            )
            .await?;
        assert_eq!(ours.len(), 3000);
        for (a, b) in ours.iter().zip(&theirs) {
            assert_eq!(a.as_slice(), b.values());
        }
        let sums = slow_collect(&db, "SELECT g, sumsq(x) FROM t GROUP BY g ORDER BY g").await?;
        let builtin = db
            .query("SELECT g, sum(x * x) FROM t GROUP BY g ORDER BY g", ())
            .await?;
        for (a, b) in sums.iter().zip(&builtin) {
            assert_eq!(a.as_slice(), b.values());
        }
        assert!(log.thread_count() >= 2, "guest calls never changed thread");
        Ok(())
    })
}

#[test]
fn two_connections_run_guest_calls_at_the_same_time() -> Result<()> {
    block_on(async {
        let (engine, log) = CallLog::engine();
        let db = Database::builder()
            .components([load_on(&engine, "sleep")])
            .pool_size(2)
            .open()
            .await?;
        let (a, b) = tokio::join!(
            db.query_row("SELECT sleep(200)", ()),
            db.query_row("SELECT sleep(200)", ())
        );
        assert_eq!(a?.get::<i64>(0)?, 200);
        assert_eq!(b?.get::<i64>(0)?, 200);
        assert_eq!(log.high_water(), 2, "the two sleeps never overlapped");
        Ok(())
    })
}

#[test]
fn a_pool_of_one_serialises_guest_calls() -> Result<()> {
    block_on(async {
        let (engine, log) = CallLog::engine();
        let db = Database::builder()
            .components([load_on(&engine, "sleep")])
            .pool_size(1)
            .open()
            .await?;
        let (a, b) = tokio::join!(
            db.query_row("SELECT sleep(50)", ()),
            db.query_row("SELECT sleep(50)", ())
        );
        a?;
        b?;
        assert_eq!(log.high_water(), 1);
        Ok(())
    })
}

#[test]
fn statements_in_a_transaction_run_in_order() -> Result<()> {
    block_on(async {
        let db = open(2).await?;
        db.execute("CREATE TABLE log(seq INTEGER PRIMARY KEY, v)", ())
            .await?;
        let mut tx = db.transaction().await?;
        for i in 0..50i64 {
            tx.execute("INSERT INTO log(v) VALUES (identity(?1))", [i])
                .await?;
        }
        tx.commit().await?;
        let rows = db.query("SELECT v FROM log ORDER BY seq", ()).await?;
        let values: Vec<i64> = rows
            .iter()
            .map(|r| r.get(0))
            .collect::<rusqlite::Result<_>>()?;
        assert_eq!(values, (0..50).collect::<Vec<_>>());
        Ok(())
    })
}

#[test]
fn dropping_a_stream_midway_frees_the_connection() -> Result<()> {
    block_on(async {
        let db = open(1).await?;
        let mut stream = db.stream(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) \
             SELECT identity(i) FROM n",
            (),
        );
        for _ in 0..10 {
            stream.next().await.expect("row")?;
        }
        drop(stream);
        // The pool has one connection: this only runs once it is back.
        let row = tokio::time::timeout(
            Duration::from_secs(5),
            db.query_row("SELECT unicode_upper('ok')", ()),
        )
        .await??;
        assert_eq!(row.get::<String>(0)?, "OK");
        Ok(())
    })
}

#[test]
fn dropping_a_future_inside_a_ten_second_guest_sleep_interrupts_it() -> Result<()> {
    block_on(async {
        let db = open(1).await?;
        let before = db.stats().instances;
        let slow = db.query_row("SELECT sleep(10000)", ());
        assert!(
            tokio::time::timeout(Duration::from_millis(200), slow)
                .await
                .is_err()
        );
        // The sleep was interrupted, not waited out: the connection is back
        // long before ten seconds.
        let row = tokio::time::timeout(Duration::from_secs(5), db.query_row("SELECT sleep(1)", ()))
            .await??;
        assert_eq!(row.get::<i64>(0)?, 1);
        assert!(
            db.stats().instances.replaced > before.replaced,
            "instance not replaced"
        );
        Ok(())
    })
}

#[test]
fn a_cancelled_transaction_rolls_back() -> Result<()> {
    block_on(async {
        let dir = tempfile::tempdir()?;
        let db = Database::builder()
            .path(dir.path().join("t.db"))
            .components(examples())
            .pool_size(1)
            .open()
            .await?;
        db.execute("CREATE TABLE t(x)", ()).await?;
        db.execute("INSERT INTO t VALUES (1)", ()).await?;
        {
            let mut tx = db.transaction().await?;
            tx.execute("INSERT INTO t VALUES (2)", ()).await?;
            let slow = tx.execute("INSERT INTO t VALUES (sleep(10000))", ());
            assert!(
                tokio::time::timeout(Duration::from_millis(200), slow)
                    .await
                    .is_err()
            );
            // The transaction's connection went back to the pool rolled back.
            let again = tx.execute("INSERT INTO t VALUES (3)", ()).await;
            assert!(matches!(again, Err(Error::Closed)), "{again:?}");
        }
        let count = tokio::time::timeout(
            Duration::from_secs(5),
            db.query_row("SELECT count(*), sum(x) FROM t", ()),
        )
        .await??;
        assert_eq!(count.get::<i64>(0)?, 1);
        assert_eq!(count.get::<i64>(1)?, 1);
        // Dropping a transaction without commit rolls back as well.
        {
            let mut tx = db.transaction().await?;
            tx.execute("INSERT INTO t VALUES (4)", ()).await?;
        }
        let count = db.query_row("SELECT count(*) FROM t", ()).await?;
        assert_eq!(count.get::<i64>(0)?, 1);
        Ok(())
    })
}

#[test]
fn query_timeout_interrupts_and_reports() -> Result<()> {
    block_on(async {
        let db = Database::builder()
            .components(examples())
            .pool_size(1)
            .query_timeout(Duration::from_millis(100))
            .open()
            .await?;
        let err = db
            .query_row("SELECT sleep(10000)", ())
            .await
            .expect_err("times out");
        assert!(matches!(err, Error::Timeout(_)), "{err}");
        let row = db.query_row("SELECT sleep(1)", ()).await?;
        assert_eq!(row.get::<i64>(0)?, 1);
        Ok(())
    })
}

/// Each schema object that can call a function: a trusted component's
/// functions behave there exactly as in a direct call.
#[test]
fn functions_reached_indirectly_behave_like_direct_calls() -> Result<()> {
    block_on(async {
        let trusted: Vec<_> = ["text", "identity", "sha256"]
            .iter()
            .map(|n| component(n).trusted(true))
            .collect();
        let db = Database::builder()
            .components(trusted)
            .pool_size(2)
            .open()
            .await?;
        db.execute_batch(
            "CREATE TABLE words(w TEXT,
                 up TEXT DEFAULT (unicode_upper('straße')),
                 len INTEGER GENERATED ALWAYS AS (edit_distance(w, '')) VIRTUAL,
                 CHECK (edit_distance(w, '') < 20));
             CREATE INDEX words_upper ON words(unicode_upper(w));
             CREATE VIEW shout AS SELECT unicode_upper(w) AS s FROM words;
             CREATE TABLE audit(h BLOB);
             CREATE TRIGGER words_audit AFTER INSERT ON words
                 BEGIN INSERT INTO audit VALUES (sha256_of(new.w)); END;
             INSERT INTO words(w) VALUES ('grüße'), ('kitten');",
        )
        .await?;
        let view = db.query("SELECT s FROM shout ORDER BY s", ()).await?;
        let view: Vec<String> = view
            .iter()
            .map(|r| r.get(0))
            .collect::<rusqlite::Result<_>>()?;
        assert_eq!(view, ["GRÜSSE", "KITTEN"]);
        let row = db
            .query_row("SELECT up, len FROM words WHERE w = 'kitten'", ())
            .await?;
        assert_eq!(row.get::<String>(0)?, "STRASSE");
        assert_eq!(row.get::<i64>(1)?, 6);
        let audit = db
            .query_row(
                "SELECT count(*) FROM audit WHERE h = sha256_of('kitten')",
                (),
            )
            .await?;
        assert_eq!(audit.get::<i64>(0)?, 1);
        // The expression index is used and agrees with the direct call.
        let plan = db
            .query(
                "EXPLAIN QUERY PLAN SELECT w FROM words WHERE unicode_upper(w) = 'KITTEN'",
                (),
            )
            .await?;
        assert!(
            plan.iter()
                .any(|r| r.get::<String>(3).is_ok_and(|d| d.contains("words_upper")))
        );
        let hit = db
            .query_row("SELECT w FROM words WHERE unicode_upper(w) = 'KITTEN'", ())
            .await?;
        assert_eq!(hit.get::<String>(0)?, "kitten");
        // The CHECK constraint calls the UDF and rejects a long word.
        let err = db
            .execute(
                "INSERT INTO words(w) VALUES ('abcdefghijklmnopqrstuvwxyz')",
                (),
            )
            .await
            .expect_err("CHECK fails");
        assert!(err.to_string().contains("CHECK"), "{err}");
        Ok(())
    })
}

#[test]
fn untrusted_functions_are_refused_inside_schema_objects() -> Result<()> {
    block_on(async {
        let db = open(1).await?;
        db.execute_batch("CREATE TABLE w(x); INSERT INTO w VALUES ('a'); CREATE VIEW v AS SELECT unicode_upper(x) FROM w;")
            .await?;
        let err = db
            .query("SELECT * FROM v", ())
            .await
            .expect_err("unsafe use");
        assert!(err.to_string().contains("unsafe use of"), "{err}");
        // A direct call is fine.
        let row = db.query_row("SELECT unicode_upper(x) FROM w", ()).await?;
        assert_eq!(row.get::<String>(0)?, "A");
        Ok(())
    })
}

/// The synchronous API from inside a tokio worker: wasmtime-wasi's blocking
/// adapters would `block_on` and panic here; the call must work instead.
#[tokio::test]
async fn sync_api_inside_a_current_thread_runtime_works() -> Result<()> {
    let conn = rusqlite::Connection::open_in_memory()?;
    component("sleep").register(&conn)?;
    let v: i64 = conn.query_row("SELECT sleep(50)", [], |r| r.get(0))?;
    assert_eq!(v, 50);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_api_inside_a_multi_thread_worker_works() -> Result<()> {
    let conn = rusqlite::Connection::open_in_memory()?;
    component("sleep").register(&conn)?;
    let v: i64 = conn.query_row("SELECT sleep(50)", [], |r| r.get(0))?;
    assert_eq!(v, 50);
    Ok(())
}

#[test]
fn stress_thousands_of_concurrent_queries_mixing_every_example() -> Result<()> {
    block_on(async {
        let engine = wasmudf::Engine::new()?;
        let components: Vec<_> = EXAMPLES.iter().map(|n| load_on(&engine, n)).collect();
        let pool = 4;
        let db = Database::builder()
            .components(components)
            .pool_size(pool)
            .open()
            .await?;
        let mut tasks = Vec::new();
        for i in 0..2000i64 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                let (sql, expected): (&str, Value) = match i % 6 {
                    0 => ("SELECT identity(?1)", Value::Integer(i)),
                    1 => (
                        "SELECT edit_distance('kitten', 'sitting') + ?1",
                        Value::Integer(3 + i),
                    ),
                    2 => ("SELECT greatest_of(?1, 5, -1)", Value::Integer(i.max(5))),
                    3 => ("SELECT length(sha256_of(?1 || 'x'))", Value::Integer(32)),
                    4 => (
                        "SELECT median_of(value) + ?1 FROM json_each('[1,2,3]')",
                        Value::Real(2.0 + i as f64),
                    ),
                    _ => ("SELECT sleep(0) + ?1", Value::Integer(i)),
                };
                let row = db.query_row(sql, [i]).await?;
                anyhow::ensure!(
                    row.values()[0] == expected,
                    "{sql} with {i}: {:?}",
                    row.values()
                );
                Ok(())
            }));
        }
        for task in tasks {
            task.await??;
        }
        let stats = db.stats();
        assert!(stats.opened as usize <= pool, "{stats:?}");
        // One instance per component per connection at most, and none
        // replaced: nothing trapped, nothing leaked.
        assert!(
            stats.instances.live as usize <= pool * EXAMPLES.len(),
            "{stats:?}"
        );
        assert_eq!(stats.instances.replaced, 0, "{stats:?}");
        drop(db);
        Ok(())
    })
}

/// A UDF's failure reaches a `Database` caller typed (`Error::Call` with
/// the `CallErrorKind`), through every entry point, with the message SQL
/// sees; other SQL errors stay `Error::Sqlite`.
#[test]
fn udf_failures_are_typed_call_errors() -> Result<()> {
    use wasmudf::CallErrorKind;
    block_on(async {
        let engine = wasmudf::Engine::builder()
            .limits(wasmudf::Limits {
                timeout: Duration::from_millis(200),
                max_memory_bytes: 16 << 20,
                ..wasmudf::Limits::default()
            })
            .build()?;
        let db = Database::builder()
            .components(["faulty", "infinite-loop", "memory-bomb"].map(|n| load_on(&engine, n)))
            .pool_size(2)
            .open()
            .await?;
        // (SQL, what its failure's kind must be, the function named).
        type Case = (&'static str, fn(&CallErrorKind) -> bool, &'static str);
        let cases: [Case; 4] = [
            (
                "SELECT trap_if(2)",
                |k| matches!(k, CallErrorKind::Guest(m) if m == "asked to fail"),
                "trap_if",
            ),
            (
                "SELECT trap_if(1)",
                |k| matches!(k, CallErrorKind::Trap(_)),
                "trap_if",
            ),
            (
                "SELECT spin()",
                |k| matches!(k, CallErrorKind::Deadline),
                "spin",
            ),
            (
                "SELECT bomb(64)",
                |k| matches!(k, CallErrorKind::Resource(_)),
                "bomb",
            ),
        ];
        for (sql, kind, function) in cases {
            let err = db.query_row(sql, ()).await.expect_err(sql);
            let Error::Call(call) = &err else {
                panic!("{sql}: not a call error: {err:?}")
            };
            assert!(kind(&call.cause), "{sql}: {call:?}");
            assert_eq!(call.function, function);
            assert_eq!(err.to_string(), call.to_string());
            let err = db.execute(sql, ()).await.expect_err(sql);
            assert!(
                matches!(&err, Error::Call(c) if kind(&c.cause)),
                "{sql}: {err:?}"
            );
            let mut stream = db.stream(sql, ());
            let err = stream.next().await.expect("an item").expect_err(sql);
            assert!(
                matches!(&err, Error::Call(c) if kind(&c.cause)),
                "{sql}: {err:?}"
            );
            let err = db
                .interact(move |conn| Ok(conn.query_row(sql, [], |r| r.get::<_, i64>(0))?))
                .await
                .expect_err(sql);
            assert!(
                matches!(&err, Error::Call(c) if kind(&c.cause)),
                "{sql}: {err:?}"
            );
        }
        // Not a UDF's failure, even right after one on the same connection.
        let err = db
            .query_row("SELECT * FROM nowhere", ())
            .await
            .expect_err("no table");
        assert!(matches!(err, Error::Sqlite(_)), "{err:?}");
        let err = db
            .query_row("SELECT trap_if(3) + (SELECT x FROM nowhere)", ())
            .await
            .expect_err("no table");
        assert!(matches!(err, Error::Sqlite(_)), "{err:?}");
        Ok(())
    })
}

/// `read_only` opens every connection read-only: reads work, writes fail,
/// and a missing file is not created.
#[test]
fn read_only_databases_refuse_writes() -> Result<()> {
    block_on(async {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("ro.db");
        let db = Database::builder().path(&path).open().await?;
        db.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1)")
            .await?;
        db.close();
        let ro = Database::builder()
            .path(&path)
            .components(examples())
            .read_only(true)
            .pool_size(2)
            .open()
            .await?;
        let row = ro.query_row("SELECT identity(x) FROM t", ()).await?;
        assert_eq!(row.get::<i64>(0)?, 1);
        let err = ro
            .execute("INSERT INTO t VALUES (2)", ())
            .await
            .expect_err("read-only");
        assert!(err.to_string().contains("readonly"), "{err}");
        let missing = dir.path().join("missing.db");
        let opened = Database::builder()
            .path(&missing)
            .read_only(true)
            .open()
            .await;
        assert!(opened.is_err());
        assert!(!missing.exists());
        Ok(())
    })
}
