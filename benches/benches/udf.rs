//! Criterion benches: per-row cost over 1,000,000 rows (builtin, native
//! closure and wasm side by side), instance creation (component and direct
//! instances), limits (and the direct path off) and async scaling.
//!
//! `cargo bench -p wasmudf-benches` (add `-- <filter>` for one group).

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use wasmudf_benches::scenarios::{self, Flavor, PER_ROW_CASES, Table};

const ROWS: usize = 1_000_000;
const LONG_ROWS: usize = 200_000;

fn per_row(c: &mut Criterion) {
    let engine = wasmudf::Engine::new().expect("engine");
    let components = scenarios::components(&engine).expect("guests load");
    let conn = scenarios::connection(&components, ROWS, LONG_ROWS).expect("data");
    let mut group = c.benchmark_group("per_row");
    group.sample_size(10);
    for case in PER_ROW_CASES {
        let rows = match case.table {
            Table::Main => ROWS,
            Table::Long => LONG_ROWS,
        };
        group.throughput(criterion::Throughput::Elements(rows as u64));
        for flavor in [Flavor::Scan, Flavor::Builtin, Flavor::Native, Flavor::Wasm] {
            let Some(sql) = case.sql(flavor) else {
                continue;
            };
            group.bench_with_input(
                BenchmarkId::new(case.name, format!("{flavor:?}")),
                &sql,
                |b, sql| b.iter(|| scenarios::time_query(&conn, sql).expect("query")),
            );
        }
    }
    group.finish();
}

fn instances(c: &mut Criterion) {
    let mut group = c.benchmark_group("instance");
    for pooling in [true, false] {
        let engine = wasmudf::Engine::builder()
            .pooling(pooling)
            .build()
            .expect("engine");
        let component = engine
            .load_file(wasmudf_test_guests::BENCH)
            .expect("bench guest");
        let name = if pooling { "pooling" } else { "on-demand" };
        group.bench_function(BenchmarkId::new("fresh_instance", name), |b| {
            b.iter(|| component.probe_instance().expect("instantiates"))
        });
        group.bench_function(BenchmarkId::new("fresh_direct_instance", name), |b| {
            b.iter(|| {
                assert!(component.probe_direct_instance().expect("instantiates"));
            })
        });
    }
    let engine = wasmudf::Engine::new().expect("engine");
    let bytes = std::fs::read(wasmudf_test_guests::BENCH).expect("read guest");
    group.sample_size(10);
    group.bench_function("cold_compile", |b| {
        b.iter(|| engine.load("bench", &bytes).expect("compiles"))
    });
    group.finish();
}

/// `SELECT sum(add1(i))` under each limit setting, and with the direct
/// path off, each on its own engine and connection.
fn limits(c: &mut Criterion) {
    let mut group = c.benchmark_group("limits");
    group.sample_size(10);
    let rows = 200_000;
    let engines = [
        ("none", wasmudf::Engine::builder().epoch_interruption(false)),
        ("deadline", wasmudf::Engine::builder()),
        (
            "deadline+fuel",
            wasmudf::Engine::builder().limits(wasmudf::Limits {
                fuel: Some(1 << 40),
                ..wasmudf::Limits::default()
            }),
        ),
        (
            "component_path",
            wasmudf::Engine::builder().direct_calls(false),
        ),
    ];
    group.throughput(criterion::Throughput::Elements(rows as u64));
    for (name, builder) in engines {
        let engine = builder.build().expect("engine");
        let component = engine
            .load_file(wasmudf_test_guests::BENCH)
            .expect("bench guest");
        let conn = scenarios::connection(&[component], rows, 0).expect("data");
        group.bench_function(BenchmarkId::new("add1", name), |b| {
            b.iter(|| scenarios::time_query(&conn, "SELECT sum(add1(i)) FROM t").expect("query"))
        });
    }
    group.finish();
}

/// 1, 2 and 4 concurrent `SELECT sum(add1(i))` queries through the async
/// `Database` on a 2-worker runtime; throughput is queries per second.
fn scaling(c: &mut Criterion) {
    let mut group = c.benchmark_group("scaling");
    group.sample_size(10);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let engine = wasmudf::Engine::new().expect("engine");
    let component = engine
        .load_file(wasmudf_test_guests::BENCH)
        .expect("bench guest");
    let db = runtime.block_on(async {
        let db = wasmudf::Database::builder()
            .components([component])
            .pool_size(4)
            .open()
            .await
            .expect("database");
        db.interact(|conn| {
            Ok(scenarios::fill(conn, 200_000, 0)
                .map_err(|e| wasmudf::rusqlite::Error::UserFunctionError(e.into()))?)
        })
        .await
        .expect("data");
        db
    });
    let run = |n: usize| {
        runtime.block_on(async {
            let tasks: Vec<_> = (0..n)
                .map(|_| {
                    let db = db.clone();
                    tokio::spawn(
                        async move { db.query_row("SELECT sum(add1(i)) FROM t", ()).await },
                    )
                })
                .collect();
            for t in tasks {
                t.await.expect("task").expect("query");
            }
        })
    };
    // Warm every pooled connection first.
    run(4);
    for n in [1usize, 2, 4] {
        group.throughput(criterion::Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::new("concurrent_queries", n), |b| {
            b.iter(|| run(n))
        });
    }
    group.finish();
}

criterion_group!(benches, per_row, instances, limits, scaling);
criterion_main!(benches);
