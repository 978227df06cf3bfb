use crate::columns::ColumnRef;
use crate::{Error, FromValue, Value, ValueType};

/// Conversion of one row of arguments into the parameters of an aggregate
/// or window function ([`Aggregate::Args`](crate::Aggregate::Args)).
///
/// Implemented for `()`, tuples of one to four [`FromValue`] types (a fixed
/// arity equal to the tuple length) and for `&[Value]` (variadic).
pub trait FromArgs<'a>: Sized {
    /// The SQL arity: the number of arguments, or -1 for any number.
    const ARITY: i16;

    /// The declared class of each parameter ([`FromValue::TYPE`]); one
    /// `Any` for a variadic function.
    const TYPES: &'static [ValueType];

    /// Converts one row of arguments.
    ///
    /// Returns `Ok(None)` when the row has a NULL for a parameter that cannot
    /// hold it (see [`FromValue::ACCEPTS_NULL`]): such a row is skipped.
    /// Returns `Err` for a wrong argument count or a type mismatch, with the
    /// 1-based argument position in the message.
    fn from_args(args: &'a [Value]) -> Result<Option<Self>, Error>;

    /// Whether [`from_columns`](Self::from_columns) reads a batch in place;
    /// when it is `false`, a batch's rows are made into values and passed
    /// to [`from_args`](Self::from_args). Not a stable API.
    #[doc(hidden)]
    const COLUMNAR: bool = false;

    /// Converts row `row` of a batch's argument columns, as
    /// [`from_args`](Self::from_args) converts a row of values. Called only
    /// when [`COLUMNAR`](Self::COLUMNAR) is `true`. Not a stable API.
    #[doc(hidden)]
    fn from_columns(columns: &'a [ColumnRef<'a>], row: usize) -> Result<Option<Self>, Error> {
        let _ = (columns, row);
        Err(Error::new(
            "these parameters take a row of values, not columns",
        ))
    }
}

impl<'a> FromArgs<'a> for &'a [Value] {
    const ARITY: i16 = -1;
    const TYPES: &'static [ValueType] = &[ValueType::Any];
    fn from_args(args: &'a [Value]) -> Result<Option<Self>, Error> {
        Ok(Some(args))
    }
}

macro_rules! tuple_args {
    ($n:literal; $($t:ident $i:tt),*) => {
        impl<'a, $($t: FromValue<'a>),*> FromArgs<'a> for ($($t,)*) {
            const ARITY: i16 = $n;
            const TYPES: &'static [ValueType] = &[$(<$t as FromValue<'a>>::TYPE),*];
            #[allow(unused_variables)]
            fn from_args(args: &'a [Value]) -> Result<Option<Self>, Error> {
                crate::__private::check_arity(args.len(), $n)?;
                Ok(Some(($(
                    match crate::__private::arg::<$t>(&args[$i], $i + 1)? {
                        Some(v) => v,
                        None => return Ok(None),
                    },
                )*)))
            }
            const COLUMNAR: bool = true;
            #[allow(unused_variables)]
            #[inline]
            fn from_columns(
                columns: &'a [ColumnRef<'a>],
                row: usize,
            ) -> Result<Option<Self>, Error> {
                crate::__private::check_arity(columns.len(), $n)?;
                Ok(Some(($(
                    match crate::__private::column_arg::<$t>(&columns[$i], row, $i + 1)? {
                        Some(v) => v,
                        None => return Ok(None),
                    },
                )*)))
            }
        }
    };
}

tuple_args!(0;);
tuple_args!(1; A 0);
tuple_args!(2; A 0, B 1);
tuple_args!(3; A 0, B 1, C 2);
tuple_args!(4; A 0, B 1, C 2, D 3);
