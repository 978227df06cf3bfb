//! DataFusion keeps SQLite's bounds: the guest is handed rows in SQLite's
//! batches, a query's aggregate state is capped, planning runs no guest
//! code, aggregates of no argument work, and one query's broken guest
//! loses no other query's state.

use std::sync::atomic::{AtomicUsize, Ordering};

use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::streaming::StreamingTable;
use datafusion::execution::TaskContext;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use futures::StreamExt;
use wasmudf::{CallPhase, Limits};

use super::*;

/// An engine whose guests get `mib` MiB of memory.
fn small_engine(mib: usize) -> Engine {
    Engine::builder()
        .limits(Limits {
            max_memory_bytes: mib << 20,
            ..Limits::default()
        })
        .build()
        .expect("engine")
}

fn guest(engine: &Engine, name: &str) -> Component {
    let path = wasmudf_test_guests::ALL
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no guest {name}"))
        .1;
    engine.load_file(path).expect("loads")
}

/// `rows` rows `x` (REAL, all distinct) and `s` (40-byte TEXT) in two
/// partitions of one batch each, registered as `big` on `ctx`.
fn big_table(ctx: &SessionContext, rows: usize) -> Result<()> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Float64, false),
        Field::new("s", DataType::Utf8, false),
    ]));
    let x: ArrayRef = Arc::new(Float64Array::from_iter_values(
        (0..rows).map(|i| i as f64 / 7.0),
    ));
    let s: ArrayRef = Arc::new(StringArray::from_iter_values(
        (0..rows).map(|i| format!("{i:0>40}")),
    ));
    let batch = RecordBatch::try_new(schema.clone(), vec![x, s])?;
    let half = rows / 2;
    let parts = vec![
        vec![batch.slice(0, half)],
        vec![batch.slice(half, rows - half)],
    ];
    ctx.register_table("big", Arc::new(MemTable::try_new(schema, parts)?))?;
    Ok(())
}

/// Batches far over the guest's memory (12 MB of TEXT per batch for a
/// guest of 4 MiB; 4.8 MB of REALs in a 600,000-row DISTINCT) are handed
/// over in SQLite's runs, and answer as SQLite does.
#[test]
fn the_guest_is_handed_rows_in_sqlites_batches() -> Result<()> {
    let engine = small_engine(4);
    let stats = guest(&engine, "stats");
    let identity = guest(&engine, "identity");
    let rows = 600_000;
    let config = SessionConfig::new()
        .with_target_partitions(1)
        .with_batch_size(rows);
    let ctx = SessionContext::new_with_config(config);
    big_table(&ctx, rows)?;
    wasmudf_datafusion::register(&ctx, &stats)?;
    wasmudf_datafusion::register(&ctx, &identity)?;

    let mut conn = rusqlite::Connection::open_in_memory()?;
    conn.execute_batch("CREATE TABLE big(x REAL, s TEXT)")?;
    let tx = conn.transaction()?;
    {
        let mut insert = tx.prepare("INSERT INTO big VALUES (?1, ?2)")?;
        for i in 0..rows {
            insert.execute(rusqlite::params![i as f64 / 7.0, format!("{i:0>40}")])?;
        }
    }
    tx.commit()?;
    stats.register(&conn)?;
    identity.register(&conn)?;
    let rt = runtime();
    for sql in [
        // Two DISTINCT arguments, so DataFusion does not rewrite them to a
        // GROUP BY: every distinct row is replayed into one accumulator.
        "SELECT sumsq(DISTINCT x * 1.0), sumsq(DISTINCT x + 1.0) FROM big",
        "SELECT sumsq(x) FROM big",
        "SELECT sum(length(identity(s))) FROM big",
        "SELECT count(DISTINCT identity(s)) FROM big",
    ] {
        check(&conn, &ctx, &rt, sql)?;
    }
    Ok(())
}

/// The rows a replayed aggregate buffers and the partial states shipped
/// between phases count against `Options::max_query_state_bytes`, and
/// against the session's memory pool.
#[test]
fn the_state_a_query_holds_is_capped() -> Result<()> {
    let stats = load("stats");
    let rows = 50_000;
    let rt = runtime();
    let ctx = |options: Option<wasmudf_datafusion::Options>, pool: Option<usize>| -> Result<_> {
        let config = SessionConfig::new().with_target_partitions(2);
        let ctx = match pool {
            Some(bytes) => SessionContext::new_with_config_rt(
                config,
                RuntimeEnvBuilder::new()
                    .with_memory_limit(bytes, 1.0)
                    .build_arc()?,
            ),
            None => SessionContext::new_with_config(config),
        };
        big_table(&ctx, rows)?;
        match options {
            Some(o) => wasmudf_datafusion::register_with_options(&ctx, &stats, &o)?,
            None => wasmudf_datafusion::register(&ctx, &stats)?,
        }
        Ok(ctx)
    };
    // Two DISTINCT arguments: DataFusion rewrites a query whose DISTINCT
    // aggregates share one argument to a GROUP BY of it.
    let distinct = "SELECT sumsq(DISTINCT x), sumsq(DISTINCT x + 1) FROM big";
    let merged = "SELECT median_of(x) FROM big";
    // Within the default cap.
    let plain = ctx(None, None)?;
    assert_eq!(rt.block_on(df_rows(&plain, distinct))?.len(), 1);
    assert_eq!(rt.block_on(df_rows(&plain, merged))?.len(), 1);

    let small = wasmudf_datafusion::Options::default().max_query_state_bytes(64 << 10);
    let capped = ctx(Some(small), None)?;
    for sql in [distinct, merged] {
        let err = rt
            .block_on(df_rows(&capped, sql))
            .expect_err("over the cap");
        let msg = format!("{err:#}");
        assert!(
            msg.contains("over its limit of 65536")
                && msg.contains("max_query_state_bytes")
                && (msg.contains("sumsq") || msg.contains("median_of")),
            "{msg}"
        );
    }
    // The cap is per query: the session still answers small queries.
    assert_eq!(
        rt.block_on(df_rows(&capped, "SELECT median_of(x) FROM big WHERE x < 1"))?,
        [[Value::Real(3.0 / 7.0)]]
    );

    // A memory pool smaller than the partial states refuses them too.
    let pooled = ctx(None, Some(256 << 10))?;
    let err = rt
        .block_on(df_rows(&pooled, merged))
        .expect_err("over the pool");
    let msg = format!("{err:#}");
    assert!(
        msg.contains("Resources exhausted") && msg.contains("wasmudf aggregate state"),
        "{msg}"
    );
    Ok(())
}

/// Guest calls `engine` makes from now on.
fn counter(calls: &Arc<AtomicUsize>) -> Engine {
    let calls = calls.clone();
    Engine::builder()
        .on_call(move |phase| {
            if phase == CallPhase::Enter {
                calls.fetch_add(1, Ordering::Relaxed);
            }
        })
        .build()
        .expect("engine")
}

/// DataFusion folds calls on literals while it plans, for every function
/// that is not volatile: planning and `EXPLAIN` would run the guest (and
/// drop its errors) in every pass. They run none.
#[test]
fn planning_and_explain_run_no_guest_code() -> Result<()> {
    let calls = Arc::new(AtomicUsize::new(0));
    let engine = counter(&calls);
    let text = guest(&engine, "text");
    let bench = guest(&engine, "bench");
    let rt = runtime();
    let ctx = datafusion(&[], 2)?;
    wasmudf_datafusion::register(&ctx, &text)?;
    wasmudf_datafusion::register(&ctx, &bench)?;
    calls.store(0, Ordering::Relaxed);
    let sql = "SELECT edit_distance('kitten', 'sitting') AS d, unicode_upper('straße') AS u, \
               add1(41) + add1(1) AS a, sum_i(i) AS s FROM t WHERE add1(2) > 0";
    let plan = rt.block_on(df_rows(&ctx, &format!("EXPLAIN {sql}")))?;
    assert!(format!("{plan:?}").contains("edit_distance"), "{plan:?}");
    rt.block_on(async { ctx.sql(sql).await?.create_physical_plan().await })?;
    assert_eq!(
        calls.load(Ordering::Relaxed),
        0,
        "guest calls while planning"
    );

    // Running it calls each deterministic function of literals once per
    // batch, and answers as SQLite.
    let got = rt.block_on(df_rows(&ctx, sql))?;
    assert!(calls.load(Ordering::Relaxed) > 0);
    let conn = sqlite(&[&text, &bench])?;
    assert_same_rows(&conn, sql, "DataFusion", &got)?;

    // A failing deterministic call fails the query once, at run time.
    let err = rt
        .block_on(df_rows(&ctx, "SELECT edit_distance('a', 1) FROM t"))
        .expect_err("argument 2 is not TEXT");
    assert!(format!("{err:#}").contains("edit_distance"), "{err:#}");
    Ok(())
}

/// `count_rows()` (an aggregate of no argument) answers as in SQLite,
/// grouped and beside other aggregates; given an argument it is refused
/// while planning. (A window function of no argument: `row_number()` in
/// `names::overriding_is_the_embedders_explicit_choice`.)
#[test]
fn an_aggregate_of_no_argument_answers_as_in_sqlite() -> Result<()> {
    let bench = load("bench");
    let conn = sqlite(&[&bench])?;
    let rt = runtime();
    let ctx = datafusion(&[&bench], 3)?;
    for sql in [
        "SELECT sum_i(i), count_rows() FROM t",
        "SELECT g, count_rows(), sum_i(i) FROM t GROUP BY g ORDER BY g",
        "SELECT count_rows() FROM t WHERE i IS NULL",
    ] {
        check(&conn, &ctx, &rt, sql)?;
    }
    let names = rt.block_on(async {
        let df = ctx.sql("SELECT count_rows() FROM t").await?;
        Ok::<_, DataFusionError>(df.schema().field(0).name().clone())
    })?;
    assert_eq!(names, "count_rows()");
    let err = rt
        .block_on(df_rows(&ctx, "SELECT count_rows(1) FROM t"))
        .expect_err("no arguments");
    assert!(
        format!("{err:#}").contains("count_rows takes 0 argument(s), was given 1"),
        "{err:#}"
    );
    Ok(())
}

use datafusion::common::DataFusionError;

/// What [`Paused`] runs between its batches.
type Meanwhile = Arc<dyn Fn() -> futures::future::BoxFuture<'static, ()> + Send + Sync>;

/// One partition of `x` (REAL) and `g` (INTEGER) that yields its first
/// batch, then runs `meanwhile` to its end, then yields its second.
struct Paused {
    schema: SchemaRef,
    batches: [RecordBatch; 2],
    meanwhile: Meanwhile,
}

impl std::fmt::Debug for Paused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Paused").finish_non_exhaustive()
    }
}

impl PartitionStream for Paused {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let [first, second] = self.batches.clone();
        let meanwhile = self.meanwhile.clone();
        let stream = futures::stream::once(async move { Ok(first) }).chain(futures::stream::once(
            async move {
                meanwhile().await;
                Ok(second)
            },
        ));
        Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), stream))
    }
}

/// Query B fills the guest's memory while query A's accumulators of the
/// same component hold state; A answers as SQLite, because each query has
/// accumulator instances of its own (a memory limit hit traps and replaces
/// the instance, losing every accumulator in it).
#[test]
fn one_querys_broken_guest_loses_no_other_querys_state() -> Result<()> {
    let engine = small_engine(4);
    let stats = guest(&engine, "stats");
    let rt = runtime();
    // One partition: with instances shared between queries, A and B would
    // share the one accumulator home.
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(1));
    wasmudf_datafusion::register(&ctx, &stats)?;
    big_table(&ctx, 1_000_000)?;

    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Float64, true),
        Field::new("g", DataType::Int64, false),
    ]));
    let part = |xs: &[f64], gs: &[i64]| -> Result<RecordBatch> {
        Ok(RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Float64Array::from(xs.to_vec())),
                Arc::new(Int64Array::from(gs.to_vec())),
            ],
        )?)
    };
    let b_failed = Arc::new(std::sync::Mutex::new(None::<String>));
    let meanwhile = {
        let (ctx, b_failed) = (ctx.clone(), b_failed.clone());
        let run: Meanwhile = Arc::new(move || -> futures::future::BoxFuture<'static, ()> {
            let (ctx, b_failed) = (ctx.clone(), b_failed.clone());
            Box::pin(async move {
                // 8 MB of values for a guest of 4 MiB.
                let b = df_rows(&ctx, "SELECT median_of(x) FROM big").await;
                *b_failed.lock().expect("lock") = Some(match b {
                    Ok(rows) => format!("answered {rows:?}"),
                    Err(e) => format!("{e:#}"),
                });
            })
        });
        run
    };
    let paused = Paused {
        schema: schema.clone(),
        batches: [
            part(&[1.0, 2.0, 3.0, 10.0], &[1, 1, 2, 2])?,
            part(&[4.0, 20.0, 30.0], &[1, 2, 2])?,
        ],
        meanwhile,
    };
    ctx.register_table(
        "a",
        Arc::new(StreamingTable::try_new(
            schema.clone(),
            vec![Arc::new(paused)],
        )?),
    )?;
    let got = rt.block_on(df_rows(
        &ctx,
        "SELECT g, median_of(x) FROM a GROUP BY g ORDER BY g",
    ))?;
    let b = b_failed.lock().expect("lock").clone().expect("B ran");
    assert!(b.contains("memory limit"), "B: {b}");
    assert_eq!(
        got,
        [
            [Value::Integer(1), Value::Real(2.0)],
            [Value::Integer(2), Value::Real(15.0)]
        ]
    );
    Ok(())
}
