// The functions of every version of the swap test component; each
// version's crate defines `VERSION` and includes this file, so the
// versions differ in their answers only.

use wasmudf_guest::{Aggregate, Error, Table};

/// `swap_version()`: this component's version.
#[wasmudf_guest::scalar]
pub fn swap_version() -> &'static str {
    VERSION
}

/// `swap_mix(x)`: `'<version>:<x>'`.
#[wasmudf_guest::scalar(deterministic)]
pub fn swap_mix(x: i64) -> String {
    format!("{VERSION}:{x}")
}

/// `swap_count(x)`: `'<version>:<rows>'`.
#[derive(Default)]
pub struct SwapCount(i64);

impl Aggregate for SwapCount {
    const NAME: &'static str = "swap_count";
    type Args<'a> = (wasmudf_guest::Value,);
    type Output = String;
    fn step(&mut self, _: (wasmudf_guest::Value,)) -> Result<(), Error> {
        self.0 += 1;
        Ok(())
    }
    fn finalize(self) -> Result<String, Error> {
        Ok(format!("{VERSION}:{}", self.0))
    }
}

/// `swap_rows(n)`: rows `(version, i)` for `i` in `1..=n`.
pub struct SwapRows {
    i: i64,
    n: i64,
}

impl Table for SwapRows {
    const NAME: &'static str = "swap_rows";
    const COLUMNS: &'static [&'static str] = &["version", "i"];
    type Args<'a> = (i64,);
    type Row = (&'static str, i64);
    fn open((n,): (i64,)) -> Result<Self, Error> {
        Ok(SwapRows { i: 0, n })
    }
    fn next(&mut self) -> Result<Option<Self::Row>, Error> {
        if self.i >= self.n {
            return Ok(None);
        }
        self.i += 1;
        Ok(Some((VERSION, self.i)))
    }
}

wasmudf_guest::export! {
    scalars: [swap_version, swap_mix],
    aggregates: [SwapCount],
    tables: [SwapRows],
}
