//! Manifests as a guest's `manifest()` returns them, through the validator
//! every load runs (`wasmudf::fuzzing::validate_manifest`), checked against
//! a model of its rules: it accepts exactly the manifests the model
//! accepts, and what it accepts keeps every entry as declared.

use std::collections::HashSet;

use arbitrary::Arbitrary;
use wasmudf::fuzzing::{RawSpec, validate_manifest};
use wasmudf::{Arity, FunctionKind, ValueType};

/// One input, as `arbitrary` makes it from the fuzzer's bytes.
#[derive(Debug, Arbitrary)]
pub struct Input {
    v0_1: bool,
    max_functions: u8,
    specs: Vec<Spec>,
}

#[derive(Debug, Clone, Arbitrary)]
struct Spec {
    name: String,
    arity: i16,
    kind: u8,
    flags: u8,
    returns: Option<u8>,
    params: Option<Vec<u8>>,
    mergeable: bool,
    columns: Vec<String>,
}

impl Spec {
    /// What a 0.1.0 manifest can say: no types, no columns, not mergeable,
    /// three kinds.
    fn as_version(&self, v0_1: bool) -> Spec {
        let mut s = self.clone();
        if v0_1 {
            s.kind %= 3;
            s.returns = None;
            s.params = None;
            s.mergeable = false;
            s.columns.clear();
        } else {
            s.kind %= 4;
        }
        s.flags &= 7;
        s
    }

    fn kind(&self) -> FunctionKind {
        match self.kind {
            0 => FunctionKind::Scalar,
            1 => FunctionKind::Aggregate,
            2 => FunctionKind::Window,
            _ => FunctionKind::Table,
        }
    }
}

fn good_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 255 && !name.contains('\0')
}

/// The validator's rules, written again from its documentation.
fn model(specs: &[Spec], max: usize) -> bool {
    if specs.len() > max {
        return false;
    }
    let mut seen = HashSet::new();
    let mut tables = HashSet::new();
    for s in specs {
        let lower = s.name.to_ascii_lowercase();
        if !good_name(&s.name) || !(-1..=127).contains(&s.arity) || !seen.insert((lower.clone(), s.arity)) {
            return false;
        }
        let kind = s.kind();
        if kind == FunctionKind::Table && !tables.insert(lower) {
            return false;
        }
        if s.flags & 6 == 6 {
            return false;
        }
        let wanted = if s.arity == -1 { 1 } else { s.arity as usize };
        if s.params.as_ref().is_some_and(|p| p.len() != wanted) {
            return false;
        }
        if s.mergeable && matches!(kind, FunctionKind::Scalar | FunctionKind::Table) {
            return false;
        }
        if kind != FunctionKind::Table {
            if !s.columns.is_empty() {
                return false;
            }
            continue;
        }
        if s.arity == -1 || s.columns.is_empty() || s.columns.len() + s.arity as usize > 1000 {
            return false;
        }
        let mut names: HashSet<String> = (1..=s.arity).map(|n| format!("arg{n}")).collect();
        if s.columns.iter().any(|c| !good_name(c) || !names.insert(c.to_ascii_lowercase())) {
            return false;
        }
    }
    true
}

fn value_type(t: u8) -> ValueType {
    match t % 5 {
        0 => ValueType::Integer,
        1 => ValueType::Real,
        2 => ValueType::Text,
        3 => ValueType::Blob,
        _ => ValueType::Any,
    }
}

/// Runs one input; panics on a finding.
pub fn run(input: Input) {
    let max = usize::from(input.max_functions);
    let specs: Vec<Spec> = input.specs.iter().map(|s| s.as_version(input.v0_1)).collect();
    let raw = input
        .specs
        .iter()
        .map(|s| RawSpec {
            name: s.name.clone(),
            arity: s.arity,
            kind: s.kind,
            flags: s.flags,
            returns: s.returns,
            params: s.params.clone(),
            mergeable: s.mergeable,
            columns: s.columns.clone(),
        })
        .collect();
    let result = validate_manifest(raw, input.v0_1, max);
    assert_eq!(
        result.is_ok(),
        model(&specs, max),
        "the validator and its model disagree on {specs:?}: {result:?}"
    );
    let Ok(validated) = result else {
        return;
    };
    assert_eq!(validated.len(), specs.len());
    for (got, want) in validated.iter().zip(&specs) {
        assert_eq!(got.name, want.name);
        assert_eq!(got.arity.as_sqlite(), i32::from(want.arity));
        assert_eq!(got.kind, want.kind());
        assert_eq!(got.mergeable, want.mergeable);
        assert_eq!(got.columns, want.columns);
        assert_eq!(got.flags.deterministic, want.flags & 1 != 0);
        assert_eq!(got.flags.innocuous, want.flags & 2 != 0);
        assert_eq!(got.flags.direct_only, want.flags & 4 != 0);
        // `any` is the same as declaring nothing.
        let returns = want.returns.map(value_type).filter(|&t| t != ValueType::Any);
        assert_eq!(got.returns, returns);
        let params = want
            .params
            .as_ref()
            .map(|p| p.iter().copied().map(value_type).collect::<Vec<_>>())
            .filter(|p| p.iter().any(|&t| t != ValueType::Any));
        assert_eq!(got.params, params);
        if let Arity::Exactly(n) = got.arity {
            assert!(n <= 127);
        }
    }
}
