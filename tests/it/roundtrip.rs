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
    for s in [
        "",
        "a",
        "straße",
        "日本語テキスト",
        "emoji 🦀 and \u{10FFFF}",
        "nul\0inside",
    ] {
        check(Value::Text(s.to_string()))?;
    }
    Ok(())
}

#[test]
fn blobs_including_empty_and_one_mebibyte() -> Result<()> {
    check(Value::Blob(Vec::new()))?;
    check(Value::Blob(vec![0, 255, 1, 254]))?;
    let big: Vec<u8> = (0..1 << 20)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
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

mod fuzz {
    use proptest::prelude::*;
    use rusqlite::types::Value;

    fn arb_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<i64>().prop_map(Value::Integer),
            // Every bit pattern but NaN, which SQLite itself stores as NULL.
            any::<f64>()
                .prop_filter("NaN", |r| !r.is_nan())
                .prop_map(Value::Real),
            ".*".prop_map(Value::Text),
            proptest::collection::vec(any::<u8>(), 0..4096).prop_map(Value::Blob),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// Value conversion through the canonical ABI, both ways, on a
        /// real component: anything SQLite can hold comes back identical.
        #[test]
        fn identity_returns_any_value_unchanged(values in proptest::collection::vec(arb_value(), 1..6)) {
            let conn = wasmudf_tests::conn_with(&["identity", "greatest"]).expect("connection");
            for value in &values {
                let back: Value = conn.query_row("SELECT identity(?1)", [value], |r| r.get(0)).expect("identity");
                match (value, &back) {
                    (Value::Real(a), Value::Real(b)) => prop_assert_eq!(a.to_bits(), b.to_bits()),
                    _ => prop_assert_eq!(value, &back),
                }
            }
            // Variadic calls lower a list<value>: the other conversion path.
            let placeholders = vec!["identity(?)"; values.len()].join(", ");
            let sql = format!("SELECT greatest_of({placeholders})");
            let result = conn.query_row(&sql, rusqlite::params_from_iter(values.iter()), |r| r.get::<_, Value>(0));
            let numeric_only = values.iter().all(|v| matches!(v, Value::Null | Value::Integer(_) | Value::Real(_)));
            prop_assert_eq!(result.is_ok(), numeric_only);
        }
    }
}
