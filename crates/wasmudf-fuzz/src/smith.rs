//! Random components for the `wasmudf:udf` world: a core module from
//! `wasm-smith` with exactly the world's core exports and imports (the
//! shapes `wit-component`'s dummy module has) and random bodies, whose
//! `manifest` export is replaced by one that writes an arbitrary manifest
//! into memory and returns it, wrapped into a component by `wit-component`
//! as `wasm32-wasip2` builds are.
//!
//! The manifest is what gets a random module past load: with random
//! bodies everywhere else, every call then returns, traps or loops in ways
//! no SDK would, through both the direct path's hand-written lifting and
//! wasmtime's.

use std::convert::Infallible;
use std::sync::OnceLock;

use arbitrary::{Arbitrary, Result, Unstructured};
use wasm_encoder::reencode::{Reencode, utils};
use wasm_encoder::{BlockType, CodeSection, Function, Instruction, MemArg};
use wit_parser::{ManglingAndAbi, LiftLowerAbi, Resolve, WorldId};

/// One version of the world, with its dummy module (every core import and
/// export, with trapping bodies).
struct World {
    v0_1: bool,
    resolve: Resolve,
    world: WorldId,
    dummy: Vec<u8>,
}

fn worlds() -> &'static [World; 2] {
    static WORLDS: OnceLock<[World; 2]> = OnceLock::new();
    WORLDS.get_or_init(|| {
        let load = |dir: &str, v0_1: bool| {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
            let mut resolve = Resolve::default();
            let (package, _) = resolve
                .push_dir(&path)
                .unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
            let world = resolve
                .select_world(&[package], Some("udf"))
                .unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
            let dummy = wit_component::dummy_module(
                &resolve,
                world,
                ManglingAndAbi::Legacy(LiftLowerAbi::Sync),
            );
            World { v0_1, resolve, world, dummy }
        };
        [load("../../wit", false), load("../../wit/0.1.0", true)]
    })
}

/// Names a manifest may use: ordinary ones, SQLite builtins and modules,
/// our catalog's, SQL-unfriendly ones and the edges of the validator.
const NAMES: &[&str] = &[
    "f", "g", "agg", "win", "tbl", "F", "abs", "count", "sum", "lower", "row_number",
    "json_each", "pragma_table_info", "wasmudf_functions", "sqlite_x", "f\"q", "é", "arg1",
    "", "a\0b",
];

/// A name: from [`NAMES`], a long one, or any string.
#[derive(Debug, Arbitrary)]
enum Name {
    Known(u8),
    Long(u16),
    Raw(String),
}

impl Name {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Name::Known(i) => NAMES[usize::from(*i) % NAMES.len()].as_bytes().to_vec(),
            Name::Long(n) => vec![b'x'; usize::from(*n % 300)],
            Name::Raw(s) => s.as_bytes().to_vec(),
        }
    }
}

/// One manifest entry, as written into guest memory.
#[derive(Debug, Arbitrary)]
struct Spec {
    name: Name,
    arity: u8,
    raw_arity: i16,
    kind: u8,
    flags: u8,
    returns: Option<u8>,
    params: Option<Vec<u8>>,
    mergeable: bool,
    columns: Vec<Name>,
    /// Which field, if any, is written as no valid manifest has it.
    corrupt: u8,
}

impl Spec {
    fn arity(&self) -> i16 {
        match self.arity % 8 {
            0 => -1,
            7 => self.raw_arity,
            n => i16::from(n) - 1,
        }
    }
}

/// Bytes laid out from `base` in guest memory, the canonical ABI's layout
/// of the manifest's `list<function-spec>` with its return area first.
struct Image {
    base: u32,
    bytes: Vec<u8>,
}

impl Image {
    fn at(&self) -> u32 {
        self.base + u32::try_from(self.bytes.len()).unwrap_or(u32::MAX)
    }

    fn align(&mut self, to: usize) {
        while self.bytes.len() % to != 0 {
            self.bytes.push(0);
        }
    }

    /// Appends `data` (aligned to `align`) and returns where it is.
    fn push(&mut self, data: &[u8], align: usize) -> u32 {
        self.align(align);
        let at = self.at();
        self.bytes.extend_from_slice(data);
        at
    }

    fn put(&mut self, offset: usize, data: &[u8]) {
        self.bytes[offset..offset + data.len()].copy_from_slice(data);
    }
}

/// The size of one `function-spec`: 40 bytes in 0.2.0, 12 in 0.1.0
/// (checked against wit-parser's own layout when the worlds load).
fn record_size(v0_1: bool) -> usize {
    if v0_1 { 12 } else { 40 }
}

fn manifest_image(specs: &[Spec], v0_1: bool, base: u32) -> (Image, u32) {
    let mut image = Image { base, bytes: Vec::new() };
    let ret = image.push(&[0; 8], 4);
    let size = record_size(v0_1);
    let records = image.push(&vec![0; size * specs.len()], 4);
    for (i, spec) in specs.iter().enumerate() {
        let r = (records - base) as usize + i * size;
        let mut name = spec.name.bytes();
        if spec.corrupt % 16 == 4 {
            name.push(0xff);
        }
        let name_at = image.push(&name, 1);
        let name_at = if spec.corrupt % 16 == 3 { 0xffff_fff0 } else { name_at };
        image.put(r, &name_at.to_le_bytes());
        image.put(r + 4, &u32::try_from(name.len()).unwrap_or(0).to_le_bytes());
        image.put(r + 8, &spec.arity().to_le_bytes());
        let kinds = if v0_1 { 3 } else { 4 };
        let kind = if spec.corrupt % 16 == 1 { 9 } else { spec.kind % kinds };
        image.put(r + 10, &[kind]);
        let flags = if spec.corrupt % 16 == 2 { spec.flags | 0x80 } else { spec.flags & 7 };
        image.put(r + 11, &[flags]);
        if v0_1 {
            continue;
        }
        if let Some(t) = spec.returns {
            let disc = if spec.corrupt % 16 == 5 { 7 } else { 1 };
            image.put(r + 12, &[disc, t % 5]);
        }
        if let Some(params) = &spec.params {
            let params: Vec<u8> = params.iter().take(8).map(|t| t % 5).collect();
            let at = image.push(&params, 1);
            image.put(r + 16, &[1]);
            image.put(r + 20, &at.to_le_bytes());
            image.put(r + 24, &u32::try_from(params.len()).unwrap_or(0).to_le_bytes());
        }
        image.put(r + 28, &[u8::from(spec.mergeable)]);
        let columns: Vec<Vec<u8>> = spec.columns.iter().take(6).map(Name::bytes).collect();
        let mut pairs = Vec::new();
        for c in &columns {
            let at = image.push(c, 1);
            pairs.extend(at.to_le_bytes());
            pairs.extend(u32::try_from(c.len()).unwrap_or(0).to_le_bytes());
        }
        let at = image.push(&pairs, 4);
        image.put(r + 32, &at.to_le_bytes());
        image.put(r + 36, &u32::try_from(columns.len()).unwrap_or(0).to_le_bytes());
    }
    let ret_offset = (ret - base) as usize;
    image.put(ret_offset, &records.to_le_bytes());
    image.put(ret_offset + 4, &u32::try_from(specs.len()).unwrap_or(0).to_le_bytes());
    (image, ret)
}

/// The body of `manifest`: grow memory `memory` to hold `image`, write
/// it, return `ret`.
fn manifest_body(image: &Image, ret: u32, memory: u32) -> Function {
    let pages = i32::try_from(image.at() / 65536 + 1).unwrap_or(i32::MAX);
    let mut f = Function::new([]);
    f.instruction(&Instruction::Block(BlockType::Empty));
    f.instruction(&Instruction::MemorySize(memory));
    f.instruction(&Instruction::I32Const(pages));
    f.instruction(&Instruction::I32GeU);
    f.instruction(&Instruction::BrIf(0));
    f.instruction(&Instruction::I32Const(pages));
    f.instruction(&Instruction::MemorySize(memory));
    f.instruction(&Instruction::I32Sub);
    f.instruction(&Instruction::MemoryGrow(memory));
    f.instruction(&Instruction::Drop);
    f.instruction(&Instruction::End);
    let arg = MemArg { offset: 0, align: 0, memory_index: memory };
    for (i, chunk) in image.bytes.chunks(8).enumerate() {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        let at = image.base + 8 * u32::try_from(i).unwrap_or(0);
        f.instruction(&Instruction::I32Const(at as i32));
        f.instruction(&Instruction::I64Const(i64::from_le_bytes(word)));
        f.instruction(&Instruction::I64Store(arg));
    }
    f.instruction(&Instruction::I32Const(ret as i32));
    f.instruction(&Instruction::End);
    f
}

/// Re-encodes a module with one function's body replaced.
struct ReplaceBody {
    target: u32,
    next: u32,
    body: Function,
}

impl Reencode for ReplaceBody {
    type Error = Infallible;

    fn parse_function_body(
        &mut self,
        code: &mut CodeSection,
        func: wasmparser::FunctionBody<'_>,
    ) -> std::result::Result<(), wasm_encoder::reencode::Error<Infallible>> {
        let index = self.next;
        self.next += 1;
        if index == self.target {
            code.function(&self.body);
            Ok(())
        } else {
            utils::parse_function_body(self, code, func)
        }
    }
}

/// The index of the function exported as `func` and of the memory
/// exported as `memory`, and how many functions the module imports.
fn find_exports(module: &[u8], func: &str) -> Option<(u32, u32, u32)> {
    let (mut f, mut m, mut imported) = (None, None, 0);
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        match payload.ok()? {
            wasmparser::Payload::ImportSection(s) => {
                for import in s.into_imports() {
                    if matches!(import.ok()?.ty, wasmparser::TypeRef::Func(_)) {
                        imported += 1;
                    }
                }
            }
            wasmparser::Payload::ExportSection(s) => {
                for export in s {
                    let export = export.ok()?;
                    match export.kind {
                        wasmparser::ExternalKind::Func if export.name == func => {
                            f = Some(export.index);
                        }
                        wasmparser::ExternalKind::Memory if export.name == "memory" => {
                            m = Some(export.index);
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Some((f?, m?, imported))
}

/// A random component for the `udf` world (0.2.0 most of the time, 0.1.0
/// otherwise), or `None` when `wasm-smith`'s module could not be made one
/// (which the fuzzer learns to avoid).
pub fn component(u: &mut Unstructured<'_>) -> Result<Option<Vec<u8>>> {
    let world = &worlds()[usize::from(u.ratio(1, 4)?)];
    let n = u.int_in_range(0..=5)?;
    let specs: Vec<Spec> = (0..n).map(|_| Spec::arbitrary(u)).collect::<Result<_>>()?;
    let base = u.int_in_range(0..=4)? * 4096 + 1024;

    let mut config = wasm_smith::Config {
        available_imports: Some(world.dummy.clone()),
        exports: Some(world.dummy.clone()),
        max_memories: 1,
        max_tables: 2,
        max_funcs: 30,
        max_instructions: 200,
        max_memory32_bytes: 4 << 20,
        memory64_enabled: false,
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        gc_enabled: false,
        exceptions_enabled: false,
        custom_page_sizes_enabled: false,
        wide_arithmetic_enabled: false,
        ..wasm_smith::Config::default()
    };
    config.canonicalize_nans = false;
    let module = wasm_smith::Module::new(config, u)?.to_bytes();

    let version = if world.v0_1 { "0.1.0" } else { "0.2.0" };
    let manifest = format!("wasmudf:udf/guest@{version}#manifest");
    let Some((func, memory, _imported)) = find_exports(&module, &manifest) else {
        return Ok(None);
    };
    let (image, ret) = manifest_image(&specs, world.v0_1, base);
    let mut patch = ReplaceBody { target: func, next: 0, body: manifest_body(&image, ret, memory) };
    // Defined functions are numbered after the imported ones.
    patch.next = _imported;
    let mut patched = wasm_encoder::Module::new();
    if patch.parse_core_module(&mut patched, wasmparser::Parser::new(0), &module).is_err() {
        return Ok(None);
    }
    let mut patched = patched.finish();
    if wit_component::embed_component_metadata(
        &mut patched,
        &world.resolve,
        world.world,
        wit_component::StringEncoding::UTF8,
    )
    .is_err()
    {
        return Ok(None);
    }
    let encoded = wit_component::ComponentEncoder::default()
        .module(&patched)
        .and_then(|e| e.validate(false).encode());
    Ok(encoded.ok())
}

/// Checks [`record_size`] against wit-parser's layout of `function-spec`
/// in each world (the image would be garbage otherwise).
pub fn check_layouts() {
    for world in worlds() {
        let mut sizes = wit_parser::SizeAlign::default();
        sizes.fill(&world.resolve);
        let spec = world
            .resolve
            .types
            .iter()
            .find(|(_, t)| t.name.as_deref() == Some("function-spec"))
            .map(|(id, _)| id)
            .unwrap_or_else(|| panic!("no function-spec"));
        let size = sizes.size(&wit_parser::Type::Id(spec)).size_wasm32();
        assert_eq!(size, record_size(world.v0_1), "function-spec layout (0.1.0: {})", world.v0_1);
    }
}
