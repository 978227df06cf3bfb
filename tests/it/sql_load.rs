//! `SELECT wasmudf_load(name)`: off by default, confined to the directory
//! the embedder allowed, refused from schema objects, recorded in the
//! database and loaded again on open.

use anyhow::Result;
use wasmudf::Database;
use wasmudf_tests::{engine, runtime};

/// The compiled file of a guest crate.
fn guest_file(name: &str) -> &'static str {
    wasmudf_test_guests::ALL
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, p)| *p)
        .expect("a guest")
}

#[test]
fn components_load_from_sql_only_when_allowed_and_only_from_the_directory() -> Result<()> {
    runtime().block_on(async {
        let dir = tempfile::tempdir()?;
        let udfs = dir.path().join("udfs");
        std::fs::create_dir(&udfs)?;
        std::fs::copy(guest_file("text"), udfs.join("text.wasm"))?;
        std::fs::copy(guest_file("shadow-builtins"), udfs.join("shadow.wasm"))?;
        // Outside the allowed directory, but reachable by `..` or a link.
        std::fs::copy(guest_file("split"), dir.path().join("split.wasm"))?;
        #[cfg(unix)]
        std::os::unix::fs::symlink(dir.path().join("split.wasm"), udfs.join("link.wasm"))?;
        let file = dir.path().join("app.db");

        // Off by default.
        let plain = Database::builder().path(&file).open().await?;
        let err = plain
            .query_row("SELECT wasmudf_load('text.wasm')", ())
            .await
            .expect_err("not allowed");
        assert!(
            err.to_string().contains("no such function: wasmudf_load"),
            "{err}"
        );
        plain.close();

        let db = Database::builder()
            .path(&file)
            .pool_size(2)
            .allow_sql_load(engine(), &udfs)
            .open()
            .await?;
        let loaded = db.query_row("SELECT wasmudf_load('text.wasm')", ()).await?;
        assert_eq!(loaded.get::<i64>(0)?, 3);
        // Every connection has it from the next statement on.
        for _ in 0..4 {
            let row = db.query_row("SELECT unicode_upper('straße')", ()).await?;
            assert_eq!(row.get::<String>(0)?, "STRASSE");
        }
        // The same bytes again change nothing.
        let again = db.query_row("SELECT wasmudf_load('text.wasm')", ()).await?;
        assert_eq!(again.get::<i64>(0)?, 3);
        assert_eq!(db.components().len(), 1);
        for name in ["../split.wasm", "link.wasm", "/etc/passwd", "missing.wasm"] {
            let err = db
                .query_row("SELECT wasmudf_load(?1)", [name])
                .await
                .expect_err(name);
            assert!(err.to_string().contains("wasmudf_load: "), "{name}: {err}");
        }
        // A clash is the call's error, and changes nothing.
        let err = db
            .query_row("SELECT wasmudf_load('shadow.wasm')", ())
            .await
            .expect_err("clashes");
        assert!(err.to_string().contains("clashes with"), "{err}");
        let row = db.query_row("SELECT abs(-2)", ()).await?;
        assert_eq!(row.get::<i64>(0)?, 2);
        // Not from a schema object.
        db.execute_batch("CREATE VIEW loader AS SELECT wasmudf_load('text.wasm') AS n")
            .await?;
        let err = db
            .query_row("SELECT n FROM loader", ())
            .await
            .expect_err("from a view");
        assert!(
            err.to_string().contains("unsafe use of wasmudf_load"),
            "{err}"
        );
        let recorded = db
            .query("SELECT name, length(sha256) FROM wasmudf_loaded", ())
            .await?;
        assert_eq!(recorded.len(), 1);
        assert_eq!(recorded[0].get::<String>(0)?, "text.wasm");
        assert_eq!(recorded[0].get::<i64>(1)?, 64);
        db.close();
        drop(db);

        // Opened again with loading allowed, the recorded names load.
        let reopened = Database::builder()
            .path(&file)
            .allow_sql_load(engine(), &udfs)
            .open()
            .await?;
        let row = reopened
            .query_row("SELECT levenshtein('kitten', 'sitting')", ())
            .await?;
        assert_eq!(row.get::<i64>(0)?, 3);
        reopened.close();
        // Without it, they do not.
        let without = Database::builder().path(&file).open().await?;
        assert!(
            without
                .query_row("SELECT levenshtein('a', 'b')", ())
                .await
                .is_err()
        );
        Ok(())
    })
}

/// A folder of components to load from SQL, and a database file beside it.
struct Setup {
    _dir: tempfile::TempDir,
    udfs: std::path::PathBuf,
    file: std::path::PathBuf,
}

fn setup(guests: &[(&str, &str)]) -> Result<Setup> {
    let dir = tempfile::tempdir()?;
    let udfs = dir.path().join("udfs");
    std::fs::create_dir(&udfs)?;
    for (guest, file) in guests {
        std::fs::copy(guest_file(guest), udfs.join(file))?;
    }
    let file = dir.path().join("app.db");
    Ok(Setup {
        udfs,
        file,
        _dir: dir,
    })
}

impl Setup {
    async fn open(&self, pool_size: usize) -> wasmudf::Result<Database> {
        Database::builder()
            .path(&self.file)
            .pool_size(pool_size)
            .allow_sql_load(engine(), &self.udfs)
            .open()
            .await
    }
}

/// Whether `unicode_upper` (the `text` example's) answers, asked on every
/// connection of the pool at once (queries in flight together hold
/// different connections): each must agree.
async fn text_loaded(db: &Database) -> Result<bool> {
    let size = db.stats().size;
    let asked = (0..size).map(|_| db.query_row("SELECT unicode_upper('a')", ()));
    let answers: Vec<bool> = futures::future::join_all(asked)
        .await
        .iter()
        .map(Result::is_ok)
        .collect();
    assert!(
        answers.iter().all(|a| *a == answers[0]),
        "connections disagree: {answers:?}"
    );
    Ok(answers[0])
}

async fn recorded(db: &Database) -> Result<Vec<String>> {
    let rows = db
        .query("SELECT name FROM wasmudf_loaded ORDER BY rowid", ())
        .await?;
    rows.iter().map(|r| Ok(r.get::<String>(0)?)).collect()
}

/// A load is the row it records: a failed write, a statement rolled back
/// after the load, a rolled-back transaction and a rollback to a savepoint
/// taken before the load all leave nothing loaded, on any connection; a
/// committed transaction loads for every connection, and for the next open.
#[test]
fn a_load_stands_or_falls_with_its_record() -> Result<()> {
    runtime().block_on(async {
        let s = setup(&[("text", "text.wasm")])?;
        let db = s.open(2).await?;

        // The write fails: nothing is loaded.
        db.execute_batch(
            "CREATE TRIGGER no_loads BEFORE INSERT ON wasmudf_loaded
             BEGIN SELECT RAISE(ABORT, 'no loads today'); END",
        )
        .await?;
        let err = db
            .query_row("SELECT wasmudf_load('text.wasm')", ())
            .await
            .expect_err("the record is refused");
        assert!(
            err.to_string().contains("not recorded") && err.to_string().contains("no loads today"),
            "{err}"
        );
        assert!(!text_loaded(&db).await?);
        assert!(db.components().is_empty());
        db.execute_batch("DROP TRIGGER no_loads").await?;

        // An INSERT that fails after its load: SQLite rolls the statement
        // back, the record with it, and so the load.
        db.execute_batch("CREATE TABLE t(n INTEGER CHECK (n < 0))")
            .await?;
        let err = db
            .execute("INSERT INTO t VALUES (wasmudf_load('text.wasm'))", ())
            .await
            .expect_err("the check fails");
        assert!(err.to_string().contains("CHECK constraint failed"), "{err}");
        assert!(!text_loaded(&db).await?);
        assert!(recorded(&db).await?.is_empty());

        // Inside a transaction: usable there at once, nowhere else until it
        // commits; rolled back, gone.
        let mut tx = db.transaction().await?;
        let n = tx.query_row("SELECT wasmudf_load('text.wasm')", ()).await?;
        assert_eq!(n.get::<i64>(0)?, 3);
        let up = tx.query_row("SELECT unicode_upper('tx')", ()).await?;
        assert_eq!(up.get::<String>(0)?, "TX");
        assert!(db.components().is_empty());
        tx.rollback().await?;
        assert!(!text_loaded(&db).await?);
        assert!(db.components().is_empty());
        assert!(recorded(&db).await?.is_empty());

        // A transaction dropped without commit rolls back the same way.
        let mut tx = db.transaction().await?;
        tx.query_row("SELECT wasmudf_load('text.wasm')", ()).await?;
        drop(tx);
        assert!(!text_loaded(&db).await?);

        // ROLLBACK TO a savepoint before the load undoes it at the end of
        // that call, though the transaction goes on and commits.
        let mut tx = db.transaction().await?;
        tx.execute("SAVEPOINT before_load", ()).await?;
        tx.query_row("SELECT wasmudf_load('text.wasm')", ()).await?;
        tx.execute("ROLLBACK TO before_load", ()).await?;
        let err = tx
            .query_row("SELECT unicode_upper('tx')", ())
            .await
            .expect_err("undone");
        assert!(err.to_string().contains("no such function"), "{err}");
        tx.commit().await?;
        assert!(!text_loaded(&db).await?);
        assert!(recorded(&db).await?.is_empty());

        // A savepoint released and a transaction committed: loaded for
        // every connection.
        let mut tx = db.transaction().await?;
        tx.execute("SAVEPOINT around_load", ()).await?;
        tx.query_row("SELECT wasmudf_load('text.wasm')", ()).await?;
        tx.execute("RELEASE around_load", ()).await?;
        tx.commit().await?;
        assert!(text_loaded(&db).await?);
        assert_eq!(db.components().len(), 1);
        assert_eq!(recorded(&db).await?, ["text.wasm"]);
        db.close();
        drop(db);

        let reopened = s.open(2).await?;
        assert!(text_loaded(&reopened).await?);
        Ok(())
    })
}

/// What SQLite keeps, the load keeps: a read-only statement that fails
/// after a load does not roll back the record its function wrote (SQLite
/// commits a nested write in autocommit mode), so the component stays
/// loaded, for every connection and the next open.
#[test]
fn a_load_whose_record_outlives_a_failed_statement_stays() -> Result<()> {
    runtime().block_on(async {
        let s = setup(&[("text", "text.wasm")])?;
        let db = s.open(2).await?;
        let err = db
            .query(
                "SELECT wasmudf_load(column1) FROM (VALUES ('text.wasm'), ('missing.wasm'))",
                (),
            )
            .await
            .expect_err("the second load fails");
        assert!(err.to_string().contains("missing.wasm"), "{err}");
        assert_eq!(recorded(&db).await?, ["text.wasm"]);
        assert!(text_loaded(&db).await?);
        db.close();
        drop(db);
        assert!(text_loaded(&s.open(2).await?).await?);
        Ok(())
    })
}

/// Two components whose functions clash (`swap-a` and `swap-b`), loaded
/// through two connections: the second load fails whether the first has
/// committed (its connection was behind, or it was not) or is still
/// pending in a transaction, and queries and later opens keep working.
#[test]
fn clashing_loads_on_two_connections_cannot_both_succeed() -> Result<()> {
    runtime().block_on(async {
        let s = setup(&[("swap-a", "swap_a.wasm"), ("swap-b", "swap_b.wasm")])?;
        let db = s.open(2).await?;

        // A connection taken before another one loads is behind when it
        // loads in turn.
        let (started_tx, started) = tokio::sync::oneshot::channel();
        let (go, go_rx) = std::sync::mpsc::channel::<()>();
        let behind = tokio::spawn(db.interact(move |conn| {
            let _ = started_tx.send(());
            let _ = go_rx.recv();
            Ok(
                conn.query_row("SELECT wasmudf_load('swap_b.wasm')", [], |r| {
                    r.get::<_, i64>(0)
                }),
            )
        }));
        started.await?;
        db.query_row("SELECT wasmudf_load('swap_a.wasm')", ())
            .await?;
        go.send(())?;
        let err = behind.await??.expect_err("behind");
        assert!(err.to_string().contains("behind"), "{err}");
        let version = db.query_row("SELECT swap_version()", ()).await?;
        assert_eq!(version.get::<String>(0)?, "a");

        // Caught up, the clash is the load's error.
        let err = db
            .query_row("SELECT wasmudf_load('swap_b.wasm')", ())
            .await
            .expect_err("clashes");
        assert!(err.to_string().contains("clashes with"), "{err}");
        assert_eq!(db.components().len(), 1);
        assert_eq!(recorded(&db).await?, ["swap_a.wasm"]);
        db.close();
        drop(db);

        // Later opens load the one that won, and nothing else.
        let db = s.open(2).await?;
        let version = db.query_row("SELECT swap_version()", ()).await?;
        assert_eq!(version.get::<String>(0)?, "a");
        db.close();
        drop(db);
        Ok(())
    })
}

/// A load still pending in one connection's transaction reserves its
/// names: a clashing load elsewhere is refused until that transaction
/// ends, and allowed once it has rolled back.
#[test]
fn a_pending_load_reserves_its_names() -> Result<()> {
    runtime().block_on(async {
        let s = setup(&[("swap-a", "swap_a.wasm"), ("swap-b", "swap_b.wasm")])?;
        let db = s.open(2).await?;
        let mut tx = db.transaction().await?;
        tx.query_row("SELECT wasmudf_load('swap_a.wasm')", ())
            .await?;
        let err = db
            .query_row("SELECT wasmudf_load('swap_b.wasm')", ())
            .await
            .expect_err("reserved");
        assert!(
            err.to_string().contains("clashes with") && err.to_string().contains("swap_a"),
            "{err}"
        );
        // The embedder's own additions are checked against it too.
        let err = db
            .add_components([wasmudf_tests::component("swap-b")])
            .await
            .expect_err("reserved");
        assert!(err.to_string().contains("clashes with"), "{err}");
        tx.rollback().await?;
        db.query_row("SELECT wasmudf_load('swap_b.wasm')", ())
            .await?;
        let version = db.query_row("SELECT swap_version()", ()).await?;
        assert_eq!(version.get::<String>(0)?, "b");
        Ok(())
    })
}

/// At open, the load list is read only from a real table: a view of that
/// name (here one that never ends, and one that names a file of the
/// folder) fails the open at once and loads nothing.
#[test]
fn the_load_list_is_never_read_from_a_view() -> Result<()> {
    runtime().block_on(async {
        let s = setup(&[("text", "text.wasm")])?;
        for view in [
            "CREATE VIEW wasmudf_loaded AS WITH RECURSIVE c(n) AS \
             (SELECT 1 UNION ALL SELECT n + 1 FROM c) SELECT 'text.wasm' AS name FROM c",
            "CREATE VIEW WASMUDF_LOADED AS SELECT 'text.wasm' AS name",
        ] {
            let _ = std::fs::remove_file(&s.file);
            rusqlite::Connection::open(&s.file)?.execute_batch(view)?;
            // A hang would fail here rather than wedge the test run.
            let opened = tokio::time::timeout(std::time::Duration::from_secs(60), s.open(1))
                .await
                .expect("open does not hang");
            let err = opened.expect_err("a view is refused");
            assert!(
                matches!(err, wasmudf::Error::SqlLoad { .. })
                    && err.to_string().contains("is a view"),
                "{err}"
            );
            // Without SQL loading the file opens, and has no component.
            let plain = Database::builder().path(&s.file).open().await?;
            assert!(plain.components().is_empty());
            plain.close();
        }
        Ok(())
    })
}
