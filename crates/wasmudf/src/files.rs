//! Reading user-supplied paths through cap-std: a file is always reached
//! through a capability to the directory that holds it, never by an
//! ambient path lookup of its own.

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::Dir;

use crate::error::{Error, Result};

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads the file at `path` through a capability to its parent directory,
/// refusing it if it is larger than `limit` bytes.
pub(crate) fn read_capped(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| {
        io_error(path)(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a file name",
        ))
    })?;
    let dir = Dir::open_ambient_dir(parent, ambient_authority()).map_err(io_error(path))?;
    read_capped_in(&dir, name, path, limit)
}

/// Reads `name` inside `dir`; `shown` is the path used in errors.
fn read_capped_in(dir: &Dir, name: &OsStr, shown: &Path, limit: u64) -> Result<Vec<u8>> {
    let io = io_error(shown);
    let file = dir.open(name).map_err(&io)?;
    let size = file.metadata().map_err(&io)?.len();
    let too_large = |size| Error::TooLarge {
        origin: shown.display().to_string(),
        size,
        limit,
    };
    if size > limit {
        return Err(too_large(size));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    // `take` guards against a file that grows after the size check.
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(&io)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Reads every `.wasm` file directly inside `dir_path`, sorted by name,
/// through one capability to that directory.
pub(crate) fn read_wasm_dir(dir_path: &Path, limit: u64) -> Result<Vec<(PathBuf, Vec<u8>)>> {
    let io = io_error(dir_path);
    let dir = Dir::open_ambient_dir(dir_path, ambient_authority()).map_err(&io)?;
    let mut names = Vec::new();
    for entry in dir.entries().map_err(&io)? {
        let entry = entry.map_err(&io)?;
        let name = entry.file_name();
        if entry.file_type().map_err(&io)?.is_file()
            && Path::new(&name).extension().is_some_and(|e| e == "wasm")
        {
            names.push(name);
        }
    }
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let shown = dir_path.join(&name);
            let bytes = read_capped_in(&dir, &name, &shown, limit)?;
            Ok((shown, bytes))
        })
        .collect()
}
