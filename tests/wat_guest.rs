//! Guests written by hand as a core module in WAT and made into components
//! for the `wasmudf:udf` world with `wit-component`, the same tool behind
//! `wasm32-wasip2` and `cargo component` builds.
//!
//! They let a test build what no guest SDK would emit: several memories,
//! another string encoding, odd exports. A module writes only the exports
//! its test is about; [`stub_exports`] fills in the rest of the world with
//! functions that trap, and [`manifest`] lays out the manifest's answer as
//! a data segment.

use std::fmt::Write as _;

pub use wit_component::StringEncoding;

/// Every core export the world needs, as `(name, params, results)`.
const EXPORTS: &[(&str, &str, &str)] = &[
    ("call0", "i32", "i32"),
    ("call1", "i32 i32 i64 i32", "i32"),
    ("call2", "i32 i32 i64 i32 i32 i64 i32", "i32"),
    ("call3", "i32 i32 i64 i32 i32 i64 i32 i32 i64 i32", "i32"),
    ("call", "i32 i32 i32", "i32"),
    ("fast1", "i32 i32 i64", "i32"),
    ("fast2", "i32 i32 i64 i32 i64", "i32"),
    ("fast3", "i32 i32 i64 i32 i64 i32 i64", "i32"),
    ("take-result", "", "i32"),
    ("[static]accumulator.create", "i32", "i32"),
    ("[method]accumulator.step", "i32 i32 i32 i32", "i32"),
    (
        "[method]accumulator.step-integers",
        "i32 i32 i32 i32",
        "i32",
    ),
    ("[method]accumulator.step-reals", "i32 i32 i32 i32", "i32"),
    ("[method]accumulator.inverse", "i32 i32 i32 i32", "i32"),
    ("[method]accumulator.value", "i32", "i32"),
    ("[static]accumulator.finish", "i32", "i32"),
];

/// The core exports 0.2.0 has beyond [`EXPORTS`], as `(name, params,
/// results)`.
const EXPORTS_0_2_0: &[(&str, &str, &str)] = &[
    ("call-columns", "i32 i32 i32 i32", "i32"),
    ("[method]accumulator.step-columns", "i32 i32 i32 i32", "i32"),
    (
        "[method]accumulator.inverse-columns",
        "i32 i32 i32 i32",
        "i32",
    ),
    ("[method]accumulator.serialize", "i32", "i32"),
    ("[method]accumulator.merge", "i32 i32 i32", "i32"),
    ("[static]cursor.open", "i32 i32 i32", "i32"),
    ("[method]cursor.next", "i32 i32", "i32"),
];

/// The prefix of the guest interface's core export names.
pub const PREFIX: &str = "wasmudf:udf/guest@0.1.0#";

/// The prefix of the 0.2.0 guest interface's core export names.
pub const PREFIX_0_2_0: &str = "wasmudf:udf/guest@0.2.0#";

/// Trapping definitions of every guest export not named in `defined`
/// (names without [`PREFIX`], e.g. `"fast1"`).
pub fn stub_exports(defined: &[&str]) -> String {
    stubs(PREFIX, EXPORTS, defined)
}

/// [`stub_exports`] for the 0.2.0 interface, whose names start with
/// [`PREFIX_0_2_0`] and which has the column, mergeable and cursor exports
/// too.
pub fn stub_exports_0_2_0(defined: &[&str]) -> String {
    stubs(PREFIX_0_2_0, EXPORTS, defined) + &stubs(PREFIX_0_2_0, EXPORTS_0_2_0, defined)
}

fn stubs(prefix: &str, exports: &[(&str, &str, &str)], defined: &[&str]) -> String {
    let mut wat = String::new();
    for (name, params, results) in exports {
        if !defined.contains(name) {
            writeln!(
                wat,
                "(func (export \"{prefix}{name}\") (param {params}) (result {results}) unreachable)"
            )
            .expect("write to String");
        }
    }
    wat
}

/// A function in a hand-written manifest: name, arity, kind (0 scalar,
/// 1 aggregate, 2 window) and flags (1 deterministic, 2 innocuous,
/// 4 direct-only).
pub type Spec<'a> = (&'a str, i16, u8, u8);

/// The `manifest` export and the data segment it returns, laid out at
/// `base` in memory 0 as the canonical ABI lays out a
/// `list<function-spec>`: a (pointer, length) pair, then 12-byte records
/// (name pointer and length, arity, kind, flags), then the names.
pub fn manifest(base: u32, functions: &[Spec<'_>]) -> String {
    manifest_for(PREFIX, 12, base, functions)
}

/// [`manifest`] for the 0.2.0 interface: 40-byte records, the 0.1.0 fields
/// followed by the 0.2.0 ones, all empty (no declared types, not
/// mergeable, no columns).
pub fn manifest_0_2_0(base: u32, functions: &[Spec<'_>]) -> String {
    manifest_for(PREFIX_0_2_0, 40, base, functions)
}

/// A manifest of `record`-byte records whose first 12 bytes are the 0.1.0
/// fields and the rest zero.
fn manifest_for(prefix: &str, record: u32, base: u32, functions: &[Spec<'_>]) -> String {
    let n = u32::try_from(functions.len()).expect("few functions");
    let records = base + 8;
    let mut names_at = records + record * n;
    let mut bytes = Vec::new();
    bytes.extend(records.to_le_bytes());
    bytes.extend(n.to_le_bytes());
    let mut names: Vec<u8> = Vec::new();
    for (name, arity, kind, flags) in functions {
        let len = u32::try_from(name.len()).expect("short name");
        bytes.extend(names_at.to_le_bytes());
        bytes.extend(len.to_le_bytes());
        bytes.extend(arity.to_le_bytes());
        bytes.push(*kind);
        bytes.push(*flags);
        bytes.resize(bytes.len() + (record as usize - 12), 0);
        names.extend(name.as_bytes());
        names_at += len;
    }
    bytes.extend(names);
    let data: String = bytes.iter().map(|b| format!("\\{b:02x}")).collect();
    format!(
        "(data (memory 0) (i32.const {base}) \"{data}\")\n\
         (func (export \"{prefix}manifest\") (result i32) i32.const {base})\n"
    )
}

/// A bump allocator as `cabi_realloc`, handing out memory 0 from `start`
/// (never freeing, never reallocating in place).
pub fn bump_realloc(start: u32) -> String {
    format!(
        "(global $bump (mut i32) (i32.const {start}))\n\
         (func (export \"cabi_realloc\") (param i32 i32 i32 i32) (result i32)\n\
           (local $at i32)\n\
           (local.set $at (global.get $bump))\n\
           (global.set $bump (i32.add (global.get $bump) (local.get 3)))\n\
           (local.get $at))\n"
    )
}

/// Makes a component for the `udf` world of `wit/0.1.0/` from a core
/// module in WAT whose strings use `encoding`. These guests stay on 0.1.0,
/// which hosts keep loading: the entry points they exercise are the same
/// in 0.2.0, and so they keep the older interface covered too.
pub fn component(core_wat: &str, encoding: StringEncoding) -> anyhow::Result<Vec<u8>> {
    let mut resolve = wit_parser::Resolve::default();
    let wit = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit/0.1.0");
    let (package, _) = resolve.push_dir(&wit)?;
    let world = resolve.select_world(&[package], Some("udf"))?;
    encode(resolve, world, core_wat, encoding)
}

/// Which versions of the guest interface a [`component_exporting`] guest
/// exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exports {
    /// `wasmudf:udf/guest@0.1.0` only.
    V0_1_0,
    /// `wasmudf:udf/guest@0.2.0` only.
    V0_2_0,
    /// Both, 0.1.0 first: what no SDK builds and the host refuses.
    Both,
}

/// Makes a component from a core module in WAT for a world exporting the
/// interface versions `exports` names (UTF-8 strings). The module defines
/// the core exports of each version it exports ([`stub_exports`],
/// [`stub_exports_0_2_0`]).
pub fn component_exporting(core_wat: &str, exports: Exports) -> anyhow::Result<Vec<u8>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
    let mut resolve = wit_parser::Resolve::default();
    let (old, _) = resolve.push_dir(root.join("0.1.0"))?;
    let (new, _) = resolve.push_dir(&root)?;
    let world = match exports {
        Exports::V0_1_0 => resolve.select_world(&[old], Some("udf"))?,
        Exports::V0_2_0 => resolve.select_world(&[new], Some("udf"))?,
        Exports::Both => {
            let both = resolve.push_str(
                "both.wit",
                "package test:both;\n\
                 world both {\n\
                   export wasmudf:udf/guest@0.1.0;\n\
                   export wasmudf:udf/guest@0.2.0;\n\
                 }\n",
            )?;
            resolve.select_world(&[both], Some("both"))?
        }
    };
    encode(resolve, world, core_wat, StringEncoding::UTF8)
}

fn encode(
    resolve: wit_parser::Resolve,
    world: wit_parser::WorldId,
    core_wat: &str,
    encoding: StringEncoding,
) -> anyhow::Result<Vec<u8>> {
    let mut module = wat::parse_str(core_wat)?;
    wit_component::embed_component_metadata(&mut module, &resolve, world, encoding)?;
    wit_component::ComponentEncoder::default()
        .module(&module)?
        .validate(true)
        .encode()
}
