//! One name policy for every engine: a component never replaces or shadows
//! a function a DataFusion session has, of any kind, unless the embedder
//! opted in with `Component::allow_override`, as on SQLite.

use datafusion::common::DataFusionError;
use datafusion::execution::FunctionRegistry;
use wasmudf::{Error, ExistingFunction, FunctionOwner};

use super::*;

/// The `wasmudf::Error` a DataFusion error carries.
fn wasmudf_error(e: &DataFusionError) -> Option<&Error> {
    match e.find_root() {
        DataFusionError::External(inner) => inner.downcast_ref::<Error>(),
        _ => None,
    }
}

/// `(new name, existing function)` of the clash registering `component`
/// on `ctx` fails with.
fn clash(ctx: &SessionContext, component: &Component) -> (String, ExistingFunction) {
    let err = wasmudf_datafusion::register(ctx, component).expect_err("a clash");
    match wasmudf_error(&err) {
        Some(Error::NameClash { name, existing, .. }) => (name.clone(), existing.clone()),
        _ => panic!("not a NameClash: {err}"),
    }
}

fn datafusions(name: &str) -> ExistingFunction {
    ExistingFunction {
        name: name.into(),
        arity: -1,
        owner: FunctionOwner::EngineBuiltin("DataFusion".into()),
    }
}

#[test]
fn a_component_named_like_builtins_of_any_kind_is_refused() -> Result<()> {
    let shadow = load("shadow-builtins");
    let rt = runtime();
    let ctx = SessionContext::new();
    let builtins = "SELECT abs(-7), lower('XyZ'), count(x), sum(x), \
                    CAST(max(r) AS BIGINT) FROM (SELECT x, row_number() OVER (ORDER BY x) AS r \
                                                 FROM (VALUES (1), (2), (4)) AS t(x))";
    let before = rt.block_on(df_rows(&ctx, builtins))?;
    let int = Value::Integer;
    assert_eq!(
        before,
        [[int(7), Value::Text("xyz".into()), int(3), int(7), int(3)]]
    );
    let udfs = |ctx: &SessionContext| (ctx.udfs(), ctx.udafs(), ctx.udwfs());
    let functions = udfs(&ctx);

    // Every kind, in manifest order: the first clash is the scalar `abs`.
    // With each builtin taken away in turn, the next one is named: a
    // scalar `lower`, a scalar `count` over the aggregate `count`
    // (DataFusion looks scalars up first), the aggregate `sum`, the
    // window function `row_number` (an aggregate of that name would be
    // found before the builtin window function).
    let expected = [
        ("abs", "abs"),
        ("lower", "lower"),
        ("count", "count"),
        ("sum", "sum"),
        ("row_number", "row_number"),
    ];
    let bare = SessionContext::new();
    for (new, old) in expected {
        assert_eq!(clash(&bare, &shadow), (new.into(), datafusions(old)));
        // Nothing of the component was registered.
        assert!(bare.udf("greatest_of").is_err());
        bare.deregister_udf(old);
        bare.deregister_udaf(old);
        bare.deregister_udwf(old);
    }
    // Nothing left to clash with.
    wasmudf_datafusion::register(&bare, &shadow)?;

    // The first session kept its builtins, and they answer as before.
    assert_eq!(udfs(&ctx), functions);
    assert_eq!(rt.block_on(df_rows(&ctx, builtins))?, before);
    let err = wasmudf_datafusion::register(&ctx, &shadow).expect_err("a clash");
    assert!(
        err.to_string()
            .contains("function `abs` (variadic) clashes with DataFusion's builtin `abs`"),
        "{err}"
    );
    Ok(())
}

#[test]
fn overriding_is_the_embedders_explicit_choice() -> Result<()> {
    let rt = runtime();
    let ctx = SessionContext::new();
    let shadow = load("shadow-builtins").allow_override(true);
    wasmudf_datafusion::register(&ctx, &shadow)?;
    let shadowed = Value::Text("shadowed".into());
    for sql in [
        "SELECT abs(-7)",
        "SELECT lower('X')",
        "SELECT count(x) FROM (VALUES (1)) AS t(x)",
        "SELECT sum(x) FROM (VALUES (1)) AS t(x)",
        "SELECT row_number() OVER () FROM (VALUES (1)) AS t(x)",
    ] {
        assert_eq!(
            rt.block_on(df_rows(&ctx, sql))?,
            [[shadowed.clone()]],
            "{sql}"
        );
    }
    Ok(())
}

#[test]
fn a_component_named_like_another_components_function_is_refused() -> Result<()> {
    let ctx = SessionContext::new();
    let greatest = load("greatest");
    wasmudf_datafusion::register(&ctx, &greatest)?;
    let (name, existing) = clash(&ctx, &load("shadow-builtins"));
    assert_eq!(name, "greatest_of");
    assert_eq!(
        existing,
        ExistingFunction {
            name: "greatest_of".into(),
            arity: -1,
            owner: FunctionOwner::Component(greatest.origin().into()),
        }
    );
    // The same component twice is a clash with itself, as on SQLite.
    let (name, existing) = clash(&ctx, &greatest);
    assert_eq!(name, "greatest_of");
    assert_eq!(
        existing.owner,
        FunctionOwner::Component(greatest.origin().into())
    );
    // The application's own functions are as safe.
    let app = SessionContext::new();
    app.register_udf(datafusion::logical_expr::expr_fn::create_udf(
        "greatest_of",
        vec![datafusion::arrow::datatypes::DataType::Int64],
        datafusion::arrow::datatypes::DataType::Int64,
        datafusion::logical_expr::Volatility::Immutable,
        Arc::new(|args: &[datafusion::logical_expr::ColumnarValue]| Ok(args[0].clone())),
    ));
    let (_, existing) = clash(&app, &greatest);
    assert_eq!(
        existing,
        ExistingFunction {
            name: "greatest_of".into(),
            arity: 1,
            owner: FunctionOwner::Application,
        }
    );
    Ok(())
}

/// The examples are named so that none replaces a builtin: DataFusion's
/// own `greatest` and `median` (and `levenshtein` and `sha256` where this
/// build has them) answer as DataFusion's, beside the examples.
#[test]
fn every_example_loads_beside_the_builtins_it_was_once_named_like() -> Result<()> {
    let rt = runtime();
    let ctx = SessionContext::new();
    for name in [
        "text", "sha256", "greatest", "identity", "stats", "sleep", "bench",
    ] {
        wasmudf_datafusion::register(&ctx, &load(name))?;
    }
    wasmudf_datafusion::register(&ctx, &engine().load_file(wasmudf_test_guests::JS_EXAMPLES)?)?;
    wasmudf_datafusion::register(&ctx, &engine().load_file(wasmudf_test_guests::PY_EXAMPLES)?)?;
    assert_eq!(
        rt.block_on(df_rows(
            &ctx,
            "SELECT greatest(1, 9, 4), greatest_of(1, 9, 4), \
                    (SELECT median(x) FROM (VALUES (1.0), (5.0), (3.0)) AS t(x)), \
                    (SELECT median_of(x) FROM (VALUES (1.0), (5.0), (3.0)) AS t(x))"
        ))?,
        [[
            Value::Integer(9),
            Value::Integer(9),
            Value::Real(3.0),
            Value::Real(3.0)
        ]]
    );
    for builtin in ["levenshtein", "sha256"] {
        if let Ok(f) = ctx.udf(builtin) {
            assert!(wasmudf_datafusion::scalar_origin(&f).is_none(), "{builtin}");
        }
    }
    Ok(())
}
