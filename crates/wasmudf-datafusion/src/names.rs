//! One name policy for every engine: a component function never replaces
//! or shadows a function the session already has, unless the embedder
//! opted in with [`Component::allow_override`].
//!
//! DataFusion knows a function by its name alone (`register_udf` replaces
//! whatever had the name), and its SQL planner looks a call up among
//! scalar functions before aggregates, and among aggregates before window
//! functions: a scalar `count` would take every `count(x)`, an aggregate
//! `row_number` every `row_number() OVER (...)`. So a name clashes with any
//! function of any kind the session has, whatever the arities.

use std::collections::HashSet;
use std::sync::OnceLock;

use datafusion::common::{DataFusionError, Result};
use datafusion::execution::FunctionRegistry;
use datafusion::execution::SessionStateBuilder;
use datafusion::logical_expr::{Signature, TypeSignature};
use wasmudf::{Component, ExistingFunction, FunctionKind, FunctionOwner};

/// The engine named in [`FunctionOwner::EngineBuiltin`].
pub(crate) const ENGINE: &str = "DataFusion";

/// Names DataFusion's SQL planner handles itself, whatever the registry
/// holds (`make_map(...)`, `map(...)` and `unnest(...)` syntax).
const PLANNER_NAMES: &[&str] = &["make_map", "map", "unnest", "unnest_outer"];

/// Every function name a default DataFusion session has, of every kind.
fn builtin_names() -> &'static HashSet<String> {
    static NAMES: OnceLock<HashSet<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let state = SessionStateBuilder::new().with_default_features().build();
        let registry: &dyn FunctionRegistry = &state;
        registry
            .udfs()
            .into_iter()
            .chain(registry.udafs())
            .chain(registry.udwfs())
            .chain(registry.higher_order_function_names())
            .chain(PLANNER_NAMES.iter().map(|n| (*n).to_owned()))
            .collect()
    })
}

/// The arity a DataFusion signature fixes, or -1.
fn arity(signature: &Signature) -> i16 {
    let n = match &signature.type_signature {
        TypeSignature::Exact(types) => types.len(),
        TypeSignature::Uniform(n, _) | TypeSignature::Any(n) | TypeSignature::Comparable(n) => *n,
        TypeSignature::Coercible(c) => c.len(),
        TypeSignature::Nullary => 0,
        _ => return -1,
    };
    i16::try_from(n).unwrap_or(-1)
}

/// The function `registry` knows as `name`, of any kind, as named in
/// [`wasmudf::Error::NameClash`]; `None` when the name is free.
fn existing(registry: &dyn FunctionRegistry, name: &str) -> Option<ExistingFunction> {
    // Ours: the component function, with its arity.
    let component = |origin: Option<(&Component, usize)>| {
        origin.map(|(c, i)| (c.origin().to_owned(), c.functions()[i].arity.as_sqlite()))
    };
    let (signature, ours) = if let Ok(f) = registry.udf(name) {
        (
            Some(f.signature().clone()),
            component(crate::scalar_origin(&f)),
        )
    } else if let Ok(f) = registry.udaf(name) {
        (
            Some(f.signature().clone()),
            component(crate::aggregate_origin(&f)),
        )
    } else if let Ok(f) = registry.udwf(name) {
        (Some(f.signature().clone()), None)
    } else if registry.higher_order_function(name).is_ok() || PLANNER_NAMES.contains(&name) {
        (None, None)
    } else {
        return None;
    };
    let (arity, owner) = match ours {
        Some((origin, arity)) => (
            i16::try_from(arity).unwrap_or(-1),
            FunctionOwner::Component(origin),
        ),
        None if builtin_names().contains(name) => {
            (-1, FunctionOwner::EngineBuiltin(ENGINE.to_owned()))
        }
        None => (
            signature.as_ref().map_or(-1, arity),
            FunctionOwner::Application,
        ),
    };
    Some(ExistingFunction {
        name: name.to_owned(),
        arity,
        owner,
    })
}

/// The name a component function is registered under: lower-cased, as
/// DataFusion's SQL planner looks unquoted names up.
pub(crate) fn sql_name(name: &str) -> String {
    name.to_lowercase()
}

/// Refuses `component` if one of its functions would replace or shadow a
/// function `registry` already has (a DataFusion builtin of any kind, the
/// application's, or another component's), with
/// [`wasmudf::Error::NameClash`] naming both, unless
/// [`Component::allow_override`] is on.
///
/// # Errors
///
/// The first clash, as [`wasmudf::Error::NameClash`].
pub fn check_names(
    registry: &dyn FunctionRegistry,
    component: &Component,
) -> std::result::Result<(), wasmudf::Error> {
    if component.overrides_allowed() {
        return Ok(());
    }
    for spec in component.functions() {
        // Table functions are not registered in DataFusion.
        if spec.kind == FunctionKind::Table {
            continue;
        }
        if let Some(existing) = existing(registry, &sql_name(&spec.name)) {
            return Err(wasmudf::Error::NameClash {
                origin: component.origin().to_owned(),
                name: spec.name.clone(),
                arity: spec.arity.as_sqlite() as i16,
                existing,
            });
        }
    }
    Ok(())
}

/// [`check_names`] as DataFusion's error, which carries the
/// [`wasmudf::Error`] (find it with `DataFusionError::find_root` and a
/// downcast of the `External` error).
pub(crate) fn check(registry: &dyn FunctionRegistry, component: &Component) -> Result<()> {
    check_names(registry, component).map_err(|e| DataFusionError::External(Box::new(e)))
}
