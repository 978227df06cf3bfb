//! Every SQLite storage class through `identity(x)`, unchanged.

use anyhow::Result;
use rusqlite::types::Value;
use wasmudf_tests::conn_with;

fn roundtrip(value: Value) -> Result<Value> {
    let conn = conn_with(&["identity"])?;
    Ok(conn.query_row("SELECT identity(?1)", [&value], |row| row.get(0))?)
}

fn check(value: Value) -> Result<()> {
    let back = roundtrip(value.clone())?;
    assert_eq!(back, value);
    Ok(())
}

#[test]
fn null() -> Result<()> {
    check(Value::Null)
}

#[test]
fn integers_at_the_edges() -> Result<()> {
    for i in [i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX] {
        check(Value::Integer(i))?;
    }
    Ok(())
}

#[test]
fn reals_keep_their_bits() -> Result<()> {
    for r in [0.0, 1e308, -1e308, f64::MIN_POSITIVE, 1.5, f64::INFINITY] {
        check(Value::Real(r))?;
    }
    match roundtrip(Value::Real(-0.0))? {
        Value::Real(r) => assert!(r == 0.0 && r.is_sign_negative(), "-0.0 lost its sign: {r}"),
        other => panic!("-0.0 came back as {other:?}"),
    }
    Ok(())
}

#[test]
fn nan_becomes_null_as_sqlite_does() -> Result<()> {
    // SQLite stores NaN as NULL; the guest sees and returns what SQLite gives.
    assert_eq!(roundtrip(Value::Real(f64::NAN))?, Value::Null);
    Ok(())
}

#[test]
fn text() -> Result<()> {
    for s in ["", "a", "straße", "日本語テキスト", "emoji 🦀 and \u{10FFFF}", "nul\0inside"] {
        check(Value::Text(s.to_string()))?;
    }
    Ok(())
}

#[test]
fn blobs_including_empty_and_one_mebibyte() -> Result<()> {
    check(Value::Blob(Vec::new()))?;
    check(Value::Blob(vec![0, 255, 1, 254]))?;
    let big: Vec<u8> = (0..1 << 20).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    check(Value::Blob(big))
}

#[test]
fn storage_class_is_preserved() -> Result<()> {
    let conn = conn_with(&["identity"])?;
    let types: Vec<String> = conn
        .prepare(
            "SELECT typeof(identity(x)) FROM (SELECT NULL AS x UNION ALL SELECT 1 \
             UNION ALL SELECT 1.5 UNION ALL SELECT 'a' UNION ALL SELECT x'00')",
        )?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    assert_eq!(types, ["null", "integer", "real", "text", "blob"]);
    Ok(())
}
