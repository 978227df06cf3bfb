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
                t("edit_distance"),
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
                ("edit_distance".into(), 0),
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
