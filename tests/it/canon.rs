//! Hostile components written in the component text format, against the
//! direct path: it must run exactly what the component's own canonical
//! definitions say, or nothing.
//!
//! [`wat_guest`] writes a small but complete `wasmudf:udf/guest@0.1.0`
//! component by hand, with knobs for what a hostile or unusual toolchain
//! might do: lift strings as UTF-16, hide a decoy core module, give the
//! lifts post-return functions, take a lift's memory from another instance.
//!
//! Its functions (manifest order):
//! - `wat_len(x)`: a number comes back unchanged; TEXT or BLOB gives the
//!   length the guest was handed, in the lift's string units;
//! - `wat_text()`: the TEXT at a fixed place in memory, `h\0i\0`, two code
//!   units long (so `hi` read as UTF-16);
//! - `wat_count(x)`: counts its calls in guest state;
//! - `wat_burn(n)`: loops `n` times, then reads the monotonic clock (a WASI
//!   import, so the direct path must hand the call over) and returns `n`;
//! - `wat_agg(x)`: an aggregate answering 7, whose accumulator's `create`
//!   loops [`Knobs::create_burn`] times and then, if that is not zero,
//!   reads the monotonic clock, and whose destructor (reached through
//!   wit-component's shim, as a Rust guest's is) does the same with
//!   [`Knobs::dtor_burn`]; a step with 13 as its first row fails.
//!
//! Every export refuses to run (traps) while the previous call's
//! post-return function has not run, and every post-return function checks
//! that it got the return pointer: a host that skips a post-return, or
//! calls it wrongly, sees a trap on the next call.

use anyhow::Result;
use rusqlite::Connection;
use rusqlite::types::Value;
use wasmudf::{Component, Engine, Limits};

/// What to vary in [`wat_guest`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Knobs {
    /// A canonical option added to every lift, e.g.
    /// `string-encoding=utf16`.
    pub(crate) encoding: &'static str,
    /// A decoy core module, never instantiated, before the real one; its
    /// exports have the canonical names and answer 666.
    pub(crate) decoy: bool,
    /// Lift `call0` with the memory of another core instance.
    pub(crate) call0_foreign_memory: bool,
    /// Leave the post-return off the `fast1` lift. The guest then traps on
    /// the next call on either path; it proves the checks are real.
    pub(crate) no_fast1_post_return: bool,
    /// How many times `wat_agg`'s `create` loops before it reads the clock
    /// (0: it neither loops nor reads the clock).
    pub(crate) create_burn: u64,
    /// The same for the accumulator's destructor.
    pub(crate) dtor_burn: u64,
}

use wasmudf_tests::wat_guest::PREFIX;

/// The guest's main core module, with `burn` for [`Knobs::create_burn`]
/// and [`Knobs::dtor_burn`].
fn main_module(knobs: &Knobs) -> String {
    let p = PREFIX;
    let burn = |n: u64| {
        let read_clock = if n > 0 { "(drop (call $now))" } else { "" };
        format!(
            "(block $done
               (loop $burn
                 (br_if $done (i64.ge_u (local.get $i) (i64.const {n})))
                 (local.set $i (i64.add (local.get $i) (i64.const 1)))
                 (br $burn)))
             {read_clock}"
        )
    };
    let (create_burn, dtor_burn) = (burn(knobs.create_burn), burn(knobs.dtor_burn));
    format!(
        r#"
  (core module $main
    (import "clock" "now" (func $now (result i64)))
    (import "acc" "new" (func $acc-new (param i32) (result i32)))
    (memory (export "memory") 1)
    (global $heap (mut i32) (i32.const 4096))
    (global $busy (mut i32) (i32.const 0))
    (global $count (mut i64) (i64.const 0))
    ;; Manifest: 5 records of 12 bytes at 128; names at 256.
    (data (i32.const 128)
      "\00\01\00\00\07\00\00\00\01\00\00\01"
      "\08\01\00\00\08\00\00\00\00\00\00\01"
      "\10\01\00\00\09\00\00\00\01\00\00\00"
      "\20\01\00\00\08\00\00\00\01\00\00\00"
      "\28\01\00\00\07\00\00\00\01\00\01\00")
    (data (i32.const 256) "wat_len\00wat_textwat_count\00\00\00\00\00\00\00wat_burnwat_agg")
    (data (i32.const 64) "h\00i\00")
    (data (i32.const 80) "bad call")
    (func $realloc (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      (local.set $p (i32.and (i32.add (global.get $heap) (i32.const 7)) (i32.const -8)))
      (global.set $heap (i32.add (local.get $p) (local.get 3)))
      (if (i32.gt_u (global.get $heap) (i32.const 65536)) (then unreachable))
      (local.get $p))
    (func $enter
      (if (global.get $busy) (then unreachable))
      (global.set $busy (i32.const 1)))
    (func $post (export "cabi_post") (param i32)
      (if (i32.eqz (global.get $busy)) (then unreachable))
      (if (i32.and (i32.ne (local.get 0) (i32.const 16)) (i32.ne (local.get 0) (i32.const 32)))
        (then unreachable))
      (global.set $busy (i32.const 0)))
    (func $bad (result i32)
      (i32.store8 (i32.const 32) (i32.const 1))
      (i32.store (i32.const 40) (i32.const 80))
      (i32.store (i32.const 44) (i32.const 8))
      (i32.const 32))
    (func $fast (param $id i32) (param $d i32) (param $v i64) (result i32)
      (local $i i64)
      (call $enter)
      (if (i32.eq (local.get $id) (i32.const 2))
        (then
          (global.set $count (i64.add (global.get $count) (i64.const 1)))
          (local.set $d (i32.const 1))
          (local.set $v (global.get $count))))
      (if (i32.eq (local.get $id) (i32.const 3))
        (then
          (block $done
            (loop $burn
              (br_if $done (i64.ge_s (local.get $i) (local.get $v)))
              (local.set $i (i64.add (local.get $i) (i64.const 1)))
              (br $burn)))
          (drop (call $now))))
      (i32.store8 (i32.const 16) (local.get $d))
      (i64.store (i32.const 24) (local.get $v))
      (i32.const 16))
    (func (export "{p}fast1") (param i32 i32 i64) (result i32)
      (call $fast (local.get 0) (local.get 1) (local.get 2)))
    (func (export "{p}fast2") (param i32 i32 i64 i32 i64) (result i32) unreachable)
    (func (export "{p}fast3") (param i32 i32 i64 i32 i64 i32 i64) (result i32) unreachable)
    (func (export "{p}take-result") (result i32) (call $enter) (call $bad))
    (func (export "{p}call0") (param $id i32) (result i32)
      (call $enter)
      (if (i32.ne (local.get $id) (i32.const 1)) (then (return (call $bad))))
      (i32.store8 (i32.const 32) (i32.const 0))
      (i32.store8 (i32.const 40) (i32.const 3))
      (i32.store (i32.const 48) (i32.const 64))
      (i32.store (i32.const 52) (i32.const 2))
      (i32.const 32))
    (func (export "{p}call1") (param $id i32) (param $d i32) (param $v i64) (param $len i32) (result i32)
      (call $enter)
      (if (i32.eq (local.get $id) (i32.const 2))
        (then
          (global.set $count (i64.add (global.get $count) (i64.const 1)))
          (local.set $d (i32.const 1))
          (local.set $v (global.get $count))))
      (if (i32.ge_u (local.get $d) (i32.const 3))
        (then
          (local.set $d (i32.const 1))
          (local.set $v (i64.extend_i32_u (local.get $len)))))
      (i32.store8 (i32.const 32) (i32.const 0))
      (i32.store8 (i32.const 40) (local.get $d))
      (i64.store (i32.const 48) (local.get $v))
      (i32.const 32))
    (func (export "{p}call2") (param i32 i32 i64 i32 i32 i64 i32) (result i32) unreachable)
    (func (export "{p}call3") (param i32 i32 i64 i32 i32 i64 i32 i32 i64 i32) (result i32) unreachable)
    (func (export "{p}call") (param i32 i32 i32) (result i32) unreachable)
    (func (export "{p}manifest") (result i32)
      (i32.store (i32.const 8) (i32.const 128))
      (i32.store (i32.const 12) (i32.const 5))
      (i32.const 8))
    ;; `wat_agg`: `create` and the destructor burn, then read the clock;
    ;; every step is accepted but one whose first row is 13, and `value`
    ;; and `finish` answer 7.
    (func (export "{p}[static]accumulator.create") (param i32) (result i32)
      (local $i i64)
      {create_burn}
      (i32.store (i32.const 100) (call $acc-new (i32.const 1)))
      (i32.store8 (i32.const 96) (i32.const 0))
      (i32.const 96))
    (func $accepted (result i32)
      (i32.store8 (i32.const 96) (i32.const 0))
      (i32.const 96))
    (func $seven (result i32)
      (i32.store8 (i32.const 96) (i32.const 0))
      (i32.store8 (i32.const 104) (i32.const 1))
      (i64.store (i32.const 112) (i64.const 7))
      (i32.const 96))
    (func (export "{p}[method]accumulator.step") (param i32 i32 i32 i32) (result i32) (call $accepted))
    (func (export "{p}[method]accumulator.step-integers") (param i32 i32 i32 i32) (result i32)
      (if (i32.and (i32.ne (local.get 2) (i32.const 0))
                   (i64.eq (i64.load (local.get 1)) (i64.const 13)))
        (then
          (i32.store8 (i32.const 96) (i32.const 1))
          (i32.store (i32.const 100) (i32.const 80))
          (i32.store (i32.const 104) (i32.const 8))
          (return (i32.const 96))))
      (call $accepted))
    (func (export "acc-dtor") (param i32)
      (local $i i64)
      {dtor_burn})
    (func (export "{p}[method]accumulator.step-reals") (param i32 i32 i32 i32) (result i32) (call $accepted))
    (func (export "{p}[method]accumulator.inverse") (param i32 i32 i32 i32) (result i32) (call $accepted))
    (func (export "{p}[method]accumulator.value") (param i32) (result i32) (call $seven))
    (func (export "{p}[static]accumulator.finish") (param i32) (result i32) (call $seven))
  )
"#
    )
}

/// A module with the canonical export names whose scalar entry points all
/// answer 666; a component that never instantiates it must never run it.
fn decoy_module() -> String {
    let p = PREFIX;
    format!(
        r#"
  (core module $decoy
    (memory (export "memory") 1)
    (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
    (func $answer (result i32)
      (i32.store8 (i32.const 16) (i32.const 1))
      (i64.store (i32.const 24) (i64.const 666))
      (i32.const 16))
    (func $result (result i32)
      (i32.store8 (i32.const 32) (i32.const 0))
      (i32.store8 (i32.const 40) (i32.const 1))
      (i64.store (i32.const 48) (i64.const 666))
      (i32.const 32))
    (func (export "{p}fast1") (param i32 i32 i64) (result i32) (call $answer))
    (func (export "{p}fast2") (param i32 i32 i64 i32 i64) (result i32) (call $answer))
    (func (export "{p}fast3") (param i32 i32 i64 i32 i64 i32 i64) (result i32) (call $answer))
    (func (export "{p}take-result") (result i32) (call $result))
    (func (export "{p}call0") (param i32) (result i32) (call $result))
    (func (export "{p}call1") (param i32 i32 i64 i32) (result i32) (call $result))
    (func (export "{p}call2") (param i32 i32 i64 i32 i32 i64 i32) (result i32) (call $result))
    (func (export "{p}call3") (param i32 i32 i64 i32 i32 i64 i32 i32 i64 i32) (result i32) (call $result))
  )
"#
    )
}

/// The guest's value types, each named `$<name><sfx>`; `refs` is the
/// suffix of the types they refer to.
fn value_types(sfx: &str, refs: &str) -> String {
    format!(
        r#"
  (type $value{sfx} (variant (case "null") (case "integer" s64) (case "real" f64)
    (case "text" string) (case "blob" (list u8))))
  (type $kind{sfx} (enum "scalar" "aggregate" "window"))
  (type $flags{sfx} (flags "deterministic" "innocuous" "direct-only"))
  (type $spec{sfx} (record (field "name" string) (field "arity" s16) (field "kind" $kind{refs})
    (field "flags" $flags{refs})))
  (type $number{sfx} (variant (case "null") (case "integer" s64) (case "real" f64)))
  (type $fast-result{sfx} (variant (case "null") (case "integer" s64) (case "real" f64)
    (case "deferred")))"#
    )
}

/// The names of the guest's value types, as `wasmudf:udf/guest` exports
/// them.
const VALUE_TYPES: [(&str, &str); 6] = [
    ("value", "value"),
    ("kind", "function-kind"),
    ("flags", "function-flags"),
    ("spec", "function-spec"),
    ("number", "number"),
    ("fast-result", "fast-result"),
];

/// The interface's functions: (export name, text label, type label).
const FUNCTIONS: [(&str, &str, &str); 17] = [
    ("manifest", "manifest", "manifest"),
    ("call0", "call0", "call0"),
    ("call1", "call1", "call1"),
    ("call2", "call2", "call2"),
    ("call3", "call3", "call3"),
    ("call", "call", "call"),
    ("fast1", "fast1", "fast1"),
    ("fast2", "fast2", "fast2"),
    ("fast3", "fast3", "fast3"),
    ("take-result", "take-result", "take"),
    ("[static]accumulator.create", "create", "create"),
    ("[method]accumulator.step", "step", "step"),
    (
        "[method]accumulator.step-integers",
        "step-integers",
        "step-i",
    ),
    ("[method]accumulator.step-reals", "step-reals", "step-r"),
    ("[method]accumulator.inverse", "inverse", "step"),
    ("[method]accumulator.value", "value", "acc-value"),
    ("[static]accumulator.finish", "finish", "finish"),
];

/// The functions' types, each named `$<type label>-t<sfx>`, over the
/// types with suffix `sfx` (and `$vr`, `$ur`, `$own`, `$borrow` with it).
fn function_types(sfx: &str) -> String {
    let s = sfx;
    format!(
        r#"
  (type $vr{s} (result $value{s} (error string)))
  (type $ur{s} (result (error string)))
  (type $own{s} (own $acc{s}))
  (type $borrow{s} (borrow $acc{s}))
  (type $fast1-t{s} (func (param "id" u32) (param "a" $number{s}) (result $fast-result{s})))
  (type $fast2-t{s} (func (param "id" u32) (param "a" $number{s}) (param "b" $number{s})
    (result $fast-result{s})))
  (type $fast3-t{s} (func (param "id" u32) (param "a" $number{s}) (param "b" $number{s})
    (param "c" $number{s}) (result $fast-result{s})))
  (type $take-t{s} (func (result $vr{s})))
  (type $call0-t{s} (func (param "id" u32) (result $vr{s})))
  (type $call1-t{s} (func (param "id" u32) (param "a" $value{s}) (result $vr{s})))
  (type $call2-t{s} (func (param "id" u32) (param "a" $value{s}) (param "b" $value{s})
    (result $vr{s})))
  (type $call3-t{s} (func (param "id" u32) (param "a" $value{s}) (param "b" $value{s})
    (param "c" $value{s}) (result $vr{s})))
  (type $call-t{s} (func (param "id" u32) (param "args" (list $value{s})) (result $vr{s})))
  (type $manifest-t{s} (func (result (list $spec{s}))))
  (type $create-t{s} (func (param "id" u32) (result (result $own{s} (error string)))))
  (type $step-t{s} (func (param "self" $borrow{s}) (param "args" (list $value{s}))
    (param "rows" u32) (result $ur{s})))
  (type $step-i-t{s} (func (param "self" $borrow{s}) (param "args" (list s64))
    (param "rows" u32) (result $ur{s})))
  (type $step-r-t{s} (func (param "self" $borrow{s}) (param "args" (list f64))
    (param "rows" u32) (result $ur{s})))
  (type $acc-value-t{s} (func (param "self" $borrow{s}) (result $vr{s})))
  (type $finish-t{s} (func (param "acc" $own{s}) (result $vr{s})))"#
    )
}

/// wit-component's way to give the exported instance its type: a nested
/// component that imports the types and functions and re-exports them
/// under the interface's names (an instance made of plain exports cannot
/// export `[static]`/`[method]` functions of a resource).
fn shape_component() -> String {
    let mut imports = String::new();
    let mut exports = String::new();
    for (label, name) in VALUE_TYPES {
        imports +=
            &format!("  (import \"import-type-{name}\" (type ${label}-i (eq ${label}-d)))\n");
        // A record is exported as equal to a copy that refers to the
        // exported types, so that the instance names everything it uses.
        exports += &match label {
            "spec" => format!(
                "  (type $spec-r (record (field \"name\" string) (field \"arity\" s16) \
                 (field \"kind\" $kind-e) (field \"flags\" $flags-e)))\n  \
                 (export ${label}-e \"{name}\" (type ${label}-i) (type (eq $spec-r)))\n"
            ),
            _ => format!("  (export ${label}-e \"{name}\" (type ${label}-i))\n"),
        };
    }
    exports += "  (export $acc-e \"accumulator\" (type $acc-i))\n";
    let mut funcs = String::new();
    let mut func_exports = String::new();
    for (name, label, ty) in FUNCTIONS {
        funcs +=
            &format!("  (import \"import-func-{label}\" (func $i-{label} (type ${ty}-t-i)))\n");
        func_exports +=
            &format!("  (export \"{name}\" (func $i-{label}) (func (type ${ty}-t-e)))\n");
    }
    // The `-d` types are the definitions the imports are equal to; they
    // refer to each other's imported versions, as wit-component's do.
    let defs = value_types("-d", "-i");
    format!(
        r#"
  (component $shape
    (import "import-type-accumulator" (type $acc-i (sub resource)))
    {defs_and_imports}
    {itypes}
    {funcs}
    {exports}
    {etypes}
    {func_exports}
  )"#,
        defs_and_imports = interleave(&defs, &imports),
        itypes = function_types("-i"),
        etypes = function_types("-e"),
    )
}

/// Each `-d` definition followed by its import, so that every import comes
/// after the definition it is equal to and before any definition that
/// refers to it.
fn interleave(defs: &str, imports: &str) -> String {
    let mut out = String::new();
    let mut imports = imports.lines();
    for def in defs.split("\n  (type ").filter(|d| !d.trim().is_empty()) {
        out += "\n  (type ";
        out += def.trim_start_matches("  (type ");
        if let Some(import) = imports.next() {
            out += "\n";
            out += import;
        }
    }
    out
}

/// The component text of a hand-written guest, varied by `knobs`.
pub(crate) fn wat_guest(knobs: &Knobs) -> String {
    let p = PREFIX;
    let enc = knobs.encoding;
    let fast1_post = if knobs.no_fast1_post_return {
        ""
    } else {
        "(post-return $post)"
    };
    let call0_memory = if knobs.call0_foreign_memory {
        "$other-mem"
    } else {
        "$mem"
    };
    let decoy = if knobs.decoy {
        decoy_module()
    } else {
        String::new()
    };
    let main = main_module(knobs);
    let mut lifts = String::new();
    let mut args = String::new();
    for (name, label, ty) in FUNCTIONS {
        let memory = if name == "call0" {
            call0_memory
        } else {
            "$mem"
        };
        let post = match name {
            "fast1" => fast1_post,
            "fast2" | "fast3" | "take-result" | "call0" | "call1" | "call2" | "call3" => {
                "(post-return $post)"
            }
            _ => "",
        };
        // The manifest's names are UTF-8 whatever the knobs say, so that
        // the component loads.
        let enc = if name == "manifest" { "" } else { enc };
        lifts += &format!(
            r#"  (alias core export $m "{p}{name}" (core func $c-{label}))
  (func $f-{label} (type ${ty}-t) (canon lift (core func $c-{label}) (memory {memory})
    (realloc $realloc) {enc} {post}))
"#
        );
        args += &format!("    (with \"import-func-{label}\" (func $f-{label}))\n");
    }
    for (label, name) in VALUE_TYPES {
        args += &format!("    (with \"import-type-{name}\" (type ${label}))\n");
    }
    args += "    (with \"import-type-accumulator\" (type $acc))\n";
    let types = value_types("", "");
    let func_types = function_types("");
    let shape = shape_component();
    format!(
        r#"(component
  (import "wasi:clocks/monotonic-clock@0.2.0" (instance $clock
    (export "now" (func (result u64)))))
  (alias export $clock "now" (func $now))
  {decoy}
  {main}
  (core module $memory-only (memory (export "memory") 1))
  (core instance $other (instantiate $memory-only))
  (alias core export $other "memory" (core memory $other-mem))
  (core func $now-core (canon lower (func $now)))
  (core instance $clock-core (export "now" (func $now-core)))
  ;; wit-component's shape for a destructor: the resource type names a
  ;; shim function that calls through a slot of the shim's own table,
  ;; which a fixup instance fills with the main instance's export once
  ;; that exists.
  (core module $dtor-shim
    (type $t (func (param i32)))
    (table (export "$imports") 1 1 funcref)
    (func (export "dtor") (type $t) local.get 0 i32.const 0 call_indirect (type $t)))
  (core instance $shim (instantiate $dtor-shim))
  (alias core export $shim "dtor" (core func $dtor-via-shim))
  (alias core export $shim "$imports" (core table $shim-table))
  (type $acc (resource (rep i32) (dtor (func $dtor-via-shim))))
  (core func $acc-new (canon resource.new $acc))
  (core instance $acc-core (export "new" (func $acc-new)))
  (core instance $m (instantiate $main (with "clock" (instance $clock-core))
    (with "acc" (instance $acc-core))))
  (alias core export $m "acc-dtor" (core func $main-dtor))
  (core module $fixup
    (type $t (func (param i32)))
    (import "" "dtor" (func (type $t)))
    (import "" "$imports" (table 1 1 funcref))
    (elem (i32.const 0) func 0))
  (core instance $fixup-args (export "dtor" (func $main-dtor))
    (export "$imports" (table $shim-table)))
  (core instance (instantiate $fixup (with "" (instance $fixup-args))))
  (alias core export $m "memory" (core memory $mem))
  (alias core export $m "cabi_realloc" (core func $realloc))
  (alias core export $m "cabi_post" (core func $post))
  {types}
  {func_types}
{lifts}
  {shape}
  (instance $guest (instantiate $shape
{args}  ))
  (export "wasmudf:udf/guest@0.1.0" (instance $guest))
)
"#
    )
}

/// Loads the guest `knobs` describes on `engine`.
pub(crate) fn load(engine: &Engine, knobs: &Knobs) -> Result<Component> {
    let bytes = wat::parse_str(wat_guest(knobs))?;
    Ok(engine.load(&format!("{knobs:?}"), &bytes)?)
}

fn direct_engine() -> Result<Engine> {
    Ok(Engine::new()?)
}

fn component_engine() -> Result<Engine> {
    Ok(Engine::builder().direct_calls(false).build()?)
}

/// Each query's first column, or its error message, on a fresh connection.
fn answers(component: &Component, queries: &[&str]) -> Result<Vec<String>> {
    let conn = Connection::open_in_memory()?;
    component.register(&conn)?;
    Ok(queries
        .iter()
        .map(|sql| {
            let r = conn.query_row(sql, [], |row| row.get::<_, Value>(0));
            format!("{sql} -> {r:?}")
        })
        .collect())
}

/// The answers with the direct path on and off, and whether the component
/// had a direct path.
fn both(knobs: &Knobs, queries: &[&str]) -> Result<(Vec<String>, Vec<String>, bool)> {
    let engine = direct_engine()?;
    let direct = load(&engine, knobs)?;
    let has_direct = direct.has_direct_path();
    let on = answers(&direct, queries)?;
    let off = answers(&load(&component_engine()?, knobs)?, queries)?;
    Ok((on, off, has_direct))
}

const TEXT_QUERIES: &[&str] = &[
    "SELECT wat_len('héllo')",
    "SELECT wat_len('')",
    "SELECT wat_len('日本')",
    "SELECT wat_len(x'00ff')",
    "SELECT wat_text()",
    "SELECT wat_len(7)",
    "SELECT wat_len(NULL)",
];

#[test]
fn the_plain_guest_has_a_direct_path_that_agrees() -> Result<()> {
    let (on, off, has_direct) = both(&Knobs::default(), TEXT_QUERIES)?;
    assert!(
        has_direct,
        "a UTF-8 guest with one main instance is eligible"
    );
    assert_eq!(on, off);
    assert!(on[0].contains("Integer(6)"), "UTF-8 bytes: {}", on[0]);
    Ok(())
}

#[test]
fn utf16_lifts_refuse_the_direct_path() -> Result<()> {
    for encoding in ["string-encoding=utf16", "string-encoding=latin1+utf16"] {
        let knobs = Knobs {
            encoding,
            ..Knobs::default()
        };
        let (on, off, has_direct) = both(&knobs, TEXT_QUERIES)?;
        assert!(!has_direct, "{encoding}: the direct path assumes UTF-8");
        assert_eq!(on, off, "{encoding}");
    }
    // The component path really does hand UTF-16 over: 'héllo' is five
    // code units, and the guest's `h\0i\0` is "hi".
    let knobs = Knobs {
        encoding: "string-encoding=utf16",
        ..Knobs::default()
    };
    let (on, _, _) = both(&knobs, TEXT_QUERIES)?;
    assert!(on[0].contains("Integer(5)"), "{}", on[0]);
    assert!(on[4].contains("Text(\"hi\")"), "{}", on[4]);
    Ok(())
}

#[test]
fn a_decoy_module_is_never_run() -> Result<()> {
    let knobs = Knobs {
        decoy: true,
        ..Knobs::default()
    };
    let (on, off, has_direct) = both(&knobs, TEXT_QUERIES)?;
    assert!(has_direct, "the real main instance is still eligible");
    assert_eq!(on, off);
    assert!(on.iter().all(|a| !a.contains("666")), "{on:?}");
    Ok(())
}

#[test]
fn a_lift_with_another_instances_memory_refuses_the_direct_path() -> Result<()> {
    let knobs = Knobs {
        call0_foreign_memory: true,
        ..Knobs::default()
    };
    let (on, off, has_direct) = both(&knobs, TEXT_QUERIES)?;
    assert!(!has_direct);
    assert_eq!(on, off);
    Ok(())
}

#[test]
fn post_returns_on_fast_exports_run_after_every_call() -> Result<()> {
    let engine = direct_engine()?;
    let component = load(&engine, &Knobs::default())?;
    let conn = Connection::open_in_memory()?;
    component.register(&conn)?;
    // Every call checks that the previous call's post-return ran.
    for i in 1..=50i64 {
        let n: i64 = conn.query_row("SELECT wat_count(1)", [], |r| r.get(0))?;
        assert_eq!(n, i);
        let t: String = conn.query_row("SELECT wat_text()", [], |r| r.get(0))?;
        assert_eq!(t, "h\0");
        let l: i64 = conn.query_row("SELECT wat_len('abc')", [], |r| r.get(0))?;
        assert_eq!(l, 3);
    }
    let stats = engine.instance_stats();
    assert_eq!(stats.replaced, 0, "no trap: {stats:?}");
    assert!(stats.direct >= 1, "{stats:?}");
    assert_eq!(
        stats.created, stats.direct,
        "only direct instances: {stats:?}"
    );
    Ok(())
}

#[test]
fn the_post_return_check_in_the_guest_is_real() -> Result<()> {
    // Without the post-return on `fast1`, the guest traps on its second
    // fast call on either path: so the test above would catch a host that
    // skipped it.
    let knobs = Knobs {
        no_fast1_post_return: true,
        ..Knobs::default()
    };
    for engine in [direct_engine()?, component_engine()?] {
        let component = load(&engine, &knobs)?;
        let conn = Connection::open_in_memory()?;
        component.register(&conn)?;
        let first: i64 = conn.query_row("SELECT wat_count(1)", [], |r| r.get(0))?;
        assert_eq!(first, 1);
        let second = conn.query_row("SELECT wat_count(1)", [], |r| r.get::<_, i64>(0));
        let err = second
            .expect_err("the guest refuses a second call")
            .to_string();
        assert!(err.contains("wat_count: trapped"), "{err}");
        // The connection still answers.
        let n: i64 = conn.query_row("SELECT 1", [], |r| r.get(0))?;
        assert_eq!(n, 1);
    }
    Ok(())
}

/// `wat_burn(n)` on a fresh connection.
fn burn(component: &Component, n: i64) -> Result<std::result::Result<i64, String>> {
    let conn = Connection::open_in_memory()?;
    component.register(&conn)?;
    Ok(conn
        .query_row("SELECT wat_burn(?1)", [n], |r| r.get::<_, i64>(0))
        .map_err(|e| e.to_string()))
}

#[test]
fn a_call_handed_to_the_component_path_keeps_its_fuel_budget() -> Result<()> {
    let limits = Limits {
        fuel: Some(2_000_000),
        ..Limits::default()
    };
    let off = Engine::builder()
        .limits(limits.clone())
        .direct_calls(false)
        .build()?;
    let on = Engine::builder().limits(limits).build()?;
    let (off_c, on_c) = (
        load(&off, &Knobs::default())?,
        load(&on, &Knobs::default())?,
    );
    // The largest `n` whose loop fits in one budget, on the component path.
    let (mut fits, mut fails) = (0i64, 1i64);
    while burn(&off_c, fails)?.is_ok() {
        fits = fails;
        fails *= 2;
        assert!(fails < 1 << 40, "fuel is not being metered");
    }
    while fails - fits > 1 {
        let mid = fits + (fails - fits) / 2;
        match burn(&off_c, mid)? {
            Ok(_) => fits = mid,
            Err(_) => fails = mid,
        }
    }
    assert!(
        burn(&off_c, fails)?
            .expect_err("too big")
            .contains("fuel exhausted")
    );
    // Two thirds of a budget fits once, not twice.
    let n = fits * 2 / 3;
    assert_eq!(burn(&off_c, n)?, Ok(n));
    // On the direct path the loop runs, the clock call hands the call
    // over, and the loop runs again on the component path with what is
    // left: more than one budget in all, so it must run out.
    let conn = Connection::open_in_memory()?;
    on_c.register(&conn)?;
    let first = conn.query_row("SELECT wat_burn(?1)", [n], |r| r.get::<_, i64>(0));
    let err = first
        .expect_err("two attempts share one budget")
        .to_string();
    assert!(err.contains("wat_burn: fuel exhausted"), "{err}");
    // The function now stays on the component path, with a whole budget per
    // call.
    let second: i64 = conn.query_row("SELECT wat_burn(?1)", [n], |r| r.get(0))?;
    assert_eq!(second, n);
    Ok(())
}

#[test]
fn a_call_handed_to_the_component_path_keeps_its_deadline() -> Result<()> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    // Each guest call (each attempt) is held up 700 ms by the hook: one
    // attempt fits in the 1 s deadline, two do not.
    let limits = Limits {
        timeout: std::time::Duration::from_millis(1000),
        ..Limits::default()
    };
    let engine = |direct: bool, slow: Arc<AtomicBool>| {
        Engine::builder()
            .limits(limits.clone())
            .direct_calls(direct)
            .on_call(move |phase| {
                if phase == wasmudf::CallPhase::Enter && slow.load(Ordering::Relaxed) {
                    std::thread::sleep(std::time::Duration::from_millis(700));
                }
            })
            .build()
    };
    for direct in [false, true] {
        let slow = Arc::new(AtomicBool::new(false));
        let engine = engine(direct, slow.clone())?;
        let component = load(&engine, &Knobs::default())?;
        let conn = Connection::open_in_memory()?;
        component.register(&conn)?;
        slow.store(true, Ordering::Relaxed);
        let r = conn.query_row("SELECT wat_burn(10)", [], |r| r.get::<_, i64>(0));
        slow.store(false, Ordering::Relaxed);
        if direct {
            let err = r.expect_err("two attempts share one deadline").to_string();
            assert!(err.contains("wat_burn: deadline exceeded"), "{err}");
        } else {
            assert_eq!(r?, 10, "one attempt fits in the deadline");
        }
        let n: i64 = conn.query_row("SELECT wat_len(4)", [], |r| r.get(0))?;
        assert_eq!(n, 4, "the connection still answers");
    }
    Ok(())
}

/// `wat_agg` over two rows on a fresh connection.
fn aggregate(component: &Component) -> Result<std::result::Result<i64, String>> {
    let conn = Connection::open_in_memory()?;
    component.register(&conn)?;
    Ok(conn
        .query_row("SELECT wat_agg(column1) FROM (VALUES (1), (2))", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(|e| e.to_string()))
}

/// An accumulator's `create` that burns most of its fuel on the direct
/// path and then needs the host is handed over with what it left, not
/// with a second budget: the same `create` on the component path must fit
/// in the rest.
#[test]
fn an_accumulator_created_after_a_hand_over_keeps_its_fuel_budget() -> Result<()> {
    let limits = Limits {
        fuel: Some(2_000_000),
        ..Limits::default()
    };
    let off = Engine::builder()
        .limits(limits.clone())
        .direct_calls(false)
        .build()?;
    let on = Engine::builder().limits(limits).build()?;
    let knobs = |create_burn| Knobs {
        create_burn,
        ..Knobs::default()
    };
    // The longest burn that fits in one budget, on the component path.
    let fits_once = |n| -> Result<bool> { Ok(aggregate(&load(&off, &knobs(n))?)?.is_ok()) };
    let (mut fits, mut fails) = (0u64, 1u64);
    while fits_once(fails)? {
        fits = fails;
        fails *= 2;
        assert!(fails < 1 << 40, "fuel is not being metered");
    }
    while fails - fits > 1 {
        let mid = fits + (fails - fits) / 2;
        if fits_once(mid)? {
            fits = mid;
        } else {
            fails = mid;
        }
    }
    let err = aggregate(&load(&off, &knobs(fails))?)?.expect_err("too long");
    assert!(err.contains("wat_agg: fuel exhausted"), "{err}");
    // Two thirds of a budget fits once, on the component path ...
    let n = fits * 2 / 3;
    assert_eq!(aggregate(&load(&off, &knobs(n))?)?, Ok(7));
    // ... but not twice: the direct attempt burns it, the clock hands the
    // call over, and the component path must do it again with the third
    // that is left.
    let component = load(&on, &knobs(n))?;
    assert!(component.has_direct_aggregates());
    let conn = Connection::open_in_memory()?;
    component.register(&conn)?;
    let query = "SELECT wat_agg(column1) FROM (VALUES (1), (2))";
    let first = conn.query_row(query, [], |r| r.get::<_, i64>(0));
    let err = first
        .expect_err("two attempts share one budget")
        .to_string();
    assert!(err.contains("wat_agg: fuel exhausted"), "{err}");
    // The function now starts its groups on the component path, with a
    // whole budget for each call.
    let second: i64 = conn.query_row(query, [], |r| r.get(0))?;
    assert_eq!(second, 7);
    Ok(())
}

/// A destructor that burns most of its fuel on the direct path and then
/// needs the host is run again on the component path within what it left:
/// there it runs out, which traps and replaces the component instance (a
/// destructor's failure is not an SQL error). With a whole budget it
/// would have finished.
#[test]
fn a_destructor_handed_over_keeps_its_fuel_budget() -> Result<()> {
    let limits = Limits {
        fuel: Some(2_000_000),
        ..Limits::default()
    };
    let engine = |direct: bool| {
        Engine::builder()
            .limits(limits.clone())
            .direct_calls(direct)
            .build()
    };
    let knobs = |dtor_burn| Knobs {
        dtor_burn,
        ..Knobs::default()
    };
    // A step that fails makes SQLite discard the group: its accumulator
    // is dropped, never finished. Whether the destructor trapped shows in
    // the engine's count of replaced instances.
    let dropped_after_failure = |engine: &Engine, n: u64| -> Result<u64> {
        let before = engine.instance_stats().replaced;
        let component = load(engine, &knobs(n))?;
        let conn = Connection::open_in_memory()?;
        component.register(&conn)?;
        let err = conn
            .query_row("SELECT wat_agg(column1) FROM (VALUES (13))", [], |r| {
                r.get::<_, i64>(0)
            })
            .expect_err("the step fails")
            .to_string();
        assert!(err.contains("wat_agg: bad call"), "{err}");
        Ok(engine.instance_stats().replaced - before)
    };
    // The longest destructor that fits in one budget, on the component
    // path: one more iteration and it traps.
    let off = engine(false)?;
    let (mut fits, mut fails) = (0u64, 1u64);
    while dropped_after_failure(&off, fails)? == 0 {
        fits = fails;
        fails *= 2;
        assert!(fails < 1 << 40, "fuel is not being metered");
    }
    while fails - fits > 1 {
        let mid = fits + (fails - fits) / 2;
        if dropped_after_failure(&off, mid)? == 0 {
            fits = mid;
        } else {
            fails = mid;
        }
    }
    let n = fits * 2 / 3;
    assert_eq!(dropped_after_failure(&off, n)?, 0);
    // On the direct path it runs, hands over, and cannot run again in the
    // third that is left.
    let on = engine(true)?;
    assert!(load(&on, &knobs(n))?.has_direct_aggregates());
    assert_eq!(dropped_after_failure(&on, n)?, 1);
    Ok(())
}
