//! Every example function gives the same answers through DataFusion as
//! through SQLite, on the same data, with several partitions (so
//! aggregates run in two phases), and hostile guests end in clear errors.
//! The submodules hold the rest of what DataFusion owes SQLite's
//! promises: `names` (one name policy), `props` (the same answers over
//! random batches, NULLs and slices), `bounded` (bounded memory, no guest
//! code while planning, one query's failure not another's).

use std::sync::{Arc, OnceLock};

use anyhow::Result;
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use wasmudf::{Component, Engine, Value};

mod common;
use common::{assert_same_rows, batch, cell, rows};

// In `parity/`, where cargo does not take them for test targets of their
// own.
#[path = "parity/bounded.rs"]
mod bounded;
#[path = "parity/names.rs"]
mod names;
#[path = "parity/props.rs"]
mod props;

const ROWS: i64 = 240;

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::new().expect("engine"))
}

fn load(name: &str) -> Component {
    let path = wasmudf_test_guests::ALL
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no guest {name}"))
        .1;
    engine().load_file(path).expect("loads")
}

fn sqlite(components: &[&Component]) -> Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open_in_memory()?;
    conn.execute_batch("CREATE TABLE t(id INTEGER, i INTEGER, r REAL, s TEXT, b BLOB, g INTEGER)")?;
    for (id, i, r, s, b, g) in rows(ROWS) {
        conn.execute(
            "INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![id, i, r, s, b, g],
        )?;
    }
    for c in components {
        c.register(&conn)?;
    }
    Ok(conn)
}

fn datafusion(components: &[&Component], partitions: usize) -> Result<SessionContext> {
    let all = rows(ROWS);
    let chunk = all.len().div_ceil(partitions);
    let batches = all
        .chunks(chunk)
        .map(|part| Ok(vec![batch(part)?]))
        .collect::<Result<Vec<_>>>()?;
    let schema = batches[0][0].schema();
    let config = SessionConfig::new()
        .with_target_partitions(partitions)
        .with_batch_size(64);
    let ctx = SessionContext::new_with_config(config);
    ctx.register_table("t", Arc::new(MemTable::try_new(schema, batches)?))?;
    for c in components {
        wasmudf_datafusion::register(&ctx, c)?;
    }
    Ok(ctx)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

async fn df_rows(ctx: &SessionContext, sql: &str) -> Result<Vec<Vec<Value>>> {
    let batches = ctx.sql(sql).await?.collect().await?;
    let mut out = Vec::new();
    for b in batches {
        for r in 0..b.num_rows() {
            out.push(
                b.columns()
                    .iter()
                    .map(|c| cell(c, r))
                    .collect::<Result<_>>()?,
            );
        }
    }
    Ok(out)
}

fn check(
    conn: &rusqlite::Connection,
    ctx: &SessionContext,
    rt: &tokio::runtime::Runtime,
    sql: &str,
) -> Result<()> {
    let got = rt.block_on(df_rows(ctx, sql))?;
    assert_same_rows(conn, sql, "DataFusion", &got)
}

#[test]
fn every_example_function_answers_as_in_sqlite() -> Result<()> {
    let names = ["text", "sha256", "greatest", "identity", "stats", "sleep"];
    let loaded: Vec<Component> = names.iter().map(|n| load(n)).collect();
    let refs: Vec<&Component> = loaded.iter().collect();
    let conn = sqlite(&refs)?;
    let rt = runtime();
    let ctx = datafusion(&refs, 4)?;
    for sql in [
        "SELECT id, unicode_upper(s) FROM t ORDER BY id",
        "SELECT id, edit_distance(s, 'sitting') FROM t ORDER BY id",
        "SELECT id, regexp('^[a-z]+[0-9]$', s) FROM t ORDER BY id",
        "SELECT id, sha256_of(b), sha256_of(s) FROM t ORDER BY id",
        "SELECT id, greatest_of(i, 3), greatest_of(r, 0.5, -2.0) FROM t ORDER BY id",
        "SELECT id, identity(i), identity(r), identity(s), identity(b) FROM t ORDER BY id",
        "SELECT id, sleep(0) FROM t WHERE id < 5 ORDER BY id",
        "SELECT g, median_of(r), median_of(i), sumsq(i), sumsq(r) FROM t GROUP BY g ORDER BY g",
        "SELECT median_of(r), sumsq(i) FROM t",
        "SELECT g, median_of(DISTINCT i), sumsq(DISTINCT i) FROM t GROUP BY g ORDER BY g",
        "SELECT id, sumsq(i) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM t ORDER BY id",
        "SELECT id, sumsq(r) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM t ORDER BY id",
        "SELECT id, sumsq(i) OVER (ORDER BY id) FROM t ORDER BY id",
        "SELECT unicode_upper('straße'), edit_distance('kitten', 'sitting'), greatest_of(1, 9, 4)",
    ] {
        check(&conn, &ctx, &rt, sql)?;
    }
    Ok(())
}

#[test]
fn aggregates_run_in_two_phases_and_say_so() -> Result<()> {
    let stats = load("stats");
    let rt = runtime();
    let ctx = datafusion(&[&stats], 4)?;
    let plan = rt.block_on(df_rows(
        &ctx,
        "EXPLAIN SELECT g, median_of(r) FROM t GROUP BY g",
    ))?;
    let text = format!("{plan:?}");
    assert!(
        text.contains("Partial") && text.contains("FinalPartitioned"),
        "{text}"
    );
    Ok(())
}

#[test]
fn one_component_loaded_twice_is_one_function() -> Result<()> {
    let a = wasmudf_datafusion::udfs(&load("stats"), 2)?;
    let b = wasmudf_datafusion::udfs(&load("stats"), 2)?;
    assert_eq!(a.aggregates, b.aggregates);
    assert_ne!(a.aggregates[0], a.aggregates[1]);
    Ok(())
}

#[test]
fn hostile_guests_end_in_clear_errors() -> Result<()> {
    let rt = runtime();
    let faulty = load("faulty");
    let ctx = datafusion(&[&faulty], 2)?;
    let err = rt
        .block_on(df_rows(
            &ctx,
            "SELECT trap_if(CASE WHEN id = 17 THEN 1 ELSE 0 END) FROM t",
        ))
        .expect_err("trap");
    let msg = format!("{err:#}");
    assert!(msg.contains("trap_if: trapped"), "{msg}");
    let err = rt
        .block_on(df_rows(&ctx, "SELECT trap_if(2)"))
        .expect_err("guest error");
    assert!(
        format!("{err:#}").contains("trap_if: asked to fail"),
        "{err:#}"
    );
    // The session stays usable.
    assert_eq!(
        rt.block_on(df_rows(&ctx, "SELECT add1(41)"))?,
        [[Value::Integer(42)]]
    );

    let engine = Engine::builder()
        .limits(wasmudf::Limits {
            timeout: std::time::Duration::from_millis(100),
            ..wasmudf::Limits::default()
        })
        .build()?;
    let spin = engine.load_file(
        wasmudf_test_guests::ALL
            .iter()
            .find(|(n, _)| *n == "infinite-loop")
            .expect("infinite-loop")
            .1,
    )?;
    let name = spin.functions()[0].name.clone();
    let ctx = datafusion(&[&spin], 2)?;
    let err = rt
        .block_on(df_rows(&ctx, &format!("SELECT {name}() FROM t")))
        .expect_err("deadline");
    assert!(format!("{err:#}").contains("deadline exceeded"), "{err:#}");

    // A type outside SQLite's classes is refused while planning.
    let identity = load("identity");
    let ctx = datafusion(&[&identity], 2)?;
    let err = rt
        .block_on(df_rows(&ctx, "SELECT identity(DATE '2026-01-01')"))
        .expect_err("a date");
    assert!(format!("{err:#}").contains("SQLite's classes"), "{err:#}");
    Ok(())
}

/// The JavaScript and Python example components too: the same WIT, other
/// SDKs, batched `call-columns` and mergeable aggregates of their own.
#[test]
fn the_javascript_and_python_examples_answer_as_in_sqlite() -> Result<()> {
    let js = engine().load_file(wasmudf_test_guests::JS_EXAMPLES)?;
    let py = engine().load_file(wasmudf_test_guests::PY_EXAMPLES)?;
    let conn = sqlite(&[&js, &py])?;
    let rt = runtime();
    let ctx = datafusion(&[&js, &py], 3)?;
    for sql in [
        "SELECT id, js_slugify(s), js_i64_add(i, 7), js_format('{0}-{1}', s, r) FROM t ORDER BY id",
        "SELECT g, js_mode(i) FROM t GROUP BY g ORDER BY g",
        "SELECT id, py_similarity(s, 'kitten'), py_add(i, r), py_join('/', s, i) FROM t ORDER BY id",
        "SELECT g, py_stdev(r), py_mean(i) FROM t GROUP BY g ORDER BY g",
        "SELECT py_mean(r), py_stdev(i), js_mode(g) FROM t",
    ] {
        check(&conn, &ctx, &rt, sql)?;
    }
    Ok(())
}
