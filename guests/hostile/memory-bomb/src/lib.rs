//! Hostile test guest: `bomb(mib)` allocates and keeps `mib` MiB.

use core::hint::black_box;
use wasmudf_guest::Error;

const MIB: usize = 1 << 20;

/// `bomb(mib INTEGER) -> INTEGER`: allocates `mib` chunks of 1 MiB, fills
/// every byte of each (so every page is really touched) and keeps them all
/// alive until the end, then returns the number of MiB held. Allocation
/// failure is not caught: Rust's allocation-error handler aborts, which is a
/// trap. A negative `mib` is a guest error.
#[wasmudf_guest::scalar]
pub fn bomb(mib: i64) -> Result<i64, Error> {
    let count = usize::try_from(mib).map_err(|_| Error::new("mib must be >= 0"))?;
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    for i in 0..count {
        // A non-zero fill: memset writes every byte (a zeroed allocation
        // could be satisfied by fresh, never-written pages).
        let mut chunk = vec![0xA5u8; MIB];
        chunk[i % MIB] = i as u8;
        chunks.push(black_box(chunk));
    }
    let chunks = black_box(chunks);
    // Read one byte per 4 KiB page back so the data is observably used.
    let mut sum: u64 = 0;
    for chunk in &chunks {
        for page in chunk.iter().step_by(4096) {
            sum = sum.wrapping_add(u64::from(*page));
        }
    }
    black_box(sum);
    Ok(chunks.len() as i64)
}

wasmudf_guest::export! {
    scalars: [bomb],
}
