//! Registering a component's functions on a `rusqlite::Connection`, and the
//! callbacks SQLite runs from inside `sqlite3_step`.
//!
//! Each registration shares one [`InstanceSlot`] per (component,
//! connection). The slot travels with the connection's function table, so
//! whichever thread steps a statement reaches the same instance and the
//! same aggregate state; nothing is kept in thread-local storage.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rusqlite::Connection;
use rusqlite::functions::{Aggregate, Context, FunctionFlags as SqlFlags, WindowAggregate};
use rusqlite::types::{Value as SqlValue, ValueRef};
use wasmtime::component::ResourceAny;

use crate::batch::Batch;
use crate::bindings::{FastResult, ValueParam, ValueResult};
use crate::call::{Budget, CallError, CallErrorKind, Direct, InstanceSlot};
use crate::component::Component;
use crate::error::{Error, Result};
use crate::interrupt::Interrupt;
use crate::manifest::{FunctionKind, FunctionSpec};
use crate::value::{from_fast, from_guest, to_guest, to_number};

/// A fast call's answer, fetching a `deferred` one (TEXT, BLOB or an error)
/// with `take-result`.
#[inline]
fn finish_fast(
    fast: FastResult,
    take: impl FnOnce() -> wasmtime::Result<std::result::Result<ValueResult, String>>,
) -> wasmtime::Result<std::result::Result<ValueResult, String>> {
    match from_fast(fast) {
        Some(value) => Ok(Ok(value)),
        None => take(),
    }
}

/// The most arguments a direct call takes (the `fastN`/`callN` exports).
const MAX_DIRECT_ARGS: usize = 3;

/// Rows of aggregate arguments buffered on the host before one `step` call
/// hands them to the guest.
const STEP_BATCH_ROWS: u32 = 1024;

type Slot = Arc<Mutex<InstanceSlot>>;

/// The slot's lock is never contended: a connection is used by one thread
/// at a time. It is a `Mutex` only so that the callbacks are `Send`.
fn lock(slot: &Slot) -> MutexGuard<'_, InstanceSlot> {
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn register(
    component: &Component,
    conn: &Connection,
    interrupt: Interrupt,
) -> Result<()> {
    check_clashes(component.functions(), conn)?;
    // Deterministic functions run in an instance of their own with
    // deterministic capabilities; the rest share another. Each is created
    // on first use, so a component of one kind costs one instance.
    let slot_for = |deterministic| -> Slot {
        Arc::new(Mutex::new(InstanceSlot::new(
            component.clone(),
            interrupt.clone(),
            deterministic,
        )))
    };
    let (det_slot, other_slot) = (slot_for(true), slot_for(false));
    let max_result = component.engine().limits().max_result_bytes;
    for (id, spec) in component.functions().iter().enumerate() {
        let id = u32::try_from(id).map_err(|_| Error::Manifest {
            origin: component.origin().to_string(),
            detail: "too many functions".into(),
        })?;
        let flags = sqlite_flags(spec, component.is_trusted());
        let arity = spec.arity.as_sqlite();
        let slot = if spec.flags.deterministic {
            &det_slot
        } else {
            &other_slot
        };
        let target = Target {
            slot: slot.clone(),
            id,
            name: spec.name.clone().into(),
            max_result,
            direct: AtomicBool::new(component.has_direct_path()),
        };
        match spec.kind {
            FunctionKind::Scalar => conn.create_scalar_function(
                spec.name.as_str(),
                arity,
                flags,
                move |ctx: &mut Context<'_>| target.scalar(ctx),
            )?,
            FunctionKind::Aggregate => {
                conn.create_aggregate_function(spec.name.as_str(), arity, flags, target)?
            }
            FunctionKind::Window => {
                conn.create_window_function(spec.name.as_str(), arity, flags, target)?
            }
        }
    }
    Ok(())
}

/// SQLite flags for a function: untrusted components are always
/// `DIRECTONLY`, and only trusted ones may be `INNOCUOUS`.
fn sqlite_flags(spec: &FunctionSpec, trusted: bool) -> SqlFlags {
    let mut flags = SqlFlags::SQLITE_UTF8;
    if spec.flags.deterministic {
        flags |= SqlFlags::SQLITE_DETERMINISTIC;
    }
    if spec.flags.direct_only || !trusted {
        flags |= SqlFlags::SQLITE_DIRECTONLY;
    } else if spec.flags.innocuous {
        flags |= SqlFlags::SQLITE_INNOCUOUS;
    }
    flags
}

/// Refuses to replace a function SQLite already knows with the same name
/// and arity, be it a builtin, an application function or
/// another component's.
fn check_clashes(functions: &[FunctionSpec], conn: &Connection) -> Result<()> {
    let mut stmt = conn.prepare("SELECT name, narg FROM pragma_function_list")?;
    let existing = stmt
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for spec in functions {
        let arity = spec.arity.as_sqlite() as i64;
        let clash = existing
            .iter()
            .any(|(name, narg)| name.eq_ignore_ascii_case(&spec.name) && (*narg == arity));
        if clash {
            return Err(Error::NameClash {
                name: spec.name.clone(),
                arity: arity as i16,
            });
        }
    }
    Ok(())
}

/// One registered function: which slot and which manifest index.
struct Target {
    slot: Slot,
    id: u32,
    name: Arc<str>,
    max_result: usize,
    /// Whether scalar calls try the direct path first; cleared for good
    /// once the function needs the host (see [`crate::direct`]).
    direct: AtomicBool,
}

impl Target {
    fn error(&self, cause: CallErrorKind) -> rusqlite::Error {
        rusqlite::Error::UserFunctionError(Box::new(CallError {
            function: self.name.to_string(),
            cause,
        }))
    }

    fn result(
        &self,
        r: std::result::Result<crate::bindings::ValueResult, CallErrorKind>,
    ) -> rusqlite::Result<SqlValue> {
        let value = r.map_err(|cause| self.error(cause))?;
        from_guest(value, self.max_result).map_err(|size| {
            self.error(CallErrorKind::TooBig {
                size,
                limit: self.max_result,
            })
        })
    }

    /// A scalar call: on the direct path when it can, else through the
    /// component.
    fn scalar(&self, ctx: &Context<'_>) -> rusqlite::Result<SqlValue> {
        let mut slot = lock(&self.slot);
        let n = ctx.len();
        let mut budget = None;
        if n <= MAX_DIRECT_ARGS && self.direct.load(Ordering::Relaxed) {
            let mut args = [ValueRef::Null; MAX_DIRECT_ARGS];
            for (i, arg) in args.iter_mut().enumerate().take(n) {
                *arg = ctx.get_raw(i);
            }
            let id = self.id;
            // A retry keeps what the direct attempt left of the call's
            // deadline and fuel.
            budget = match slot.call_direct(|s, d| d.scalar(s, id, &args[..n])) {
                Direct::Done(r) => {
                    drop(slot);
                    return self.result(r);
                }
                Direct::NeedsHost(left) => {
                    self.direct.store(false, Ordering::Relaxed);
                    Some(left)
                }
                Direct::Retry(left) => left,
            };
        }
        let r = self.component_scalar(&mut slot, ctx, budget);
        drop(slot);
        self.result(r)
    }

    /// A scalar call through the component. One to three NULL or numeric
    /// arguments take the fast entry points (one crossing, no allocation,
    /// no post-return); other small calls use the fixed-arity exports,
    /// which lower no list.
    fn component_scalar(
        &self,
        slot: &mut InstanceSlot,
        ctx: &Context<'_>,
        budget: Option<Budget>,
    ) -> std::result::Result<ValueResult, CallErrorKind> {
        let id = self.id;
        let arg = |i| to_guest(ctx.get_raw(i));
        let num = |i| to_number(ctx.get_raw(i));
        match ctx.len() {
            0 => slot.call_within(budget, |s, u| u.wasmudf_udf_guest().call_call0(s, id)),
            1 => match num(0) {
                Some(a) => slot.call_within(budget, |s, u| {
                    let g = u.wasmudf_udf_guest();
                    let fast = g.call_fast1(&mut *s, id, a)?;
                    finish_fast(fast, || g.call_take_result(s))
                }),
                None => {
                    let a = arg(0);
                    slot.call_within(budget, |s, u| u.wasmudf_udf_guest().call_call1(s, id, a))
                }
            },
            2 => match (num(0), num(1)) {
                (Some(a), Some(b)) => slot.call_within(budget, |s, u| {
                    let g = u.wasmudf_udf_guest();
                    let fast = g.call_fast2(&mut *s, id, a, b)?;
                    finish_fast(fast, || g.call_take_result(s))
                }),
                _ => {
                    let (a, b) = (arg(0), arg(1));
                    slot.call_within(budget, |s, u| u.wasmudf_udf_guest().call_call2(s, id, a, b))
                }
            },
            3 => match (num(0), num(1), num(2)) {
                (Some(a), Some(b), Some(c)) => slot.call_within(budget, |s, u| {
                    let g = u.wasmudf_udf_guest();
                    let fast = g.call_fast3(&mut *s, id, a, b, c)?;
                    finish_fast(fast, || g.call_take_result(s))
                }),
                _ => {
                    let (a, b, c) = (arg(0), arg(1), arg(2));
                    slot.call_within(budget, |s, u| {
                        u.wasmudf_udf_guest().call_call3(s, id, a, b, c)
                    })
                }
            },
            n => {
                let args: Vec<ValueParam<'_>> = (0..n).map(arg).collect();
                slot.call_within(budget, |s, u| u.wasmudf_udf_guest().call_call(s, id, &args))
            }
        }
    }

    /// Hands buffered rows to the guest, creating the accumulator first if
    /// this is the group's first flush.
    fn flush(&self, slot: &mut InstanceSlot, acc: &mut AccState) -> rusqlite::Result<()> {
        if acc.pending_rows == 0 {
            return Ok(());
        }
        let handle = self.handle(slot, acc)?;
        let rows = std::mem::take(&mut acc.pending_rows);
        let op = acc.pending_op;
        let pending = &acc.pending;
        let r = slot.call(|s, u| {
            let accs = u.wasmudf_udf_guest().accumulator();
            match (op, pending) {
                (Op::Step, Batch::Integers(v)) => accs.call_step_integers(s, handle, v, rows),
                (Op::Step, Batch::Reals(v)) => accs.call_step_reals(s, handle, v, rows),
                (Op::Step, batch) => accs.call_step(s, handle, &batch.params(), rows),
                (Op::Inverse, batch) => accs.call_inverse(s, handle, &batch.params(), rows),
            }
        });
        acc.pending.clear();
        r.map_err(|cause| self.error(cause))
    }

    /// The group's accumulator handle, created on first use and checked
    /// against the instance generation.
    fn handle(&self, slot: &mut InstanceSlot, acc: &mut AccState) -> rusqlite::Result<ResourceAny> {
        if let Some(handle) = acc.handle {
            return if acc.generation == slot.generation() {
                Ok(handle)
            } else {
                Err(self.error(CallErrorKind::StateLost))
            };
        }
        let id = self.id;
        let handle = slot
            .call(|s, u| u.wasmudf_udf_guest().accumulator().call_create(s, id))
            .map_err(|cause| self.error(cause))?;
        acc.generation = slot.generation();
        acc.handle = Some(handle);
        Ok(handle)
    }

    /// Buffers one row; the slot is locked only when the buffer is handed
    /// over.
    fn push(&self, ctx: &Context<'_>, acc: &mut AccState, op: Op) -> rusqlite::Result<()> {
        if acc.pending_op != op {
            self.flush(&mut lock(&self.slot), acc)?;
            acc.pending_op = op;
        }
        for i in 0..ctx.len() {
            acc.pending.push(ctx.get_raw(i));
        }
        acc.pending_rows += 1;
        // Inverse rows and window steps are interleaved with `value` calls
        // anyway; only plain aggregate steps gain from a long batch.
        if acc.pending_rows >= STEP_BATCH_ROWS || op == Op::Inverse {
            self.flush(&mut lock(&self.slot), acc)?;
        }
        Ok(())
    }

    /// Flushes, then runs `last` on the group's accumulator under one lock.
    fn conclude(
        &self,
        acc: &mut AccState,
        last: impl FnOnce(
            &mut wasmtime::Store<crate::sandbox::HostState>,
            &crate::bindings::Udf,
            ResourceAny,
        ) -> wasmtime::Result<std::result::Result<ValueResult, String>>
        + Send,
    ) -> rusqlite::Result<SqlValue> {
        let mut slot = lock(&self.slot);
        self.flush(&mut slot, acc)?;
        let handle = self.handle(&mut slot, acc)?;
        let r = slot.call(|s, u| last(s, u, handle));
        drop(slot);
        self.result(r)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Op {
    #[default]
    Step,
    Inverse,
}

/// One group's state while SQLite steps it: the guest accumulator (created
/// lazily) and the rows not yet handed to it. SQLite keeps this in the
/// statement's aggregate context, so it moves with the statement.
#[derive(Default)]
struct AccState {
    handle: Option<ResourceAny>,
    generation: u64,
    pending: Batch,
    pending_rows: u32,
    pending_op: Op,
}

/// `ResourceAny` is a plain handle; nothing is left half-updated by an
/// unwind, and SQLite callbacks never unwind anyway (rusqlite catches).
type AccCell = AssertUnwindSafe<AccState>;

impl Aggregate<AccCell, SqlValue> for Target {
    fn init(&self, _ctx: &mut Context<'_>) -> rusqlite::Result<AccCell> {
        Ok(AssertUnwindSafe(AccState::default()))
    }

    fn step(&self, ctx: &mut Context<'_>, acc: &mut AccCell) -> rusqlite::Result<()> {
        self.push(ctx, acc, Op::Step)
    }

    fn finalize(&self, _ctx: &mut Context<'_>, acc: Option<AccCell>) -> rusqlite::Result<SqlValue> {
        let mut acc = acc.map(|a| a.0).unwrap_or_default();
        self.conclude(&mut acc, |s, u, handle| {
            u.wasmudf_udf_guest().accumulator().call_finish(s, handle)
        })
    }
}

impl WindowAggregate<AccCell, SqlValue> for Target {
    fn value(&self, acc: Option<&mut AccCell>) -> rusqlite::Result<SqlValue> {
        let mut empty = AccState::default();
        let acc = match acc {
            Some(acc) => &mut acc.0,
            None => &mut empty,
        };
        self.conclude(acc, |s, u, handle| {
            u.wasmudf_udf_guest().accumulator().call_value(s, handle)
        })
    }

    fn inverse(&self, ctx: &mut Context<'_>, acc: &mut AccCell) -> rusqlite::Result<()> {
        self.push(ctx, acc, Op::Inverse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Arity;

    #[test]
    fn untrusted_functions_are_direct_only_and_never_innocuous() {
        let spec = FunctionSpec {
            name: "f".into(),
            arity: Arity::Exactly(1),
            kind: FunctionKind::Scalar,
            flags: crate::FunctionFlags {
                deterministic: true,
                innocuous: true,
                direct_only: false,
            },
        };
        let untrusted = sqlite_flags(&spec, false);
        assert!(untrusted.contains(SqlFlags::SQLITE_DIRECTONLY));
        assert!(!untrusted.contains(SqlFlags::SQLITE_INNOCUOUS));
        let trusted = sqlite_flags(&spec, true);
        assert!(!trusted.contains(SqlFlags::SQLITE_DIRECTONLY));
        assert!(trusted.contains(SqlFlags::SQLITE_INNOCUOUS));
        assert!(trusted.contains(SqlFlags::SQLITE_DETERMINISTIC));
    }
}
