//! Which core functions the direct path calls, read from the component's
//! own canonical definitions.
//!
//! The direct path must run exactly what the component would run, so it is
//! derived from the `canon lift` behind each export of
//! `wasmudf:udf/guest` (0.1.0 or 0.2.0) it replaces (`fast1`..`fast3`, `take-result`,
//! `call0`..`call3`): the core instance and export each one lifts, the
//! core module that instance was made from, and the canonical options
//! (memory, realloc, post-return, string encoding). Anything that differs
//! from what [`super::abi`] implements refuses the direct path, and so does
//! anything that would run guest code or write into the main instance
//! during instantiation that a plain instance of the main module would not
//! reproduce: start functions in other core instances, data or element
//! segments written into the main instance's memory or table, a component
//! `start`, nested components that do more than re-export.
//!
//! The component has been validated by wasmtime before this runs, so the
//! walk only has to follow index spaces, not check them; an index it cannot
//! follow is a refusal, never a panic.

use std::collections::HashMap;
use std::ops::Range;

use wasmparser::{
    CanonicalFunction, CanonicalOption, ComponentAlias, ComponentExternalKind, ComponentInstance,
    ComponentOuterAliasKind, DataKind, ElementKind, Encoding, ExternalKind, Instance, Parser,
    Payload, TypeRef,
};

mod accumulator;

pub(crate) use accumulator::{AccPlan, Intrinsic};

use crate::bindings::WitVersion;

/// One lifted function: the core export the `canon lift` names, and the
/// core export of its post-return option, if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lifted {
    pub(crate) export: String,
    pub(crate) post_return: Option<String>,
}

/// What the direct path calls, all of it exports of one core instance of
/// the module at `module`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Where the main core module's bytes are in the component.
    pub(crate) module: Range<usize>,
    /// The memory every lift uses.
    pub(crate) memory: String,
    /// The realloc the lifts of `call1`..`call3` use.
    pub(crate) realloc: String,
    pub(crate) fast: [Lifted; 3],
    pub(crate) take_result: Lifted,
    pub(crate) calls: [Lifted; 4],
    /// Exports the component calls after instantiating the main instance
    /// (wit-component's `_initialize` start shim), in order.
    pub(crate) initialize: Vec<String>,
    /// The `accumulator` resource's methods, its destructor and its
    /// intrinsics, or why aggregates stay on the component path (scalars
    /// still take the direct path).
    pub(crate) accumulator: Result<AccPlan, Refusal>,
}

/// Why a component gets no direct path; logged, never shown to SQL.
pub(crate) type Refusal = String;

/// Reads the plan out of `component`, or says why there is none.
///
/// `version` is the interface version the loader chose
/// ([`crate::component`]): the plan follows that export and no other, so
/// the direct path and the component path lift the same functions. (The
/// loader also refuses a component that exports more than one version.)
pub(crate) fn plan(component: &[u8], version: WitVersion) -> Result<Plan, Refusal> {
    let top = walk(component)?;
    top.plan(&version.export_name())
}

/// A core module defined in the component.
#[derive(Debug, Default)]
struct ModuleInfo {
    range: Range<usize>,
    start: Option<u32>,
    /// Every import, in order: (module, name, is a function).
    imports: Vec<(String, String, bool)>,
    imported_memories: Vec<(String, String)>,
    imported_tables: Vec<(String, String)>,
    /// Imports (module, name) that an active data or element segment
    /// writes into when the module is instantiated.
    written_imports: Vec<(String, String)>,
    /// Whether it defines any function, table, memory, global, tag or
    /// segment.
    defines: bool,
    /// Whether it defines or imports a memory: only modules without one
    /// have their function bodies read (see `forwarders`).
    has_memory: bool,
    exports: HashMap<String, (ExternalKind, u32)>,
    /// Code section entries read so far.
    bodies_seen: u32,
    /// Parameter counts of the type section's function types.
    type_params: Vec<Option<usize>>,
    /// The type index of each defined function.
    func_types: Vec<u32>,
    /// Defined functions whose whole body passes their parameters on to
    /// `call_indirect` of a constant slot of a table the module defines,
    /// with their own type (wit-component's shim module): function index
    /// to (slot, table index).
    forwarders: HashMap<u32, (u32, u32)>,
    /// Active element segments with a constant offset and function
    /// indices: (table index, offset, functions).
    elems: Vec<(u32, u32, Vec<u32>)>,
    /// Whether some element segment could not be read that way.
    opaque_elems: bool,
}

impl ModuleInfo {
    /// wit-component's start shim: `(import "" "" (func))` and
    /// `(start 0)`, nothing else. Instantiating it calls the function.
    fn is_start_shim(&self) -> bool {
        self.start == Some(0)
            && !self.defines
            && self.imports == [(String::new(), String::new(), true)]
    }

    /// Whether `name` is a memory or table this module defines itself
    /// rather than re-exports from an import.
    fn defines_export(&self, name: &str, kind: ExternalKind) -> bool {
        let imported = match kind {
            ExternalKind::Memory => self.imported_memories.len(),
            ExternalKind::Table => self.imported_tables.len(),
            _ => return false,
        };
        matches!(self.exports.get(name), Some((k, i)) if *k == kind && *i as usize >= imported)
    }
}

/// A component nested in the top-level one (wit-component uses one to give
/// an exported instance its type).
#[derive(Debug, Default)]
struct NestedInfo {
    /// No core code, instances, canonical functions or start: it can only
    /// re-export what it is given.
    inert: bool,
    /// The function index space: `Some(import name)` for an imported
    /// function.
    funcs: Vec<Option<String>>,
    exports: HashMap<String, (ComponentExternalKind, u32)>,
}

#[derive(Debug, Clone)]
enum ModuleDef {
    Defined(usize),
    Unknown,
}

#[derive(Debug, Clone)]
enum ComponentDef {
    Nested(usize),
    Unknown,
}

#[derive(Debug)]
enum CoreInstanceDef {
    Instantiate {
        module: u32,
        args: Vec<(String, u32)>,
    },
    Exports(Vec<(String, ExternalKind, u32)>),
}

#[derive(Debug, Clone)]
enum FuncDef {
    Lift {
        core: u32,
        options: Vec<CanonicalOption>,
        ty: u32,
    },
    Unknown,
}

type ComponentItems = Vec<(String, ComponentExternalKind, u32)>;

#[derive(Debug, Clone)]
enum InstanceDef {
    Instantiate {
        component: u32,
        args: ComponentItems,
    },
    Exports(ComponentItems),
    Unknown,
}

/// The top-level component's index spaces, as far as the plan needs them.
#[derive(Debug, Default)]
struct Top {
    modules: Vec<ModuleDef>,
    module_infos: Vec<ModuleInfo>,
    components: Vec<ComponentDef>,
    nested: Vec<NestedInfo>,
    core_instances: Vec<CoreInstanceDef>,
    /// Core functions, memories and tables: `Some((instance, export))` for
    /// an alias of a core instance's export.
    core_funcs: Vec<Option<(u32, String)>>,
    core_memories: Vec<Option<(u32, String)>>,
    core_tables: Vec<Option<(u32, String)>>,
    funcs: Vec<FuncDef>,
    instances: Vec<InstanceDef>,
    exports: Vec<(String, ComponentExternalKind, u32)>,
    has_start: bool,
    /// The component type index space, as far as handles need it.
    types: Vec<accumulator::TypeDef>,
    /// `canon resource.new/rep/drop` core functions: core function index
    /// to (intrinsic, resource type index).
    intrinsics: HashMap<u32, (Intrinsic, u32)>,
}

enum Frame {
    Top,
    Module(Box<ModuleInfo>),
    Nested(NestedInfo),
    /// Anything deeper than a nested component or module.
    Deep,
}

fn err(e: wasmparser::BinaryReaderError) -> Refusal {
    format!("cannot parse the component: {e}")
}

fn walk(bytes: &[u8]) -> Result<Top, Refusal> {
    let mut top = Top::default();
    let mut stack: Vec<Frame> = Vec::new();
    let mut pending_module: Option<Range<usize>> = None;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(err)?;
        if let Payload::Version { encoding, .. } = &payload {
            let frame = match (stack.last_mut(), encoding) {
                (None, Encoding::Component) => Frame::Top,
                (None, Encoding::Module) => return Err("a core module, not a component".into()),
                (Some(Frame::Top), Encoding::Module) => Frame::Module(Box::new(ModuleInfo {
                    range: pending_module.take().unwrap_or_default(),
                    ..ModuleInfo::default()
                })),
                (Some(Frame::Top), Encoding::Component) => Frame::Nested(NestedInfo {
                    inert: true,
                    ..NestedInfo::default()
                }),
                (Some(Frame::Nested(nested)), _) => {
                    nested.inert = false;
                    Frame::Deep
                }
                (Some(_), _) => Frame::Deep,
            };
            stack.push(frame);
            continue;
        }
        if let Payload::End(_) = payload {
            match stack.pop() {
                Some(Frame::Module(info)) => top.module_infos.push(*info),
                Some(Frame::Nested(info)) => top.nested.push(info),
                _ => {}
            }
            continue;
        }
        match stack.last_mut() {
            Some(Frame::Top) => top.payload(payload, &mut pending_module)?,
            Some(Frame::Module(info)) => module_payload(info, payload)?,
            Some(Frame::Nested(info)) => nested_payload(info, payload)?,
            Some(Frame::Deep) | None => {}
        }
    }
    Ok(top)
}

fn module_payload(info: &mut ModuleInfo, payload: Payload<'_>) -> Result<(), Refusal> {
    match payload {
        Payload::ImportSection(reader) => {
            for import in reader.into_imports() {
                let import = import.map_err(err)?;
                let names = (import.module.to_string(), import.name.to_string());
                let is_func = matches!(import.ty, TypeRef::Func(_) | TypeRef::FuncExact(_));
                match import.ty {
                    TypeRef::Memory(_) => {
                        info.has_memory = true;
                        info.imported_memories.push(names.clone());
                    }
                    TypeRef::Table(_) => info.imported_tables.push(names.clone()),
                    _ => {}
                }
                info.imports.push((names.0, names.1, is_func));
            }
        }
        Payload::TypeSection(reader) => {
            for group in reader {
                for ty in group.map_err(err)?.into_types() {
                    let params = match &ty.composite_type.inner {
                        wasmparser::CompositeInnerType::Func(f) => Some(f.params().len()),
                        _ => None,
                    };
                    info.type_params.push(params);
                }
            }
        }
        Payload::FunctionSection(reader) => {
            info.defines |= reader.count() > 0;
            for ty in reader {
                info.func_types.push(ty.map_err(err)?);
            }
        }
        Payload::TableSection(r) => info.defines |= r.count() > 0,
        Payload::MemorySection(r) => {
            info.defines |= r.count() > 0;
            info.has_memory |= r.count() > 0;
        }
        Payload::CodeSectionEntry(body) => {
            let defined = info.bodies_seen;
            info.bodies_seen += 1;
            if !info.has_memory && info.func_types.len() <= MAX_SHIM_FUNCTIONS {
                accumulator::read_forwarder(info, defined, &body)?;
            }
        }
        Payload::GlobalSection(r) => info.defines |= r.count() > 0,
        Payload::TagSection(r) => info.defines |= r.count() > 0,
        Payload::ExportSection(reader) => {
            for export in reader {
                let export = export.map_err(err)?;
                info.exports
                    .insert(export.name.to_string(), (export.kind, export.index));
            }
        }
        Payload::StartSection { func, .. } => info.start = Some(func),
        Payload::ElementSection(reader) => {
            for element in reader {
                info.defines = true;
                let element = element.map_err(err)?;
                accumulator::read_elem(info, &element)?;
                if let ElementKind::Active { table_index, .. } = element.kind
                    && let Some(import) =
                        info.imported_tables.get(table_index.unwrap_or(0) as usize)
                {
                    info.written_imports.push(import.clone());
                }
            }
        }
        Payload::DataSection(reader) => {
            for data in reader {
                info.defines = true;
                if let DataKind::Active { memory_index, .. } = data.map_err(err)?.kind
                    && let Some(import) = info.imported_memories.get(memory_index as usize)
                {
                    info.written_imports.push(import.clone());
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn nested_payload(info: &mut NestedInfo, payload: Payload<'_>) -> Result<(), Refusal> {
    match payload {
        Payload::ComponentImportSection(reader) => {
            for import in reader {
                let import = import.map_err(err)?;
                if import.ty.kind() == ComponentExternalKind::Func {
                    info.funcs.push(Some(import.name.name.to_string()));
                }
            }
        }
        Payload::ComponentAliasSection(reader) => {
            for alias in reader {
                if let ComponentAlias::InstanceExport {
                    kind: ComponentExternalKind::Func,
                    ..
                } = alias.map_err(err)?
                {
                    info.funcs.push(None);
                }
            }
        }
        Payload::ComponentExportSection(reader) => {
            for export in reader {
                let export = export.map_err(err)?;
                if export.kind == ComponentExternalKind::Func {
                    let target = info.funcs.get(export.index as usize).cloned().flatten();
                    info.funcs.push(target);
                }
                info.exports
                    .insert(export.name.name.to_string(), (export.kind, export.index));
            }
        }
        Payload::ModuleSection { .. }
        | Payload::InstanceSection(_)
        | Payload::ComponentSection { .. }
        | Payload::ComponentInstanceSection(_)
        | Payload::ComponentCanonicalSection(_)
        | Payload::ComponentStartSection { .. } => info.inert = false,
        _ => {}
    }
    Ok(())
}

/// Modules with more functions than this are not read for forwarders: a
/// shim has one per indirect import.
const MAX_SHIM_FUNCTIONS: usize = 4096;

/// The element at `index`, or `unknown` when it is out of range.
fn at<T: Clone>(items: &[T], index: u32, unknown: T) -> T {
    items.get(index as usize).cloned().unwrap_or(unknown)
}

impl Top {
    fn payload(
        &mut self,
        payload: Payload<'_>,
        pending_module: &mut Option<Range<usize>>,
    ) -> Result<(), Refusal> {
        match payload {
            // A nested module or component is parsed (and its info pushed)
            // before the next top-level payload, so the next info index is
            // the current count.
            Payload::ModuleSection {
                unchecked_range, ..
            } => {
                self.modules
                    .push(ModuleDef::Defined(self.module_infos.len()));
                *pending_module = Some(unchecked_range);
            }
            Payload::ComponentSection { .. } => {
                self.components
                    .push(ComponentDef::Nested(self.nested.len()));
            }
            Payload::InstanceSection(reader) => {
                for instance in reader {
                    self.core_instances.push(match instance.map_err(err)? {
                        Instance::Instantiate { module_index, args } => {
                            CoreInstanceDef::Instantiate {
                                module: module_index,
                                args: args.iter().map(|a| (a.name.to_string(), a.index)).collect(),
                            }
                        }
                        Instance::FromExports(exports) => CoreInstanceDef::Exports(
                            exports
                                .iter()
                                .map(|e| (e.name.to_string(), e.kind, e.index))
                                .collect(),
                        ),
                    });
                }
            }
            Payload::ComponentAliasSection(reader) => {
                for alias in reader {
                    self.alias(alias.map_err(err)?);
                }
            }
            Payload::ComponentCanonicalSection(reader) => {
                for function in reader {
                    match function.map_err(err)? {
                        CanonicalFunction::Lift {
                            core_func_index,
                            options,
                            type_index,
                        } => self.funcs.push(FuncDef::Lift {
                            core: core_func_index,
                            options: options.to_vec(),
                            ty: type_index,
                        }),
                        // Every other canonical function is a core function.
                        other => {
                            let index = self.core_funcs.len() as u32;
                            let intrinsic = match other {
                                CanonicalFunction::ResourceNew { resource } => {
                                    Some((Intrinsic::New, resource))
                                }
                                CanonicalFunction::ResourceRep { resource } => {
                                    Some((Intrinsic::Rep, resource))
                                }
                                CanonicalFunction::ResourceDrop { resource } => {
                                    Some((Intrinsic::Drop, resource))
                                }
                                _ => None,
                            };
                            if let Some(intrinsic) = intrinsic {
                                self.intrinsics.insert(index, intrinsic);
                            }
                            self.core_funcs.push(None);
                        }
                    }
                }
            }
            Payload::ComponentInstanceSection(reader) => {
                for instance in reader {
                    let items = |list: &[wasmparser::ComponentExport<'_>]| -> ComponentItems {
                        list.iter()
                            .map(|e| (e.name.name.to_string(), e.kind, e.index))
                            .collect()
                    };
                    self.instances.push(match instance.map_err(err)? {
                        ComponentInstance::Instantiate {
                            component_index,
                            args,
                        } => InstanceDef::Instantiate {
                            component: component_index,
                            args: args
                                .iter()
                                .map(|a| (a.name.to_string(), a.kind, a.index))
                                .collect(),
                        },
                        ComponentInstance::FromExports(exports) => {
                            InstanceDef::Exports(items(&exports))
                        }
                    });
                }
            }
            Payload::ComponentImportSection(reader) => {
                for import in reader {
                    self.unknown(import.map_err(err)?.ty.kind());
                }
            }
            Payload::ComponentExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(err)?;
                    // An export is a new index in its sort, for the same item.
                    match export.kind {
                        ComponentExternalKind::Func => {
                            let f = at(&self.funcs, export.index, FuncDef::Unknown);
                            self.funcs.push(f);
                        }
                        ComponentExternalKind::Instance => {
                            let i = at(&self.instances, export.index, InstanceDef::Unknown);
                            self.instances.push(i);
                        }
                        ComponentExternalKind::Component => {
                            let c = at(&self.components, export.index, ComponentDef::Unknown);
                            self.components.push(c);
                        }
                        ComponentExternalKind::Module => {
                            let m = at(&self.modules, export.index, ModuleDef::Unknown);
                            self.modules.push(m);
                        }
                        ComponentExternalKind::Type => {
                            let t = self.type_at(export.index);
                            self.types.push(t);
                        }
                        ComponentExternalKind::Value => {}
                    }
                    self.exports
                        .push((export.name.name.to_string(), export.kind, export.index));
                }
            }
            Payload::ComponentTypeSection(reader) => {
                for ty in reader {
                    let index = self.types.len() as u32;
                    let def = accumulator::TypeDef::of(index, &ty.map_err(err)?);
                    self.types.push(def);
                }
            }
            Payload::ComponentStartSection { .. } => self.has_start = true,
            _ => {}
        }
        Ok(())
    }

    /// A new item of `kind` that the plan cannot see into.
    fn unknown(&mut self, kind: ComponentExternalKind) {
        match kind {
            ComponentExternalKind::Func => self.funcs.push(FuncDef::Unknown),
            ComponentExternalKind::Instance => self.instances.push(InstanceDef::Unknown),
            ComponentExternalKind::Component => self.components.push(ComponentDef::Unknown),
            ComponentExternalKind::Module => self.modules.push(ModuleDef::Unknown),
            ComponentExternalKind::Type => self.types.push(accumulator::TypeDef::Other),
            ComponentExternalKind::Value => {}
        }
    }

    fn alias(&mut self, alias: ComponentAlias<'_>) {
        match alias {
            ComponentAlias::InstanceExport { kind, .. } => self.unknown(kind),
            ComponentAlias::CoreInstanceExport {
                kind,
                instance_index,
                name,
            } => {
                let item = Some((instance_index, name.to_string()));
                match kind {
                    ExternalKind::Func | ExternalKind::FuncExact => self.core_funcs.push(item),
                    ExternalKind::Memory => self.core_memories.push(item),
                    ExternalKind::Table => self.core_tables.push(item),
                    ExternalKind::Global | ExternalKind::Tag => {}
                }
            }
            // `count` 0 names an earlier item of this same component.
            ComponentAlias::Outer { kind, count, index } => match kind {
                ComponentOuterAliasKind::CoreModule => {
                    let m = match count {
                        0 => at(&self.modules, index, ModuleDef::Unknown),
                        _ => ModuleDef::Unknown,
                    };
                    self.modules.push(m);
                }
                ComponentOuterAliasKind::Component => {
                    let c = match count {
                        0 => at(&self.components, index, ComponentDef::Unknown),
                        _ => ComponentDef::Unknown,
                    };
                    self.components.push(c);
                }
                ComponentOuterAliasKind::Type => {
                    let t = match count {
                        0 => self.type_at(index),
                        _ => accumulator::TypeDef::Other,
                    };
                    self.types.push(t);
                }
                ComponentOuterAliasKind::CoreType => {}
            },
        }
    }

    fn module_info(&self, module: u32) -> Option<&ModuleInfo> {
        match self.modules.get(module as usize)? {
            ModuleDef::Defined(i) => self.module_infos.get(*i),
            ModuleDef::Unknown => None,
        }
    }

    /// The component function that `instance` exports as `name`, following
    /// a nested component's re-export of one of its imports.
    fn instance_func(&self, instance: u32, name: &str) -> Option<u32> {
        let find = |items: &ComponentItems, name: &str| {
            items
                .iter()
                .find(|(n, k, _)| n == name && *k == ComponentExternalKind::Func)
                .map(|(_, _, index)| *index)
        };
        match self.instances.get(instance as usize)? {
            InstanceDef::Exports(items) => find(items, name),
            InstanceDef::Instantiate { component, args } => {
                let ComponentDef::Nested(n) = self.components.get(*component as usize)? else {
                    return None;
                };
                let nested = self.nested.get(*n).filter(|n| n.inert)?;
                let (kind, index) = nested.exports.get(name)?;
                if *kind != ComponentExternalKind::Func {
                    return None;
                }
                let import = nested.funcs.get(*index as usize)?.as_ref()?;
                find(args, import)
            }
            InstanceDef::Unknown => None,
        }
    }

    /// Whether core instance `instance`'s export `name` of `kind` may be an
    /// item of the main instance `main`: it is unless some other module
    /// defines it.
    fn may_be_main(&self, instance: u32, name: &str, kind: ExternalKind, main: u32) -> bool {
        if instance == main {
            return true;
        }
        match self.core_instances.get(instance as usize) {
            Some(CoreInstanceDef::Instantiate { module, .. }) => !self
                .module_info(*module)
                .is_some_and(|m| m.defines_export(name, kind)),
            Some(CoreInstanceDef::Exports(items)) => {
                let Some((_, _, index)) = items.iter().find(|(n, k, _)| n == name && *k == kind)
                else {
                    return true;
                };
                let space = match kind {
                    ExternalKind::Memory => &self.core_memories,
                    _ => &self.core_tables,
                };
                match space.get(*index as usize) {
                    Some(Some((source, export))) => {
                        *source == main
                            || !matches!(
                                self.core_instances.get(*source as usize),
                                Some(CoreInstanceDef::Instantiate { module, .. })
                                    if self.module_info(*module)
                                        .is_some_and(|m| m.defines_export(export, kind))
                            )
                    }
                    _ => true,
                }
            }
            None => true,
        }
    }

    fn plan(&self, export: &str) -> Result<Plan, Refusal> {
        if self.has_start {
            return Err("the component has a start function".into());
        }
        let mut guests = self
            .exports
            .iter()
            .filter(|(name, kind, _)| name == export && *kind == ComponentExternalKind::Instance)
            .map(|(_, _, index)| *index);
        let guest = guests
            .next()
            .ok_or_else(|| format!("no `{export}` instance export"))?;
        if guests.next().is_some() {
            return Err(format!("`{export}` is exported twice"));
        }
        let mut lifts = Lifts::default();
        let mut lift = |name: &str| -> Result<Lifted, Refusal> {
            let func = self
                .instance_func(guest, name)
                .ok_or_else(|| format!("`{name}` is not a function we can follow"))?;
            let FuncDef::Lift { core, options, .. } = at(&self.funcs, func, FuncDef::Unknown)
            else {
                return Err(format!("`{name}` is not a `canon lift`"));
            };
            lifts.add(self, name, core, &options)
        };
        let fast = [lift("fast1")?, lift("fast2")?, lift("fast3")?];
        let take_result = lift("take-result")?;
        let calls = [
            lift("call0")?,
            lift("call1")?,
            lift("call2")?,
            lift("call3")?,
        ];
        let main = lifts.instance.ok_or("no lifted function")?;
        let memory = lifts.memory.clone().ok_or("no lift names a memory")?;
        let realloc = lifts
            .realloc
            .clone()
            .ok_or("`call1`..`call3` have no realloc")?;
        if lifts.missing_realloc {
            return Err("a lift of `call1`..`call3` has no realloc".into());
        }
        let Some(CoreInstanceDef::Instantiate { module, .. }) =
            self.core_instances.get(main as usize)
        else {
            return Err("the lifted functions' instance is not made from a module".into());
        };
        let info = self
            .module_info(*module)
            .ok_or("the lifted functions' module is not defined in the component")?;
        let initialize = self.instantiation_effects(main)?;
        for (index, def) in self.instances.iter().enumerate() {
            if let InstanceDef::Instantiate { component, .. } = def {
                let inert = matches!(
                    self.components.get(*component as usize),
                    Some(ComponentDef::Nested(n)) if self.nested.get(*n).is_some_and(|n| n.inert)
                );
                if !inert {
                    return Err(format!(
                        "component instance {index} is made from a component that may run code"
                    ));
                }
            }
        }
        let accumulator = self.accumulator(guest, main, info, &lifts);
        Ok(Plan {
            module: info.range.clone(),
            memory,
            realloc,
            fast,
            take_result,
            calls,
            initialize,
            accumulator,
        })
    }

    /// Checks that instantiating the component's other core instances runs
    /// no guest code and writes nothing into the main instance, except
    /// through wit-component's start shim, whose calls are returned.
    fn instantiation_effects(&self, main: u32) -> Result<Vec<String>, Refusal> {
        let mut initialize = Vec::new();
        for (index, def) in self.core_instances.iter().enumerate() {
            let CoreInstanceDef::Instantiate { module, args } = def else {
                continue;
            };
            if index as u32 == main {
                continue;
            }
            let info = self
                .module_info(*module)
                .ok_or_else(|| format!("core instance {index} is made from an unknown module"))?;
            if info.is_start_shim() {
                initialize.push(self.start_shim_target(args, main).ok_or_else(|| {
                    format!("core instance {index} starts a function of another instance")
                })?);
                continue;
            }
            if info.start.is_some() {
                return Err(format!("core instance {index} runs a start function"));
            }
            for (from, name) in &info.written_imports {
                let kind = if info
                    .imported_memories
                    .contains(&(from.clone(), name.clone()))
                {
                    ExternalKind::Memory
                } else {
                    ExternalKind::Table
                };
                let writes_main = match args.iter().find(|(n, _)| n == from) {
                    Some((_, instance)) => self.may_be_main(*instance, name, kind, main),
                    None => true,
                };
                if writes_main {
                    return Err(format!(
                        "core instance {index} initialises memory or a table it may share with \
                         the main instance"
                    ));
                }
            }
        }
        Ok(initialize)
    }

    /// The main instance's export that a start shim instantiated with
    /// `args` calls.
    fn start_shim_target(&self, args: &[(String, u32)], main: u32) -> Option<String> {
        let (_, instance) = args.iter().find(|(n, _)| n.is_empty())?;
        let CoreInstanceDef::Exports(items) = self.core_instances.get(*instance as usize)? else {
            return None;
        };
        let (_, _, func) = items
            .iter()
            .find(|(n, k, _)| n.is_empty() && matches!(k, ExternalKind::Func))?;
        match self.core_funcs.get(*func as usize)? {
            Some((source, export)) if *source == main => Some(export.clone()),
            _ => None,
        }
    }
}

/// The lifted functions whose arguments the host lowers into guest memory
/// (strings or lists), and which therefore need the realloc.
const LOWERS_LISTS: &[&str] = &[
    "call1",
    "call2",
    "call3",
    "[method]accumulator.step",
    "[method]accumulator.step-integers",
    "[method]accumulator.step-reals",
    "[method]accumulator.inverse",
];

/// What the lifts have in common, gathered one lift at a time.
#[derive(Default, Clone)]
struct Lifts {
    instance: Option<u32>,
    memory: Option<String>,
    realloc: Option<String>,
    missing_realloc: bool,
}

impl Lifts {
    /// Checks one lift's core function and options against the others and
    /// against what `abi.rs` implements.
    fn add(
        &mut self,
        top: &Top,
        name: &str,
        core: u32,
        options: &[CanonicalOption],
    ) -> Result<Lifted, Refusal> {
        let (instance, export) = top
            .core_funcs
            .get(core as usize)
            .cloned()
            .flatten()
            .ok_or_else(|| format!("`{name}` lifts a core function that is not an export"))?;
        let main = *self.instance.get_or_insert(instance);
        if instance != main {
            return Err(format!(
                "`{name}` lifts a function of another core instance"
            ));
        }
        // A core item of the main instance, by its export name.
        let own = |space: &[Option<(u32, String)>], index: u32, what: &str| match space
            .get(index as usize)
        {
            Some(Some((i, export))) if *i == main => Ok(export.clone()),
            _ => Err(format!("`{name}`'s {what} is not the main instance's")),
        };
        let same = |slot: &mut Option<String>, value: String, what: &str| match slot {
            Some(existing) if *existing != value => {
                Err(format!("`{name}` uses another {what} than the other lifts"))
            }
            _ => {
                *slot = Some(value);
                Ok(())
            }
        };
        let (mut memory, mut realloc, mut post_return) = (None, None, None);
        for option in options {
            match option {
                CanonicalOption::UTF8 => {}
                CanonicalOption::UTF16 => return Err(format!("`{name}` lifts strings as UTF-16")),
                CanonicalOption::CompactUTF16 => {
                    return Err(format!("`{name}` lifts strings as latin1+utf16"));
                }
                CanonicalOption::Memory(m) => memory = Some(own(&top.core_memories, *m, "memory")?),
                CanonicalOption::Realloc(r) => realloc = Some(own(&top.core_funcs, *r, "realloc")?),
                CanonicalOption::PostReturn(p) => {
                    post_return = Some(own(&top.core_funcs, *p, "post-return")?);
                }
                other => return Err(format!("`{name}` has the canonical option {other:?}")),
            }
        }
        // Every one of these returns through memory.
        let memory = memory.ok_or_else(|| format!("`{name}` names no memory"))?;
        same(&mut self.memory, memory, "memory")?;
        if LOWERS_LISTS.contains(&name) {
            match realloc {
                Some(r) => same(&mut self.realloc, r, "realloc")?,
                None => self.missing_realloc = true,
            }
        }
        Ok(Lifted {
            export,
            post_return,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plan for the 0.1.0 export these test components make.
    fn plan_v01(bytes: &[u8]) -> Result<Plan, Refusal> {
        plan(bytes, WitVersion::V0_1)
    }

    const NAMES: [&str; 8] = [
        "fast1",
        "fast2",
        "fast3",
        "take-result",
        "call0",
        "call1",
        "call2",
        "call3",
    ];

    /// A skeleton component: one main instance whose `f` is lifted as every
    /// function the plan looks for. `extra` goes after the main instance,
    /// `options` into the lift; `guest` replaces the exported instance.
    /// Types are not checked here (wasmtime validates before the plan
    /// runs), so one empty function type serves every lift.
    fn component(extra: &str, options: &str, guest: Option<&str>) -> Vec<u8> {
        let exports: String = NAMES
            .iter()
            .map(|n| format!(r#"(export "{n}" (func $lifted)) "#))
            .collect();
        let guest = guest.map_or_else(|| format!("(instance $guest {exports})"), str::to_string);
        let text = format!(
            r#"(component
              (core module $main
                (memory (export "memory") 1)
                (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) i32.const 0)
                (func (export "f") (result i32) i32.const 0)
                (func (export "post") (param i32))
                (func (export "_initialize")))
              (core instance $m (instantiate $main))
              (alias core export $m "memory" (core memory $mem))
              (alias core export $m "cabi_realloc" (core func $realloc))
              (alias core export $m "f" (core func $f))
              (alias core export $m "post" (core func $post))
              {extra}
              (type $t (func))
              (func $lifted (type $t) (canon lift (core func $f) (memory $mem) (realloc $realloc) {options}))
              {guest}
              (export "wasmudf:udf/guest@0.1.0" (instance $guest)))"#
        );
        wat::parse_str(text).expect("test component parses")
    }

    fn refused(bytes: &[u8], why: &str) {
        match plan_v01(bytes) {
            Ok(p) => panic!("expected a refusal ({why}), got {p:?}"),
            Err(e) => assert!(e.contains(why), "{e}"),
        }
    }

    #[test]
    fn a_plain_component_names_its_exports_and_options() {
        let p = plan_v01(&component("", "(post-return $post)", None)).expect("plan");
        assert_eq!(p.memory, "memory");
        assert_eq!(p.realloc, "cabi_realloc");
        for lifted in p.fast.iter().chain([&p.take_result]).chain(&p.calls) {
            assert_eq!(lifted.export, "f");
            assert_eq!(lifted.post_return.as_deref(), Some("post"));
        }
        assert!(p.initialize.is_empty());
        // No accumulator methods: aggregates stay on the component path,
        // scalars keep their plan.
        let refusal = p.accumulator.expect_err("no accumulator");
        assert!(refusal.contains("accumulator.create"), "{refusal}");
    }

    #[test]
    fn core_modules_and_garbage_have_no_plan() {
        assert!(plan_v01(b"\0asm\x01\0\0\0").is_err());
        assert!(plan_v01(b"not wasm at all").is_err());
        assert!(plan_v01(&[]).is_err());
    }

    /// With an instance exported under each version, the plan follows the
    /// version it is asked for, never the other one: the loader's choice
    /// and the direct path's can then not differ.
    #[test]
    fn the_plan_follows_the_version_it_is_given() {
        let exports = |func: &str| -> String {
            NAMES
                .iter()
                .map(|n| format!(r#"(export "{n}" (func {func})) "#))
                .collect()
        };
        let guest = format!(
            r#"(instance $guest {})
               (func $other (type $t) (canon lift (core func $post) (memory $mem) (realloc $realloc)))
               (instance $newer {})
               (export "wasmudf:udf/guest@0.2.0" (instance $newer))"#,
            exports("$lifted"),
            exports("$other"),
        );
        let bytes = component("", "", Some(&guest));
        let old = plan(&bytes, WitVersion::V0_1).expect("0.1.0 plan");
        let new = plan(&bytes, WitVersion::V0_2).expect("0.2.0 plan");
        assert!(old.fast.iter().all(|l| l.export == "f"), "{old:?}");
        assert!(new.fast.iter().all(|l| l.export == "post"), "{new:?}");
        // A version the component does not export has no plan.
        let only_old = component("", "", None);
        let refusal = plan(&only_old, WitVersion::V0_2).expect_err("no 0.2.0 export");
        assert!(refusal.contains("@0.2.0"), "{refusal}");
    }

    #[test]
    fn string_encodings_other_than_utf8_are_refused() {
        refused(&component("", "string-encoding=utf16", None), "UTF-16");
        refused(
            &component("", "string-encoding=latin1+utf16", None),
            "latin1+utf16",
        );
        assert!(plan_v01(&component("", "string-encoding=utf8", None)).is_ok());
    }

    #[test]
    fn wit_components_initialize_shim_is_repeated() {
        let shim = r#"
            (core module $shim (import "" "" (func)) (start 0))
            (alias core export $m "_initialize" (core func $init))
            (core instance $args (export "" (func $init)))
            (core instance (instantiate $shim (with "" (instance $args))))"#;
        let p = plan_v01(&component(shim, "", None)).expect("plan");
        assert_eq!(p.initialize, ["_initialize"]);
    }

    #[test]
    fn another_instances_start_function_is_refused() {
        let other = r#"
            (core module $s (func $x) (start $x))
            (core instance (instantiate $s))"#;
        refused(&component(other, "", None), "start function");
        let exports: String = NAMES
            .iter()
            .map(|n| format!(r#"(export "{n}" (func $lifted)) "#))
            .collect();
        let with_start = format!("(instance $guest {exports}) (start $lifted)");
        refused(&component("", "", Some(&with_start)), "start function");
    }

    #[test]
    fn writing_into_the_main_instances_memory_is_refused() {
        let writer = r#"
            (core module $w (import "m" "memory" (memory 1)) (data (i32.const 0) "x"))
            (core instance (instantiate $w (with "m" (instance $m))))"#;
        refused(&component(writer, "", None), "may share");
        let through_exports = r#"
            (core instance $mem-only (export "memory" (memory $mem)))
            (core module $w (import "m" "memory" (memory 1)) (data (i32.const 0) "x"))
            (core instance (instantiate $w (with "m" (instance $mem-only))))"#;
        refused(&component(through_exports, "", None), "may share");
    }

    #[test]
    fn filling_another_modules_table_is_allowed() {
        // wit-component's fixups module fills the shim's table this way.
        let fixups = r#"
            (core module $tab (table (export "t") 1 funcref))
            (core instance $tabi (instantiate $tab))
            (alias core export $tabi "t" (core table $tt))
            (core instance $targs (export "t" (table $tt)))
            (core module $fix (import "x" "t" (table 1 funcref)) (func $g) (elem (i32.const 0) func $g))
            (core instance (instantiate $fix (with "x" (instance $targs))))"#;
        assert!(plan_v01(&component(fixups, "", None)).is_ok());
    }

    #[test]
    fn a_lift_of_another_instance_is_refused() {
        let second = r#"
            (core instance $m2 (instantiate $main))
            (alias core export $m2 "f" (core func $f2))
            (type $t2 (func))
            (func $other (type $t2) (canon lift (core func $f2) (memory $mem)))"#;
        let guest: String = NAMES
            .iter()
            .map(|n| {
                let f = if *n == "call2" { "$other" } else { "$lifted" };
                format!(r#"(export "{n}" (func {f})) "#)
            })
            .collect();
        let bytes = component(second, "", Some(&format!("(instance $guest {guest})")));
        refused(&bytes, "another core instance");
    }

    #[test]
    fn a_nested_component_that_only_re_exports_is_followed() {
        let imports: String = NAMES
            .iter()
            .map(|n| format!(r#"(import "import-{n}" (func ${n})) (export "{n}" (func ${n})) "#))
            .collect();
        let args: String = NAMES
            .iter()
            .map(|n| format!(r#"(with "import-{n}" (func $lifted)) "#))
            .collect();
        let guest =
            format!("(component $shape {imports}) (instance $guest (instantiate $shape {args}))");
        assert!(plan_v01(&component("", "", Some(&guest))).is_ok());
        // One that also instantiates a core module may run code: refused.
        let busy = guest.replace(
            "(component $shape ",
            "(component $shape (core module $x) (core instance (instantiate $x)) ",
        );
        refused(
            &component("", "", Some(&busy)),
            "not a function we can follow",
        );
    }
}
