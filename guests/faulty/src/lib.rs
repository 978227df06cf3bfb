//! A test guest that fails on demand: `trap_if(x)` and `add1(x)`.

use wasmudf_guest::Error;

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

wasmudf_guest::export! {
    scalars: [trap_if, add1, spell, wall_clock_ns, frozen_clock_ns],
}
