//! Values and columns outside SQLite: what [`Instance`](crate::Instance)
//! calls take and return, in `wasmudf:udf@0.2.0`'s layout (Apache Arrow's),
//! so that a columnar engine hands its buffers over without reshaping them.

use crate::bindings::{
    BlobColumnParam, BlobColumnResult, ColumnParam, ColumnResult, IntegerColumnParam,
    IntegerColumnResult, RealColumnParam, RealColumnResult, TextColumnParam, TextColumnResult,
    ValueParam, ValueResult,
};

/// One value: one of SQLite's five storage classes, owned.
///
/// ```
/// use wasmudf::Value;
/// assert_eq!(Value::from(3i64), Value::Integer(3));
/// assert_eq!(Value::from("é").type_name(), "TEXT");
/// assert!(Value::from(None::<f64>).is_null());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A 64-bit signed integer.
    Integer(i64),
    /// An IEEE-754 double.
    Real(f64),
    /// UTF-8 text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

impl Value {
    /// `"NULL"`, `"INTEGER"`, `"REAL"`, `"TEXT"` or `"BLOB"`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Integer(_) => "INTEGER",
            Value::Real(_) => "REAL",
            Value::Text(_) => "TEXT",
            Value::Blob(_) => "BLOB",
        }
    }

    /// Whether this is SQL NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub(crate) fn to_guest(&self) -> ValueParam<'_> {
        match self {
            Value::Null => ValueParam::Null,
            Value::Integer(i) => ValueParam::Integer(*i),
            Value::Real(r) => ValueParam::Real(*r),
            Value::Text(s) => ValueParam::Text(s),
            Value::Blob(b) => ValueParam::Blob(b),
        }
    }

    pub(crate) fn from_guest(v: ValueResult) -> Value {
        match v {
            ValueResult::Null => Value::Null,
            ValueResult::Integer(i) => Value::Integer(i),
            ValueResult::Real(r) => Value::Real(r),
            ValueResult::Text(s) => Value::Text(s),
            ValueResult::Blob(b) => Value::Blob(b),
        }
    }

    /// The TEXT or BLOB length, for the result size limit.
    pub(crate) fn heap_len(&self) -> usize {
        match self {
            Value::Text(s) => s.len(),
            Value::Blob(b) => b.len(),
            _ => 0,
        }
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Integer(i)
    }
}

impl From<f64> for Value {
    fn from(r: f64) -> Value {
        Value::Real(r)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Text(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Text(s)
    }
}

impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Value {
        Value::Blob(b)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

impl From<rusqlite::types::Value> for Value {
    fn from(v: rusqlite::types::Value) -> Value {
        use rusqlite::types::Value as Sql;
        match v {
            Sql::Null => Value::Null,
            Sql::Integer(i) => Value::Integer(i),
            Sql::Real(r) => Value::Real(r),
            Sql::Text(s) => Value::Text(s),
            Sql::Blob(b) => Value::Blob(b),
        }
    }
}

impl From<Value> for rusqlite::types::Value {
    fn from(v: Value) -> rusqlite::types::Value {
        use rusqlite::types::Value as Sql;
        match v {
            Value::Null => Sql::Null,
            Value::Integer(i) => Sql::Integer(i),
            Value::Real(r) => Sql::Real(r),
            Value::Text(s) => Sql::Text(s),
            Value::Blob(b) => Sql::Blob(b),
        }
    }
}

/// A borrowed column of `rows` values, the argument of a batched call.
///
/// `valid` is a validity bitmap in Apache Arrow's layout: least significant
/// bit first, bit `i` set when row `i` is *not* NULL; `None` when no row is
/// NULL. TEXT and BLOB columns are laid end to end: row `i` is
/// `data[offsets[i]..offsets[i + 1]]`, with `rows + 1` offsets.
///
/// ```
/// use wasmudf::ColumnRef;
/// // 1, NULL, 3
/// let ints = ColumnRef::Integers { data: &[1, 0, 3], valid: Some(&[0b101]) };
/// assert_eq!(ints.len(), 3);
/// let texts = ColumnRef::Texts { offsets: &[0, 2, 2], data: "hi", valid: None };
/// assert_eq!(texts.len(), 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ColumnRef<'a> {
    /// INTEGER values.
    Integers {
        /// One per row.
        data: &'a [i64],
        /// Which rows are not NULL.
        valid: Option<&'a [u8]>,
    },
    /// REAL values.
    Reals {
        /// One per row.
        data: &'a [f64],
        /// Which rows are not NULL.
        valid: Option<&'a [u8]>,
    },
    /// TEXT values.
    Texts {
        /// `rows + 1` byte offsets into `data`.
        offsets: &'a [u32],
        /// The rows' text, end to end.
        data: &'a str,
        /// Which rows are not NULL.
        valid: Option<&'a [u8]>,
    },
    /// BLOB values.
    Blobs {
        /// `rows + 1` byte offsets into `data`.
        offsets: &'a [u32],
        /// The rows' bytes, end to end.
        data: &'a [u8],
        /// Which rows are not NULL.
        valid: Option<&'a [u8]>,
    },
    /// Values of any class, NULL included.
    Values(&'a [Value]),
}

impl ColumnRef<'_> {
    /// The number of rows.
    pub fn len(&self) -> usize {
        match self {
            ColumnRef::Integers { data, .. } => data.len(),
            ColumnRef::Reals { data, .. } => data.len(),
            ColumnRef::Texts { offsets, .. } | ColumnRef::Blobs { offsets, .. } => {
                offsets.len().saturating_sub(1)
            }
            ColumnRef::Values(v) => v.len(),
        }
    }

    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `row`'s value, or `None` past the end or where the offsets or
    /// the validity bitmap do not reach.
    pub fn get(&self, row: usize) -> Option<Value> {
        if row >= self.len() {
            return None;
        }
        let null = |valid: Option<&[u8]>| -> Option<bool> {
            match valid {
                None => Some(false),
                Some(bits) => Some(bits.get(row / 8)? & (1 << (row % 8)) == 0),
            }
        };
        let span = |offsets: &[u32]| (offsets[row] as usize, offsets[row + 1] as usize);
        Some(match *self {
            ColumnRef::Values(v) => v[row].clone(),
            ColumnRef::Integers { data, valid } => match null(valid)? {
                true => Value::Null,
                false => Value::Integer(data[row]),
            },
            ColumnRef::Reals { data, valid } => match null(valid)? {
                true => Value::Null,
                false => Value::Real(data[row]),
            },
            ColumnRef::Texts {
                offsets,
                data,
                valid,
            } => match null(valid)? {
                true => Value::Null,
                false => {
                    let (a, b) = span(offsets);
                    Value::Text(data.get(a..b)?.to_owned())
                }
            },
            ColumnRef::Blobs {
                offsets,
                data,
                valid,
            } => match null(valid)? {
                true => Value::Null,
                false => {
                    let (a, b) = span(offsets);
                    Value::Blob(data.get(a..b)?.to_vec())
                }
            },
        })
    }

    /// Checks that the column holds `rows` rows, that its offsets and
    /// validity bitmap fit, and that no TEXT or BLOB is longer than
    /// `max_bytes`.
    pub(crate) fn check(&self, rows: usize, max_bytes: usize) -> Result<(), ColumnFault> {
        let malformed = |what: String| Err(ColumnFault::Malformed(what));
        let (valid, offsets, text) = match *self {
            ColumnRef::Integers { valid, .. } | ColumnRef::Reals { valid, .. } => {
                (valid, None, None)
            }
            ColumnRef::Texts {
                offsets,
                data,
                valid,
            } => (valid, Some((offsets, data.len())), Some(data)),
            ColumnRef::Blobs {
                offsets,
                data,
                valid,
            } => (valid, Some((offsets, data.len())), None),
            ColumnRef::Values(v) => {
                if let Some(big) = v.iter().map(Value::heap_len).find(|&n| n > max_bytes) {
                    return Err(ColumnFault::TooBig(big));
                }
                (None, None, None)
            }
        };
        if let Some((offsets, len)) = offsets {
            if offsets.is_empty() {
                return malformed("a TEXT or BLOB column with no offsets".into());
            }
            if offsets.last().is_some_and(|&l| l as usize != len) {
                return malformed("its last offset is not the end of its data".into());
            }
            for pair in offsets.windows(2) {
                if pair[0] > pair[1] {
                    return malformed("its offsets decrease".into());
                }
                let n = (pair[1] - pair[0]) as usize;
                if n > max_bytes {
                    return Err(ColumnFault::TooBig(n));
                }
            }
            if let Some(text) = text
                && offsets.iter().any(|&o| !text.is_char_boundary(o as usize))
            {
                return malformed("an offset falls inside a character".into());
            }
        }
        if self.len() != rows {
            return malformed(format!("{} values for {rows} rows", self.len()));
        }
        if let Some(bits) = valid
            && bits.len() < rows.div_ceil(8)
        {
            return malformed(format!(
                "a validity bitmap of {} bytes for {rows} rows",
                bits.len()
            ));
        }
        Ok(())
    }
}

/// Lowers `columns` for the guest. A `Values` column borrows a list of
/// guest values built here, so the caller keeps `scratch` alive as long as
/// the result.
pub(crate) fn lower<'a>(
    columns: &[ColumnRef<'a>],
    scratch: &'a mut Vec<Vec<ValueParam<'a>>>,
) -> Vec<ColumnParam<'a>> {
    scratch.clear();
    for c in columns {
        if let ColumnRef::Values(values) = c {
            scratch.push(values.iter().map(Value::to_guest).collect());
        }
    }
    let mut lists = scratch.iter();
    columns
        .iter()
        .map(|c| match *c {
            ColumnRef::Integers { data, valid } => {
                ColumnParam::Integers(IntegerColumnParam { data, valid })
            }
            ColumnRef::Reals { data, valid } => ColumnParam::Reals(RealColumnParam { data, valid }),
            ColumnRef::Texts {
                offsets,
                data,
                valid,
            } => ColumnParam::Texts(TextColumnParam {
                offsets,
                data,
                valid,
            }),
            ColumnRef::Blobs {
                offsets,
                data,
                valid,
            } => ColumnParam::Blobs(BlobColumnParam {
                offsets,
                data,
                valid,
            }),
            ColumnRef::Values(_) => {
                ColumnParam::Values(lists.next().map(Vec::as_slice).unwrap_or_default())
            }
        })
        .collect()
}

/// An owned column: the result of a batched call, in the layout of
/// [`ColumnRef`].
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// INTEGER values.
    Integers {
        /// One per row.
        data: Vec<i64>,
        /// Which rows are not NULL; `None` when none is NULL.
        valid: Option<Vec<u8>>,
    },
    /// REAL values.
    Reals {
        /// One per row.
        data: Vec<f64>,
        /// Which rows are not NULL.
        valid: Option<Vec<u8>>,
    },
    /// TEXT values.
    Texts {
        /// `rows + 1` byte offsets into `data`.
        offsets: Vec<u32>,
        /// The rows' text, end to end.
        data: String,
        /// Which rows are not NULL.
        valid: Option<Vec<u8>>,
    },
    /// BLOB values.
    Blobs {
        /// `rows + 1` byte offsets into `data`.
        offsets: Vec<u32>,
        /// The rows' bytes, end to end.
        data: Vec<u8>,
        /// Which rows are not NULL.
        valid: Option<Vec<u8>>,
    },
    /// Values of any class.
    Values(Vec<Value>),
}

impl Column {
    /// The number of rows.
    pub fn len(&self) -> usize {
        self.as_ref().len()
    }

    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Borrows the column, e.g. to pass it to another call.
    pub fn as_ref(&self) -> ColumnRef<'_> {
        match self {
            Column::Integers { data, valid } => ColumnRef::Integers {
                data,
                valid: valid.as_deref(),
            },
            Column::Reals { data, valid } => ColumnRef::Reals {
                data,
                valid: valid.as_deref(),
            },
            Column::Texts {
                offsets,
                data,
                valid,
            } => ColumnRef::Texts {
                offsets,
                data,
                valid: valid.as_deref(),
            },
            Column::Blobs {
                offsets,
                data,
                valid,
            } => ColumnRef::Blobs {
                offsets,
                data,
                valid: valid.as_deref(),
            },
            Column::Values(v) => ColumnRef::Values(v),
        }
    }

    /// Row `row`'s value, or `None` past the end.
    pub fn get(&self, row: usize) -> Option<Value> {
        self.as_ref().get(row)
    }

    /// Every row's value, in order.
    pub fn to_values(&self) -> Vec<Value> {
        (0..self.len()).filter_map(|r| self.get(r)).collect()
    }

    /// Takes a guest's result column, checking it holds `rows` rows, that
    /// its offsets and validity bitmap fit, and that no TEXT or BLOB is
    /// longer than `max_bytes`.
    pub(crate) fn from_guest(
        c: ColumnResult,
        rows: usize,
        max_bytes: usize,
    ) -> Result<Column, ColumnFault> {
        let column = match c {
            ColumnResult::Integers(IntegerColumnResult { data, valid }) => {
                Column::Integers { data, valid }
            }
            ColumnResult::Reals(RealColumnResult { data, valid }) => Column::Reals { data, valid },
            ColumnResult::Texts(TextColumnResult {
                offsets,
                data,
                valid,
            }) => Column::Texts {
                offsets,
                data,
                valid,
            },
            ColumnResult::Blobs(BlobColumnResult {
                offsets,
                data,
                valid,
            }) => Column::Blobs {
                offsets,
                data,
                valid,
            },
            ColumnResult::Values(v) => {
                Column::Values(v.into_iter().map(Value::from_guest).collect())
            }
        };
        column.check(rows, max_bytes)?;
        Ok(column)
    }

    fn check(&self, rows: usize, max_bytes: usize) -> Result<(), ColumnFault> {
        self.as_ref().check(rows, max_bytes)
    }
}

/// What is wrong with a column.
#[derive(Debug)]
pub(crate) enum ColumnFault {
    /// A row's TEXT or BLOB of this many bytes is over the result limit.
    TooBig(usize),
    /// The column does not describe `rows` values.
    Malformed(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checked_column_reads_row_by_row() {
        let c = Column::Texts {
            offsets: vec![0, 3, 3, 6],
            data: "héllo".into(),
            valid: Some(vec![0b101]),
        };
        c.check(3, 100).expect("accepted");
        assert_eq!(
            c.to_values(),
            [Value::from("hé"), Value::Null, Value::from("llo")]
        );
        assert!(matches!(c.check(4, 100), Err(ColumnFault::Malformed(_))));
        assert!(matches!(c.check(3, 2), Err(ColumnFault::TooBig(3))));
        let inside = Column::Texts {
            offsets: vec![0, 1, 3],
            data: "é!".into(),
            valid: None,
        };
        assert!(matches!(
            inside.check(2, 100),
            Err(ColumnFault::Malformed(_))
        ));
        let short_bits = Column::Integers {
            data: vec![1; 9],
            valid: Some(vec![0xff]),
        };
        assert!(matches!(
            short_bits.check(9, 100),
            Err(ColumnFault::Malformed(_))
        ));
        let backwards = Column::Blobs {
            offsets: vec![0, 2, 1],
            data: vec![0],
            valid: None,
        };
        assert!(matches!(
            backwards.check(2, 100),
            Err(ColumnFault::Malformed(_))
        ));
    }

    #[test]
    fn values_lower_through_scratch() {
        let vals = [Value::Integer(1), Value::from("x")];
        let cols = [
            ColumnRef::Values(&vals),
            ColumnRef::Integers {
                data: &[4, 5],
                valid: None,
            },
        ];
        let mut scratch = Vec::new();
        let lowered = lower(&cols, &mut scratch);
        assert_eq!(
            lowered[0],
            ColumnParam::Values(&[ValueParam::Integer(1), ValueParam::Text("x")])
        );
        assert_eq!(
            lowered[1],
            ColumnParam::Integers(IntegerColumnParam {
                data: &[4, 5],
                valid: None
            })
        );
    }
}
