//! Batches of typed columns (`wasmudf:udf@0.2.0`'s `column`), read and
//! built a row at a time, so that `call-columns` and `step-columns` run
//! each row exactly as the row-at-a-time entry points would.
//!
//! The conversions read a typed column in place ([`FromValue::from_column`],
//! [`IntoValue::push_into`]): an `i64` parameter takes the integer straight
//! from the column, a `&str` borrows the column's text, and an `i64` result
//! goes straight into the result column. No [`Value`] is made for such a
//! row, which is most of a batch's cost otherwise. Anything else goes
//! through [`ColumnRef::value`], which makes the column's `Value`s once, so
//! every other conversion is the row-at-a-time one by construction.
//!
//! [`FromValue::from_column`]: crate::FromValue::from_column
//! [`IntoValue::push_into`]: crate::IntoValue::push_into

use std::cell::OnceCell;

use crate::Value;
use crate::bindings::exports::wasmudf::udf::guest::{
    BlobColumn, Column, IntegerColumn, RealColumn, TextColumn,
};

/// One row of a checked column, borrowed from it.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'c> {
    /// SQL NULL.
    Null,
    /// A row of an integer column.
    Integer(i64),
    /// A row of a real column.
    Real(f64),
    /// A row of a text column.
    Text(&'c str),
    /// A row of a blob column.
    Blob(&'c [u8]),
    /// A row of a column of mixed classes.
    Value(&'c Value),
}

/// An argument column of a batch, checked against its row count, with its
/// parts taken out once so that reading a row is a bounds check and a load.
/// Not a stable API: the SDK's conversions use it.
#[doc(hidden)]
#[derive(Debug)]
pub struct ColumnRef<'c> {
    data: Data<'c>,
    /// The validity bitmap of a typed column with NULLs.
    valid: Option<&'c [u8]>,
    rows: usize,
    /// The column as `Value`s, made the first time a conversion needs one.
    values: OnceCell<Vec<Value>>,
}

/// A column's rows, borrowed.
#[derive(Debug, Clone, Copy)]
enum Data<'c> {
    Integers(&'c [i64]),
    Reals(&'c [f64]),
    Texts(&'c [u32], &'c str),
    Blobs(&'c [u32], &'c [u8]),
    Values(&'c [Value]),
}

impl<'c> ColumnRef<'c> {
    /// Checks `column` (1-based `position`, for the message) against `rows`:
    /// lengths, offsets within the data and on character boundaries, and a
    /// validity bitmap long enough.
    pub(crate) fn new(column: &'c Column, rows: usize, position: usize) -> Result<Self, String> {
        let fail = |what: String| format!("column {position}: {what}");
        let (data, len, valid) = match column {
            Column::Integers(c) => (Data::Integers(&c.data), c.data.len(), &c.valid),
            Column::Reals(c) => (Data::Reals(&c.data), c.data.len(), &c.valid),
            Column::Texts(c) => {
                check_offsets(&c.offsets, c.data.len(), Some(&c.data)).map_err(fail)?;
                let data = Data::Texts(&c.offsets, &c.data);
                (data, c.offsets.len() - 1, &c.valid)
            }
            Column::Blobs(c) => {
                check_offsets(&c.offsets, c.data.len(), None).map_err(fail)?;
                (
                    Data::Blobs(&c.offsets, &c.data),
                    c.offsets.len() - 1,
                    &c.valid,
                )
            }
            Column::Values(v) => (Data::Values(v), v.len(), &None),
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
        Ok(ColumnRef {
            data,
            valid: valid.as_deref(),
            rows,
            values: OnceCell::new(),
        })
    }

    /// Checks every column of a batch.
    pub(crate) fn all(columns: &'c [Column], rows: usize) -> Result<Vec<Self>, String> {
        columns
            .iter()
            .enumerate()
            .map(|(i, c)| ColumnRef::new(c, rows, i + 1))
            .collect()
    }

    /// Whether row `row` is NULL.
    #[inline(always)]
    pub fn is_null(&self, row: usize) -> bool {
        match (self.valid, self.data) {
            (Some(bits), _) => bits[row / 8] & (1 << (row % 8)) == 0,
            (None, Data::Values(v)) => v[row].is_null(),
            (None, _) => false,
        }
    }

    /// Row `row` as the column stores it, without looking at the validity
    /// bitmap: for a NULL row of a typed column, an unspecified value of
    /// the column's class. The conversions read a row this way once they
    /// know it is not NULL.
    #[inline(always)]
    pub fn raw(&self, row: usize) -> Cell<'c> {
        match self.data {
            Data::Values(v) => Cell::Value(&v[row]),
            Data::Integers(d) => Cell::Integer(d[row]),
            Data::Reals(d) => Cell::Real(d[row]),
            Data::Texts(offsets, data) => {
                let (start, end) = span(offsets, row);
                Cell::Text(&data[start..end])
            }
            Data::Blobs(offsets, data) => {
                let (start, end) = span(offsets, row);
                Cell::Blob(&data[start..end])
            }
        }
    }

    /// Row `row`, borrowed; `row` is below the checked row count.
    #[inline]
    pub fn cell(&self, row: usize) -> Cell<'c> {
        if self.is_null(row) {
            Cell::Null
        } else {
            self.raw(row)
        }
    }

    /// Row `row` as an owned value.
    pub fn get(&self, row: usize) -> Value {
        match self.cell(row) {
            Cell::Null => Value::Null,
            Cell::Integer(i) => Value::Integer(i),
            Cell::Real(r) => Value::Real(r),
            Cell::Text(s) => Value::Text(s.to_owned()),
            Cell::Blob(b) => Value::Blob(b.to_vec()),
            Cell::Value(v) => v.clone(),
        }
    }

    /// Row `row` as a borrowed value: for a typed column, the first call
    /// makes the whole column's values, which later rows reuse.
    pub fn value(&self, row: usize) -> &Value {
        if let Data::Values(v) = self.data {
            return &v[row];
        }
        &self
            .values
            .get_or_init(|| (0..self.rows).map(|r| self.get(r)).collect())[row]
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

/// Hands each of `rows` rows of the checked `columns` to `f` as values,
/// in order, stopping at the first error: for functions whose parameters
/// are a `&[Value]` row.
pub(crate) fn for_each_row<E>(
    columns: &[ColumnRef<'_>],
    rows: usize,
    mut f: impl FnMut(&[Value]) -> Result<(), E>,
) -> Result<(), E> {
    let mut row: Vec<Value> = Vec::with_capacity(columns.len());
    for r in 0..rows {
        row.clear();
        row.extend(columns.iter().map(|c| c.get(r)));
        f(&row)?;
    }
    Ok(())
}

/// The result column of a batch, built a row at a time. It stays typed
/// while every non-NULL row has one storage class and becomes `values`
/// when the classes mix; a batch of no rows or only NULLs is `values` too.
/// Not a stable API: the SDK's conversions use it.
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct ColumnBuilder {
    data: Built,
    /// Rows so far.
    len: usize,
    /// Rows expected, reserved when the column's class is known.
    capacity: usize,
    /// One bit per row, set when it is not NULL; made at the first NULL,
    /// as most result columns have none.
    valid: Option<Vec<u8>>,
}

#[derive(Debug, Default)]
enum Built {
    /// No non-NULL row yet.
    #[default]
    Empty,
    Integers(Vec<i64>),
    Reals(Vec<f64>),
    /// The text laid end to end, and the `len + 1` offsets.
    Texts(String, Vec<u32>),
    Blobs(Vec<u8>, Vec<u32>),
    Values(Vec<Value>),
}

impl ColumnBuilder {
    /// A builder for about `rows` rows.
    pub(crate) fn with_capacity(rows: usize) -> Self {
        ColumnBuilder {
            capacity: rows,
            ..ColumnBuilder::default()
        }
    }

    /// Counts a non-NULL row.
    #[inline(always)]
    fn valid_row(&mut self) {
        if let Some(bits) = &mut self.valid {
            if self.len % 8 == 0 {
                bits.push(0);
            }
            bits[self.len / 8] |= 1 << (self.len % 8);
        }
        self.len += 1;
    }

    /// Adds a NULL row.
    #[inline]
    pub fn push_null(&mut self) {
        match &mut self.data {
            Built::Empty => {}
            Built::Integers(v) => v.push(0),
            Built::Reals(v) => v.push(0.0),
            Built::Texts(_, offsets) | Built::Blobs(_, offsets) => {
                let last = offsets.last().copied().unwrap_or(0);
                offsets.push(last);
            }
            Built::Values(v) => v.push(Value::Null),
        }
        let len = self.len;
        let bits = self.valid.get_or_insert_with(|| {
            // Every row so far was valid.
            let mut bits = vec![0xff; len.div_ceil(8)];
            if len % 8 != 0
                && let Some(last) = bits.last_mut()
            {
                *last = (1 << (len % 8)) - 1;
            }
            bits
        });
        if len % 8 == 0 {
            bits.push(0);
        }
        self.len += 1;
    }

    /// The first rows of a typed column: the NULL rows so far, then room.
    fn start<T: Clone>(&self, zero: T) -> Vec<T> {
        let mut v = Vec::with_capacity(self.capacity.max(self.len + 1));
        v.resize(self.len, zero);
        v
    }

    /// The offsets of a TEXT or BLOB column whose first non-NULL row, of
    /// `len` bytes, comes after the NULL rows so far.
    fn first_offsets(&self, len: usize) -> Vec<u32> {
        let mut offsets = self.start(0);
        offsets.push(0);
        offsets.push(offset(len));
        offsets
    }

    /// Adds an INTEGER row.
    #[inline(always)]
    pub fn push_integer(&mut self, i: i64) {
        match &mut self.data {
            Built::Integers(v) => v.push(i),
            Built::Empty => {
                let mut data = self.start(0);
                data.push(i);
                self.data = Built::Integers(data);
            }
            _ => return self.push_mixed(Value::Integer(i)),
        }
        self.valid_row();
    }

    /// Adds a REAL row.
    #[inline(always)]
    pub fn push_real(&mut self, r: f64) {
        match &mut self.data {
            Built::Reals(v) => v.push(r),
            Built::Empty => {
                let mut data = self.start(0.0);
                data.push(r);
                self.data = Built::Reals(data);
            }
            _ => return self.push_mixed(Value::Real(r)),
        }
        self.valid_row();
    }

    /// Adds a TEXT row.
    #[inline]
    pub fn push_text(&mut self, s: &str) {
        match &mut self.data {
            Built::Texts(data, offsets) => {
                data.push_str(s);
                offsets.push(offset(data.len()));
            }
            Built::Empty => self.data = Built::Texts(s.to_owned(), self.first_offsets(s.len())),
            _ => return self.push_mixed(Value::Text(s.to_owned())),
        }
        self.valid_row();
    }

    /// Adds a BLOB row.
    #[inline]
    pub fn push_blob(&mut self, b: &[u8]) {
        match &mut self.data {
            Built::Blobs(data, offsets) => {
                data.extend_from_slice(b);
                offsets.push(offset(data.len()));
            }
            Built::Empty => self.data = Built::Blobs(b.to_vec(), self.first_offsets(b.len())),
            _ => return self.push_mixed(Value::Blob(b.to_vec())),
        }
        self.valid_row();
    }

    /// Adds a row of any class.
    pub fn push_value(&mut self, v: Value) {
        match v {
            Value::Null => self.push_null(),
            Value::Integer(i) => self.push_integer(i),
            Value::Real(r) => self.push_real(r),
            Value::Text(s) => self.push_text(&s),
            Value::Blob(b) => self.push_blob(&b),
        }
    }

    /// Adds a row whose class differs from the column's: the column
    /// becomes `values` from here on.
    #[cold]
    fn push_mixed(&mut self, v: Value) {
        if !matches!(self.data, Built::Values(_)) {
            let len = self.len;
            let typed = std::mem::take(self).finish();
            // What the builder made is well formed, so it reads back.
            let values = match ColumnRef::new(&typed, len, 0) {
                Ok(typed) => (0..len).map(|r| typed.get(r)).collect(),
                Err(_) => vec![Value::Null; len],
            };
            *self = ColumnBuilder {
                data: Built::Values(values),
                len,
                ..ColumnBuilder::default()
            };
        }
        if let Built::Values(values) = &mut self.data {
            values.push(v);
        }
        self.len += 1;
    }

    /// The column.
    pub(crate) fn finish(self) -> Column {
        let valid = self.valid;
        match self.data {
            Built::Empty => Column::Values(vec![Value::Null; self.len]),
            Built::Values(values) => Column::Values(values),
            Built::Integers(data) => Column::Integers(IntegerColumn { data, valid }),
            Built::Reals(data) => Column::Reals(RealColumn { data, valid }),
            Built::Texts(data, offsets) => Column::Texts(TextColumn {
                data,
                offsets,
                valid,
            }),
            Built::Blobs(data, offsets) => Column::Blobs(BlobColumn {
                data,
                offsets,
                valid,
            }),
        }
    }
}

/// A byte offset as the WIT carries it. A batch past 4 GiB could not have
/// crossed the boundary anyway: saturating keeps the offsets
/// non-decreasing for the host to refuse.
fn offset(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// The column of `results`, as [`ColumnBuilder`] makes it.
pub(crate) fn build(results: Vec<Value>) -> Column {
    let mut out = ColumnBuilder::with_capacity(results.len());
    for v in results {
        out.push_value(v);
    }
    out.finish()
}
