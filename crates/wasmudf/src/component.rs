//! A compiled, pre-instantiated UDF component and its manifest.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use wasmtime::Store;

use crate::bindings::{GUEST_INTERFACE, GuestIndices, Udf, WitVersion};
use crate::direct::plan::Plan;
use crate::direct::{DirectInstance, DirectModule};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::interrupt::{Interrupt, Interrupted};
use crate::manifest::{self, FunctionSpec};
use crate::sandbox::{Capabilities, DirGrant, HostState};

/// A UDF component compiled once and ready to instantiate on any thread.
///
/// Cloning is cheap (an `Arc`). The compiled code and the `InstancePre` are
/// shared by every connection the component is registered on; each
/// connection gets its own instance, created on first use.
///
/// # Examples
///
/// ```no_run
/// # fn main() -> anyhow::Result<()> {
/// let engine = wasmudf::Engine::new()?;
/// let text = engine.load_file("text.wasm")?;
/// let conn = rusqlite::Connection::open_in_memory()?;
/// text.register(&conn)?;
/// let upper: String =
///     conn.query_row("SELECT unicode_upper('straße')", [], |row| row.get(0))?;
/// assert_eq!(upper, "STRASSE");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Component {
    inner: Arc<ComponentInner>,
    trusted: bool,
    allow_override: bool,
    grants: Arc<[DirGrant]>,
}

struct ComponentInner {
    engine: Engine,
    origin: String,
    /// The file it was read from, for [`Engine::load_file`] and friends.
    path: Option<PathBuf>,
    sha256: [u8; 32],
    size: usize,
    loaded_at: SystemTime,
    load_time: Duration,
    language: Option<String>,
    /// Instances alive now (component and direct), on every connection.
    live: Arc<AtomicU64>,
    pre: wasmtime::component::InstancePre<HostState>,
    exports: GuestIndices,
    functions: Vec<FunctionSpec>,
    /// The direct path for scalar calls, when the component's canonical
    /// definitions allow one and it has scalar functions to call (see
    /// [`crate::direct`]).
    direct: Option<LazyDirect>,
}

/// The direct path's module, compiled on the first scalar call that can use
/// it rather than at load time: for a large component whose functions all
/// need WASI, compiling it would double load time and cache size for
/// nothing. Compiled once per [`Component`], shared by every connection.
struct LazyDirect {
    plan: Plan,
    /// The component's bytes until the module is compiled (the cache is
    /// keyed by them); dropped then.
    bytes: Mutex<Option<Box<[u8]>>>,
    /// `None` once compiling or linking failed: no direct path after all.
    module: OnceLock<Option<DirectModule>>,
}

impl std::fmt::Debug for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Component")
            .field("origin", &self.inner.origin)
            .field("functions", &self.inner.functions)
            .field("trusted", &self.trusted)
            .field("allow_override", &self.allow_override)
            .field("grants", &self.grants)
            .finish_non_exhaustive()
    }
}

/// What the first bytes of a file say it is.
fn check_header(origin: &str, bytes: &[u8]) -> Result<()> {
    const MAGIC: &[u8] = b"\0asm";
    const CORE_VERSION: [u8; 4] = [1, 0, 0, 0];
    let not_wasm = |detail: &str| Error::NotWasm {
        origin: origin.to_string(),
        detail: detail.to_string(),
    };
    if bytes.is_empty() {
        return Err(not_wasm("the file is empty"));
    }
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        return Err(not_wasm("it does not start with the `\\0asm` magic number"));
    }
    if bytes[4..8] == CORE_VERSION {
        return Err(Error::CoreModule {
            origin: origin.to_string(),
        });
    }
    Ok(())
}

impl Component {
    pub(crate) fn compile(
        engine: Engine,
        origin: &str,
        path: Option<&Path>,
        bytes: &[u8],
    ) -> Result<Component> {
        let started = Instant::now();
        check_header(origin, bytes)?;
        crate::precheck::check(bytes, engine.limits()).map_err(|detail| Error::OverLimit {
            origin: origin.to_string(),
            detail,
        })?;
        // wasmtime's messages quote names from the bytes (an import's or
        // export's name), which are the component's text: escaped like
        // any guest text.
        let invalid = |e: wasmtime::Error| Error::Invalid {
            origin: origin.to_string(),
            detail: crate::escape_controls(&format!("{e:#}")).into_owned(),
        };
        let cached = engine.cache().and_then(|c| c.get(engine.wasmtime(), bytes));
        let from_cache = cached.is_some();
        let component = match cached {
            Some(component) => component,
            None => {
                wasmtime::component::Component::new(engine.wasmtime(), bytes).map_err(invalid)?
            }
        };
        check_imports(origin, &engine, &component)?;
        let version = check_world(origin, &engine, &component)?;
        let instance_pre =
            engine
                .linker()
                .instantiate_pre(&component)
                .map_err(|e| Error::Instantiate {
                    origin: origin.to_string(),
                    detail: format!("{e:#}"),
                })?;
        let wrong_shape = |e: wasmtime::Error| Error::WrongWorld {
            origin: origin.to_string(),
            detail: format!(
                "exports `{}` with the wrong shape: {e:#}",
                version.export_name()
            ),
        };
        let exports = GuestIndices::new(&instance_pre, version).map_err(wrong_shape)?;
        let mut inner = ComponentInner {
            engine,
            origin: origin.to_string(),
            path: path.map(Path::to_path_buf),
            sha256: sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(bytes))
                .into(),
            size: bytes.len(),
            loaded_at: SystemTime::now(),
            load_time: Duration::ZERO,
            language: language(bytes),
            live: Arc::new(AtomicU64::new(0)),
            pre: instance_pre,
            exports,
            functions: Vec::new(),
            direct: None,
        };
        inner.functions = read_manifest(&inner)?;
        // Cached only now: a component refused above is not worth keeping.
        if !from_cache && let Some(cache) = inner.engine.cache() {
            cache.put(bytes, &component);
        }
        // Scalars, aggregates and windows all take the direct path when
        // the plan allows; the module is compiled on the first call.
        if !inner.functions.is_empty() && inner.engine.direct_calls() {
            inner.direct = crate::direct::plan::plan(bytes, version)
                .inspect_err(|why| tracing::debug!("{origin}: no direct path: {why}"))
                .ok()
                .map(|plan| LazyDirect {
                    plan,
                    bytes: Mutex::new(Some(bytes.into())),
                    module: OnceLock::new(),
                });
        }
        inner.load_time = started.elapsed();
        Ok(Component {
            inner: Arc::new(inner),
            trusted: false,
            allow_override: false,
            grants: Arc::new([]),
        })
    }

    /// Where the component came from: its path, or the name given to
    /// [`Engine::load`].
    pub fn origin(&self) -> &str {
        &self.inner.origin
    }

    /// The file the component was read from ([`Engine::load_file`],
    /// [`Engine::load_dir`]); `None` for [`Engine::load`].
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    /// The size of the component's bytes.
    pub fn size(&self) -> usize {
        self.inner.size
    }

    /// When the component was loaded.
    pub fn loaded_at(&self) -> SystemTime {
        self.inner.loaded_at
    }

    /// How long loading took: compiling (or reading the compiled code from
    /// the cache), checking and reading the manifest.
    pub fn load_time(&self) -> Duration {
        self.inner.load_time
    }

    /// The source language, when the component says (its `producers`
    /// section names a language, or a tool that implies one:
    /// componentize-js, componentize-py).
    ///
    /// ```no_run
    /// # fn f(engine: &wasmudf::Engine) -> wasmudf::Result<()> {
    /// let text = engine.load_file("text.wasm")?;
    /// assert_eq!(text.language(), Some("Rust"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn language(&self) -> Option<&str> {
        self.inner.language.as_deref()
    }

    /// Instances of this component alive now, on every connection and
    /// [`Instance`](crate::Instance) (the direct path's included).
    pub fn live_instances(&self) -> u64 {
        self.inner.live.load(Ordering::Relaxed)
    }

    /// The counter [`live_instances`](Component::live_instances) reads.
    pub(crate) fn live_counter(&self) -> Arc<AtomicU64> {
        self.inner.live.clone()
    }

    /// The functions the component provides, in manifest order.
    pub fn functions(&self) -> &[FunctionSpec] {
        &self.inner.functions
    }

    /// Instances of this component for calls outside SQLite (see
    /// [`Instance`](crate::Instance)), created on first use.
    pub fn instance(&self) -> crate::Instance {
        crate::Instance::new(self, Interrupt::new())
    }

    /// The manifest index of the function SQL would call as `name` with
    /// `arity` arguments: matched case-insensitively, the exact arity
    /// before a variadic one, as SQLite resolves overloads.
    pub fn function_index(&self, name: &str, arity: usize) -> Option<usize> {
        let named = |f: &&FunctionSpec| f.name.eq_ignore_ascii_case(name);
        let functions = self.functions();
        let exact = functions.iter().position(|f| {
            named(&f) && matches!(f.arity, crate::Arity::Exactly(n) if usize::from(n) == arity)
        });
        exact.or_else(|| {
            functions
                .iter()
                .position(|f| named(&f) && f.arity == crate::Arity::Variadic)
        })
    }

    /// The SHA-256 of the component's bytes: its identity wherever it is
    /// loaded (two copies of one file are the same component).
    pub fn sha256(&self) -> [u8; 32] {
        self.inner.sha256
    }

    /// [`sha256`](Component::sha256) in lowercase hex, as
    /// `wasmudf_components` shows it.
    pub fn sha256_hex(&self) -> String {
        hex(&self.inner.sha256)
    }

    /// The version of the `wasmudf:udf` interface the component exports.
    /// The host loads 0.1.0 and 0.2.0 components alike; the 0.2.0 additions
    /// (declared types, batched columns, mergeable accumulators) are absent
    /// from a 0.1.0 component.
    pub fn wit_version(&self) -> WitVersion {
        self.inner.exports.version()
    }

    /// The engine this component was compiled on.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Marks the component trusted (or not). Functions of a trusted
    /// component get the manifest's `innocuous` flag and are not forced to
    /// `SQLITE_DIRECTONLY`, so a schema (view, trigger, index, CHECK,
    /// DEFAULT, generated column) may call them. Untrusted is the default.
    pub fn trusted(mut self, trusted: bool) -> Component {
        self.trusted = trusted;
        self
    }

    /// Lets this component's functions replace or shadow functions the
    /// connection already has (SQLite's builtins, the application's, other
    /// components'), instead of failing with [`Error::NameClash`]. Off by
    /// default, and meant only for components the embedder vouches for: a
    /// variadic `abs` would take over every call of `abs`, including those
    /// inside existing views and triggers.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn f(engine: &wasmudf::Engine, conn: &rusqlite::Connection) -> wasmudf::Result<()> {
    /// // A component whose `lower` is meant to replace SQLite's ASCII-only one.
    /// let unicode = engine.load_file("unicode-lower.wasm")?.allow_override(true);
    /// unicode.register(conn)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn allow_override(mut self, allow: bool) -> Component {
        self.allow_override = allow;
        self
    }

    /// Whether [`Component::allow_override`] is on.
    pub fn overrides_allowed(&self) -> bool {
        self.allow_override
    }

    /// Lets the component's instances use a host directory. Nothing is
    /// granted by default. The directory is checked now, and opened with
    /// cap-std for each new instance.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the directory cannot be opened.
    pub fn grant_dir(mut self, grant: DirGrant) -> Result<Component> {
        cap_std::fs::Dir::open_ambient_dir(&grant.host, cap_std::ambient_authority()).map_err(
            |source| Error::Io {
                path: grant.host.clone(),
                source,
            },
        )?;
        let mut grants = self.grants.to_vec();
        grants.push(grant);
        self.grants = grants.into();
        Ok(self)
    }

    /// The directories granted with [`Component::grant_dir`].
    pub fn granted_dirs(&self) -> &[DirGrant] {
        &self.grants
    }

    /// Whether the component is trusted; see [`Component::trusted`].
    pub fn is_trusted(&self) -> bool {
        self.trusted
    }

    /// Registers every function of the component on `conn`.
    ///
    /// The connection gets its own instance of the component, created on
    /// the first call and replaced after a trap; aggregate state lives in
    /// that instance for as long as SQLite keeps the aggregate context.
    ///
    /// # Errors
    ///
    /// [`Error::NameClash`] if a function would replace or shadow one
    /// already on `conn` (SQLite's builtin, the application's or another
    /// component's): the same name with the same arity, or the same name
    /// when either is variadic, since SQLite then sends calls of other
    /// arities to the variadic one. Nothing is registered then, unless
    /// [`Component::allow_override`] is on. [`Error::Sqlite`] if SQLite
    /// refuses a registration.
    pub fn register(&self, conn: &rusqlite::Connection) -> Result<()> {
        crate::register::register(self, conn, Interrupt::new())
    }

    /// Like [`Component::register`], with guest calls on this connection
    /// stoppable through `interrupt`.
    ///
    /// # Errors
    ///
    /// As [`Component::register`].
    pub fn register_with(&self, conn: &rusqlite::Connection, interrupt: &Interrupt) -> Result<()> {
        crate::register::register(self, conn, interrupt.clone())
    }

    /// Removes every function of the component from `conn`, as registering
    /// put them there: SQLite forgets them (statements prepared before
    /// must be prepared again), and the component's instances on the
    /// connection go when no statement uses them any more.
    ///
    /// # Errors
    ///
    /// [`Error::Sqlite`] if SQLite refuses, e.g. while a statement that
    /// uses one of the functions is running on `conn`.
    pub fn unregister(&self, conn: &rusqlite::Connection) -> Result<()> {
        crate::register::unregister(self, conn)
    }

    /// Whether `other` is this component: the same compiled code (a clone,
    /// whatever its trust or grants).
    pub fn same_as(&self, other: &Component) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Creates one fresh instance of the component from its `InstancePre`,
    /// with a new `Store`, and drops it. This is the work a connection does
    /// on a component's first call, and after a trap; use it to check that
    /// instantiation works under the engine's limits, or to measure it.
    ///
    /// # Errors
    ///
    /// [`Error::Instantiate`] if instantiation fails, e.g. because the
    /// engine's instance limit is reached.
    pub fn probe_instance(&self) -> Result<()> {
        self.instantiate(&Interrupt::new(), false)
            .map(drop)
            .map_err(|e| match instantiate_error(&self.inner.origin, &e) {
                limit @ Error::ResourceLimit { .. } => limit,
                _ => Error::Instantiate {
                    origin: self.inner.origin.clone(),
                    detail: format!("{e:#}"),
                },
            })
    }

    /// Whether this component's scalar functions can take the direct path:
    /// calls straight into its main core module (see
    /// [`EngineBuilder::direct_calls`](crate::EngineBuilder::direct_calls)).
    /// `false` for components whose canonical definitions differ from what
    /// the direct path implements, for components with no function, and
    /// when the engine has the direct path off.
    ///
    /// This says the component *can* have a direct path: the main module is
    /// compiled only on the first scalar call that can use it (or by
    /// [`probe_direct_instance`](Component::probe_direct_instance)), and a
    /// module that then fails to compile or link leaves the component on
    /// the component path after all.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn f(engine: &wasmudf::Engine) -> wasmudf::Result<()> {
    /// let component = engine.load_file("guests/target/wasm32-wasip2/release/text.wasm")?;
    /// println!("direct path: {}", component.has_direct_path());
    /// # Ok(())
    /// # }
    /// ```
    pub fn has_direct_path(&self) -> bool {
        self.inner.direct.is_some()
    }

    /// Whether this component's aggregate and window functions can take the
    /// direct path too: [`has_direct_path`](Component::has_direct_path),
    /// and its `accumulator` resource (methods, destructor and intrinsics)
    /// has the shape the direct path implements. Like `has_direct_path`,
    /// this says *can*: the module is compiled on first use.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn f(engine: &wasmudf::Engine) -> wasmudf::Result<()> {
    /// let component = engine.load_file("guests/target/wasm32-wasip2/release/stats.wasm")?;
    /// println!("aggregates on the direct path: {}", component.has_direct_aggregates());
    /// # Ok(())
    /// # }
    /// ```
    pub fn has_direct_aggregates(&self) -> bool {
        self.inner
            .direct
            .as_ref()
            .is_some_and(|d| d.plan.accumulator.is_ok())
    }

    /// Like [`probe_instance`](Component::probe_instance), for the instance
    /// scalar calls use on the direct path: compiles the direct module if
    /// no call has yet, creates an instance with a new `Store` and drops it.
    /// Returns `Ok(false)` when the component has no direct path, including
    /// when its module turns out not to compile or link.
    ///
    /// # Errors
    ///
    /// [`Error::Instantiate`] if instantiation fails.
    pub fn probe_direct_instance(&self) -> Result<bool> {
        match self.instantiate_direct(&Interrupt::new()) {
            None => Ok(false),
            Some(Ok(_)) => Ok(true),
            Some(Err(e)) => Err(Error::Instantiate {
                origin: self.inner.origin.clone(),
                detail: format!("{e:#}"),
            }),
        }
    }

    /// A fresh store and instance of this component.
    pub(crate) fn instantiate(
        &self,
        interrupt: &Interrupt,
        deterministic: bool,
    ) -> wasmtime::Result<(Store<HostState>, Udf)> {
        let caps = Capabilities {
            grants: self.grants.clone(),
            deterministic,
        };
        instantiate(&self.inner, interrupt, &caps)
    }

    /// The direct path's module, compiled (or read from the cache) on the
    /// first call; `None` if the component has no direct path.
    fn direct_module(&self) -> Option<&DirectModule> {
        let lazy = self.inner.direct.as_ref()?;
        lazy.module
            .get_or_init(|| {
                let bytes = lazy
                    .bytes
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take()?;
                direct_module(&self.inner.engine, &self.inner.origin, &bytes, &lazy.plan)
            })
            .as_ref()
    }

    /// A fresh direct-path instance, if the component has a direct path.
    /// It imports nothing, so it gets no capabilities at all.
    pub(crate) fn instantiate_direct(
        &self,
        interrupt: &Interrupt,
    ) -> Option<wasmtime::Result<(Store<HostState>, DirectInstance)>> {
        let direct = self.direct_module()?;
        Some(
            new_store(&self.inner.engine, interrupt, &Capabilities::none()).and_then(
                |mut store| {
                    let stack = self.inner.engine.limits().max_wasm_stack;
                    let instance =
                        crate::call::with_guest_stack(stack, || direct.instantiate(&mut store))?;
                    Ok((store, instance))
                },
            ),
        )
    }
}

/// A store for one instance: limits, the deadline and interrupt check, and
/// host state with capabilities `caps`.
fn new_store(
    engine: &Engine,
    interrupt: &Interrupt,
    caps: &Capabilities,
) -> wasmtime::Result<Store<HostState>> {
    let limits = engine.limits();
    let timeout_ms = u64::try_from(limits.timeout.as_millis()).unwrap_or(u64::MAX);
    let state = HostState::new(
        crate::limits::Limiter::new(limits),
        interrupt.clone(),
        engine.clock().clone(),
        timeout_ms,
        caps,
    )?;
    let mut store = Store::new(engine.wasmtime(), state);
    store.limiter(|state| &mut state.limiter);
    // Checked at every epoch tick while wasm runs: an interrupt or a passed
    // deadline traps; otherwise the guest runs on for another tick.
    store.epoch_deadline_callback(|ctx| {
        let state = ctx.data();
        if state.interrupt.is_interrupted() {
            return Err(Interrupted.into());
        }
        if state.clock.now_ms().saturating_sub(state.call_start_ms) >= state.timeout_ms {
            return Err(wasmtime::Trap::Interrupt.into());
        }
        Ok(wasmtime::UpdateDeadline::Continue(1))
    });
    // Instantiation runs guest code too (start functions, `_initialize`).
    crate::call::arm(engine, &mut store);
    Ok(store)
}

fn instantiate(
    inner: &ComponentInner,
    interrupt: &Interrupt,
    caps: &Capabilities,
) -> wasmtime::Result<(Store<HostState>, Udf)> {
    let mut store = new_store(&inner.engine, interrupt, caps)?;
    let instance = inner
        .pre
        .instantiate(&mut store)
        .map_err(|e| crate::call::blame_limit(e, store.data()))?;
    let udf = inner.exports.load(&mut store, &instance)?;
    Ok((store, udf))
}

/// The load error for a failure to instantiate the component or run its
/// manifest: [`Error::ResourceLimit`] when a limit caused it (see
/// [`crate::call::blame_limit`]), else [`Error::Instantiate`].
fn instantiate_error(origin: &str, e: &wasmtime::Error) -> Error {
    match e.downcast_ref::<crate::limits::LimitHit>() {
        Some(hit) => Error::ResourceLimit {
            origin: origin.to_string(),
            detail: hit.to_string(),
        },
        None => Error::Instantiate {
            origin: origin.to_string(),
            detail: crate::call::describe_trap(e, None),
        },
    }
}

/// Compiles (or loads from the cache) the main core module that `plan`
/// found in the component `bytes`. `None`, with the reason logged, when it
/// does not compile or link.
fn direct_module(engine: &Engine, origin: &str, bytes: &[u8], plan: &Plan) -> Option<DirectModule> {
    let main = bytes.get(plan.module.clone())?;
    let module = match engine
        .cache()
        .and_then(|c| c.get_direct(engine.wasmtime(), bytes))
    {
        Some(module) => module,
        None => {
            let module = wasmtime::Module::new(engine.wasmtime(), main)
                .inspect_err(|e| tracing::debug!("{origin}: no direct path: {e:#}"))
                .ok()?;
            if let Some(cache) = engine.cache() {
                cache.put_direct(bytes, &module);
            }
            module
        }
    };
    DirectModule::new(&module, plan)
        .inspect_err(|e| tracing::debug!("{origin}: no direct path: {e}"))
        .ok()
}

/// `bytes` in lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The language a component's `producers` sections name (the component's
/// own, or its modules'), unless a producing tool implies the author's:
/// componentize-js names itself under `processed-by`, while the engine it
/// embeds (SpiderMonkey) names the languages it was written in (`C11`),
/// which are not the UDFs'. (componentize-py 0.x names itself nowhere, so
/// its components report the language of their first module: `Rust`.)
fn language(bytes: &[u8]) -> Option<String> {
    use wasmparser::{KnownCustom, Parser, Payload};
    let (mut named, mut implied) = (None, None);
    for payload in Parser::new(0).parse_all(bytes) {
        let Ok(Payload::CustomSection(section)) = payload else {
            continue;
        };
        let KnownCustom::Producers(reader) = section.as_known() else {
            continue;
        };
        for field in reader.into_iter().flatten() {
            for value in field.values.into_iter().flatten() {
                match field.name {
                    "language" if !value.name.is_empty() && named.is_none() => {
                        named = Some(value.name.to_string());
                    }
                    "processed-by" | "sdk" if implied.is_none() => {
                        implied = match value.name {
                            "componentize-js" | "ComponentizeJS" => Some("JavaScript"),
                            "componentize-py" => Some("Python"),
                            _ => None,
                        };
                    }
                    _ => {}
                }
            }
        }
    }
    implied.map(str::to_string).or(named)
}

fn read_manifest(inner: &ComponentInner) -> Result<Vec<FunctionSpec>> {
    let failed = |e: wasmtime::Error| instantiate_error(&inner.origin, &e);
    // The manifest is read with no capabilities at all.
    let stack = inner.engine.limits().max_wasm_stack;
    let raw = crate::call::on_guest_thread(stack, || {
        let (mut store, udf) = instantiate(inner, &Interrupt::new(), &Capabilities::none())?;
        match udf.version() {
            WitVersion::V0_1 => udf.manifest_v0_1(&mut store).map(manifest::Raw::V0_1),
            WitVersion::V0_2 => udf.manifest_v0_2(&mut store).map(manifest::Raw::V0_2),
        }
        // A guest that runs out of memory building its manifest usually
        // traps (a Rust guest aborts); the cause is the limit.
        .map_err(|e| crate::call::blame_limit(e, store.data()))
    })
    .map_err(failed)?;
    let max_functions = inner.engine.limits().max_functions;
    manifest::validate(raw, max_functions).map_err(|detail| Error::Manifest {
        origin: inner.origin.clone(),
        detail,
    })
}

fn check_imports(
    origin: &str,
    engine: &Engine,
    component: &wasmtime::component::Component,
) -> Result<()> {
    let ty = component.component_type();
    for (name, _) in ty.imports(engine.wasmtime()) {
        if !crate::sandbox::import_allowed(name) {
            return Err(Error::ForbiddenImport {
                origin: origin.to_string(),
                import: crate::guest_text::cap_message(name.to_string()),
            });
        }
    }
    Ok(())
}

/// Which version of the guest interface the component exports.
///
/// Exactly one: a component exporting two versions (or two spellings of
/// one) could answer differently depending on which export a call path
/// follows, so it is refused rather than resolved by a preference.
fn check_world(
    origin: &str,
    engine: &Engine,
    component: &wasmtime::component::Component,
) -> Result<WitVersion> {
    let ty = component.component_type();
    let exports: Vec<String> = ty
        .exports(engine.wasmtime())
        .map(|(name, _)| name.to_string())
        .collect();
    let mut guest_exports: Vec<&String> = exports
        .iter()
        .filter(|name| crate::bindings::is_guest_interface(name))
        .collect();
    if guest_exports.len() > 1 {
        guest_exports.sort();
        return Err(Error::SeveralVersions {
            origin: origin.to_string(),
            exports: guest_exports
                .into_iter()
                .map(|name| crate::guest_text::cap_message(name.clone()))
                .collect(),
        });
    }
    if let Some(version) = WitVersion::ALL
        .into_iter()
        .find(|v| exports.contains(&v.export_name()))
    {
        return Ok(version);
    }
    let spoken = WitVersion::ALL
        .map(|v| format!("`{}`", v.export_name()))
        .join(" or ");
    let detail = match exports
        .iter()
        .find(|name| name.starts_with(GUEST_INTERFACE))
    {
        Some(found) => format!(
            "exports `{found}`, but this host speaks {spoken}; rebuild the guest against \
             a wasmudf-guest for one of these versions"
        ),
        None => {
            format!(
                "does not target the wasmudf `udf` world: it must export {spoken}, but \
                 exports [{}]",
                exports.join(", ")
            )
        }
    };
    Err(Error::WrongWorld {
        origin: origin.to_string(),
        detail: crate::guest_text::cap_message(detail),
    })
}
