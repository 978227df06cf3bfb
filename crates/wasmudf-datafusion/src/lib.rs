//! The same wasmudf components as [Apache DataFusion] UDFs: every scalar
//! function a `ScalarUDF` that crosses into the guest once per record
//! batch, every aggregate an `AggregateUDF`, every window function an
//! `AggregateUDF` that retracts (DataFusion's sliding window frames).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use datafusion::prelude::SessionContext;
//!
//! let engine = wasmudf::Engine::new()?;
//! let stats = engine.load_file("stats.wasm")?;
//! let ctx = SessionContext::new();
//! wasmudf_datafusion::register(&ctx, &stats)?;
//! let df = ctx.sql("SELECT median_of(x) FROM (VALUES (1.0), (5.0), (3.0)) AS t(x)").await?;
//! df.show().await?;
//! # Ok(())
//! # }
//! ```
//!
//! What carries over from SQLite, and how:
//!
//! - **Types.** Arguments are coerced to SQLite's classes (integers and
//!   booleans to `Int64`, floats and decimals to `Float64`, strings to
//!   `Utf8`, binaries to `Binary`; other types are a planning error). The
//!   result type is the one the manifest declares (`wasmudf:udf@0.2.0`), or
//!   else the first argument's; a result of another class is an execution
//!   error naming the function.
//! - **Names.** A component function never replaces or shadows a function
//!   the session has (a DataFusion builtin of any kind, the application's,
//!   another component's): registration fails with
//!   [`wasmudf::Error::NameClash`] (inside DataFusion's `External` error),
//!   as on SQLite, unless [`Component::allow_override`] is on.
//! - **Planning runs no guest code.** DataFusion folds calls of `Immutable`
//!   and `Stable` functions on literals while it plans, so every scalar is
//!   `Volatile`; a deterministic one on literals is called once per batch.
//!   Aggregates keep their flags (they are never folded).
//! - **Memory.** The guest is handed at most 1,024 rows and 256 KiB (or
//!   1/16 of its memory limit) per crossing, as SQLite batches aggregate
//!   rows; each query's aggregates get accumulator instances of their own,
//!   and the aggregate state a query holds on the host is bounded
//!   ([`Options::max_query_state_bytes`], and the session's memory pool).
//! - **Aggregates** merge partial states with the guest's
//!   `serialize`/`merge` when the manifest says `mergeable`, and otherwise
//!   buffer their rows and step them in one place (see `aggregate.rs`);
//!   `DISTINCT` is honoured either way.
//! - **Limits.** Every guest call runs under the component engine's
//!   [`wasmudf::Limits`]; a trap or a limit hit is an execution error whose
//!   message names the function.
//!
//! [Apache DataFusion]: https://datafusion.apache.org

mod aggregate;
mod convert;
mod files;
mod names;
mod planning;
mod pool;
mod scalar;

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::common::{DataFusionError, Result};
use datafusion::execution::FunctionRegistry;
use datafusion::execution::memory_pool::MemoryPool;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use datafusion::prelude::SessionContext;
use wasmudf::{Component, FunctionKind};

pub use files::register_file;
pub use names::check_names;
pub use pool::{DEFAULT_MAX_QUERY_STATE_BYTES, Options};

/// A component's functions as DataFusion UDFs, ready to register.
#[derive(Debug, Default, Clone)]
pub struct Udfs {
    /// One per scalar function.
    pub scalars: Vec<ScalarUDF>,
    /// One per aggregate and window function.
    pub aggregates: Vec<AggregateUDF>,
}

/// The UDFs of `component`, whose accumulators spread over `parallelism`
/// instances (the partitions that run at once: DataFusion's
/// `target_partitions`), with the default [`Options`].
///
/// Names are lower-cased, as DataFusion's SQL planner looks unquoted names
/// up; SQLite matches them case-insensitively too. Nothing is checked
/// against a session here: [`register`] does that.
///
/// # Errors
///
/// A component with two functions of one name (SQLite overloads them by
/// arity; DataFusion knows a function by its name alone).
pub fn udfs(component: &Component, parallelism: usize) -> Result<Udfs> {
    udfs_with_options(component, parallelism, &Options::default())
}

/// As [`udfs`], with `options`.
///
/// # Errors
///
/// As [`udfs`].
pub fn udfs_with_options(
    component: &Component,
    parallelism: usize,
    options: &Options,
) -> Result<Udfs> {
    make_udfs(component, parallelism, options, None)
}

fn make_udfs(
    component: &Component,
    parallelism: usize,
    options: &Options,
    memory: Option<Arc<dyn MemoryPool>>,
) -> Result<Udfs> {
    let shared = Arc::new(pool::Shared::new(
        component.clone(),
        parallelism,
        options.clone(),
        memory,
    ));
    // Used by queries that did not go through `PerQueryScopes` (a registry
    // without analyzer rules); see `isolated`.
    let scope = Arc::new(pool::Scope::new(&shared));
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Udfs::default();
    for (index, spec) in component.functions().iter().enumerate() {
        // Table functions are SQLite-only for now: DataFusion's table
        // functions take literal arguments only, with no lateral join.
        if spec.kind == FunctionKind::Table {
            continue;
        }
        let name = names::sql_name(&spec.name);
        if let Some(first) = seen.insert(name.clone(), index) {
            return Err(DataFusionError::Plan(format!(
                "{}: `{name}` is declared twice (functions #{first} and #{index}); DataFusion \
                 knows a function by its name alone, so overloads by arity are not supported",
                wasmudf::escape_controls(component.origin())
            )));
        }
        let f = pool::Function::new(shared.clone(), scope.clone(), index, name);
        match spec.kind {
            FunctionKind::Scalar => out
                .scalars
                .push(ScalarUDF::new_from_impl(scalar::WasmScalar(f))),
            _ => out
                .aggregates
                .push(AggregateUDF::new_from_impl(aggregate::WasmAggregate(f))),
        }
    }
    Ok(out)
}

/// The component function a scalar UDF of this crate runs, and its index
/// in the component's manifest; `None` for any other UDF. A plan codec
/// (the Ballista one, say) ships a function as the component's content
/// hash and this index.
pub fn scalar_origin(udf: &ScalarUDF) -> Option<(&Component, usize)> {
    let f = &udf.inner().as_ref().downcast_ref::<scalar::WasmScalar>()?.0;
    Some((&f.shared.component, f.index))
}

/// As [`scalar_origin`], for the aggregate and window UDFs of this crate.
pub fn aggregate_origin(udf: &AggregateUDF) -> Option<(&Component, usize)> {
    let f = &udf
        .inner()
        .as_ref()
        .downcast_ref::<aggregate::WasmAggregate>()?
        .0;
    Some((&f.shared.component, f.index))
}

/// A copy of an aggregate or window UDF of this crate whose accumulators
/// live in instances of their own, with their own count of state held
/// ([`Options::max_query_state_bytes`]); `None` for any other UDF.
///
/// A session [`register`] set up does this for every query by itself. A
/// plan decoder gives each decoded plan its copy (the Ballista codec does,
/// once per task), so that one plan whose input traps the guest or fills
/// its memory cannot lose another's aggregate state: a trap replaces the
/// instance, and every accumulator in it is lost.
pub fn isolated(udf: &AggregateUDF) -> Option<AggregateUDF> {
    let f = &udf
        .inner()
        .as_ref()
        .downcast_ref::<aggregate::WasmAggregate>()?
        .0;
    let scope = Arc::new(pool::Scope::new(&f.shared));
    Some(AggregateUDF::new_from_impl(aggregate::WasmAggregate(
        f.in_scope(scope),
    )))
}

/// Registers every function of `component` on `ctx`, with the default
/// [`Options`].
///
/// # Errors
///
/// As [`udfs`], and [`wasmudf::Error::NameClash`] (as DataFusion's
/// `External` error) when a function would replace or shadow one `ctx`
/// has; nothing of the component is registered then.
pub fn register(ctx: &SessionContext, component: &Component) -> Result<()> {
    register_with_options(ctx, component, &Options::default())
}

/// As [`register`], with `options`; the state a query holds is reserved
/// in `ctx`'s memory pool too.
///
/// # Errors
///
/// As [`register`].
pub fn register_with_options(
    ctx: &SessionContext,
    component: &Component,
    options: &Options,
) -> Result<()> {
    let parallelism = ctx.state().config().target_partitions();
    let memory = ctx.runtime_env().memory_pool.clone();
    let udfs = make_udfs(component, parallelism, options, Some(memory))?;
    register_udfs(ctx, component, udfs)
}

/// Registers `udfs` (made of `component` by [`udfs`]) on `ctx`, after the
/// name check of [`register`], and sets `ctx` up for them: calls of
/// aggregates with no argument, and accumulator instances of its own for
/// every query.
///
/// # Errors
///
/// As [`register`].
pub fn register_udfs(ctx: &SessionContext, component: &Component, udfs: Udfs) -> Result<()> {
    names::check(ctx, component)?;
    prepare(ctx)?;
    for f in udfs.scalars {
        ctx.register_udf(f);
    }
    for f in udfs.aggregates {
        ctx.register_udaf(f);
    }
    Ok(())
}

/// Adds this crate's expression planner and analyzer rule to `ctx`, once.
fn prepare(ctx: &SessionContext) -> Result<()> {
    let state = ctx.state_ref();
    let mut state = state.write();
    let planned = state
        .expr_planners()
        .iter()
        .any(|p| format!("{p:?}") == format!("{:?}", planning::NoArgumentPlanner));
    if !planned {
        FunctionRegistry::register_expr_planner(
            &mut *state,
            Arc::new(planning::NoArgumentPlanner),
        )?;
    }
    let analyzed = state
        .analyzer()
        .rules
        .iter()
        .any(|r| r.name() == planning::PER_QUERY_SCOPES);
    if !analyzed {
        state.add_analyzer_rule(Arc::new(planning::PerQueryScopes));
    }
    Ok(())
}

/// Registers every function of `component` on `registry` (a session
/// state, say, or a Ballista executor's function registry), after the name
/// check of [`register`], with an expression planner for calls of
/// aggregates with no argument. A registry has no analyzer rules: the
/// queries of a `registry` share accumulator instances unless what
/// decodes their plans gives each its own ([`isolated`]).
///
/// # Errors
///
/// As [`register`], and the registry's own.
pub fn register_with(
    registry: &mut dyn FunctionRegistry,
    component: &Component,
    parallelism: usize,
) -> Result<()> {
    names::check(registry, component)?;
    let udfs = udfs(component, parallelism)?;
    let planned = registry
        .expr_planners()
        .iter()
        .any(|p| format!("{p:?}") == format!("{:?}", planning::NoArgumentPlanner));
    if !planned {
        // A registry that takes no planners plans no SQL (an executor's):
        // nothing there needs this one.
        let _ = registry.register_expr_planner(Arc::new(planning::NoArgumentPlanner));
    }
    for f in udfs.scalars {
        registry.register_udf(Arc::new(f))?;
    }
    for f in udfs.aggregates {
        registry.register_udaf(Arc::new(f))?;
    }
    Ok(())
}
