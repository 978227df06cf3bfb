//! Hostile test guest: two scalars whose SQL names differ only by case, which
//! SQLite would treat as the same function.

/// `dup_case(x INTEGER) -> INTEGER`: returns `x`.
#[wasmudf_guest::scalar(name = "dup_case", deterministic)]
pub fn lower(x: i64) -> i64 {
    x
}

/// `DUP_CASE(x INTEGER) -> INTEGER`: returns `-x`, so a host that wrongly
/// registered both would make the winner observable.
#[wasmudf_guest::scalar(name = "DUP_CASE", deterministic)]
pub fn upper(x: i64) -> i64 {
    x.wrapping_neg()
}

wasmudf_guest::export! {
    scalars: [lower, upper],
}
