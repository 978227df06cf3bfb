//! The direct path: scalar calls straight into a component's main core
//! module, without the component-model call machinery.
//!
//! # Why
//!
//! A component-model call in wasmtime 48 re-resolves the export, checks
//! re-entrance, opens and validates a resource scope and lifts through a
//! generic ABI on every call: about 390 ns per call on the benchmark
//! machine, where a typed core-wasm call into the same guest code costs
//! about 90 ns. SQLite calls a scalar once per row, so that difference is
//! the whole per-row overhead (see BENCHMARKS.md).
//!
//! # How
//!
//! A component built by `wit-component` (which `cargo component`,
//! `wasm-component-ld` and most other toolchains use) has one main core
//! instance whose exports the component lifts as the guest functions. At
//! load time [`plan`] reads the component's own canonical definitions: the
//! `canon lift` behind each export we replace, the core instance and export
//! it lifts, the module that instance was made from, and its options
//! (memory, realloc, post-return, string encoding). Anything `abi.rs` does
//! not implement exactly (UTF-16 strings, a function of another instance,
//! code that runs at instantiation) means no direct path. The module is
//! compiled on the first scalar call that can use it, shared by every
//! connection, and checked against the core signatures the canonical ABI
//! gives our WIT. Each connection then gets a plain core instance of it for
//! scalar calls, and [`abi`] lowers and lifts the fixed types by hand,
//! calling the post-return functions the component names after each lift.
//!
//! The direct instance has **no imports at all**: every import (WASI, the
//! resource intrinsics) is a stub that stops the call with [`NeedsHost`].
//! So it can compute and nothing else, which is what almost every scalar
//! does. A call that reaches for the host (a sleep, a clock, a panic message
//! on stderr) is thrown away, the instance with it, and the call runs again
//! on the full component instance with its sandboxed WASI; the function
//! then stays on the component path on that connection. Re-running is
//! safe because the abandoned call had no effect outside its own instance.
//!
//! Components that do not have this shape simply have no direct path.

pub(crate) mod abi;
mod acc;
pub(crate) mod handles;
pub(crate) mod plan;

use std::cell::OnceCell;

use rusqlite::types::ValueRef;
use wasmtime::{InstancePre, Linker, Memory, Module, ModuleExport, Store, TypedFunc, ValType};

use crate::sandbox::HostState;
use abi::{AbiViolation, Answer, FlatValue};
use plan::{Lifted, Plan};

pub(crate) use acc::StepOp;

/// The call that reached for an import the direct instance does not have.
#[derive(Debug)]
pub(crate) struct NeedsHost {
    import: String,
}

impl std::fmt::Display for NeedsHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the guest called `{}`, which needs the component path",
            self.import
        )
    }
}

impl std::error::Error for NeedsHost {}

/// A component's main core module, compiled and linked for direct calls.
pub(crate) struct DirectModule {
    pre: InstancePre<HostState>,
    exports: std::sync::Arc<Exports>,
}

/// A lifted export and its post-return function, if the `canon lift` has
/// one.
struct Entry {
    func: ModuleExport,
    post_return: Option<ModuleExport>,
}

/// The exports the direct path calls, resolved to indices once at compile
/// time so that instantiation does no lookups by name.
struct Exports {
    memory: ModuleExport,
    realloc: ModuleExport,
    fast: [Entry; 3],
    take_result: Entry,
    calls: [Entry; 4],
    initialize: Vec<ModuleExport>,
    /// The accumulator's methods, when aggregates can take the direct path
    /// too.
    acc: Option<acc::AccExports>,
}

impl Exports {
    /// Finds each export the plan names and checks its core signature
    /// against what the canonical ABI gives our WIT: `u32` is `i32`; a
    /// `number` flattens to `(i32, i64)` and a `value` to `(i32, i64,
    /// i32)`; results too wide to flatten come back as a pointer (`i32`);
    /// a post-return function takes that pointer.
    fn resolve(module: &Module, plan: &Plan) -> Result<Exports, String> {
        use ValType::{I32, I64};
        const NUMBER: &[ValType] = &[I32, I64];
        const VALUE: &[ValType] = &[I32, I64, I32];
        // The function id, then `n` flattened arguments.
        let args = |flat: &[ValType], n: usize| -> Vec<ValType> {
            std::iter::once(I32)
                .chain(flat.iter().cycle().take(flat.len() * n).cloned())
                .collect()
        };
        let func = |name: &str, params: &[ValType], results: &[ValType]| {
            let same = |have: &mut dyn ExactSizeIterator<Item = ValType>, want: &[ValType]| {
                have.len() == want.len() && have.zip(want).all(|(x, y)| ValType::eq(&x, y))
            };
            match module.get_export(name) {
                Some(wasmtime::ExternType::Func(ty))
                    if same(&mut ty.params(), params) && same(&mut ty.results(), results) =>
                {
                    module
                        .get_export_index(name)
                        .ok_or_else(|| format!("no export `{name}`"))
                }
                Some(other) => Err(format!("export `{name}` has the type {other:?}")),
                None => Err(format!("no function export `{name}`")),
            }
        };
        let entry = |lifted: &Lifted, params: &[ValType]| -> Result<Entry, String> {
            Ok(Entry {
                func: func(&lifted.export, params, &[I32])?,
                post_return: lifted
                    .post_return
                    .as_deref()
                    .map(|name| func(name, &[I32], &[]))
                    .transpose()?,
            })
        };
        // The canonical ABI here is the 32-bit, unshared-memory one.
        let memory = match module.get_export(&plan.memory) {
            Some(wasmtime::ExternType::Memory(m)) if !m.is_64() && !m.is_shared() => {
                module.get_export_index(&plan.memory)
            }
            _ => None,
        };
        Ok(Exports {
            memory: memory.ok_or("no exported 32-bit memory")?,
            realloc: func(&plan.realloc, &[I32, I32, I32, I32], &[I32])?,
            fast: [
                entry(&plan.fast[0], &args(NUMBER, 1))?,
                entry(&plan.fast[1], &args(NUMBER, 2))?,
                entry(&plan.fast[2], &args(NUMBER, 3))?,
            ],
            take_result: entry(&plan.take_result, &[])?,
            calls: [
                entry(&plan.calls[0], &args(VALUE, 0))?,
                entry(&plan.calls[1], &args(VALUE, 1))?,
                entry(&plan.calls[2], &args(VALUE, 2))?,
                entry(&plan.calls[3], &args(VALUE, 3))?,
            ],
            initialize: plan
                .initialize
                .iter()
                .map(|name| func(name, &[], &[]))
                .collect::<Result<_, _>>()?,
            acc: match &plan.accumulator {
                Ok(p) => acc::AccExports::resolve(p, &entry, &func)
                    .inspect_err(|why| {
                        tracing::debug!("aggregates stay on the component path: {why}")
                    })
                    .ok(),
                Err(why) => {
                    tracing::debug!("aggregates stay on the component path: {why}");
                    None
                }
            },
        })
    }
}

impl DirectModule {
    /// Checks `module`'s exports against `plan` and links it with stub
    /// imports. `Err` explains why the component gets no direct path.
    pub(crate) fn new(module: &Module, plan: &Plan) -> Result<DirectModule, String> {
        let mut exports = Exports::resolve(module, plan)?;
        let mut linker = Linker::new(module.engine());
        let intrinsics = match (&exports.acc, &plan.accumulator) {
            (Some(_), Ok(p)) => p.intrinsics.as_slice(),
            _ => &[],
        };
        // An intrinsic whose import has another type than the canonical
        // ABI gives it cannot be ours: aggregates stay on the component path.
        let native = |import: &wasmtime::ImportType<'_>, ty: &wasmtime::FuncType| {
            intrinsics
                .iter()
                .find(|(m, n, _)| m == import.module() && n == import.name())
                .map(|(_, _, kind)| *kind)
                .filter(|kind| acc::intrinsic_type_is(*kind, ty))
        };
        if module.imports().any(|import| {
            let wasmtime::ExternType::Func(ty) = import.ty() else {
                return false;
            };
            intrinsics
                .iter()
                .any(|(m, n, _)| m == import.module() && n == import.name())
                && native(&import, &ty).is_none()
        }) {
            exports.acc = None;
        }
        for import in module.imports() {
            let wasmtime::ExternType::Func(ty) = import.ty() else {
                return Err(format!(
                    "imports `{}` `{}`, which is not a function",
                    import.module(),
                    import.name()
                ));
            };
            if exports.acc.is_some()
                && let Some(kind) = native(&import, &ty)
            {
                acc::link_intrinsic(&mut linker, import.module(), import.name(), kind)
                    .map_err(|e| format!("{e:#}"))?;
                continue;
            }
            let name = format!("{}#{}", import.module(), import.name());
            linker
                .func_new(import.module(), import.name(), ty, move |_, _, _| {
                    Err(NeedsHost {
                        import: name.clone(),
                    }
                    .into())
                })
                .map_err(|e| format!("{e:#}"))?;
        }
        let pre = linker
            .instantiate_pre(module)
            .map_err(|e| format!("{e:#}"))?;
        Ok(DirectModule {
            pre,
            exports: std::sync::Arc::new(exports),
        })
    }

    /// A fresh instance in `store`, initialised as the component
    /// initialises its main instance.
    pub(crate) fn instantiate(
        &self,
        store: &mut Store<HostState>,
    ) -> wasmtime::Result<DirectInstance> {
        let instance = self.pre.instantiate(&mut *store)?;
        let e = &self.exports;
        let missing = || wasmtime::Error::msg("direct module export missing");
        let memory = match instance.get_module_export(&mut *store, &e.memory) {
            Some(wasmtime::Extern::Memory(m)) => m,
            _ => return Err(missing()),
        };
        for init in &e.initialize {
            typed_export::<(), ()>(&instance, store, init)
                .ok_or_else(missing)?
                .call(&mut *store, ())?;
        }
        // The destructor now, since a native `resource.drop` may run in any
        // call; the exports themselves when first called, so a connection
        // pays for resolving only what it uses.
        if let Some(dtor) = e.acc.as_ref().and_then(|a| a.dtor()) {
            store.data_mut().dtor = Some(typed_export(&instance, store, dtor).ok_or_else(missing)?);
        }
        Ok(DirectInstance {
            realloc: typed_export(&instance, store, &e.realloc).ok_or_else(missing)?,
            instance,
            exports: self.exports.clone(),
            memory,
            acc: OnceCell::new(),
            fast1: OnceCell::new(),
            fast2: OnceCell::new(),
            fast3: OnceCell::new(),
            take_result: OnceCell::new(),
            call0: OnceCell::new(),
            call1: OnceCell::new(),
            call2: OnceCell::new(),
            call3: OnceCell::new(),
        })
    }
}

/// The typed export in `cell`, resolved from `entry` on first use.
#[inline]
fn resolved<'a, P: wasmtime::WasmParams>(
    cell: &'a OnceCell<Option<Lift<P>>>,
    instance: &wasmtime::Instance,
    store: &mut Store<HostState>,
    entry: &Entry,
) -> wasmtime::Result<&'a Lift<P>> {
    cell.get_or_init(|| lift(instance, store, entry))
        .as_ref()
        .ok_or_else(|| wasmtime::Error::msg("direct module export missing"))
}

/// Runs `f` (a realloc or a post-return function) with intrinsics
/// forbidden, as the canonical ABI runs them: one that calls an intrinsic
/// then reaches for the host and goes to the component path, which
/// reports it.
#[inline]
fn without_intrinsics<R>(
    store: &mut Store<HostState>,
    f: impl FnOnce(&mut Store<HostState>) -> wasmtime::Result<R>,
) -> wasmtime::Result<R> {
    store.data_mut().may_leave = false;
    let out = f(&mut *store);
    store.data_mut().may_leave = true;
    out
}

/// A lifted export and its post-return function, typed.
struct Lift<P> {
    func: TypedFunc<P, i32>,
    post_return: Option<TypedFunc<i32, ()>>,
}

impl<P: wasmtime::WasmParams> Lift<P> {
    /// Calls the export, lifts its result with `lift`, then runs the
    /// post-return function on the export's return value, as the canonical
    /// ABI does: the guest may free what `lift` has just copied out.
    #[inline]
    fn call<T>(
        &self,
        store: &mut Store<HostState>,
        memory: Memory,
        params: P,
        lift: impl FnOnce(&[u8], i32) -> Result<T, AbiViolation>,
    ) -> wasmtime::Result<T> {
        self.call_then(store, memory, params, lift, |_, lifted| Ok(lifted))
    }

    /// [`call`](Lift::call), with `then` run on the lifted value before the
    /// post-return function, as the canonical ABI lifts a handle out of
    /// the guest's table before it lets the guest clean up.
    #[inline]
    fn call_then<T, U>(
        &self,
        store: &mut Store<HostState>,
        memory: Memory,
        params: P,
        lift: impl FnOnce(&[u8], i32) -> Result<T, AbiViolation>,
        then: impl FnOnce(&mut Store<HostState>, T) -> wasmtime::Result<U>,
    ) -> wasmtime::Result<U> {
        let ret = self.func.call(&mut *store, params)?;
        let lifted = lift(memory.data(&*store), ret)?;
        let out = then(store, lifted)?;
        if let Some(post) = &self.post_return {
            without_intrinsics(store, |store| post.call(store, ret))?;
        }
        Ok(out)
    }
}

fn lift<P: wasmtime::WasmParams>(
    instance: &wasmtime::Instance,
    store: &mut Store<HostState>,
    entry: &Entry,
) -> Option<Lift<P>> {
    Some(Lift {
        func: typed_export(instance, store, &entry.func)?,
        post_return: match &entry.post_return {
            Some(post) => Some(typed_export(instance, store, post)?),
            None => None,
        },
    })
}

/// A function export as a `TypedFunc`, without a type check.
///
/// Only for exports `Exports::resolve` checked: it compared each one's
/// core signature with the type it is used at in `instantiate`.
fn typed_export<P: wasmtime::WasmParams, R: wasmtime::WasmResults>(
    instance: &wasmtime::Instance,
    store: &mut Store<HostState>,
    export: &ModuleExport,
) -> Option<TypedFunc<P, R>> {
    match instance.get_module_export(&mut *store, export) {
        // SAFETY: the signature was checked at load time (see above), and
        // the function belongs to `store`.
        Some(wasmtime::Extern::Func(f)) => Some(unsafe { TypedFunc::new_unchecked(&*store, f) }),
        _ => None,
    }
}

// Core parameter lists: the function id, then each argument flattened (a
// `number` is two values, a `value` three).
type Fast1 = (i32, i32, i64);
type Fast2 = (i32, i32, i64, i32, i64);
type Fast3 = (i32, i32, i64, i32, i64, i32, i64);
type Call1 = (i32, i32, i64, i32);
type Call2 = (i32, i32, i64, i32, i32, i64, i32);
type Call3 = (i32, i32, i64, i32, i32, i64, i32, i32, i64, i32);

/// One live direct instance: its memory and typed handles to the exports,
/// each resolved on its first call.
pub(crate) struct DirectInstance {
    instance: wasmtime::Instance,
    exports: std::sync::Arc<Exports>,
    memory: Memory,
    realloc: TypedFunc<(i32, i32, i32, i32), i32>,
    /// The accumulator's methods, when aggregates take the direct path.
    acc: OnceCell<Option<acc::AccFuncs>>,
    fast1: OnceCell<Option<Lift<Fast1>>>,
    fast2: OnceCell<Option<Lift<Fast2>>>,
    fast3: OnceCell<Option<Lift<Fast3>>>,
    take_result: OnceCell<Option<Lift<()>>>,
    call0: OnceCell<Option<Lift<i32>>>,
    call1: OnceCell<Option<Lift<Call1>>>,
    call2: OnceCell<Option<Lift<Call2>>>,
    call3: OnceCell<Option<Lift<Call3>>>,
}

impl DirectInstance {
    /// Calls scalar function `id` with up to three arguments and hands the
    /// guest's answer, still in guest memory, to `take` before the
    /// post-return function may free it. `args` longer than three is a
    /// caller bug and reported as a violation.
    ///
    /// All-numeric arguments take the `fastN` exports (no allocation in the
    /// guest) unless `numbers_fast` is false (the function answers numbers
    /// with TEXT, which `fastN` would defer to a second crossing).
    /// Otherwise TEXT and BLOB arguments are copied into guest memory
    /// through `cabi_realloc` and `callN` runs.
    pub(crate) fn scalar<R>(
        &self,
        store: &mut Store<HostState>,
        id: u32,
        args: &[ValueRef<'_>],
        numbers_fast: bool,
        take: impl FnOnce(Answer<'_>) -> R,
    ) -> wasmtime::Result<R> {
        let id = id as i32;
        let n = |i: usize| args.get(i).copied().and_then(abi::flat_number);
        let m = self.memory;
        let (i, e) = (&self.instance, &*self.exports);
        let arity = if numbers_fast { args.len() } else { 0 };
        let fast = match (arity, n(0), n(1), n(2)) {
            (1, Some(a), _, _) => {
                let f = resolved(&self.fast1, i, store, &e.fast[0])?;
                Some(f.call(store, m, (id, a.0, a.1), abi::lift_fast)?)
            }
            (2, Some(a), Some(b), _) => {
                let f = resolved(&self.fast2, i, store, &e.fast[1])?;
                Some(f.call(store, m, (id, a.0, a.1, b.0, b.1), abi::lift_fast)?)
            }
            (3, Some(a), Some(b), Some(c)) => {
                let f = resolved(&self.fast3, i, store, &e.fast[2])?;
                let params = (id, a.0, a.1, b.0, b.1, c.0, c.1);
                Some(f.call(store, m, params, abi::lift_fast)?)
            }
            _ => None,
        };
        match fast {
            Some(Some(value)) => Ok(take(Ok(value))),
            Some(None) => {
                let f = resolved(&self.take_result, i, store, &e.take_result)?;
                f.call(store, m, (), |memory, ret| {
                    abi::lift_value_result(memory, ret).map(take)
                })
            }
            None => self.call(store, id, args, take),
        }
    }

    /// The general `callN` exports, for arguments that include TEXT or BLOB.
    fn call<R>(
        &self,
        store: &mut Store<HostState>,
        id: i32,
        args: &[ValueRef<'_>],
        take: impl FnOnce(Answer<'_>) -> R,
    ) -> wasmtime::Result<R> {
        let mut flat = [(0, 0, 0); 3];
        if args.len() > flat.len() {
            return Err(AbiViolation("more than three arguments").into());
        }
        for (slot, arg) in flat.iter_mut().zip(args) {
            *slot = self.lower(store, *arg)?;
        }
        let [a, b, c] = flat;
        let m = self.memory;
        let (i, e) = (&self.instance, &*self.exports);
        let lift = |memory: &[u8], ret: i32| abi::lift_value_result(memory, ret).map(take);
        match args.len() {
            0 => resolved(&self.call0, i, store, &e.calls[0])?.call(store, m, id, lift),
            1 => resolved(&self.call1, i, store, &e.calls[1])?.call(
                store,
                m,
                (id, a.0, a.1, a.2),
                lift,
            ),
            2 => resolved(&self.call2, i, store, &e.calls[2])?.call(
                store,
                m,
                (id, a.0, a.1, a.2, b.0, b.1, b.2),
                lift,
            ),
            _ => resolved(&self.call3, i, store, &e.calls[3])?.call(
                store,
                m,
                (id, a.0, a.1, a.2, b.0, b.1, b.2, c.0, c.1, c.2),
                lift,
            ),
        }
    }

    /// Flattens one argument, copying TEXT or BLOB into guest memory. TEXT
    /// that is not UTF-8 goes as a BLOB, as on the component path.
    fn lower(
        &self,
        store: &mut Store<HostState>,
        arg: ValueRef<'_>,
    ) -> wasmtime::Result<FlatValue> {
        if let Some(number) = abi::flat_number(arg) {
            return Ok(number);
        }
        let (discriminant, bytes) = match arg {
            ValueRef::Text(t) if std::str::from_utf8(t).is_ok() => (abi::TEXT, t),
            ValueRef::Text(b) | ValueRef::Blob(b) => (abi::BLOB, b),
            _ => return Err(AbiViolation("not TEXT or BLOB").into()),
        };
        let ptr = self.copy_in(store, bytes)?;
        Ok(abi::flat_bytes(discriminant, ptr, bytes.len() as u32))
    }

    /// Allocates `size` bytes aligned to `align` through the realloc and
    /// checks the alignment, as wasmtime does; the caller checks the bounds
    /// (see [`alloc`](DirectInstance::alloc)).
    fn guest_realloc(
        &self,
        store: &mut Store<HostState>,
        align: u32,
        size: usize,
    ) -> wasmtime::Result<u32> {
        let size32 = u32::try_from(size).map_err(|_| AbiViolation("list over 4 GiB"))?;
        let ptr = without_intrinsics(store, |s| {
            self.realloc.call(s, (0, 0, align as i32, size32 as i32))
        })? as u32;
        if !ptr.is_multiple_of(align) {
            return Err(AbiViolation("realloc return: result not aligned").into());
        }
        Ok(ptr)
    }

    /// [`guest_realloc`](DirectInstance::guest_realloc), with the bounds checked too.
    fn alloc(
        &self,
        store: &mut Store<HostState>,
        align: u32,
        size: usize,
    ) -> wasmtime::Result<u32> {
        let ptr = self.guest_realloc(store, align, size)?;
        let end = (ptr as usize).checked_add(size);
        if end.is_none_or(|end| end > self.memory.data_size(&*store)) {
            return Err(AbiViolation("realloc return: beyond end of memory").into());
        }
        Ok(ptr)
    }

    /// Copies a TEXT or BLOB into guest memory through the realloc, as the
    /// canonical ABI lowers a string or a `list<u8>`, with one memory
    /// lookup for the bounds check and the copy.
    fn copy_in(&self, store: &mut Store<HostState>, bytes: &[u8]) -> wasmtime::Result<u32> {
        let ptr = self.guest_realloc(store, 1, bytes.len())?;
        let start = ptr as usize;
        start
            .checked_add(bytes.len())
            .and_then(|end| self.memory.data_mut(&mut *store).get_mut(start..end))
            .ok_or(AbiViolation("realloc return: beyond end of memory"))?
            .copy_from_slice(bytes);
        Ok(ptr)
    }
}
