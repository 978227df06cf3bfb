//! Variadic `greatest_of(...)`: the largest numeric argument.

use std::cmp::Ordering;

use wasmudf_guest::{Error, Value};

/// `greatest_of(...)`: the largest non-NULL INTEGER or REAL argument, with its
/// own type; NULL when there is none. TEXT or BLOB is an error.
#[wasmudf_guest::scalar(deterministic)]
pub fn greatest_of(args: &[Value]) -> Result<Value, Error> {
    let mut best: Option<&Value> = None;
    for (i, v) in args.iter().enumerate() {
        match v {
            Value::Null => {}
            Value::Integer(_) | Value::Real(_) => {
                if best.is_none_or(|b| compare(v, b) == Ordering::Greater) {
                    best = Some(v);
                }
            }
            other => return Err(Error::mismatch("numeric", other).at_arg(i + 1)),
        }
    }
    Ok(best.cloned().unwrap_or(Value::Null))
}

/// Compares two numeric values exactly (an i64 against an f64 without
/// rounding the integer). NaN compares below everything.
pub fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Integer(x), Value::Integer(y)) => x.cmp(y),
        (Value::Real(x), Value::Real(y)) => cmp_f64(*x, *y),
        (Value::Integer(x), Value::Real(y)) => cmp_int_real(*x, *y),
        (Value::Real(x), Value::Integer(y)) => cmp_int_real(*y, *x).reverse(),
        _ => Ordering::Equal,
    }
}

fn cmp_f64(x: f64, y: f64) -> Ordering {
    match (x.is_nan(), y.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
    }
}

/// Compares integer `i` with real `r` exactly.
fn cmp_int_real(i: i64, r: f64) -> Ordering {
    if r.is_nan() {
        return Ordering::Greater;
    }
    // 2^63 as f64 is exact; every i64 is below it and at least -2^63.
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if r >= TWO_63 {
        return Ordering::Less;
    }
    if r < -TWO_63 {
        return Ordering::Greater;
    }
    // Now trunc(r) fits in an i64 exactly.
    let t = r.trunc();
    let ti = t as i64;
    match i.cmp(&ti) {
        Ordering::Equal => {
            // Same integer part: the fraction decides.
            if r > t {
                Ordering::Less
            } else if r < t {
                Ordering::Greater
            } else {
                Ordering::Equal
            }
        }
        o => o,
    }
}

wasmudf_guest::export! {
    scalars: [greatest_of],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_largest_with_type() {
        let args = [
            Value::Integer(3),
            Value::Null,
            Value::Real(2.5),
            Value::Integer(7),
        ];
        assert_eq!(greatest_of(&args).unwrap(), Value::Integer(7));
        let args = [Value::Integer(3), Value::Real(3.5)];
        assert_eq!(greatest_of(&args).unwrap(), Value::Real(3.5));
        assert_eq!(greatest_of(&[]).unwrap(), Value::Null);
        assert_eq!(greatest_of(&[Value::Null]).unwrap(), Value::Null);
    }

    #[test]
    fn exact_comparison() {
        // 2^53 + 1 is not representable as f64; it is greater than 2^53.
        let big = (1i64 << 53) + 1;
        let args = [Value::Real((1u64 << 53) as f64), Value::Integer(big)];
        assert_eq!(greatest_of(&args).unwrap(), Value::Integer(big));
        assert_eq!(cmp_int_real(i64::MAX, 9.3e18), Ordering::Less);
        assert_eq!(cmp_int_real(-1, -0.5), Ordering::Less);
        assert_eq!(cmp_int_real(0, -0.5), Ordering::Greater);
    }

    #[test]
    fn text_is_an_error() {
        let args = [Value::Integer(1), Value::Text("x".into())];
        assert_eq!(
            greatest_of(&args).unwrap_err().to_string(),
            "argument 2 must be numeric, got TEXT"
        );
    }
}
