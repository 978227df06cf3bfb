//! Hostile test guest: reads, writes and lists arbitrary paths, to try to
//! escape a directory the host grants.

/// `read_granted(path TEXT) -> TEXT`: the file's contents, or a guest error
/// carrying the I/O error.
#[wasmudf_guest::scalar]
pub fn read_granted(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))
}

/// `write_granted(path TEXT, contents TEXT) -> INTEGER`: creates or truncates
/// the file and writes `contents`; returns the number of bytes written, or a
/// guest error carrying the I/O error.
#[wasmudf_guest::scalar]
pub fn write_granted(path: &str, contents: &str) -> Result<i64, String> {
    std::fs::write(path, contents).map_err(|e| format!("cannot write {path}: {e}"))?;
    Ok(contents.len() as i64)
}

/// `list_dir(path TEXT) -> TEXT`: the names of the directory's entries,
/// sorted and joined with `\n`, or a guest error carrying the I/O error.
#[wasmudf_guest::scalar]
pub fn list_dir(path: &str) -> Result<String, String> {
    let fail = |e: std::io::Error| format!("cannot list {path}: {e}");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(path).map_err(fail)? {
        names.push(
            entry
                .map_err(fail)?
                .file_name()
                .to_string_lossy()
                .into_owned(),
        );
    }
    names.sort();
    Ok(names.join("\n"))
}

wasmudf_guest::export! {
    scalars: [read_granted, write_granted, list_dir],
}
