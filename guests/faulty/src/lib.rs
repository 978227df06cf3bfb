//! A test guest that fails on demand: `trap_if(x)` and `add1(x)`; and
//! `noisy_sum(x)`, a window function that writes to stderr when it sees 7.

use wasmudf_guest::{Aggregate, Error, Flags, Window};

/// `trap_if(x INTEGER)`: traps (a Rust panic) when `x` = 1, returns the
/// guest error `asked to fail` when `x` = 2, otherwise returns `x`.
#[wasmudf_guest::scalar]
pub fn trap_if(x: i64) -> Result<i64, Error> {
    match x {
        1 => panic!("trap_if asked to trap"),
        2 => Err(Error::new("asked to fail")),
        _ => Ok(x),
    }
}

/// `add1(x INTEGER) -> INTEGER`: `x + 1`, wrapping.
#[wasmudf_guest::scalar(deterministic)]
pub fn add1(x: i64) -> i64 {
    x.wrapping_add(1)
}

/// `spell(x INTEGER) -> TEXT`: `x` in decimal. A numeric argument with a
/// TEXT result: the host's fast path must fetch the result it deferred.
#[wasmudf_guest::scalar(deterministic)]
pub fn spell(x: i64) -> String {
    x.to_string()
}

/// `wall_clock_ns()`: nanoseconds since the Unix epoch, as the guest sees
/// the wall clock. Not deterministic.
#[wasmudf_guest::scalar]
pub fn wall_clock_ns() -> i64 {
    clock_ns()
}

/// `frozen_clock_ns()`: the same reading, from a function declared
/// deterministic, which the host must give a stopped clock.
#[wasmudf_guest::scalar(deterministic)]
pub fn frozen_clock_ns() -> i64 {
    clock_ns()
}

fn clock_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(-1, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// `noisy_sum(x INTEGER)`: the sum of the frame or group, wrapping. Each
/// row whose `x` is 7 (added or removed), and a `value` or `finalize` whose
/// sum is 7, writes a line to stderr: a call that needs the host in the
/// middle of a group.
#[derive(Debug, Default)]
pub struct NoisySum(i64);

fn note(x: i64, what: &str) {
    if x == 7 {
        eprintln!("noisy_sum: {what} 7");
    }
}

impl Aggregate for NoisySum {
    const NAME: &'static str = "noisy_sum";
    const FLAGS: Flags = Flags::DETERMINISTIC;
    type Args<'a> = (i64,);
    type Output = i64;

    fn step(&mut self, (x,): (i64,)) -> Result<(), Error> {
        note(x, "added");
        self.0 = self.0.wrapping_add(x);
        Ok(())
    }

    fn finalize(self) -> Result<i64, Error> {
        note(self.0, "finished at");
        Ok(self.0)
    }
}

impl Window for NoisySum {
    fn inverse(&mut self, (x,): (i64,)) -> Result<(), Error> {
        note(x, "removed");
        self.0 = self.0.wrapping_sub(x);
        Ok(())
    }

    fn value(&self) -> Result<i64, Error> {
        note(self.0, "valued at");
        Ok(self.0)
    }
}

wasmudf_guest::export! {
    scalars: [trap_if, add1, spell, wall_clock_ns, frozen_clock_ns],
    windows: [NoisySum],
}
