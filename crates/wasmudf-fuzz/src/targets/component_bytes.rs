//! Component bytes as a file or a Ballista plan would bring them (seeded
//! with the real guests, hostile ones included, which the fuzzer then
//! mutates): the header and pre-compile checks, wasmtime's validation, the
//! import and world checks, the manifest, the direct path's plan of the
//! component's canonical definitions, and then one call of each function
//! through SQLite and through an instance.

use crate::{engine, exercise, sample_rows};

/// Runs one input; panics on a finding.
pub fn run(data: &[u8]) {
    // The plan reader walks canonical definitions by hand: for any bytes
    // that validate, it plans or refuses, and never panics.
    let features = wasmparser::WasmFeatures::default();
    if wasmparser::Validator::new_with_features(features).validate_all(data).is_ok() {
        let _ = wasmudf::fuzzing::direct_plan(data);
    }
    let component = match engine().load("fuzz", data) {
        Ok(c) => c,
        Err(e) => {
            crate::assert_escaped("a load error", &e.to_string());
            return;
        }
    };
    let samples = sample_rows();
    exercise(&component, |index, arity| {
        // Each function gets two rows of one class of sample, so texts,
        // numbers and blobs all reach some function.
        let sample = &samples[index % samples.len()];
        let width = match arity {
            wasmudf::Arity::Exactly(n) => usize::from(n),
            wasmudf::Arity::Variadic => 2,
        };
        (0..2)
            .map(|r| (0..width).map(|a| sample[(r + a) % sample.len()].clone()).collect())
            .collect()
    });
}
