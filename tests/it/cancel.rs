//! Cancellation stops SQLite, not only the guest: work whose caller went
//! away (a dropped future, a query timeout) commits nothing, even when the
//! cancel lands between statements or before the work has started. Each
//! test would fail if the INSERT committed: the row count is read from a
//! fresh connection to the database file afterwards.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use wasmudf::{Database, Error};
use wasmudf_tests::component;

/// Runs `test` on a multi-thread runtime with 4 blocking threads. A
/// statement that ignored its cancel would keep a blocking thread for ever:
/// the runtime is then left behind rather than waited for, so such a test
/// fails instead of hanging.
fn run(test: impl Future<Output = Result<()>>) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(4)
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(test);
    runtime.shutdown_timeout(Duration::from_secs(1));
    outcome
}

async fn open(path: &Path, timeout: Option<Duration>) -> Result<Database> {
    let mut builder = Database::builder()
        .path(path)
        .components([component("sleep")])
        .pool_size(1);
    if let Some(timeout) = timeout {
        builder = builder.query_timeout(timeout);
    }
    let db = builder.open().await?;
    db.execute("CREATE TABLE t(x INTEGER)", ()).await?;
    Ok(db)
}

/// Rows in `t`, read through a connection of its own once the pool's only
/// connection is free again (so the cancelled work has ended), and proof
/// that the connection works for its next user: an INSERT commits.
async fn rows_after(db: &Database, path: &Path) -> Result<i64> {
    // Generous: the cancelled work sleeps 300 ms; a statement that ignored
    // the cancel would hold the connection for ever.
    let next = tokio::time::timeout(
        Duration::from_secs(30),
        db.execute("INSERT INTO t VALUES (99)", ()),
    )
    .await
    .map_err(|_| anyhow::anyhow!("the connection never came back"))??;
    assert_eq!(next, 1);
    let conn = rusqlite::Connection::open(path)?;
    let n: i64 = conn.query_row("SELECT count(*) FROM t WHERE x <> 99", [], |r| r.get(0))?;
    let next: i64 = conn.query_row("SELECT count(*) FROM t WHERE x = 99", [], |r| r.get(0))?;
    assert_eq!(next, 1, "the next user's INSERT did not commit");
    Ok(n)
}

/// Sleeps in Rust, where neither SQLite nor a guest can be interrupted, so
/// the cancel lands while no statement runs.
fn pause() {
    std::thread::sleep(Duration::from_millis(300));
}

#[test]
fn an_interact_dropped_before_its_insert_commits_nothing() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("db.sqlite");
    run(async {
        let db = open(&path, None).await?;
        let work = db.interact(|conn| {
            pause();
            conn.execute("INSERT INTO t VALUES (1)", [])?;
            Ok(())
        });
        assert!(
            tokio::time::timeout(Duration::from_millis(100), work)
                .await
                .is_err()
        );
        assert_eq!(rows_after(&db, &path).await?, 0);
        Ok(())
    })
}

#[test]
fn an_execute_batch_past_the_query_timeout_commits_nothing() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("db.sqlite");
    run(async {
        let db = open(&path, Some(Duration::from_millis(100))).await?;
        let err = db
            .interact(|conn| {
                pause();
                conn.execute_batch("INSERT INTO t VALUES (1); INSERT INTO t VALUES (2);")?;
                Ok(())
            })
            .await
            .expect_err("times out");
        assert!(matches!(err, Error::Timeout(_)), "{err}");
        assert_eq!(rows_after(&db, &path).await?, 0);
        Ok(())
    })
}

#[test]
fn a_transaction_committed_after_a_cancel_is_rolled_back() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("db.sqlite");
    run(async {
        let db = open(&path, None).await?;
        let work = db.interact(|conn| {
            conn.execute_batch("BEGIN; INSERT INTO t VALUES (1);")?;
            pause();
            conn.execute_batch("COMMIT")?;
            Ok(())
        });
        assert!(
            tokio::time::timeout(Duration::from_millis(100), work)
                .await
                .is_err()
        );
        assert_eq!(rows_after(&db, &path).await?, 0);
        Ok(())
    })
}

#[test]
fn a_long_statement_started_after_a_cancel_stops() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("db.sqlite");
    run(async {
        let db = open(&path, None).await?;
        let work = db.interact(|conn| {
            pause();
            // Never ends unless SQLite is stopped.
            conn.query_row(
                "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c) SELECT count(*) FROM c",
                [],
                |r| r.get::<_, i64>(0),
            )?;
            Ok(())
        });
        assert!(
            tokio::time::timeout(Duration::from_millis(100), work)
                .await
                .is_err()
        );
        assert_eq!(rows_after(&db, &path).await?, 0);
        Ok(())
    })
}

#[test]
fn a_queued_execute_whose_future_was_dropped_never_runs() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("db.sqlite");
    run(async {
        let db = open(&path, None).await?;
        // Fill the blocking pool (4 threads), so the INSERT waits in its queue.
        let busy: Vec<_> = (0..4).map(|_| tokio::task::spawn_blocking(pause)).collect();
        let insert = db.execute("INSERT INTO t VALUES (1)", ());
        assert!(
            tokio::time::timeout(Duration::from_millis(100), insert)
                .await
                .is_err()
        );
        for task in busy {
            task.await?;
        }
        assert_eq!(rows_after(&db, &path).await?, 0);
        Ok(())
    })
}
