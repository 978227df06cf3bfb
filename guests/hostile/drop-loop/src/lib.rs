//! Hostile test guest: a table function whose cursor destructor, and a
//! window function whose accumulator destructor, never return. Written
//! against the real `wasmudf:udf` WIT without the SDK, which frees a
//! table's state when its rows end and an aggregate's in `finish`.

wit_bindgen::generate!({
    path: "../../../wit",
    world: "udf",
});

use core::hint::black_box;
use std::cell::Cell;

use exports::wasmudf::udf::guest::{
    Accumulator, Column, Cursor, FastResult, FunctionFlags, FunctionKind, FunctionSpec, Guest,
    GuestAccumulator, GuestCursor, Number, Value, ValueType,
};

#[cfg_attr(not(target_family = "wasm"), allow(dead_code))]
struct Component;

const SCALARS: &str = "drop-loop: no scalar functions";

/// Spins forever, where no optimiser can see through it.
fn spin() -> ! {
    let mut n = 0u64;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

/// One call of `close_loop(n)`: the rows `1..=n`.
#[cfg_attr(not(target_family = "wasm"), allow(dead_code))]
struct CloseLoop {
    next: Cell<i64>,
    n: i64,
}

impl Drop for CloseLoop {
    fn drop(&mut self) {
        spin();
    }
}

/// A group of `drop_loop_sum(x)`.
#[cfg_attr(not(target_family = "wasm"), allow(dead_code))]
struct LoopSum {
    sum: Cell<i64>,
}

impl Drop for LoopSum {
    fn drop(&mut self) {
        spin();
    }
}

impl LoopSum {
    fn add(&self, x: i64, sign: i64) {
        self.sum
            .set(self.sum.get().wrapping_add(x.wrapping_mul(sign)));
    }

    fn add_values(&self, args: &[Value], rows: u32, sign: i64) -> Result<(), String> {
        if args.len() != rows as usize {
            return Err(format!("{} values for {rows} rows of 1", args.len()));
        }
        for arg in args {
            match arg {
                Value::Integer(x) => self.add(*x, sign),
                Value::Null => {}
                _ => return Err("drop_loop_sum takes INTEGER".into()),
            }
        }
        Ok(())
    }
}

impl Guest for Component {
    type Accumulator = LoopSum;
    type Cursor = CloseLoop;

    fn manifest() -> Vec<FunctionSpec> {
        vec![
            FunctionSpec {
                name: "close_loop".into(),
                arity: 1,
                kind: FunctionKind::Table,
                flags: FunctionFlags::empty(),
                returns: None,
                params: Some(vec![ValueType::Integer]),
                mergeable: false,
                columns: vec!["i".into()],
            },
            FunctionSpec {
                name: "drop_loop_sum".into(),
                arity: 1,
                kind: FunctionKind::Window,
                flags: FunctionFlags::empty(),
                returns: Some(ValueType::Integer),
                params: Some(vec![ValueType::Integer]),
                mergeable: false,
                columns: Vec::new(),
            },
        ]
    }

    fn call0(_id: u32) -> Result<Value, String> {
        Err(SCALARS.into())
    }
    fn call1(_id: u32, _a: Value) -> Result<Value, String> {
        Err(SCALARS.into())
    }
    fn call2(_id: u32, _a: Value, _b: Value) -> Result<Value, String> {
        Err(SCALARS.into())
    }
    fn call3(_id: u32, _a: Value, _b: Value, _c: Value) -> Result<Value, String> {
        Err(SCALARS.into())
    }
    fn call(_id: u32, _args: Vec<Value>) -> Result<Value, String> {
        Err(SCALARS.into())
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
        Err(SCALARS.into())
    }
    fn call_columns(_id: u32, _args: Vec<Column>, _rows: u32) -> Result<Column, String> {
        Err(SCALARS.into())
    }
}

impl GuestCursor for CloseLoop {
    fn open(id: u32, args: Vec<Value>) -> Result<Cursor, String> {
        match (id, args.as_slice()) {
            (0, [Value::Integer(n)]) => Ok(Cursor::new(CloseLoop {
                next: Cell::new(1),
                n: *n,
            })),
            (0, _) => Err("close_loop takes one INTEGER".into()),
            _ => Err(format!("function {id} is not a table function")),
        }
    }

    fn next(&self, max_rows: u32) -> Result<Vec<Value>, String> {
        let mut rows = Vec::new();
        while rows.len() < max_rows as usize && self.next.get() <= self.n {
            rows.push(Value::Integer(self.next.get()));
            self.next.set(self.next.get() + 1);
        }
        Ok(rows)
    }
}

impl GuestAccumulator for LoopSum {
    fn create(id: u32) -> Result<Accumulator, String> {
        match id {
            1 => Ok(Accumulator::new(LoopSum { sum: Cell::new(0) })),
            _ => Err(format!("function {id} is not an aggregate")),
        }
    }
    fn step(&self, args: Vec<Value>, rows: u32) -> Result<(), String> {
        self.add_values(&args, rows, 1)
    }
    fn step_integers(&self, args: Vec<i64>, rows: u32) -> Result<(), String> {
        if args.len() != rows as usize {
            return Err(format!("{} values for {rows} rows of 1", args.len()));
        }
        for x in args {
            self.add(x, 1);
        }
        Ok(())
    }
    fn step_reals(&self, _args: Vec<f64>, _rows: u32) -> Result<(), String> {
        Err("drop_loop_sum takes INTEGER".into())
    }
    fn inverse(&self, args: Vec<Value>, rows: u32) -> Result<(), String> {
        self.add_values(&args, rows, -1)
    }
    fn step_columns(&self, _args: Vec<Column>, _rows: u32) -> Result<(), String> {
        Err("drop_loop_sum: no column batches".into())
    }
    fn inverse_columns(&self, _args: Vec<Column>, _rows: u32) -> Result<(), String> {
        Err("drop_loop_sum: no column batches".into())
    }
    fn serialize(&self) -> Result<Vec<u8>, String> {
        Err("drop_loop_sum is not mergeable".into())
    }
    fn merge(&self, _state: Vec<u8>) -> Result<(), String> {
        Err("drop_loop_sum is not mergeable".into())
    }
    fn value(&self) -> Result<Value, String> {
        Ok(Value::Integer(self.sum.get()))
    }
    fn finish(acc: Accumulator) -> Result<Value, String> {
        // Taken out of the handle (whose own drop then frees nothing) and
        // never dropped: only the host's release runs the looping `Drop`.
        let state: LoopSum = acc.into_inner();
        let sum = state.sum.get();
        std::mem::forget(state);
        Ok(Value::Integer(sum))
    }
}

// Only on wasm: on a native target the export names would not link.
#[cfg(target_family = "wasm")]
export!(Component);
