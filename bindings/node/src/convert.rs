//! Values between JavaScript and SQLite.
//!
//! Results: INTEGER is a `number` when it is a safe integer (|n| ≤ 2^53 − 1)
//! and a `BigInt` otherwise, or always with `safeIntegers`, so no integer
//! ever comes back rounded; REAL is a `number` (−0.0 and ±Infinity kept;
//! SQLite itself stores NaN as NULL); TEXT a `string`; BLOB a `Buffer`
//! (a `Uint8Array`); NULL `null`.
//!
//! Parameters: a `number` that is a safe integer (and not −0) binds as
//! INTEGER, any other `number` as REAL; a `BigInt` as INTEGER (a RangeError
//! outside 64 bits); `boolean` as 1 or 0; `string` as TEXT; a `Buffer`,
//! typed array, `DataView` or `ArrayBuffer` as a BLOB of its bytes; `null`
//! and `undefined` as NULL. Anything else is a TypeError.

use napi::sys;
use wasmudf::rusqlite::types::Value;

use crate::errors::Failure;
use crate::raw::{self, Raw};

/// The largest integer a `number` holds exactly: 2^53 − 1.
const MAX_SAFE: i64 = (1 << 53) - 1;

/// Statement parameters as the caller gave them.
#[derive(Debug, Clone, Default)]
pub(crate) enum Params {
    /// None given: every parameter is NULL.
    #[default]
    None,
    /// `?`, `?NNN` and named parameters by position.
    Positional(Vec<Value>),
    /// Named parameters by name, with or without the `:`, `@` or `$`.
    Named(Vec<(String, Value)>),
}

/// Reads parameters: an array binds by position, a plain object by name,
/// and any single value (including a Buffer) as the first parameter.
pub(crate) fn params(env: sys::napi_env, value: Option<Raw>) -> Result<Params, Failure> {
    let Some(value) = value else {
        return Ok(Params::None);
    };
    let js = |e: napi::Error| Failure::from_napi(e);
    match raw::type_of(env, value).map_err(js)? {
        sys::ValueType::napi_undefined | sys::ValueType::napi_null => Ok(Params::None),
        sys::ValueType::napi_object => {
            if raw::is_array(env, value).map_err(js)? {
                let len = raw::array_length(env, value).map_err(js)?;
                let mut values = Vec::with_capacity(len as usize);
                for i in 0..len {
                    let item = raw::get_element(env, value, i).map_err(js)?;
                    values.push(
                        to_sql(env, item)
                            .map_err(|e| e.in_parameter(&format!("parameter {}", i + 1)))?,
                    );
                }
                return Ok(Params::Positional(values));
            }
            if let Some(bytes) = raw::bytes_of(env, value).map_err(js)? {
                return Ok(Params::Positional(vec![Value::Blob(bytes)]));
            }
            if !is_plain_object(env, value)? {
                return Err(Failure::type_error(
                    "ERR_INVALID_ARG_TYPE",
                    "parameters must be an array (by position), a plain object (by name) or one value"
                        .to_string(),
                ));
            }
            let mut named = Vec::new();
            for (name, key) in raw::keys(env, value).map_err(js)? {
                let mut item = std::ptr::null_mut();
                // SAFETY: on the env's thread; `value` is an object.
                raw::check(
                    unsafe { sys::napi_get_property(env, value, key, &mut item) },
                    "napi_get_property",
                )
                .map_err(js)?;
                let converted = to_sql(env, item)
                    .map_err(|e| e.in_parameter(&format!("parameter {name:?}")))?;
                named.push((name, converted));
            }
            Ok(Params::Named(named))
        }
        _ => Ok(Params::Positional(vec![to_sql(env, value)?])),
    }
}

/// An object whose prototype is `Object.prototype` or null: what a caller
/// writes as `{ id: 1 }`. A Date, Map or class instance is not one.
fn is_plain_object(env: sys::napi_env, value: Raw) -> Result<bool, Failure> {
    let js = |e: napi::Error| Failure::from_napi(e);
    let mut proto = std::ptr::null_mut();
    // SAFETY: on the env's thread; `value` is an object.
    raw::check(
        unsafe { sys::napi_get_prototype(env, value, &mut proto) },
        "napi_get_prototype",
    )
    .map_err(js)?;
    if raw::type_of(env, proto).map_err(js)? == sys::ValueType::napi_null {
        return Ok(true);
    }
    let mut global = std::ptr::null_mut();
    // SAFETY: on the env's thread.
    raw::check(
        unsafe { sys::napi_get_global(env, &mut global) },
        "napi_get_global",
    )
    .map_err(js)?;
    let object = raw::get_named(env, global, "Object").map_err(js)?;
    let object_proto = raw::get_named(env, object, "prototype").map_err(js)?;
    let mut same = false;
    // SAFETY: on the env's thread.
    raw::check(
        unsafe { sys::napi_strict_equals(env, proto, object_proto, &mut same) },
        "napi_strict_equals",
    )
    .map_err(js)?;
    Ok(same)
}

/// One JavaScript value as a SQLite value (see the module comment).
pub(crate) fn to_sql(env: sys::napi_env, value: Raw) -> Result<Value, Failure> {
    let js = |e: napi::Error| Failure::from_napi(e);
    Ok(match raw::type_of(env, value).map_err(js)? {
        sys::ValueType::napi_undefined | sys::ValueType::napi_null => Value::Null,
        sys::ValueType::napi_boolean => {
            Value::Integer(i64::from(raw::get_bool(env, value).map_err(js)?))
        }
        sys::ValueType::napi_number => number(raw::get_double(env, value).map_err(js)?),
        sys::ValueType::napi_bigint => {
            let (n, lossless) = raw::get_bigint(env, value).map_err(js)?;
            if !lossless {
                return Err(Failure::range_error(
                    "ERR_OUT_OF_RANGE",
                    "a BigInt parameter must fit in 64 bits (SQLite's INTEGER)".to_string(),
                ));
            }
            Value::Integer(n)
        }
        sys::ValueType::napi_string => Value::Text(raw::get_string(env, value).map_err(js)?),
        sys::ValueType::napi_object => match raw::bytes_of(env, value).map_err(js)? {
            Some(bytes) => Value::Blob(bytes),
            None => {
                return Err(Failure::type_error(
                    "ERR_INVALID_ARG_TYPE",
                    "an object is not a SQLite value (use a Buffer or Uint8Array for a BLOB)"
                        .to_string(),
                ));
            }
        },
        other => {
            let kind = match other {
                sys::ValueType::napi_symbol => "a symbol",
                sys::ValueType::napi_function => "a function",
                _ => "this value",
            };
            return Err(Failure::type_error(
                "ERR_INVALID_ARG_TYPE",
                format!("{kind} is not a SQLite value"),
            ));
        }
    })
}

/// A `number` parameter: INTEGER when it is a safe integer other than −0,
/// so that `stmt.get([1])` passes an INTEGER to a UDF as a literal `1`
/// would; REAL otherwise.
pub(crate) fn number(n: f64) -> Value {
    let integral = n.fract() == 0.0 && n.abs() <= MAX_SAFE as f64;
    if integral && !(n == 0.0 && n.is_sign_negative()) {
        // Exact: |n| ≤ 2^53 − 1 and integral.
        Value::Integer(n as i64)
    } else {
        Value::Real(n)
    }
}

/// One SQLite value as a JavaScript value (see the module comment).
pub(crate) fn to_js(env: sys::napi_env, value: &Value, safe_integers: bool) -> napi::Result<Raw> {
    match value {
        Value::Null => raw::null(env),
        Value::Integer(i) => {
            if safe_integers || !(-MAX_SAFE..=MAX_SAFE).contains(i) {
                raw::bigint(env, *i)
            } else {
                raw::double(env, *i as f64)
            }
        }
        Value::Real(r) => raw::double(env, *r),
        Value::Text(s) => raw::string(env, s),
        Value::Blob(b) => raw::buffer(env, b),
    }
}

/// Result rows with their column names, read on a blocking thread and made
/// into JavaScript values on the JavaScript thread.
#[derive(Debug, Default)]
pub(crate) struct Rows {
    pub(crate) columns: Vec<String>,
    pub(crate) rows: Vec<Vec<Value>>,
}

/// The JavaScript shape of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// `{ column: value, ... }`; of columns with the same name the last wins.
    Object,
    /// `[value, ...]` in column order.
    Array,
}

impl Rows {
    /// Property keys for the column names, made once for all rows.
    fn keys(&self, env: sys::napi_env) -> napi::Result<Vec<Raw>> {
        self.columns.iter().map(|c| raw::string(env, c)).collect()
    }

    fn row(
        env: sys::napi_env,
        keys: &[Raw],
        values: &[Value],
        shape: Shape,
        safe_integers: bool,
    ) -> napi::Result<Raw> {
        match shape {
            Shape::Object => {
                let row = raw::object(env)?;
                for (key, value) in keys.iter().zip(values) {
                    raw::define(env, row, *key, to_js(env, value, safe_integers)?)?;
                }
                Ok(row)
            }
            Shape::Array => {
                let row = raw::array(env, values.len())?;
                for (i, value) in values.iter().enumerate() {
                    raw::set_element(env, row, i as u32, to_js(env, value, safe_integers)?)?;
                }
                Ok(row)
            }
        }
    }

    /// The first row, or `undefined` when there is none.
    pub(crate) fn first_to_js(
        &self,
        env: sys::napi_env,
        shape: Shape,
        safe_integers: bool,
    ) -> napi::Result<Raw> {
        match self.rows.first() {
            Some(values) => Rows::row(env, &self.keys(env)?, values, shape, safe_integers),
            None => raw::undefined(env),
        }
    }

    /// Every row, as an array.
    pub(crate) fn to_js(
        &self,
        env: sys::napi_env,
        shape: Shape,
        safe_integers: bool,
    ) -> napi::Result<Raw> {
        let keys = self.keys(env)?;
        let out = raw::array(env, self.rows.len())?;
        for (i, values) in self.rows.iter().enumerate() {
            let row = Rows::row(env, &keys, values, shape, safe_integers)?;
            raw::set_element(env, out, i as u32, row)?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_bind_as_integers_only_when_exact() {
        assert_eq!(number(1.0), Value::Integer(1));
        assert_eq!(number(-9_007_199_254_740_991.0), Value::Integer(-MAX_SAFE));
        assert_eq!(
            number(9_007_199_254_740_992.0),
            Value::Real(9_007_199_254_740_992.0)
        );
        assert_eq!(number(0.5), Value::Real(0.5));
        assert_eq!(number(0.0), Value::Integer(0));
        match number(-0.0) {
            Value::Real(r) => assert!(r == 0.0 && r.is_sign_negative()),
            other => panic!("-0 must stay REAL, got {other:?}"),
        }
        assert!(matches!(number(f64::INFINITY), Value::Real(r) if r.is_infinite()));
        assert!(matches!(number(f64::NAN), Value::Real(r) if r.is_nan()));
    }
}
