//! The quick, one-command version of every benchmark, behind
//! `wasmudf bench`: same scenarios as the criterion benches, fewer rows and
//! runs, and a report with the ratios the performance targets are about.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;
use wasmudf::{Database, Engine, Limits};

use crate::scenarios::{self, Flavor, PER_ROW_CASES, Table};

/// How much to measure.
#[derive(Debug, Clone)]
pub struct Options {
    /// Rows in the main table.
    pub rows: usize,
    /// Rows of 1 KiB text.
    pub long_rows: usize,
    /// Timed runs per query; the median is kept.
    pub runs: usize,
    /// Concurrency levels for the scaling test.
    pub threads: Vec<usize>,
    /// Run the better-sqlite3 column when Node and the module are there.
    pub node: bool,
    /// Rows for the guest-language comparison (JavaScript and Python calls
    /// cost microseconds each).
    pub lang_rows: usize,
    /// Rows for the DataFusion comparison; 0 skips it.
    pub datafusion_rows: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            rows: 200_000,
            long_rows: 50_000,
            runs: 5,
            threads: vec![1, 2, 4],
            node: true,
            lang_rows: 50_000,
            datafusion_rows: 1_000_000,
        }
    }
}

/// One per-row case, every flavor.
#[derive(Debug, Clone, Serialize)]
pub struct PerRow {
    /// Case name.
    pub case: &'static str,
    /// Rows scanned.
    pub rows: usize,
    /// Whole-query medians, milliseconds.
    pub scan_ms: f64,
    /// SQLite builtin, when there is one.
    pub builtin_ms: Option<f64>,
    /// Native rusqlite closure.
    pub native_ms: f64,
    /// wasm UDF.
    pub wasm_ms: f64,
    /// Per-row cost net of the scan, nanoseconds: native.
    pub native_ns: f64,
    /// Per-row cost net of the scan, nanoseconds: wasm.
    pub wasm_ns: f64,
    /// Whole query, wasm / native.
    pub whole_ratio: f64,
    /// Per-row overhead, wasm / native.
    pub overhead_ratio: f64,
    /// Whole query, wasm / builtin.
    pub builtin_ratio: Option<f64>,
}

/// Instance creation and compilation.
#[derive(Debug, Clone, Serialize)]
pub struct Instances {
    /// Fresh instance from `InstancePre`, pooling allocator, microseconds.
    pub pooling_us: f64,
    /// Same with the on-demand allocator.
    pub on_demand_us: f64,
    /// Fresh direct-path instance (the core module scalar calls use),
    /// pooling allocator, microseconds.
    pub direct_pooling_us: f64,
    /// Same with the on-demand allocator.
    pub direct_on_demand_us: f64,
    /// Compiling the benchmark component with Cranelift, milliseconds.
    pub cold_compile_ms: f64,
    /// Loading it from the on-disk cache, milliseconds.
    pub cached_load_ms: f64,
}

/// Throughput of N concurrent UDF-heavy queries, and of the same scan with
/// no UDF on the same pool: the control that says how far SQLite and the
/// machine scale on their own, so that what the UDF adds stands apart.
#[derive(Debug, Clone, Serialize)]
pub struct Scaling {
    /// Concurrent queries.
    pub threads: usize,
    /// Queries per second, `sum(add1(i))`.
    pub queries_per_s: f64,
    /// Relative to one query at a time.
    pub speedup: f64,
    /// Queries per second, `sum(i + 1)`: the same scan without a UDF.
    pub sql_queries_per_s: f64,
    /// The control's speedup over one query at a time.
    pub sql_speedup: f64,
}

/// The scaling table's UDF-heavy query.
pub const SCALING_QUERY: &str = "SELECT sum(add1(i)) FROM t";
/// The scaling table's control: the same scan and sum with no UDF.
pub const SCALING_CONTROL: &str = "SELECT sum(i + 1) FROM t";

/// What limits cost per row of `add1`.
#[derive(Debug, Clone, Serialize)]
pub struct LimitCosts {
    /// No epoch interruption, no fuel: nanoseconds per row, net of the scan.
    pub none_ns: f64,
    /// Deadlines (epoch interruption), the default.
    pub deadline_ns: f64,
    /// Deadlines and fuel metering.
    pub deadline_fuel_ns: f64,
    /// Deadlines, with the direct path off: every call is a component call.
    pub component_path_ns: f64,
}

/// Resident memory per idle instance.
#[derive(Debug, Clone, Serialize)]
pub struct Memory {
    /// Instances measured.
    pub instances: usize,
    /// RSS growth per instance, KiB (host structures and touched guest
    /// memory together).
    pub rss_per_instance_kib: f64,
    /// Anonymous RSS growth per instance, KiB.
    pub anon_per_instance_kib: f64,
}

/// better-sqlite3 on the same table, when available.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Node {
    /// `node --version`.
    pub node: String,
    /// Rows.
    pub rows: usize,
    /// `SELECT sum(i)`.
    pub scan_ms: f64,
    /// `SELECT sum(add1(i))` with a JS UDF.
    pub add1_ms: f64,
    /// `SELECT sum(identity(i))` with a JS UDF.
    pub identity_ms: f64,
    /// `SELECT sum(length(s))`.
    pub text_scan_ms: f64,
    /// `SELECT sum(length(upper_ascii(s)))` with a JS UDF.
    pub upper_ms: f64,
    /// `SELECT sum(js_i64_add(i, 1))`, the JavaScript example's code, on
    /// BigInts (`safeIntegers`).
    pub js_add_ms: f64,
    /// `SELECT sum(length(js_slugify(s)))`, the JavaScript example's code.
    pub slugify_ms: f64,
    /// `SELECT count(a)`.
    pub count_scan_ms: f64,
    /// `SELECT js_mode(a)`, the JavaScript example's code.
    pub mode_ms: f64,
}

/// Everything `wasmudf bench` measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Rows in the main table.
    pub rows: usize,
    /// Per-row cases.
    pub per_row: Vec<PerRow>,
    /// Instance creation.
    pub instances: Instances,
    /// Scaling with concurrency.
    pub scaling: Vec<Scaling>,
    /// Limit costs.
    pub limits: LimitCosts,
    /// Memory per idle instance.
    pub memory: Memory,
    /// better-sqlite3, if it ran.
    pub node: Option<Node>,
    /// Why better-sqlite3 did not run, if it did not.
    pub node_note: Option<String>,
    /// wasm identity overhead / JS identity overhead, per row.
    pub wasm_vs_js_identity: Option<f64>,
    /// The same kinds of UDF in Rust, JavaScript and Python guests.
    pub languages: Vec<crate::languages::Language>,
    /// The bench component in DataFusion against native DataFusion UDFs
    /// and its own SQLite path; `None` when skipped.
    pub datafusion: Option<crate::in_datafusion::DataFusionReport>,
}

/// The steps `run` reports progress on, for a progress bar's length.
pub fn step_count(opts: &Options) -> u64 {
    (PER_ROW_CASES.len()
        + 4
        + opts.threads.len()
        + usize::from(opts.node)
        + crate::languages::step_count()
        + if opts.datafusion_rows > 0 {
            crate::in_datafusion::step_count()
        } else {
            0
        }) as u64
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Runs everything, calling `step` with a label as each part starts.
///
/// # Errors
///
/// Any setup or query failure.
pub fn run(opts: &Options, step: &mut dyn FnMut(&str)) -> Result<Report> {
    let engine = Engine::new()?;
    let components = scenarios::components(&engine)?;
    let conn = scenarios::connection(&components, opts.rows, opts.long_rows)?;
    let mut per_row = Vec::new();
    for case in PER_ROW_CASES {
        step(case.name);
        let rows = match case.table {
            Table::Main => opts.rows,
            Table::Long => opts.long_rows,
        };
        let time = |flavor| -> Result<Option<f64>> {
            case.sql(flavor)
                .map(|sql| scenarios::median_query(&conn, sql, opts.runs).map(ms))
                .transpose()
        };
        // Interleave flavors so drift on a shared machine hits all alike.
        let scan = time(Flavor::Scan)?.unwrap_or_default();
        let native = time(Flavor::Native)?.unwrap_or_default();
        let wasm = time(Flavor::Wasm)?.unwrap_or_default();
        let builtin = time(Flavor::Builtin)?;
        let per = |t: f64| (t - scan).max(0.0) * 1e6 / rows as f64;
        per_row.push(PerRow {
            case: case.name,
            rows,
            scan_ms: scan,
            builtin_ms: builtin,
            native_ms: native,
            wasm_ms: wasm,
            native_ns: per(native),
            wasm_ns: per(wasm),
            whole_ratio: wasm / native,
            overhead_ratio: per(wasm) / per(native).max(f64::MIN_POSITIVE),
            builtin_ratio: builtin.map(|b| wasm / b),
        });
    }

    step("instances");
    let instances = instances()?;
    step("limits");
    let limits = limit_costs(opts)?;
    step("memory");
    let memory = memory()?;
    step("scaling setup");
    let scaling = scaling(opts, &components, step)?;
    let languages = crate::languages::run(opts.lang_rows, opts.runs, step)?;
    let datafusion = (opts.datafusion_rows > 0)
        .then(|| crate::in_datafusion::run(opts.datafusion_rows, 2, opts.runs, step))
        .transpose()?;

    let (node, node_note) = if opts.node {
        step("better-sqlite3");
        match node(opts) {
            Ok(n) => (Some(n), None),
            Err(e) => (None, Some(format!("{e:#}"))),
        }
    } else {
        (None, Some("skipped (--no-node)".into()))
    };
    let wasm_vs_js_identity = node.as_ref().and_then(|n| {
        let js_ns = (n.identity_ms - n.scan_ms).max(0.0) * 1e6 / n.rows as f64;
        let wasm = per_row.iter().find(|p| p.case == "identity")?;
        Some(wasm.wasm_ns / js_ns.max(f64::MIN_POSITIVE))
    });
    Ok(Report {
        rows: opts.rows,
        per_row,
        instances,
        scaling,
        limits,
        memory,
        node,
        node_note,
        wasm_vs_js_identity,
        languages,
        datafusion,
    })
}

fn mean_us(n: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    for _ in 0..n / 10 {
        f()?;
    }
    let start = Instant::now();
    for _ in 0..n {
        f()?;
    }
    Ok(start.elapsed().as_secs_f64() * 1e6 / n as f64)
}

fn instances() -> Result<Instances> {
    let mut per_allocator = Vec::new();
    let mut direct = Vec::new();
    for pooling in [true, false] {
        let engine = Engine::builder().pooling(pooling).build()?;
        let component = engine.load_file(wasmudf_test_guests::BENCH)?;
        per_allocator.push(mean_us(2000, || Ok(component.probe_instance()?))?);
        direct.push(mean_us(2000, || {
            if component.probe_direct_instance()? {
                Ok(())
            } else {
                anyhow::bail!("the bench guest has no direct path")
            }
        })?);
    }
    let bytes = std::fs::read(wasmudf_test_guests::BENCH)?;
    let engine = Engine::new()?;
    let cold_compile_ms = mean_us(3, || {
        engine.load("bench", &bytes).map(drop).map_err(Into::into)
    })? / 1e3;
    let dir = std::env::temp_dir().join(format!("wasmudf-bench-cache-{}", std::process::id()));
    let cached = Engine::builder().cache_dir(&dir).build()?;
    cached.load("bench", &bytes)?;
    let cached_load_ms = mean_us(20, || {
        cached.load("bench", &bytes).map(drop).map_err(Into::into)
    })? / 1e3;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Instances {
        pooling_us: per_allocator[0],
        on_demand_us: per_allocator[1],
        direct_pooling_us: direct[0],
        direct_on_demand_us: direct[1],
        cold_compile_ms,
        cached_load_ms,
    })
}

fn limit_costs(opts: &Options) -> Result<LimitCosts> {
    let per_row = |engine: Engine| -> Result<f64> {
        let component = engine.load_file(wasmudf_test_guests::BENCH)?;
        let conn = rusqlite::Connection::open_in_memory()?;
        scenarios::fill(&conn, opts.rows, 0)?;
        component.register(&conn)?;
        let scan = ms(scenarios::median_query(
            &conn,
            "SELECT sum(i) FROM t",
            opts.runs,
        )?);
        let udf = ms(scenarios::median_query(
            &conn,
            "SELECT sum(add1(i)) FROM t",
            opts.runs,
        )?);
        Ok((udf - scan).max(0.0) * 1e6 / opts.rows as f64)
    };
    Ok(LimitCosts {
        none_ns: per_row(Engine::builder().epoch_interruption(false).build()?)?,
        deadline_ns: per_row(Engine::new()?)?,
        deadline_fuel_ns: per_row(
            Engine::builder()
                .limits(Limits {
                    fuel: Some(1 << 40),
                    ..Limits::default()
                })
                .build()?,
        )?,
        component_path_ns: per_row(Engine::builder().direct_calls(false).build()?)?,
    })
}

/// A `/proc/self/status` field in KiB (0 where there is none).
pub(crate) fn status_kib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0.0)
}

fn memory() -> Result<Memory> {
    const N: usize = 200;
    let engine = Engine::new()?;
    let component = engine.load_file(wasmudf_test_guests::BENCH)?;
    let conns = (0..N)
        .map(|_| {
            let conn = rusqlite::Connection::open_in_memory()?;
            component.register(&conn)?;
            Ok(conn)
        })
        .collect::<Result<Vec<_>>>()?;
    let (rss0, anon0) = (status_kib("VmRSS:"), status_kib("RssAnon:"));
    for conn in &conns {
        let _: i64 = conn.query_row("SELECT add1(1)", [], |r| r.get(0))?;
    }
    let (rss1, anon1) = (status_kib("VmRSS:"), status_kib("RssAnon:"));
    drop(conns);
    Ok(Memory {
        instances: N,
        rss_per_instance_kib: (rss1 - rss0) / N as f64,
        anon_per_instance_kib: (anon1 - anon0) / N as f64,
    })
}

fn scaling(
    opts: &Options,
    components: &[wasmudf::Component],
    step: &mut dyn FnMut(&str),
) -> Result<Vec<Scaling>> {
    let max = opts.threads.iter().copied().max().unwrap_or(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(max.max(2))
        .enable_all()
        .build()?;
    let rows = opts.rows;
    let mut out: Vec<Scaling> = Vec::new();
    runtime.block_on(async {
        let db = Database::builder()
            .components(components.iter().cloned())
            .pool_size(max)
            .open()
            .await?;
        db.interact(move |conn| {
            Ok(scenarios::fill(conn, rows, 0)
                .map_err(|e| rusqlite::Error::UserFunctionError(e.into()))?)
        })
        .await?;
        // Warm every pooled connection (instances, page cache) first, so
        // that the one-query baseline is not charged for setup.
        let warm: Vec<_> = (0..max)
            .map(|_| {
                let db = db.clone();
                tokio::spawn(async move { db.query_row(SCALING_QUERY, ()).await })
            })
            .collect();
        for w in warm {
            w.await??;
        }
        for &n in &opts.threads {
            step(&format!("scaling x{n}"));
            // Interleaved at each level, so that a noisy neighbour on a
            // shared machine hits both columns alike.
            let qps = concurrent_qps(&db, n, SCALING_QUERY, 5).await?;
            // The control is about four times faster: more rounds keep its
            // timing as long as the UDF query's.
            let sql_qps = concurrent_qps(&db, n, SCALING_CONTROL, 20).await?;
            let (base, sql_base) = out
                .first()
                .map_or((qps, sql_qps), |s| (s.queries_per_s, s.sql_queries_per_s));
            out.push(Scaling {
                threads: n,
                queries_per_s: qps,
                speedup: qps / base,
                sql_queries_per_s: sql_qps,
                sql_speedup: sql_qps / sql_base,
            });
        }
        anyhow::Ok(())
    })?;
    Ok(out)
}

/// Queries per second of `n` tasks each running `sql` `rounds` times at
/// once.
async fn concurrent_qps(db: &Database, n: usize, sql: &'static str, rounds: usize) -> Result<f64> {
    let start = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move {
                for _ in 0..rounds {
                    db.query_row(sql, ()).await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    Ok((n * rounds) as f64 / start.elapsed().as_secs_f64())
}

/// Where `benches/node` is: the better-sqlite3 script and its modules.
pub fn node_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/node"))
}

fn node(opts: &Options) -> Result<Node> {
    let dir = node_dir();
    let probe = std::process::Command::new("node")
        .current_dir(dir)
        .args(["-e", "require.resolve('better-sqlite3')"])
        .output()
        .context("Node.js is not installed")?;
    anyhow::ensure!(
        probe.status.success(),
        "better-sqlite3 is not installed; run `npm install --prefix {}` to add this column",
        dir.display()
    );
    let out = std::process::Command::new("node")
        .current_dir(dir)
        .arg("bench.js")
        .arg(opts.rows.to_string())
        .arg(opts.runs.to_string())
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "bench.js failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(serde_json::from_slice(&out.stdout)?)
}
