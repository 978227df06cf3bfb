//! Calling a component outside SQLite: one leased instance, batched calls
//! over columns, and accumulators that can be serialised and merged. The
//! DataFusion integration is built on this; the SQLite registration runs on
//! the same [`InstanceSlot`], so both get the same limits, trap handling and
//! instance replacement.

use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::component::ResourceAny;

use crate::bindings::{ValueParam, WitVersion};
use crate::call::{CallError, CallErrorKind, InstanceSlot};
use crate::column::{self, Column, ColumnFault, ColumnRef, Value};
use crate::component::Component;
use crate::interrupt::Interrupt;
use crate::manifest::{Arity, FunctionKind, FunctionSpec};

/// A component's instances for one user at a time: a thread, a query
/// partition, a task. Each guest call runs under the engine's
/// [`Limits`](crate::Limits) (deadline, fuel, memory, result size) as it
/// does in SQLite, and an instance that traps is replaced on the next call.
/// `Instance` is `Send`: it can move between threads with its accumulators.
///
/// Deterministic functions run in an instance of their own with frozen
/// clocks and seeded randomness, as in SQLite; both are created on first
/// use.
///
/// ```no_run
/// # fn main() -> anyhow::Result<()> {
/// use wasmudf::{ColumnRef, Value};
/// let engine = wasmudf::Engine::new()?;
/// let stats = engine.load_file("stats.wasm")?;
/// let median = stats.function_index("median_of", 1).expect("median");
/// let mut instance = stats.instance();
/// let acc = instance.accumulator(median)?;
/// let batch = ColumnRef::Reals { data: &[3.0, 1.0, 2.0], valid: None };
/// instance.step(&acc, &[batch], 3)?;
/// assert_eq!(instance.finish(acc)?, Value::Real(2.0));
/// # Ok(())
/// # }
/// ```
pub struct Instance {
    component: Component,
    interrupt: Interrupt,
    /// `[other, deterministic]`.
    slots: [InstanceSlot; 2],
    /// Tells this instance's accumulators from another's.
    id: u64,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("component", &self.component.origin())
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The running state of one aggregate or window function over one group,
/// inside the [`Instance`] that made it. Pass it back to that instance's
/// methods; end it with [`Instance::finish`] or [`Instance::release`], or
/// it stays in the guest until the instance is dropped.
#[derive(Debug)]
#[must_use = "an accumulator holds guest memory until it is finished or released"]
pub struct Accumulator {
    function: usize,
    instance: u64,
    slot: usize,
    generation: u64,
    handle: ResourceAny,
}

impl Accumulator {
    /// The manifest index of its function.
    pub fn function(&self) -> usize {
        self.function
    }
}

static INSTANCE_IDS: AtomicU64 = AtomicU64::new(0);

impl Instance {
    /// Instances of `component`, stopped by `interrupt` when it fires (e.g.
    /// when the query they serve is cancelled).
    pub fn new(component: &Component, interrupt: Interrupt) -> Instance {
        let slot =
            |deterministic| InstanceSlot::new(component.clone(), interrupt.clone(), deterministic);
        Instance {
            component: component.clone(),
            interrupt: interrupt.clone(),
            slots: [slot(false), slot(true)],
            id: INSTANCE_IDS.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// The component these are instances of.
    pub fn component(&self) -> &Component {
        &self.component
    }

    /// What stops this instance's calls.
    pub fn interrupt(&self) -> &Interrupt {
        &self.interrupt
    }

    /// The function at manifest index `function`, checked to be of `kind`,
    /// and its slot. (Borrowing the component alone leaves the slots free.)
    fn function<'c>(
        component: &'c Component,
        function: usize,
        kinds: &[FunctionKind],
    ) -> Result<(&'c FunctionSpec, usize), CallError> {
        let Some(spec) = component.functions().get(function) else {
            return Err(CallError {
                function: format!("#{function}"),
                cause: CallErrorKind::Usage(format!(
                    "no function #{function}: the component has {}",
                    component.functions().len()
                )),
            });
        };
        if !kinds.contains(&spec.kind) {
            return Err(usage(spec, format!("is a {} function", spec.kind)));
        }
        Ok((spec, usize::from(spec.flags.deterministic)))
    }

    /// Calls scalar function `function` (its manifest index) once.
    ///
    /// # Errors
    ///
    /// A [`CallError`] naming the function: the guest's own error, a trap, a
    /// limit hit, or a call that does not fit it (wrong index or kind).
    pub fn call(&mut self, function: usize, args: &[Value]) -> Result<Value, CallError> {
        let (spec, slot) = Self::function(&self.component, function, &[FunctionKind::Scalar])?;
        check_arity(spec, args.len())?;
        let id = index(function);
        let max = self.max_result();
        let params: Vec<ValueParam<'_>> = args.iter().map(Value::to_guest).collect();
        let result = self.slots[slot].call(|s, u| u.call(s, id, &params));
        let value = result.map_err(|cause| error(spec, cause))?;
        let value = Value::from_guest(value);
        if value.heap_len() > max {
            return Err(error(spec, too_big(value.heap_len(), max)));
        }
        Ok(value)
    }

    /// Calls scalar function `function` over `rows` rows given as one
    /// column per argument, crossing into the guest once (`call-columns`;
    /// row by row for a 0.1.0 component). The result has `rows` values and
    /// has been checked: its offsets, validity bitmap and sizes fit.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call); the first row that fails fails the batch.
    pub fn call_columns(
        &mut self,
        function: usize,
        args: &[ColumnRef<'_>],
        rows: usize,
    ) -> Result<Column, CallError> {
        let (spec, slot) = Self::function(&self.component, function, &[FunctionKind::Scalar])?;
        check_arity(spec, args.len())?;
        check_rows(spec, args, rows)?;
        if self.component.wit_version() == WitVersion::V0_1 {
            let values = (0..rows)
                .map(|r| {
                    // Checked above: every row reads.
                    let row: Vec<Value> = args
                        .iter()
                        .map(|c| c.get(r).unwrap_or(Value::Null))
                        .collect();
                    self.call(function, &row)
                })
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(Column::Values(values));
        }
        let (id, n) = (index(function), count(spec, rows)?);
        let max = self.max_result();
        let mut scratch = Vec::new();
        let lowered = column::lower(args, &mut scratch);
        let result = self.slots[slot].call(|s, u| u.call_columns(s, id, &lowered, n));
        let column = result.map_err(|cause| error(spec, cause))?;
        Column::from_guest(column, rows, max).map_err(|fault| error(spec, fault_kind(fault, max)))
    }

    /// Starts an accumulator of aggregate or window function `function`.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub fn accumulator(&mut self, function: usize) -> Result<Accumulator, CallError> {
        let (spec, slot) = Self::function(
            &self.component,
            function,
            &[FunctionKind::Aggregate, FunctionKind::Window],
        )?;
        let id = index(function);
        let s = &mut self.slots[slot];
        s.recycle_if_due();
        let handle = s
            .call(|st, u| u.acc_create(st, id))
            .map_err(|c| error(spec, c))?;
        s.accumulator_created();
        Ok(Accumulator {
            function,
            instance: self.id,
            slot,
            generation: s.generation(),
            handle,
        })
    }

    /// Checks that `acc` is this instance's and still alive.
    fn live<'c>(
        component: &'c Component,
        id: u64,
        slots: &[InstanceSlot; 2],
        acc: &Accumulator,
    ) -> Result<&'c FunctionSpec, CallError> {
        let spec = component
            .functions()
            .get(acc.function)
            .ok_or_else(|| CallError {
                function: format!("#{}", acc.function),
                cause: CallErrorKind::Usage("no such function".into()),
            })?;
        if acc.instance != id {
            return Err(usage(
                spec,
                "was given an accumulator of another instance".into(),
            ));
        }
        if acc.generation != slots[acc.slot].generation() {
            return Err(error(spec, CallErrorKind::StateLost));
        }
        Ok(spec)
    }

    /// Adds `rows` rows, one column per argument.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call); [`CallErrorKind::StateLost`] when the
    /// instance was replaced after a trap since `acc` was made.
    pub fn step(
        &mut self,
        acc: &Accumulator,
        args: &[ColumnRef<'_>],
        rows: usize,
    ) -> Result<(), CallError> {
        self.apply(acc, args, rows, false)
    }

    /// Removes `rows` rows that left a window frame, oldest first.
    ///
    /// # Errors
    ///
    /// As [`step`](Self::step); a function that is not a window refuses.
    pub fn inverse(
        &mut self,
        acc: &Accumulator,
        args: &[ColumnRef<'_>],
        rows: usize,
    ) -> Result<(), CallError> {
        self.apply(acc, args, rows, true)
    }

    fn apply(
        &mut self,
        acc: &Accumulator,
        args: &[ColumnRef<'_>],
        rows: usize,
        inverse: bool,
    ) -> Result<(), CallError> {
        let spec = Self::live(&self.component, self.id, &self.slots, acc)?;
        if inverse && spec.kind != FunctionKind::Window {
            return Err(usage(
                spec,
                "is not a window function: it has no inverse".into(),
            ));
        }
        check_arity(spec, args.len())?;
        check_rows(spec, args, rows)?;
        let n = count(spec, rows)?;
        let handle = acc.handle;
        let slot = &mut self.slots[acc.slot];
        let result = if self.component.wit_version() == WitVersion::V0_1 {
            // Row-major values, as 0.1.0's `step` takes them.
            let values: Vec<Value> = (0..rows)
                .flat_map(|r| args.iter().map(move |c| c.get(r).unwrap_or(Value::Null)))
                .collect();
            let params: Vec<ValueParam<'_>> = values.iter().map(Value::to_guest).collect();
            slot.call(|s, u| {
                if inverse {
                    u.acc_inverse(s, handle, &params, n)
                } else {
                    u.acc_step(s, handle, &params, n)
                }
            })
        } else {
            let mut scratch = Vec::new();
            let lowered = column::lower(args, &mut scratch);
            slot.call(|s, u| {
                if inverse {
                    u.acc_inverse_columns(s, handle, &lowered, n)
                } else {
                    u.acc_step_columns(s, handle, &lowered, n)
                }
            })
        };
        result.map_err(|cause| error(spec, cause))
    }

    /// The current value of a window function; `acc` stays usable.
    ///
    /// # Errors
    ///
    /// As [`step`](Self::step).
    pub fn value(&mut self, acc: &Accumulator) -> Result<Value, CallError> {
        let spec = Self::live(&self.component, self.id, &self.slots, acc)?;
        let (handle, max) = (acc.handle, self.max_result());
        let v = self.slots[acc.slot]
            .call(|s, u| u.acc_value(s, handle))
            .map_err(|cause| error(spec, cause))?;
        checked(spec, Value::from_guest(v), max)
    }

    /// The state of `acc` as bytes that [`merge`](Self::merge) takes, in an
    /// accumulator of the same function in any instance of the same
    /// component (another thread, process or machine). Only for functions
    /// whose [`FunctionSpec::mergeable`] is set; `acc` stays usable.
    ///
    /// # Errors
    ///
    /// As [`step`](Self::step); a function that is not mergeable refuses.
    pub fn serialize(&mut self, acc: &Accumulator) -> Result<Vec<u8>, CallError> {
        let spec = Self::live(&self.component, self.id, &self.slots, acc)?;
        check_mergeable(spec)?;
        let (handle, max) = (acc.handle, self.max_result());
        let bytes = self.slots[acc.slot]
            .call(|s, u| u.acc_serialize(s, handle))
            .map_err(|cause| error(spec, cause))?;
        if bytes.len() > max {
            return Err(error(spec, too_big(bytes.len(), max)));
        }
        Ok(bytes)
    }

    /// Folds a state that [`serialize`](Self::serialize) produced into
    /// `acc`, as if `acc` had also stepped that state's rows.
    ///
    /// # Errors
    ///
    /// As [`serialize`](Self::serialize); the guest's error for bytes it
    /// does not recognise.
    pub fn merge(&mut self, acc: &Accumulator, state: &[u8]) -> Result<(), CallError> {
        let spec = Self::live(&self.component, self.id, &self.slots, acc)?;
        check_mergeable(spec)?;
        let handle = acc.handle;
        self.slots[acc.slot]
            .call(|s, u| u.acc_merge(s, handle, state))
            .map_err(|cause| error(spec, cause))
    }

    /// The final value of `acc`, which it consumes.
    ///
    /// # Errors
    ///
    /// As [`step`](Self::step).
    pub fn finish(&mut self, acc: Accumulator) -> Result<Value, CallError> {
        let spec = Self::live(&self.component, self.id, &self.slots, &acc)?;
        let (handle, max) = (acc.handle, self.max_result());
        let slot = &mut self.slots[acc.slot];
        let result = slot.call(|s, u| u.acc_finish(s, handle));
        slot.accumulator_done();
        let v = result.map_err(|cause| error(spec, cause))?;
        checked(spec, Value::from_guest(v), max)
    }

    /// Drops `acc` without finishing it: its guest state is freed.
    pub fn release(&mut self, acc: Accumulator) {
        // An accumulator of another instance or a replaced one has nothing
        // here to free.
        if Self::live(&self.component, self.id, &self.slots, &acc).is_ok() {
            self.slots[acc.slot].release(acc.handle, acc.generation);
        }
    }

    fn max_result(&self) -> usize {
        self.component.engine().limits().max_result_bytes
    }
}

/// A manifest index as the guest's `u32` id (the manifest is capped far
/// below `u32::MAX`).
fn index(function: usize) -> u32 {
    u32::try_from(function).unwrap_or(u32::MAX)
}

fn error(spec: &FunctionSpec, cause: CallErrorKind) -> CallError {
    CallError {
        function: spec.name.clone(),
        cause,
    }
}

fn usage(spec: &FunctionSpec, what: String) -> CallError {
    error(spec, CallErrorKind::Usage(what))
}

fn too_big(size: usize, limit: usize) -> CallErrorKind {
    CallErrorKind::TooBig { size, limit }
}

fn checked(spec: &FunctionSpec, v: Value, max: usize) -> Result<Value, CallError> {
    match v.heap_len() {
        n if n > max => Err(error(spec, too_big(n, max))),
        _ => Ok(v),
    }
}

fn fault_kind(fault: ColumnFault, max: usize) -> CallErrorKind {
    match fault {
        ColumnFault::TooBig(size) => too_big(size, max),
        ColumnFault::Malformed(what) => {
            CallErrorKind::Trap(format!("returned a malformed column: {what}"))
        }
    }
}

fn check_arity(spec: &FunctionSpec, given: usize) -> Result<(), CallError> {
    match spec.arity {
        Arity::Exactly(n) if usize::from(n) != given => Err(usage(
            spec,
            format!("takes {n} argument(s), was given {given}"),
        )),
        _ => Ok(()),
    }
}

/// Every column holds `rows` rows and reads (offsets and validity fit):
/// the embedder's mistake is its error, before any guest runs.
fn check_rows(spec: &FunctionSpec, args: &[ColumnRef<'_>], rows: usize) -> Result<(), CallError> {
    for (i, c) in args.iter().enumerate() {
        if let Err(fault) = c.check(rows, usize::MAX) {
            let what = match fault {
                ColumnFault::Malformed(what) => what,
                ColumnFault::TooBig(n) => format!("a {n}-byte value"),
            };
            return Err(usage(spec, format!("argument column {}: {what}", i + 1)));
        }
    }
    Ok(())
}

/// `rows` as the guest's `u32`.
fn count(spec: &FunctionSpec, rows: usize) -> Result<u32, CallError> {
    u32::try_from(rows).map_err(|_| usage(spec, format!("{rows} rows is too many for one batch")))
}

fn check_mergeable(spec: &FunctionSpec) -> Result<(), CallError> {
    if spec.mergeable {
        Ok(())
    } else {
        Err(usage(
            spec,
            "is not mergeable: its component does not declare serialize and merge for it".into(),
        ))
    }
}
