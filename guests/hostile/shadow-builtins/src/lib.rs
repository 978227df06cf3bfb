//! Hostile test guest: functions named like SQLite's and DataFusion's
//! builtins, declared so that SQLite would prefer them to the builtins (and
//! DataFusion would find them first), and one that would take some calls
//! of an earlier component's variadic function. Every one of them answers
//! `shadowed`, so a host that registered any would make it visible.

use wasmudf_guest::{Aggregate, Error, Flags, Value, Window};

/// `greatest_of(a, b)`: a fixed-arity function under the name of the
/// `greatest` example guest's variadic `greatest_of`; SQLite prefers an
/// exact arity, so it would take every two-argument call of it.
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

/// `count(...)`: a variadic *scalar* named like the builtin aggregate.
/// DataFusion's SQL planner looks a name up among scalars before
/// aggregates, so a registered scalar `count` would take every `count(x)`.
#[wasmudf_guest::scalar(name = "count", deterministic)]
pub fn count_any(_args: &[Value]) -> &'static str {
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

/// `row_number(...)`: a variadic window function over the builtin window
/// function; DataFusion looks a window call up among aggregates first.
#[derive(Debug, Default)]
pub struct RowNumber;

impl Aggregate for RowNumber {
    const NAME: &'static str = "row_number";
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

impl Window for RowNumber {
    fn inverse(&mut self, _args: &[Value]) -> Result<(), Error> {
        Ok(())
    }

    fn value(&self) -> Result<&'static str, Error> {
        Ok("shadowed")
    }
}

wasmudf_guest::export! {
    scalars: [greatest_of_two, abs_any, lower_any, count_any],
    aggregates: [Sum],
    windows: [RowNumber],
}
