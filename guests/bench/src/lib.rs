//! A test and benchmark guest: small scalars and an aggregate that exercise
//! each value type and each call path.

use wasmudf_guest::{Aggregate, Error, Flags, Mergeable};

/// `add1(x INTEGER) -> INTEGER`: `x + 1`, wrapping.
#[wasmudf_guest::scalar(deterministic)]
pub fn add1(x: i64) -> i64 {
    x.wrapping_add(1)
}

/// `addf(x REAL) -> REAL`: `x + 1.0`.
#[wasmudf_guest::scalar(deterministic)]
pub fn addf(x: f64) -> f64 {
    x + 1.0
}

/// `upper_ascii(x TEXT) -> TEXT`: ASCII uppercase.
#[wasmudf_guest::scalar(deterministic)]
pub fn upper_ascii(x: &str) -> String {
    x.to_ascii_uppercase()
}

/// `blob_rev(x BLOB) -> BLOB`: the bytes reversed.
#[wasmudf_guest::scalar(deterministic)]
pub fn blob_rev(x: &[u8]) -> Vec<u8> {
    x.iter().rev().copied().collect()
}

/// `add3(a, b, c INTEGER) -> INTEGER`: `a + b + c`, wrapping.
#[wasmudf_guest::scalar(deterministic)]
pub fn add3(a: i64, b: i64, c: i64) -> i64 {
    a.wrapping_add(b).wrapping_add(c)
}

/// `sum_i(x INTEGER)`: the wrapping sum of the non-NULL values, 0 for none.
#[derive(Debug, Default)]
pub struct SumI(i64);

impl Aggregate for SumI {
    const NAME: &'static str = "sum_i";
    const FLAGS: Flags = Flags::DETERMINISTIC;
    type Args<'a> = (i64,);
    type Output = i64;

    fn step(&mut self, (x,): (i64,)) -> Result<(), Error> {
        self.0 = self.0.wrapping_add(x);
        Ok(())
    }

    fn finalize(self) -> Result<i64, Error> {
        Ok(self.0)
    }
}

/// The state is the sum's 8 bytes.
impl Mergeable for SumI {
    fn serialize(&self) -> Result<Vec<u8>, Error> {
        Ok(self.0.to_le_bytes().to_vec())
    }
    fn deserialize(bytes: &[u8]) -> Result<Self, Error> {
        Ok(SumI(i64_state(bytes)?))
    }
    fn merge(&mut self, other: Self) -> Result<(), Error> {
        self.0 = self.0.wrapping_add(other.0);
        Ok(())
    }
}

fn i64_state(bytes: &[u8]) -> Result<i64, Error> {
    bytes
        .try_into()
        .map(i64::from_le_bytes)
        .map_err(|_| Error::new("not a serialized state of this function"))
}

/// `count_rows()`: an aggregate of no arguments, the number of rows.
#[derive(Debug, Default)]
pub struct CountRows(i64);

impl Aggregate for CountRows {
    const NAME: &'static str = "count_rows";
    const FLAGS: Flags = Flags::DETERMINISTIC;
    type Args<'a> = ();
    type Output = i64;

    fn step(&mut self, (): ()) -> Result<(), Error> {
        self.0 += 1;
        Ok(())
    }

    fn finalize(self) -> Result<i64, Error> {
        Ok(self.0)
    }
}

/// The state is the count's 8 bytes.
impl Mergeable for CountRows {
    fn serialize(&self) -> Result<Vec<u8>, Error> {
        Ok(self.0.to_le_bytes().to_vec())
    }
    fn deserialize(bytes: &[u8]) -> Result<Self, Error> {
        Ok(CountRows(i64_state(bytes)?))
    }
    fn merge(&mut self, other: Self) -> Result<(), Error> {
        self.0 += other.0;
        Ok(())
    }
}

wasmudf_guest::export! {
    scalars: [add1, addf, upper_ascii, blob_rev, add3],
    aggregates: [SumI: mergeable, CountRows: mergeable],
}
