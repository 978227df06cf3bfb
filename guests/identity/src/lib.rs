//! `identity(x) -> x`: returns its argument unchanged, whatever its type.

use wasmudf_guest::Value;

/// Returns `x` unchanged; NULL gives NULL.
#[wasmudf_guest::scalar(deterministic, innocuous)]
pub fn identity(x: Value) -> Value {
    x
}

wasmudf_guest::export! {
    scalars: [identity],
}
