//! Statistics: the aggregate `median_of(x)` and the window function `sumsq(x)`.

use wasmudf_guest::{Aggregate, Error, Flags, FromValue, Mergeable, Value, Window};

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

/// `median_of(x)`: the REAL median of the non-NULL numeric values (the mean of
/// the two middle values for an even count); NULL for none. (Not named
/// `median`: DataFusion has a builtin aggregate of that name.)
#[derive(Debug, Default)]
pub struct Median {
    values: Vec<f64>,
}

impl Aggregate for Median {
    const NAME: &'static str = "median_of";
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

/// The state is the values themselves (8 bytes each), so that groups split
/// across partitions (DataFusion, Ballista) merge into the same median.
impl Mergeable for Median {
    fn serialize(&self) -> Result<Vec<u8>, Error> {
        Ok(self.values.iter().flat_map(|v| v.to_le_bytes()).collect())
    }

    fn deserialize(bytes: &[u8]) -> Result<Self, Error> {
        let chunks = bytes.chunks_exact(8);
        if !chunks.remainder().is_empty() {
            return Err(bad_state("median_of"));
        }
        Ok(Median {
            values: chunks
                .map(|c| f64::from_le_bytes(c.try_into().unwrap_or_default()))
                .collect(),
        })
    }

    fn merge(&mut self, other: Self) -> Result<(), Error> {
        self.values.extend(other.values);
        Ok(())
    }
}

fn bad_state(name: &str) -> Error {
    Error::new(format!("{name}: not a serialized state of this function"))
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

/// 40 bytes: the counts, then the exact and the REAL sums.
impl Mergeable for SumSq {
    fn serialize(&self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::with_capacity(40);
        out.extend(self.count.to_le_bytes());
        out.extend(self.reals.to_le_bytes());
        out.extend(self.int_sum.to_le_bytes());
        out.extend(self.real_sum.to_le_bytes());
        Ok(out)
    }

    fn deserialize(bytes: &[u8]) -> Result<Self, Error> {
        let bytes: &[u8; 40] = bytes.try_into().map_err(|_| bad_state("sumsq"))?;
        let (count, rest) = bytes.split_at(8);
        let (reals, rest) = rest.split_at(8);
        let (int_sum, real_sum) = rest.split_at(16);
        let fixed = |b: &[u8]| -> [u8; 8] { b.try_into().unwrap_or_default() };
        Ok(SumSq {
            count: u64::from_le_bytes(fixed(count)),
            reals: u64::from_le_bytes(fixed(reals)),
            int_sum: i128::from_le_bytes(int_sum.try_into().unwrap_or_default()),
            real_sum: f64::from_le_bytes(fixed(real_sum)),
        })
    }

    fn merge(&mut self, other: Self) -> Result<(), Error> {
        self.count += other.count;
        self.reals += other.reals;
        self.int_sum = self
            .int_sum
            .checked_add(other.int_sum)
            .ok_or_else(overflow)?;
        self.real_sum += other.real_sum;
        Ok(())
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
    aggregates: [Median: mergeable],
    windows: [SumSq: mergeable],
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

    /// Stepping a group in two parts and merging them gives what stepping it
    /// whole gives, for every split point.
    #[test]
    fn split_groups_merge_to_the_whole() {
        let xs = [
            Num::Int(3),
            Num::Real(0.5),
            Num::Int(-7),
            Num::Real(2.25),
            Num::Int(1),
        ];
        for cut in 0..=xs.len() {
            let (mut whole_sq, mut whole_med) = (SumSq::default(), Median::default());
            let (mut a_sq, mut a_med) = (SumSq::default(), Median::default());
            let (mut b_sq, mut b_med) = (SumSq::default(), Median::default());
            for (i, &x) in xs.iter().enumerate() {
                whole_sq.step((x,)).unwrap();
                whole_med.step((x,)).unwrap();
                let (sq, med) = if i < cut {
                    (&mut a_sq, &mut a_med)
                } else {
                    (&mut b_sq, &mut b_med)
                };
                sq.step((x,)).unwrap();
                med.step((x,)).unwrap();
            }
            a_sq.merge(SumSq::deserialize(&b_sq.serialize().unwrap()).unwrap())
                .unwrap();
            a_med
                .merge(Median::deserialize(&b_med.serialize().unwrap()).unwrap())
                .unwrap();
            assert_eq!(
                a_sq.finalize().unwrap(),
                whole_sq.finalize().unwrap(),
                "cut {cut}"
            );
            assert_eq!(
                a_med.finalize().unwrap(),
                whole_med.finalize().unwrap(),
                "cut {cut}"
            );
        }
        assert!(SumSq::deserialize(&[0; 39]).is_err());
        assert!(Median::deserialize(&[0; 9]).is_err());
    }

    #[test]
    fn sumsq_overflow() {
        let mut s = SumSq::default();
        s.step((Num::Int(i64::MAX),)).unwrap();
        assert_eq!(s.finalize().unwrap_err().to_string(), "integer overflow");
    }
}
