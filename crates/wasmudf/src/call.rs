//! One connection's instance of a component, and how a failed call is
//! reported.
//!
//! Every call goes through [`InstanceSlot::call`], which creates the instance
//! on first use, arms the deadline, and throws the instance away after a
//! trap: wasmtime refuses to re-enter a component instance that trapped, so
//! the next call gets a fresh one.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use wasmtime::Store;

use crate::bindings::Udf;
use crate::component::Component;
use crate::direct::abi::AbiViolation;
use crate::direct::{DirectInstance, NeedsHost};
use crate::engine::{CallPhase, Engine};
use crate::guest_text::{Escaped, cap_message};
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
    /// The guest returned its own error: its text, cut to
    /// [`MAX_GUEST_MESSAGE_BYTES`](crate::MAX_GUEST_MESSAGE_BYTES) and then
    /// marked `… (truncated, N bytes)`. Raw: it may hold control characters,
    /// which [`CallError`]'s Display escapes.
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
    /// The call does not fit the function: an index out of range, a scalar
    /// called as an aggregate, a wrong argument count, a malformed column,
    /// an accumulator of another [`Instance`](crate::Instance), or
    /// `serialize` on a function that is not mergeable.
    Usage(String),
}

/// The message names the function and the cause. Text a guest chose (its
/// name, its error, the stderr line quoted for a trap) is shown with control
/// characters escaped ([`escape_controls`](crate::escape_controls)), so the
/// message is safe to print to a terminal.
impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = Escaped(&self.function);
        match &self.cause {
            CallErrorKind::Guest(msg) => write!(f, "{name}: {}", Escaped(msg)),
            CallErrorKind::Trap(msg) => write!(f, "{name}: trapped: {}", Escaped(msg)),
            CallErrorKind::Deadline => write!(f, "{name}: deadline exceeded (call timed out)"),
            CallErrorKind::Fuel => write!(f, "{name}: fuel exhausted"),
            CallErrorKind::Resource(msg) => write!(f, "{name}: {}", Escaped(msg)),
            CallErrorKind::StackOverflow => write!(f, "{name}: wasm stack overflow"),
            CallErrorKind::TooBig { size, limit } => {
                write!(f, "{name}: result too big: {size} bytes, limit is {limit}")
            }
            CallErrorKind::Interrupted => write!(f, "{name}: interrupted"),
            CallErrorKind::StateLost => write!(
                f,
                "{name}: aggregate state lost: the instance was replaced after a trap"
            ),
            CallErrorKind::Instantiate(msg) => {
                write!(f, "{name}: cannot instantiate: {}", Escaped(msg))
            }
            CallErrorKind::Usage(msg) => write!(f, "{name}: {msg}"),
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

/// Classifies a trap in a store: a generic trap that follows a refused
/// memory or table growth in the same call is reported as that limit (a
/// Rust guest aborts when an allocation fails), with the guest's stderr.
fn classify_in(err: &wasmtime::Error, state: &HostState) -> CallErrorKind {
    match (classify(err, state.last_stderr_line()), state.limiter.hit()) {
        (CallErrorKind::Trap(_), Some(hit)) => CallErrorKind::Resource(hit.to_string()),
        (kind, _) => kind,
    }
}

/// `err`, a failure in a store whose limiter refused a growth since the
/// store was last armed, with that refusal attached (as the error's
/// context, which [`classify`] and `downcast_ref::<LimitHit>` find), when
/// the failure is a plain trap or error rather than a deadline, fuel,
/// stack overflow or interrupt: the refusal is then its likely cause (a
/// Rust guest aborts with `unreachable` when an allocation fails, and
/// wasmtime fails an instantiation whose initial memory does not fit).
/// Otherwise `err` unchanged.
pub(crate) fn blame_limit(err: wasmtime::Error, state: &HostState) -> wasmtime::Error {
    match (classify(&err, None), state.limiter.hit()) {
        (CallErrorKind::Trap(_), Some(hit)) => err.context(hit),
        _ => err,
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
    /// Set while a [`BlockingScope`] lives on this thread: the async
    /// [`Database`](crate::Database)'s blocking-pool closures.
    static BLOCKING_OK: Cell<bool> = const { Cell::new(false) };
}

/// Marks the current thread as one where guest calls may block (it is not
/// a tokio worker, so wasmtime-wasi's blocking adapters can `block_on`
/// here) for as long as the guard lives. Scoped rather than set for good:
/// tokio may later run other work on the same thread.
pub(crate) struct BlockingScope {
    was: bool,
}

impl BlockingScope {
    pub(crate) fn enter() -> BlockingScope {
        BlockingScope {
            was: BLOCKING_OK.replace(true),
        }
    }
}

impl Drop for BlockingScope {
    fn drop(&mut self) {
        BLOCKING_OK.set(self.was);
    }
}

thread_local! {
    /// The last [`CallError`] a function handed to SQLite on this thread
    /// (see [`reported`]).
    static REPORTED: RefCell<Option<CallError>> = const { RefCell::new(None) };
}

/// Notes `error` as the one a function is about to hand to SQLite, and
/// returns it. SQLite keeps only the message; a [`Database`](crate::Database)
/// job takes the typed error back with [`take_reported`] once its statement
/// fails with that very message, so a caller can tell a deadline from a
/// trap without reading the text (which a guest's own error could imitate).
/// A callback runs on the thread that steps the statement, so a
/// thread-local is where the job finds it.
pub(crate) fn reported(error: CallError) -> CallError {
    REPORTED.with(|slot| *slot.borrow_mut() = Some(error.clone()));
    error
}

/// Takes the error [`reported`] last on this thread, if any.
pub(crate) fn take_reported() -> Option<CallError> {
    REPORTED.with(|slot| slot.borrow_mut().take())
}

/// Whether a [`BlockingScope`] is active on this thread.
pub(crate) fn is_blocking_thread() -> bool {
    BLOCKING_OK.get()
}

/// Native stack a host needs above the deepest wasm frame: WASI host calls
/// (a tokio `block_on` among them), libcalls and trap handling.
const HOST_STACK_HEADROOM: usize = 256 << 10;

/// The largest `max_wasm_stack` of the engines built in this process, so
/// that a [`Database`](crate::Database) job can reserve the stack its guest
/// calls need once, whatever engines its components come from.
static LARGEST_WASM_STACK: AtomicUsize = AtomicUsize::new(0);

/// Records an engine's `max_wasm_stack` (see [`largest_wasm_stack`]).
pub(crate) fn note_wasm_stack(max_wasm_stack: usize) {
    LARGEST_WASM_STACK.fetch_max(max_wasm_stack, Ordering::Relaxed);
}

/// The largest `max_wasm_stack` recorded by [`note_wasm_stack`].
pub(crate) fn largest_wasm_stack() -> usize {
    LARGEST_WASM_STACK.load(Ordering::Relaxed)
}

/// The native stack a guest call needs: all of `max_wasm_stack`, plus
/// [`HOST_STACK_HEADROOM`].
pub(crate) fn stack_needed(max_wasm_stack: usize) -> usize {
    max_wasm_stack.saturating_add(HOST_STACK_HEADROOM)
}

/// Runs `f`, which enters wasm, with at least `max_wasm_stack` plus
/// headroom of native stack left. wasmtime places the wasm stack limit
/// `max_wasm_stack` below the stack pointer at entry; on a thread with less
/// stack than that, deep recursion runs into the guard page and the process
/// aborts instead of trapping. A thread short of stack (a 2 MiB tokio
/// thread under a 2 MiB `max_wasm_stack`) runs `f` on a fresh segment;
/// otherwise this costs one comparison against the stack pointer.
#[inline]
pub(crate) fn with_guest_stack<R>(max_wasm_stack: usize, f: impl FnOnce() -> R) -> R {
    let needed = stack_needed(max_wasm_stack);
    stacker::maybe_grow(needed, needed.saturating_add(HOST_STACK_HEADROOM), f)
}

/// Runs `f` (a component-path guest call, or an instantiation) on a thread
/// where wasmtime-wasi's synchronous adapters may block, with enough stack.
///
/// Those adapters run a tokio `block_on` when a guest blocks (a sleep, a
/// stream flush): on the runtime's handle if the thread has one, on
/// wasmtime-wasi's own runtime otherwise. That panics only where the thread
/// is inside a runtime's async context (a worker, or a `block_on`). So:
/// - a [`BlockingScope`], or no runtime at all: run here;
/// - a multi-thread runtime: `block_in_place`, which on a worker hands the
///   worker's other tasks to another thread and leaves the async context,
///   and elsewhere (a `spawn_blocking` thread, as deadpool-sqlite and
///   tokio-rusqlite use) just runs `f`;
/// - a current-thread runtime, where `block_in_place` panics and a
///   `spawn_blocking` thread cannot be told from the runtime's own: one
///   long-lived helper thread runs `f` while the caller waits.
pub(crate) fn on_guest_thread<R: Send>(max_wasm_stack: usize, f: impl FnOnce() -> R + Send) -> R {
    if BLOCKING_OK.get() {
        return with_guest_stack(max_wasm_stack, f);
    }
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Err(_) => with_guest_stack(max_wasm_stack, f),
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => {
            tokio::task::block_in_place(|| with_guest_stack(max_wasm_stack, f))
        }
        Ok(_) => helper_thread::run(move || with_guest_stack(max_wasm_stack, f)),
    }
}

mod helper_thread {
    use std::sync::OnceLock;

    /// One thread, made on first use and kept: a rayon pool of one, because
    /// `install` runs a borrowing closure there and waits for it.
    fn pool() -> Option<&'static rayon::ThreadPool> {
        static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
        POOL.get_or_init(|| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .thread_name(|_| "wasmudf-guest".into())
                .build()
                .inspect_err(|e| tracing::error!("wasmudf: no guest helper thread: {e}"))
                .ok()
        })
        .as_ref()
    }

    /// Runs `f` on the helper thread and waits for it; if that thread
    /// cannot be had, on a scoped thread of its own.
    pub(super) fn run<R: Send>(f: impl FnOnce() -> R + Send) -> R {
        match pool() {
            Some(pool) => pool.install(f),
            None => std::thread::scope(|scope| match scope.spawn(f).join() {
                Ok(out) => out,
                Err(panic) => std::panic::resume_unwind(panic),
            }),
        }
    }
}

/// A live store and instance (a component's, or a direct-path core
/// instance); counted while it lives.
pub(crate) struct Live<I> {
    pub(crate) store: Store<HostState>,
    pub(crate) instance: I,
    engine: Engine,
    /// The component's own count of its live instances.
    live: Arc<AtomicU64>,
}

impl<I> Live<I> {
    fn new(store: Store<HostState>, instance: I, component: &Component) -> Self {
        let engine = component.engine();
        engine.counters().created();
        let live = component.live_counter();
        live.fetch_add(1, Ordering::Relaxed);
        Live {
            store,
            instance,
            engine: engine.clone(),
            live,
        }
    }
}

impl<I> Drop for Live<I> {
    fn drop(&mut self) {
        self.engine.counters().dropped();
        self.live.fetch_sub(1, Ordering::Relaxed);
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

    /// This budget with its deadline moved `ms` later: time spent on work
    /// that is not the call's own (instantiating the component instance,
    /// rebuilding a group's state by replay) is not charged to it.
    pub(crate) fn paused_for(self, ms: u64) -> Budget {
        Budget {
            start_ms: self.start_ms.saturating_add(ms),
            fuel: self.fuel,
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
    /// Accumulator handles of the current instance that SQLite no longer
    /// needs but that could not be dropped yet (the connection was
    /// interrupted); see [`InstanceSlot::release`].
    orphans: Vec<wasmtime::component::ResourceAny>,
    /// The current instance's accumulators; see
    /// [`InstanceSlot::recycle_if_due`].
    accs: AccCount,
    /// Bumped whenever the direct instance is dropped; an accumulator on
    /// it is tagged with the generation it was made in.
    direct_generation: u64,
    /// For each direct generation dropped so far, whether its accumulators
    /// can be rebuilt on the component path by replaying their calls
    /// (the guest reached for the host, or broke the ABI: nothing went
    /// wrong that the component path would not also see) or are lost (a
    /// trap, a deadline, an interrupt: the component path would have lost
    /// them too).
    direct_fates: Vec<bool>,
    /// Direct accumulators SQLite no longer needs that could not be
    /// dropped yet (the connection was interrupted): rep and generation.
    direct_orphans: Vec<(u32, u64)>,
    /// The direct instance's accumulators: it is recycled like the
    /// component instance.
    direct_accs: AccCount,
    /// Set once a guest destructor (a cursor's or an accumulator's) has
    /// failed here: looped to the deadline, run out of fuel, trapped. Such
    /// a destructor would fail again for every row of a join, one deadline
    /// each, so it is never run again on this slot: a handle SQLite no
    /// longer needs is forgotten instead, and its instance replaced as soon
    /// as none of its handles is live (see [`AccCount::leaked`]).
    destructors_broken: bool,
}

/// Accumulators an instance has made, and how many of those SQLite still
/// holds.
#[derive(Debug, Default, Clone, Copy)]
struct AccCount {
    made: u64,
    live: u64,
    /// A handle was forgotten rather than dropped (its destructor is
    /// broken): the guest state behind it is freed only with the instance.
    leaked: bool,
}

impl AccCount {
    fn created(&mut self) {
        self.made += 1;
        self.live += 1;
    }

    fn done(&mut self) {
        self.live = self.live.saturating_sub(1);
    }

    /// Whether the instance should be replaced: it has made
    /// [`RECYCLE_AFTER_ACCUMULATORS`], or forgotten a handle, and none is
    /// live.
    fn recycle_due(&self) -> bool {
        self.live == 0 && (self.made >= RECYCLE_AFTER_ACCUMULATORS || self.leaked)
    }
}

/// What became of the direct instance an accumulator was made on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DirectFate {
    /// It is the live direct instance.
    Live,
    /// It was dropped in a way the component path would not have seen:
    /// replay the accumulator's calls there.
    Replay,
    /// It was dropped after a failure: the accumulator is lost.
    Lost,
}

/// After this many accumulators, an instance is replaced as soon as none is
/// live. Some toolchains never drop the `own<accumulator>` that `finish`
/// hands them (componentize-py 0.25.1 keeps every one in its handle table),
/// and wasmtime caps a store at 100,000 handles, so without this a
/// connection would trap after about 100,000 groups in its lifetime.
const RECYCLE_AFTER_ACCUMULATORS: u64 = 10_000;

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
            orphans: Vec::new(),
            accs: AccCount::default(),
            direct_generation: 0,
            direct_fates: Vec::new(),
            direct_orphans: Vec::new(),
            direct_accs: AccCount::default(),
            destructors_broken: false,
        }
    }

    /// Notes that a guest destructor failed with `cause` (the instance it
    /// ran in has been replaced already): reported once, and no destructor
    /// runs on this slot again (see [`InstanceSlot::destructors_broken`]).
    /// An interrupt is the caller's doing, not the destructor's.
    fn destructor_failed(&mut self, cause: &CallErrorKind) {
        if matches!(cause, CallErrorKind::Interrupted) || self.destructors_broken {
            return;
        }
        self.destructors_broken = true;
        let failure = CallError {
            function: "a destructor".into(),
            cause: cause.clone(),
        };
        tracing::warn!(
            "wasmudf: {}: {failure}; its destructors no longer run on this connection, \
             and an instance whose handles are all released is replaced instead",
            crate::escape_controls(self.component.origin())
        );
    }

    /// Counts an accumulator the direct instance made for SQLite.
    pub(crate) fn direct_accumulator_created(&mut self) {
        self.direct_accs.created();
    }

    /// Counts a direct accumulator SQLite no longer holds.
    pub(crate) fn direct_accumulator_done(&mut self) {
        self.direct_accs.done();
    }

    /// [`recycle_if_due`](InstanceSlot::recycle_if_due) for the direct
    /// instance, whose handle table has the same cap: no group is live, so
    /// nothing is lost.
    pub(crate) fn recycle_direct_if_due(&mut self) {
        if self.direct_accs.recycle_due() {
            self.discard_direct(false, false);
        }
    }

    /// The generation of the direct instance (the live one, or the next).
    pub(crate) fn direct_generation(&self) -> u64 {
        self.direct_generation
    }

    /// What became of direct instance `generation`.
    pub(crate) fn direct_fate(&self, generation: u64) -> DirectFate {
        if generation == self.direct_generation && self.direct.is_some() {
            return DirectFate::Live;
        }
        match self.direct_fates.get(generation as usize) {
            Some(true) => DirectFate::Replay,
            _ => DirectFate::Lost,
        }
    }

    /// Counts an accumulator the current instance made for SQLite.
    pub(crate) fn accumulator_created(&mut self) {
        self.accs.created();
    }

    /// Counts an accumulator SQLite no longer holds: handed to `finish`,
    /// or released.
    pub(crate) fn accumulator_done(&mut self) {
        self.accs.done();
    }

    /// Replaces the component instance when it has made
    /// [`RECYCLE_AFTER_ACCUMULATORS`] accumulators and none is live, so no
    /// handle SQLite holds goes stale. Call it before creating one.
    pub(crate) fn recycle_if_due(&mut self) {
        if self.accs.recycle_due() {
            // Not a failure: `replaced` counts instances lost to traps.
            self.drop_instance();
        }
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// The engine's coarse clock, in milliseconds: what deadlines are
    /// measured with.
    pub(crate) fn now_ms(&self) -> u64 {
        self.component.engine().clock().now_ms()
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
        let max_stack = self.component.engine().limits().max_wasm_stack;
        let mut budget = budget;
        if self.live.is_none() {
            self.check_capacity()?;
            let started = self.component.engine().clock().now_ms();
            let (component, interrupt) = (&self.component, &self.interrupt);
            let deterministic = self.deterministic;
            let (store, udf) = on_guest_thread(max_stack, || {
                component.instantiate(interrupt, deterministic)
            })
            .map_err(|e| match e.downcast_ref::<LimitHit>() {
                Some(hit) => CallErrorKind::Resource(hit.to_string()),
                None => CallErrorKind::Instantiate(describe_trap(&e, None)),
            })?;
            self.live = Some(Live::new(store, udf, &self.component));
            // Instantiating is not the call's time (it has its own budget,
            // as on a first call that never tried the direct path): a
            // carried deadline moves by what it took.
            let took = self
                .component
                .engine()
                .clock()
                .now_ms()
                .saturating_sub(started);
            budget = budget.map(|b| b.paused_for(took));
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
        let Live {
            store, instance, ..
        } = &mut *live;
        // The hook runs where the guest does, so it sees which threads run
        // guests.
        let outcome = on_guest_thread(max_stack, || observed(engine, || f(store, instance)));
        match (outcome, late_failure(live.store.data())) {
            (Err(trap), _) => {
                let cause = classify_in(&trap, live.store.data());
                self.discard();
                Err(cause)
            }
            // A guest woken early from a sleep may return before the next
            // epoch check; the call still failed.
            (Ok(_), Some(cause)) => {
                self.discard();
                Err(cause)
            }
            (Ok(Ok(value)), None) => Ok(value),
            (Ok(Err(message)), None) => Err(CallErrorKind::Guest(cap_message(message))),
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
    #[inline]
    pub(crate) fn call_direct<R>(
        &mut self,
        f: impl FnOnce(&mut Store<HostState>, &DirectInstance) -> wasmtime::Result<Result<R, String>>,
    ) -> Direct<R> {
        self.call_direct_inner(false, f)
    }

    /// [`call_direct`](InstanceSlot::call_direct) for an accumulator call:
    /// `Retry(None)` without running anything when the direct instance
    /// cannot run aggregates.
    pub(crate) fn call_direct_acc<R>(
        &mut self,
        f: impl FnOnce(&mut Store<HostState>, &DirectInstance) -> wasmtime::Result<Result<R, String>>,
    ) -> Direct<R> {
        self.call_direct_inner(true, f)
    }

    #[inline]
    fn call_direct_inner<R>(
        &mut self,
        accumulators: bool,
        f: impl FnOnce(&mut Store<HostState>, &DirectInstance) -> wasmtime::Result<Result<R, String>>,
    ) -> Direct<R> {
        if self.interrupt.is_interrupted() {
            return Direct::Done(Err(CallErrorKind::Interrupted));
        }
        if self.direct.is_none()
            && let Err(miss) = self.make_direct()
        {
            return match miss {
                Some(cause) => Direct::Done(Err(cause)),
                None => Direct::Retry(None),
            };
        }
        let Some(live) = self.direct.as_mut() else {
            return Direct::Retry(None);
        };
        if accumulators && !live.instance.has_accumulators() {
            return Direct::Retry(None);
        }
        let engine = self.component.engine();
        let budget = Budget::fresh(engine);
        arm_with(engine, &mut live.store, budget);
        // The direct instance imports nothing, so it never needs to leave
        // this thread; `observed` gives it the native stack any guest call
        // needs.
        let outcome = observed(engine, || f(&mut live.store, &live.instance));
        // What is left of the budget matters only to a call handed over.
        let left = |store: &Store<HostState>| budget.left(store);
        match (outcome, late_failure(live.store.data())) {
            (Ok(Ok(value)), None) => Direct::Done(Ok(value)),
            (Ok(Err(message)), None) => {
                Direct::Done(Err(CallErrorKind::Guest(cap_message(message))))
            }
            (Ok(_), Some(cause)) => {
                self.discard_direct(true, false);
                Direct::Done(Err(cause))
            }
            (Err(err), _) if err.downcast_ref::<NeedsHost>().is_some() => {
                let left = left(&live.store);
                self.discard_direct(false, true);
                Direct::NeedsHost(left)
            }
            (Err(err), _) if err.downcast_ref::<AbiViolation>().is_some() => {
                tracing::debug!("{}: {err:#}", self.component.origin());
                let left = left(&live.store);
                self.discard_direct(true, true);
                Direct::Retry(Some(left))
            }
            (Err(trap), _) => {
                let cause = classify_in(&trap, live.store.data());
                self.discard_direct(true, false);
                Direct::Done(Err(cause))
            }
        }
    }

    /// Creates the direct instance. `Err(None)`: there is none to be had
    /// (the call goes to the component); `Err(Some(cause))`: the call fails.
    #[cold]
    fn make_direct(&mut self) -> Result<(), Option<CallErrorKind>> {
        if self.direct_failed {
            return Err(None);
        }
        self.check_capacity().map_err(Some)?;
        match self.component.instantiate_direct(&self.interrupt) {
            Some(Ok((store, instance))) => {
                self.component.engine().counters().created_direct();
                self.direct = Some(Live::new(store, instance, &self.component));
                Ok(())
            }
            failed => {
                if let Some(Err(err)) = failed {
                    tracing::debug!("{}: no direct instance: {err:#}", self.component.origin());
                }
                self.direct_failed = true;
                Err(None)
            }
        }
    }

    /// Drops the component instance; the next call creates a fresh one.
    pub(crate) fn discard(&mut self) {
        if self.live.is_some() {
            self.component.engine().counters().replaced();
        }
        self.drop_instance();
    }

    fn drop_instance(&mut self) {
        self.live = None;
        // Their instance, and the guest state behind them, are gone.
        self.orphans.clear();
        self.accs = AccCount::default();
        self.generation += 1;
    }

    /// Drops an accumulator handle of instance `generation` that SQLite no
    /// longer needs, running the guest's destructor, so neither the store's
    /// handle table nor the guest's memory keeps it. On an interrupted
    /// connection no guest code may run: the handle waits for
    /// [`release_orphans`](InstanceSlot::release_orphans) at a later call.
    /// A handle of an instance since replaced went with that instance.
    /// After a destructor has failed here, the handle is forgotten instead
    /// (see [`InstanceSlot::destructors_broken`]).
    pub(crate) fn release(&mut self, handle: wasmtime::component::ResourceAny, generation: u64) {
        self.release_within(handle, generation, None);
    }

    /// [`release`](InstanceSlot::release) within `budget`: what a direct
    /// attempt at the same destructor left of its deadline and fuel.
    pub(crate) fn release_within(
        &mut self,
        handle: wasmtime::component::ResourceAny,
        generation: u64,
        budget: Option<Budget>,
    ) {
        if generation == self.generation && self.live.is_some() {
            self.accumulator_done();
            if self.destructors_broken {
                self.accs.leaked = true;
                self.recycle_if_due();
                return;
            }
            self.orphans.push(handle);
            self.release_orphans_within(budget);
        }
    }

    /// Drops the handles [`release`](InstanceSlot::release) could not. Call
    /// it only while no other handle is in use: a destructor that traps
    /// replaces the instance (and bumps the generation).
    pub(crate) fn release_orphans(&mut self) {
        self.release_orphans_within(None);
    }

    fn release_orphans_within(&mut self, budget: Option<Budget>) {
        if self.orphans.is_empty() || self.interrupt.is_interrupted() {
            return;
        }
        let orphans = std::mem::take(&mut self.orphans);
        // `call` has dealt with a failure: a trap replaced the instance, and
        // every handle went with it.
        let dropped = self.call_within(budget, move |store, _| {
            for handle in orphans {
                handle.resource_drop(&mut *store)?;
            }
            Ok(Ok(()))
        });
        if let Err(cause) = dropped {
            self.destructor_failed(&cause);
        }
    }

    /// Drops the direct instance; `failed` counts it as replaced, and
    /// `replayable` says whether its accumulators can be rebuilt on the
    /// component path (see [`DirectFate`]).
    fn discard_direct(&mut self, failed: bool, replayable: bool) {
        if self.direct.take().is_none() {
            return;
        }
        if failed {
            self.component.engine().counters().replaced();
        }
        let generation = self.direct_generation as usize;
        if self.direct_fates.len() <= generation {
            self.direct_fates.resize(generation + 1, false);
        }
        self.direct_fates[generation] = replayable;
        self.direct_generation += 1;
        // Their accumulators went with the instance.
        self.direct_orphans.clear();
        self.direct_accs = AccCount::default();
    }

    /// Drops direct accumulator `rep` of direct instance `generation` that
    /// SQLite no longer needs, running the guest's destructor; on an
    /// interrupted connection it waits for a later call. `Err` when the
    /// destructor reached for the host: the caller rebuilds the
    /// accumulator on the component path and drops it there, within the
    /// budget the direct attempt left.
    pub(crate) fn release_direct(&mut self, rep: u32, generation: u64) -> Result<(), Budget> {
        if self.direct_fate(generation) != DirectFate::Live {
            return Ok(());
        }
        self.direct_accumulator_done();
        if self.destructors_broken {
            self.direct_accs.leaked = true;
            self.recycle_direct_if_due();
            return Ok(());
        }
        if self.interrupt.is_interrupted() {
            self.direct_orphans.push((rep, generation));
            return Ok(());
        }
        self.drop_direct_accumulator(rep)
    }

    /// Runs the destructor of direct accumulator `rep`, already counted as
    /// done. `Err` when it reached for the host, with what it left of its
    /// budget.
    fn drop_direct_accumulator(&mut self, rep: u32) -> Result<(), Budget> {
        if self.destructors_broken {
            self.direct_accs.leaked = true;
            return Ok(());
        }
        match self.call_direct_acc(|s, d| d.acc_drop(s, rep).map(Ok)) {
            Direct::Done(Ok(())) => Ok(()),
            Direct::Done(Err(cause)) => {
                // The direct instance is gone (`call_direct_acc` dropped it).
                self.destructor_failed(&cause);
                Ok(())
            }
            Direct::NeedsHost(left) | Direct::Retry(Some(left)) => Err(left),
            Direct::Retry(None) => Ok(()),
        }
    }

    /// Drops the direct accumulators [`release_direct`] could not. Call it
    /// only while no other direct accumulator call is in progress.
    ///
    /// [`release_direct`]: InstanceSlot::release_direct
    pub(crate) fn release_direct_orphans(&mut self) {
        if self.direct_orphans.is_empty() || self.interrupt.is_interrupted() {
            return;
        }
        for (rep, generation) in std::mem::take(&mut self.direct_orphans) {
            // Counted as done when they were orphaned. A destructor that
            // needs the host drops the direct instance, and the orphans
            // with it; nothing else is left to do.
            if self.direct_fate(generation) == DirectFate::Live {
                let _ = self.drop_direct_accumulator(rep);
            }
        }
    }
}

/// Runs `f` between the engine's `on_call` hook's `Enter` and `Exit`, with
/// enough native stack for the guest (see [`with_guest_stack`]).
#[inline]
fn observed<T>(engine: &Engine, f: impl FnOnce() -> T) -> T {
    let hook = engine.on_call();
    if let Some(hook) = hook {
        hook(CallPhase::Enter);
    }
    let out = with_guest_stack(engine.limits().max_wasm_stack, f);
    if let Some(hook) = hook {
        hook(CallPhase::Exit);
    }
    out
}

/// Arms a store for one call (or an instantiation, which runs guest code
/// too): the deadline clock, the epoch check, a fresh fuel budget, and for a
/// deterministic instance its clock and random sequences restarted.
#[inline]
pub(crate) fn arm(engine: &Engine, store: &mut Store<HostState>) {
    arm_with(engine, store, Budget::fresh(engine));
}

/// Arms a store for one call within `budget`.
#[inline]
fn arm_with(engine: &Engine, store: &mut Store<HostState>, budget: Budget) {
    let state = store.data_mut();
    state.call_start_ms = budget.start_ms;
    state.limiter.clear_hit();
    if state.deterministic {
        state.start_deterministic_call();
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_blocking_marker_ends_with_its_scope() {
        assert!(!is_blocking_thread());
        {
            let _outer = BlockingScope::enter();
            assert!(is_blocking_thread());
            {
                let _inner = BlockingScope::enter();
                assert!(is_blocking_thread());
            }
            assert!(is_blocking_thread(), "an inner scope ended the outer one");
        }
        assert!(!is_blocking_thread(), "the marker outlived its scope");
    }

    #[test]
    fn a_guest_stack_is_there_even_on_a_small_thread() {
        let need = 8 << 20;
        let remaining = std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(move || with_guest_stack(need, stacker::remaining_stack))
            .expect("thread spawns")
            .join()
            .expect("thread runs");
        assert!(remaining.is_some_and(|r| r >= stack_needed(need)));
    }
}
