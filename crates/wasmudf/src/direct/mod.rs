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
//! module that exports the guest functions under their canonical names,
//! `wasmudf:udf/guest@0.1.0#fast1` and so on, together with its memory and
//! `cabi_realloc`. At load time we find that module, compile it on its own,
//! and check that the exports we call have exactly the core signatures the
//! canonical ABI gives our WIT. Each connection then gets a plain core
//! instance of it for scalar calls, and [`abi`] lowers and lifts the fixed
//! types by hand.
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

use rusqlite::types::ValueRef;
use wasmtime::{InstancePre, Linker, Memory, Module, ModuleExport, Store, TypedFunc, ValType};

use crate::sandbox::HostState;
use abi::{AbiViolation, FlatValue, GuestAnswer};

const EXPORT_PREFIX: &str = "wasmudf:udf/guest@0.1.0#";

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

/// The bytes of the component's main core module: the top-level module
/// that exports `wasmudf:udf/guest@0.1.0#fast1`. `None` if there is none or
/// the component cannot be parsed.
pub(crate) fn main_module(component: &[u8]) -> Option<&[u8]> {
    use wasmparser::{Encoding, Parser, Payload};
    let fast1 = format!("{EXPORT_PREFIX}fast1");
    // Depth 1 is the component itself, 2 a module or component inside it.
    let mut depth = 0usize;
    let mut announced = None;
    let mut current = None;
    for payload in Parser::new(0).parse_all(component) {
        match payload.ok()? {
            Payload::Version { encoding, .. } => {
                depth += 1;
                current = match (depth, encoding) {
                    (2, Encoding::Module) => announced.take(),
                    _ => None,
                };
            }
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ModuleSection {
                unchecked_range, ..
            } if depth == 1 => announced = Some(unchecked_range),
            Payload::ExportSection(exports) if depth == 2 => {
                if let Some(range) = current.clone() {
                    let has_fast1 = exports
                        .into_iter()
                        .any(|e| e.is_ok_and(|e| e.name == fast1));
                    if has_fast1 {
                        return component.get(range);
                    }
                }
            }
            _ => {}
        }
    }
    None
}

/// A component's main core module, compiled and linked for direct calls.
pub(crate) struct DirectModule {
    pre: InstancePre<HostState>,
    exports: Exports,
}

/// The exports the direct path calls, resolved to indices once at load
/// time so that instantiation does no lookups by name.
struct Exports {
    memory: ModuleExport,
    realloc: ModuleExport,
    fast: [ModuleExport; 3],
    take_result: ModuleExport,
    post_take_result: Option<ModuleExport>,
    calls: [ModuleExport; 4],
    post_calls: [Option<ModuleExport>; 4],
    initialize: Option<ModuleExport>,
}

impl Exports {
    /// Finds each export and checks its core signature against what the
    /// canonical ABI gives our WIT: `u32` is `i32`; a `number` flattens to
    /// `(i32, i64)` and a `value` to `(i32, i64, i32)`; results too wide to
    /// flatten come back as a pointer (`i32`); a post-return function takes
    /// that pointer.
    fn resolve(module: &Module) -> Result<Exports, String> {
        use ValType::{I32, I64};
        const NUMBER: &[ValType] = &[I32, I64];
        const VALUE: &[ValType] = &[I32, I64, I32];
        // The function id, then `n` flattened arguments.
        let args = |flat: &[ValType], n: usize| -> Vec<ValType> {
            std::iter::once(I32)
                .chain(flat.iter().cycle().take(flat.len() * n).cloned())
                .collect()
        };
        let optional = |name: &str, params: &[ValType], results: &[ValType]| {
            let same = |have: &mut dyn ExactSizeIterator<Item = ValType>, want: &[ValType]| {
                have.len() == want.len() && have.zip(want).all(|(x, y)| ValType::eq(&x, y))
            };
            match module.get_export(name) {
                None => Ok(None),
                Some(wasmtime::ExternType::Func(ty))
                    if same(&mut ty.params(), params) && same(&mut ty.results(), results) =>
                {
                    Ok(module.get_export_index(name))
                }
                Some(other) => Err(format!("export `{name}` has the type {other:?}")),
            }
        };
        let required = |name: &str, params: &[ValType], results: &[ValType]| {
            optional(name, params, results)?.ok_or_else(|| format!("no function export `{name}`"))
        };
        let call = |name: &str, params: &[ValType]| {
            required(&format!("{EXPORT_PREFIX}{name}"), params, &[I32])
        };
        // Post-return functions exist only where a result owns memory.
        let post = |name: &str| optional(&format!("cabi_post_{EXPORT_PREFIX}{name}"), &[I32], &[]);
        let memory = match module.get_export("memory") {
            Some(wasmtime::ExternType::Memory(_)) => module.get_export_index("memory"),
            _ => None,
        };
        Ok(Exports {
            memory: memory.ok_or("no exported memory")?,
            realloc: required("cabi_realloc", &[I32, I32, I32, I32], &[I32])?,
            fast: [
                call("fast1", &args(NUMBER, 1))?,
                call("fast2", &args(NUMBER, 2))?,
                call("fast3", &args(NUMBER, 3))?,
            ],
            take_result: call("take-result", &[])?,
            post_take_result: post("take-result")?,
            calls: [
                call("call0", &args(VALUE, 0))?,
                call("call1", &args(VALUE, 1))?,
                call("call2", &args(VALUE, 2))?,
                call("call3", &args(VALUE, 3))?,
            ],
            post_calls: [
                post("call0")?,
                post("call1")?,
                post("call2")?,
                post("call3")?,
            ],
            initialize: optional("_initialize", &[], &[])?,
        })
    }
}

impl DirectModule {
    /// Checks `module`'s exports and links it with stub imports. `Err`
    /// explains why the component gets no direct path.
    pub(crate) fn new(module: &Module) -> Result<DirectModule, String> {
        let exports = Exports::resolve(module)?;
        let mut linker = Linker::new(module.engine());
        for import in module.imports() {
            let wasmtime::ExternType::Func(ty) = import.ty() else {
                return Err(format!(
                    "imports `{}` `{}`, which is not a function",
                    import.module(),
                    import.name()
                ));
            };
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
        Ok(DirectModule { pre, exports })
    }

    /// A fresh instance in `store`.
    pub(crate) fn instantiate(
        &self,
        store: &mut Store<HostState>,
    ) -> wasmtime::Result<DirectInstance> {
        let instance = self.pre.instantiate(&mut *store)?;
        let e = &self.exports;
        let missing = || wasmtime::Error::msg("direct module export missing");
        let post = |store: &mut Store<HostState>, export: &Option<ModuleExport>| {
            export
                .as_ref()
                .map(|x| typed_export(&instance, store, x).ok_or_else(missing))
                .transpose()
        };
        let memory = match instance.get_module_export(&mut *store, &e.memory) {
            Some(wasmtime::Extern::Memory(m)) => m,
            _ => return Err(missing()),
        };
        if let Some(init) = &e.initialize {
            typed_export::<(), ()>(&instance, store, init)
                .ok_or_else(missing)?
                .call(&mut *store, ())?;
        }
        Ok(DirectInstance {
            memory,
            realloc: typed_export(&instance, store, &e.realloc).ok_or_else(missing)?,
            fast1: typed_export(&instance, store, &e.fast[0]).ok_or_else(missing)?,
            fast2: typed_export(&instance, store, &e.fast[1]).ok_or_else(missing)?,
            fast3: typed_export(&instance, store, &e.fast[2]).ok_or_else(missing)?,
            take_result: typed_export(&instance, store, &e.take_result).ok_or_else(missing)?,
            post_take_result: post(store, &e.post_take_result)?,
            call0: typed_export(&instance, store, &e.calls[0]).ok_or_else(missing)?,
            call1: typed_export(&instance, store, &e.calls[1]).ok_or_else(missing)?,
            call2: typed_export(&instance, store, &e.calls[2]).ok_or_else(missing)?,
            call3: typed_export(&instance, store, &e.calls[3]).ok_or_else(missing)?,
            post_calls: [
                post(store, &e.post_calls[0])?,
                post(store, &e.post_calls[1])?,
                post(store, &e.post_calls[2])?,
                post(store, &e.post_calls[3])?,
            ],
        })
    }
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
/// resolved once.
pub(crate) struct DirectInstance {
    memory: Memory,
    realloc: TypedFunc<(i32, i32, i32, i32), i32>,
    fast1: TypedFunc<Fast1, i32>,
    fast2: TypedFunc<Fast2, i32>,
    fast3: TypedFunc<Fast3, i32>,
    take_result: TypedFunc<(), i32>,
    post_take_result: Option<TypedFunc<i32, ()>>,
    call0: TypedFunc<i32, i32>,
    call1: TypedFunc<Call1, i32>,
    call2: TypedFunc<Call2, i32>,
    call3: TypedFunc<Call3, i32>,
    post_calls: [Option<TypedFunc<i32, ()>>; 4],
}

impl DirectInstance {
    /// Calls scalar function `id` with up to three arguments. `args` longer
    /// than three is a caller bug and reported as a violation.
    ///
    /// All-numeric arguments take the `fastN` exports: no allocation in the
    /// guest and no post-return. Otherwise TEXT and BLOB arguments are
    /// copied into guest memory through `cabi_realloc` and `callN` runs.
    pub(crate) fn scalar(
        &self,
        store: &mut Store<HostState>,
        id: u32,
        args: &[ValueRef<'_>],
    ) -> wasmtime::Result<GuestAnswer> {
        let id = id as i32;
        let n = |i: usize| args.get(i).copied().and_then(abi::flat_number);
        let ret = match (args.len(), n(0), n(1), n(2)) {
            (1, Some(a), _, _) => Some(self.fast1.call(&mut *store, (id, a.0, a.1))?),
            (2, Some(a), Some(b), _) => {
                Some(self.fast2.call(&mut *store, (id, a.0, a.1, b.0, b.1))?)
            }
            (3, Some(a), Some(b), Some(c)) => Some(
                self.fast3
                    .call(&mut *store, (id, a.0, a.1, b.0, b.1, c.0, c.1))?,
            ),
            _ => None,
        };
        match ret {
            Some(ret) => match abi::lift_fast(self.memory.data(&*store), ret)? {
                Some(value) => Ok(Ok(value)),
                None => {
                    let ret = self.take_result.call(&mut *store, ())?;
                    self.finish(store, ret, self.post_take_result.as_ref())
                }
            },
            None => self.call(store, id, args),
        }
    }

    /// The general `callN` exports, for arguments that include TEXT or BLOB.
    fn call(
        &self,
        store: &mut Store<HostState>,
        id: i32,
        args: &[ValueRef<'_>],
    ) -> wasmtime::Result<GuestAnswer> {
        let mut flat = [(0, 0, 0); 3];
        if args.len() > flat.len() {
            return Err(AbiViolation("more than three arguments").into());
        }
        for (slot, arg) in flat.iter_mut().zip(args) {
            *slot = self.lower(store, *arg)?;
        }
        let [a, b, c] = flat;
        let ret = match args.len() {
            0 => self.call0.call(&mut *store, id)?,
            1 => self.call1.call(&mut *store, (id, a.0, a.1, a.2))?,
            2 => self
                .call2
                .call(&mut *store, (id, a.0, a.1, a.2, b.0, b.1, b.2))?,
            _ => self.call3.call(
                &mut *store,
                (id, a.0, a.1, a.2, b.0, b.1, b.2, c.0, c.1, c.2),
            )?,
        };
        self.finish(store, ret, self.post_calls[args.len()].as_ref())
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
        let len = u32::try_from(bytes.len()).map_err(|_| AbiViolation("argument over 4 GiB"))?;
        let ptr = self.realloc.call(&mut *store, (0, 0, 1, len as i32))? as u32;
        let memory = self.memory.data_mut(&mut *store);
        let start = ptr as usize;
        let dest = start
            .checked_add(bytes.len())
            .and_then(|end| memory.get_mut(start..end))
            .ok_or(AbiViolation("cabi_realloc returned memory out of bounds"))?;
        dest.copy_from_slice(bytes);
        Ok(abi::flat_bytes(discriminant, ptr, len))
    }

    /// Lifts a `result<value, error>` and lets the guest free it.
    fn finish(
        &self,
        store: &mut Store<HostState>,
        ret: i32,
        post: Option<&TypedFunc<i32, ()>>,
    ) -> wasmtime::Result<GuestAnswer> {
        let answer = abi::lift_value_result(self.memory.data(&*store), ret)?;
        if let Some(post) = post {
            post.call(&mut *store, ret)?;
        }
        Ok(answer)
    }
}
