//! Hostile test guest: the aggregate `spin_final(x)`, whose `step` behaves
//! and whose finalize never returns.

use core::hint::black_box;
use wasmudf_guest::{Aggregate, Error, Value};

/// `spin_final(x)`: counts its rows (any storage class, NULL included) in
/// `step`, then loops forever when the group is finalized.
#[derive(Debug, Default)]
pub struct SpinFinal {
    rows: u64,
}

impl Aggregate for SpinFinal {
    const NAME: &'static str = "spin_final";
    type Args<'a> = (Value,);
    type Output = i64;

    fn step(&mut self, _x: (Value,)) -> Result<(), Error> {
        self.rows += 1;
        Ok(())
    }

    fn finalize(self) -> Result<i64, Error> {
        let mut n = self.rows;
        loop {
            n = black_box(n.wrapping_add(1));
        }
    }
}

wasmudf_guest::export! {
    aggregates: [SpinFinal],
}
