//! The instances a component's DataFusion functions run in, and what one
//! query may hold.
//!
//! DataFusion calls a UDF from whichever tokio worker runs the partition,
//! several at once. A scalar call leases an idle [`Instance`] for one batch
//! and puts it back: it keeps no state in it, so queries can share those.
//! An accumulator lives in one of a few *homes* (an instance behind a mutex
//! that its calls hold for one batch), because a query can have far more
//! groups than an engine has instances, and an instance holds at most
//! 100,000 accumulator handles. Homes belong to one [`Scope`]: one query
//! (the analyzer rule in `planning.rs` gives every query its own), or one
//! task on a Ballista executor ([`crate::isolated`]). A trap or a memory
//! limit hit replaces the instance and loses every accumulator in it, so
//! a query whose input breaks a guest loses its own state, never another
//! query's.
//!
//! A scope also counts the aggregate state the query holds on the host
//! (the rows replayed aggregates buffer, the serialized partial states),
//! against [`Options::max_query_state_bytes`] and the session's memory
//! pool.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryPool, MemoryReservation};
use datafusion::logical_expr::{Signature, Volatility};
use wasmudf::{CallError, Component, FunctionSpec, Instance};

use crate::convert;

/// Live accumulators per home before the next one goes elsewhere: well
/// under the handle cap of an instance.
const ACCUMULATORS_PER_HOME: usize = 20_000;

/// Rows handed to the guest in one crossing, at most: SQLite's aggregate
/// step batch (`wasmudf`'s `register/aggregate.rs`).
pub(crate) const STEP_BATCH_ROWS: usize = 1024;

/// Bytes handed to the guest in one crossing, at most (a single row over
/// it goes alone): SQLite's, 256 KiB or 1/16 of the guest's memory limit.
const STEP_BATCH_BYTES: usize = 256 << 10;

/// The byte budget of one crossing for a guest memory limit.
pub(crate) fn step_batch_bytes(max_memory_bytes: usize) -> usize {
    STEP_BATCH_BYTES.min(max_memory_bytes / 16).max(1)
}

/// The default of [`Options::max_query_state_bytes`]: 256 MiB.
pub const DEFAULT_MAX_QUERY_STATE_BYTES: usize = 256 << 20;

/// How a component's functions behave in DataFusion beyond what the
/// component's engine ([`wasmudf::Limits`]) decides.
///
/// ```
/// let options = wasmudf_datafusion::Options::default().max_query_state_bytes(64 << 20);
/// assert_eq!(options.query_state_limit(), 64 << 20);
/// ```
#[derive(Debug, Clone)]
pub struct Options {
    max_query_state_bytes: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_query_state_bytes: DEFAULT_MAX_QUERY_STATE_BYTES,
        }
    }
}

impl Options {
    /// Most bytes of aggregate state one query (on a Ballista executor,
    /// one task) of these functions may hold on the host: the rows that
    /// aggregates without `serialize`/`merge` (and every `DISTINCT`)
    /// buffer until they are stepped, and every partial state shipped
    /// between the two phases of an aggregate. Past it the query fails
    /// with a resources-exhausted error naming the function; the guests'
    /// own memory is bounded by their engine's
    /// [`Limits::max_memory_bytes`](wasmudf::Limits::max_memory_bytes).
    /// Default [`DEFAULT_MAX_QUERY_STATE_BYTES`].
    pub fn max_query_state_bytes(mut self, bytes: usize) -> Options {
        self.max_query_state_bytes = bytes;
        self
    }

    /// The limit [`Options::max_query_state_bytes`] set.
    pub fn query_state_limit(&self) -> usize {
        self.max_query_state_bytes
    }
}

/// What every function of one component shares, across queries.
pub(crate) struct Shared {
    pub(crate) component: Component,
    pub(crate) sha256: [u8; 32],
    idle: Mutex<Vec<Instance>>,
    /// How many homes to spread accumulators over: the partitions that
    /// can run at once.
    parallelism: usize,
    pub(crate) options: Options,
    /// The session's memory pool, when registered on a session: the state
    /// a query holds is reserved there too.
    memory: Option<Arc<dyn MemoryPool>>,
    /// The byte budget of one crossing ([`step_batch_bytes`]).
    pub(crate) batch_bytes: usize,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("component", &self.component.origin())
            .finish_non_exhaustive()
    }
}

/// An instance that accumulators live in.
#[derive(Debug)]
pub(crate) struct Home {
    instance: Mutex<Instance>,
    live: AtomicUsize,
}

impl Home {
    /// The instance, for one batch.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Instance> {
        // A panic while it was held leaves it usable: every call is a
        // whole guest call or none (wasmtime replaces a trapped instance).
        self.instance.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One accumulator made here.
    pub(crate) fn arrived(&self) {
        self.live.fetch_add(1, Ordering::Relaxed);
    }

    /// One accumulator finished or released.
    pub(crate) fn left(&self) {
        self.live.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An idle instance leased for one batch, put back when dropped.
pub(crate) struct Lease<'a> {
    shared: &'a Shared,
    instance: Option<Instance>,
}

impl std::ops::Deref for Lease<'_> {
    type Target = Instance;
    fn deref(&self) -> &Instance {
        // Taken only in `drop`.
        self.instance.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl std::ops::DerefMut for Lease<'_> {
    fn deref_mut(&mut self) -> &mut Instance {
        self.instance.as_mut().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(instance) = self.instance.take() {
            self.shared
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(instance);
        }
    }
}

impl Shared {
    pub(crate) fn new(
        component: Component,
        parallelism: usize,
        options: Options,
        memory: Option<Arc<dyn MemoryPool>>,
    ) -> Shared {
        let batch_bytes = step_batch_bytes(component.engine().limits().max_memory_bytes);
        Shared {
            sha256: component.sha256(),
            component,
            idle: Mutex::new(Vec::new()),
            parallelism: parallelism.max(1),
            options,
            memory,
            batch_bytes,
        }
    }

    pub(crate) fn spec(&self, index: usize) -> &FunctionSpec {
        &self.component.functions()[index]
    }

    /// An idle instance (a new one when none is idle) until the lease is
    /// dropped.
    pub(crate) fn lease(&self) -> Lease<'_> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        Lease {
            shared: self,
            instance: Some(idle.unwrap_or_else(|| self.component.instance())),
        }
    }
}

/// Whether bytes a [`Scope`] holds are also reserved in the session's
/// memory pool: not the rows a `Replay` accumulator buffers, which it
/// reports to DataFusion itself (`Accumulator::size`, which DataFusion
/// reserves), but the states it cannot see and the transient sets of
/// `DISTINCT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pool {
    Reserve,
    Skip,
}

/// What one query (or one Ballista task) of a component's aggregates holds:
/// the homes of its accumulators, and the bytes of state counted against
/// its limit.
pub(crate) struct Scope {
    homes: Mutex<Vec<Arc<Home>>>,
    next_home: AtomicUsize,
    held: AtomicUsize,
    reservation: Option<MemoryReservation>,
}

impl std::fmt::Debug for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope")
            .field("held", &self.held.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Scope {
    pub(crate) fn new(shared: &Shared) -> Scope {
        let reservation = shared.memory.as_ref().map(|pool| {
            let name = format!(
                "wasmudf aggregate state of {}",
                wasmudf::escape_controls(shared.component.origin())
            );
            MemoryConsumer::new(name).register(pool)
        });
        Scope {
            homes: Mutex::new(Vec::new()),
            next_home: AtomicUsize::new(0),
            held: AtomicUsize::new(0),
            reservation,
        }
    }

    /// A home for one more accumulator: a new one until there is one per
    /// partition that can run at once, then the next in turn with room.
    pub(crate) fn home(&self, shared: &Shared) -> Arc<Home> {
        let mut homes = self.homes.lock().unwrap_or_else(PoisonError::into_inner);
        let n = homes.len();
        if n >= shared.parallelism {
            let turn = self.next_home.fetch_add(1, Ordering::Relaxed);
            let roomy = (0..n)
                .map(|k| &homes[(turn + k) % n])
                .find(|h| h.live.load(Ordering::Relaxed) < ACCUMULATORS_PER_HOME);
            if let Some(home) = roomy {
                return home.clone();
            }
        }
        let home = Arc::new(Home {
            instance: Mutex::new(shared.component.instance()),
            live: AtomicUsize::new(0),
        });
        homes.push(home.clone());
        home
    }

    /// Counts `bytes` more of state held for `function`; refused past the
    /// query's limit or, with `Pool::Reserve`, the session's memory pool,
    /// counting nothing then.
    pub(crate) fn hold(
        &self,
        shared: &Shared,
        function: &str,
        bytes: usize,
        pool: Pool,
    ) -> Result<()> {
        let limit = shared.options.max_query_state_bytes;
        let mut held = self.held.load(Ordering::Relaxed);
        loop {
            let total = held.saturating_add(bytes);
            if total > limit {
                return Err(DataFusionError::ResourcesExhausted(format!(
                    "{function}: this query's aggregate state would reach {total} bytes, over \
                     its limit of {limit} (wasmudf_datafusion::Options::max_query_state_bytes): \
                     rows buffered for aggregates that cannot merge partial states (and for \
                     DISTINCT), and partial states shipped between aggregation phases"
                )));
            }
            match self
                .held
                .compare_exchange_weak(held, total, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(now) => held = now,
            }
        }
        if pool == Pool::Reserve
            && let Some(r) = &self.reservation
            && let Err(e) = r.try_grow(bytes)
        {
            self.held.fetch_sub(bytes, Ordering::Relaxed);
            return Err(e.context(format!("{function}: aggregate state")));
        }
        Ok(())
    }

    /// Gives back `bytes` counted by [`Scope::hold`] with the same `pool`.
    pub(crate) fn release(&self, bytes: usize, pool: Pool) {
        self.held.fetch_sub(bytes, Ordering::Relaxed);
        if pool == Pool::Reserve
            && let Some(r) = &self.reservation
        {
            r.shrink(bytes.min(r.size()));
        }
    }
}

/// A guest call's failure as DataFusion's execution error; its message
/// names the function and the cause, guest text escaped.
pub(crate) fn execution(e: CallError) -> DataFusionError {
    DataFusionError::Execution(e.to_string())
}

/// What a scalar and an aggregate UDF of one component function share: its
/// name, its signature (any arguments, coerced by `coerce_types`), its
/// types, and its identity.
#[derive(Debug)]
pub(crate) struct Function {
    pub(crate) shared: Arc<Shared>,
    /// Where its accumulators live (unused by scalars).
    pub(crate) scope: Arc<Scope>,
    pub(crate) index: usize,
    /// The SQL name as DataFusion looks it up.
    pub(crate) name: String,
    pub(crate) signature: Signature,
}

impl Function {
    pub(crate) fn new(
        shared: Arc<Shared>,
        scope: Arc<Scope>,
        index: usize,
        name: String,
    ) -> Function {
        let spec = shared.spec(index);
        // DataFusion folds calls of `Immutable` and `Stable` functions on
        // literals while it plans (the logical `ConstEvaluator` and the
        // physical simplifier both skip only `Volatile` ones), running the
        // guest in every planning pass and dropping its errors. A scalar
        // is therefore `Volatile` whatever its flags: planning and
        // `EXPLAIN` run no guest code, and a deterministic scalar on
        // literals is called once per batch instead (see `scalar.rs`).
        // Aggregates are never folded, and keep their flags.
        let volatility = if spec.kind == wasmudf::FunctionKind::Scalar || !spec.flags.deterministic
        {
            Volatility::Volatile
        } else {
            Volatility::Immutable
        };
        Function {
            shared,
            scope,
            index,
            name,
            signature: Signature::user_defined(volatility),
        }
    }

    /// The same function with accumulators in `scope`.
    pub(crate) fn in_scope(&self, scope: Arc<Scope>) -> Function {
        Function {
            shared: self.shared.clone(),
            scope,
            index: self.index,
            name: self.name.clone(),
            signature: self.signature.clone(),
        }
    }

    pub(crate) fn spec(&self) -> &FunctionSpec {
        self.shared.spec(self.index)
    }

    pub(crate) fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        convert::coerce(self.spec(), arg_types)
    }

    pub(crate) fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        convert::return_type(self.spec(), arg_types)
    }
}

/// Two copies of one component (decoded apart, loaded twice, rebound to
/// another query) are the same function: equality is the component's
/// content and the manifest index.
impl PartialEq for Function {
    fn eq(&self, other: &Self) -> bool {
        self.shared.sha256 == other.shared.sha256 && self.index == other.index
    }
}

impl Eq for Function {}

impl std::hash::Hash for Function {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.shared.sha256.hash(state);
        self.index.hash(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crossing_budget_follows_the_memory_limit_as_in_sqlite() {
        assert_eq!(step_batch_bytes(64 << 20), 256 << 10);
        assert_eq!(step_batch_bytes(1 << 20), 64 << 10);
        assert_eq!(step_batch_bytes(0), 1);
    }
}
