//! The components one process knows, by content hash.
//!
//! Every Ballista role (client, scheduler, executor) has its own store: the
//! codec looks a shipped function up here, and loads the component from
//! the bytes that came with the plan when the store lacks it. Decoding runs
//! once per task, so a component is compiled once per process; its scalar
//! UDFs share one pool of instances, and each decoded aggregate gets
//! accumulator instances of its own (`wasmudf_datafusion::isolated`), so
//! one task's trap cannot lose another task's state.
//!
//! What a store holds is bounded: components loaded from the process's own
//! `--udf` folders and files stay, and those that came with plans are kept
//! up to a byte quota, the least recently used going first. A component
//! compiles outside the store's lock, so lookups of other components never
//! wait for a compile (of tens of MB of JavaScript, say).

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use datafusion::execution::SessionStateBuilder;
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use datafusion::prelude::SessionContext;
use sha2::{Digest, Sha256};
use wasmudf::{Component, Engine, ExistingFunction, FunctionKind, FunctionOwner};

use crate::Error;

/// Shipped bytes above this stay home unless the store says otherwise:
/// well under Ballista's 16 MiB gRPC message limit, which a plan carrying
/// a JavaScript or Python component (30 MB and more) would break.
pub const DEFAULT_SHIP_LIMIT: usize = 8 << 20;

/// The default of [`ComponentStore::shipped_quota`]: 256 MiB of shipped
/// components (32 at the default ship limit).
pub const DEFAULT_SHIPPED_QUOTA: usize = 256 << 20;

/// A component with the UDFs made of it, and its bytes when they may be
/// shipped.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) component: Component,
    pub(crate) bytes: Option<Arc<[u8]>>,
    scalars: HashMap<usize, Arc<ScalarUDF>>,
    aggregates: HashMap<usize, Arc<AggregateUDF>>,
    /// Loaded from this process's own files: never evicted.
    pinned: AtomicBool,
    /// The store's clock at the last lookup, for LRU eviction.
    used: AtomicU64,
}

impl Entry {
    pub(crate) fn scalar(&self, index: usize) -> Option<Arc<ScalarUDF>> {
        self.scalars.get(&index).cloned()
    }

    /// An aggregate UDF whose accumulators live in instances of their own:
    /// a plan decodes once per task, so each task gets its own.
    pub(crate) fn aggregate(&self, index: usize) -> Option<Arc<AggregateUDF>> {
        let shared = self.aggregates.get(&index)?;
        Some(Arc::new(
            wasmudf_datafusion::isolated(shared).unwrap_or_else(|| shared.as_ref().clone()),
        ))
    }

    fn size(&self) -> usize {
        self.component.size()
    }
}

/// The stored entries by hash.
#[derive(Debug, Default)]
struct Entries {
    map: HashMap<[u8; 32], Arc<Entry>>,
}

/// The components of one process, keyed by SHA-256 of their bytes.
///
/// The engine is this process's policy: its limits, its cache and the
/// trust it gives components are never read from a plan, so a client
/// cannot raise an executor's limits or grant itself a directory.
///
/// ```no_run
/// # fn demo() -> Result<(), wasmudf_ballista::Error> {
/// let store = wasmudf_ballista::ComponentStore::new(wasmudf::Engine::new()?, 4);
/// store.load_dir("udfs")?;
/// println!("{} components", store.len());
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct ComponentStore {
    engine: Engine,
    parallelism: usize,
    ship_limit: usize,
    shipped_quota: usize,
    allow_override: bool,
    options: wasmudf_datafusion::Options,
    entries: Mutex<Entries>,
    clock: AtomicU64,
    /// One gate per component being compiled, held while it compiles, so
    /// that two tasks that decode one new component at once compile it
    /// once; the store's own lock is not held meanwhile.
    loading: Mutex<HashMap<[u8; 32], Arc<Mutex<()>>>>,
    /// A default DataFusion session, whose builtins a component loaded
    /// from a file must not be named like.
    builtins: OnceLock<SessionState>,
}

impl ComponentStore {
    /// An empty store whose components run on `engine`, their accumulators
    /// spread over `parallelism` instances (the tasks that run at once).
    pub fn new(engine: Engine, parallelism: usize) -> ComponentStore {
        ComponentStore {
            engine,
            parallelism: parallelism.max(1),
            ship_limit: DEFAULT_SHIP_LIMIT,
            shipped_quota: DEFAULT_SHIPPED_QUOTA,
            allow_override: false,
            options: wasmudf_datafusion::Options::default(),
            entries: Mutex::new(Entries::default()),
            clock: AtomicU64::new(0),
            loading: Mutex::new(HashMap::new()),
            builtins: OnceLock::new(),
        }
    }

    /// Components of at most `bytes` travel with the plans this store's
    /// codec encodes; larger ones travel as their hash alone, and every
    /// process that runs them needs them in its own store. `0` ships none.
    pub fn ship_limit(mut self, bytes: usize) -> ComponentStore {
        self.ship_limit = bytes;
        self
    }

    /// Most bytes (of component binaries) of components that came with
    /// plans the store keeps; past it the least recently used go (a later
    /// plan ships them again). Components loaded from files are not
    /// counted and never go. A shipped component larger than the quota is
    /// refused. Default [`DEFAULT_SHIPPED_QUOTA`].
    pub fn shipped_quota(mut self, bytes: usize) -> ComponentStore {
        self.shipped_quota = bytes;
        self
    }

    /// Lets the components this store loads from files replace or shadow
    /// DataFusion's builtins and each other's functions, as
    /// [`Component::allow_override`] does. Off by default: a component
    /// named like a builtin (or like another's function) is refused with
    /// [`wasmudf::Error::NameClash`].
    pub fn allow_override(mut self, allow: bool) -> ComponentStore {
        self.allow_override = allow;
        self
    }

    /// How the functions behave in DataFusion (the aggregate state one
    /// task may hold, ...); the default [`wasmudf_datafusion::Options`]
    /// otherwise. Applies to components loaded afterwards.
    pub fn options(mut self, options: wasmudf_datafusion::Options) -> ComponentStore {
        self.options = options;
        self
    }

    /// The engine components are loaded on.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// How many components the store holds.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether the store holds no component.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every component in the store.
    pub fn components(&self) -> Vec<Component> {
        self.lock()
            .map
            .values()
            .map(|e| e.component.clone())
            .collect()
    }

    /// Whether the store holds the component of this SHA-256.
    pub fn contains(&self, sha256: &[u8; 32]) -> bool {
        self.lock().map.contains_key(sha256)
    }

    /// Loads every `*.wasm` file of `dir`, read as
    /// [`wasmudf::Engine::load_dir`] reads them, and returns their hashes.
    ///
    /// # Errors
    ///
    /// A folder that cannot be read, or a file that does not load or whose
    /// functions clash with DataFusion's builtins or another stored
    /// component's: a store missing a component it was told to have would
    /// fail later, in a task.
    pub fn load_dir(&self, dir: impl AsRef<Path>) -> Result<Vec<[u8; 32]>, Error> {
        let scan = self.engine.read_dir(dir)?;
        scan.files
            .iter()
            .map(|(path, bytes)| Ok(self.insert(&path.display().to_string(), bytes)?.sha256()))
            .collect()
    }

    /// Loads one component file, read as [`wasmudf::Engine::load_file`]
    /// reads it.
    ///
    /// # Errors
    ///
    /// The file cannot be read or does not load, or as [`Self::insert`].
    pub fn load_file(&self, path: impl AsRef<Path>) -> Result<Component, Error> {
        let path = path.as_ref();
        let bytes = self.engine.read_file(path)?;
        self.insert(&path.display().to_string(), &bytes)
    }

    /// Loads `bytes` (named `origin` in messages) to stay in the store, or
    /// returns the component already stored under their hash.
    ///
    /// # Errors
    ///
    /// The bytes do not load as a wasmudf component, DataFusion refuses its
    /// functions (two of one name), or one is named like a DataFusion
    /// builtin or another stored component's function
    /// ([`wasmudf::Error::NameClash`], unless the store
    /// [allows overrides](Self::allow_override)).
    pub fn insert(&self, origin: &str, bytes: &[u8]) -> Result<Component, Error> {
        let hash: [u8; 32] = Sha256::digest(bytes).into();
        Ok(self
            .entry_or_load(hash, origin, bytes, true)?
            .component
            .clone())
    }

    /// The entry under `hash`, loading it from `shipped` bytes when the
    /// store lacks it; the bytes must hash to `hash`.
    pub(crate) fn resolve(
        &self,
        hash: [u8; 32],
        function: &str,
        shipped: Option<&[u8]>,
    ) -> Result<Arc<Entry>, Error> {
        if let Some(e) = self.lookup(&hash) {
            return Ok(e);
        }
        let Some(bytes) = shipped else {
            return Err(Error::NotInStore {
                function: function.to_owned(),
                hash: hex(&hash),
            });
        };
        let actual: [u8; 32] = Sha256::digest(bytes).into();
        if actual != hash {
            return Err(Error::HashMismatch {
                function: function.to_owned(),
                declared: hex(&hash),
                actual: hex(&actual),
            });
        }
        self.entry_or_load(
            hash,
            &format!("shipped component {}", short(&hash)),
            bytes,
            false,
        )
    }

    /// The entry and manifest index of the only component function called
    /// `name` (lower-cased, as DataFusion names them), for plans that name
    /// a function without shipping it.
    pub(crate) fn by_name(&self, name: &str) -> Option<(Arc<Entry>, usize)> {
        let entries = self.lock();
        let mut found = entries.map.values().filter_map(|e| {
            let index = e
                .component
                .functions()
                .iter()
                // Table functions are SQLite-only: DataFusion never plans
                // one.
                .position(|f| f.kind != FunctionKind::Table && f.name.to_lowercase() == name)?;
            Some((e.clone(), index))
        });
        let first = found.next()?;
        let found = found.next().is_none().then_some(first);
        if let Some((e, _)) = &found {
            self.touch(e);
        }
        found
    }

    /// The bytes of `hash` that may travel with a plan.
    pub(crate) fn shippable(&self, hash: &[u8; 32]) -> Option<Arc<[u8]>> {
        self.lock().map.get(hash).and_then(|e| e.bytes.clone())
    }

    /// Registers every function of every stored component on `ctx`, with
    /// `wasmudf_datafusion::register`'s name check and planning.
    ///
    /// # Errors
    ///
    /// [`wasmudf::Error::NameClash`] (in DataFusion's `External` error)
    /// when a function would replace or shadow one `ctx` has; the
    /// components before it stay registered.
    pub fn register(&self, ctx: &SessionContext) -> Result<(), Error> {
        let mut entries: Vec<Arc<Entry>> = self.lock().map.values().cloned().collect();
        // In a stable order, so a clash names the same two every time.
        entries.sort_by(|a, b| a.component.origin().cmp(b.component.origin()));
        for entry in entries {
            let mut scalars: Vec<_> = entry.scalars.iter().collect();
            scalars.sort_by_key(|(index, _)| **index);
            let mut aggregates: Vec<_> = entry.aggregates.iter().collect();
            aggregates.sort_by_key(|(index, _)| **index);
            let udfs = wasmudf_datafusion::Udfs {
                scalars: scalars.into_iter().map(|(_, f)| f.as_ref().clone()).collect(),
                aggregates: aggregates
                    .into_iter()
                    .map(|(_, f)| f.as_ref().clone())
                    .collect(),
            };
            wasmudf_datafusion::register_udfs(ctx, &entry.component, udfs)?;
        }
        Ok(())
    }

    /// The entry under `hash`, marked used.
    fn lookup(&self, hash: &[u8; 32]) -> Option<Arc<Entry>> {
        let e = self.lock().map.get(hash).cloned()?;
        self.touch(&e);
        Some(e)
    }

    fn touch(&self, e: &Entry) {
        let now = self.clock.fetch_add(1, Ordering::Relaxed);
        e.used.store(now, Ordering::Relaxed);
    }

    /// The entry under `hash`, loading `bytes` if the store lacks it;
    /// `pinned` for a component of this process's own (never evicted, and
    /// its names checked).
    fn entry_or_load(
        &self,
        hash: [u8; 32],
        origin: &str,
        bytes: &[u8],
        pinned: bool,
    ) -> Result<Arc<Entry>, Error> {
        self.entry_or_load_with(hash, pinned, || self.engine.load(origin, bytes), bytes)
    }

    /// [`Self::entry_or_load`] with the compile step given (tests watch the
    /// store while it runs).
    fn entry_or_load_with(
        &self,
        hash: [u8; 32],
        pinned: bool,
        compile: impl FnOnce() -> Result<Component, wasmudf::Error>,
        bytes: &[u8],
    ) -> Result<Arc<Entry>, Error> {
        if let Some(e) = self.lookup(&hash) {
            if pinned && !e.pinned.load(Ordering::Relaxed) {
                // Loaded from a file after it came with a plan: keep it,
                // as any component of this process's own.
                self.check_names(&e.component, Some(&hash))?;
                e.pinned.store(true, Ordering::Relaxed);
            }
            return Ok(e);
        }
        if !pinned && bytes.len() > self.shipped_quota {
            return Err(Error::OverQuota {
                hash: hex(&hash),
                size: bytes.len(),
                quota: self.shipped_quota,
            });
        }
        let gate = self
            .loading
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(hash)
            .or_default()
            .clone();
        let loaded = {
            let _compiling = gate.lock().unwrap_or_else(PoisonError::into_inner);
            // Another task may have loaded it while this one waited.
            match self.lookup(&hash) {
                Some(e) => Ok(e),
                None => self.load(hash, pinned, compile, bytes),
            }
        };
        let mut loading = self.loading.lock().unwrap_or_else(PoisonError::into_inner);
        if loading.get(&hash).is_some_and(|g| Arc::ptr_eq(g, &gate)) {
            loading.remove(&hash);
        }
        loaded
    }

    /// Compiles and stores a component; runs without the store's lock.
    fn load(
        &self,
        hash: [u8; 32],
        pinned: bool,
        compile: impl FnOnce() -> Result<Component, wasmudf::Error>,
        bytes: &[u8],
    ) -> Result<Arc<Entry>, Error> {
        let component = compile()?.allow_override(self.allow_override);
        if pinned {
            self.check_names(&component, None)?;
        }
        let udfs =
            wasmudf_datafusion::udfs_with_options(&component, self.parallelism, &self.options)?;
        let scalars = udfs
            .scalars
            .into_iter()
            .filter_map(|f| {
                let index = wasmudf_datafusion::scalar_origin(&f)?.1;
                Some((index, Arc::new(f)))
            })
            .collect();
        let aggregates = udfs
            .aggregates
            .into_iter()
            .filter_map(|f| {
                let index = wasmudf_datafusion::aggregate_origin(&f)?.1;
                Some((index, Arc::new(f)))
            })
            .collect();
        let entry = Arc::new(Entry {
            bytes: (bytes.len() <= self.ship_limit).then(|| Arc::from(bytes)),
            component,
            scalars,
            aggregates,
            pinned: AtomicBool::new(pinned),
            used: AtomicU64::new(self.clock.fetch_add(1, Ordering::Relaxed)),
        });
        let mut entries = self.lock();
        if !pinned {
            self.evict_for(&mut entries, entry.size());
        }
        entries.map.insert(hash, entry.clone());
        Ok(entry)
    }

    /// Drops the least recently used shipped entries until `incoming` more
    /// bytes fit the quota. Tasks that hold an entry keep using it.
    fn evict_for(&self, entries: &mut Entries, incoming: usize) {
        loop {
            let held: usize = entries
                .map
                .values()
                .filter(|e| !e.pinned.load(Ordering::Relaxed))
                .map(|e| e.size())
                .sum();
            if held.saturating_add(incoming) <= self.shipped_quota {
                return;
            }
            let oldest = entries
                .map
                .iter()
                .filter(|(_, e)| !e.pinned.load(Ordering::Relaxed))
                .min_by_key(|(_, e)| e.used.load(Ordering::Relaxed))
                .map(|(h, _)| *h);
            match oldest {
                Some(h) => {
                    entries.map.remove(&h);
                }
                None => return,
            }
        }
    }

    /// Refuses `component` when one of its functions is named like a
    /// DataFusion builtin, or like a function of another component the
    /// store holds (`except` its own entry), unless overrides are allowed.
    fn check_names(&self, component: &Component, except: Option<&[u8; 32]>) -> Result<(), Error> {
        if self.allow_override || component.overrides_allowed() {
            return Ok(());
        }
        let builtins = self
            .builtins
            .get_or_init(|| SessionStateBuilder::new().with_default_features().build());
        wasmudf_datafusion::check_names(builtins, component)?;
        let others: Vec<Arc<Entry>> = self
            .lock()
            .map
            .iter()
            .filter(|(h, _)| Some(*h) != except)
            .map(|(_, e)| e.clone())
            .collect();
        let lower = |f: &wasmudf::FunctionSpec| {
            (f.kind != FunctionKind::Table).then(|| f.name.to_lowercase())
        };
        for spec in component.functions() {
            let Some(name) = lower(spec) else { continue };
            for other in &others {
                let hit = other
                    .component
                    .functions()
                    .iter()
                    .find(|f| lower(f).as_deref() == Some(name.as_str()));
                if let Some(hit) = hit {
                    return Err(Error::Load(wasmudf::Error::NameClash {
                        origin: component.origin().to_owned(),
                        name: spec.name.clone(),
                        arity: spec.arity.as_sqlite() as i16,
                        existing: ExistingFunction {
                            name: hit.name.clone(),
                            arity: hit.arity.as_sqlite() as i16,
                            owner: FunctionOwner::Component(other.component.origin().to_owned()),
                        },
                    }));
                }
            }
        }
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        // Entries are inserted whole; a panic elsewhere leaves the map sound.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub(crate) fn hex(hash: &[u8; 32]) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

fn short(hash: &[u8; 32]) -> String {
    hex(hash)[..12].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        Engine::new().expect("engine")
    }

    fn example(name: &str) -> &'static [u8] {
        wasmudf_test_guests::EXAMPLES
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("no example {name}"))
            .1
    }

    fn guest(name: &str) -> Vec<u8> {
        let path = wasmudf_test_guests::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("no guest {name}"))
            .1;
        std::fs::read(path).expect("a guest file")
    }

    fn sha(bytes: &[u8]) -> [u8; 32] {
        Sha256::digest(bytes).into()
    }

    /// Loads `bytes` as if they came with a plan.
    fn ship(store: &ComponentStore, bytes: &[u8]) -> Result<Arc<Entry>, Error> {
        store.resolve(sha(bytes), "f", Some(bytes))
    }

    #[test]
    fn shipped_components_past_the_quota_go_least_recently_used_first() {
        let (identity, sleep, greatest) =
            (example("identity"), example("sleep"), example("greatest"));
        let quota = identity.len() + sleep.len() + greatest.len() - 1;
        let store = ComponentStore::new(engine(), 1).shipped_quota(quota);
        // A component of the process's own is not counted, and stays.
        store.insert("text", example("text")).expect("loads");
        ship(&store, identity).expect("ships");
        ship(&store, sleep).expect("ships");
        // `identity` is used again: `sleep` is now the oldest.
        store.resolve(sha(identity), "f", None).expect("stored");
        ship(&store, greatest).expect("ships");
        assert!(store.contains(&sha(identity)));
        assert!(!store.contains(&sha(sleep)), "the least recently used went");
        assert!(store.contains(&sha(greatest)));
        assert!(store.contains(&sha(example("text"))));
        // A plan that ships it again brings it back.
        ship(&store, sleep).expect("ships again");
        assert!(store.contains(&sha(sleep)));
        assert_eq!(store.len(), 3);

        // One larger than the whole quota is refused.
        let small = ComponentStore::new(engine(), 1).shipped_quota(identity.len() - 1);
        let err = ship(&small, identity).expect_err("over the quota");
        assert!(matches!(err, Error::OverQuota { .. }), "{err}");
        assert!(small.is_empty());
    }

    /// The compile runs outside the store's lock: while one component
    /// compiles, the store answers lookups of the others.
    #[test]
    fn a_compile_does_not_block_lookups() {
        let store = ComponentStore::new(engine(), 1);
        store.insert("text", example("text")).expect("loads");
        let text = sha(example("text"));
        let stats = example("stats");
        let mut looked_up = false;
        let entry = store
            .entry_or_load_with(
                sha(stats),
                false,
                || {
                    // Inside the compile: the store's lock is free, and a
                    // lookup from another thread answers.
                    assert!(store.entries.try_lock().is_ok(), "the store is locked");
                    std::thread::scope(|s| {
                        let found = s.spawn(|| store.resolve(text, "f", None).is_ok());
                        looked_up = found.join().expect("lookup thread");
                    });
                    store.engine.load("stats", stats)
                },
                stats,
            )
            .expect("loads");
        assert!(looked_up);
        assert_eq!(entry.component.sha256(), sha(stats));
    }

    /// Two tasks that decode one new component at once compile it once.
    #[test]
    fn one_component_compiles_once_however_many_tasks_ask() {
        let store = ComponentStore::new(engine(), 1);
        let stats = example("stats");
        let compiles = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    store
                        .entry_or_load_with(
                            sha(stats),
                            false,
                            || {
                                compiles.fetch_add(1, Ordering::Relaxed);
                                store.engine.load("stats", stats)
                            },
                            stats,
                        )
                        .expect("loads")
                });
            }
        });
        assert_eq!(compiles.load(Ordering::Relaxed), 1);
        assert_eq!(store.len(), 1);
        assert!(store.loading.lock().expect("lock").is_empty());
    }

    #[test]
    fn a_component_named_like_a_builtin_or_another_is_refused() {
        let store = ComponentStore::new(engine(), 1);
        let shadow = guest("shadow-builtins");
        let err = store.insert("shadow", &shadow).expect_err("abs");
        let msg = err.to_string();
        assert!(
            matches!(
                &err,
                Error::Load(wasmudf::Error::NameClash { name, existing, .. })
                    if name == "abs"
                        && existing.owner == FunctionOwner::EngineBuiltin("DataFusion".into())
            ),
            "{msg}"
        );
        assert!(store.is_empty());

        // Another stored component's function: `swap-a` and `swap-b` both
        // export `swap_version`.
        store.insert("swap-a", &guest("swap-a")).expect("loads");
        let err = store.insert("swap-b", &guest("swap-b")).expect_err("clash");
        assert!(
            matches!(
                &err,
                Error::Load(wasmudf::Error::NameClash { existing, .. })
                    if existing.owner == FunctionOwner::Component("swap-a".into())
            ),
            "{err}"
        );
        assert_eq!(store.len(), 1);
        // Unless the store allows overrides.
        let permissive = ComponentStore::new(engine(), 1).allow_override(true);
        permissive.insert("swap-a", &guest("swap-a")).expect("loads");
        permissive.insert("swap-b", &guest("swap-b")).expect("allowed");
        permissive.insert("shadow", &shadow).expect("allowed");

        // A component that came with a plan is not checked (it is found by
        // hash, never by name), until the process loads it from a file.
        let entry = ship(&store, &shadow).expect("ships");
        assert!(!entry.pinned.load(Ordering::Relaxed));
        assert!(store.insert("shadow", &shadow).is_err());
        assert!(!entry.pinned.load(Ordering::Relaxed));
    }

    #[test]
    fn each_decoded_aggregate_has_instances_of_its_own() {
        let store = ComponentStore::new(engine(), 1);
        let stats = store.insert("stats", example("stats")).expect("loads");
        let entry = store.resolve(stats.sha256(), "f", None).expect("stored");
        let index = stats
            .functions()
            .iter()
            .position(|f| f.kind != FunctionKind::Scalar)
            .expect("an aggregate");
        let (a, b) = (
            entry.aggregate(index).expect("a"),
            entry.aggregate(index).expect("b"),
        );
        // The same function, in other instances.
        assert_eq!(a, b);
        assert!(!Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(
            &a,
            entry.aggregates.get(&index).expect("stored")
        ));
    }
}
