//! The instances a component's DataFusion functions run in.
//!
//! DataFusion calls a UDF from whichever tokio worker runs the partition,
//! several at once. A scalar call leases an idle [`Instance`] for one batch
//! and puts it back; an accumulator lives in one of a few shared *homes*
//! (an instance behind a mutex that its calls hold for one batch), because
//! a query can have far more groups than an engine has instances, and an
//! instance holds at most 100,000 accumulator handles.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::{Signature, Volatility};
use wasmudf::{CallError, Component, FunctionSpec, Instance};

use crate::convert;

/// Live accumulators per home before the next one goes elsewhere: well
/// under the handle cap of an instance.
const ACCUMULATORS_PER_HOME: usize = 20_000;

/// What every function of one component shares.
pub(crate) struct Shared {
    pub(crate) component: Component,
    pub(crate) sha256: [u8; 32],
    idle: Mutex<Vec<Instance>>,
    homes: Mutex<Vec<Arc<Home>>>,
    next_home: AtomicUsize,
    /// How many homes to spread accumulators over: the partitions that
    /// can run at once.
    parallelism: usize,
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

impl Shared {
    pub(crate) fn new(component: Component, parallelism: usize) -> Shared {
        Shared {
            sha256: component.sha256(),
            component,
            idle: Mutex::new(Vec::new()),
            homes: Mutex::new(Vec::new()),
            next_home: AtomicUsize::new(0),
            parallelism: parallelism.max(1),
        }
    }

    pub(crate) fn spec(&self, index: usize) -> &FunctionSpec {
        &self.component.functions()[index]
    }

    /// Runs `f` on an idle instance (a new one when none is idle), and puts
    /// it back.
    pub(crate) fn with_instance<R>(
        &self,
        f: impl FnOnce(&mut Instance) -> std::result::Result<R, CallError>,
    ) -> Result<R> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut instance = idle.unwrap_or_else(|| self.component.instance());
        let result = f(&mut instance);
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(instance);
        result.map_err(execution)
    }

    /// A home for one more accumulator: a new one until there is one per
    /// partition that can run at once, then the next in turn with room.
    pub(crate) fn home(&self) -> Arc<Home> {
        let mut homes = self.homes.lock().unwrap_or_else(PoisonError::into_inner);
        let n = homes.len();
        if n >= self.parallelism {
            let turn = self.next_home.fetch_add(1, Ordering::Relaxed);
            let roomy = (0..n)
                .map(|k| &homes[(turn + k) % n])
                .find(|h| h.live.load(Ordering::Relaxed) < ACCUMULATORS_PER_HOME);
            if let Some(home) = roomy {
                return home.clone();
            }
        }
        let home = Arc::new(Home {
            instance: Mutex::new(self.component.instance()),
            live: AtomicUsize::new(0),
        });
        homes.push(home.clone());
        home
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
    pub(crate) index: usize,
    /// The SQL name as DataFusion looks it up.
    pub(crate) name: String,
    pub(crate) signature: Signature,
}

impl Function {
    pub(crate) fn new(shared: Arc<Shared>, index: usize, name: String) -> Function {
        let volatility = if shared.spec(index).flags.deterministic {
            Volatility::Immutable
        } else {
            Volatility::Volatile
        };
        Function {
            shared,
            index,
            name,
            signature: Signature::user_defined(volatility),
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

/// Two copies of one component (decoded apart, loaded twice) are the same
/// function: equality is the component's content and the manifest index.
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
