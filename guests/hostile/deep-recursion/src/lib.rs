//! Hostile test guest: `recurse(n)` and `recurse_frames(n)` recurse `n`
//! calls deep.

use core::hint::black_box;
use core::sync::atomic::AtomicU64;
use wasmudf_guest::Error;

/// Read on every frame with a volatile load, so the recursion cannot be
/// evaluated at compile time or turned into a loop.
static SALT: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);

fn salt() -> u64 {
    // SAFETY: an aligned, always-valid static; a volatile read of its bits.
    unsafe { core::ptr::read_volatile(SALT.as_ptr()) }
}

/// Plain call-stack recursion: the state lives in wasm locals, so each
/// frame uses (almost) nothing of the shadow stack in linear memory and the
/// host's wasm stack limit is what runs out.
#[inline(never)]
fn depth(n: u64) -> u64 {
    if n == 0 {
        return salt();
    }
    let below = depth(n - 1);
    // Not a tail call: work after the call that depends on it and on a
    // volatile read, neither associative nor movable before the call.
    (below.rotate_left(5) ^ salt()).wrapping_mul(n | 1)
}

/// Recursion with a 256-byte array per frame on the shadow stack in linear
/// memory (passed to `black_box` by reference, so it must really exist).
#[inline(never)]
fn depth_frames(n: u64) -> u64 {
    let mut frame = [0u64; 32];
    for (i, slot) in frame.iter_mut().enumerate() {
        *slot = n ^ (i as u64);
    }
    black_box(&mut frame);
    if n == 0 {
        return frame[0] ^ salt();
    }
    let below = depth_frames(n - 1);
    black_box(&mut frame);
    (below.rotate_left(3) ^ frame[(n % 32) as usize]).wrapping_mul(salt() | 1)
}

fn count(n: i64) -> Result<u64, Error> {
    u64::try_from(n).map_err(|_| Error::new("n must be >= 0"))
}

/// `recurse(n INTEGER) -> INTEGER`: non-tail recursion `n` calls deep, with
/// the state in wasm locals; returns a hash of the path. Huge `n` overflows
/// the wasm call stack.
#[wasmudf_guest::scalar]
pub fn recurse(n: i64) -> Result<i64, Error> {
    Ok(depth(count(n)?) as i64)
}

/// `recurse_frames(n INTEGER) -> INTEGER`: like `recurse`, but every frame
/// also holds a 256-byte array in linear memory. Huge `n` overflows the
/// guest's 1 MiB shadow stack (it runs below address 0: an out-of-bounds
/// memory access) or the wasm call stack, whichever comes first.
#[wasmudf_guest::scalar]
pub fn recurse_frames(n: i64) -> Result<i64, Error> {
    Ok(depth_frames(count(n)?) as i64)
}

wasmudf_guest::export! {
    scalars: [recurse, recurse_frames],
}
