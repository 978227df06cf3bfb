//! Hostile test guest: `spin()` never returns.

use core::hint::black_box;

/// `spin()`: loops forever. The counter goes through `black_box` on every
/// iteration, so the optimizer can neither remove the loop nor prove it
/// finite; only the host's deadline (epoch interruption) or fuel can stop it.
#[wasmudf_guest::scalar]
pub fn spin() -> i64 {
    let mut n: u64 = 0;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

wasmudf_guest::export! {
    scalars: [spin],
}
