//! Every example function against known answers.

use anyhow::Result;
use rusqlite::types::Value;
use wasmudf_tests::{conn_with, scalar};

/// Runs each `(sql, expected)` pair on one connection with all examples.
fn check(cases: &[(&str, Value)]) -> Result<()> {
    let conn = conn_with(&["sleep", "identity", "text", "sha256", "greatest", "stats"])?;
    for (sql, expected) in cases {
        let got = scalar(&conn, sql).map_err(|e| anyhow::anyhow!("{sql}: {e}"))?;
        assert_eq!(&got, expected, "{sql}");
    }
    Ok(())
}

fn int(i: i64) -> Value {
    Value::Integer(i)
}
fn text(s: &str) -> Value {
    Value::Text(s.into())
}

#[test]
fn sleep_returns_its_argument() -> Result<()> {
    check(&[("SELECT sleep(20)", int(20)), ("SELECT sleep(0)", int(0))])
}

#[test]
fn unicode_upper() -> Result<()> {
    check(&[
        ("SELECT unicode_upper('straße')", text("STRASSE")),
        ("SELECT unicode_upper('ǆemal')", text("ǄEMAL")),
        ("SELECT unicode_upper('déjà vu')", text("DÉJÀ VU")),
        ("SELECT unicode_upper('')", text("")),
        ("SELECT unicode_upper(NULL)", Value::Null),
        // SQLite's own upper() is ASCII-only: the reason this UDF exists.
        ("SELECT upper('straße') = unicode_upper('straße')", int(0)),
    ])
}

#[test]
fn edit_distance_counts_unicode_scalar_values() -> Result<()> {
    check(&[
        ("SELECT edit_distance('kitten', 'sitting')", int(3)),
        ("SELECT edit_distance('', 'abc')", int(3)),
        ("SELECT edit_distance('abc', 'abc')", int(0)),
        ("SELECT edit_distance('flaw', 'lawn')", int(2)),
        // One scalar value each, though several bytes in UTF-8.
        ("SELECT edit_distance('日本', '日木')", int(1)),
        ("SELECT edit_distance('🦀', '')", int(1)),
        ("SELECT edit_distance(NULL, 'a')", Value::Null),
    ])
}

#[test]
fn regexp_backs_the_regexp_operator() -> Result<()> {
    check(&[
        ("SELECT regexp('^a.c$', 'abc')", int(1)),
        ("SELECT regexp('^a.c$', 'abd')", int(0)),
        ("SELECT 'hello world' REGEXP 'wor'", int(1)),
        ("SELECT 'hello' REGEXP '^\\d+$'", int(0)),
        ("SELECT '12345' REGEXP '^\\d+$'", int(1)),
        (
            "SELECT count(*) FROM (SELECT 'a1' AS s UNION ALL SELECT 'b2' UNION ALL SELECT 'a3') \
             WHERE s REGEXP '^a'",
            int(2),
        ),
    ])
}

#[test]
fn sha256_of_text_and_blob() -> Result<()> {
    check(&[
        (
            "SELECT hex(sha256_of('abc'))",
            text("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"),
        ),
        (
            "SELECT hex(sha256_of(''))",
            text("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"),
        ),
        ("SELECT sha256_of(x'616263') = sha256_of('abc')", int(1)),
        ("SELECT length(sha256_of('x'))", int(32)),
        ("SELECT typeof(sha256_of('x'))", text("blob")),
    ])
}

#[test]
fn greatest_is_variadic_and_skips_nulls() -> Result<()> {
    check(&[
        ("SELECT greatest_of(1, 5, 3)", int(5)),
        ("SELECT greatest_of(1, 2.5, 2)", Value::Real(2.5)),
        ("SELECT greatest_of(NULL, 7, NULL)", int(7)),
        ("SELECT greatest_of(NULL, NULL)", Value::Null),
        ("SELECT greatest_of()", Value::Null),
        ("SELECT greatest_of(-3)", int(-3)),
        ("SELECT greatest_of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)", int(10)),
        ("SELECT typeof(greatest_of(1, 2.0))", text("real")),
    ])
}
