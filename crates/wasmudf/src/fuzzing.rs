//! Entry points for the fuzz targets in `fuzz/` (cargo feature `fuzzing`).
//! Not part of the API: they reach checks that the public API runs only on
//! what a guest returns (a manifest, a result column) or only after
//! wasmtime has accepted a component (the direct path's plan), so a fuzzer
//! can feed them directly, many times faster than through a compiled guest.

use crate::bindings::{
    WitFlags, WitFlagsV0_1, WitKind, WitKindV0_1, WitSpec, WitSpecV0_1, WitType,
};
use crate::column::{ColumnFault, ColumnRef};
use crate::manifest::{self, FunctionSpec};

/// One manifest entry in the shape `wasmudf:udf@0.2.0`'s `function-spec`
/// lifts to, with the enums and flags as plain numbers (taken modulo their
/// case count; unknown flag bits dropped, as lifting refuses them).
#[derive(Debug, Clone, Default)]
pub struct RawSpec {
    /// `name`.
    pub name: String,
    /// `arity`.
    pub arity: i16,
    /// `kind`: 0 scalar, 1 aggregate, 2 window, 3 table.
    pub kind: u8,
    /// `flags`: 1 deterministic, 2 innocuous, 4 direct-only.
    pub flags: u8,
    /// `returns`: 0 integer, 1 real, 2 text, 3 blob, 4 any.
    pub returns: Option<u8>,
    /// `params`, coded as `returns`.
    pub params: Option<Vec<u8>>,
    /// `mergeable`.
    pub mergeable: bool,
    /// `columns`.
    pub columns: Vec<String>,
}

fn value_type(t: u8) -> WitType {
    match t % 5 {
        0 => WitType::Integer,
        1 => WitType::Real,
        2 => WitType::Text,
        3 => WitType::Blob,
        _ => WitType::Any,
    }
}

/// Runs the manifest validator a component's load runs on `specs`, as a
/// `0.1.0` manifest when `v0_1` (which has only the name, arity, the first
/// three kinds and the flags) and as a `0.2.0` one otherwise.
///
/// # Errors
///
/// The validator's message, as [`crate::Error::Manifest`] would carry it.
pub fn validate_manifest(
    specs: Vec<RawSpec>,
    v0_1: bool,
    max_functions: usize,
) -> Result<Vec<FunctionSpec>, String> {
    let raw = if v0_1 {
        manifest::Raw::V0_1(
            specs
                .into_iter()
                .map(|s| WitSpecV0_1 {
                    name: s.name,
                    arity: s.arity,
                    kind: match s.kind % 3 {
                        0 => WitKindV0_1::Scalar,
                        1 => WitKindV0_1::Aggregate,
                        _ => WitKindV0_1::Window,
                    },
                    flags: [
                        (1, WitFlagsV0_1::DETERMINISTIC),
                        (2, WitFlagsV0_1::INNOCUOUS),
                        (4, WitFlagsV0_1::DIRECT_ONLY),
                    ]
                    .into_iter()
                    .filter(|(bit, _)| s.flags & bit != 0)
                    .fold(WitFlagsV0_1::empty(), |all, (_, f)| all | f),
                })
                .collect(),
        )
    } else {
        manifest::Raw::V0_2(
            specs
                .into_iter()
                .map(|s| WitSpec {
                    name: s.name,
                    arity: s.arity,
                    kind: match s.kind % 4 {
                        0 => WitKind::Scalar,
                        1 => WitKind::Aggregate,
                        2 => WitKind::Window,
                        _ => WitKind::Table,
                    },
                    flags: [
                        (1, WitFlags::DETERMINISTIC),
                        (2, WitFlags::INNOCUOUS),
                        (4, WitFlags::DIRECT_ONLY),
                    ]
                    .into_iter()
                    .filter(|(bit, _)| s.flags & bit != 0)
                    .fold(WitFlags::empty(), |all, (_, f)| all | f),
                    returns: s.returns.map(value_type),
                    params: s.params.map(|p| p.into_iter().map(value_type).collect()),
                    mergeable: s.mergeable,
                    columns: s.columns,
                })
                .collect(),
        )
    };
    manifest::validate(raw, max_functions)
}

/// Runs the check every argument column of a batched call, and every
/// result column a guest returns, goes through: `column` must hold `rows`
/// rows, its offsets and validity bitmap must fit, and no TEXT or BLOB may
/// be longer than `max_bytes`.
///
/// # Errors
///
/// What is wrong with the column.
pub fn check_column(column: &ColumnRef<'_>, rows: usize, max_bytes: usize) -> Result<(), String> {
    column.check(rows, max_bytes).map_err(|fault| match fault {
        ColumnFault::TooBig(n) => format!("a {n}-byte value over {max_bytes}"),
        ColumnFault::Malformed(what) => what,
    })
}

/// Reads the direct path's plan out of component bytes for each version
/// of the interface, as a load does for the version it found, after
/// wasmtime has validated and compiled them (so a fuzzer should give it
/// only bytes that validate).
///
/// # Errors
///
/// Why the component has no direct path, for the last version tried.
pub fn direct_plan(component: &[u8]) -> Result<(), String> {
    let mut result = Ok(());
    for version in crate::bindings::WitVersion::ALL {
        result = crate::direct::plan::plan(component, version).map(drop);
    }
    result
}
