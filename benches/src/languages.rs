//! The same kinds of UDF in each guest language: Rust (the benchmark
//! guest), JavaScript (componentize-js) and Python (componentize-py), with
//! what each language's component costs to compile, start and hold.

use std::time::Instant;

use anyhow::Result;
use rusqlite::Connection;
use serde::Serialize;
use wasmudf::{Engine, Limits};

use crate::scenarios;

/// One measured query of one language.
#[derive(Debug, Clone, Serialize)]
pub struct LangCase {
    /// What kind of call: `scalar`, `text`, `aggregate`.
    pub kind: &'static str,
    /// The query, over `rows` rows of `t`.
    pub sql: String,
    /// Per-row cost net of the scan, nanoseconds.
    pub ns_per_row: f64,
}

/// One guest language's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Language {
    /// Language and toolchain.
    pub language: &'static str,
    /// Component file size, bytes.
    pub component_bytes: u64,
    /// Compiling it with Cranelift (and its direct-path module when it has
    /// one), milliseconds.
    pub cold_compile_ms: f64,
    /// Loading it from a warm on-disk cache, milliseconds.
    pub cached_load_ms: f64,
    /// Instantiating it and answering a first call, milliseconds.
    pub first_call_ms: f64,
    /// Resident memory added by loading it from a warm cache and running
    /// its cases, MiB (the compile before is not counted).
    pub rss_mib: f64,
    /// Rows each case scans.
    pub rows: usize,
    /// The cases.
    pub cases: Vec<LangCase>,
}

/// A language's component and the functions standing in for each kind.
struct Guest {
    language: &'static str,
    path: &'static str,
    /// `(kind, call with the column, the scan it is netted against)`.
    cases: &'static [(&'static str, &'static str, &'static str)],
}

const GUESTS: &[Guest] = &[
    Guest {
        language: "Rust (wasmudf-guest)",
        path: wasmudf_test_guests::BENCH,
        cases: &[
            ("scalar", "sum(add1(i))", "sum(i)"),
            ("text", "sum(length(upper_ascii(s)))", "sum(length(s))"),
            ("aggregate", "sum_i(i)", "count(i)"),
        ],
    },
    Guest {
        language: "JavaScript (componentize-js 0.23.0)",
        path: wasmudf_test_guests::JS_EXAMPLES,
        cases: &[
            ("scalar", "sum(js_i64_add(i, 1))", "sum(i)"),
            ("text", "sum(length(js_slugify(s)))", "sum(length(s))"),
            ("aggregate", "js_mode(a)", "count(a)"),
        ],
    },
    Guest {
        language: "Python (componentize-py 0.25.1)",
        path: wasmudf_test_guests::PY_EXAMPLES,
        cases: &[
            ("scalar", "sum(py_add(i, 1))", "sum(i)"),
            (
                "text",
                "sum(py_similarity(s, 'deadbeefdeadbeef'))",
                "sum(length(s))",
            ),
            ("aggregate", "py_mean(i)", "count(i)"),
        ],
    },
];

/// Limits for runtime-sized guests: the engines' heaps grow past the 64
/// MiB default over a few hundred thousand calls.
fn limits() -> Limits {
    Limits {
        max_memory_bytes: 256 << 20,
        ..Limits::default()
    }
}

/// How many steps [`run`] reports.
pub fn step_count() -> usize {
    GUESTS.len()
}

/// Measures every language over the first `rows` rows of the benchmark
/// table, `runs` times per query (the median is kept).
///
/// # Errors
///
/// A load, compile or query failure.
pub fn run(rows: usize, runs: usize, step: &mut dyn FnMut(&str)) -> Result<Vec<Language>> {
    let mut out = Vec::new();
    for guest in GUESTS {
        step(guest.language);
        out.push(measure(guest, rows, runs)?);
    }
    Ok(out)
}

fn ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e3
}

fn measure(guest: &Guest, rows: usize, runs: usize) -> Result<Language> {
    let bytes = std::fs::read(guest.path)?;
    let cache = std::env::temp_dir().join(format!(
        "wasmudf-bench-lang-{}-{}",
        std::process::id(),
        out_name(guest.path)
    ));
    let cold_compile_ms = {
        let engine = Engine::builder()
            .limits(limits())
            .cache_dir(&cache)
            .build()?;
        let start = Instant::now();
        let component = engine.load(guest.language, &bytes)?;
        if component.has_direct_path() {
            component.probe_direct_instance()?;
        }
        ms(start)
    };
    // From here on, what a process that finds the cache warm holds.
    let rss0 = crate::harness::status_kib("VmRSS:");
    // A second engine on the same cache: what a process start costs.
    let warm = Engine::builder()
        .limits(limits())
        .cache_dir(&cache)
        .build()?;
    let start = Instant::now();
    let component = warm.load(guest.language, &bytes)?;
    let cached_load_ms = ms(start);
    let conn = Connection::open_in_memory()?;
    scenarios::fill(&conn, rows, 0)?;
    component.register(&conn)?;
    let (_, call, _) = guest.cases[0];
    let start = Instant::now();
    let _: rusqlite::types::Value = conn.query_row(
        &format!("SELECT {call} FROM (SELECT * FROM t LIMIT 1)"),
        [],
        |r| r.get(0),
    )?;
    let first_call_ms = ms(start);
    let mut cases = Vec::new();
    for (kind, call, scan) in guest.cases {
        let sql = format!("SELECT {call} FROM t");
        let scan_sql = format!("SELECT {scan} FROM t");
        // Interleaved, as in the main table, so drift hits both alike.
        let scan_t = scenarios::median_query(&conn, &scan_sql, runs)?;
        let udf_t = scenarios::median_query(&conn, &sql, runs)?;
        let net = udf_t.saturating_sub(scan_t).as_secs_f64();
        cases.push(LangCase {
            kind,
            sql,
            ns_per_row: net * 1e9 / rows as f64,
        });
    }
    let rss_mib = (crate::harness::status_kib("VmRSS:") - rss0) / 1024.0;
    drop((conn, component, warm));
    let _ = std::fs::remove_dir_all(&cache);
    Ok(Language {
        language: guest.language,
        component_bytes: bytes.len() as u64,
        cold_compile_ms,
        cached_load_ms,
        first_call_ms,
        rss_mib,
        rows,
        cases,
    })
}

fn out_name(path: &str) -> String {
    std::path::Path::new(path)
        .file_stem()
        .map_or_else(|| "guest".into(), |s| s.to_string_lossy().into_owned())
}
