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
fn levenshtein_counts_unicode_scalar_values() -> Result<()> {
    check(&[
        ("SELECT levenshtein('kitten', 'sitting')", int(3)),
        ("SELECT levenshtein('', 'abc')", int(3)),
        ("SELECT levenshtein('abc', 'abc')", int(0)),
        ("SELECT levenshtein('flaw', 'lawn')", int(2)),
        // One scalar value each, though several bytes in UTF-8.
        ("SELECT levenshtein('日本', '日木')", int(1)),
        ("SELECT levenshtein('🦀', '')", int(1)),
        ("SELECT levenshtein(NULL, 'a')", Value::Null),
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
            "SELECT hex(sha256('abc'))",
            text("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"),
        ),
        (
            "SELECT hex(sha256(''))",
            text("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"),
        ),
        ("SELECT sha256(x'616263') = sha256('abc')", int(1)),
        ("SELECT length(sha256('x'))", int(32)),
        ("SELECT typeof(sha256('x'))", text("blob")),
    ])
}

#[test]
fn greatest_is_variadic_and_skips_nulls() -> Result<()> {
    check(&[
        ("SELECT greatest(1, 5, 3)", int(5)),
        ("SELECT greatest(1, 2.5, 2)", Value::Real(2.5)),
        ("SELECT greatest(NULL, 7, NULL)", int(7)),
        ("SELECT greatest(NULL, NULL)", Value::Null),
        ("SELECT greatest()", Value::Null),
        ("SELECT greatest(-3)", int(-3)),
        ("SELECT greatest(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)", int(10)),
        ("SELECT typeof(greatest(1, 2.0))", text("real")),
    ])
}
