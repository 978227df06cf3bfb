//! The `accumulator` resource's part of the plan: the core exports its
//! methods lift, the core function that is its destructor, and which of the
//! main module's imports are its `resource.new` / `resource.rep` /
//! `resource.drop` intrinsics, which the direct instance then implements
//! natively (`super::super::handles`).
//!
//! Each is read from the component's own definitions rather than from
//! export names:
//! - the resource is the one `create`'s lifted type returns an `own`
//!   handle of, and every method's `self` (and `finish`'s argument) must be
//!   a handle of that same definition, so no method can be handed a handle
//!   the component path would refuse;
//! - an intrinsic is a main-module import bound, through the core instance
//!   the main instance is instantiated with, to a `canon resource.*` of
//!   that resource;
//! - the destructor is what the resource type names: a main-instance
//!   export, or (wit-component's shape, since the type must exist before
//!   the main instance does) a shim-module function that passes its
//!   arguments to `call_indirect` of one slot of the shim's own table,
//!   which exactly one element segment of another instance fills with a
//!   main-instance export.
//!
//! Anything else refuses aggregates the direct path; scalars keep it.

use wasmparser::{ComponentDefinedType, ComponentType, ComponentValType, Operator};

use super::{
    CoreInstanceDef, ElementKind, ExternalKind, FuncDef, Lifted, Lifts, ModuleInfo, Refusal, Top,
    at, err,
};

/// A resource intrinsic the direct instance implements itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Intrinsic {
    New,
    Rep,
    Drop,
}

/// What the direct path calls for aggregate and window functions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AccPlan {
    pub(crate) create: Lifted,
    pub(crate) step: Lifted,
    pub(crate) step_integers: Lifted,
    pub(crate) step_reals: Lifted,
    pub(crate) inverse: Lifted,
    pub(crate) value: Lifted,
    pub(crate) finish: Lifted,
    /// The main-instance export the resource's destructor runs, if it has
    /// one.
    pub(crate) dtor: Option<String>,
    /// Main-module imports (module, name) bound to the resource's
    /// intrinsics.
    pub(crate) intrinsics: Vec<(String, String, Intrinsic)>,
}

/// What the plan knows of one component type.
#[derive(Debug, Clone)]
pub(in crate::direct) enum TypeDef {
    /// A resource, identified by the index of its definition (aliases and
    /// re-exports keep it).
    Resource {
        def: u32,
        rep_i32: bool,
        dtor: Option<u32>,
    },
    Own(u32),
    Borrow(u32),
    /// A `result` whose `ok` case is a type reference (or nothing).
    Result {
        ok: Option<u32>,
    },
    /// A function: each parameter's and the result's type reference, if
    /// they are references.
    Func {
        params: Vec<Option<u32>>,
        result: Option<u32>,
    },
    Other,
}

fn type_ref(ty: &ComponentValType) -> Option<u32> {
    match ty {
        ComponentValType::Type(index) => Some(*index),
        ComponentValType::Primitive(_) => None,
    }
}

impl TypeDef {
    /// The definition at type index `index`.
    pub(in crate::direct) fn of(index: u32, ty: &ComponentType<'_>) -> TypeDef {
        match ty {
            ComponentType::Resource { rep, dtor } => TypeDef::Resource {
                def: index,
                rep_i32: *rep == wasmparser::ValType::I32,
                dtor: *dtor,
            },
            ComponentType::Defined(ComponentDefinedType::Own(r)) => TypeDef::Own(*r),
            ComponentType::Defined(ComponentDefinedType::Borrow(r)) => TypeDef::Borrow(*r),
            ComponentType::Defined(ComponentDefinedType::Result { ok, .. }) => TypeDef::Result {
                ok: ok.as_ref().and_then(type_ref),
            },
            ComponentType::Func(f) => TypeDef::Func {
                params: f.params.iter().map(|(_, t)| type_ref(t)).collect(),
                result: f.result.as_ref().and_then(type_ref),
            },
            _ => TypeDef::Other,
        }
    }
}

/// Records function `defined` of `info` if its body is exactly a
/// forwarder: its parameters in order, a constant slot, `call_indirect`
/// of its own type into a table the module defines.
pub(super) fn read_forwarder(
    info: &mut ModuleInfo,
    defined: u32,
    body: &wasmparser::FunctionBody<'_>,
) -> Result<(), Refusal> {
    let Some(&ty) = info.func_types.get(defined as usize) else {
        return Ok(());
    };
    let Some(Some(params)) = info.type_params.get(ty as usize).copied() else {
        return Ok(());
    };
    let mut ops = body.get_operators_reader().map_err(err)?;
    for i in 0..params {
        match ops.read() {
            Ok(Operator::LocalGet { local_index }) if local_index as usize == i => {}
            _ => return Ok(()),
        }
    }
    let slot = match ops.read() {
        Ok(Operator::I32Const { value }) if value >= 0 => value as u32,
        _ => return Ok(()),
    };
    let table = match ops.read() {
        Ok(Operator::CallIndirect {
            type_index,
            table_index,
        }) if type_index == ty => table_index,
        _ => return Ok(()),
    };
    if !matches!(ops.read(), Ok(Operator::End)) || !ops.eof() {
        return Ok(());
    }
    if (table as usize) < info.imported_tables.len() {
        return Ok(());
    }
    let imported_funcs = info.imports.iter().filter(|(_, _, f)| *f).count() as u32;
    info.forwarders
        .insert(imported_funcs.saturating_add(defined), (slot, table));
    Ok(())
}

/// Records an active element segment with a constant offset and function
/// indices; any other active segment makes the module's writes opaque.
pub(super) fn read_elem(
    info: &mut ModuleInfo,
    element: &wasmparser::Element<'_>,
) -> Result<(), Refusal> {
    let ElementKind::Active {
        table_index,
        offset_expr,
    } = &element.kind
    else {
        return Ok(());
    };
    let mut ops = offset_expr.get_operators_reader();
    let offset = match (ops.read(), ops.read()) {
        (Ok(Operator::I32Const { value }), Ok(Operator::End)) if value >= 0 => value as u32,
        _ => {
            info.opaque_elems = true;
            return Ok(());
        }
    };
    let wasmparser::ElementItems::Functions(funcs) = &element.items else {
        info.opaque_elems = true;
        return Ok(());
    };
    let funcs = funcs
        .clone()
        .into_iter()
        .collect::<Result<Vec<u32>, _>>()
        .map_err(err)?;
    info.elems.push((table_index.unwrap_or(0), offset, funcs));
    Ok(())
}

/// The lifted methods, in the order [`AccPlan`] lists them.
const METHODS: [&str; 7] = [
    "[static]accumulator.create",
    "[method]accumulator.step",
    "[method]accumulator.step-integers",
    "[method]accumulator.step-reals",
    "[method]accumulator.inverse",
    "[method]accumulator.value",
    "[static]accumulator.finish",
];

impl Top {
    /// The type at `index`, or `Other` when it is out of range.
    pub(super) fn type_at(&self, index: u32) -> TypeDef {
        self.types
            .get(index as usize)
            .cloned()
            .unwrap_or(TypeDef::Other)
    }

    /// The definition of the resource type at `index`.
    fn resource_def(&self, index: u32) -> Option<u32> {
        match self.type_at(index) {
            TypeDef::Resource { def, .. } => Some(def),
            _ => None,
        }
    }

    /// The resource a handle type refers to: `own` or `borrow` as asked.
    fn handle_of(&self, handle: Option<u32>, own: bool) -> Option<u32> {
        match (self.type_at(handle?), own) {
            (TypeDef::Own(r), true) | (TypeDef::Borrow(r), false) => self.resource_def(r),
            _ => None,
        }
    }

    /// The resource a function's first parameter is a handle of.
    fn first_param_handle(&self, func_ty: u32, own: bool) -> Option<u32> {
        match self.type_at(func_ty) {
            TypeDef::Func { params, .. } => self.handle_of(params.first().copied().flatten(), own),
            _ => None,
        }
    }

    pub(super) fn accumulator(
        &self,
        guest: u32,
        main: u32,
        info: &ModuleInfo,
        scalar_lifts: &Lifts,
    ) -> Result<AccPlan, Refusal> {
        // The methods must agree with the scalars on instance, memory and
        // realloc: one direct instance serves both.
        let mut lifts = scalar_lifts.clone();
        let mut lifted = Vec::with_capacity(METHODS.len());
        for name in METHODS {
            let func = self
                .instance_func(guest, name)
                .ok_or_else(|| format!("`{name}` is not a function we can follow"))?;
            let FuncDef::Lift { core, options, ty } = at(&self.funcs, func, FuncDef::Unknown)
            else {
                return Err(format!("`{name}` is not a `canon lift`"));
            };
            lifted.push((lifts.add(self, name, core, &options)?, ty));
        }
        if lifts.missing_realloc {
            return Err("an accumulator method that takes a list has no realloc".into());
        }
        let [
            create,
            step,
            step_integers,
            step_reals,
            inverse,
            value,
            finish,
        ]: [(Lifted, u32); 7] = lifted
            .try_into()
            .map_err(|_| Refusal::from("accumulator methods missing"))?;
        let acc = match self.type_at(create.1) {
            TypeDef::Func {
                result: Some(r), ..
            } => match self.type_at(r) {
                TypeDef::Result { ok } => self.handle_of(ok, true),
                _ => None,
            },
            _ => None,
        }
        .ok_or("`create` does not return an own handle of a resource defined here")?;
        for (name, ty) in [
            ("step", step.1),
            ("step-integers", step_integers.1),
            ("step-reals", step_reals.1),
            ("inverse", inverse.1),
            ("value", value.1),
        ] {
            if self.first_param_handle(ty, false) != Some(acc) {
                return Err(format!(
                    "`{name}` borrows another resource than `create` makes"
                ));
            }
        }
        if self.first_param_handle(finish.1, true) != Some(acc) {
            return Err("`finish` takes another resource than `create` makes".into());
        }
        let TypeDef::Resource {
            rep_i32: true,
            dtor,
            ..
        } = self.type_at(acc)
        else {
            return Err("the accumulator's representation is not i32".into());
        };
        let dtor = dtor.map(|f| self.dtor_export(f, main)).transpose()?;
        Ok(AccPlan {
            create: create.0,
            step: step.0,
            step_integers: step_integers.0,
            step_reals: step_reals.0,
            inverse: inverse.0,
            value: value.0,
            finish: finish.0,
            dtor,
            intrinsics: self.intrinsic_imports(main, info, acc)?,
        })
    }

    /// The main module's imports bound to intrinsics of resource `acc`.
    fn intrinsic_imports(
        &self,
        main: u32,
        info: &ModuleInfo,
        acc: u32,
    ) -> Result<Vec<(String, String, Intrinsic)>, Refusal> {
        let Some(CoreInstanceDef::Instantiate { args, .. }) =
            self.core_instances.get(main as usize)
        else {
            return Err("the main instance is not made from a module".into());
        };
        let mut found = Vec::new();
        for (module, name, is_func) in &info.imports {
            if !is_func {
                continue;
            }
            let Some((_, instance)) = args.iter().find(|(n, _)| n == module) else {
                continue;
            };
            let Some(CoreInstanceDef::Exports(items)) = self.core_instances.get(*instance as usize)
            else {
                continue;
            };
            let Some((_, _, func)) = items.iter().find(|(n, k, _)| {
                n == name && matches!(k, ExternalKind::Func | ExternalKind::FuncExact)
            }) else {
                continue;
            };
            if let Some((kind, ty)) = self.intrinsics.get(func)
                && self.resource_def(*ty) == Some(acc)
            {
                found.push((module.clone(), name.clone(), *kind));
            }
        }
        Ok(found)
    }

    /// The main-instance export the destructor core function `f` runs.
    fn dtor_export(&self, f: u32, main: u32) -> Result<String, Refusal> {
        let (instance, name) = self
            .core_funcs
            .get(f as usize)
            .cloned()
            .flatten()
            .ok_or("the destructor is not a core instance's export")?;
        if instance == main {
            return Ok(name);
        }
        let Some(CoreInstanceDef::Instantiate { module, .. }) =
            self.core_instances.get(instance as usize)
        else {
            return Err("the destructor's instance is not made from a module".into());
        };
        let shim = self
            .module_info(*module)
            .ok_or("the destructor's module is not defined in the component")?;
        let (slot, table) = match shim.exports.get(&name) {
            Some((ExternalKind::Func | ExternalKind::FuncExact, func)) => shim.forwarders.get(func),
            _ => None,
        }
        .copied()
        .ok_or("the destructor is neither a main-instance export nor a forwarding shim")?;
        if shim.opaque_elems || shim.elems.iter().any(|(t, _, _)| *t == table) {
            return Err("the destructor's shim fills its own table".into());
        }
        let table_names: Vec<&str> = shim
            .exports
            .iter()
            .filter(|(_, (k, i))| *k == ExternalKind::Table && *i == table)
            .map(|(n, _)| n.as_str())
            .collect();
        let mut target = None;
        for (index, def) in self.core_instances.iter().enumerate() {
            let CoreInstanceDef::Instantiate { module, args } = def else {
                continue;
            };
            if index as u32 == instance {
                continue;
            }
            let Some(writer) = self.module_info(*module) else {
                continue;
            };
            if writer.opaque_elems && !writer.imported_tables.is_empty() {
                return Err(format!(
                    "core instance {index} fills a table it imports in a way we cannot follow"
                ));
            }
            for (t, offset, funcs) in &writer.elems {
                let Some((from, table_name)) = writer.imported_tables.get(*t as usize) else {
                    continue;
                };
                let ours = args.iter().find(|(n, _)| n == from).and_then(|(_, arg)| {
                    self.is_shim_table(*arg, table_name, instance, &table_names)
                });
                match ours {
                    Some(false) => continue,
                    None => {
                        return Err(format!(
                            "core instance {index} fills a table that may be the destructor's"
                        ));
                    }
                    Some(true) => {}
                }
                let Some(func) = slot
                    .checked_sub(*offset)
                    .and_then(|i| funcs.get(i as usize))
                else {
                    continue;
                };
                if target.is_some() {
                    return Err("the destructor's slot is filled twice".into());
                }
                target = Some(self.imported_main_export(writer, args, *func, main)?);
            }
        }
        target.ok_or_else(|| "the destructor's slot is never filled".into())
    }

    /// Whether table `name` of the instance passed as `arg` is the shim's
    /// table: `None` when that cannot be told.
    fn is_shim_table(&self, arg: u32, name: &str, shim: u32, shim_names: &[&str]) -> Option<bool> {
        let defines = |instance: u32, name: &str| match self.core_instances.get(instance as usize) {
            Some(CoreInstanceDef::Instantiate { module, .. }) => self
                .module_info(*module)
                .is_some_and(|m| m.defines_export(name, ExternalKind::Table)),
            _ => false,
        };
        match self.core_instances.get(arg as usize)? {
            CoreInstanceDef::Exports(items) => {
                let (_, _, t) = items
                    .iter()
                    .find(|(n, k, _)| n == name && *k == ExternalKind::Table)?;
                let (source, export) = self.core_tables.get(*t as usize)?.clone()?;
                if source == shim {
                    Some(shim_names.contains(&export.as_str()))
                } else if defines(source, &export) {
                    Some(false)
                } else {
                    None
                }
            }
            CoreInstanceDef::Instantiate { .. } if arg == shim => Some(shim_names.contains(&name)),
            CoreInstanceDef::Instantiate { .. } if defines(arg, name) => Some(false),
            CoreInstanceDef::Instantiate { .. } => None,
        }
    }

    /// The main-instance export that function `func` of `writer`, an
    /// import, is bound to through `args`.
    fn imported_main_export(
        &self,
        writer: &ModuleInfo,
        args: &[(String, u32)],
        func: u32,
        main: u32,
    ) -> Result<String, Refusal> {
        let refused = || Refusal::from("the destructor's slot holds no main-instance export");
        let (module, name, _) = writer
            .imports
            .iter()
            .filter(|(_, _, f)| *f)
            .nth(func as usize)
            .ok_or_else(refused)?;
        let (_, instance) = args.iter().find(|(n, _)| n == module).ok_or_else(refused)?;
        let Some(CoreInstanceDef::Exports(items)) = self.core_instances.get(*instance as usize)
        else {
            return Err(refused());
        };
        let (_, _, core) = items
            .iter()
            .find(|(n, k, _)| {
                n == name && matches!(k, ExternalKind::Func | ExternalKind::FuncExact)
            })
            .ok_or_else(refused)?;
        match self.core_funcs.get(*core as usize) {
            Some(Some((source, export))) if *source == main => Ok(export.clone()),
            _ => Err(refused()),
        }
    }
}
