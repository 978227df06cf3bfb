//! Hostile test guest: table functions whose cursors break the protocol,
//! written against the real `wasmudf:udf` WIT without the SDK (which
//! checks every row's width and never yields more rows than asked).

wit_bindgen::generate!({
    path: "../../../wit",
    world: "udf",
});

use std::cell::Cell;

use exports::wasmudf::udf::guest::{
    Accumulator, Column, Cursor, FastResult, FunctionFlags, FunctionKind, FunctionSpec, Guest,
    GuestAccumulator, GuestCursor, Number, Value,
};

#[cfg_attr(not(target_family = "wasm"), allow(dead_code))]
struct Component;

/// One call: which function, and how many batches it has answered.
#[cfg_attr(not(target_family = "wasm"), allow(dead_code))]
struct BadCursor {
    id: u32,
    batches: Cell<u32>,
}

const REFUSED: &str = "bad-cursor: only table functions";

fn table(name: &str, columns: &[&str]) -> FunctionSpec {
    FunctionSpec {
        name: name.into(),
        arity: 0,
        kind: FunctionKind::Table,
        flags: FunctionFlags::empty(),
        returns: None,
        params: None,
        mergeable: false,
        columns: columns.iter().map(|&c| c.to_owned()).collect(),
    }
}

impl Guest for Component {
    type Accumulator = NoAccumulator;
    type Cursor = BadCursor;

    /// `ragged()`: two columns, batches of three values. `flood()`: one
    /// column, twice as many rows as asked. `endless_empty()`: one column,
    /// rows of nothing but NULL, forever, in full batches.
    fn manifest() -> Vec<FunctionSpec> {
        vec![
            table("ragged", &["a", "b"]),
            table("flood", &["a"]),
            table("endless_empty", &["a"]),
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

impl GuestCursor for BadCursor {
    fn open(id: u32, _args: Vec<Value>) -> Result<Cursor, String> {
        Ok(Cursor::new(BadCursor {
            id,
            batches: Cell::new(0),
        }))
    }

    fn next(&self, max_rows: u32) -> Result<Vec<Value>, String> {
        self.batches.set(self.batches.get() + 1);
        let values = match self.id {
            0 => 3,
            1 => 2 * max_rows as usize,
            _ => max_rows as usize,
        };
        Ok(vec![Value::Null; values])
    }
}

include!("../../common/no_accumulator.rs");

// Only on wasm: on a native target the export names would not link.
#[cfg(target_family = "wasm")]
export!(Component);
