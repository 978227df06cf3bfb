//! `wasmudf_functions` and `wasmudf_components`: what a connection has
//! registered, seen from SQL.

use anyhow::Result;
use rusqlite::Connection;
use rusqlite::types::Value;
use wasmudf::Database;
use wasmudf_tests::{component, runtime, scalar};

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn rows(conn: &Connection, sql: &str) -> rusqlite::Result<Vec<Vec<Value>>> {
    let mut stmt = conn.prepare(sql)?;
    let width = stmt.column_count();
    stmt.query_map([], |row| (0..width).map(|i| row.get(i)).collect())?
        .collect()
}

#[test]
fn functions_and_components_are_listed() -> Result<()> {
    let conn = Connection::open_in_memory()?;
    // Before any component, the tables do not exist: they come with the
    // first registration.
    assert!(conn.prepare("SELECT * FROM wasmudf_functions").is_err());
    let text_c = component("text");
    let split = component("split");
    let sleep = component("sleep");
    for c in [&text_c, &split, &sleep] {
        c.register(&conn)?;
    }
    let mut stmt = conn.prepare(
        "SELECT name, kind, arity, flags, component, path IS NOT NULL, sha256, returns, params, \
         columns, mergeable, trusted FROM wasmudf_functions WHERE component IN (?1, ?2) \
         ORDER BY name",
    )?;
    let got: Vec<Vec<Value>> = stmt
        .query_map([text_c.origin(), split.origin()], |row| {
            (0..12).map(|i| row.get(i)).collect()
        })?
        .collect::<rusqlite::Result<_>>()?;
    let t = |s: &str| text(s);
    let text_origin = t(text_c.origin());
    let text_hash = t(&hex(&text_c.sha256()));
    assert_eq!(
        got,
        [
            vec![
                t("levenshtein"),
                t("scalar"),
                Value::Integer(2),
                t("deterministic,innocuous"),
                text_origin.clone(),
                Value::Integer(1),
                text_hash.clone(),
                t("INTEGER"),
                t("TEXT,TEXT"),
                Value::Null,
                Value::Integer(0),
                Value::Integer(0),
            ],
            vec![
                t("regexp"),
                t("scalar"),
                Value::Integer(2),
                t("deterministic"),
                text_origin.clone(),
                Value::Integer(1),
                text_hash.clone(),
                t("INTEGER"),
                t("TEXT,TEXT"),
                Value::Null,
                Value::Integer(0),
                Value::Integer(0),
            ],
            vec![
                t("split"),
                t("table"),
                Value::Integer(2),
                t("deterministic"),
                t(split.origin()),
                Value::Integer(1),
                t(&hex(&split.sha256())),
                Value::Null,
                t("TEXT,TEXT"),
                t("ordinal,part"),
                Value::Integer(0),
                Value::Integer(0),
            ],
            vec![
                t("unicode_upper"),
                t("scalar"),
                Value::Integer(1),
                t("deterministic,innocuous"),
                text_origin,
                Value::Integer(1),
                text_hash,
                t("TEXT"),
                t("TEXT"),
                Value::Null,
                Value::Integer(0),
                Value::Integer(0),
            ],
        ]
    );
    // `direct` follows what the connection does: a scalar stays on the
    // direct path until it needs the host (`sleep` reads the clock).
    let direct = |name: &str| -> Result<Value> {
        Ok(conn.query_row(
            "SELECT direct FROM wasmudf_functions WHERE name = ?1",
            [name],
            |r| r.get(0),
        )?)
    };
    assert_eq!(scalar(&conn, "SELECT unicode_upper('a')")?, text("A"));
    assert_eq!(
        direct("unicode_upper")?,
        Value::Integer(i64::from(text_c.has_direct_path()))
    );
    assert_eq!(scalar(&conn, "SELECT sleep(1)")?, Value::Integer(1));
    assert_eq!(direct("sleep")?, Value::Integer(0));
    assert_eq!(direct("split")?, Value::Integer(0));
    // One row per component, with what it is and how many instances live.
    let got = rows(
        &conn,
        "SELECT sha256, component, size, wit_version, functions, trusted, live_instances > 0, \
         loaded_at > 1.7e9, load_ms >= 0 FROM wasmudf_components ORDER BY component",
    )?;
    let mut expected: Vec<Vec<Value>> = [&text_c, &split, &sleep]
        .iter()
        .map(|c| {
            let size = std::fs::metadata(c.path().expect("from a file")).map(|m| m.len() as i64);
            vec![
                text(&hex(&c.sha256())),
                text(c.origin()),
                Value::Integer(size.expect("a file")),
                text("0.2.0"),
                Value::Integer(c.functions().len() as i64),
                Value::Integer(0),
                // `split` has not been called on any connection yet.
                Value::Integer(i64::from(c.live_instances() > 0)),
                Value::Integer(1),
                Value::Integer(1),
            ]
        })
        .collect();
    expected.sort_by(|a, b| format!("{:?}", a[1]).cmp(&format!("{:?}", b[1])));
    assert_eq!(got, expected);
    assert!(text_c.live_instances() > 0);
    // Rust guests say which language they are in.
    assert_eq!(text_c.language(), Some("Rust"));
    assert_eq!(
        scalar(
            &conn,
            "SELECT group_concat(DISTINCT language) FROM wasmudf_components"
        )?,
        text("Rust")
    );
    // Read-only.
    assert!(conn.execute("DELETE FROM wasmudf_functions", []).is_err());
    assert!(
        conn.execute("INSERT INTO wasmudf_components(sha256) VALUES ('x')", [])
            .is_err()
    );
    Ok(())
}

#[test]
fn every_pool_connection_lists_its_components() -> Result<()> {
    runtime().block_on(async {
        let db = Database::builder()
            .components([component("text"), component("split").trusted(true)])
            .pool_size(2)
            .open()
            .await?;
        let rows = db
            .query(
                "SELECT name, trusted FROM wasmudf_functions ORDER BY name",
                (),
            )
            .await?;
        let got: Vec<(String, i64)> = rows
            .iter()
            .map(|r| Ok((r.get(0)?, r.get(1)?)))
            .collect::<Result<_>>()?;
        assert_eq!(
            got,
            [
                ("levenshtein".into(), 0),
                ("regexp".into(), 0),
                ("split".into(), 1),
                ("unicode_upper".into(), 0),
            ]
        );
        let count = db
            .query_row("SELECT count(*) FROM wasmudf_components", ())
            .await?;
        assert_eq!(count.get::<i64>(0)?, 2);
        Ok(())
    })
}

/// Every row of `sql`'s first column, as text.
fn names(conn: &Connection, sql: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(sql)?;
    stmt.query_map([], |row| row.get(0))?.collect()
}

/// A database file that tries to hide, fake and steal the catalog: a real
/// `wasmudf_functions` table with a fake row, a trigger and a view that
/// would copy host paths and hashes out of `wasmudf_components`, and a
/// virtual table declared over the catalog's module.
fn hostile_file(path: &std::path::Path) -> Result<()> {
    let conn = Connection::open(path)?;
    conn.execute_batch(
        "CREATE TABLE wasmudf_functions(name, kind, arity, flags, component);
         INSERT INTO wasmudf_functions VALUES ('evil_fn', 'scalar', 1, '', 'fake.wasm');
         CREATE TABLE loot(what);
         CREATE TABLE t(a);
         CREATE TRIGGER steal AFTER INSERT ON t
             BEGIN INSERT INTO loot SELECT path || sha256 FROM wasmudf_components; END;
         CREATE VIEW peek AS SELECT path, sha256 FROM wasmudf_components;
         PRAGMA writable_schema = ON;
         INSERT INTO sqlite_schema VALUES ('table', 'spy', 'spy', 0,
             'CREATE VIRTUAL TABLE spy USING wasmudf_functions');
         PRAGMA writable_schema = OFF;",
    )?;
    Ok(())
}

/// What the connection's own catalog and the file's objects answer.
fn check_hostile_file(conn: &Connection, expected: &[String]) -> Result<()> {
    // Unqualified names find the host's tables in `temp`, before `main`.
    assert_eq!(
        names(conn, "SELECT name FROM wasmudf_functions ORDER BY name")?,
        expected
    );
    assert_eq!(
        names(
            conn,
            "SELECT name FROM temp.wasmudf_functions ORDER BY name"
        )?,
        expected
    );
    assert_eq!(
        scalar(
            conn,
            "SELECT count(*) FROM wasmudf_components WHERE path IS NOT NULL"
        )?,
        Value::Integer(1)
    );
    // The file's own table is still there, for whoever names it.
    assert_eq!(
        names(conn, "SELECT name FROM main.wasmudf_functions")?,
        ["evil_fn"]
    );
    // Its triggers and views see only the file's schema: reading the
    // catalog from them is an error, and nothing reaches the file.
    let err = conn
        .execute("INSERT INTO t VALUES (1)", [])
        .expect_err("the trigger cannot read the catalog");
    assert!(
        err.to_string()
            .contains("no such table: main.wasmudf_components"),
        "{err}"
    );
    assert_eq!(names(conn, "SELECT what FROM loot")?, Vec::<String>::new());
    let err = names(conn, "SELECT path FROM peek").expect_err("nor the view");
    assert!(err.to_string().contains("no such table"), "{err}");
    // A virtual table the file declares over the catalog's module is
    // refused when it is first used.
    let err = names(conn, "SELECT name FROM spy").expect_err("refused");
    assert!(err.to_string().contains("wasmudf's catalog"), "{err}");
    // And none can be made anywhere but in `temp`.
    let err = conn
        .execute_batch("CREATE VIRTUAL TABLE main.spy2 USING wasmudf_components")
        .expect_err("refused");
    assert!(err.to_string().contains("wasmudf's catalog"), "{err}");
    Ok(())
}

#[test]
fn a_database_file_can_neither_hide_fake_nor_read_the_catalog() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("hostile.db");
    hostile_file(&file)?;
    let expected: Vec<String> = ["levenshtein", "regexp", "unicode_upper"]
        .map(String::from)
        .to_vec();
    // Through the pool (`trusted_schema=OFF`).
    runtime().block_on(async {
        let db = Database::builder()
            .path(&file)
            .components([component("text")])
            .pool_size(1)
            .open()
            .await?;
        let expected = expected.clone();
        db.interact(move |conn| {
            check_hostile_file(conn, &expected)
                .map_err(|e| wasmudf::Error::Sqlite(rusqlite::Error::ModuleError(format!("{e:#}"))))
        })
        .await?;
        db.close();
        anyhow::Ok(())
    })?;
    // On a plain connection, where SQLite trusts the schema by default.
    let conn = Connection::open(&file)?;
    conn.pragma_update(None, "trusted_schema", "ON")?;
    component("text").register(&conn)?;
    check_hostile_file(&conn, &expected)?;
    Ok(())
}

/// Registered inside a transaction that rolls back, the catalog's tables go
/// with it; the next registration makes them again. On a connection that
/// may write nothing, registration goes on without them.
#[test]
fn the_catalog_comes_back_after_a_rolled_back_registration() -> Result<()> {
    let conn = Connection::open_in_memory()?;
    conn.execute_batch("BEGIN")?;
    component("text").register(&conn)?;
    assert_eq!(
        scalar(&conn, "SELECT count(*) FROM wasmudf_functions")?,
        Value::Integer(3)
    );
    conn.execute_batch("ROLLBACK")?;
    assert!(conn.prepare("SELECT * FROM wasmudf_functions").is_err());
    component("sleep").register(&conn)?;
    assert_eq!(
        scalar(&conn, "SELECT count(*) FROM wasmudf_functions")?,
        Value::Integer(4)
    );
    // Where not even `temp` may be written, the functions work without it.
    let read_only = Connection::open_in_memory()?;
    read_only.pragma_update(None, "query_only", true)?;
    component("text").register(&read_only)?;
    assert_eq!(
        scalar(&read_only, "SELECT unicode_upper('q')")?,
        Value::Text("Q".into())
    );
    assert!(
        read_only
            .prepare("SELECT * FROM wasmudf_functions")
            .is_err()
    );
    Ok(())
}
