//! A test guest whose manifest names the same function twice; a host must
//! reject it when loading.

/// `twice(x)`: returns `x`.
#[wasmudf_guest::scalar(deterministic)]
pub fn twice(x: i64) -> i64 {
    x
}

wasmudf_guest::export! {
    scalars: [twice, twice],
}
