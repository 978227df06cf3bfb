//! Hostile test guest: a manifest of 200,000 functions, built in a loop,
//! written against the real `wasmudf:udf` WIT without the SDK (whose
//! `export!` lists functions one by one). It targets 0.1.0, which hosts keep
//! loading, so that the older manifest's checks stay covered.

wit_bindgen::generate!({
    path: "../../../wit/0.1.0",
    world: "udf",
});

use exports::wasmudf::udf::guest::{
    Accumulator, FastResult, FunctionFlags, FunctionKind, FunctionSpec, Guest, GuestAccumulator,
    Number, Value,
};

/// How many functions the manifest declares.
const FUNCTIONS: u32 = 200_000;

#[cfg_attr(not(target_family = "wasm"), allow(dead_code))]
struct Component;

/// An accumulator that can never be created.
#[cfg_attr(not(target_family = "wasm"), allow(dead_code))]
struct NoAccumulator;

const REFUSED: &str = "huge-manifest: no callable functions";

impl Guest for Component {
    type Accumulator = NoAccumulator;

    /// 200,000 scalars `f0` .. `f199999`, built in a loop: a few MB of
    /// guest memory, and far more functions than a host should register.
    fn manifest() -> Vec<FunctionSpec> {
        (0..FUNCTIONS)
            .map(|i| FunctionSpec {
                name: format!("f{i}"),
                arity: 0,
                kind: FunctionKind::Scalar,
                flags: FunctionFlags::DETERMINISTIC,
            })
            .collect()
    }

    fn call0(_id: u32) -> Result<Value, String> {
        Err(REFUSED.into())
    }

    fn call1(_id: u32, _a: Value) -> Result<Value, String> {
        Err(REFUSED.into())
    }

    fn call2(_id: u32, _a: Value, _b: Value) -> Result<Value, String> {
        Err(REFUSED.into())
    }

    fn call3(_id: u32, _a: Value, _b: Value, _c: Value) -> Result<Value, String> {
        Err(REFUSED.into())
    }

    fn call(_id: u32, _args: Vec<Value>) -> Result<Value, String> {
        Err(REFUSED.into())
    }

    fn fast1(_id: u32, _a: Number) -> FastResult {
        FastResult::Deferred
    }

    fn fast2(_id: u32, _a: Number, _b: Number) -> FastResult {
        FastResult::Deferred
    }

    fn fast3(_id: u32, _a: Number, _b: Number, _c: Number) -> FastResult {
        FastResult::Deferred
    }

    fn take_result() -> Result<Value, String> {
        Err(REFUSED.into())
    }
}

impl GuestAccumulator for NoAccumulator {
    fn create(_id: u32) -> Result<Accumulator, String> {
        Err(REFUSED.into())
    }

    fn step(&self, _args: Vec<Value>, _rows: u32) -> Result<(), String> {
        Err(REFUSED.into())
    }

    fn step_integers(&self, _args: Vec<i64>, _rows: u32) -> Result<(), String> {
        Err(REFUSED.into())
    }

    fn step_reals(&self, _args: Vec<f64>, _rows: u32) -> Result<(), String> {
        Err(REFUSED.into())
    }

    fn inverse(&self, _args: Vec<Value>, _rows: u32) -> Result<(), String> {
        Err(REFUSED.into())
    }

    fn value(&self) -> Result<Value, String> {
        Err(REFUSED.into())
    }

    fn finish(_acc: Accumulator) -> Result<Value, String> {
        Err(REFUSED.into())
    }
}

// Only on wasm: on a native target the export names would not link.
#[cfg(target_family = "wasm")]
export!(Component);
