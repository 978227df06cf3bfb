//! Wrong arity, wrong types, guest errors and traps: each is a SQL error
//! naming the function and the cause, and the connection carries on.

use anyhow::Result;
use rusqlite::types::Value;
use wasmudf_tests::{conn_with, scalar};

/// Runs `sql`, expects an error containing every one of `needles`.
fn check_err(conn: &rusqlite::Connection, sql: &str, needles: &[&str]) {
    let err = scalar(conn, sql).expect_err(sql).to_string();
    for needle in needles {
        assert!(err.contains(needle), "{sql}: {err:?} lacks {needle:?}");
    }
}

#[test]
fn wrong_arity_is_sqlites_own_error() -> Result<()> {
    let conn = conn_with(&["text"])?;
    check_err(&conn, "SELECT edit_distance('a')", &["edit_distance"]);
    check_err(&conn, "SELECT unicode_upper('a', 'b')", &["unicode_upper"]);
    Ok(())
}

#[test]
fn wrong_argument_type_names_function_and_argument() -> Result<()> {
    let conn = conn_with(&["text", "greatest", "stats"])?;
    check_err(
        &conn,
        "SELECT edit_distance(1, 'a')",
        &["edit_distance", "argument 1", "TEXT", "INTEGER"],
    );
    check_err(
        &conn,
        "SELECT edit_distance('a', x'00')",
        &["edit_distance", "argument 2", "BLOB"],
    );
    check_err(
        &conn,
        "SELECT greatest_of(1, 'two')",
        &["greatest_of", "argument 2"],
    );
    check_err(
        &conn,
        "SELECT median_of(x) FROM (SELECT 'a' AS x)",
        &["median_of", "argument 1"],
    );
    // The connection still works.
    assert_eq!(
        scalar(&conn, "SELECT edit_distance('a', 'b')")?,
        Value::Integer(1)
    );
    Ok(())
}

#[test]
fn guest_error_is_reported_with_its_message() -> Result<()> {
    let conn = conn_with(&["faulty"])?;
    check_err(&conn, "SELECT trap_if(2)", &["trap_if", "asked to fail"]);
    assert_eq!(scalar(&conn, "SELECT trap_if(5)")?, Value::Integer(5));
    Ok(())
}

#[test]
fn trap_is_a_sql_error_and_the_next_call_gets_a_fresh_instance() -> Result<()> {
    let conn = conn_with(&["faulty"])?;
    check_err(&conn, "SELECT trap_if(1)", &["trap_if", "trapped"]);
    // wasmtime will not re-enter a trapped instance; this must be a new one.
    assert_eq!(scalar(&conn, "SELECT trap_if(7)")?, Value::Integer(7));
    assert_eq!(scalar(&conn, "SELECT add1(41)")?, Value::Integer(42));
    // And again, several times over.
    for _ in 0..3 {
        check_err(&conn, "SELECT trap_if(1)", &["trapped"]);
        assert_eq!(scalar(&conn, "SELECT trap_if(3)")?, Value::Integer(3));
    }
    Ok(())
}

#[test]
fn trap_message_carries_the_guest_panic_text() -> Result<()> {
    let conn = conn_with(&["faulty"])?;
    let err = scalar(&conn, "SELECT trap_if(1)")
        .expect_err("traps")
        .to_string();
    assert!(err.contains("panicked"), "{err}");
    Ok(())
}

#[test]
fn trap_mid_query_fails_the_statement_not_the_connection() -> Result<()> {
    let conn = conn_with(&["faulty"])?;
    conn.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (3), (1), (4);")?;
    let mut stmt = conn.prepare("SELECT trap_if(x) FROM t")?;
    let collected: rusqlite::Result<Vec<i64>> = stmt.query_map([], |r| r.get(0))?.collect();
    assert!(collected.is_err());
    drop(stmt);
    assert_eq!(
        scalar(&conn, "SELECT sum(trap_if(x)) FROM t WHERE x <> 1")?,
        Value::Integer(7)
    );
    Ok(())
}

#[test]
fn error_is_typed_for_embedders() -> Result<()> {
    let conn = conn_with(&["faulty"])?;
    let err = scalar(&conn, "SELECT trap_if(2)").expect_err("fails");
    // rusqlite hands SQLite's message back; the typed cause is in the text.
    assert!(matches!(err, rusqlite::Error::SqliteFailure(..)), "{err:?}");
    Ok(())
}

#[test]
fn numeric_arguments_with_a_text_result_take_the_deferred_path() -> Result<()> {
    let conn = conn_with(&["faulty"])?;
    assert_eq!(
        scalar(&conn, "SELECT spell(-42)")?,
        Value::Text("-42".into())
    );
    assert_eq!(scalar(&conn, "SELECT spell(NULL)")?, Value::Null);
    // Interleaved with plain fast calls, a deferred result never leaks
    // into the next call.
    let rows: Vec<(String, i64)> = conn
        .prepare("SELECT spell(value), add1(value) FROM json_each('[1,2,3]')")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    assert_eq!(rows, [("1".into(), 2), ("2".into(), 3), ("3".into(), 4)]);
    Ok(())
}
