//! Aggregate rows buffered on the host between crossings into the guest.
//!
//! Rows whose arguments are all INTEGER (or all REAL) are kept as a plain
//! `Vec<i64>` (`Vec<f64>`) and handed over as a `list<s64>` (`list<f64>`),
//! which the canonical ABI copies in one block; any other mix falls back to
//! a list of `value`s.

use rusqlite::types::{Value as SqlValue, ValueRef};

use crate::bindings::ValueParam;
use crate::value::{owned_to_guest, to_owned};

/// What one argument weighs in a step batch: the size of a canonical
/// `value` (16 bytes) plus its TEXT or BLOB payload, which the guest has to
/// hold while it runs `step`.
#[inline]
pub(crate) fn cost(value: ValueRef<'_>) -> usize {
    const VALUE_SIZE: usize = 16;
    match value {
        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => VALUE_SIZE.saturating_add(bytes.len()),
        ValueRef::Null | ValueRef::Integer(_) | ValueRef::Real(_) => VALUE_SIZE,
    }
}

/// Buffered arguments, row after row.
#[derive(Debug)]
pub(crate) enum Batch {
    Integers(Vec<i64>),
    Reals(Vec<f64>),
    Values(Vec<SqlValue>),
}

impl Default for Batch {
    fn default() -> Self {
        Batch::Integers(Vec::new())
    }
}

impl Batch {
    /// Appends one argument.
    #[inline]
    pub(crate) fn push(&mut self, value: ValueRef<'_>) {
        match (&mut *self, value) {
            (Batch::Integers(v), ValueRef::Integer(i)) => v.push(i),
            (Batch::Reals(v), ValueRef::Real(r)) => v.push(r),
            (Batch::Values(v), value) => v.push(to_owned(value)),
            (Batch::Integers(v), ValueRef::Real(r)) if v.is_empty() => {
                *self = Batch::Reals(vec![r])
            }
            (_, value) => {
                let mut values = self.to_values();
                values.push(to_owned(value));
                *self = Batch::Values(values);
            }
        }
    }

    fn to_values(&self) -> Vec<SqlValue> {
        match self {
            Batch::Integers(v) => v.iter().map(|&i| SqlValue::Integer(i)).collect(),
            Batch::Reals(v) => v.iter().map(|&r| SqlValue::Real(r)).collect(),
            Batch::Values(v) => v.clone(),
        }
    }

    /// The arguments as generic guest values.
    pub(crate) fn params(&self) -> Vec<ValueParam<'_>> {
        match self {
            Batch::Integers(v) => v.iter().map(|&i| ValueParam::Integer(i)).collect(),
            Batch::Reals(v) => v.iter().map(|&r| ValueParam::Real(r)).collect(),
            Batch::Values(v) => v.iter().map(owned_to_guest).collect(),
        }
    }

    /// The number of arguments buffered.
    pub(crate) fn len(&self) -> usize {
        match self {
            Batch::Integers(v) => v.len(),
            Batch::Reals(v) => v.len(),
            Batch::Values(v) => v.len(),
        }
    }

    /// Argument `i` (TEXT in a batch is UTF-8: see `to_owned`), or NULL
    /// past the end.
    pub(crate) fn get(&self, i: usize) -> ValueRef<'_> {
        match self {
            Batch::Integers(v) => v.get(i).map_or(ValueRef::Null, |&x| ValueRef::Integer(x)),
            Batch::Reals(v) => v.get(i).map_or(ValueRef::Null, |&x| ValueRef::Real(x)),
            Batch::Values(v) => v.get(i).map_or(ValueRef::Null, ValueRef::from),
        }
    }

    /// Empties the batch, keeping its allocation and its kind.
    pub(crate) fn clear(&mut self) {
        match self {
            Batch::Integers(v) => v.clear(),
            Batch::Reals(v) => v.clear(),
            Batch::Values(v) => v.clear(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_typed_while_it_can_and_keeps_order_when_it_cannot() {
        let mut b = Batch::default();
        b.push(ValueRef::Integer(1));
        b.push(ValueRef::Integer(2));
        assert!(matches!(b, Batch::Integers(ref v) if v == &[1, 2]));
        b.push(ValueRef::Null);
        b.push(ValueRef::Real(0.5));
        let Batch::Values(v) = &b else {
            panic!("{b:?}")
        };
        assert_eq!(
            v,
            &[
                SqlValue::Integer(1),
                SqlValue::Integer(2),
                SqlValue::Null,
                SqlValue::Real(0.5)
            ]
        );
        let mut r = Batch::default();
        r.push(ValueRef::Real(1.5));
        r.push(ValueRef::Real(2.5));
        assert!(matches!(r, Batch::Reals(ref v) if v == &[1.5, 2.5]));
    }
}
