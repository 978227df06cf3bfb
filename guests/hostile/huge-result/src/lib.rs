//! Hostile test guest: `huge_text(mib)` and `huge_blob(mib)` return results
//! of `mib` MiB.

use wasmudf_guest::Error;

const MIB: usize = 1 << 20;

fn bytes(mib: i64) -> Result<usize, Error> {
    usize::try_from(mib)
        .ok()
        .and_then(|m| m.checked_mul(MIB))
        .ok_or_else(|| Error::new("mib must be between 0 and 4095"))
}

/// `huge_text(mib INTEGER) -> TEXT`: `mib` MiB of `x`.
#[wasmudf_guest::scalar]
pub fn huge_text(mib: i64) -> Result<String, Error> {
    Ok("x".repeat(bytes(mib)?))
}

/// `huge_blob(mib INTEGER) -> BLOB`: `mib` MiB of `0xAB` bytes.
#[wasmudf_guest::scalar]
pub fn huge_blob(mib: i64) -> Result<Vec<u8>, Error> {
    Ok(vec![0xABu8; bytes(mib)?])
}

wasmudf_guest::export! {
    scalars: [huge_text, huge_blob],
}
