//! A test guest written against the raw WIT bindings rather than the SDK,
//! so that it can see the numbers of its `accumulator` handles:
//! `handles(x)`, a window function (and aggregate) whose result is the text
//! `c<H1> f<H2> n<rows> d<drops>`: the handle `create` made, the handle
//! `finish` was given (or `v` and nothing for `value`), the rows it saw and
//! how many accumulators have been destroyed in this instance. Every third
//! accumulator `finish` receives is kept alive (in a static) instead of
//! dropped, and the oldest kept one is dropped when a fourth is kept, so
//! the guest's handle table fills and frees out of order. The host's tests
//! run it with the direct path on and off: the direct path keeps its own
//! handle table, which must number handles as wasmtime does.

// Everything here is reached only through the wasm exports.
#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

use std::cell::{Cell, RefCell};

use wasmudf_guest::bindings::exports::wasmudf::udf::guest::{
    Accumulator, Column, Cursor, Error, FastResult, FunctionFlags, FunctionKind, FunctionSpec,
    Guest, GuestAccumulator, GuestCursor, Number, Value,
};

struct Component;

/// One group's state.
struct State {
    created: Cell<u32>,
    rows: Cell<u64>,
}

impl Drop for State {
    fn drop(&mut self) {
        DROPS.with(|d| d.set(d.get() + 1));
    }
}

thread_local! {
    static DROPS: Cell<u64> = const { Cell::new(0) };
    static FINISHED: Cell<u64> = const { Cell::new(0) };
    static KEPT: RefCell<Vec<Accumulator>> = const { RefCell::new(Vec::new()) };
}

const NO_SCALARS: &str = "handles has no scalar functions";

impl Guest for Component {
    type Accumulator = State;
    type Cursor = NoCursor;

    fn manifest() -> Vec<FunctionSpec> {
        vec![FunctionSpec {
            name: "handles".into(),
            arity: 1,
            kind: FunctionKind::Window,
            flags: FunctionFlags::DETERMINISTIC,
            returns: None,
            params: None,
            mergeable: false,
            columns: Vec::new(),
        }]
    }

    fn call0(_: u32) -> Result<Value, Error> {
        Err(NO_SCALARS.into())
    }
    fn call1(_: u32, _: Value) -> Result<Value, Error> {
        Err(NO_SCALARS.into())
    }
    fn call2(_: u32, _: Value, _: Value) -> Result<Value, Error> {
        Err(NO_SCALARS.into())
    }
    fn call3(_: u32, _: Value, _: Value, _: Value) -> Result<Value, Error> {
        Err(NO_SCALARS.into())
    }
    fn call(_: u32, _: Vec<Value>) -> Result<Value, Error> {
        Err(NO_SCALARS.into())
    }
    fn fast1(_: u32, _: Number) -> FastResult {
        FastResult::Deferred
    }
    fn fast2(_: u32, _: Number, _: Number) -> FastResult {
        FastResult::Deferred
    }
    fn fast3(_: u32, _: Number, _: Number, _: Number) -> FastResult {
        FastResult::Deferred
    }
    fn take_result() -> Result<Value, Error> {
        Err(NO_SCALARS.into())
    }
    fn call_columns(_: u32, _: Vec<Column>, _: u32) -> Result<Column, Error> {
        Err(NO_SCALARS.into())
    }
}

impl State {
    fn report(&self, finished: Option<u32>) -> Value {
        let f = finished.map_or_else(|| "v".to_string(), |h| format!("f{h}"));
        let drops = DROPS.with(Cell::get);
        Value::Text(format!(
            "c{} {f} n{} d{drops}",
            self.created.get(),
            self.rows.get()
        ))
    }
}

impl GuestAccumulator for State {
    fn create(_id: u32) -> Result<Accumulator, Error> {
        let acc = Accumulator::new(State {
            created: Cell::new(0),
            rows: Cell::new(0),
        });
        acc.get::<State>().created.set(acc.handle());
        Ok(acc)
    }

    fn step(&self, _args: Vec<Value>, rows: u32) -> Result<(), Error> {
        self.rows.set(self.rows.get() + u64::from(rows));
        Ok(())
    }

    fn step_integers(&self, _args: Vec<i64>, rows: u32) -> Result<(), Error> {
        self.rows.set(self.rows.get() + u64::from(rows));
        Ok(())
    }

    fn step_reals(&self, _args: Vec<f64>, rows: u32) -> Result<(), Error> {
        self.rows.set(self.rows.get() + u64::from(rows));
        Ok(())
    }

    fn inverse(&self, _args: Vec<Value>, rows: u32) -> Result<(), Error> {
        self.rows
            .set(self.rows.get().saturating_sub(u64::from(rows)));
        Ok(())
    }

    fn step_columns(&self, _args: Vec<Column>, rows: u32) -> Result<(), Error> {
        self.rows.set(self.rows.get() + u64::from(rows));
        Ok(())
    }

    fn inverse_columns(&self, _args: Vec<Column>, rows: u32) -> Result<(), Error> {
        self.rows
            .set(self.rows.get().saturating_sub(u64::from(rows)));
        Ok(())
    }

    fn serialize(&self) -> Result<Vec<u8>, Error> {
        Err("handles is not mergeable".into())
    }

    fn merge(&self, _state: Vec<u8>) -> Result<(), Error> {
        Err("handles is not mergeable".into())
    }

    fn value(&self) -> Result<Value, Error> {
        Ok(self.report(None))
    }

    fn finish(acc: Accumulator) -> Result<Value, Error> {
        let answer = acc.get::<State>().report(Some(acc.handle()));
        let n = FINISHED.with(|f| {
            f.set(f.get() + 1);
            f.get()
        });
        if n % 3 == 0 {
            KEPT.with(|kept| {
                let mut kept = kept.borrow_mut();
                kept.push(acc);
                if kept.len() > 3 {
                    // Dropped here: its slot is freed out of order.
                    kept.remove(0);
                }
            });
        }
        Ok(answer)
    }
}

// The component exports exist only on wasm: on a native target (the guest
// workspace's `cargo test`) their names would not link.
#[cfg(target_family = "wasm")]
wasmudf_guest::bindings::__export_component!(Component with_types_in wasmudf_guest::bindings);

/// A cursor that can never be opened: no table functions.
#[cfg_attr(not(target_family = "wasm"), allow(dead_code))]
struct NoCursor;

impl GuestCursor for NoCursor {
    fn open(_id: u32, _args: Vec<Value>) -> Result<Cursor, String> {
        Err(NO_SCALARS.into())
    }

    fn next(&self, _max_rows: u32) -> Result<Vec<Value>, String> {
        Err(NO_SCALARS.into())
    }
}
