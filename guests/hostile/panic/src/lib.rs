//! Hostile test guest: `boom(msg)` panics with `msg`.

/// `boom(msg TEXT)`: panics with the message `msg`. The guests are built with
/// `panic = "abort"`: the panic hook writes the message to stderr, then the
/// abort traps.
#[wasmudf_guest::scalar]
pub fn boom(msg: &str) -> i64 {
    panic!("{msg}")
}

wasmudf_guest::export! {
    scalars: [boom],
}
