//! What this crate adds to a session's planning: an expression planner
//! that lets an aggregate be called with no arguments, and an analyzer rule
//! that gives every query accumulator instances of its own.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::Result;
use datafusion::common::ScalarValue;
use datafusion::common::config::ConfigOptions;
use datafusion::common::metadata::FieldMetadata;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::logical_expr::expr::{AggregateFunction, WindowFunction, WindowFunctionParams};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::planner::{
    ExprPlanner, PlannerResult, RawAggregateExpr, RawWindowExpr,
};
use datafusion::logical_expr::{AggregateUDF, Expr, LogicalPlan, WindowFunctionDefinition};
use datafusion::optimizer::AnalyzerRule;
use wasmudf::Arity;

use crate::aggregate::WasmAggregate;
use crate::pool::{Scope, Shared};

/// The field metadata key that marks the placeholder argument of an
/// aggregate called with none.
const NO_ARGUMENTS: &str = "wasmudf.no_arguments";

/// The argument DataFusion is given for an aggregate called with none:
/// its physical aggregates need at least one argument (`AggregateExprBuilder`
/// asserts it), as `count()` becomes `count(1)`. A NULL that carries
/// [`NO_ARGUMENTS`] in its metadata, which the accumulator recognises and
/// drops, so the guest's `step` sees no argument, as in SQLite.
fn placeholder() -> Expr {
    let metadata = FieldMetadata::from(std::collections::BTreeMap::from([(
        NO_ARGUMENTS.to_owned(),
        String::new(),
    )]));
    Expr::Literal(ScalarValue::Null, Some(metadata))
}

/// Whether an argument field is [`placeholder`]'s.
pub(crate) fn is_placeholder(field: &Field) -> bool {
    *field.data_type() == DataType::Null && field.metadata().contains_key(NO_ARGUMENTS)
}

/// The component aggregate `func` runs, if it is one.
fn ours(func: &AggregateUDF) -> Option<&WasmAggregate> {
    func.inner().as_ref().downcast_ref::<WasmAggregate>()
}

/// Plans calls of this crate's aggregate and window functions with no
/// argument (`count_rows()`, `count_rows() OVER (...)`) with
/// [`placeholder`]'s, named as written; a function that takes none called
/// with some is refused here, where the arguments are still the caller's.
#[derive(Debug)]
pub(crate) struct NoArgumentPlanner;

impl NoArgumentPlanner {
    /// `Ok(true)` when `func` is ours and is called with no argument.
    fn needs_placeholder(func: &AggregateUDF, args: &[Expr]) -> Result<bool> {
        let Some(f) = ours(func) else {
            return Ok(false);
        };
        let spec = f.0.spec();
        match (spec.arity, args.len()) {
            (Arity::Exactly(0) | Arity::Variadic, 0) => Ok(true),
            (Arity::Exactly(0), n) => {
                datafusion::common::plan_err!("{} takes 0 argument(s), was given {n}", spec.name)
            }
            _ => Ok(false),
        }
    }
}

impl ExprPlanner for NoArgumentPlanner {
    fn plan_aggregate(&self, raw: RawAggregateExpr) -> Result<PlannerResult<RawAggregateExpr>> {
        if !Self::needs_placeholder(&raw.func, &raw.args)? {
            return Ok(PlannerResult::Original(raw));
        }
        let as_written = Expr::AggregateFunction(AggregateFunction::new_udf(
            raw.func.clone(),
            Vec::new(),
            raw.distinct,
            raw.filter.clone(),
            raw.order_by.clone(),
            raw.null_treatment,
        ));
        let name = NamePreserver::new_for_projection().save(&as_written);
        let planned = Expr::AggregateFunction(AggregateFunction::new_udf(
            raw.func,
            vec![placeholder()],
            raw.distinct,
            raw.filter,
            raw.order_by,
            raw.null_treatment,
        ));
        Ok(PlannerResult::Planned(name.restore(planned)))
    }

    fn plan_window(&self, raw: RawWindowExpr) -> Result<PlannerResult<RawWindowExpr>> {
        let WindowFunctionDefinition::AggregateUDF(func) = &raw.func_def else {
            return Ok(PlannerResult::Original(raw));
        };
        if !Self::needs_placeholder(func, &raw.args)? {
            return Ok(PlannerResult::Original(raw));
        }
        let window = |args: Vec<Expr>, raw: &RawWindowExpr| {
            Expr::from(WindowFunction {
                fun: raw.func_def.clone(),
                params: WindowFunctionParams {
                    args,
                    partition_by: raw.partition_by.clone(),
                    order_by: raw.order_by.clone(),
                    window_frame: raw.window_frame.clone(),
                    filter: raw.filter.clone(),
                    null_treatment: raw.null_treatment,
                    distinct: raw.distinct,
                },
            })
        };
        let name = NamePreserver::new_for_projection().save(&window(Vec::new(), &raw));
        Ok(PlannerResult::Planned(
            name.restore(window(vec![placeholder()], &raw)),
        ))
    }
}

/// Gives the aggregate and window functions of every query their own
/// [`Scope`]: accumulator instances no other query uses, and their own
/// count of state held. It runs once per query, when DataFusion analyzes
/// the plan it is about to optimize and execute (`EXPLAIN` included).
#[derive(Debug)]
pub(crate) struct PerQueryScopes;

/// The name [`PerQueryScopes`] goes by in a session's analyzer rules.
pub(crate) const PER_QUERY_SCOPES: &str = "wasmudf_per_query_instances";

impl AnalyzerRule for PerQueryScopes {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        // One scope per component in this query, keyed by its `Shared`.
        let mut scopes: HashMap<*const Shared, Arc<Scope>> = HashMap::new();
        let mut rebind = |func: &Arc<AggregateUDF>| -> Option<Arc<AggregateUDF>> {
            let f = &ours(func)?.0;
            let scope = scopes
                .entry(Arc::as_ptr(&f.shared))
                .or_insert_with(|| Arc::new(Scope::new(&f.shared)))
                .clone();
            Some(Arc::new(AggregateUDF::new_from_impl(WasmAggregate(
                f.in_scope(scope),
            ))))
        };
        let rewritten = plan.transform_up_with_subqueries(|node| {
            node.map_expressions(|e| {
                e.transform_up(|e| match e {
                    Expr::AggregateFunction(mut a) => match rebind(&a.func) {
                        Some(func) => {
                            a.func = func;
                            Ok(Transformed::yes(Expr::AggregateFunction(a)))
                        }
                        None => Ok(Transformed::no(Expr::AggregateFunction(a))),
                    },
                    Expr::WindowFunction(mut w) => {
                        let rebound = match &w.fun {
                            WindowFunctionDefinition::AggregateUDF(func) => rebind(func),
                            _ => None,
                        };
                        match rebound {
                            Some(func) => {
                                w.fun = WindowFunctionDefinition::AggregateUDF(func);
                                Ok(Transformed::yes(Expr::WindowFunction(w)))
                            }
                            None => Ok(Transformed::no(Expr::WindowFunction(w))),
                        }
                    }
                    e => Ok(Transformed::no(e)),
                })
            })
        })?;
        Ok(rewritten.data)
    }

    fn name(&self) -> &str {
        PER_QUERY_SCOPES
    }
}
