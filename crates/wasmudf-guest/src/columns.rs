//! Batches of typed columns (`wasmudf:udf@0.2.0`'s `column`), read row by
//! row and built from row results, so that `call-columns` and
//! `step-columns` run each row exactly as the row-at-a-time entry points
//! would.

use crate::Value;
use crate::bindings::exports::wasmudf::udf::guest::{
    BlobColumn, Column, IntegerColumn, RealColumn, TextColumn,
};

/// A column checked against its row count, ready to be read row by row.
pub(crate) struct Reader<'c> {
    column: &'c Column,
}

impl<'c> Reader<'c> {
    /// Checks `column` (1-based `position`, for the message) against `rows`:
    /// lengths, offsets within the data and on character boundaries, and a
    /// validity bitmap long enough.
    pub(crate) fn new(column: &'c Column, rows: usize, position: usize) -> Result<Self, String> {
        let fail = |what: String| format!("column {position}: {what}");
        let (len, valid) = match column {
            Column::Integers(c) => (c.data.len(), &c.valid),
            Column::Reals(c) => (c.data.len(), &c.valid),
            Column::Texts(c) => {
                check_offsets(&c.offsets, c.data.len(), Some(&c.data)).map_err(fail)?;
                (c.offsets.len() - 1, &c.valid)
            }
            Column::Blobs(c) => {
                check_offsets(&c.offsets, c.data.len(), None).map_err(fail)?;
                (c.offsets.len() - 1, &c.valid)
            }
            Column::Values(v) => (v.len(), &None),
        };
        if len != rows {
            return Err(fail(format!("{len} values for {rows} rows")));
        }
        if let Some(bits) = valid
            && bits.len() < rows.div_ceil(8)
        {
            return Err(fail(format!(
                "a validity bitmap of {} bytes for {rows} rows",
                bits.len()
            )));
        }
        Ok(Reader { column })
    }

    /// Row `row`'s value; `row` is below the checked row count.
    pub(crate) fn get(&self, row: usize) -> Value {
        let null = |valid: &Option<Vec<u8>>| {
            valid
                .as_ref()
                .is_some_and(|bits| bits[row / 8] & (1 << (row % 8)) == 0)
        };
        match self.column {
            Column::Values(v) => v[row].clone(),
            Column::Integers(c) if !null(&c.valid) => Value::Integer(c.data[row]),
            Column::Reals(c) if !null(&c.valid) => Value::Real(c.data[row]),
            Column::Texts(c) if !null(&c.valid) => {
                let (start, end) = span(&c.offsets, row);
                Value::Text(c.data[start..end].to_owned())
            }
            Column::Blobs(c) if !null(&c.valid) => {
                let (start, end) = span(&c.offsets, row);
                Value::Blob(c.data[start..end].to_vec())
            }
            _ => Value::Null,
        }
    }
}

fn span(offsets: &[u32], row: usize) -> (usize, usize) {
    (offsets[row] as usize, offsets[row + 1] as usize)
}

/// Offsets are `rows + 1`, non-decreasing, end at the data's end, and (for
/// TEXT) fall on character boundaries.
fn check_offsets(offsets: &[u32], len: usize, text: Option<&str>) -> Result<(), String> {
    let Some(&last) = offsets.last() else {
        return Err("no offsets (a column of n rows has n + 1)".to_owned());
    };
    if last as usize != len {
        return Err(format!(
            "the last offset is {last} but the data has {len} bytes"
        ));
    }
    for (i, pair) in offsets.windows(2).enumerate() {
        if pair[0] > pair[1] {
            return Err(format!("offsets decrease at row {}", i + 1));
        }
    }
    if let Some(s) = text
        && let Some(bad) = offsets.iter().find(|&&o| !s.is_char_boundary(o as usize))
    {
        return Err(format!("offset {bad} is inside a character"));
    }
    Ok(())
}

/// Reads `columns` as `rows` rows and hands each row to `f`, in order,
/// stopping at the first error.
pub(crate) fn for_each_row(
    columns: &[Column],
    rows: u32,
    mut f: impl FnMut(&[Value]) -> Result<(), String>,
) -> Result<(), String> {
    let rows = rows as usize;
    let readers = columns
        .iter()
        .enumerate()
        .map(|(i, c)| Reader::new(c, rows, i + 1))
        .collect::<Result<Vec<_>, _>>()?;
    let mut row: Vec<Value> = Vec::with_capacity(readers.len());
    for r in 0..rows {
        row.clear();
        row.extend(readers.iter().map(|reader| reader.get(r)));
        f(&row)?;
    }
    Ok(())
}

/// The column of `results`: typed when every non-NULL result has one
/// storage class, `values` when the classes are mixed, every row is NULL or
/// there are no rows.
pub(crate) fn build(results: Vec<Value>) -> Column {
    let mut class = None;
    for v in &results {
        let this = std::mem::discriminant(v);
        match (v, class) {
            (Value::Null, _) => {}
            (_, None) => class = Some(this),
            (_, Some(c)) if c == this => {}
            _ => return Column::Values(results),
        }
    }
    let Some(first) = results.iter().find(|v| !v.is_null()) else {
        return Column::Values(results);
    };
    let valid = validity(&results);
    match first {
        Value::Integer(_) => Column::Integers(IntegerColumn {
            data: results
                .iter()
                .map(|v| if let Value::Integer(i) = v { *i } else { 0 })
                .collect(),
            valid,
        }),
        Value::Real(_) => Column::Reals(RealColumn {
            data: results
                .iter()
                .map(|v| if let Value::Real(r) = v { *r } else { 0.0 })
                .collect(),
            valid,
        }),
        Value::Text(_) => Column::Texts(TextColumn {
            offsets: offsets(&results),
            data: results
                .iter()
                .filter_map(|v| match v {
                    Value::Text(s) => Some(s.as_str()),
                    _ => None,
                })
                .collect(),
            valid,
        }),
        Value::Blob(_) => Column::Blobs(BlobColumn {
            offsets: offsets(&results),
            data: results
                .iter()
                .filter_map(|v| match v {
                    Value::Blob(b) => Some(b.as_slice()),
                    _ => None,
                })
                .flatten()
                .copied()
                .collect(),
            valid,
        }),
        Value::Null => Column::Values(results),
    }
}

/// The validity bitmap of `results`, or `None` when no row is NULL.
fn validity(results: &[Value]) -> Option<Vec<u8>> {
    if !results.iter().any(Value::is_null) {
        return None;
    }
    let mut bits = vec![0u8; results.len().div_ceil(8)];
    for (i, v) in results.iter().enumerate() {
        if !v.is_null() {
            bits[i / 8] |= 1 << (i % 8);
        }
    }
    Some(bits)
}

/// The `rows + 1` byte offsets of the TEXT or BLOB `results` laid end to
/// end (a NULL row is empty).
fn offsets(results: &[Value]) -> Vec<u32> {
    let mut at = 0u32;
    let mut offsets = Vec::with_capacity(results.len() + 1);
    offsets.push(0);
    for v in results {
        let len = match v {
            Value::Text(s) => s.len(),
            Value::Blob(b) => b.len(),
            _ => 0,
        };
        // A batch past 4 GiB could not have crossed the boundary anyway:
        // saturating keeps the offsets non-decreasing for the host to refuse.
        at = at.saturating_add(u32::try_from(len).unwrap_or(u32::MAX));
        offsets.push(at);
    }
    offsets
}
