//! Hostile test guest: `read_file(path)` reads any path it is given.

/// `read_file(path TEXT) -> TEXT`: the file's contents through
/// `std::fs::read_to_string`, or a guest error carrying the I/O error.
#[wasmudf_guest::scalar]
pub fn read_file(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))
}

wasmudf_guest::export! {
    scalars: [read_file],
}
