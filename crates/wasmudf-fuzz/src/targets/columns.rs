//! Argument and result columns: any column an embedder (DataFusion's
//! conversion) or a guest may hand over, through the check every batch
//! goes through (`wasmudf::fuzzing::check_column`) and through a real
//! guest's `call-columns` (`identity`, which must hand every row back as
//! it came).

use arbitrary::Arbitrary;
use wasmudf::{ColumnRef, Value, fuzzing::check_column};
use crate::{ArbValue, guest, ok, same_value};

/// One input, as `arbitrary` makes it from the fuzzer's bytes.
#[derive(Debug, Arbitrary)]
pub struct Input {
    kind: u8,
    rows: u8,
    max_bytes: u16,
    ints: Vec<i64>,
    reals: Vec<f64>,
    text: String,
    blob: Vec<u8>,
    values: Vec<ArbValue>,
    /// Offsets as given, or made from lengths (most often valid).
    raw_offsets: bool,
    offsets: Vec<u32>,
    valid: Option<Vec<u8>>,
}

/// Runs one input; panics on a finding.
pub fn run(input: Input) {
    let offsets: Vec<u32> = if input.raw_offsets {
        input.offsets.clone()
    } else {
        let len = match input.kind % 5 {
            2 => input.text.len(),
            _ => input.blob.len(),
        };
        let mut at = 0u32;
        let mut out = vec![0];
        for step in &input.offsets {
            at = at.saturating_add(step % 8).min(u32::try_from(len).unwrap_or(u32::MAX));
            out.push(at);
        }
        out
    };
    let values: Vec<Value> = input.values.iter().cloned().map(Value::from).collect();
    let valid = input.valid.as_deref();
    let column = match input.kind % 5 {
        0 => ColumnRef::Integers { data: &input.ints, valid },
        1 => ColumnRef::Reals { data: &input.reals, valid },
        2 => ColumnRef::Texts { offsets: &offsets, data: &input.text, valid },
        3 => ColumnRef::Blobs { offsets: &offsets, data: &input.blob, valid },
        _ => ColumnRef::Values(&values),
    };
    let rows = usize::from(input.rows);
    let max = usize::from(input.max_bytes);
    let checked = check_column(&column, rows, max);
    if checked.is_ok() {
        assert_eq!(column.len(), rows);
        for r in 0..rows {
            let v = column.get(r);
            assert!(v.is_some(), "row {r} of a checked column does not read");
            let heap = match v {
                Some(Value::Text(s)) => s.len(),
                Some(Value::Blob(b)) => b.len(),
                _ => 0,
            };
            assert!(heap <= max, "a checked column holds a {heap}-byte value over {max}");
        }
    }
    // An embedder's batch: refused unless it is well formed, and then
    // handed back row for row by `identity`.
    let identity = guest("identity");
    let index = identity.function_index("identity", 1).expect("identity(x)");
    let mut instance = identity.instance();
    let well_formed = check_column(&column, rows, usize::MAX).is_ok();
    match ok(instance.call_columns(index, &[column], rows)) {
        Some(result) => {
            assert!(well_formed, "a malformed column was accepted: {column:?}");
            assert_eq!(result.len(), rows);
            for r in 0..rows {
                let (Some(a), Some(b)) = (column.get(r), result.get(r)) else {
                    panic!("row {r} does not read");
                };
                assert!(same_value(&a, &b), "row {r}: {a:?} came back as {b:?}");
            }
        }
        // Refused: only a malformed column (inputs are far under the
        // engine's memory and result limits).
        None => assert!(!well_formed, "a well-formed column failed: {column:?}"),
    }
}
