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
            .query_row("SELECT edit_distance('kitten', 'sitting')", ())
            .await?;
        assert_eq!(row.get::<i64>(0)?, 3);
        reopened.close();
        // Without it, they do not.
        let without = Database::builder().path(&file).open().await?;
        assert!(
            without
                .query_row("SELECT edit_distance('a', 'b')", ())
                .await
                .is_err()
        );
        Ok(())
    })
}
