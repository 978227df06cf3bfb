//! Statistics: the aggregate `median(x)` and the window function `sumsq(x)`.

use wasmudf_guest::{Aggregate, Error, Flags, FromValue, Value, Window};

/// A numeric argument: INTEGER or REAL. TEXT and BLOB are errors
/// (`argument 1 must be numeric, got TEXT`); NULL rows are skipped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    /// An INTEGER.
    Int(i64),
    /// A REAL.
    Real(f64),
}

impl<'a> FromValue<'a> for Num {
    fn from_value(v: &'a Value) -> Result<Self, Error> {
        match v {
            Value::Integer(i) => Ok(Num::Int(*i)),
            Value::Real(r) => Ok(Num::Real(*r)),
            other => Err(Error::mismatch("numeric", other)),
        }
    }
}

impl Num {
    fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Real(r) => r,
        }
    }
}

/// `median(x)`: the REAL median of the non-NULL numeric values (the mean of
/// the two middle values for an even count); NULL for none.
#[derive(Debug, Default)]
pub struct Median {
    values: Vec<f64>,
}

impl Aggregate for Median {
    const NAME: &'static str = "median";
    const FLAGS: Flags = Flags::DETERMINISTIC;
    type Args<'a> = (Num,);
    type Output = Option<f64>;

    fn step(&mut self, (x,): (Num,)) -> Result<(), Error> {
        self.values.push(x.as_f64());
        Ok(())
    }

    fn finalize(mut self) -> Result<Option<f64>, Error> {
        Ok(median(&mut self.values))
    }
}

/// The median of `values` (reordered), `None` when empty.
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        values[n / 2 - 1] / 2.0 + values[n / 2] / 2.0
    })
}

/// `sumsq(x)`: the sum of squares of the non-NULL values in the group or
/// frame. INTEGER when every value in it is an INTEGER (an error `integer
/// overflow` when the sum leaves the i64 range), REAL when any REAL is in it,
/// NULL when it has no non-NULL value.
#[derive(Debug, Default)]
pub struct SumSq {
    /// Non-NULL rows in the frame.
    count: u64,
    /// REAL rows in the frame.
    reals: u64,
    /// The exact sum of the squares of the INTEGER rows.
    int_sum: i128,
    /// The sum of the squares of the REAL rows.
    real_sum: f64,
}

fn overflow() -> Error {
    Error::new("integer overflow")
}

impl SumSq {
    /// Adds (`sign` = 1) or removes (`sign` = -1) one value.
    fn apply(&mut self, x: Num, add: bool) -> Result<(), Error> {
        match x {
            Num::Int(i) => {
                let sq = i128::from(i) * i128::from(i);
                self.int_sum = if add {
                    self.int_sum.checked_add(sq)
                } else {
                    self.int_sum.checked_sub(sq)
                }
                .ok_or_else(overflow)?;
            }
            Num::Real(r) => {
                if add {
                    self.reals += 1;
                    self.real_sum += r * r;
                } else {
                    self.reals = self.reals.saturating_sub(1);
                    self.real_sum -= r * r;
                    if self.reals == 0 {
                        // Drop the rounding residue of the removals.
                        self.real_sum = 0.0;
                    }
                }
            }
        }
        if add {
            self.count += 1;
        } else {
            self.count = self.count.saturating_sub(1);
        }
        Ok(())
    }

    /// The current result.
    pub fn current(&self) -> Result<Value, Error> {
        if self.count == 0 {
            Ok(Value::Null)
        } else if self.reals > 0 {
            Ok(Value::Real(self.int_sum as f64 + self.real_sum))
        } else {
            i64::try_from(self.int_sum)
                .map(Value::Integer)
                .map_err(|_| overflow())
        }
    }
}

impl Aggregate for SumSq {
    const NAME: &'static str = "sumsq";
    const FLAGS: Flags = Flags::DETERMINISTIC;
    type Args<'a> = (Num,);
    type Output = Value;

    fn step(&mut self, (x,): (Num,)) -> Result<(), Error> {
        self.apply(x, true)
    }

    fn finalize(self) -> Result<Value, Error> {
        self.current()
    }
}

impl Window for SumSq {
    fn inverse(&mut self, (x,): (Num,)) -> Result<(), Error> {
        self.apply(x, false)
    }

    fn value(&self) -> Result<Value, Error> {
        self.current()
    }
}

wasmudf_guest::export! {
    aggregates: [Median],
    windows: [SumSq],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0]), Some(3.0));
        assert_eq!(median(&mut [4.0, 1.0]), Some(2.5));
        assert_eq!(median(&mut [5.0, 1.0, 3.0]), Some(3.0));
    }

    #[test]
    fn sumsq_window() {
        let mut s = SumSq::default();
        assert_eq!(s.value().unwrap(), Value::Null);
        s.step((Num::Int(3),)).unwrap();
        s.step((Num::Int(4),)).unwrap();
        assert_eq!(s.value().unwrap(), Value::Integer(25));
        s.step((Num::Real(0.5),)).unwrap();
        assert_eq!(s.value().unwrap(), Value::Real(25.25));
        s.inverse((Num::Int(3),)).unwrap();
        s.inverse((Num::Real(0.5),)).unwrap();
        assert_eq!(s.value().unwrap(), Value::Integer(16));
        s.inverse((Num::Int(4),)).unwrap();
        assert_eq!(s.value().unwrap(), Value::Null);
    }

    #[test]
    fn sumsq_overflow() {
        let mut s = SumSq::default();
        s.step((Num::Int(i64::MAX),)).unwrap();
        assert_eq!(s.finalize().unwrap_err().to_string(), "integer overflow");
    }
}
