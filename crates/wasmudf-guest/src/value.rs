use crate::Error;
use crate::columns::{Cell, ColumnBuilder, ColumnRef};

/// One SQLite value: one of SQLite's five storage classes.
///
/// `Null`, `Integer(i64)`, `Real(f64)`, `Text(String)`, `Blob(Vec<u8>)`.
pub use crate::bindings::exports::wasmudf::udf::guest::Value;

/// A storage class a function declares for an argument or its result, in
/// its manifest: `Integer`, `Real`, `Text`, `Blob`, or `Any` for no
/// declaration. NULL is always allowed besides the class declared.
///
/// The SDK derives it from the Rust types ([`FromValue::TYPE`],
/// [`IntoValue::TYPE`]): engines with static types, such as DataFusion,
/// need it to plan a query; SQLite does not.
pub use crate::bindings::exports::wasmudf::udf::guest::ValueType;

impl Value {
    /// The SQL name of the storage class: `"NULL"`, `"INTEGER"`, `"REAL"`,
    /// `"TEXT"` or `"BLOB"`.
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
}

/// Conversion of one SQL argument into a Rust parameter type.
///
/// | type | accepts |
/// | --- | --- |
/// | `i64` | INTEGER |
/// | `f64` | REAL, or INTEGER widened |
/// | `bool` | INTEGER (nonzero is `true`) |
/// | `&str`, `String` | TEXT |
/// | `&[u8]`, `Vec<u8>` | BLOB, or the UTF-8 bytes of TEXT |
/// | `&Value`, `Value` | anything, NULL included |
/// | `Option<T>` | NULL as `None`, else what `T` accepts |
///
/// A mismatch is an [`Error::mismatch`], which the SDK turns into
/// `argument N must be TEXT, got INTEGER`.
pub trait FromValue<'a>: Sized {
    /// Whether this type can represent SQL NULL. When it is `false` (the
    /// default) and the argument is NULL, [`from_value`](Self::from_value)
    /// is not called: the scalar function returns NULL, or the aggregate row
    /// is skipped.
    const ACCEPTS_NULL: bool = false;

    /// The storage class this type asks for, declared in the manifest so
    /// that a host with static types can coerce the argument to it; `Any`
    /// (the default) declares nothing.
    const TYPE: ValueType = ValueType::Any;

    /// Converts one argument.
    fn from_value(v: &'a Value) -> Result<Self, Error>;

    /// Converts row `row` of a batch's argument column, a row that is not
    /// NULL unless [`ACCEPTS_NULL`](Self::ACCEPTS_NULL). The default goes
    /// through [`from_value`](Self::from_value); the SDK's own types read
    /// the column in place. Not a stable API.
    #[doc(hidden)]
    #[inline]
    fn from_column(column: &'a ColumnRef<'a>, row: usize) -> Result<Self, Error> {
        Self::from_value(column.value(row))
    }
}

/// A conversion [`FromValue::from_column`] does not do in place: through
/// the row made into a value. Apart, so that the in-place case inlines.
#[cold]
#[inline(never)]
fn by_value<'a, T: FromValue<'a>>(column: &'a ColumnRef<'a>, row: usize) -> Result<T, Error> {
    T::from_value(column.value(row))
}

impl<'a> FromValue<'a> for i64 {
    const TYPE: ValueType = ValueType::Integer;
    fn from_value(v: &'a Value) -> Result<Self, Error> {
        match v {
            Value::Integer(i) => Ok(*i),
            other => Err(Error::mismatch("INTEGER", other)),
        }
    }
    #[inline(always)]
    fn from_column(column: &'a ColumnRef<'a>, row: usize) -> Result<Self, Error> {
        match column.raw(row) {
            Cell::Integer(i) => Ok(i),
            _ => by_value(column, row),
        }
    }
}

impl<'a> FromValue<'a> for f64 {
    const TYPE: ValueType = ValueType::Real;
    fn from_value(v: &'a Value) -> Result<Self, Error> {
        match v {
            Value::Real(r) => Ok(*r),
            Value::Integer(i) => Ok(*i as f64),
            other => Err(Error::mismatch("REAL", other)),
        }
    }
    #[inline(always)]
    fn from_column(column: &'a ColumnRef<'a>, row: usize) -> Result<Self, Error> {
        match column.raw(row) {
            Cell::Real(r) => Ok(r),
            Cell::Integer(i) => Ok(i as f64),
            _ => by_value(column, row),
        }
    }
}

impl<'a> FromValue<'a> for bool {
    const TYPE: ValueType = ValueType::Integer;
    fn from_value(v: &'a Value) -> Result<Self, Error> {
        match v {
            Value::Integer(i) => Ok(*i != 0),
            other => Err(Error::mismatch("INTEGER", other)),
        }
    }
    #[inline(always)]
    fn from_column(column: &'a ColumnRef<'a>, row: usize) -> Result<Self, Error> {
        match column.raw(row) {
            Cell::Integer(i) => Ok(i != 0),
            _ => by_value(column, row),
        }
    }
}

impl<'a> FromValue<'a> for &'a str {
    const TYPE: ValueType = ValueType::Text;
    fn from_value(v: &'a Value) -> Result<Self, Error> {
        match v {
            Value::Text(s) => Ok(s.as_str()),
            other => Err(Error::mismatch("TEXT", other)),
        }
    }
    #[inline(always)]
    fn from_column(column: &'a ColumnRef<'a>, row: usize) -> Result<Self, Error> {
        match column.raw(row) {
            Cell::Text(s) => Ok(s),
            _ => by_value(column, row),
        }
    }
}

impl<'a> FromValue<'a> for String {
    const TYPE: ValueType = ValueType::Text;
    fn from_value(v: &'a Value) -> Result<Self, Error> {
        <&str>::from_value(v).map(str::to_owned)
    }
    #[inline]
    fn from_column(column: &'a ColumnRef<'a>, row: usize) -> Result<Self, Error> {
        <&str>::from_column(column, row).map(str::to_owned)
    }
}

impl<'a> FromValue<'a> for &'a [u8] {
    const TYPE: ValueType = ValueType::Blob;
    fn from_value(v: &'a Value) -> Result<Self, Error> {
        match v {
            Value::Blob(b) => Ok(b.as_slice()),
            Value::Text(s) => Ok(s.as_bytes()),
            other => Err(Error::mismatch("BLOB", other)),
        }
    }
    #[inline(always)]
    fn from_column(column: &'a ColumnRef<'a>, row: usize) -> Result<Self, Error> {
        match column.raw(row) {
            Cell::Blob(b) => Ok(b),
            Cell::Text(s) => Ok(s.as_bytes()),
            _ => by_value(column, row),
        }
    }
}

impl<'a> FromValue<'a> for Vec<u8> {
    const TYPE: ValueType = ValueType::Blob;
    fn from_value(v: &'a Value) -> Result<Self, Error> {
        <&[u8]>::from_value(v).map(<[u8]>::to_vec)
    }
    #[inline]
    fn from_column(column: &'a ColumnRef<'a>, row: usize) -> Result<Self, Error> {
        <&[u8]>::from_column(column, row).map(<[u8]>::to_vec)
    }
}

impl<'a> FromValue<'a> for &'a Value {
    const ACCEPTS_NULL: bool = true;
    fn from_value(v: &'a Value) -> Result<Self, Error> {
        Ok(v)
    }
}

impl<'a> FromValue<'a> for Value {
    const ACCEPTS_NULL: bool = true;
    fn from_value(v: &'a Value) -> Result<Self, Error> {
        Ok(v.clone())
    }
    #[inline]
    fn from_column(column: &'a ColumnRef<'a>, row: usize) -> Result<Self, Error> {
        Ok(column.get(row))
    }
}

impl<'a, T: FromValue<'a>> FromValue<'a> for Option<T> {
    const TYPE: ValueType = T::TYPE;
    const ACCEPTS_NULL: bool = true;
    fn from_value(v: &'a Value) -> Result<Self, Error> {
        match v {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
    #[inline]
    fn from_column(column: &'a ColumnRef<'a>, row: usize) -> Result<Self, Error> {
        if column.is_null(row) {
            Ok(None)
        } else {
            T::from_column(column, row).map(Some)
        }
    }
}

/// Conversion of a Rust result into an SQL value.
///
/// Integers become INTEGER, `f64` REAL, `bool` INTEGER 1 or 0, strings TEXT,
/// byte containers BLOB; `None` and `()` become NULL.
pub trait IntoValue {
    /// The storage class of every non-NULL result, declared in the
    /// manifest; `Any` (the default) declares nothing.
    const TYPE: ValueType = ValueType::Any;

    /// Converts the result.
    fn into_value(self) -> Value;

    /// Adds the result to a batch's result column. The default goes
    /// through [`into_value`](Self::into_value); the SDK's own types write
    /// the column in place. Not a stable API.
    #[doc(hidden)]
    #[inline]
    fn push_into(self, column: &mut ColumnBuilder)
    where
        Self: Sized,
    {
        column.push_value(self.into_value());
    }
}

impl IntoValue for Value {
    fn into_value(self) -> Value {
        self
    }
}

impl IntoValue for i64 {
    const TYPE: ValueType = ValueType::Integer;
    fn into_value(self) -> Value {
        Value::Integer(self)
    }
    #[inline]
    fn push_into(self, column: &mut ColumnBuilder) {
        column.push_integer(self);
    }
}

impl IntoValue for i32 {
    const TYPE: ValueType = ValueType::Integer;
    fn into_value(self) -> Value {
        Value::Integer(self.into())
    }
    #[inline]
    fn push_into(self, column: &mut ColumnBuilder) {
        column.push_integer(self.into());
    }
}

impl IntoValue for u32 {
    const TYPE: ValueType = ValueType::Integer;
    fn into_value(self) -> Value {
        Value::Integer(self.into())
    }
    #[inline]
    fn push_into(self, column: &mut ColumnBuilder) {
        column.push_integer(self.into());
    }
}

impl IntoValue for f64 {
    const TYPE: ValueType = ValueType::Real;
    fn into_value(self) -> Value {
        Value::Real(self)
    }
    #[inline]
    fn push_into(self, column: &mut ColumnBuilder) {
        column.push_real(self);
    }
}

impl IntoValue for bool {
    const TYPE: ValueType = ValueType::Integer;
    fn into_value(self) -> Value {
        Value::Integer(self.into())
    }
    #[inline]
    fn push_into(self, column: &mut ColumnBuilder) {
        column.push_integer(self.into());
    }
}

impl IntoValue for String {
    const TYPE: ValueType = ValueType::Text;
    fn into_value(self) -> Value {
        Value::Text(self)
    }
    #[inline]
    fn push_into(self, column: &mut ColumnBuilder) {
        column.push_text(&self);
    }
}

impl IntoValue for &str {
    const TYPE: ValueType = ValueType::Text;
    fn into_value(self) -> Value {
        Value::Text(self.to_owned())
    }
    #[inline]
    fn push_into(self, column: &mut ColumnBuilder) {
        column.push_text(self);
    }
}

impl IntoValue for Vec<u8> {
    const TYPE: ValueType = ValueType::Blob;
    fn into_value(self) -> Value {
        Value::Blob(self)
    }
    #[inline]
    fn push_into(self, column: &mut ColumnBuilder) {
        column.push_blob(&self);
    }
}

impl IntoValue for &[u8] {
    const TYPE: ValueType = ValueType::Blob;
    fn into_value(self) -> Value {
        Value::Blob(self.to_vec())
    }
    #[inline]
    fn push_into(self, column: &mut ColumnBuilder) {
        column.push_blob(self);
    }
}

impl<const N: usize> IntoValue for [u8; N] {
    const TYPE: ValueType = ValueType::Blob;
    fn into_value(self) -> Value {
        Value::Blob(self.to_vec())
    }
    #[inline]
    fn push_into(self, column: &mut ColumnBuilder) {
        column.push_blob(&self);
    }
}

impl<T: IntoValue> IntoValue for Option<T> {
    const TYPE: ValueType = T::TYPE;
    fn into_value(self) -> Value {
        match self {
            Some(v) => v.into_value(),
            None => Value::Null,
        }
    }
    #[inline]
    fn push_into(self, column: &mut ColumnBuilder) {
        match self {
            Some(v) => v.push_into(column),
            None => column.push_null(),
        }
    }
}

impl IntoValue for () {
    fn into_value(self) -> Value {
        Value::Null
    }
    #[inline]
    fn push_into(self, column: &mut ColumnBuilder) {
        column.push_null();
    }
}

/// Conversion of one result row of a [`Table`](crate::Table) function into
/// its values, one per declared column.
///
/// Implemented for tuples of one to eight [`IntoValue`] types and for
/// `Vec<Value>` (any width; a row whose width differs from the declared
/// columns is an error).
pub trait IntoRow {
    /// Appends the row's values to `out`, in column order.
    fn into_row(self, out: &mut Vec<Value>);
}

impl IntoRow for Vec<Value> {
    fn into_row(self, out: &mut Vec<Value>) {
        out.extend(self);
    }
}

macro_rules! tuple_row {
    ($($t:ident $i:tt),+) => {
        impl<$($t: IntoValue),+> IntoRow for ($($t,)+) {
            fn into_row(self, out: &mut Vec<Value>) {
                $( out.push(self.$i.into_value()); )+
            }
        }
    };
}

tuple_row!(A 0);
tuple_row!(A 0, B 1);
tuple_row!(A 0, B 1, C 2);
tuple_row!(A 0, B 1, C 2, D 3);
tuple_row!(A 0, B 1, C 2, D 3, E 4);
tuple_row!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
