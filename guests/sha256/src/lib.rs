//! `sha256_of(x TEXT|BLOB) -> BLOB`: the SHA-256 digest of `x`.

use sha2::{Digest, Sha256};

/// The 32-byte SHA-256 digest of a BLOB or of TEXT's UTF-8 bytes. Named
/// `sha256_of` in SQL, so that it replaces no builtin `sha256` (DataFusion
/// has one).
#[wasmudf_guest::scalar(name = "sha256_of", deterministic, innocuous)]
pub fn sha256(x: &[u8]) -> [u8; 32] {
    Sha256::digest(x).into()
}

wasmudf_guest::export! {
    scalars: [sha256],
}

#[cfg(test)]
mod tests {
    #[test]
    fn abc() {
        let d = super::sha256(b"abc");
        assert_eq!(d[..4], [0xba, 0x78, 0x16, 0xbf]);
    }
}
