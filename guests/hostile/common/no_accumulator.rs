// The accumulator of a raw-bindings hostile guest that has no aggregates:
// every method refuses with the guest's `REFUSED` message. Included by
// guests written against `wit/udf.wit` (0.2.0) without the SDK; the
// including file brings the bindings' types and `REFUSED` into scope.

/// An accumulator that can never be created.
#[cfg_attr(not(target_family = "wasm"), allow(dead_code))]
struct NoAccumulator;

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
    fn step_columns(&self, _args: Vec<Column>, _rows: u32) -> Result<(), String> {
        Err(REFUSED.into())
    }
    fn inverse_columns(&self, _args: Vec<Column>, _rows: u32) -> Result<(), String> {
        Err(REFUSED.into())
    }
    fn serialize(&self) -> Result<Vec<u8>, String> {
        Err(REFUSED.into())
    }
    fn merge(&self, _state: Vec<u8>) -> Result<(), String> {
        Err(REFUSED.into())
    }
    fn value(&self) -> Result<Value, String> {
        Err(REFUSED.into())
    }
    fn finish(_acc: Accumulator) -> Result<Value, String> {
        Err(REFUSED.into())
    }
}
