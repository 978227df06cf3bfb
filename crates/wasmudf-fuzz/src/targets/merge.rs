//! Serialized accumulator states fed to `merge` through the public
//! `Instance` API: the stats example's mergeable `median` and `sumsq` (the
//! states a Ballista executor or a DataFusion partition receives), given
//! genuine states, genuine states with bytes changed, and any bytes.
//! Whatever the bytes, the answer is a value or an error; merging genuine
//! states answers what stepping every row in one accumulator answers.

use arbitrary::Arbitrary;
use wasmudf::{Column, ColumnRef, Instance};
use crate::{guest, ok, same_value};

#[derive(Debug, Arbitrary)]
enum State {
    /// The state of an accumulator that stepped these rows.
    Genuine(Vec<Option<i32>>),
    /// The same, with bytes changed: (position, new byte).
    Changed(Vec<Option<i32>>, Vec<(u16, u8)>),
    /// Any bytes.
    Raw(Vec<u8>),
}

/// One input, as `arbitrary` makes it from the fuzzer's bytes.
#[derive(Debug, Arbitrary)]
pub struct Input {
    sumsq: bool,
    reals: bool,
    /// Rows the receiving accumulator steps itself.
    own: Vec<Option<i32>>,
    states: Vec<State>,
    /// Serialize the receiver again half way (its state must still merge).
    reserialize: bool,
}

fn column(rows: &[Option<i32>], reals: bool) -> Column {
    let valid = rows.iter().enumerate().fold(vec![0u8; rows.len().div_ceil(8)], |mut bits, (i, r)| {
        if r.is_some() {
            bits[i / 8] |= 1 << (i % 8);
        }
        bits
    });
    let valid = rows.iter().any(Option::is_none).then_some(valid);
    if reals {
        Column::Reals { data: rows.iter().map(|r| f64::from(r.unwrap_or(0)) / 4.0).collect(), valid }
    } else {
        Column::Integers { data: rows.iter().map(|r| i64::from(r.unwrap_or(0))).collect(), valid }
    }
}

/// An accumulator of `f` in `instance` that stepped `rows`.
fn stepped(
    instance: &mut Instance,
    f: usize,
    rows: &[Option<i32>],
    reals: bool,
) -> Option<wasmudf::Accumulator> {
    let acc = ok(instance.accumulator(f))?;
    let col = column(rows, reals);
    let arg: [ColumnRef<'_>; 1] = [col.as_ref()];
    ok(instance.step(&acc, &arg, rows.len()))?;
    Some(acc)
}

/// Runs one input; panics on a finding.
pub fn run(input: Input) {
    let stats = guest("stats");
    let (name, f) = if input.sumsq { ("sumsq", 1) } else { ("median", 0) };
    let f = stats.function_index(name, 1).unwrap_or(f);
    // States are made in one instance and merged in another, as partitions
    // and executors do.
    let mut source = stats.instance();
    let mut target = stats.instance();
    let Some(acc) = stepped(&mut target, f, &input.own, input.reals) else {
        return;
    };
    // Every row the genuine states carry, for the answer they must give.
    let mut all: Vec<Option<i32>> = input.own.clone();
    let mut genuine_only = true;
    for (i, state) in input.states.iter().enumerate() {
        let bytes = match state {
            State::Genuine(rows) | State::Changed(rows, _) => {
                let Some(from) = stepped(&mut source, f, rows, input.reals) else {
                    return;
                };
                let Some(mut bytes) = ok(source.serialize(&from)) else {
                    return;
                };
                source.release(from);
                let changes = match state {
                    State::Changed(_, changes) => changes.as_slice(),
                    _ => &[],
                };
                for &(at, byte) in changes {
                    if let Some(b) = bytes.get_mut(usize::from(at)) {
                        *b = byte;
                    }
                }
                if changes.is_empty() {
                    all.extend(rows);
                } else {
                    genuine_only = false;
                }
                bytes
            }
            State::Raw(bytes) => {
                genuine_only = false;
                bytes.clone()
            }
        };
        let merged = ok(target.merge(&acc, &bytes));
        if matches!(state, State::Genuine(_)) && merged.is_none() {
            // sumsq refuses a sum past i128 (`integer overflow`), which
            // i32 rows cannot reach; median takes any multiple of 8 bytes.
            panic!("a genuine state did not merge");
        }
        if input.reserialize && i == 0 {
            let _ = ok(target.serialize(&acc));
        }
    }
    let Some(answer) = ok(target.finish(acc)) else {
        return;
    };
    // Merged genuine states answer what one accumulator over every row
    // answers (sumsq of REALs adds in another order: compared on INTEGERs).
    if genuine_only && (!input.sumsq || !input.reals) {
        let mut one = stats.instance();
        if let Some(all_acc) = stepped(&mut one, f, &all, input.reals)
            && let Some(expected) = ok(one.finish(all_acc))
        {
            assert!(
                same_value(&answer, &expected),
                "merged states answer {answer:?}, one accumulator {expected:?}"
            );
        }
    }
}
