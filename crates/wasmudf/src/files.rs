//! Reading user-supplied paths through cap-std: a file is always reached
//! through a capability to the directory that holds it, never by an
//! ambient path lookup of its own.
//!
//! The user named the path, so symbolic links on it are followed: the path
//! is resolved first, and the file is then opened through its real parent
//! directory. Only regular files are read (a FIFO or a device is refused
//! without blocking on it).

use std::ffi::OsStr;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::{Dir, OpenOptions};

use crate::error::{Error, Result};

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads the file at `path`, after following any symbolic links, through a
/// capability to its real parent directory, refusing it if it is larger
/// than `limit` bytes.
pub(crate) fn read_capped(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let io = io_error(path);
    let resolved = std::fs::canonicalize(path).map_err(&io)?;
    let (Some(parent), Some(name)) = (resolved.parent(), resolved.file_name()) else {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a file name",
        )));
    };
    let dir = Dir::open_ambient_dir(parent, ambient_authority()).map_err(&io)?;
    read_capped_in(&dir, name, path, limit)
}

/// Reads `name` inside `dir` (cap-std keeps a relative `name` inside it);
/// `shown` is the path used in errors.
pub(crate) fn read_capped_in(dir: &Dir, name: &OsStr, shown: &Path, limit: u64) -> Result<Vec<u8>> {
    let io = io_error(shown);
    let mut options = OpenOptions::new();
    options.read(true);
    // Opening a FIFO for reading would wait for a writer; non-blocking, the
    // open returns and the type check below refuses it.
    #[cfg(unix)]
    cap_std::fs::OpenOptionsExt::custom_flags(
        &mut options,
        rustix::fs::OFlags::NONBLOCK.bits() as i32,
    );
    let file = dir.open_with(name, &options).map_err(&io)?;
    let meta = file.metadata().map_err(&io)?;
    if !meta.is_file() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        )));
    }
    let size = meta.len();
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

/// An entry of a folder that [`Engine::load_dir_report`](crate::Engine::load_dir_report)
/// did not load, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The entry, as the folder path joined with its name.
    pub path: PathBuf,
    /// Why it was not loaded.
    pub reason: SkipReason,
}

/// Why a folder entry was not loaded as a component.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkipReason {
    /// Its name does not end in `.wasm`.
    NotWasm,
    /// It is (or a symbolic link leads to) a directory, a FIFO, a device or
    /// anything else that is not a regular file.
    NotAFile,
    /// It is a symbolic link that cannot be followed: dangling, a loop, or
    /// through a directory that cannot be read. Holds the system's message.
    BrokenLink(String),
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::NotWasm => f.write_str("not a .wasm file"),
            SkipReason::NotAFile => f.write_str("not a regular file"),
            SkipReason::BrokenLink(why) => write!(f, "symbolic link cannot be followed: {why}"),
        }
    }
}

/// What a folder scan found ([`Engine::read_dir`](crate::Engine::read_dir)):
/// the component files read, in name order, and the entries passed over.
#[derive(Debug)]
pub struct DirScan {
    /// Each `.wasm` file's path and bytes.
    pub files: Vec<(PathBuf, Vec<u8>)>,
    /// The entries not read, and why.
    pub skipped: Vec<Skipped>,
}

/// Reads every `.wasm` file directly inside `dir_path`, sorted by name.
/// Regular files are read through one capability to that directory; a
/// symbolic link is followed as [`read_capped`] does, since the user named
/// the folder that holds it.
pub(crate) fn read_wasm_dir(dir_path: &Path, limit: u64) -> Result<DirScan> {
    let io = io_error(dir_path);
    let dir = Dir::open_ambient_dir(dir_path, ambient_authority()).map_err(&io)?;
    let mut found = Vec::new();
    let mut skipped = Vec::new();
    for entry in dir.entries().map_err(&io)? {
        let entry = entry.map_err(&io)?;
        let name = entry.file_name();
        let shown = dir_path.join(&name);
        let mut skip = |reason| {
            skipped.push(Skipped {
                path: shown.clone(),
                reason,
            });
        };
        if Path::new(&name).extension().is_none_or(|e| e != "wasm") {
            skip(SkipReason::NotWasm);
            continue;
        }
        let file_type = entry.file_type().map_err(&io)?;
        if file_type.is_file() {
            found.push((name, false));
        } else if file_type.is_symlink() {
            match std::fs::metadata(&shown) {
                Ok(target) if target.is_file() => found.push((name, true)),
                Ok(_) => skip(SkipReason::NotAFile),
                Err(e) => skip(SkipReason::BrokenLink(e.to_string())),
            }
        } else {
            skip(SkipReason::NotAFile);
        }
    }
    found.sort();
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    let files = found
        .into_iter()
        .map(|(name, link)| {
            let shown = dir_path.join(&name);
            let bytes = if link {
                read_capped(&shown, limit)?
            } else {
                read_capped_in(&dir, &name, &shown, limit)?
            };
            Ok((shown, bytes))
        })
        .collect::<Result<_>>()?;
    Ok(DirScan { files, skipped })
}
