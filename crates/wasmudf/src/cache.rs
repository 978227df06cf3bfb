//! The on-disk cache of compiled components, so a second start skips
//! Cranelift.
//!
//! An entry is keyed by the SHA-256 of the component's bytes together with
//! wasmtime's compatibility hash of the engine configuration, so a change of
//! wasmtime version or of engine settings never loads a stale artifact. The
//! directory is opened with cap-std; entries are written to a temporary
//! name and renamed into place, so a crash never leaves half an entry.
//!
//! Loading an entry runs native code that wasmtime produced earlier, which
//! is why wasmtime marks deserialization `unsafe`: the cache directory must
//! be writable only by the user running wasmudf (it is created `0700`).

use std::hash::Hasher;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::{Dir, OpenOptions};
use sha2::{Digest, Sha256};

/// A cache directory for one engine configuration.
#[derive(Debug)]
pub(crate) struct ComponentCache {
    dir: Dir,
    path: PathBuf,
    engine_key: [u8; 32],
}

/// Feeds `Hash` output into SHA-256, to fingerprint the engine.
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

impl ComponentCache {
    /// Opens (creating if needed) the cache directory.
    pub(crate) fn open(path: &Path, engine: &wasmtime::Engine) -> std::io::Result<ComponentCache> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(path)?;
        let dir = Dir::open_ambient_dir(path, ambient_authority())?;
        let mut hasher = ShaHasher(Sha256::new());
        std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut hasher);
        hasher.0.update(env!("CARGO_PKG_VERSION").as_bytes());
        Ok(ComponentCache {
            dir,
            path: path.to_path_buf(),
            engine_key: hasher.0.finalize().into(),
        })
    }

    /// The entry for an artifact of `kind` compiled from `bytes`.
    fn entry_name(&self, bytes: &[u8], kind: Artifact) -> String {
        let mut sha = Sha256::new();
        sha.update(self.engine_key);
        sha.update(bytes);
        let digest = sha.finalize();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        match kind {
            Artifact::Component => format!("{hex}.cwasm"),
            Artifact::DirectModule => format!("{hex}.direct.cwasm"),
        }
    }

    fn read(&self, name: &str) -> Option<Vec<u8>> {
        let mut file = self.dir.open(name).ok()?;
        let mut artifact = Vec::new();
        file.read_to_end(&mut artifact).ok()?;
        Some(artifact)
    }

    fn write(&self, name: &str, artifact: wasmtime::Result<Vec<u8>>) {
        let result = artifact
            .map_err(std::io::Error::other)
            .and_then(|artifact| {
                let tmp = format!("{name}.{}.tmp", std::process::id());
                let mut file = self.dir.open_with(
                    &tmp,
                    OpenOptions::new().write(true).create(true).truncate(true),
                )?;
                file.write_all(&artifact)?;
                file.sync_all()?;
                self.dir.rename(&tmp, &self.dir, name)
            });
        if let Err(err) = result {
            tracing::warn!(
                "wasmudf: could not write cache entry in {}: {err}",
                self.path.display()
            );
        }
    }

    /// Loads an entry with `deserialize`, ignoring (and logging) one that
    /// wasmtime rejects.
    fn load<T>(
        &self,
        bytes: &[u8],
        kind: Artifact,
        deserialize: impl FnOnce(&[u8]) -> wasmtime::Result<T>,
    ) -> Option<T> {
        let name = self.entry_name(bytes, kind);
        match deserialize(&self.read(&name)?) {
            Ok(compiled) => Some(compiled),
            Err(err) => {
                tracing::warn!("wasmudf: ignoring cache entry {name}: {err:#}");
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
        // SAFETY: the entry was written by `put` from wasmtime's own
        // `serialize` for an engine with the same compatibility hash (it is
        // part of the name), in a directory private to this user.
        self.load(bytes, Artifact::Component, |artifact| unsafe {
            wasmtime::component::Component::deserialize(engine, artifact)
        })
    }

    /// Stores the compiled component for `bytes`; failures are logged.
    pub(crate) fn put(&self, bytes: &[u8], component: &wasmtime::component::Component) {
        self.write(
            &self.entry_name(bytes, Artifact::Component),
            component.serialize(),
        );
    }

    /// The compiled direct-path module of the component `bytes`, if cached.
    pub(crate) fn get_direct(
        &self,
        engine: &wasmtime::Engine,
        bytes: &[u8],
    ) -> Option<wasmtime::Module> {
        // SAFETY: as in `get`: written by `put_direct` from wasmtime's own
        // `serialize` for a compatible engine, in a private directory.
        self.load(bytes, Artifact::DirectModule, |artifact| unsafe {
            wasmtime::Module::deserialize(engine, artifact)
        })
    }

    /// Stores the direct-path module compiled from the component `bytes`.
    pub(crate) fn put_direct(&self, bytes: &[u8], module: &wasmtime::Module) {
        self.write(
            &self.entry_name(bytes, Artifact::DirectModule),
            module.serialize(),
        );
    }
}

/// What a cache entry holds. Both kinds are keyed by the component's bytes.
#[derive(Debug, Clone, Copy)]
enum Artifact {
    Component,
    DirectModule,
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
