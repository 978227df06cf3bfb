//! Converting values between SQLite and the guest, without loss.

use rusqlite::types::{Value as SqlValue, ValueRef};

use crate::bindings::{FastResult, Number, ValueParam, ValueResult};

/// Borrows a SQLite argument as a guest argument. TEXT that is not valid
/// UTF-8 (SQLite does not enforce encoding) is passed as a BLOB of the same
/// bytes rather than altered.
#[inline]
pub(crate) fn to_guest(value: ValueRef<'_>) -> ValueParam<'_> {
    match value {
        ValueRef::Null => ValueParam::Null,
        ValueRef::Integer(i) => ValueParam::Integer(i),
        ValueRef::Real(r) => ValueParam::Real(r),
        ValueRef::Text(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => ValueParam::Text(text),
            Err(_) => ValueParam::Blob(bytes),
        },
        ValueRef::Blob(bytes) => ValueParam::Blob(bytes),
    }
}

/// Borrows a buffered value as a guest argument. Its TEXT was checked
/// for UTF-8 when it was buffered ([`to_owned`]), so it is not checked again.
#[inline]
pub(crate) fn owned_to_guest(value: &SqlValue) -> ValueParam<'_> {
    match value {
        SqlValue::Null => ValueParam::Null,
        SqlValue::Integer(i) => ValueParam::Integer(*i),
        SqlValue::Real(r) => ValueParam::Real(*r),
        SqlValue::Text(s) => ValueParam::Text(s),
        SqlValue::Blob(b) => ValueParam::Blob(b),
    }
}

/// Converts a guest result to a SQLite value. `Err` carries the size of a
/// TEXT or BLOB longer than `max_bytes`.
#[inline]
pub(crate) fn from_guest(value: ValueResult, max_bytes: usize) -> Result<SqlValue, usize> {
    Ok(match value {
        ValueResult::Null => SqlValue::Null,
        ValueResult::Integer(i) => SqlValue::Integer(i),
        ValueResult::Real(r) => SqlValue::Real(r),
        ValueResult::Text(s) if s.len() > max_bytes => return Err(s.len()),
        ValueResult::Text(s) => SqlValue::Text(s),
        ValueResult::Blob(b) if b.len() > max_bytes => return Err(b.len()),
        ValueResult::Blob(b) => SqlValue::Blob(b),
    })
}

/// Copies a SQLite argument, for rows buffered across calls.
pub(crate) fn to_owned(value: ValueRef<'_>) -> SqlValue {
    match value {
        ValueRef::Null => SqlValue::Null,
        ValueRef::Integer(i) => SqlValue::Integer(i),
        ValueRef::Real(r) => SqlValue::Real(r),
        ValueRef::Text(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => SqlValue::Text(text.to_owned()),
            Err(_) => SqlValue::Blob(bytes.to_vec()),
        },
        ValueRef::Blob(bytes) => SqlValue::Blob(bytes.to_vec()),
    }
}

/// Copies a value keeping its storage class: TEXT stays TEXT even if it is
/// not UTF-8 (invalid bytes are replaced), for parameters and result rows.
pub(crate) fn to_owned_lossy(value: ValueRef<'_>) -> SqlValue {
    match value {
        ValueRef::Text(bytes) => SqlValue::Text(String::from_utf8_lossy(bytes).into_owned()),
        other => to_owned(other),
    }
}

/// A SQLite argument as a fast-path `number`, if it is NULL or numeric.
#[inline]
pub(crate) fn to_number(value: ValueRef<'_>) -> Option<Number> {
    match value {
        ValueRef::Null => Some(Number::Null),
        ValueRef::Integer(i) => Some(Number::Integer(i)),
        ValueRef::Real(r) => Some(Number::Real(r)),
        ValueRef::Text(_) | ValueRef::Blob(_) => None,
    }
}

/// A fast-path result that is not `deferred`, as a full value.
#[inline]
pub(crate) fn from_fast(result: FastResult) -> Option<ValueResult> {
    match result {
        FastResult::Null => Some(ValueResult::Null),
        FastResult::Integer(i) => Some(ValueResult::Integer(i)),
        FastResult::Real(r) => Some(ValueResult::Real(r)),
        FastResult::Deferred => None,
    }
}
