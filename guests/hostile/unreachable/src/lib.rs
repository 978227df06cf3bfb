//! Hostile test guest: `hit_unreachable()` executes the wasm `unreachable`
//! instruction.

/// `hit_unreachable()`: executes `unreachable`, a trap with no message and
/// nothing written to stderr (unlike a panic).
#[wasmudf_guest::scalar]
pub fn hit_unreachable() -> i64 {
    #[cfg(target_arch = "wasm32")]
    {
        core::arch::wasm32::unreachable()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::process::abort()
    }
}

wasmudf_guest::export! {
    scalars: [hit_unreachable],
}
