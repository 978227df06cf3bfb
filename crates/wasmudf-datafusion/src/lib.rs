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
//! - **Volatility.** `deterministic` functions are `Immutable` (the planner
//!   may fold their calls on literals, running the guest while planning);
//!   the rest are `Volatile`.
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
mod pool;
mod scalar;

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::common::{DataFusionError, Result};
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use datafusion::prelude::SessionContext;
use wasmudf::{Component, FunctionKind};

pub use files::register_file;

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
/// `target_partitions`).
///
/// Names are lower-cased, as DataFusion's SQL planner looks unquoted names
/// up; SQLite matches them case-insensitively too.
///
/// # Errors
///
/// A component with two functions of one name (SQLite overloads them by
/// arity; DataFusion knows a function by its name alone).
pub fn udfs(component: &Component, parallelism: usize) -> Result<Udfs> {
    let shared = Arc::new(pool::Shared::new(component.clone(), parallelism));
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Udfs::default();
    for (index, spec) in component.functions().iter().enumerate() {
        // Table functions are SQLite-only for now: DataFusion's table
        // functions take literal arguments only, with no lateral join.
        if spec.kind == FunctionKind::Table {
            continue;
        }
        let name = spec.name.to_lowercase();
        if let Some(first) = seen.insert(name.clone(), index) {
            return Err(DataFusionError::Plan(format!(
                "{}: `{name}` is declared twice (functions #{first} and #{index}); DataFusion \
                 knows a function by its name alone, so overloads by arity are not supported",
                component.origin()
            )));
        }
        let f = pool::Function::new(shared.clone(), index, name);
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

/// Registers every function of `component` on `ctx`.
///
/// # Errors
///
/// As [`udfs`].
pub fn register(ctx: &SessionContext, component: &Component) -> Result<()> {
    let parallelism = ctx.state().config().target_partitions();
    let udfs = udfs(component, parallelism)?;
    for f in udfs.scalars {
        ctx.register_udf(f);
    }
    for f in udfs.aggregates {
        ctx.register_udaf(f);
    }
    Ok(())
}

/// Registers every function of `component` on `registry` (a session
/// state, say, or a Ballista executor's function registry).
///
/// # Errors
///
/// As [`udfs`], and the registry's own.
pub fn register_with(
    registry: &mut dyn FunctionRegistry,
    component: &Component,
    parallelism: usize,
) -> Result<()> {
    let udfs = udfs(component, parallelism)?;
    for f in udfs.scalars {
        registry.register_udf(Arc::new(f))?;
    }
    for f in udfs.aggregates {
        registry.register_udaf(Arc::new(f))?;
    }
    Ok(())
}
