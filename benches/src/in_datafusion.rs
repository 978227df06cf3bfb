//! The same component in Apache DataFusion: a wasm UDF (one guest call
//! per record batch) against a native Rust UDF doing the same work, and
//! against the component's own SQLite path, over the same rows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use datafusion::arrow::array::{ArrayRef, AsArray, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};
use datafusion::common::{DataFusionError, ScalarValue, cast::as_int64_array};
use datafusion::datasource::MemTable;
use datafusion::logical_expr::{Accumulator, ColumnarValue, Volatility, create_udaf, create_udf};
use datafusion::prelude::{SessionConfig, SessionContext};
use rusqlite::Connection;
use serde::Serialize;
use wasmudf::Engine;

/// One measured kind of call.
#[derive(Debug, Clone, Serialize)]
pub struct DfCase {
    /// `scalar`, `text`, `aggregate` or `grouped aggregate`.
    pub kind: &'static str,
    /// The wasm query.
    pub wasm_sql: &'static str,
    /// The native query it is measured against.
    pub native_sql: &'static str,
    /// The scan both are netted against.
    pub scan_sql: &'static str,
    /// Whole-query medians in DataFusion, milliseconds.
    pub scan_ms: f64,
    /// Native Rust UDF in DataFusion.
    pub native_ms: f64,
    /// wasm UDF in DataFusion.
    pub wasm_ms: f64,
    /// The same wasm query (and scan) in SQLite, milliseconds.
    pub sqlite_ms: f64,
    /// SQLite's scan.
    pub sqlite_scan_ms: f64,
    /// Per-row cost net of the scan, nanoseconds.
    pub native_ns: f64,
    /// As `native_ns`, the wasm UDF in DataFusion.
    pub wasm_ns: f64,
    /// As `native_ns`, the wasm UDF in SQLite.
    pub sqlite_ns: f64,
    /// Whole query, wasm / native (the goal: at most 3 for
    /// scalars, 1.5 for aggregates).
    pub whole_ratio: f64,
}

/// The figures, with the rows and partitions they were measured on.
#[derive(Debug, Clone, Serialize)]
pub struct DataFusionReport {
    /// Rows in the table.
    pub rows: usize,
    /// DataFusion's `target_partitions` (and the table's partitions).
    pub partitions: usize,
    /// Rows per record batch.
    pub batch_size: usize,
    /// The cases.
    pub cases: Vec<DfCase>,
}

/// `(kind, wasm, native, scan)`: the native twins do the guest's work in
/// Rust (`add1`, `upper_ascii`, `sum_i`).
const CASES: &[(&str, &str, &str, &str)] = &[
    (
        "scalar",
        "SELECT sum(add1(i)) FROM t",
        "SELECT sum(native_add1(i)) FROM t",
        "SELECT sum(i) FROM t",
    ),
    (
        "text",
        "SELECT sum(length(upper_ascii(s))) FROM t",
        "SELECT sum(length(native_upper_ascii(s))) FROM t",
        "SELECT sum(length(s)) FROM t",
    ),
    (
        "aggregate",
        "SELECT sum_i(i) FROM t",
        "SELECT native_sum_i(i) FROM t",
        "SELECT count(i) FROM t",
    ),
    (
        "grouped aggregate",
        // One row out, so SQLite's timing (its first row) is the whole query.
        "SELECT sum(x) FROM (SELECT a, sum_i(i) AS x FROM t GROUP BY a)",
        "SELECT sum(x) FROM (SELECT a, native_sum_i(i) AS x FROM t GROUP BY a)",
        "SELECT sum(x) FROM (SELECT a, count(i) AS x FROM t GROUP BY a)",
    ),
];

/// How many steps [`run`] reports.
pub fn step_count() -> usize {
    CASES.len() + 1
}

/// Measures every case over `rows` rows in `partitions` partitions, `runs`
/// times each (the median is kept).
///
/// # Errors
///
/// A setup or query failure.
pub fn run(
    rows: usize,
    partitions: usize,
    runs: usize,
    step: &mut dyn FnMut(&str),
) -> Result<DataFusionReport> {
    step("datafusion setup");
    let engine = Engine::new()?;
    let bench = engine.load_file(wasmudf_test_guests::BENCH)?;
    let conn = Connection::open_in_memory()?;
    crate::scenarios::fill(&conn, rows, 0)?;
    bench.register(&conn)?;
    let batch_size = 8192;
    let ctx = context(&conn, rows, partitions, batch_size)?;
    wasmudf_datafusion::register(&ctx, &bench)?;
    native::register(&ctx);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(partitions.max(1))
        .enable_all()
        .build()?;
    let df = |sql: &str| -> Result<f64> {
        rt.block_on(median(runs, || async {
            ctx.sql(sql).await?.collect().await?;
            Ok(())
        }))
    };
    let lite = |sql: &str| -> Result<f64> {
        Ok(crate::scenarios::median_query(&conn, sql, runs)?.as_secs_f64() * 1e3)
    };
    let mut cases = Vec::new();
    for &(kind, wasm_sql, native_sql, scan_sql) in CASES {
        step(kind);
        // Interleaved, so drift on a shared machine hits all alike.
        let scan_ms = df(scan_sql)?;
        let native_ms = df(native_sql)?;
        let wasm_ms = df(wasm_sql)?;
        let sqlite_scan_ms = lite(scan_sql)?;
        let sqlite_ms = lite(wasm_sql)?;
        let per = |t: f64, scan: f64| (t - scan).max(0.0) * 1e6 / rows as f64;
        cases.push(DfCase {
            kind,
            wasm_sql,
            native_sql,
            scan_sql,
            scan_ms,
            native_ms,
            wasm_ms,
            sqlite_ms,
            sqlite_scan_ms,
            native_ns: per(native_ms, scan_ms),
            wasm_ns: per(wasm_ms, scan_ms),
            sqlite_ns: per(sqlite_ms, sqlite_scan_ms),
            whole_ratio: wasm_ms / native_ms,
        });
    }
    Ok(DataFusionReport {
        rows,
        partitions,
        batch_size,
        cases,
    })
}

/// The median of `runs` timings of `f`, in milliseconds, after one warm-up
/// (which compiles the plan's instances).
async fn median<F, Fut>(runs: usize, f: F) -> Result<f64>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    f().await?;
    let mut times: Vec<Duration> = Vec::new();
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        f().await?;
        times.push(start.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2].as_secs_f64() * 1e3)
}

/// `t(i, s, a)` from SQLite's `t`, so both engines see the same rows, in
/// `partitions` partitions of `batch_size`-row batches.
fn context(
    conn: &Connection,
    rows: usize,
    partitions: usize,
    batch_size: usize,
) -> Result<SessionContext> {
    let mut i = Vec::with_capacity(rows);
    let mut s = Vec::with_capacity(rows);
    let mut a = Vec::with_capacity(rows);
    let mut stmt = conn.prepare("SELECT i, s, a FROM t")?;
    let mut q = stmt.query([])?;
    while let Some(row) = q.next()? {
        i.push(row.get::<_, i64>(0)?);
        s.push(row.get::<_, String>(1)?);
        a.push(row.get::<_, i64>(2)?);
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("i", DataType::Int64, false),
        Field::new("s", DataType::Utf8, false),
        Field::new("a", DataType::Int64, false),
    ]));
    let per_part = rows.div_ceil(partitions.max(1)).max(1);
    let mut parts = Vec::new();
    for start in (0..rows).step_by(per_part) {
        let mut batches = Vec::new();
        let end = (start + per_part).min(rows);
        for b in (start..end).step_by(batch_size) {
            let e = (b + batch_size).min(end);
            let columns: Vec<ArrayRef> = vec![
                Arc::new(Int64Array::from(i[b..e].to_vec())),
                Arc::new(StringArray::from_iter_values(&s[b..e])),
                Arc::new(Int64Array::from(a[b..e].to_vec())),
            ];
            batches.push(RecordBatch::try_new(schema.clone(), columns)?);
        }
        parts.push(batches);
    }
    let config = SessionConfig::new()
        .with_target_partitions(partitions.max(1))
        .with_batch_size(batch_size);
    let ctx = SessionContext::new_with_config(config);
    ctx.register_table("t", Arc::new(MemTable::try_new(schema, parts)?))
        .context("registering t")?;
    Ok(ctx)
}

/// The native twins, written as a DataFusion user writes a Rust UDF.
mod native {
    use super::*;

    pub(super) fn register(ctx: &SessionContext) {
        ctx.register_udf(create_udf(
            "native_add1",
            vec![DataType::Int64],
            DataType::Int64,
            Volatility::Immutable,
            Arc::new(|args: &[ColumnarValue]| {
                let [x] = args else {
                    return Err(DataFusionError::Plan("one argument".into()));
                };
                let x = x.to_array(1)?;
                let out: Int64Array = as_int64_array(&x)?.unary(|v| v.wrapping_add(1));
                Ok(ColumnarValue::Array(Arc::new(out)))
            }),
        ));
        ctx.register_udf(create_udf(
            "native_upper_ascii",
            vec![DataType::Utf8],
            DataType::Utf8,
            Volatility::Immutable,
            Arc::new(|args: &[ColumnarValue]| {
                let [x] = args else {
                    return Err(DataFusionError::Plan("one argument".into()));
                };
                let x = x.to_array(1)?;
                let out: StringArray = x
                    .as_string::<i32>()
                    .iter()
                    .map(|v| v.map(str::to_ascii_uppercase))
                    .collect();
                Ok(ColumnarValue::Array(Arc::new(out)))
            }),
        ));
        ctx.register_udaf(create_udaf(
            "native_sum_i",
            vec![DataType::Int64],
            Arc::new(DataType::Int64),
            Volatility::Immutable,
            Arc::new(|_| Ok(Box::new(SumI(0)))),
            Arc::new(vec![DataType::Int64]),
        ));
    }

    /// `sum_i` of the bench guest, in Rust: a wrapping sum of integers.
    #[derive(Debug)]
    struct SumI(i64);

    impl Accumulator for SumI {
        fn update_batch(&mut self, values: &[ArrayRef]) -> datafusion::common::Result<()> {
            let [a] = values else {
                return Err(DataFusionError::Internal("one column".into()));
            };
            let a = a.as_primitive::<Int64Type>();
            for v in a.iter().flatten() {
                self.0 = self.0.wrapping_add(v);
            }
            Ok(())
        }

        fn merge_batch(&mut self, states: &[ArrayRef]) -> datafusion::common::Result<()> {
            self.update_batch(states)
        }

        fn state(&mut self) -> datafusion::common::Result<Vec<ScalarValue>> {
            Ok(vec![ScalarValue::Int64(Some(self.0))])
        }

        fn evaluate(&mut self) -> datafusion::common::Result<ScalarValue> {
            Ok(ScalarValue::Int64(Some(self.0)))
        }

        fn size(&self) -> usize {
            std::mem::size_of_val(self)
        }
    }
}
