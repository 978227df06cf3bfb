//! Between Arrow and wasmudf: which Arrow types an argument is coerced to,
//! the return type a function is planned with, arrays lent to the guest as
//! columns without copying their values, and result columns made arrays.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, BinaryArray, BinaryBuilder, Float64Array, Float64Builder, Int64Array,
    Int64Builder, StringArray, StringBuilder,
};
use datafusion::arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, Result, exec_err, plan_err};
use wasmudf::{Arity, Column, ColumnRef, FunctionKind, FunctionSpec, Value, ValueType};

/// The Arrow type of SQLite's class `t`.
fn arrow_type(t: ValueType) -> Option<DataType> {
    match t {
        ValueType::Integer => Some(DataType::Int64),
        ValueType::Real => Some(DataType::Float64),
        ValueType::Text => Some(DataType::Utf8),
        ValueType::Blob => Some(DataType::Binary),
        _ => None,
    }
}

/// The argument types `spec` is called with: every argument is coerced to
/// the Arrow type of one of SQLite's classes, as SQLite would store it
/// (integers and booleans INTEGER, floats and decimals REAL, strings TEXT,
/// binaries BLOB); an INTEGER goes to a parameter declared REAL as REAL,
/// the widening the guest SDKs do themselves. Anything else is a planning
/// error.
pub(crate) fn coerce(spec: &FunctionSpec, args: &[DataType]) -> Result<Vec<DataType>> {
    // An aggregate called with no argument is planned with one placeholder
    // NULL (`planning.rs`), which must stay NULL-typed: a cast would drop
    // the metadata that marks it.
    if spec.kind != FunctionKind::Scalar
        && matches!(spec.arity, Arity::Exactly(0) | Arity::Variadic)
        && args == [DataType::Null]
    {
        return Ok(vec![DataType::Null]);
    }
    if let Arity::Exactly(n) = spec.arity
        && usize::from(n) != args.len()
    {
        return plan_err!(
            "{} takes {n} argument(s), was given {}",
            spec.name,
            args.len()
        );
    }
    args.iter()
        .enumerate()
        .map(|(i, t)| {
            let declared = spec.params.as_ref().and_then(|p| match spec.arity {
                Arity::Variadic => p.first().copied(),
                Arity::Exactly(_) => p.get(i).copied(),
            });
            // A dictionary's values are what the guest sees.
            let t = match t {
                DataType::Dictionary(_, values) => values.as_ref(),
                t => t,
            };
            let class = match t {
                DataType::Null => {
                    return Ok(declared.and_then(arrow_type).unwrap_or(DataType::Int64));
                }
                DataType::Boolean
                | DataType::Int8
                | DataType::Int16
                | DataType::Int32
                | DataType::Int64
                | DataType::UInt8
                | DataType::UInt16
                | DataType::UInt32
                | DataType::UInt64 => ValueType::Integer,
                DataType::Float16
                | DataType::Float32
                | DataType::Float64
                | DataType::Decimal32(..)
                | DataType::Decimal64(..)
                | DataType::Decimal128(..)
                | DataType::Decimal256(..) => ValueType::Real,
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => ValueType::Text,
                DataType::Binary
                | DataType::LargeBinary
                | DataType::BinaryView
                | DataType::FixedSizeBinary(_) => ValueType::Blob,
                other => {
                    return plan_err!(
                        "{}: argument {} is {other}; wasmudf functions take SQLite's classes \
                         (integers, floats, strings, binaries)",
                        spec.name,
                        i + 1
                    );
                }
            };
            let class = match (class, declared) {
                (ValueType::Integer, Some(ValueType::Real)) => ValueType::Real,
                (class, _) => class,
            };
            Ok(arrow_type(class).unwrap_or(DataType::Int64))
        })
        .collect()
}

/// The type `spec` is planned to return: its declared class, or else
/// taken from its arguments: REAL when they are numbers and one is REAL (as
/// SQLite's arithmetic would give), otherwise the first one's class (an
/// undeclared function of one class in, the same class out: `identity`,
/// `greatest_of`, `sumsq`).
pub(crate) fn return_type(spec: &FunctionSpec, args: &[DataType]) -> Result<DataType> {
    if let Some(t) = spec.returns.and_then(arrow_type) {
        return Ok(t);
    }
    let numeric = |t: &DataType| matches!(t, DataType::Int64 | DataType::Float64 | DataType::Null);
    if args.iter().all(numeric) && args.contains(&DataType::Float64) {
        return Ok(DataType::Float64);
    }
    match args.first() {
        Some(t @ (DataType::Int64 | DataType::Float64 | DataType::Utf8 | DataType::Binary)) => {
            Ok(t.clone())
        }
        Some(DataType::Null) => Ok(DataType::Int64),
        _ => plan_err!(
            "{} declares no result type, and has no argument to take one from; rebuild it \
             with a wasmudf:udf@0.2.0 SDK that declares it",
            spec.name
        ),
    }
}

/// Arrays lent to the guest as [`ColumnRef`]s. TEXT and BLOB offsets are
/// rebased (Arrow's are `i32` and a sliced array's start past zero);
/// values are borrowed, and so are validity bitmaps that start on a byte.
/// What has to be copied is kept per argument, so each argument's column
/// borrows its own copies whatever the others need.
#[derive(Default)]
pub(crate) struct Lent {
    owned: Vec<Owned>,
}

/// The parts of one argument's column that could not be borrowed.
#[derive(Default)]
struct Owned {
    offsets: Option<Vec<u32>>,
    /// The validity bits moved to start at bit 0 (the array's nulls start
    /// mid-byte: a slice at an offset that is not a multiple of 8).
    bitmap: Option<Buffer>,
    nulls: Option<Vec<Value>>,
}

impl Lent {
    /// Lends `arrays` (already coerced) as columns. `Err` for a type the
    /// coercion should not have let through.
    pub(crate) fn lend<'a>(&'a mut self, arrays: &'a [ArrayRef]) -> Result<Vec<ColumnRef<'a>>> {
        // First every owned part, then the borrows of them.
        self.owned = arrays
            .iter()
            .map(|a| {
                let mut owned = Owned::default();
                if let Some(n) = a.nulls()
                    && n.null_count() > 0
                    && n.offset() % 8 != 0
                {
                    owned.bitmap = Some(n.inner().sliced());
                }
                match a.data_type() {
                    DataType::Utf8 => {
                        owned.offsets = Some(rebase(downcast::<StringArray>(a)?.value_offsets())?);
                    }
                    DataType::Binary => {
                        owned.offsets = Some(rebase(downcast::<BinaryArray>(a)?.value_offsets())?);
                    }
                    DataType::Null => owned.nulls = Some(vec![Value::Null; a.len()]),
                    _ => {}
                }
                Ok(owned)
            })
            .collect::<Result<_>>()?;
        arrays
            .iter()
            .zip(&self.owned)
            .map(|(a, owned)| {
                let valid: Option<&[u8]> = match a.nulls() {
                    None => None,
                    Some(n) if n.null_count() == 0 => None,
                    Some(n) => match &owned.bitmap {
                        Some(b) => Some(b.as_slice()),
                        None => Some(&n.inner().values()[n.offset() / 8..]),
                    },
                };
                let offsets = owned.offsets.as_deref().unwrap_or_default();
                Ok(match a.data_type() {
                    DataType::Int64 => ColumnRef::Integers {
                        data: downcast::<Int64Array>(a)?.values(),
                        valid,
                    },
                    DataType::Float64 => ColumnRef::Reals {
                        data: downcast::<Float64Array>(a)?.values(),
                        valid,
                    },
                    DataType::Utf8 => {
                        let s = downcast::<StringArray>(a)?;
                        let (start, end) = span(s.value_offsets());
                        let data = std::str::from_utf8(&s.value_data()[start..end])
                            .map_err(|e| DataFusionError::Internal(e.to_string()))?;
                        ColumnRef::Texts {
                            offsets,
                            data,
                            valid,
                        }
                    }
                    DataType::Binary => {
                        let b = downcast::<BinaryArray>(a)?;
                        let (start, end) = span(b.value_offsets());
                        ColumnRef::Blobs {
                            offsets,
                            data: &b.value_data()[start..end],
                            valid,
                        }
                    }
                    DataType::Null => ColumnRef::Values(owned.nulls.as_deref().unwrap_or_default()),
                    other => {
                        return exec_err!("internal: an argument of type {other} reached a guest");
                    }
                })
            })
            .collect()
    }
}

/// What row `row` of `arrays` weighs in a crossing, as SQLite's aggregate
/// batches count it: 16 bytes a value, plus each TEXT's or BLOB's bytes.
fn row_cost(arrays: &[ArrayRef], row: usize) -> usize {
    const VALUE_SIZE: usize = 16;
    arrays
        .iter()
        .map(|a| {
            let payload = if a.is_null(row) {
                0
            } else if let Some(s) = a.as_any().downcast_ref::<StringArray>() {
                s.value_length(row).max(0) as usize
            } else if let Some(b) = a.as_any().downcast_ref::<BinaryArray>() {
                b.value_length(row).max(0) as usize
            } else {
                0
            };
            VALUE_SIZE + payload
        })
        .sum()
}

/// `0..rows` cut into the runs of rows the guest is handed one crossing at
/// a time: at most `max_rows` rows and `max_bytes` bytes by [`row_cost`],
/// as SQLite batches aggregate rows; a row over `max_bytes` goes alone.
pub(crate) fn chunks(
    arrays: &[ArrayRef],
    rows: usize,
    max_rows: usize,
    max_bytes: usize,
) -> Vec<std::ops::Range<usize>> {
    let max_rows = max_rows.max(1);
    let sized = arrays
        .iter()
        .any(|a| matches!(a.data_type(), DataType::Utf8 | DataType::Binary));
    if !sized {
        // Every row costs the same.
        let cost = 16 * arrays.len();
        let per = max_rows.min(max_bytes.checked_div(cost).unwrap_or(usize::MAX).max(1));
        return (0..rows)
            .step_by(per)
            .map(|start| start..rows.min(start + per))
            .collect();
    }
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0usize);
    for row in 0..rows {
        let cost = row_cost(arrays, row);
        if row > start && (row - start >= max_rows || bytes.saturating_add(cost) > max_bytes) {
            out.push(start..row);
            (start, bytes) = (row, 0);
        }
        bytes = bytes.saturating_add(cost);
    }
    if start < rows {
        out.push(start..rows);
    }
    out
}

/// `arrays` rows `range`, zero-copy.
pub(crate) fn slice(arrays: &[ArrayRef], range: &std::ops::Range<usize>) -> Vec<ArrayRef> {
    arrays
        .iter()
        .map(|a| a.slice(range.start, range.len()))
        .collect()
}

/// The bytes `array`'s rows take, counting only its own rows of shared
/// buffers (a slice of a large batch would otherwise count all of it).
pub(crate) fn logical_size(array: &dyn Array) -> usize {
    let rows = array.len();
    let nulls = array.nulls().map_or(0, |_| rows.div_ceil(8));
    let any = array.as_any();
    let data = if let Some(s) = any.downcast_ref::<StringArray>() {
        let (start, end) = span(s.value_offsets());
        4 * (rows + 1) + (end - start)
    } else if let Some(b) = any.downcast_ref::<BinaryArray>() {
        let (start, end) = span(b.value_offsets());
        4 * (rows + 1) + (end - start)
    } else if let Some(width) = array.data_type().primitive_width() {
        width * rows
    } else if *array.data_type() == DataType::Null {
        0
    } else {
        array.get_array_memory_size()
    };
    data + nulls
}

fn downcast<T: 'static>(a: &ArrayRef) -> Result<&T> {
    a.as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| DataFusionError::Internal(format!("array is not {}", a.data_type())))
}

fn span(offsets: &[i32]) -> (usize, usize) {
    let at = |i: Option<&i32>| i.map_or(0, |&o| usize::try_from(o).unwrap_or(0));
    (at(offsets.first()), at(offsets.last()))
}

/// Arrow's offsets made relative to the first and unsigned.
fn rebase(offsets: &[i32]) -> Result<Vec<u32>> {
    let first = offsets.first().copied().unwrap_or(0);
    offsets
        .iter()
        .map(|&o| {
            u32::try_from(o - first)
                .map_err(|_| DataFusionError::Internal("negative offset".into()))
        })
        .collect()
}

/// The array of type `ty` holding a guest's result `column`. Another class
/// than planned is an error naming the function, except INTEGER for REAL,
/// which widens as SQLite would.
pub(crate) fn to_array(function: &str, column: Column, ty: &DataType) -> Result<ArrayRef> {
    let rows = column.len();
    let nulls = |valid: Option<Vec<u8>>| {
        valid.map(|v| NullBuffer::new(BooleanBuffer::new(Buffer::from_vec(v), 0, rows)))
    };
    let offsets = |o: Vec<u32>| -> Result<OffsetBuffer<i32>> {
        let o = o
            .into_iter()
            .map(|x| i32::try_from(x).map_err(|_| too_large(function)))
            .collect::<Result<Vec<i32>>>()?;
        Ok(OffsetBuffer::new(ScalarBuffer::from(o)))
    };
    let array: ArrayRef = match (column, ty) {
        (Column::Integers { data, valid }, DataType::Int64) => {
            Arc::new(Int64Array::new(data.into(), nulls(valid)))
        }
        (Column::Reals { data, valid }, DataType::Float64) => {
            Arc::new(Float64Array::new(data.into(), nulls(valid)))
        }
        (
            Column::Texts {
                offsets: o,
                data,
                valid,
            },
            DataType::Utf8,
        ) => Arc::new(StringArray::try_new(
            offsets(o)?,
            Buffer::from_vec(data.into_bytes()),
            nulls(valid),
        )?),
        (
            Column::Blobs {
                offsets: o,
                data,
                valid,
            },
            DataType::Binary,
        ) => Arc::new(BinaryArray::try_new(
            offsets(o)?,
            Buffer::from_vec(data),
            nulls(valid),
        )?),
        (column, ty) => from_values(function, &column.to_values(), ty)?,
    };
    Ok(array)
}

fn too_large(function: &str) -> DataFusionError {
    DataFusionError::Execution(format!(
        "{function}: a batch of results over 2 GiB does not fit an Arrow array"
    ))
}

/// [`to_array`] one value at a time.
pub(crate) fn from_values(function: &str, values: &[Value], ty: &DataType) -> Result<ArrayRef> {
    let wrong = |v: &Value| {
        exec_err!(
            "{function}: returned {} where {} was planned (declare the function's result type, \
             or give it arguments of the class it returns)",
            v.type_name(),
            match ty {
                DataType::Int64 => "INTEGER",
                DataType::Float64 => "REAL",
                DataType::Utf8 => "TEXT",
                _ => "BLOB",
            }
        )
    };
    Ok(match ty {
        DataType::Int64 => {
            let mut b = Int64Builder::with_capacity(values.len());
            for v in values {
                match v {
                    Value::Null => b.append_null(),
                    Value::Integer(i) => b.append_value(*i),
                    other => return wrong(other),
                }
            }
            Arc::new(b.finish())
        }
        DataType::Float64 => {
            let mut b = Float64Builder::with_capacity(values.len());
            for v in values {
                match v {
                    Value::Null => b.append_null(),
                    Value::Real(r) => b.append_value(*r),
                    Value::Integer(i) => b.append_value(*i as f64),
                    other => return wrong(other),
                }
            }
            Arc::new(b.finish())
        }
        DataType::Utf8 => {
            let mut b = StringBuilder::new();
            for v in values {
                match v {
                    Value::Null => b.append_null(),
                    Value::Text(s) => b.append_value(s),
                    other => return wrong(other),
                }
            }
            Arc::new(b.finish())
        }
        DataType::Binary => {
            let mut b = BinaryBuilder::new();
            for v in values {
                match v {
                    Value::Null => b.append_null(),
                    Value::Blob(x) => b.append_value(x),
                    other => return wrong(other),
                }
            }
            Arc::new(b.finish())
        }
        other => return exec_err!("{function}: cannot return {other}"),
    })
}

/// `value` as a scalar of type `ty` (an aggregate's result).
pub(crate) fn to_scalar(
    function: &str,
    value: Value,
    ty: &DataType,
) -> Result<datafusion::common::ScalarValue> {
    let array = from_values(function, &[value], ty)?;
    datafusion::common::ScalarValue::try_from_array(&array, 0)
}
