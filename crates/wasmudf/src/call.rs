//! One connection's instance of a component, and how a failed call is
//! reported.
//!
//! Every call goes through [`InstanceSlot::call`], which creates the instance
//! on first use, arms the deadline, and throws the instance away after a
//! trap: wasmtime refuses to re-enter a component instance that trapped, so
//! the next call gets a fresh one.

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::Ordering;

use wasmtime::Store;

use crate::bindings::Udf;
use crate::component::Component;
use crate::direct::abi::AbiViolation;
use crate::direct::{DirectInstance, NeedsHost};
use crate::engine::{CallPhase, Engine};
use crate::interrupt::{Interrupt, Interrupted};
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
    /// The call was stopped through an [`Interrupt`](crate::Interrupt): the
    /// query was cancelled or timed out.
    Interrupted,
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
            CallErrorKind::TooBig { size, limit } => {
                write!(f, "{name}: result too big: {size} bytes, limit is {limit}")
            }
            CallErrorKind::Interrupted => write!(f, "{name}: interrupted"),
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
    if err.downcast_ref::<Interrupted>().is_some() {
        return CallErrorKind::Interrupted;
    }
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
        Some(trap) => {
            let text = trap.to_string();
            text.strip_prefix("wasm trap: ")
                .map(str::to_string)
                .unwrap_or(text)
        }
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

thread_local! {
    /// Set on threads where a blocking WASI call may run a tokio
    /// `block_on`: the async [`Database`](crate::Database)'s blocking-pool
    /// closures.
    static BLOCKING_OK: Cell<bool> = const { Cell::new(false) };
}

/// Marks the current thread as one where guest calls may block: it is not a
/// tokio worker, so wasmtime-wasi's blocking adapters can `block_on` here.
pub(crate) fn mark_blocking_thread() {
    BLOCKING_OK.with(|ok| ok.set(true));
}

/// Whether [`mark_blocking_thread`] was called on this thread.
pub(crate) fn is_blocking_thread() -> bool {
    BLOCKING_OK.with(Cell::get)
}

/// Whether a guest call must leave this thread. wasmtime-wasi's synchronous
/// WASI adapters run a tokio `block_on` when a guest blocks (a sleep, a
/// stream flush); on a tokio worker thread that panics ("Cannot start a
/// runtime from within a runtime"). When the synchronous API is called from
/// such a thread, the call runs on a short-lived scoped thread instead.
#[inline]
fn must_leave_thread() -> bool {
    !BLOCKING_OK.with(Cell::get) && tokio::runtime::Handle::try_current().is_ok()
}

/// A live store and instance (a component's, or a direct-path core
/// instance); counted while it lives.
pub(crate) struct Live<I> {
    pub(crate) store: Store<HostState>,
    pub(crate) instance: I,
    engine: Engine,
}

impl<I> Live<I> {
    fn new(store: Store<HostState>, instance: I, engine: &Engine) -> Self {
        engine.counters().created();
        Live {
            store,
            instance,
            engine: engine.clone(),
        }
    }
}

impl<I> Drop for Live<I> {
    fn drop(&mut self) {
        self.engine.counters().dropped();
    }
}

/// How a call on the direct path ended.
pub(crate) enum Direct<R> {
    /// Finished: the answer, or a failure that running the call again on
    /// the component path would only repeat (a trap, the deadline).
    Done(Result<R, CallErrorKind>),
    /// The guest reached for an import: run the call on the component path
    /// within what is left of its budget, and keep the function there.
    NeedsHost(Budget),
    /// No direct instance could be had, or the guest broke the canonical
    /// ABI: run this call on the component path, within what is left of its
    /// budget if the direct attempt ran at all.
    Retry(Option<Budget>),
}

/// What one SQL call has of its limits: when it started, for the deadline,
/// and the fuel it has left. A call that the direct path hands to the
/// component path keeps both, so the two attempts together get one
/// deadline and one fuel budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Budget {
    start_ms: u64,
    fuel: Option<u64>,
}

impl Budget {
    /// A whole budget, starting now.
    fn fresh(engine: &Engine) -> Budget {
        Budget {
            start_ms: engine.clock().now_ms(),
            fuel: engine.limits().fuel,
        }
    }

    /// What is left of this budget after `store` ran with it.
    fn left(self, store: &Store<HostState>) -> Budget {
        Budget {
            start_ms: self.start_ms,
            // `get_fuel` fails only when fuel is off, and then `fuel` is
            // `None` anyway.
            fuel: self.fuel.map(|_| store.get_fuel().unwrap_or(0)),
        }
    }
}

/// The instances a connection uses for one component.
pub(crate) struct InstanceSlot {
    component: Component,
    interrupt: Interrupt,
    /// Whether this slot serves only deterministic functions, and so gets
    /// deterministic capabilities.
    deterministic: bool,
    live: Option<Live<Udf>>,
    direct: Option<Live<DirectInstance>>,
    /// Set when a direct instance could not be created, so it is not tried
    /// again on every call.
    direct_failed: bool,
    /// Bumped whenever the component instance is replaced, so aggregate
    /// handles from an earlier instance are recognised as stale.
    generation: u64,
}

impl InstanceSlot {
    pub(crate) fn new(component: Component, interrupt: Interrupt, deterministic: bool) -> Self {
        InstanceSlot {
            component,
            interrupt,
            deterministic,
            live: None,
            direct: None,
            direct_failed: false,
            generation: 0,
        }
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// Refuses a new instance when the engine already has its maximum.
    fn check_capacity(&self) -> Result<(), CallErrorKind> {
        let engine = self.component.engine();
        let max = u64::from(engine.limits().max_instances);
        if engine.instance_stats().live >= max {
            return Err(CallErrorKind::Resource(format!(
                "instance limit reached: {max} instances are live"
            )));
        }
        Ok(())
    }

    /// Runs `f` against the component instance, creating it if needed.
    ///
    /// The outer `Err` of `f` is a trap: the instance is discarded. The
    /// inner `Err` is the guest's own error: the instance stays.
    pub(crate) fn call<R: Send>(
        &mut self,
        f: impl FnOnce(&mut Store<HostState>, &Udf) -> wasmtime::Result<Result<R, String>> + Send,
    ) -> Result<R, CallErrorKind> {
        self.call_within(None, f)
    }

    /// [`call`](InstanceSlot::call) within `budget`, what a direct attempt
    /// left of this call's deadline and fuel; `None` is a whole budget.
    pub(crate) fn call_within<R: Send>(
        &mut self,
        budget: Option<Budget>,
        f: impl FnOnce(&mut Store<HostState>, &Udf) -> wasmtime::Result<Result<R, String>> + Send,
    ) -> Result<R, CallErrorKind> {
        if self.interrupt.is_interrupted() {
            return Err(CallErrorKind::Interrupted);
        }
        let mut budget = budget;
        if self.live.is_none() {
            self.check_capacity()?;
            let started = self.component.engine().clock().now_ms();
            let (store, udf) = self
                .component
                .instantiate(&self.interrupt, self.deterministic)
                .map_err(|e| CallErrorKind::Instantiate(describe_trap(&e, None)))?;
            self.live = Some(Live::new(store, udf, self.component.engine()));
            // Instantiating is not the call's time (it has its own budget,
            // as on a first call that never tried the direct path): a
            // carried deadline moves by what it took.
            if let Some(b) = budget.as_mut() {
                let took = self
                    .component
                    .engine()
                    .clock()
                    .now_ms()
                    .saturating_sub(started);
                b.start_ms = b.start_ms.saturating_add(took);
            }
        }
        let Some(live) = self.live.as_mut() else {
            return Err(CallErrorKind::Instantiate("instance missing".into()));
        };
        let engine = self.component.engine();
        arm_with(
            engine,
            &mut live.store,
            budget.unwrap_or_else(|| Budget::fresh(engine)),
        );
        let outcome = observed(engine, || {
            if !must_leave_thread() {
                return f(&mut live.store, &live.instance);
            }
            let Live {
                store, instance, ..
            } = live;
            std::thread::scope(|scope| {
                scope
                    .spawn(move || {
                        mark_blocking_thread();
                        f(store, instance)
                    })
                    .join()
            })
            .unwrap_or_else(|_| Err(wasmtime::Error::msg("host panic during a guest call")))
        });
        match (outcome, late_failure(live.store.data())) {
            (Err(trap), _) => {
                let stderr = live.store.data().last_stderr_line();
                self.discard();
                Err(classify(&trap, stderr))
            }
            // A guest woken early from a sleep may return before the next
            // epoch check; the call still failed.
            (Ok(_), Some(cause)) => {
                self.discard();
                Err(cause)
            }
            (Ok(Ok(value)), None) => Ok(value),
            (Ok(Err(message)), None) => Err(CallErrorKind::Guest(message)),
        }
    }

    /// Runs `f` against the direct-path instance, creating it if needed
    /// (see [`crate::direct`]). The caller falls back to [`call`] unless
    /// this returns [`Direct::Done`].
    ///
    /// The direct instance imports nothing, so it never blocks and never
    /// needs to leave a tokio worker thread.
    ///
    /// [`call`]: InstanceSlot::call
    pub(crate) fn call_direct<R>(
        &mut self,
        f: impl FnOnce(&mut Store<HostState>, &DirectInstance) -> wasmtime::Result<Result<R, String>>,
    ) -> Direct<R> {
        if self.interrupt.is_interrupted() {
            return Direct::Done(Err(CallErrorKind::Interrupted));
        }
        if self.direct.is_none() {
            if self.direct_failed {
                return Direct::Retry(None);
            }
            if let Err(cause) = self.check_capacity() {
                return Direct::Done(Err(cause));
            }
            match self.component.instantiate_direct(&self.interrupt) {
                Some(Ok((store, instance))) => {
                    let engine = self.component.engine();
                    engine.counters().created_direct();
                    self.direct = Some(Live::new(store, instance, engine));
                }
                failed => {
                    if let Some(Err(err)) = failed {
                        tracing::debug!("{}: no direct instance: {err:#}", self.component.origin());
                    }
                    self.direct_failed = true;
                    return Direct::Retry(None);
                }
            }
        }
        let Some(live) = self.direct.as_mut() else {
            return Direct::Retry(None);
        };
        let engine = self.component.engine();
        let budget = Budget::fresh(engine);
        arm_with(engine, &mut live.store, budget);
        let outcome = observed(engine, || f(&mut live.store, &live.instance));
        let left = budget.left(&live.store);
        match (outcome, late_failure(live.store.data())) {
            (Ok(Ok(value)), None) => Direct::Done(Ok(value)),
            (Ok(Err(message)), None) => Direct::Done(Err(CallErrorKind::Guest(message))),
            (Ok(_), Some(cause)) => {
                self.discard_direct(true);
                Direct::Done(Err(cause))
            }
            (Err(err), _) if err.downcast_ref::<NeedsHost>().is_some() => {
                self.discard_direct(false);
                Direct::NeedsHost(left)
            }
            (Err(err), _) if err.downcast_ref::<AbiViolation>().is_some() => {
                tracing::debug!("{}: {err:#}", self.component.origin());
                self.discard_direct(true);
                Direct::Retry(Some(left))
            }
            (Err(trap), _) => {
                self.discard_direct(true);
                Direct::Done(Err(classify(&trap, None)))
            }
        }
    }

    /// Drops the component instance; the next call creates a fresh one.
    pub(crate) fn discard(&mut self) {
        if self.live.take().is_some() {
            self.component.engine().counters().replaced();
        }
        self.generation += 1;
    }

    /// Drops the direct instance; `failed` counts it as replaced.
    fn discard_direct(&mut self, failed: bool) {
        if self.direct.take().is_some() && failed {
            self.component.engine().counters().replaced();
        }
    }
}

/// Runs `f` between the engine's `on_call` hook's `Enter` and `Exit`.
#[inline]
fn observed<T>(engine: &Engine, f: impl FnOnce() -> T) -> T {
    let hook = engine.on_call();
    if let Some(hook) = hook {
        hook(CallPhase::Enter);
    }
    let out = f();
    if let Some(hook) = hook {
        hook(CallPhase::Exit);
    }
    out
}

/// Arms a store for one call (or an instantiation, which runs guest code
/// too): the deadline clock, the epoch check and a fresh fuel budget.
#[inline]
pub(crate) fn arm(engine: &Engine, store: &mut Store<HostState>) {
    arm_with(engine, store, Budget::fresh(engine));
}

/// Arms a store for one call within `budget`.
#[inline]
fn arm_with(engine: &Engine, store: &mut Store<HostState>, budget: Budget) {
    store.data_mut().call_start_ms = budget.start_ms;
    if engine.epoch_interruption() {
        store.set_epoch_deadline(1);
    }
    if let Some(fuel) = budget.fuel {
        // Fuel is a per-call budget; setting it cannot fail once fuel
        // metering is enabled on the engine, which `fuel` implies.
        let _ = store.set_fuel(fuel);
    }
}

/// A failure noticed after the guest returned: an interrupt, or a deadline
/// passed while the guest slept.
#[inline]
fn late_failure(state: &HostState) -> Option<CallErrorKind> {
    if state.interrupt.is_interrupted() {
        Some(CallErrorKind::Interrupted)
    } else if state.cut_short.load(Ordering::Relaxed)
        && state.cut_short.swap(false, Ordering::SeqCst)
    {
        Some(CallErrorKind::Deadline)
    } else {
        None
    }
}
