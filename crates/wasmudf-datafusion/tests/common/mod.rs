//! What the DataFusion and the Ballista tests share: the rows both engines
//! are given, and the comparison of their answers with SQLite's. The
//! Ballista workspace includes this file by path.

#![allow(dead_code)]

use std::sync::Arc;

use anyhow::{Result, bail};
use datafusion::arrow::array::{
    Array, ArrayRef, BinaryArray, BinaryViewArray, BooleanArray, Float64Array, Int64Array,
    RecordBatch, StringArray, StringViewArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use wasmudf::Value;

/// One row of `t(id, i, r, s, b, g)`: integers, reals, texts, blobs, each
/// NULL now and then, and a group key.
pub type Row = (
    i64,
    Option<i64>,
    Option<f64>,
    Option<String>,
    Option<Vec<u8>>,
    i64,
);

/// `n` rows of `t`.
pub fn rows(n: i64) -> Vec<Row> {
    let words = [
        "straße",
        "kitten",
        "sitting",
        "",
        "Ünïcödé",
        "abc",
        "a1b22c333",
    ];
    (0..n)
        .map(|k| {
            (
                k,
                (k % 11 != 3).then_some((k * 7919) % 97 - 40),
                (k % 13 != 5).then_some((k % 17) as f64 / 4.0 - 1.5),
                (k % 9 != 2).then(|| format!("{}{}", words[(k % 7) as usize], k % 5)),
                (k % 8 != 1).then(|| vec![(k % 256) as u8, 7, (k * 3 % 256) as u8]),
                k % 6,
            )
        })
        .collect()
}

/// `rows` as one record batch of `t`'s schema.
pub fn batch(rows: &[Row]) -> Result<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("i", DataType::Int64, true),
        Field::new("r", DataType::Float64, true),
        Field::new("s", DataType::Utf8, true),
        Field::new("b", DataType::Binary, true),
        Field::new("g", DataType::Int64, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
        Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.1))),
        Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.2))),
        Arc::new(StringArray::from_iter(rows.iter().map(|r| r.3.clone()))),
        Arc::new(BinaryArray::from_iter(rows.iter().map(|r| r.4.clone()))),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.5))),
    ];
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// One DataFusion cell as SQLite's classes.
pub fn cell(a: &ArrayRef, row: usize) -> Result<Value> {
    if a.is_null(row) {
        return Ok(Value::Null);
    }
    let any = a.as_any();
    Ok(if let Some(x) = any.downcast_ref::<Int64Array>() {
        Value::Integer(x.value(row))
    } else if let Some(x) = any.downcast_ref::<Float64Array>() {
        Value::Real(x.value(row))
    } else if let Some(x) = any.downcast_ref::<StringArray>() {
        Value::Text(x.value(row).to_owned())
    } else if let Some(x) = any.downcast_ref::<StringViewArray>() {
        Value::Text(x.value(row).to_owned())
    } else if let Some(x) = any.downcast_ref::<BinaryArray>() {
        Value::Blob(x.value(row).to_vec())
    } else if let Some(x) = any.downcast_ref::<BinaryViewArray>() {
        Value::Blob(x.value(row).to_vec())
    } else if let Some(x) = any.downcast_ref::<BooleanArray>() {
        Value::Integer(x.value(row).into())
    } else {
        bail!("unexpected result type {}", a.data_type())
    })
}

/// Every row of `sql` on `conn`.
pub fn sqlite_rows(conn: &rusqlite::Connection, sql: &str) -> Result<Vec<Vec<Value>>> {
    let mut stmt = conn.prepare(sql)?;
    let n = stmt.column_count();
    let rows = stmt.query_map([], |row| {
        (0..n)
            .map(|i| row.get::<_, rusqlite::types::Value>(i).map(Value::from))
            .collect::<rusqlite::Result<Vec<_>>>()
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Equal, with REALs equal to 1e-9 relative (the two engines may add a
/// group's partial sums in another order) and an INTEGER equal to the same
/// REAL (SQLite's dynamic typing).
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Real(x), Value::Real(y)) => {
            x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs()) || (x.is_nan() && y.is_nan())
        }
        (Value::Integer(i), Value::Real(r)) | (Value::Real(r), Value::Integer(i)) => {
            *i as f64 == *r
        }
        _ => a == b,
    }
}

/// `got` (from `engine`) is SQLite's answer to `sql`, and that answer has
/// rows.
pub fn assert_same_rows(
    conn: &rusqlite::Connection,
    sql: &str,
    engine: &str,
    got: &[Vec<Value>],
) -> Result<()> {
    let expected = sqlite_rows(conn, sql)?;
    assert!(!expected.is_empty(), "{sql}: no rows to compare");
    assert_eq!(got.len(), expected.len(), "{sql}: row counts differ");
    for (k, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert!(
            g.len() == e.len() && g.iter().zip(e).all(|(x, y)| same(x, y)),
            "{sql}: row {k}: {engine} {g:?}, SQLite {e:?}"
        );
    }
    Ok(())
}
