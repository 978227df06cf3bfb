//! Aggregate and window callbacks: a group's accumulator, the rows
//! buffered for it, and which instance it lives in.
//!
//! A group's accumulator starts on the direct instance when the component
//! has a direct path for aggregates (see `crate::direct`) and the function
//! has never needed the host; otherwise on the component instance. On the
//! direct path every call that succeeded is kept in the group's [`Log`]:
//! the direct instance has no imports, so when a later call reaches for
//! the host (a `println!`, a clock) that instance is dropped, and the
//! group is rebuilt on the component instance by replaying its calls in
//! order, after which the call that needed the host runs there. The
//! direct instance imports nothing, so the replayed calls compute exactly
//! what they computed the first time. A log is kept up to
//! [`log_budget`]; a group that outgrows it moves to the component
//! path then, in the same way, so no group ever depends on a log it does
//! not have.

use std::panic::AssertUnwindSafe;

use rusqlite::functions::{Aggregate, Context, WindowAggregate};
use rusqlite::types::Value as SqlValue;
use wasmtime::component::ResourceAny;

use super::Target;
use crate::batch::{self, Batch};
use crate::bindings::{ValueParam, ValueResult};
use crate::call::{Budget, CallErrorKind, Direct, DirectFate, InstanceSlot};
use crate::direct::StepOp;
use crate::direct::abi::{Answer, Borrowed};
use crate::value::owned_to_guest;

/// Rows of aggregate arguments buffered on the host before one `step` call
/// hands them to the guest.
const STEP_BATCH_ROWS: u32 = 1024;

/// Bytes a direct-path group keeps in its [`Log`] before it moves to the
/// component path, at most; see [`log_budget`]. A window's log costs about
/// 40 bytes a row, so this keeps a 1,000,000-row partition direct.
const LOG_BUDGET_BYTES: usize = 64 << 20;

/// The log budget for a memory limit: [`LOG_BUDGET_BYTES`], or the guest's
/// memory limit if that is less, so the host never keeps more of a group's
/// history than the guest may keep of its state.
pub(super) fn log_budget(max_memory_bytes: usize) -> usize {
    LOG_BUDGET_BYTES.min(max_memory_bytes).max(1)
}

/// What [`Target::conclude`] asks the accumulator for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Last {
    Value,
    Finish,
}

/// Where a group's accumulator lives.
enum Home {
    /// On the component instance of generation `generation`.
    Component {
        handle: ResourceAny,
        generation: u64,
    },
    /// On direct instance `generation`, as `rep`, with the calls that
    /// built it.
    Direct { rep: u32, generation: u64, log: Log },
}

/// The calls a direct-path accumulator has answered, to replay on the
/// component path. Arguments are kept by kind, so each call is replayed
/// through the same export; each call is one packed `u64` ([`Logged`]),
/// so a window's three calls per row cost 24 bytes plus their arguments.
#[derive(Default)]
struct Log {
    ops: Vec<u64>,
    integers: Vec<i64>,
    reals: Vec<f64>,
    values: Vec<SqlValue>,
    /// What the log holds, in bytes (a TEXT or BLOB by [`batch::cost`]).
    bytes: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Integers,
    Reals,
    Values,
}

/// One logged call, as packed into a `u64`: bits 0-1 the call (`value`,
/// `step` or `inverse`), 2-3 the arguments' [`Kind`], 4-35 the rows, 36-63
/// the number of arguments (a batch holds at most 1,024 rows of at most
/// 127 arguments, far below 2^28).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Logged {
    Step {
        op: StepOp,
        kind: Kind,
        rows: u32,
        len: usize,
    },
    Value,
}

impl Logged {
    fn pack(self) -> u64 {
        match self {
            Logged::Value => 0,
            Logged::Step {
                op,
                kind,
                rows,
                len,
            } => {
                let tag = match op {
                    StepOp::Step => 1,
                    StepOp::Inverse => 2,
                };
                let kind = match kind {
                    Kind::Integers => 0,
                    Kind::Reals => 1,
                    Kind::Values => 2,
                };
                tag | (kind << 2) | (u64::from(rows) << 4) | ((len as u64 & 0x0fff_ffff) << 36)
            }
        }
    }

    fn unpack(word: u64) -> Logged {
        let op = match word & 3 {
            0 => return Logged::Value,
            1 => StepOp::Step,
            _ => StepOp::Inverse,
        };
        let kind = match (word >> 2) & 3 {
            0 => Kind::Integers,
            1 => Kind::Reals,
            _ => Kind::Values,
        };
        Logged::Step {
            op,
            kind,
            rows: (word >> 4) as u32,
            len: (word >> 36) as usize,
        }
    }
}

impl Log {
    fn push_step(&mut self, op: StepOp, batch: &Batch, rows: u32, bytes: usize) {
        let (kind, len, data) = match batch {
            Batch::Integers(v) => {
                self.integers.extend_from_slice(v);
                (Kind::Integers, v.len(), v.len() * 8)
            }
            Batch::Reals(v) => {
                self.reals.extend_from_slice(v);
                (Kind::Reals, v.len(), v.len() * 8)
            }
            Batch::Values(v) => {
                self.values.extend_from_slice(v);
                (Kind::Values, v.len(), bytes)
            }
        };
        self.ops.push(
            Logged::Step {
                op,
                kind,
                rows,
                len,
            }
            .pack(),
        );
        self.bytes = self.bytes.saturating_add(data).saturating_add(8);
    }

    fn push_value(&mut self) {
        self.ops.push(Logged::Value.pack());
        self.bytes = self.bytes.saturating_add(8);
    }

    fn over_budget(&self, budget: usize) -> bool {
        self.bytes > budget
    }
}

/// A replay's place in a [`Log`]'s argument lists.
#[derive(Default)]
struct Cursor {
    integers: usize,
    reals: usize,
    values: usize,
}

impl Cursor {
    /// The next `len` arguments of `kind`, as component-path values.
    fn params<'a>(&mut self, log: &'a Log, kind: Kind, len: usize) -> Vec<ValueParam<'a>> {
        match kind {
            Kind::Integers => self
                .integers(log, len)
                .iter()
                .map(|&i| ValueParam::Integer(i))
                .collect(),
            Kind::Reals => self
                .reals(log, len)
                .iter()
                .map(|&r| ValueParam::Real(r))
                .collect(),
            Kind::Values => {
                let start = self.values;
                self.values += len;
                log.values[start..start + len]
                    .iter()
                    .map(owned_to_guest)
                    .collect()
            }
        }
    }

    fn integers<'a>(&mut self, log: &'a Log, len: usize) -> &'a [i64] {
        let start = self.integers;
        self.integers += len;
        &log.integers[start..start + len]
    }

    fn reals<'a>(&mut self, log: &'a Log, len: usize) -> &'a [f64] {
        let start = self.reals;
        self.reals += len;
        &log.reals[start..start + len]
    }
}

/// One group's state while SQLite steps it: where its accumulator lives
/// (created lazily) and the rows not yet handed to it. SQLite keeps this in
/// the statement's aggregate context, so it moves with the statement.
///
/// SQLite calls the function's final callback for every aggregate context
/// it allocated, also when a statement fails or is reset early (it
/// finalizes a context when it releases it), and rusqlite hands the state
/// to [`Aggregate::finalize`] then; that is where the accumulator is
/// finished or released. (Were xFinal ever skipped, rusqlite would leak the
/// boxed state rather than drop it, so a `Drop` impl here would not help.)
#[derive(Default)]
pub(super) struct AccState {
    home: Option<Home>,
    pending: Batch,
    pending_rows: u32,
    /// [`batch::cost`] of the pending rows.
    pending_bytes: usize,
    pending_op: Option<StepOp>,
}

/// One accumulator call.
#[derive(Clone, Copy)]
enum Call<'a> {
    Step {
        op: StepOp,
        batch: &'a Batch,
        rows: u32,
        bytes: usize,
    },
    Value,
    Finish,
}

/// A value lifted in place, copied out for SQLite's aggregate result.
fn owned(answer: Answer<'_>) -> Result<ValueResult, String> {
    match answer {
        Ok(Borrowed::Null) => Ok(ValueResult::Null),
        Ok(Borrowed::Integer(i)) => Ok(ValueResult::Integer(i)),
        Ok(Borrowed::Real(r)) => Ok(ValueResult::Real(r)),
        Ok(Borrowed::Text(t)) => Ok(ValueResult::Text(t.to_string())),
        Ok(Borrowed::Blob(b)) => Ok(ValueResult::Blob(b.to_vec())),
        Err(message) => Err(message.to_string()),
    }
}

impl Target {
    /// Whether new groups of this function start on the direct path.
    fn direct_groups(&self) -> bool {
        self.direct.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The function needed the host: its groups start on the component
    /// path from now on.
    fn stay_on_component(&self) {
        self.direct
            .store(false, std::sync::atomic::Ordering::Relaxed);
    }

    /// Creates the group's accumulator: on the direct path when it can.
    fn create(&self, slot: &mut InstanceSlot, acc: &mut AccState) -> Result<(), CallErrorKind> {
        let id = self.id;
        let mut budget = None;
        if self.direct_groups() {
            slot.release_direct_orphans();
            slot.recycle_direct_if_due();
            match slot.call_direct_acc(|s, d| d.acc_create(s, id)) {
                Direct::Done(rep) => {
                    let rep = rep?;
                    slot.direct_accumulator_created();
                    acc.home = Some(Home::Direct {
                        rep,
                        generation: slot.direct_generation(),
                        log: Log::default(),
                    });
                    return Ok(());
                }
                // The same `create`, on the component instance, within
                // what the direct attempt left of its budget.
                Direct::NeedsHost(left) => {
                    self.stay_on_component();
                    budget = Some(left);
                }
                Direct::Retry(left) => budget = left,
            }
        }
        let handle = self.create_component(slot, budget)?;
        acc.home = Some(Home::Component {
            handle,
            generation: slot.generation(),
        });
        Ok(())
    }

    /// `create` on the component instance, within `budget` (`None`: a
    /// whole one).
    fn create_component(
        &self,
        slot: &mut InstanceSlot,
        budget: Option<Budget>,
    ) -> Result<ResourceAny, CallErrorKind> {
        let id = self.id;
        slot.release_orphans();
        slot.recycle_if_due();
        let handle = slot.call_within(budget, |s, u| u.acc_create(s, id))?;
        slot.accumulator_created();
        Ok(handle)
    }

    /// Moves a direct-path group to the component instance: a new
    /// accumulator there, and every logged call replayed on it in order.
    fn rebuild(&self, slot: &mut InstanceSlot, acc: &mut AccState) -> Result<(), CallErrorKind> {
        let Some(Home::Direct {
            rep,
            generation,
            log,
        }) = acc.home.take()
        else {
            return Ok(());
        };
        // An accumulator that outgrew its log still lives on the direct
        // instance: release it there. A destructor that needs the host
        // only drops that instance.
        let _ = slot.release_direct(rep, generation);
        // Each call replayed gets a whole budget, as it had when it first
        // ran: none of them is the call being handed over.
        let handle = self.create_component(slot, None)?;
        acc.home = Some(Home::Component {
            handle,
            generation: slot.generation(),
        });
        let mut at = Cursor::default();
        for &word in &log.ops {
            slot.call(|s, u| {
                let accs = u;
                match Logged::unpack(word) {
                    Logged::Value => Ok(accs.acc_value(s, handle)?.map(|_| ())),
                    Logged::Step {
                        op,
                        kind,
                        rows,
                        len,
                    } => match (op, kind) {
                        (StepOp::Step, Kind::Integers) => {
                            accs.acc_step_integers(s, handle, at.integers(&log, len), rows)
                        }
                        (StepOp::Step, Kind::Reals) => {
                            accs.acc_step_reals(s, handle, at.reals(&log, len), rows)
                        }
                        (StepOp::Step, kind) => {
                            accs.acc_step(s, handle, &at.params(&log, kind, len), rows)
                        }
                        (StepOp::Inverse, kind) => {
                            accs.acc_inverse(s, handle, &at.params(&log, kind, len), rows)
                        }
                    },
                }
            })?;
        }
        Ok(())
    }

    /// Runs `call` on the group's accumulator, creating it first if
    /// needed, wherever it lives. `Finish` hands the accumulator over:
    /// afterwards the group has none, whatever the outcome, unless the call
    /// never ran (an interrupt), in which case it is the caller's to
    /// release.
    fn run(
        &self,
        slot: &mut InstanceSlot,
        acc: &mut AccState,
        call: Call<'_>,
    ) -> Result<Option<ValueResult>, CallErrorKind> {
        if acc.home.is_none() {
            self.create(slot, acc)?;
        }
        loop {
            match &mut acc.home {
                None => return Err(CallErrorKind::StateLost),
                Some(Home::Component { handle, generation }) => {
                    let (handle, generation) = (*handle, *generation);
                    // Before the generation check: dropping them may
                    // replace the instance (a destructor that traps).
                    slot.release_orphans();
                    if generation != slot.generation() {
                        return Err(CallErrorKind::StateLost);
                    }
                    return self.run_component(slot, acc, handle, call, None);
                }
                Some(Home::Direct {
                    rep, generation, ..
                }) => {
                    let (rep, generation) = (*rep, *generation);
                    match slot.direct_fate(generation) {
                        DirectFate::Lost => return Err(CallErrorKind::StateLost),
                        DirectFate::Replay => {
                            self.rebuild(slot, acc)?;
                            continue;
                        }
                        DirectFate::Live => {}
                    }
                    let mut handed_over = false;
                    let outcome = slot.call_direct_acc(|s, d| match call {
                        Call::Step {
                            op, batch, rows, ..
                        } => Ok(d.acc_step(s, rep, op, batch, rows)?.map(|()| None)),
                        Call::Value => d.acc_value(s, rep, owned).map(|r| r.map(Some)),
                        Call::Finish => {
                            handed_over = true;
                            d.acc_finish(s, rep, owned).map(|r| r.map(Some))
                        }
                    });
                    let budget = match outcome {
                        Direct::Done(r) => {
                            if matches!(call, Call::Finish) && handed_over {
                                acc.home = None;
                                slot.direct_accumulator_done();
                            } else if r.is_ok()
                                && let Some(Home::Direct { log, .. }) = &mut acc.home
                            {
                                match call {
                                    Call::Step {
                                        op,
                                        batch,
                                        rows,
                                        bytes,
                                    } => log.push_step(op, batch, rows, bytes),
                                    Call::Value => log.push_value(),
                                    Call::Finish => {}
                                }
                                if log.over_budget(self.log_budget) {
                                    self.rebuild(slot, acc)?;
                                }
                            }
                            return r;
                        }
                        Direct::NeedsHost(left) => {
                            self.stay_on_component();
                            Some(left)
                        }
                        Direct::Retry(left) => left,
                    };
                    // The direct instance is gone, and this call did not
                    // happen: rebuild the group on the component path and
                    // run the call there, within what is left of its
                    // budget (its deadline not counting the replay, which
                    // redoes earlier calls).
                    let started = slot.now_ms();
                    self.rebuild(slot, acc)?;
                    let replayed = slot.now_ms().saturating_sub(started);
                    let budget = budget.map(|b| b.paused_for(replayed));
                    let Some(Home::Component { handle, .. }) = &acc.home else {
                        return Err(CallErrorKind::StateLost);
                    };
                    let handle = *handle;
                    return self.run_component(slot, acc, handle, call, budget);
                }
            }
        }
    }

    /// [`run`](Target::run) on the component instance.
    fn run_component(
        &self,
        slot: &mut InstanceSlot,
        acc: &mut AccState,
        handle: ResourceAny,
        call: Call<'_>,
        budget: Option<Budget>,
    ) -> Result<Option<ValueResult>, CallErrorKind> {
        match call {
            Call::Step {
                op, batch, rows, ..
            } => slot
                .call_within(budget, |s, u| {
                    let accs = u;
                    match (op, batch) {
                        (StepOp::Step, Batch::Integers(v)) => {
                            accs.acc_step_integers(s, handle, v, rows)
                        }
                        (StepOp::Step, Batch::Reals(v)) => accs.acc_step_reals(s, handle, v, rows),
                        (StepOp::Step, batch) => accs.acc_step(s, handle, &batch.params(), rows),
                        (StepOp::Inverse, batch) => {
                            accs.acc_inverse(s, handle, &batch.params(), rows)
                        }
                    }
                })
                .map(|()| None),
            Call::Value => slot
                .call_within(budget, |s, u| u.acc_value(s, handle))
                .map(Some),
            Call::Finish => {
                // The guest owns the handle once `finish` is called,
                // whatever it returns; a call refused before it ran (an
                // interrupt) leaves it ours to release.
                let mut handed_over = false;
                let r = slot.call_within(budget, |s, u| {
                    handed_over = true;
                    u.acc_finish(s, handle)
                });
                if handed_over {
                    acc.home = None;
                    slot.accumulator_done();
                }
                r.map(Some)
            }
        }
    }

    /// Hands buffered rows to the guest, creating the accumulator first if
    /// this is the group's first flush.
    fn flush(&self, slot: &mut InstanceSlot, acc: &mut AccState) -> rusqlite::Result<()> {
        if acc.pending_rows == 0 {
            return Ok(());
        }
        let rows = std::mem::take(&mut acc.pending_rows);
        let bytes = std::mem::take(&mut acc.pending_bytes);
        let op = acc.pending_op.unwrap_or(StepOp::Step);
        let pending = std::mem::take(&mut acc.pending);
        let call = Call::Step {
            op,
            batch: &pending,
            rows,
            bytes,
        };
        let r = self.run(slot, acc, call);
        acc.pending = pending;
        acc.pending.clear();
        r.map(|_| ()).map_err(|cause| self.error(cause))
    }

    /// Buffers one row; the slot is borrowed only when the buffer is handed
    /// over. A batch ends at [`STEP_BATCH_ROWS`] rows or at the byte
    /// budget, whichever comes first; a row over the budget goes alone.
    fn push(&self, ctx: &Context<'_>, acc: &mut AccState, op: StepOp) -> rusqlite::Result<()> {
        let row_bytes: usize = (0..ctx.len()).map(|i| batch::cost(ctx.get_raw(i))).sum();
        if acc.pending_op.is_some_and(|pending| pending != op)
            || (acc.pending_rows > 0
                && acc.pending_bytes.saturating_add(row_bytes) > self.batch_bytes)
        {
            self.flush(&mut *self.borrow_slot()?, acc)?;
        }
        acc.pending_op = Some(op);
        for i in 0..ctx.len() {
            acc.pending.push(ctx.get_raw(i));
        }
        acc.pending_rows += 1;
        acc.pending_bytes = acc.pending_bytes.saturating_add(row_bytes);
        // Inverse rows and window steps are interleaved with `value` calls
        // anyway; only plain aggregate steps gain from a long batch.
        if acc.pending_rows >= STEP_BATCH_ROWS
            || acc.pending_bytes >= self.batch_bytes
            || op == StepOp::Inverse
        {
            self.flush(&mut *self.borrow_slot()?, acc)?;
        }
        Ok(())
    }

    /// Flushes, then asks the group's accumulator for its current value
    /// ([`Last::Value`]) or its final one ([`Last::Finish`], which hands
    /// the accumulator over to the guest), under one borrow of the slot. An
    /// accumulator that `finish` did not take, because something failed
    /// first, is released here: SQLite discards the group after its final
    /// call whatever the outcome.
    fn conclude(&self, acc: &mut AccState, last: Last) -> rusqlite::Result<SqlValue> {
        let mut slot = self.borrow_slot()?;
        let flushed = self.flush(&mut slot, acc);
        let call = match last {
            Last::Value => Call::Value,
            Last::Finish => Call::Finish,
        };
        let r = match flushed {
            Ok(()) => self
                .run(&mut slot, acc, call)
                .map_err(|cause| self.error(cause)),
            Err(e) => Err(e),
        };
        if last == Last::Finish {
            self.release(&mut slot, acc);
        }
        drop(slot);
        match r {
            Ok(value) => self.result(Ok(value.unwrap_or(ValueResult::Null))),
            Err(e) => Err(e),
        }
    }

    /// Releases a group's accumulator that was never finished.
    fn release(&self, slot: &mut InstanceSlot, acc: &mut AccState) {
        match acc.home.take() {
            None => {}
            Some(Home::Component { handle, generation }) => slot.release(handle, generation),
            Some(Home::Direct {
                rep,
                generation,
                log,
            }) => {
                let Err(left) = slot.release_direct(rep, generation) else {
                    return;
                };
                // The destructor needs the host: run it where it can,
                // within what the direct attempt left of its budget.
                acc.home = Some(Home::Direct {
                    rep,
                    generation,
                    log,
                });
                let started = slot.now_ms();
                if self.rebuild(slot, acc).is_ok()
                    && let Some(Home::Component { handle, generation }) = acc.home.take()
                {
                    let replayed = slot.now_ms().saturating_sub(started);
                    slot.release_within(handle, generation, Some(left.paused_for(replayed)));
                }
            }
        }
    }

    /// The value of an accumulator that saw no rows: SQLite asks for it
    /// without ever having stepped the group (an aggregate over no rows, a
    /// window frame that is empty). A throwaway accumulator is created and
    /// consumed (`finish`) or valued and then released, within this
    /// callback, so it cannot outlive it. The release is a call of its
    /// own, as any group's is: a destructor that fails is reported there
    /// once (see `InstanceSlot::release`) rather than failing the value,
    /// and is not run again for the next empty frame.
    fn conclude_empty(&self, last: Last) -> rusqlite::Result<SqlValue> {
        let id = self.id;
        let mut slot = self.borrow_slot()?;
        let mut budget = None;
        if self.direct_groups() {
            slot.release_direct_orphans();
            slot.recycle_direct_if_due();
            slot.direct_accumulator_created();
            let generation = slot.direct_generation();
            let outcome = slot.call_direct_acc(|s, d| {
                let rep = match d.acc_create(s, id)? {
                    Ok(rep) => rep,
                    Err(message) => return Ok(Err(message)),
                };
                Ok(Ok(match last {
                    Last::Finish => (d.acc_finish(s, rep, owned)?, None),
                    Last::Value => (d.acc_value(s, rep, owned)?, Some(rep)),
                }))
            });
            match outcome {
                Direct::Done(r) => {
                    let value = match r {
                        Ok((value, Some(rep))) => {
                            // A destructor that needs the host loses only
                            // the direct instance, where this accumulator
                            // lived: nothing of it is left to drop.
                            let _ = slot.release_direct(rep, generation);
                            value
                        }
                        Ok((value, None)) => {
                            slot.direct_accumulator_done();
                            value
                        }
                        Err(cause) => {
                            slot.direct_accumulator_done();
                            return Err(self.error(cause));
                        }
                    };
                    drop(slot);
                    return self.result(value.map_err(guest_error));
                }
                Direct::NeedsHost(left) => {
                    self.stay_on_component();
                    budget = Some(left);
                }
                Direct::Retry(left) => budget = left,
            }
            // Nothing is left of it: the direct instance was dropped, or
            // never ran the call.
            slot.direct_accumulator_done();
        }
        slot.release_orphans();
        slot.recycle_if_due();
        // Counted while it lives, so that it counts towards recycling (a
        // toolchain that leaks `finish`'s handle leaks this one too).
        slot.accumulator_created();
        let generation = slot.generation();
        let r = slot.call_within(budget, |s, u| {
            let accs = u;
            let handle = match accs.acc_create(&mut *s, id)? {
                Ok(handle) => handle,
                Err(message) => return Ok(Err(message)),
            };
            Ok(Ok(match last {
                Last::Finish => (accs.acc_finish(s, handle)?, None),
                Last::Value => (accs.acc_value(s, handle)?, Some(handle)),
            }))
        });
        let value = match r {
            Ok((value, Some(handle))) => {
                slot.release(handle, generation);
                Ok(value)
            }
            Ok((value, None)) => {
                slot.accumulator_done();
                Ok(value)
            }
            Err(cause) => {
                slot.accumulator_done();
                Err(cause)
            }
        };
        drop(slot);
        self.result(value.and_then(|value| value.map_err(guest_error)))
    }
}

/// A guest's own error, as a call's outcome.
fn guest_error(message: String) -> CallErrorKind {
    CallErrorKind::Guest(crate::guest_text::cap_message(message))
}

/// `ResourceAny` and the log are plain data; nothing is left half-updated
/// by an unwind, and SQLite callbacks never unwind anyway (rusqlite
/// catches).
type AccCell = AssertUnwindSafe<AccState>;

impl Aggregate<AccCell, SqlValue> for Target {
    fn init(&self, _ctx: &mut Context<'_>) -> rusqlite::Result<AccCell> {
        Ok(AssertUnwindSafe(AccState::default()))
    }

    fn step(&self, ctx: &mut Context<'_>, acc: &mut AccCell) -> rusqlite::Result<()> {
        self.push(ctx, acc, StepOp::Step)
    }

    fn finalize(&self, _ctx: &mut Context<'_>, acc: Option<AccCell>) -> rusqlite::Result<SqlValue> {
        match acc {
            Some(mut acc) => self.conclude(&mut acc.0, Last::Finish),
            None => self.conclude_empty(Last::Finish),
        }
    }
}

impl WindowAggregate<AccCell, SqlValue> for Target {
    fn value(&self, acc: Option<&mut AccCell>) -> rusqlite::Result<SqlValue> {
        match acc {
            Some(acc) => self.conclude(&mut acc.0, Last::Value),
            None => self.conclude_empty(Last::Value),
        }
    }

    fn inverse(&self, ctx: &mut Context<'_>, acc: &mut AccCell) -> rusqlite::Result<()> {
        self.push(ctx, acc, StepOp::Inverse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_calls_pack_into_a_word_and_back() {
        let calls = [
            Logged::Value,
            Logged::Step {
                op: StepOp::Step,
                kind: Kind::Integers,
                rows: 1024,
                len: 1024 * 127,
            },
            Logged::Step {
                op: StepOp::Inverse,
                kind: Kind::Values,
                rows: 1,
                len: 3,
            },
            Logged::Step {
                op: StepOp::Step,
                kind: Kind::Reals,
                rows: u32::MAX,
                len: 0x0fff_ffff,
            },
        ];
        for call in calls {
            assert_eq!(Logged::unpack(call.pack()), call);
        }
    }

    #[test]
    fn the_log_budget_follows_the_memory_limit() {
        assert_eq!(log_budget(1 << 30), LOG_BUDGET_BYTES);
        assert_eq!(log_budget(4 << 20), 4 << 20);
        assert_eq!(log_budget(0), 1);
    }
}
