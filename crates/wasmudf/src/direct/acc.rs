//! Aggregate and window calls on the direct instance: the `accumulator`
//! resource's methods as core calls, with the canonical ABI written out
//! for their fixed types, and its intrinsics implemented natively over
//! [`Handles`](super::handles::Handles).
//!
//! What the component path does, step by step, and so what this does:
//! `create` returns an `own` handle, which is lifted out of the guest's
//! table (the host holds the rep); a method's `borrow` of a resource the
//! guest defines is lowered as the rep itself; `finish` lowers the `own`
//! back into the guest's table as a new handle; the host dropping its own
//! handle runs the destructor on the rep. Lists are lowered through the
//! lift's realloc: the list first, then each TEXT or BLOB in order.

use rusqlite::types::ValueRef;
use wasmtime::{Caller, FuncType, Linker, ModuleExport, Store, TypedFunc, ValType};

use super::abi::{self, AbiViolation, Answer};
use super::plan::{AccPlan, Intrinsic, Lifted};
use super::{DirectInstance, Entry, Lift, NeedsHost, lift, typed_export};
use crate::batch::Batch;
use crate::sandbox::HostState;

/// Whether a batch goes to `step` (typed when it can) or `inverse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StepOp {
    Step,
    Inverse,
}

/// The accumulator exports, resolved at compile time.
pub(super) struct AccExports {
    create: Entry,
    step: Entry,
    step_integers: Entry,
    step_reals: Entry,
    inverse: Entry,
    value: Entry,
    finish: Entry,
    dtor: Option<ModuleExport>,
}

type EntryFn<'a> = dyn Fn(&Lifted, &[ValType]) -> Result<Entry, String> + 'a;
type FuncFn<'a> = dyn Fn(&str, &[ValType], &[ValType]) -> Result<ModuleExport, String> + 'a;

impl AccExports {
    /// Checks each export's core signature against what the canonical ABI
    /// gives the method: a handle or rep is `i32`; a list is a pointer and
    /// a length; every result comes back through a pointer.
    pub(super) fn resolve(
        plan: &AccPlan,
        entry: &EntryFn<'_>,
        func: &FuncFn<'_>,
    ) -> Result<AccExports, String> {
        use ValType::I32;
        const LIST_CALL: &[ValType] = &[I32, I32, I32, I32];
        Ok(AccExports {
            create: entry(&plan.create, &[I32])?,
            step: entry(&plan.step, LIST_CALL)?,
            step_integers: entry(&plan.step_integers, LIST_CALL)?,
            step_reals: entry(&plan.step_reals, LIST_CALL)?,
            inverse: entry(&plan.inverse, LIST_CALL)?,
            value: entry(&plan.value, &[I32])?,
            finish: entry(&plan.finish, &[I32])?,
            dtor: plan
                .dtor
                .as_deref()
                .map(|name| func(name, &[I32], &[]))
                .transpose()?,
        })
    }

    /// The destructor export, if the resource has one.
    pub(super) fn dtor(&self) -> Option<&ModuleExport> {
        self.dtor.as_ref()
    }

    pub(super) fn instantiate(
        &self,
        instance: &wasmtime::Instance,
        store: &mut Store<HostState>,
    ) -> Option<AccFuncs> {
        Some(AccFuncs {
            create: lift(instance, store, &self.create)?,
            step: lift(instance, store, &self.step)?,
            step_integers: lift(instance, store, &self.step_integers)?,
            step_reals: lift(instance, store, &self.step_reals)?,
            inverse: lift(instance, store, &self.inverse)?,
            value: lift(instance, store, &self.value)?,
            finish: lift(instance, store, &self.finish)?,
            dtor: match &self.dtor {
                Some(dtor) => Some(typed_export(instance, store, dtor)?),
                None => None,
            },
        })
    }
}

type ListCall = (i32, i32, i32, i32);

/// The accumulator methods of one direct instance, typed.
pub(super) struct AccFuncs {
    create: Lift<i32>,
    step: Lift<ListCall>,
    step_integers: Lift<ListCall>,
    step_reals: Lift<ListCall>,
    inverse: Lift<ListCall>,
    value: Lift<i32>,
    finish: Lift<i32>,
    pub(super) dtor: Option<TypedFunc<i32, ()>>,
}

/// Whether `ty` is the core type the canonical ABI gives `kind`:
/// `resource.new` and `resource.rep` take and return an `i32`,
/// `resource.drop` takes one.
pub(super) fn intrinsic_type_is(kind: Intrinsic, ty: &FuncType) -> bool {
    let params: Vec<ValType> = ty.params().collect();
    let results: Vec<ValType> = ty.results().collect();
    let one_i32 = |v: &[ValType]| v.len() == 1 && matches!(v[0], ValType::I32);
    match kind {
        Intrinsic::New | Intrinsic::Rep => one_i32(&params) && one_i32(&results),
        Intrinsic::Drop => one_i32(&params) && results.is_empty(),
    }
}

/// Where an intrinsic is called from a realloc or post-return function,
/// which the canonical ABI forbids: the component path reports it.
fn forbidden(store: &HostState, what: &str) -> wasmtime::Result<()> {
    if store.may_leave {
        Ok(())
    } else {
        Err(NeedsHost {
            import: format!("{what} (from a realloc or post-return)"),
        }
        .into())
    }
}

/// Defines `module`#`name` as the native `kind` intrinsic.
pub(super) fn link_intrinsic(
    linker: &mut Linker<HostState>,
    module: &str,
    name: &str,
    kind: Intrinsic,
) -> wasmtime::Result<()> {
    match kind {
        Intrinsic::New => linker.func_wrap(
            module,
            name,
            |mut caller: Caller<'_, HostState>, rep: i32| -> wasmtime::Result<i32> {
                forbidden(caller.data(), "resource.new")?;
                Ok(caller.data_mut().handles.insert(rep as u32)? as i32)
            },
        )?,
        Intrinsic::Rep => linker.func_wrap(
            module,
            name,
            |caller: Caller<'_, HostState>, handle: i32| -> wasmtime::Result<i32> {
                forbidden(caller.data(), "resource.rep")?;
                Ok(caller.data().handles.rep(handle as u32)? as i32)
            },
        )?,
        Intrinsic::Drop => linker.func_wrap(
            module,
            name,
            |mut caller: Caller<'_, HostState>, handle: i32| -> wasmtime::Result<()> {
                forbidden(caller.data(), "resource.drop")?;
                let rep = caller.data_mut().handles.remove(handle as u32)?;
                if let Some(dtor) = caller.data().dtor.clone() {
                    dtor.call(&mut caller, rep as i32)?;
                }
                Ok(())
            },
        )?,
    };
    Ok(())
}

/// A guest error message, copied out of guest memory.
fn owned(r: Result<(), &str>) -> Result<(), String> {
    r.map_err(str::to_string)
}

impl DirectInstance {
    /// Whether aggregates and windows can run on this instance.
    pub(crate) fn has_accumulators(&self) -> bool {
        self.exports.acc.is_some()
    }

    /// The accumulator's methods, resolved on the first aggregate call.
    fn acc(&self, store: &mut Store<HostState>) -> wasmtime::Result<&AccFuncs> {
        let exports = self
            .exports
            .acc
            .as_ref()
            .ok_or(AbiViolation("no accumulator on the direct path"))?;
        self.acc
            .get_or_init(|| exports.instantiate(&self.instance, store))
            .as_ref()
            .ok_or_else(|| wasmtime::Error::msg("direct module export missing"))
    }

    /// `create(id)`: the new accumulator's rep, which the host now holds.
    pub(crate) fn acc_create(
        &self,
        store: &mut Store<HostState>,
        id: u32,
    ) -> wasmtime::Result<Result<u32, String>> {
        let acc = self.acc(store)?;
        acc.create.call_then(
            store,
            self.memory,
            id as i32,
            |memory, ret| abi::lift_handle_result(memory, ret).map(|r| r.map_err(str::to_string)),
            |store, lifted| {
                let Ok(handle) = lifted else {
                    return Ok(lifted);
                };
                let handles = &mut store.data_mut().handles;
                let rep = handles.remove(handle)?;
                handles.host_took();
                Ok(Ok(rep))
            },
        )
    }

    /// `step` or `inverse` of `rows` rows in `batch` on accumulator `rep`.
    /// An all-INTEGER (or all-REAL) batch steps through `step-integers`
    /// (`step-reals`); `inverse` always takes a `list<value>`.
    pub(crate) fn acc_step(
        &self,
        store: &mut Store<HostState>,
        rep: u32,
        op: StepOp,
        batch: &Batch,
        rows: u32,
    ) -> wasmtime::Result<Result<(), String>> {
        let acc = self.acc(store)?;
        let (entry, (ptr, len)) = match (op, batch) {
            (StepOp::Step, Batch::Integers(v)) => (
                &acc.step_integers,
                self.lower_words(store, v.iter().map(|i| i.to_le_bytes()))?,
            ),
            (StepOp::Step, Batch::Reals(v)) => (
                &acc.step_reals,
                self.lower_words(store, v.iter().map(|r| r.to_bits().to_le_bytes()))?,
            ),
            (StepOp::Step, batch) => (&acc.step, self.lower_values(store, batch)?),
            (StepOp::Inverse, batch) => (&acc.inverse, self.lower_values(store, batch)?),
        };
        let params = (rep as i32, ptr as i32, len as i32, rows as i32);
        entry.call(store, self.memory, params, |memory, ret| {
            abi::lift_unit_result(memory, ret).map(owned)
        })
    }

    /// `value()` of accumulator `rep`, handed to `take` in guest memory.
    pub(crate) fn acc_value<R>(
        &self,
        store: &mut Store<HostState>,
        rep: u32,
        take: impl FnOnce(Answer<'_>) -> R,
    ) -> wasmtime::Result<R> {
        let acc = self.acc(store)?;
        self.answer(&acc.value, store, rep, take)
    }

    /// Calls a method that answers `result<value, error>` with one `i32`
    /// (a rep or a handle), and hands the answer to `take` in guest memory.
    fn answer<R>(
        &self,
        method: &Lift<i32>,
        store: &mut Store<HostState>,
        arg: u32,
        take: impl FnOnce(Answer<'_>) -> R,
    ) -> wasmtime::Result<R> {
        method.call(store, self.memory, arg as i32, |memory, ret| {
            abi::lift_value_result(memory, ret).map(take)
        })
    }

    /// `finish(acc)`: the host's handle goes back into the guest's table,
    /// and the guest owns it from here on, whatever it answers.
    pub(crate) fn acc_finish<R>(
        &self,
        store: &mut Store<HostState>,
        rep: u32,
        take: impl FnOnce(Answer<'_>) -> R,
    ) -> wasmtime::Result<R> {
        let acc = self.acc(store)?;
        let handles = &mut store.data_mut().handles;
        handles.host_released();
        let handle = handles.insert(rep)?;
        self.answer(&acc.finish, store, handle, take)
    }

    /// The host drops its handle to accumulator `rep`: the destructor runs.
    pub(crate) fn acc_drop(&self, store: &mut Store<HostState>, rep: u32) -> wasmtime::Result<()> {
        store.data_mut().handles.host_released();
        if let Some(dtor) = &self.acc(store)?.dtor {
            dtor.call(&mut *store, rep as i32)?;
        }
        Ok(())
    }

    /// Lowers a `list<s64>` or `list<f64>`: one allocation, one copy.
    fn lower_words(
        &self,
        store: &mut Store<HostState>,
        words: impl ExactSizeIterator<Item = [u8; 8]>,
    ) -> wasmtime::Result<(u32, u32)> {
        let n = words.len();
        let size = n.checked_mul(8).ok_or(AbiViolation("list too long"))?;
        let ptr = self.alloc(store, 8, size)?;
        let memory = self.memory.data_mut(&mut *store);
        let dest = memory
            .get_mut(ptr as usize..ptr as usize + size)
            .ok_or(AbiViolation("list out of bounds"))?;
        for (chunk, word) in dest.chunks_exact_mut(8).zip(words) {
            chunk.copy_from_slice(&word);
        }
        Ok((ptr, n as u32))
    }

    /// Lowers a `list<value>`: the list, then each TEXT or BLOB in order,
    /// writing only the discriminant and the payload of each element.
    fn lower_values(
        &self,
        store: &mut Store<HostState>,
        batch: &Batch,
    ) -> wasmtime::Result<(u32, u32)> {
        let n = batch.len();
        let size = n
            .checked_mul(abi::VALUE_SIZE)
            .ok_or(AbiViolation("list too long"))?;
        let base = self.alloc(store, 8, size)? as usize;
        for i in 0..n {
            let at = base + i * abi::VALUE_SIZE;
            let value = batch.get(i);
            let (discriminant, payload): (i32, Option<[u8; 8]>) = match value {
                ValueRef::Null => (abi::NULL, None),
                ValueRef::Integer(v) => (abi::INTEGER, Some(v.to_le_bytes())),
                ValueRef::Real(r) => (abi::REAL, Some(r.to_bits().to_le_bytes())),
                ValueRef::Text(bytes) | ValueRef::Blob(bytes) => {
                    let ptr = self.copy_in(store, bytes)?;
                    let mut pair = [0u8; 8];
                    pair[..4].copy_from_slice(&ptr.to_le_bytes());
                    pair[4..].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
                    let d = if matches!(value, ValueRef::Text(_)) {
                        abi::TEXT
                    } else {
                        abi::BLOB
                    };
                    (d, Some(pair))
                }
            };
            let memory = self.memory.data_mut(&mut *store);
            let slot = memory
                .get_mut(at..at + abi::VALUE_SIZE)
                .ok_or(AbiViolation("list out of bounds"))?;
            slot[0] = discriminant as u8;
            if let Some(payload) = payload {
                slot[8..16].copy_from_slice(&payload);
            }
        }
        Ok((base as u32, n as u32))
    }
}
