//! A test guest of table functions that count, never end, spin, fail and
//! trap on demand, and report how many of their calls are still open and
//! how many rows they have produced, so the host's tests can see when it
//! drops a cursor and how far ahead of SQLite it reads. Nothing here is
//! deterministic, so every function shares one instance (the host gives
//! deterministic functions an instance of their own).

use std::cell::Cell;

use wasmudf_guest::{Error, Table};

thread_local! {
    /// Calls of `tt_count` and `tt_forever` whose state is alive.
    static OPEN: Cell<i64> = const { Cell::new(0) };
    /// Rows produced by every call so far.
    static PRODUCED: Cell<i64> = const { Cell::new(0) };
}

/// Counts an open call for as long as it lives.
struct Open;

impl Open {
    fn new() -> Open {
        OPEN.with(|o| o.set(o.get() + 1));
        Open
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        OPEN.with(|o| o.set(o.get() - 1));
    }
}

fn produced() {
    PRODUCED.with(|p| p.set(p.get() + 1));
}

/// `tt_count(n)`: rows `1..=n` in column `value`.
pub struct Count {
    next: i64,
    n: i64,
    _open: Open,
}

impl Table for Count {
    const NAME: &'static str = "tt_count";
    const COLUMNS: &'static [&'static str] = &["value"];
    type Args<'a> = (i64,);
    type Row = (i64,);
    fn open((n,): (i64,)) -> Result<Self, Error> {
        Ok(Count {
            next: 1,
            n,
            _open: Open::new(),
        })
    }
    fn next(&mut self) -> Result<Option<(i64,)>, Error> {
        if self.next > self.n {
            return Ok(None);
        }
        self.next += 1;
        produced();
        Ok(Some((self.next - 1,)))
    }
}

/// `tt_forever()`: rows `1, 2, 3, ...` that never end.
pub struct Forever {
    next: i64,
    _open: Open,
}

impl Table for Forever {
    const NAME: &'static str = "tt_forever";
    const COLUMNS: &'static [&'static str] = &["value"];
    type Args<'a> = ();
    type Row = (i64,);
    fn open((): ()) -> Result<Self, Error> {
        Ok(Forever {
            next: 0,
            _open: Open::new(),
        })
    }
    fn next(&mut self) -> Result<Option<(i64,)>, Error> {
        self.next += 1;
        produced();
        Ok(Some((self.next,)))
    }
}

/// `tt_misbehave(n, how)`: rows `1..=n`, then: `'spin'` loops forever,
/// `'fail'` returns the guest error `failed after N rows`, `'trap'`
/// panics, `'big'` yields one more row of 1 MiB of text; anything else
/// ends.
pub struct Misbehave {
    next: i64,
    n: i64,
    how: String,
}

impl Table for Misbehave {
    const NAME: &'static str = "tt_misbehave";
    const COLUMNS: &'static [&'static str] = &["value", "note"];
    type Args<'a> = (i64, &'a str);
    type Row = (i64, Option<String>);
    fn open((n, how): (i64, &str)) -> Result<Self, Error> {
        if how == "open" {
            return Err(Error::new("refused to open"));
        }
        Ok(Misbehave {
            next: 1,
            n,
            how: how.to_owned(),
        })
    }
    fn next(&mut self) -> Result<Option<Self::Row>, Error> {
        if self.next <= self.n {
            self.next += 1;
            return Ok(Some((self.next - 1, None)));
        }
        match self.how.as_str() {
            "spin" => {
                let mut x: u64 = 0;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
            "fail" => Err(Error::new(format!("failed after {} rows", self.n))),
            "trap" => panic!("tt_misbehave asked to trap"),
            "big" if self.next == self.n + 1 => {
                self.next += 1;
                Ok(Some((self.next - 1, Some("x".repeat(1 << 20)))))
            }
            _ => Ok(None),
        }
    }
}

/// `tt_open()`: how many `tt_count` and `tt_forever` calls of this
/// instance are still open.
#[wasmudf_guest::scalar]
pub fn tt_open() -> i64 {
    OPEN.with(Cell::get)
}

/// `tt_produced()`: how many rows every table function of this instance
/// has produced.
#[wasmudf_guest::scalar]
pub fn tt_produced() -> i64 {
    PRODUCED.with(Cell::get)
}

wasmudf_guest::export! {
    scalars: [tt_open, tt_produced],
    tables: [Count, Forever, Misbehave],
}
