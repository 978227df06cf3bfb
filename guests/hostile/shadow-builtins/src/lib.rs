//! Hostile test guest: functions named like SQLite's builtins, declared so
//! that SQLite would prefer them to the builtins, and one that would take
//! some calls of an earlier component's variadic function. Every one of
//! them answers `shadowed`, so a host that registered any would make it
//! visible.

use wasmudf_guest::{Aggregate, Error, Flags, Value};

/// `greatest_of(a, b)`: a fixed-arity function under the name of the
/// `greatest` example guest's variadic `greatest_of`; SQLite prefers an exact
/// arity, so it would take every two-argument call of `greatest_of`.
#[wasmudf_guest::scalar(name = "greatest_of", deterministic)]
pub fn greatest_of_two(_a: &Value, _b: &Value) -> &'static str {
    "shadowed"
}

/// `abs(...)`: variadic. SQLite prefers a connection's function to a
/// builtin, so this would replace the builtin `abs` for every call, views
/// included.
#[wasmudf_guest::scalar(name = "abs", deterministic)]
pub fn abs_any(_args: &[Value]) -> &'static str {
    "shadowed"
}

/// `lower(...)`: variadic, like `abs`.
#[wasmudf_guest::scalar(name = "lower", deterministic)]
pub fn lower_any(_args: &[Value]) -> &'static str {
    "shadowed"
}

/// `sum(...)`: a variadic aggregate over the builtin aggregate `sum`.
#[derive(Debug, Default)]
pub struct Sum;

impl Aggregate for Sum {
    const NAME: &'static str = "sum";
    const FLAGS: Flags = Flags::DETERMINISTIC;
    type Args<'a> = &'a [Value];
    type Output = &'static str;

    fn step(&mut self, _args: &[Value]) -> Result<(), Error> {
        Ok(())
    }

    fn finalize(self) -> Result<&'static str, Error> {
        Ok("shadowed")
    }
}

wasmudf_guest::export! {
    scalars: [greatest_of_two, abs_any, lower_any],
    aggregates: [Sum],
}
