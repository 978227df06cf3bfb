//! Hostile test guest: a manifest with impossible arities, written against
//! the real `wasmudf:udf` WIT without the SDK (whose `#[scalar]` derives the
//! arity from the parameters and so cannot lie about it).

wit_bindgen::generate!({
    path: "../../../wit",
    world: "udf",
});

use exports::wasmudf::udf::guest::{
    Accumulator, Column, Cursor, FastResult, FunctionFlags, FunctionKind, FunctionSpec, Guest,
    GuestAccumulator, GuestCursor, Number, Value,
};

#[cfg_attr(not(target_family = "wasm"), allow(dead_code))]
struct Component;

const REFUSED: &str = "bad-arity: no callable functions";

impl Guest for Component {
    type Accumulator = NoAccumulator;
    type Cursor = NoCursor;

    /// `too_many` with 5000 arguments (SQLite allows at most 127, and its
    /// compile-time limit is 1000), and `negative_arity` with -7 (only -1,
    /// variadic, is meaningful).
    fn manifest() -> Vec<FunctionSpec> {
        vec![
            FunctionSpec {
                name: "too_many".into(),
                arity: 5000,
                kind: FunctionKind::Scalar,
                flags: FunctionFlags::DETERMINISTIC,
                returns: None,
                params: None,
                mergeable: false,
                columns: Vec::new(),
            },
            FunctionSpec {
                name: "negative_arity".into(),
                arity: -7,
                kind: FunctionKind::Scalar,
                flags: FunctionFlags::DETERMINISTIC,
                returns: None,
                params: None,
                mergeable: false,
                columns: Vec::new(),
            },
        ]
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

    fn call_columns(_id: u32, _args: Vec<Column>, _rows: u32) -> Result<Column, String> {
        Err(REFUSED.into())
    }
}

include!("../../common/no_accumulator.rs");

// Only on wasm: on a native target the export names would not link.
#[cfg(target_family = "wasm")]
export!(Component);

/// A cursor that can never be opened: no table functions.
#[cfg_attr(not(target_family = "wasm"), allow(dead_code))]
struct NoCursor;

impl GuestCursor for NoCursor {
    fn open(_id: u32, _args: Vec<Value>) -> Result<Cursor, String> {
        Err(REFUSED.into())
    }

    fn next(&self, _max_rows: u32) -> Result<Vec<Value>, String> {
        Err(REFUSED.into())
    }
}
