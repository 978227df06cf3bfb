//! A test component built against `wasmudf:udf@0.9.0` (its own copy of the
//! 0.1.0 WIT in `wit/` with another version), without the SDK. A host for
//! 0.1 and 0.2 must refuse to load it.

wit_bindgen::generate!({
    path: "wit",
    world: "udf",
});

use exports::wasmudf::udf::guest::{Accumulator, FunctionSpec, Guest, GuestAccumulator, Value};

#[cfg_attr(not(target_family = "wasm"), allow(dead_code))]
struct Component;

/// An accumulator that can never be created.
#[cfg_attr(not(target_family = "wasm"), allow(dead_code))]
struct NoAccumulator;

const NO_FUNCTION: &str = "this component provides no functions";

impl Guest for Component {
    type Accumulator = NoAccumulator;

    fn manifest() -> Vec<FunctionSpec> {
        Vec::new()
    }

    fn call0(_id: u32) -> Result<Value, String> {
        Err(NO_FUNCTION.into())
    }

    fn call1(_id: u32, _a: Value) -> Result<Value, String> {
        Err(NO_FUNCTION.into())
    }

    fn call2(_id: u32, _a: Value, _b: Value) -> Result<Value, String> {
        Err(NO_FUNCTION.into())
    }

    fn call3(_id: u32, _a: Value, _b: Value, _c: Value) -> Result<Value, String> {
        Err(NO_FUNCTION.into())
    }

    fn call(_id: u32, _args: Vec<Value>) -> Result<Value, String> {
        Err(NO_FUNCTION.into())
    }
}

impl GuestAccumulator for NoAccumulator {
    fn create(_id: u32) -> Result<Accumulator, String> {
        Err(NO_FUNCTION.into())
    }

    fn step(&self, _args: Vec<Value>, _rows: u32) -> Result<(), String> {
        Err(NO_FUNCTION.into())
    }

    fn inverse(&self, _args: Vec<Value>, _rows: u32) -> Result<(), String> {
        Err(NO_FUNCTION.into())
    }

    fn value(&self) -> Result<Value, String> {
        Err(NO_FUNCTION.into())
    }

    fn finish(_acc: Accumulator) -> Result<Value, String> {
        Err(NO_FUNCTION.into())
    }
}

// Only on wasm: on a native target (`cargo test` of the whole workspace) the
// export names would not link.
#[cfg(target_family = "wasm")]
export!(Component);
