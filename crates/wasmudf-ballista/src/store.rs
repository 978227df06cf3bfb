//! The components one process knows, by content hash.
//!
//! Every Ballista role (client, scheduler, executor) has its own store: the
//! codec looks a shipped function up here, and loads the component from
//! the bytes that came with the plan when the store lacks it. Decoding runs
//! once per task, so a component is compiled once per process and its
//! DataFusion UDFs (and their instance pools) are shared by every task.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use datafusion::prelude::SessionContext;
use sha2::{Digest, Sha256};
use wasmudf::{Component, Engine};

use crate::Error;

/// Shipped bytes above this stay home unless the store says otherwise:
/// well under Ballista's 16 MiB gRPC message limit, which a plan carrying
/// a JavaScript or Python component (30 MB and more) would break.
pub const DEFAULT_SHIP_LIMIT: usize = 8 << 20;

/// A component with the UDFs made of it, and its bytes when they may be
/// shipped.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) component: Component,
    pub(crate) bytes: Option<Arc<[u8]>>,
    scalars: HashMap<usize, Arc<ScalarUDF>>,
    aggregates: HashMap<usize, Arc<AggregateUDF>>,
}

impl Entry {
    pub(crate) fn scalar(&self, index: usize) -> Option<Arc<ScalarUDF>> {
        self.scalars.get(&index).cloned()
    }

    pub(crate) fn aggregate(&self, index: usize) -> Option<Arc<AggregateUDF>> {
        self.aggregates.get(&index).cloned()
    }
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
    /// Held while a component compiles, so two tasks that decode one new
    /// component at once compile it once.
    entries: Mutex<HashMap<[u8; 32], Arc<Entry>>>,
}

impl ComponentStore {
    /// An empty store whose components run on `engine`, their accumulators
    /// spread over `parallelism` instances (the tasks that run at once).
    pub fn new(engine: Engine, parallelism: usize) -> ComponentStore {
        ComponentStore {
            engine,
            parallelism: parallelism.max(1),
            ship_limit: DEFAULT_SHIP_LIMIT,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Components of at most `bytes` travel with the plans this store's
    /// codec encodes; larger ones travel as their hash alone, and every
    /// process that runs them needs them in its own store. `0` ships none.
    pub fn ship_limit(mut self, bytes: usize) -> ComponentStore {
        self.ship_limit = bytes;
        self
    }

    /// The engine components are loaded on.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// How many components the store holds.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the store holds no component.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every component in the store.
    pub fn components(&self) -> Vec<Component> {
        self.lock().values().map(|e| e.component.clone()).collect()
    }

    /// Loads every `*.wasm` file of `dir`, read as
    /// [`wasmudf::Engine::load_dir`] reads them, and returns their hashes.
    ///
    /// # Errors
    ///
    /// A folder that cannot be read, or a file that does not load: a store
    /// missing a component it was told to have would fail later, in a task.
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
    /// The file cannot be read or does not load.
    pub fn load_file(&self, path: impl AsRef<Path>) -> Result<Component, Error> {
        let path = path.as_ref();
        let bytes = self.engine.read_file(path)?;
        self.insert(&path.display().to_string(), &bytes)
    }

    /// Loads `bytes` (named `origin` in messages), or returns the component
    /// already stored under their hash.
    ///
    /// # Errors
    ///
    /// The bytes do not load as a wasmudf component, or DataFusion refuses
    /// its functions (two of one name).
    pub fn insert(&self, origin: &str, bytes: &[u8]) -> Result<Component, Error> {
        let hash: [u8; 32] = Sha256::digest(bytes).into();
        Ok(self.entry_or_load(hash, origin, bytes)?.component.clone())
    }

    /// The entry under `hash`, loading it from `shipped` bytes when the
    /// store lacks it; the bytes must hash to `hash`.
    pub(crate) fn resolve(
        &self,
        hash: [u8; 32],
        function: &str,
        shipped: Option<&[u8]>,
    ) -> Result<Arc<Entry>, Error> {
        if let Some(e) = self.lock().get(&hash) {
            return Ok(e.clone());
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
        self.entry_or_load(hash, &format!("shipped component {}", short(&hash)), bytes)
    }

    /// The entry and manifest index of the only component function called
    /// `name` (lower-cased, as DataFusion names them), for plans that name
    /// a function without shipping it.
    pub(crate) fn by_name(&self, name: &str) -> Option<(Arc<Entry>, usize)> {
        let entries = self.lock();
        let mut found = entries.values().filter_map(|e| {
            let index = e
                .component
                .functions()
                .iter()
                // Table functions are SQLite-only: DataFusion never plans
                // one.
                .position(|f| {
                    f.kind != wasmudf::FunctionKind::Table && f.name.to_lowercase() == name
                })?;
            Some((e.clone(), index))
        });
        let first = found.next()?;
        found.next().is_none().then_some(first)
    }

    /// The bytes of `hash` that may travel with a plan.
    pub(crate) fn shippable(&self, hash: &[u8; 32]) -> Option<Arc<[u8]>> {
        self.lock().get(hash).and_then(|e| e.bytes.clone())
    }

    /// Registers every function of every stored component on `ctx`.
    pub fn register(&self, ctx: &SessionContext) {
        for entry in self.lock().values() {
            for f in entry.scalars.values() {
                ctx.register_udf(f.as_ref().clone());
            }
            for f in entry.aggregates.values() {
                ctx.register_udaf(f.as_ref().clone());
            }
        }
    }

    fn entry_or_load(
        &self,
        hash: [u8; 32],
        origin: &str,
        bytes: &[u8],
    ) -> Result<Arc<Entry>, Error> {
        let mut entries = self.lock();
        if let Some(e) = entries.get(&hash) {
            return Ok(e.clone());
        }
        let component = self.engine.load(origin, bytes)?;
        let udfs = wasmudf_datafusion::udfs(&component, self.parallelism)?;
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
        });
        entries.insert(hash, entry.clone());
        Ok(entry)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Arc<Entry>>> {
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
