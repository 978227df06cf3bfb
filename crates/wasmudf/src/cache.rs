//! The on-disk cache of compiled components, so a second start skips
//! Cranelift.
//!
//! Loading an entry runs native code that wasmtime produced earlier, which
//! is why wasmtime marks deserialization `unsafe`: whoever can write an
//! entry can run code in the host, outside the sandbox. So an entry is
//! trusted only when all of this holds, each checked through the open
//! handle (`fstat`), never by path:
//!
//! - the directory and the entry are owned by the user running wasmudf and
//!   writable by no one else (no group or other write bit);
//! - the entry ends with a digest of its contents keyed by a secret, so
//!   that only a process holding the secret can have written it: another
//!   component's artifact, a truncated one, or a file nobody on this
//!   machine wrote (a cache folder checked out from a repository or
//!   unpacked from an archive, owner-only as its files may be) is refused.
//!
//! The secret is 32 random bytes from the operating system, made once per
//! user in a file outside the cache folder (`$XDG_STATE_HOME/wasmudf/
//! cache-secret`, else `~/.local/state/wasmudf/cache-secret`, or where the
//! embedder says), created `0600` with `create_new`, and used only when
//! the file is this user's, readable by no one else, in a folder no one
//! else can write, and not inside the cache folder. Both the entries'
//! names and their digests are keyed by it (with wasmtime's engine
//! fingerprint and the component's bytes), so a file the host did not
//! write itself is neither found under a name it looks for nor accepted
//! if renamed to one. A secret that fails a check leaves the cache unused
//! ([`CacheStatus::Refused`]); it is never replaced.
//!
//! The digest is a trailer, not a header, so that the artifact starts the
//! file and wasmtime can map the entry in place (`deserialize_file`, through
//! the checked handle) instead of copying it: a JavaScript component's
//! artifact is 37 MB, and copying it was most of a cached start.
//!
//! A directory that fails the check is not used at all (the engine compiles
//! every component and says why in [`CacheStatus`]); an entry that fails
//! is ignored and replaced by a fresh one. Entries are written to a new
//! file (`create_new`, a random suffix, mode `0600`) and renamed into place,
//! so a crash never leaves half an entry and nothing is written through a
//! name someone else prepared. The directory is kept under a size cap by
//! removing the least recently used entries.

use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use cap_std::ambient_authority;
use cap_std::fs::{Dir, Metadata, OpenOptions};

/// What every entry ends with: this, then the 32-byte digest, after
/// wasmtime's serialized artifact. (Version 1 put them first; version 2
/// keyed the digest with public inputs only.)
const MAGIC: &[u8; 8] = b"wasmudf\x03";

/// The secret's size: a BLAKE3 key.
const SECRET_BYTES: usize = 32;

/// The secret file's name in its default folder.
const SECRET_FILE: &str = "cache-secret";
const TRAILER_BYTES: usize = MAGIC.len() + 32;

/// Default cap on the cache directory's total size.
pub(crate) const DEFAULT_MAX_BYTES: u64 = 512 << 20;

/// Whether an engine keeps compiled code on disk; see
/// [`Engine::cache_status`](crate::Engine::cache_status).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheStatus {
    /// No cache directory was configured.
    Off,
    /// Compiled components are kept in this directory.
    Active(PathBuf),
    /// A cache directory was configured but is not safe or not usable (not
    /// private to this user, or it cannot be created); the engine compiles
    /// every component instead.
    Refused {
        /// The configured directory.
        dir: PathBuf,
        /// Why it is not used.
        reason: String,
    },
}

impl std::fmt::Display for CacheStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CacheStatus::Off => f.write_str("no compiled-code cache"),
            CacheStatus::Active(dir) => write!(f, "compiled-code cache in {}", dir.display()),
            CacheStatus::Refused { dir, reason } => write!(
                f,
                "compiled-code cache {} not used: {reason}",
                dir.display()
            ),
        }
    }
}

/// A cache directory for one engine configuration.
#[derive(Debug)]
pub(crate) struct ComponentCache {
    dir: Dir,
    path: PathBuf,
    engine_key: [u8; 32],
    max_bytes: u64,
}

/// Feeds `Hash` output into BLAKE3, to fingerprint the engine.
struct Fingerprint(blake3::Hasher);

impl Hasher for Fingerprint {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// Refuses a directory or entry that someone other than this user could
/// have written. `meta` must come from the open handle.
#[cfg(unix)]
fn check_private(meta: &Metadata) -> Result<(), String> {
    use cap_std::fs::MetadataExt;
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(format!(
            "owned by uid {}, not by this user (uid {me})",
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "writable by group or others (mode {:o})",
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_meta: &Metadata) -> Result<(), String> {
    // Windows ACLs are not checked; the entry digest still applies.
    Ok(())
}

/// Refuses a secret file that someone other than this user owns or could
/// read or write. `meta` must come from the open handle.
#[cfg(unix)]
fn check_secret(meta: &Metadata) -> Result<(), String> {
    use cap_std::fs::MetadataExt;
    check_private(meta)?;
    if meta.mode() & 0o077 != 0 {
        return Err(format!(
            "readable or writable by group or others (mode {:o})",
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_secret(meta: &Metadata) -> Result<(), String> {
    check_private(meta)
}

/// The cache's secret key, read from `path`, which is made (with a fresh
/// random key) if it does not exist yet, unless it would be inside the
/// cache folder `cache`. `Err` says why it cannot be used.
fn read_secret(path: &Path, cache: &Path) -> Result<[u8; SECRET_BYTES], String> {
    let (Some(folder), Some(name)) = (path.parent(), path.file_name()) else {
        return Err("it is not a file path".into());
    };
    let folder = if folder.as_os_str().is_empty() {
        Path::new(".")
    } else {
        folder
    };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(folder)
        .map_err(|e| format!("cannot create its folder: {e}"))?;
    let dir = Dir::open_ambient_dir(folder, ambient_authority())
        .map_err(|e| format!("cannot open its folder: {e}"))?;
    let meta = dir
        .dir_metadata()
        .map_err(|e| format!("cannot read its folder's metadata: {e}"))?;
    check_private(&meta).map_err(|why| format!("its folder is {why}"))?;
    // A secret in the cache folder would travel with it (into a
    // repository, an archive) and come back with a planted entry.
    if is_within(folder, cache) {
        return Err("it is inside the cache folder".into());
    }
    let file = match dir.open(name) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            create_secret(&dir, name)?;
            dir.open(name).map_err(|e| format!("cannot open it: {e}"))?
        }
        Err(e) => return Err(format!("cannot open it: {e}")),
    };
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read its metadata: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    check_secret(&meta)?;
    if meta.len() != SECRET_BYTES as u64 {
        return Err(format!("it holds {} bytes, not {SECRET_BYTES}", meta.len()));
    }
    let mut secret = [0u8; SECRET_BYTES];
    std::io::Read::read_exact(&mut file.into_std(), &mut secret)
        .map_err(|e| format!("cannot read it: {e}"))?;
    Ok(secret)
}

/// Makes the secret file `name` in `dir`: random bytes written to a new
/// private temporary file, then linked to `name`, which fails rather than
/// replace a file that is there already (another process's secret, made
/// at the same moment: that one is then used).
fn create_secret(dir: &Dir, name: &std::ffi::OsStr) -> Result<(), String> {
    let mut secret = [0u8; SECRET_BYTES];
    getrandom::fill(&mut secret).map_err(|e| format!("no random bytes for it: {e}"))?;
    let tmp = format!("{}.{:016x}.tmp", name.to_string_lossy(), random_suffix());
    let written = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        cap_std::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = dir.open_with(&tmp, &options)?;
        file.write_all(&secret)?;
        file.sync_all()?;
        match dir.hard_link(&tmp, dir, name) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
            _ => Ok(()),
        }
    })();
    let _ = dir.remove_file(&tmp);
    written.map_err(|e| format!("cannot create it: {e}"))
}

/// Whether `inner` is `outer` or inside it, comparing real paths.
fn is_within(inner: &Path, outer: &Path) -> bool {
    match (std::fs::canonicalize(inner), std::fs::canonicalize(outer)) {
        (Ok(inner), Ok(outer)) => inner.starts_with(outer),
        // What cannot be resolved cannot be shown to be apart.
        _ => true,
    }
}

/// An unpredictable suffix for temporary names, from the standard
/// library's randomly keyed hasher.
fn random_suffix() -> u64 {
    let mut hasher = std::hash::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    if let Ok(since) = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH) {
        hasher.write_u128(since.as_nanos());
    }
    hasher.finish()
}

impl ComponentCache {
    /// Opens (creating if needed, mode `0700`) the cache directory and
    /// checks that it is private to this user; reads (or makes) the secret
    /// at `secret` and checks it (see the module docs).
    pub(crate) fn open(
        path: &Path,
        secret: Option<&Path>,
        engine: &wasmtime::Engine,
        max_bytes: u64,
    ) -> Result<ComponentCache, String> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(path)
            .map_err(|e| format!("cannot create it: {e}"))?;
        let dir = Dir::open_ambient_dir(path, ambient_authority())
            .map_err(|e| format!("cannot open it: {e}"))?;
        let meta = dir
            .dir_metadata()
            .map_err(|e| format!("cannot read its metadata: {e}"))?;
        check_private(&meta)?;
        let secret_path = secret
            .map(Path::to_path_buf)
            .or_else(default_cache_secret_file)
            .ok_or(
                "there is no place for its secret key: set \
                 EngineBuilder::cache_secret_file, XDG_STATE_HOME or HOME",
            )?;
        let key = read_secret(&secret_path, path)
            .map_err(|why| format!("its secret key {}: {why}", secret_path.display()))?;
        let mut hasher = Fingerprint(blake3::Hasher::new_keyed(&key));
        hasher.0.update(b"wasmudf cache engine\0");
        std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut hasher);
        hasher.0.update(env!("CARGO_PKG_VERSION").as_bytes());
        Ok(ComponentCache {
            dir,
            path: path.to_path_buf(),
            engine_key: hasher.0.finalize().into(),
            max_bytes,
        })
    }

    /// The key of the entry for component `bytes`: it names the entry and
    /// keys its digest. Keyed by the secret (through `engine_key`), so no
    /// one without it can tell which name the cache will look for.
    fn entry_key(&self, bytes: &[u8]) -> [u8; 32] {
        blake3::keyed_hash(&self.engine_key, bytes).into()
    }

    fn entry_name(key: &[u8; 32], kind: Artifact) -> String {
        let hex = crate::component::hex(key);
        match kind {
            Artifact::Component => format!("{hex}.cwasm"),
            Artifact::DirectModule => format!("{hex}.direct.cwasm"),
        }
    }

    /// The digest an entry for `key` and `kind` holding `artifact` ends
    /// with. BLAKE3, keyed: it reads tens of megabytes on every cached
    /// start, several times faster than SHA-256.
    fn digest(key: &[u8; 32], kind: Artifact, artifact: &[u8]) -> [u8; 32] {
        let mut hasher = blake3::Hasher::new_keyed(key);
        hasher.update(b"wasmudf cache entry\0");
        hasher.update(&[kind as u8]);
        hasher.update(artifact);
        hasher.finalize().into()
    }

    /// The entry, mapped, once it has passed every check; `None` (with a
    /// warning unless it simply does not exist) otherwise.
    fn read(&self, key: &[u8; 32], kind: Artifact) -> Option<Entry> {
        let name = Self::entry_name(key, kind);
        let refuse = |why: &str| {
            tracing::warn!(
                "wasmudf: ignoring cache entry {} in {}: {why}",
                name,
                self.path.display()
            );
        };
        let file = match self.dir.open(&name) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                refuse(&e.to_string());
                return None;
            }
        };
        let meta = match file.metadata() {
            Ok(meta) => meta,
            Err(e) => {
                refuse(&e.to_string());
                return None;
            }
        };
        if !meta.is_file() {
            refuse("not a regular file");
            return None;
        }
        if let Err(why) = check_private(&meta) {
            refuse(&why);
            return None;
        }
        if meta.len() > self.max_bytes {
            refuse("larger than the cache's size cap");
            return None;
        }
        let file = file.into_std();
        // SAFETY: the file is private to this user (checked above on this
        // handle), and entries are never written in place: `write` renames
        // a fresh file over the name, which leaves this mapping on the old
        // one.
        let map = match unsafe { memmap2::Mmap::map(&file) } {
            Ok(map) => map,
            Err(e) => {
                refuse(&e.to_string());
                return None;
            }
        };
        let Some(artifact_len) = map.len().checked_sub(TRAILER_BYTES) else {
            refuse("too short to be an entry");
            return None;
        };
        let (artifact, trailer) = map.split_at(artifact_len);
        let genuine = trailer[..MAGIC.len()] == MAGIC[..]
            && trailer[MAGIC.len()..] == Self::digest(key, kind, artifact)[..];
        if !genuine {
            refuse(
                "its digest does not match this component (another component's artifact, or damaged)",
            );
            return None;
        }
        // Reading refreshes the entry's place in the eviction order. Only
        // the owner may set times, which the check above established.
        let _ = file.set_modified(SystemTime::now());
        Some(Entry {
            file,
            map,
            artifact_len,
        })
    }

    fn write(&self, key: &[u8; 32], kind: Artifact, artifact: wasmtime::Result<Vec<u8>>) {
        let name = Self::entry_name(key, kind);
        let artifact = match artifact {
            Ok(artifact) => artifact,
            Err(err) => {
                tracing::warn!("wasmudf: could not serialize {name}: {err:#}");
                return;
            }
        };
        if (artifact.len() + TRAILER_BYTES) as u64 > self.max_bytes {
            tracing::debug!("wasmudf: {name} is larger than the cache's size cap; not cached");
            return;
        }
        let tmp = format!("{name}.{:016x}.tmp", random_suffix());
        let written = (|| {
            let mut options = OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            cap_std::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = self.dir.open_with(&tmp, &options)?;
            file.write_all(&artifact)?;
            file.write_all(MAGIC)?;
            file.write_all(&Self::digest(key, kind, &artifact))?;
            file.sync_all()?;
            self.dir.rename(&tmp, &self.dir, &name)
        })();
        if let Err(err) = written {
            let _ = self.dir.remove_file(&tmp);
            tracing::warn!(
                "wasmudf: could not write cache entry in {}: {err}",
                self.path.display()
            );
            return;
        }
        self.evict();
    }

    /// Removes the least recently used entries until the directory's
    /// entries fit in `max_bytes`. Only files this cache names are counted
    /// or removed, so a cache pointed at a shared folder deletes nothing
    /// else.
    fn evict(&self) {
        let Ok(entries) = self.dir.entries() else {
            return;
        };
        let mut found: Vec<(SystemTime, String, u64)> = entries
            .filter_map(|entry| {
                let entry = entry.ok()?;
                let name = entry.file_name().into_string().ok()?;
                if !(name.ends_with(".cwasm") || name.ends_with(".tmp")) {
                    return None;
                }
                let meta = entry.metadata().ok()?;
                if !meta.is_file() {
                    return None;
                }
                let used = meta
                    .modified()
                    .map(cap_std::time::SystemTime::into_std)
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                Some((used, name, meta.len()))
            })
            .collect();
        let mut total: u64 = found.iter().map(|(_, _, len)| len).sum();
        if total <= self.max_bytes {
            return;
        }
        found.sort();
        for (_, name, len) in found {
            if total <= self.max_bytes {
                break;
            }
            match self.dir.remove_file(&name) {
                Ok(()) => total = total.saturating_sub(len),
                Err(err) => tracing::debug!("wasmudf: could not evict {name}: {err}"),
            }
        }
    }

    /// Loads an entry with `deserialize`, ignoring (and logging) one that
    /// fails a check or that wasmtime rejects.
    fn load<T>(
        &self,
        bytes: &[u8],
        kind: Artifact,
        deserialize: impl FnOnce(Entry) -> wasmtime::Result<T>,
    ) -> Option<T> {
        let key = self.entry_key(bytes);
        let entry = self.read(&key, kind)?;
        match deserialize(entry) {
            Ok(compiled) => Some(compiled),
            Err(err) => {
                tracing::warn!(
                    "wasmudf: ignoring cache entry {}: {err:#}",
                    Self::entry_name(&key, kind)
                );
                None
            }
        }
    }

    /// The compiled component for `bytes`, if it is cached.
    pub(crate) fn get(
        &self,
        engine: &wasmtime::Engine,
        bytes: &[u8],
    ) -> Option<wasmtime::component::Component> {
        self.load(bytes, Artifact::Component, |entry| {
            // SAFETY: `read` only returns an entry from a directory and a
            // file that only this user can write, whose digest (keyed by
            // this engine's fingerprint and these component bytes)
            // matches: it was written by `put` from wasmtime's own
            // `serialize` of this component, for a compatible engine, and
            // it is never modified in place (see `read`).
            unsafe {
                match entry.checked_path() {
                    // Mapped in place, through the handle that was checked.
                    Some(path) => wasmtime::component::Component::deserialize_file(engine, path),
                    None => wasmtime::component::Component::deserialize(engine, entry.artifact()),
                }
            }
        })
    }

    /// Stores the compiled component for `bytes`; failures are logged.
    pub(crate) fn put(&self, bytes: &[u8], component: &wasmtime::component::Component) {
        self.write(
            &self.entry_key(bytes),
            Artifact::Component,
            component.serialize(),
        );
    }

    /// The compiled direct-path module of the component `bytes`, if cached.
    pub(crate) fn get_direct(
        &self,
        engine: &wasmtime::Engine,
        bytes: &[u8],
    ) -> Option<wasmtime::Module> {
        // SAFETY: as in `get`: a private file whose digest matches, written
        // by `put_direct` from wasmtime's own `serialize`, never modified in
        // place. It is mapped in place from the checked handle itself.
        self.load(bytes, Artifact::DirectModule, |entry| unsafe {
            wasmtime::Module::deserialize_open_file(engine, entry.file)
        })
    }

    /// Stores the direct-path module compiled from the component `bytes`.
    pub(crate) fn put_direct(&self, bytes: &[u8], module: &wasmtime::Module) {
        self.write(
            &self.entry_key(bytes),
            Artifact::DirectModule,
            module.serialize(),
        );
    }
}

/// A cache entry that passed every check: its open file and a mapping of
/// it, the artifact first, then the trailer.
struct Entry {
    file: std::fs::File,
    map: memmap2::Mmap,
    artifact_len: usize,
}

impl Entry {
    /// wasmtime's artifact, without the trailer.
    fn artifact(&self) -> &[u8] {
        &self.map[..self.artifact_len]
    }

    /// A path that opens this very file, not whatever the entry's name
    /// points at by now: the checks were made on this handle. Linux only
    /// (`/proc/self/fd`); elsewhere the entry is loaded from the mapping.
    fn checked_path(&self) -> Option<PathBuf> {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let path = PathBuf::from(format!("/proc/self/fd/{}", self.file.as_raw_fd()));
            path.exists().then_some(path)
        }
        #[cfg(not(target_os = "linux"))]
        None
    }
}

/// What a cache entry holds. Both kinds are keyed by the component's bytes.
#[derive(Debug, Clone, Copy)]
enum Artifact {
    Component = 1,
    DirectModule = 2,
}

/// Where the cache's secret key is kept unless the embedder says
/// otherwise ([`EngineBuilder::cache_secret_file`](crate::EngineBuilder::cache_secret_file)):
/// `$XDG_STATE_HOME/wasmudf/cache-secret` (an absolute `XDG_STATE_HOME`),
/// else `$HOME/.local/state/wasmudf/cache-secret`.
///
/// ```
/// if let Some(path) = wasmudf::default_cache_secret_file() {
///     assert!(path.ends_with("wasmudf/cache-secret"));
/// }
/// ```
pub fn default_cache_secret_file() -> Option<PathBuf> {
    std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".local").join("state"))
        })
        .map(|base| base.join("wasmudf").join(SECRET_FILE))
}

/// The default cache directory: `$XDG_CACHE_HOME/wasmudf`, else
/// `$HOME/.cache/wasmudf`.
pub fn default_cache_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|base| base.join("wasmudf"))
}
