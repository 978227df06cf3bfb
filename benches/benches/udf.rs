//! Criterion benches: per-row cost over 1,000,000 rows (builtin, native
//! closure and wasm side by side), instance creation, limits and scaling.
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
    }
    let engine = wasmudf::Engine::new().expect("engine");
    let bytes = std::fs::read(wasmudf_test_guests::BENCH).expect("read guest");
    group.sample_size(10);
    group.bench_function("cold_compile", |b| {
        b.iter(|| engine.load("bench", &bytes).expect("compiles"))
    });
    group.finish();
}

criterion_group!(benches, per_row, instances);
criterion_main!(benches);
