//! The shared compilation engine: one wasmtime `Engine`, its WASI linker and
//! its epoch ticker, used by every thread.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use wasmtime::component::Linker;

use crate::cache::{CacheStatus, ComponentCache};
use crate::clock::CoarseClock;
use crate::component::Component;
use crate::error::{Error, Result};
use crate::files::{SkipReason, Skipped};
use crate::limits::Limits;
use crate::sandbox::{self, HostState};

/// How often the epoch ticker advances the engine's epoch. Deadlines are
/// rounded up to whole ticks.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Configures and builds an [`Engine`].
///
/// # Examples
///
/// ```
/// # fn main() -> wasmudf::Result<()> {
/// let engine = wasmudf::Engine::builder()
///     .limits(wasmudf::Limits {
///         timeout: std::time::Duration::from_secs(1),
///         ..Default::default()
///     })
///     .build()?;
/// # let _ = engine;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct EngineBuilder {
    limits: Limits,
    pooling: bool,
    max_component_bytes: u64,
    on_call: Option<CallHook>,
    cache_dir: Option<std::path::PathBuf>,
    cache_secret_file: Option<std::path::PathBuf>,
    cache_max_bytes: u64,
    epoch_interruption: bool,
    direct_calls: bool,
}

impl std::fmt::Debug for EngineBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineBuilder")
            .field("limits", &self.limits)
            .field("pooling", &self.pooling)
            .field("max_component_bytes", &self.max_component_bytes)
            .field("on_call", &self.on_call.is_some())
            .field("cache_dir", &self.cache_dir)
            .field("cache_secret_file", &self.cache_secret_file)
            .field("cache_max_bytes", &self.cache_max_bytes)
            .field("epoch_interruption", &self.epoch_interruption)
            .field("direct_calls", &self.direct_calls)
            .finish()
    }
}

impl Default for EngineBuilder {
    fn default() -> Self {
        EngineBuilder {
            limits: Limits::default(),
            pooling: true,
            max_component_bytes: 64 << 20,
            on_call: None,
            cache_dir: None,
            cache_secret_file: None,
            cache_max_bytes: crate::cache::DEFAULT_MAX_BYTES,
            epoch_interruption: true,
            direct_calls: true,
        }
    }
}

/// Whether a [`EngineBuilder::on_call`] hook sees a guest call start or end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallPhase {
    /// The call is about to enter the guest.
    Enter,
    /// The call has returned (or trapped).
    Exit,
}

/// A hook run on the calling thread around every guest call.
pub(crate) type CallHook = Arc<dyn Fn(CallPhase) + Send + Sync>;

/// Counts of component instances over an engine's life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InstanceStats {
    /// Instances created, including those made to replace trapped ones.
    pub created: u64,
    /// Instances alive now.
    pub live: u64,
    /// Instances thrown away after a trap, a limit or an interrupt.
    pub replaced: u64,
    /// Of `created`, the direct-path instances made for scalar calls (see
    /// [`EngineBuilder::direct_calls`]).
    pub direct: u64,
}

#[derive(Debug, Default)]
pub(crate) struct InstanceCounters {
    created: AtomicU64,
    dropped: AtomicU64,
    replaced: AtomicU64,
    direct: AtomicU64,
}

impl InstanceCounters {
    pub(crate) fn created(&self) {
        self.created.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn dropped(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn replaced(&self) {
        self.replaced.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn created_direct(&self) {
        self.direct.fetch_add(1, Ordering::Relaxed);
    }
}

impl EngineBuilder {
    /// Limits applied to every instance of every component loaded on the
    /// engine.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Use wasmtime's pooling instance allocator (the default), which
    /// reserves slots up front so that making a fresh instance is a few
    /// microseconds. `false` allocates each instance on demand.
    pub fn pooling(mut self, enabled: bool) -> Self {
        self.pooling = enabled;
        self
    }

    /// Runs `hook` on the thread that runs the guest, just before and just
    /// after every guest call. Meant for instrumentation (which threads run
    /// guests, how many calls overlap); keep it cheap, it is on the per-row
    /// path.
    pub fn on_call(mut self, hook: impl Fn(CallPhase) + Send + Sync + 'static) -> Self {
        self.on_call = Some(Arc::new(hook));
        self
    }

    /// Keep compiled components in this directory, so that loading the same
    /// component again (in this process or a later one) skips compilation.
    /// Entries are keyed by the component's SHA-256 and the engine
    /// configuration. Off by default; see [`default_cache_dir`](crate::default_cache_dir).
    ///
    /// A cached entry is native code the host runs, so the directory (created
    /// `0700` if missing) and each entry must be owned by the current user
    /// and writable by no one else, and an entry must carry a digest keyed
    /// by a per-user secret kept outside the directory (see
    /// [`cache_secret_file`](EngineBuilder::cache_secret_file)): a file
    /// this host did not write itself is never loaded. A directory (or a
    /// secret) that fails these checks, or cannot be created, is not used:
    /// the engine still builds, compiles every component, logs a warning
    /// and reports why in [`Engine::cache_status`]. An entry that fails is
    /// recompiled and replaced.
    pub fn cache_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// The file holding the cache's secret key (default:
    /// [`default_cache_secret_file`](crate::default_cache_secret_file)).
    /// It is made on first use: 32 random bytes from the operating system,
    /// mode `0600`, in a folder created `0700`. The cache is used only
    /// while the file is the current user's, readable and writable by no
    /// one else, in a folder no one else can write, and outside the cache
    /// directory; otherwise [`Engine::cache_status`] says why not.
    ///
    /// Every engine (and process) of a user that shares a cache directory
    /// should share this file too: an entry written under another secret is
    /// never found, and is recompiled.
    ///
    /// ```no_run
    /// # fn main() -> wasmudf::Result<()> {
    /// let engine = wasmudf::Engine::builder()
    ///     .cache_dir("/var/cache/myapp/wasmudf")
    ///     .cache_secret_file("/var/lib/myapp/wasmudf-cache-secret")
    ///     .build()?;
    /// println!("{}", engine.cache_status());
    /// # Ok(())
    /// # }
    /// ```
    pub fn cache_secret_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.cache_secret_file = Some(path.into());
        self
    }

    /// The most bytes the cache directory may hold (default 512 MiB). After
    /// each write, the least recently used entries are removed until the
    /// rest fit; an artifact larger than this is not cached.
    pub fn cache_max_bytes(mut self, bytes: u64) -> Self {
        self.cache_max_bytes = bytes;
        self
    }

    /// Turns epoch interruption off. Deadlines ([`Limits::timeout`]) and
    /// [`Interrupt`](crate::Interrupt) then no longer stop a guest that is
    /// running wasm code. Only for trusted components, or to measure what
    /// deadlines cost; on by default.
    pub fn epoch_interruption(mut self, enabled: bool) -> Self {
        self.epoch_interruption = enabled;
        self
    }

    /// Whether scalar functions may take the direct path (on by default):
    /// calls straight into the component's main core module, about four
    /// times cheaper than a component-model call. A function that needs
    /// WASI moves to the component path on its first such call, so turning
    /// this off changes speed, never results, with one exception: that
    /// first call's two attempts share one deadline and one fuel budget, so
    /// a call that only just fits its limits on the component path may run
    /// out on that first call. Off is useful to measure the difference;
    /// ARCHITECTURE.md explains the design.
    ///
    /// # Examples
    ///
    /// ```
    /// let engine = wasmudf::Engine::builder().direct_calls(false).build()?;
    /// # Ok::<(), wasmudf::Error>(())
    /// ```
    pub fn direct_calls(mut self, enabled: bool) -> Self {
        self.direct_calls = enabled;
        self
    }

    /// Refuse component files larger than this many bytes (default 64 MiB).
    pub fn max_component_bytes(mut self, bytes: u64) -> Self {
        self.max_component_bytes = bytes;
        self
    }

    /// Builds the engine and starts its epoch ticker.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] if wasmtime rejects the configuration, for example
    /// when the pooling allocator cannot reserve its address space, or when
    /// [`Limits::max_wasm_stack`] is zero or over [`Limits::MAX_WASM_STACK`].
    pub fn build(self) -> Result<Engine> {
        let stack = self.limits.max_wasm_stack;
        if stack == 0 || stack > Limits::MAX_WASM_STACK {
            return Err(Error::Config(format!(
                "max_wasm_stack of {stack} bytes: it must be between 1 byte and {} MiB",
                Limits::MAX_WASM_STACK >> 20
            )));
        }
        let mut config = wasmtime::Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(self.epoch_interruption)
            .consume_fuel(self.limits.fuel.is_some())
            .max_wasm_stack(stack)
            // Checked against `max_wasm_stack` even though no call runs
            // async; guest calls get their stack from `call::with_guest_stack`.
            .async_stack_size(crate::call::stack_needed(stack).max(2 << 20));
        if self.pooling {
            config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool_config(
                &self.limits,
            )));
        }
        let engine = wasmtime::Engine::new(&config).map_err(|e| Error::Config(format!("{e:#}")))?;
        let linker = sandbox::linker(&engine).map_err(|e| Error::Config(format!("{e:#}")))?;
        let (cache, cache_status) = match &self.cache_dir {
            None => (None, CacheStatus::Off),
            Some(dir) => match ComponentCache::open(
                dir,
                self.cache_secret_file.as_deref(),
                &engine,
                self.cache_max_bytes,
            ) {
                Ok(cache) => (Some(cache), CacheStatus::Active(dir.clone())),
                Err(reason) => {
                    let status = CacheStatus::Refused {
                        dir: dir.clone(),
                        reason,
                    };
                    tracing::warn!("wasmudf: {status}");
                    (None, status)
                }
            },
        };
        let clock = Arc::new(CoarseClock::new());
        spawn_epoch_ticker(&engine, &clock);
        crate::call::note_wasm_stack(stack);
        Ok(Engine {
            inner: Arc::new(EngineInner {
                wasmtime: engine,
                linker,
                limits: self.limits,
                max_component_bytes: self.max_component_bytes,
                clock,
                counters: InstanceCounters::default(),
                on_call: self.on_call,
                cache,
                cache_status,
                epoch_interruption: self.epoch_interruption,
                direct_calls: self.direct_calls,
            }),
        })
    }
}

/// Bytes of each pooled table reset with `memset` rather than `madvise`
/// when an instance goes: a guest's table is a few hundred entries, and a
/// system call per table was a measurable share of creating and dropping a
/// direct instance (BENCHMARKS.md).
const KEEP_RESIDENT_TABLE: usize = 16 << 10;

/// Slots a dropped instance frees are decommitted (their memory reset) in
/// batches of this many rather than one system call sequence per drop; a
/// queued slot is not reused before its batch is flushed, and the pool
/// flushes the queue before it reports itself full.
const DECOMMIT_BATCH: usize = 16;

/// The pooling allocator's configuration for `limits`.
///
/// Each component instance may hold up to `max_core_instances` core
/// instances, `max_memories` memories and `max_tables` tables, and the pool
/// has room for `max_instances` component instances at those caps (plus a
/// direct-path store per instance). Core instances in the pool are only a
/// count, so their total is sized for the worst case: a componentize-py
/// component makes about 40 per instantiation. Each pooled memory reserves
/// address space (several GiB), so memories are sized for the common case
/// of a few per instance; a component that needs more than its share fails
/// to instantiate with a clear error once the pool is exhausted, and never
/// takes more than [`Limits::max_memory_bytes`] in total.
fn pool_config(limits: &Limits) -> wasmtime::PoolingAllocationConfig {
    let instances = limits.max_instances;
    let mut pool = wasmtime::PoolingAllocationConfig::new();
    pool.total_component_instances(instances)
        .max_core_instances_per_component(limits.max_core_instances)
        .max_memories_per_component(limits.max_memories)
        .max_tables_per_component(limits.max_tables)
        .max_memories_per_module(limits.max_memories)
        .max_tables_per_module(limits.max_tables)
        // One more core instance and memory per component instance for
        // its direct-path store.
        .total_core_instances(instances.saturating_mul(limits.max_core_instances.saturating_add(1)))
        .total_memories(instances.saturating_mul(3))
        .total_tables(instances.saturating_mul(limits.max_tables.min(4)))
        .max_memory_size(limits.max_memory_bytes)
        .table_elements(limits.max_table_elements)
        .table_keep_resident(KEEP_RESIDENT_TABLE)
        .decommit_batch_size(DECOMMIT_BATCH);
    pool
}

/// What [`Engine::load_dir_report`] found in a directory.
#[derive(Debug)]
#[non_exhaustive]
pub struct DirLoad {
    /// The components loaded, in file-name order.
    pub components: Vec<Component>,
    /// The entries not loaded, in name order, each with its reason; files
    /// not named `*.wasm` are listed too, as [`SkipReason::NotWasm`].
    pub skipped: Vec<Skipped>,
}

/// Compiles components and owns what every instance shares.
///
/// An `Engine` is cheap to clone and is `Send + Sync`: compile components
/// once and use them from any thread.
///
/// # Examples
///
/// ```no_run
/// # fn main() -> wasmudf::Result<()> {
/// let engine = wasmudf::Engine::new()?;
/// let component = engine.load_file("guests/text.wasm")?;
/// for f in component.functions() {
///     println!("{} ({}, {} args)", f.name, f.kind, f.arity);
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    wasmtime: wasmtime::Engine,
    linker: Linker<HostState>,
    limits: Limits,
    max_component_bytes: u64,
    clock: Arc<CoarseClock>,
    counters: InstanceCounters,
    on_call: Option<CallHook>,
    cache: Option<ComponentCache>,
    cache_status: CacheStatus,
    epoch_interruption: bool,
    direct_calls: bool,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine with default [`Limits`] and the pooling allocator.
    ///
    /// # Errors
    ///
    /// See [`EngineBuilder::build`].
    pub fn new() -> Result<Engine> {
        EngineBuilder::default().build()
    }

    /// Starts configuring an engine.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// The limits every instance runs under.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Compiles a component from its bytes and reads its manifest.
    ///
    /// `origin` names the component in error messages.
    ///
    /// # Errors
    ///
    /// A typed load error naming what is wrong: [`Error::NotWasm`],
    /// [`Error::CoreModule`], [`Error::TooLarge`], [`Error::Invalid`],
    /// [`Error::WrongWorld`], [`Error::SeveralVersions`],
    /// [`Error::ForbiddenImport`], [`Error::Manifest`],
    /// [`Error::Instantiate`] or [`Error::ResourceLimit`].
    pub fn load(&self, origin: &str, bytes: &[u8]) -> Result<Component> {
        Component::compile(self.clone(), origin, None, bytes)
    }

    /// Reads and compiles a component file.
    ///
    /// Symbolic links on `path` are followed (the caller named it); the
    /// file is then opened through a capability to its real parent
    /// directory. Only a regular file is read, and files over
    /// [`EngineBuilder::max_component_bytes`] are refused before they are
    /// read.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be read, otherwise as [`Engine::load`].
    pub fn load_file(&self, path: impl AsRef<Path>) -> Result<Component> {
        let path = path.as_ref();
        let bytes = self.read_file(path)?;
        Component::compile(
            self.clone(),
            &path.display().to_string(),
            Some(path),
            &bytes,
        )
    }

    /// Reads and compiles every `.wasm` file directly inside a directory,
    /// in name order. The directory is opened once, through cap-std, and
    /// each regular file is read through that capability; a symbolic link
    /// named `*.wasm` is followed as [`Engine::load_file`] follows one.
    ///
    /// `.wasm` entries that cannot be loaded (a directory, a dangling link)
    /// are skipped with a `tracing` warning; use
    /// [`load_dir_report`](Engine::load_dir_report) to get the list.
    ///
    /// # Errors
    ///
    /// The first file that fails, as [`Engine::load_file`].
    pub fn load_dir(&self, path: impl AsRef<Path>) -> Result<Vec<Component>> {
        let report = self.load_dir_report(path)?;
        for skipped in &report.skipped {
            if skipped.reason != SkipReason::NotWasm {
                tracing::warn!(
                    "wasmudf: skipped {}: {}",
                    skipped.path.display(),
                    skipped.reason
                );
            }
        }
        Ok(report.components)
    }

    /// Like [`load_dir`](Engine::load_dir), and also says which entries of
    /// the directory were not loaded, and why.
    ///
    /// # Errors
    ///
    /// As [`Engine::load_dir`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn main() -> wasmudf::Result<()> {
    /// let engine = wasmudf::Engine::new()?;
    /// let loaded = engine.load_dir_report("udfs/")?;
    /// for skipped in &loaded.skipped {
    ///     eprintln!("skipped {}: {}", skipped.path.display(), skipped.reason);
    /// }
    /// println!("{} components", loaded.components.len());
    /// # Ok(())
    /// # }
    /// ```
    pub fn load_dir_report(&self, path: impl AsRef<Path>) -> Result<DirLoad> {
        let scan = self.read_dir(path)?;
        let components = scan
            .files
            .into_iter()
            .map(|(path, bytes)| {
                Component::compile(
                    self.clone(),
                    &path.display().to_string(),
                    Some(&path),
                    &bytes,
                )
            })
            .collect::<Result<_>>()?;
        Ok(DirLoad {
            components,
            skipped: scan.skipped,
        })
    }

    /// The bytes of a component file, read exactly as
    /// [`load_file`](Engine::load_file) reads them (through cap-std, a
    /// regular file only, refused over the size limit before it is read),
    /// for hosts that keep or send the bytes as well as compiling them.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], or a file over the size limit.
    pub fn read_file(&self, path: impl AsRef<Path>) -> Result<Vec<u8>> {
        crate::files::read_capped(path.as_ref(), self.inner.max_component_bytes)
    }

    /// The `.wasm` files of a directory, read exactly as
    /// [`load_dir_report`](Engine::load_dir_report) reads them, without
    /// compiling them.
    ///
    /// # Errors
    ///
    /// As [`read_file`](Engine::read_file), for the directory or a file.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn main() -> wasmudf::Result<()> {
    /// let engine = wasmudf::Engine::new()?;
    /// for (path, bytes) in engine.read_dir("udfs/")?.files {
    ///     let component = engine.load(&path.display().to_string(), &bytes)?;
    ///     println!("{}: {} bytes", component.origin(), bytes.len());
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn read_dir(&self, path: impl AsRef<Path>) -> Result<crate::DirScan> {
        crate::files::read_wasm_dir(path.as_ref(), self.inner.max_component_bytes)
    }

    /// The most bytes a component file may have
    /// ([`EngineBuilder::max_component_bytes`]).
    pub(crate) fn max_component_bytes(&self) -> u64 {
        self.inner.max_component_bytes
    }

    pub(crate) fn wasmtime(&self) -> &wasmtime::Engine {
        &self.inner.wasmtime
    }

    pub(crate) fn linker(&self) -> &Linker<HostState> {
        &self.inner.linker
    }

    /// Instance counts since the engine was built.
    pub fn instance_stats(&self) -> InstanceStats {
        let c = &self.inner.counters;
        let created = c.created.load(Ordering::Relaxed);
        let dropped = c.dropped.load(Ordering::Relaxed);
        InstanceStats {
            created,
            live: created.saturating_sub(dropped),
            replaced: c.replaced.load(Ordering::Relaxed),
            direct: c.direct.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn cache(&self) -> Option<&ComponentCache> {
        self.inner.cache.as_ref()
    }

    /// Whether compiled components are kept on disk, and if a configured
    /// cache directory was refused, why.
    ///
    /// # Examples
    ///
    /// ```
    /// let engine = wasmudf::Engine::new()?;
    /// assert_eq!(*engine.cache_status(), wasmudf::CacheStatus::Off);
    /// # Ok::<(), wasmudf::Error>(())
    /// ```
    pub fn cache_status(&self) -> &CacheStatus {
        &self.inner.cache_status
    }

    pub(crate) fn epoch_interruption(&self) -> bool {
        self.inner.epoch_interruption
    }

    pub(crate) fn direct_calls(&self) -> bool {
        self.inner.direct_calls
    }

    pub(crate) fn clock(&self) -> &Arc<CoarseClock> {
        &self.inner.clock
    }

    pub(crate) fn counters(&self) -> &InstanceCounters {
        &self.inner.counters
    }

    pub(crate) fn on_call(&self) -> Option<&CallHook> {
        self.inner.on_call.as_ref()
    }
}

/// One thread per engine advances the epoch and the coarse clock; it holds
/// only a weak reference and exits once the engine is dropped.
fn spawn_epoch_ticker(engine: &wasmtime::Engine, clock: &Arc<CoarseClock>) {
    let weak = engine.weak();
    let clock = Arc::downgrade(clock);
    let spawned = std::thread::Builder::new()
        .name("wasmudf-epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(EPOCH_TICK);
                match (weak.upgrade(), clock.upgrade()) {
                    (Some(engine), Some(clock)) => {
                        clock.tick();
                        engine.increment_epoch();
                    }
                    _ => break,
                }
            }
        });
    if let Err(err) = spawned {
        // Without a ticker deadlines never fire; calls still work.
        tracing::error!("wasmudf: could not start the epoch ticker: {err}");
    }
}
