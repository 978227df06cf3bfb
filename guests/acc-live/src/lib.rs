//! A test guest that counts its live accumulators, so the host's tests can
//! see whether every accumulator it created was finished or dropped:
//! `count_live(x)` and `live_accumulators()`.

use std::sync::atomic::{AtomicI64, Ordering};

use wasmudf_guest::{Aggregate, Error, Flags, Value, Window};

/// `count_live` accumulators created and not yet dropped, in this
/// instance.
static LIVE: AtomicI64 = AtomicI64::new(0);

/// `count_live(x)`: the number of rows in the group or window frame, of any
/// type and size (NULL included). Fails with `asked to fail` on a row
/// whose `x` is the INTEGER -1. Each accumulator is counted in `LIVE` from
/// its creation to its drop.
#[derive(Debug)]
pub struct CountLive(i64);

impl Default for CountLive {
    fn default() -> Self {
        LIVE.fetch_add(1, Ordering::Relaxed);
        CountLive(0)
    }
}

impl Drop for CountLive {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Aggregate for CountLive {
    const NAME: &'static str = "count_live";
    const FLAGS: Flags = Flags::DETERMINISTIC;
    type Args<'a> = (&'a Value,);
    type Output = i64;

    fn step(&mut self, (x,): (&Value,)) -> Result<(), Error> {
        if *x == Value::Integer(-1) {
            return Err(Error::new("asked to fail"));
        }
        self.0 += 1;
        Ok(())
    }

    fn finalize(self) -> Result<i64, Error> {
        Ok(self.0)
    }
}

impl Window for CountLive {
    fn inverse(&mut self, _: (&Value,)) -> Result<(), Error> {
        self.0 -= 1;
        Ok(())
    }

    fn value(&self) -> Result<i64, Error> {
        Ok(self.0)
    }
}

/// `live_accumulators()`: how many `count_live` accumulators are alive in
/// this instance. An aggregate, so that it runs in the same instance as
/// `count_live` (a scalar could run in the host's separate direct-path
/// instance); deterministic like `count_live`, for the same reason.
#[derive(Debug, Default)]
pub struct LiveAccumulators;

impl Aggregate for LiveAccumulators {
    const NAME: &'static str = "live_accumulators";
    const FLAGS: Flags = Flags::DETERMINISTIC;
    type Args<'a> = ();
    type Output = i64;

    fn step(&mut self, (): ()) -> Result<(), Error> {
        Ok(())
    }

    fn finalize(self) -> Result<i64, Error> {
        Ok(LIVE.load(Ordering::Relaxed))
    }
}

wasmudf_guest::export! {
    aggregates: [LiveAccumulators],
    windows: [CountLive],
}
