//! One connection's instance of a component, and how a failed call is
//! reported.
//!
//! Every call goes through [`InstanceSlot::call`], which creates the instance
//! on first use, arms the deadline, and throws the instance away after a
//! trap: wasmtime refuses to re-enter a component instance that trapped, so
//! the next call gets a fresh one.

use std::fmt;

use wasmtime::Store;

use crate::bindings::Udf;
use crate::component::Component;
use crate::limits::LimitHit;
use crate::sandbox::HostState;

/// Why a guest call failed. This is the error inside the
/// [`rusqlite::Error::UserFunctionError`] that SQL sees; its message names
/// the function and the cause.
///
/// # Examples
///
/// ```no_run
/// # fn f(err: rusqlite::Error) {
/// if let rusqlite::Error::SqliteFailure(_, Some(msg)) = &err {
///     // e.g. "trap_if: trapped: wasm `unreachable` instruction executed"
///     println!("{msg}");
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    /// The SQL name of the function.
    pub function: String,
    /// What went wrong.
    pub cause: CallErrorKind,
}

/// The cause of a [`CallError`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallErrorKind {
    /// The guest returned its own error.
    Guest(String),
    /// The guest trapped (including a Rust panic in the guest).
    Trap(String),
    /// The call ran past [`Limits::timeout`](crate::Limits::timeout).
    Deadline,
    /// The call used up its [`Limits::fuel`](crate::Limits::fuel).
    Fuel,
    /// The guest tried to grow memory or a table past its limit.
    Resource(String),
    /// The wasm stack overflowed (unbounded recursion).
    StackOverflow,
    /// The returned TEXT or BLOB was larger than allowed.
    TooBig {
        /// The size of the result, in bytes.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Aggregate state was lost because its instance was replaced after a
    /// trap in another call.
    StateLost,
    /// The component could not be instantiated.
    Instantiate(String),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = &self.function;
        match &self.cause {
            CallErrorKind::Guest(msg) => write!(f, "{name}: {msg}"),
            CallErrorKind::Trap(msg) => write!(f, "{name}: trapped: {msg}"),
            CallErrorKind::Deadline => write!(f, "{name}: deadline exceeded (call timed out)"),
            CallErrorKind::Fuel => write!(f, "{name}: fuel exhausted"),
            CallErrorKind::Resource(msg) => write!(f, "{name}: {msg}"),
            CallErrorKind::StackOverflow => write!(f, "{name}: wasm stack overflow"),
            CallErrorKind::TooBig { size, limit } => write!(
                f,
                "{name}: result too big: {size} bytes, limit is {limit}"
            ),
            CallErrorKind::StateLost => write!(
                f,
                "{name}: aggregate state lost: the instance was replaced after a trap"
            ),
            CallErrorKind::Instantiate(msg) => write!(f, "{name}: cannot instantiate: {msg}"),
        }
    }
}

impl std::error::Error for CallError {}

/// Classifies a wasmtime error from a guest call.
pub(crate) fn classify(err: &wasmtime::Error, stderr: Option<String>) -> CallErrorKind {
    if let Some(hit) = err.downcast_ref::<LimitHit>() {
        return CallErrorKind::Resource(hit.to_string());
    }
    match err.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => CallErrorKind::Deadline,
        Some(wasmtime::Trap::OutOfFuel) => CallErrorKind::Fuel,
        Some(wasmtime::Trap::StackOverflow) => CallErrorKind::StackOverflow,
        _ => CallErrorKind::Trap(describe_trap(err, stderr)),
    }
}

/// A one-line description of a trap, with the guest's last stderr line
/// (a Rust panic message, say) when there is one.
pub(crate) fn describe_trap(err: &wasmtime::Error, stderr: Option<String>) -> String {
    let base = match err.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => trap.to_string(),
        // The root cause is the informative part of a host-side error chain;
        // the outer layers are wasm backtraces.
        None => err.root_cause().to_string(),
    };
    let base = base.lines().next().unwrap_or_default().to_string();
    match stderr {
        Some(line) => format!("{base} (guest stderr: {line})"),
        None => base,
    }
}

/// A live store and instance.
pub(crate) struct Live {
    pub(crate) store: Store<HostState>,
    pub(crate) udf: Udf,
}

/// The instance a connection uses for one component.
pub(crate) struct InstanceSlot {
    component: Component,
    live: Option<Live>,
    deadline_ticks: u64,
    /// Bumped whenever the instance is replaced, so aggregate handles from
    /// an earlier instance are recognised as stale.
    generation: u64,
}

impl InstanceSlot {
    pub(crate) fn new(component: Component) -> Self {
        let deadline_ticks = component.engine().deadline_ticks();
        InstanceSlot {
            component,
            live: None,
            deadline_ticks,
            generation: 0,
        }
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// Runs `f` against the live instance, creating it if needed.
    ///
    /// The outer `Err` of `f` is a trap: the instance is discarded. The
    /// inner `Err` is the guest's own error: the instance stays.
    pub(crate) fn call<R>(
        &mut self,
        f: impl FnOnce(&mut Store<HostState>, &Udf) -> wasmtime::Result<Result<R, String>>,
    ) -> Result<R, CallErrorKind> {
        if self.live.is_none() {
            let (store, udf) = self
                .component
                .instantiate()
                .map_err(|e| CallErrorKind::Instantiate(describe_trap(&e, None)))?;
            self.live = Some(Live { store, udf });
        }
        let Some(live) = self.live.as_mut() else {
            return Err(CallErrorKind::Instantiate("instance missing".into()));
        };
        live.store.set_epoch_deadline(self.deadline_ticks);
        if let Some(fuel) = self.component.engine().limits().fuel {
            // Fuel is a per-call budget; refilling cannot fail once fuel
            // metering is enabled on the engine, which `fuel` implies.
            let _ = live.store.set_fuel(fuel);
        }
        match f(&mut live.store, &live.udf) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(message)) => Err(CallErrorKind::Guest(message)),
            Err(trap) => {
                let stderr = live.store.data().last_stderr_line();
                self.discard();
                Err(classify(&trap, stderr))
            }
        }
    }

    /// Drops the current instance; the next call creates a fresh one.
    pub(crate) fn discard(&mut self) {
        self.live = None;
        self.generation += 1;
    }
}
