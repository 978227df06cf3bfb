//! Where guest calls run: on the caller's thread wherever tokio allows it
//! (no thread per call), and always with enough native stack for
//! `max_wasm_stack`, so deep recursion is a SQL error, never an abort.

use std::time::Duration;

use anyhow::Result;
use rusqlite::Connection;
use wasmudf::{Database, Engine, Error, Limits};
use wasmudf_tests::{CallLog, load_on};

/// An engine whose wasm stack nearly fills a 2 MiB thread: the setting that
/// used to overflow the native stack and abort the process.
fn big_stack_engine(max_wasm_stack: usize, direct_calls: bool) -> Engine {
    Engine::builder()
        .limits(Limits {
            max_wasm_stack,
            timeout: Duration::from_secs(20),
            ..Limits::default()
        })
        .direct_calls(direct_calls)
        .build()
        .expect("engine builds")
}

/// Deep recursion fails with a stack overflow error, and the connection
/// then answers a normal query.
fn recurse_fails_cleanly(conn: &Connection) -> Result<()> {
    let err = conn
        .query_row("SELECT recurse(100000000)", [], |r| r.get::<_, i64>(0))
        .expect_err("recursion 100M deep overflows")
        .to_string();
    assert!(err.contains("wasm stack overflow"), "{err}");
    let v: i64 = conn.query_row("SELECT identity(41) + 1", [], |r| r.get(0))?;
    assert_eq!(v, 42);
    Ok(())
}

fn conn_on(engine: &Engine) -> Result<Connection> {
    let conn = Connection::open_in_memory()?;
    load_on(engine, "deep-recursion").register(&conn)?;
    load_on(engine, "identity").register(&conn)?;
    Ok(conn)
}

#[test]
fn deep_recursion_near_a_2_mib_wasm_stack_on_a_plain_2_mib_thread_is_an_error() -> Result<()> {
    // 2040 KiB: the range; 8 MiB: more than the thread has at all.
    for max_wasm_stack in [2040 << 10, 8 << 20] {
        for direct_calls in [true, false] {
            let engine = big_stack_engine(max_wasm_stack, direct_calls);
            std::thread::Builder::new()
                .stack_size(2 << 20)
                .spawn(move || recurse_fails_cleanly(&conn_on(&engine)?))?
                .join()
                .expect("no panic")?;
        }
    }
    Ok(())
}

#[test]
fn deep_recursion_near_a_2_mib_wasm_stack_on_tokio_blocking_threads_is_an_error() -> Result<()> {
    // tokio's default thread stack is 2 MiB.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let engine = big_stack_engine(2040 << 10, true);
    runtime.block_on(async {
        // The synchronous API in the user's own spawn_blocking.
        let on_engine = engine.clone();
        tokio::task::spawn_blocking(move || recurse_fails_cleanly(&conn_on(&on_engine)?)).await??;
        // The async facade.
        let db = Database::builder()
            .components([
                load_on(&engine, "deep-recursion"),
                load_on(&engine, "identity"),
            ])
            .pool_size(1)
            .open()
            .await?;
        let err = db
            .query_row("SELECT recurse(100000000)", ())
            .await
            .expect_err("overflows");
        assert!(err.to_string().contains("wasm stack overflow"), "{err}");
        let row = db.query_row("SELECT identity(41) + 1", ()).await?;
        assert_eq!(row.get::<i64>(0)?, 42);
        Ok(())
    })
}

#[test]
fn an_absurd_max_wasm_stack_is_a_config_error() {
    for max_wasm_stack in [0, Limits::MAX_WASM_STACK + 1, usize::MAX / 2] {
        let built = Engine::builder()
            .limits(Limits {
                max_wasm_stack,
                ..Limits::default()
            })
            .build();
        assert!(
            matches!(built, Err(Error::Config(_))),
            "{max_wasm_stack}: {built:?}"
        );
    }
}

#[test]
fn busy_timeout_duration_max_is_clamped() -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let db = Database::builder()
            .busy_timeout(Duration::MAX)
            .open()
            .await?;
        assert_eq!(db.query_row("SELECT 1", ()).await?.get::<i64>(0)?, 1);
        Ok(())
    })
}

/// 2,000 rows through the `sumsq` window function (always the component
/// path) and `sleep(0)` (WASI), run on `conn`.
fn window_query(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE t(x INTEGER);
         WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 2000)
         INSERT INTO t SELECT i FROM c;",
    )?;
    let n: i64 = conn.query_row(
        "SELECT count(s) FROM (SELECT sumsq(x) OVER (ORDER BY x ROWS 3 PRECEDING) + sleep(0) AS s FROM t)",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(n, 2000);
    Ok(())
}

fn window_conn(engine: &Engine) -> Result<Connection> {
    let conn = Connection::open_in_memory()?;
    load_on(engine, "stats").register(&conn)?;
    load_on(engine, "sleep").register(&conn)?;
    Ok(conn)
}

#[test]
fn inside_spawn_blocking_no_thread_is_made_per_call() -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (engine, log) = CallLog::engine();
    runtime.block_on(async {
        tokio::task::spawn_blocking(move || window_query(&window_conn(&engine)?)).await?
    })?;
    assert!(log.calls() > 4000, "{} calls", log.calls());
    // The hook runs where the guest runs: a thread per call would show
    // thousands of threads here.
    assert!(log.thread_count() <= 2, "{} threads", log.thread_count());
    Ok(())
}

#[test]
fn a_current_thread_runtime_uses_one_helper_thread() -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (engine, log) = CallLog::engine();
    let on_engine = engine.clone();
    runtime.block_on(async {
        // On the runtime's own thread, and in its spawn_blocking.
        window_query(&window_conn(&engine)?)?;
        tokio::task::spawn_blocking(move || window_query(&window_conn(&on_engine)?)).await?
    })?;
    assert!(log.calls() > 8000, "{} calls", log.calls());
    // The component-path calls all ran on the one helper thread; only the
    // first `sleep` call of each connection, on the direct path (which
    // never blocks), ran on its caller's thread.
    assert!(log.thread_count() <= 3, "{} threads", log.thread_count());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_api_on_a_multi_thread_worker_stays_on_that_thread() -> Result<()> {
    let (engine, log) = CallLog::engine();
    let conn = window_conn(&engine)?;
    let v: i64 = conn.query_row("SELECT sleep(20)", [], |r| r.get(0))?;
    assert_eq!(v, 20);
    window_query(&conn)?;
    // `block_in_place` runs the guest on the worker's own thread.
    assert_eq!(log.thread_count(), 1);
    Ok(())
}

/// A guest asleep on a blocking thread of a runtime that is shutting down
/// (napi-rs shuts a Node.js worker's runtime down when the worker is
/// terminated, while its statements still run) wakes up as usual: tokio
/// refuses new timers on such a runtime with a panic, which reached stderr
/// and failed the call.
#[test]
fn a_guest_sleeps_on_a_runtime_that_is_shutting_down() -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let engine = wasmudf_tests::engine().clone();
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let (started, running) = std::sync::mpsc::channel::<()>();
    let (done, result) = std::sync::mpsc::channel();
    drop(runtime.spawn_blocking(move || {
        let slept = (|| -> Result<i64> {
            let conn = window_conn(&engine)?;
            // The first call may take the direct path, which never sleeps.
            conn.query_row("SELECT sleep(0)", [], |r| r.get::<_, i64>(0))?;
            started.send(())?;
            wait.recv()?;
            Ok(conn.query_row("SELECT sleep(50)", [], |r| r.get(0))?)
        })();
        let _ = done.send(slept.map_err(|e| e.to_string()));
    }));
    // Once the blocking task runs, shut the runtime down (a running
    // blocking thread goes on) and let the guest sleep.
    running.recv_timeout(Duration::from_secs(60))?;
    runtime.shutdown_background();
    go.send(())?;
    let slept = result.recv_timeout(Duration::from_secs(60))?;
    assert_eq!(slept, Ok(50));
    Ok(())
}
