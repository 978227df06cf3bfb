//! What registration refuses: functions that would shadow SQLite's builtins
//! or an earlier component's, and manifests too large to register.

use std::time::{Duration, Instant};

use anyhow::Result;
use rusqlite::Connection;
use rusqlite::types::Value;
use wasmudf::{Engine, Error, ExistingFunction, FunctionOwner, Limits};
use wasmudf_test_guests as guests;
use wasmudf_tests::{component, conn_with, scalar};

/// A table and a view over SQLite's `abs`, `lower` and `sum`, written
/// before any component is registered.
fn conn_with_view() -> Result<Connection> {
    let conn = Connection::open_in_memory()?;
    conn.execute_batch(
        "CREATE TABLE t(x INTEGER, s TEXT);
         INSERT INTO t VALUES (-3, 'ABC'), (5, 'dEf');
         CREATE VIEW v AS SELECT abs(x) AS a, lower(s) AS l, (SELECT sum(x) FROM t) AS total
                          FROM t ORDER BY x;",
    )?;
    Ok(conn)
}

#[test]
fn a_variadic_function_named_like_a_builtin_is_refused() -> Result<()> {
    let conn = conn_with_view()?;
    // SQLite's own extensions (FTS5, R*Tree) register functions on every
    // connection too.
    let functions = |conn: &Connection| -> rusqlite::Result<i64> {
        conn.query_row("SELECT count(*) FROM pragma_function_list", [], |r| {
            r.get(0)
        })
    };
    let before = functions(&conn)?;
    let err = component("shadow-builtins")
        .register(&conn)
        .expect_err("shadows abs");
    let Error::NameClash {
        ref origin,
        ref name,
        arity,
        ref existing,
    } = err
    else {
        panic!("{err}")
    };
    assert_eq!(origin, guests::SHADOW_BUILTINS);
    assert_eq!((name.as_str(), arity), ("abs", -1));
    assert_eq!(
        existing,
        &ExistingFunction {
            name: "abs".into(),
            arity: 1,
            owner: FunctionOwner::Builtin,
        }
    );
    let msg = err.to_string();
    assert!(
        msg.contains("`abs` (variadic)") && msg.contains("SQLite's builtin `abs` (arity 1)"),
        "{msg}"
    );
    // Nothing of the component was registered: `abs(-7, 1)` is still an
    // arity error, the builtins and the view answer as before.
    let wrong_arity = scalar(&conn, "SELECT abs(-7, 1)").expect_err("abs has one argument");
    assert!(
        wrong_arity
            .to_string()
            .contains("wrong number of arguments"),
        "{wrong_arity}"
    );
    assert_eq!(functions(&conn)?, before);
    assert_builtins_answer(&conn)
}

/// The builtins answer as SQLite's own, directly and through the view.
fn assert_builtins_answer(conn: &Connection) -> Result<()> {
    let view: Vec<(i64, String, i64)> = conn
        .prepare("SELECT a, l, total FROM v")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    assert_eq!(view, [(3, "abc".into(), 2), (5, "def".into(), 2)]);
    let direct: (i64, String, i64) = conn.query_row(
        "SELECT abs(-7), lower('XyZ'), (SELECT sum(x) FROM t)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    assert_eq!(direct, (7, "xyz".into(), 2));
    Ok(())
}

#[test]
fn a_fixed_arity_function_over_an_earlier_components_variadic_is_refused() -> Result<()> {
    let conn = conn_with(&["greatest"])?;
    let err = component("shadow-builtins")
        .register(&conn)
        .expect_err("shadows greatest_of(a, b)");
    let Error::NameClash {
        ref name,
        arity,
        ref existing,
        ..
    } = err
    else {
        panic!("{err}")
    };
    assert_eq!((name.as_str(), arity), ("greatest_of", 2));
    assert_eq!(
        existing,
        &ExistingFunction {
            name: "greatest_of".into(),
            arity: -1,
            owner: FunctionOwner::Component(guests::GREATEST.into()),
        }
    );
    let msg = err.to_string();
    assert!(
        msg.contains("`greatest_of` (arity 2)")
            && msg.contains(&format!(
                "`greatest_of` (variadic) of component {}",
                guests::GREATEST
            )),
        "{msg}"
    );
    // The earlier component still answers every arity.
    assert_eq!(
        scalar(&conn, "SELECT greatest_of(1, 9)")?,
        Value::Integer(9)
    );
    assert_eq!(
        scalar(&conn, "SELECT greatest_of(1, 9, 4)")?,
        Value::Integer(9)
    );
    Ok(())
}

#[test]
fn overriding_is_the_embedders_explicit_choice() -> Result<()> {
    let conn = conn_with_view()?;
    assert!(!component("shadow-builtins").overrides_allowed());
    let shadow = component("shadow-builtins").allow_override(true);
    assert!(shadow.overrides_allowed());
    shadow.register(&conn)?;
    // Exactly what the default refuses: the builtins are gone for every
    // arity, top-level SQL included.
    assert_eq!(
        scalar(&conn, "SELECT abs(-7)")?,
        Value::Text("shadowed".into())
    );
    assert_eq!(
        scalar(&conn, "SELECT sum(x) FROM t")?,
        Value::Text("shadowed".into())
    );
    Ok(())
}

#[test]
fn registration_refused_by_one_component_leaves_the_others_working() -> Result<()> {
    let conn = conn_with_view()?;
    component("identity").register(&conn)?;
    assert!(component("shadow-builtins").register(&conn).is_err());
    assert_eq!(
        scalar(&conn, "SELECT identity(41) + 1")?,
        Value::Integer(42)
    );
    assert_builtins_answer(&conn)
}

#[test]
fn a_manifest_of_200000_functions_is_refused_quickly() -> Result<()> {
    let engine = Engine::new()?;
    let start = Instant::now();
    let err = engine
        .load_file(guests::HUGE_MANIFEST)
        .expect_err("200,000 functions");
    let elapsed = start.elapsed();
    assert!(matches!(err, Error::Manifest { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("200000 functions") && msg.contains("at most 4096"),
        "{msg}"
    );
    // Bounded, not timed: the budget for any hostile input.
    assert!(elapsed < Duration::from_secs(30), "took {elapsed:?}");
    Ok(())
}

#[test]
fn the_function_cap_is_configurable() -> Result<()> {
    let tight = Engine::builder()
        .limits(Limits {
            max_functions: 1,
            ..Limits::default()
        })
        .build()?;
    // `identity` declares one function, `text` several.
    assert!(tight.load_file(guests::IDENTITY).is_ok());
    let err = tight
        .load_file(guests::TEXT)
        .expect_err("over one function");
    assert!(err.to_string().contains("at most 1 are allowed"), "{err}");
    let roomy = Engine::builder()
        .limits(Limits {
            max_functions: 200_000,
            ..Limits::default()
        })
        .build()?;
    assert_eq!(
        roomy.load_file(guests::HUGE_MANIFEST)?.functions().len(),
        200_000
    );
    Ok(())
}
