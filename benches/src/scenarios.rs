//! The measured queries and the setup they run against.

use std::time::{Duration, Instant};

use anyhow::Result;
use rusqlite::Connection;
use serde::Serialize;
use wasmudf::{Component, Engine};

/// Which table a case scans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Table {
    /// `t(i INTEGER, r REAL, s TEXT(16), b BLOB(16), a INTEGER, c INTEGER)`.
    Main,
    /// `long(l TEXT(1024))`.
    Long,
}

/// Who computes the function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Flavor {
    /// The query with no function at all: the scan and the outer aggregate.
    Scan,
    /// SQLite's own expression or builtin.
    Builtin,
    /// A native rusqlite closure or `Aggregate`.
    Native,
    /// The wasmudf component.
    Wasm,
}

/// One per-row case: the same computation four ways.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PerRowCase {
    /// Short name, e.g. `i64->i64`.
    pub name: &'static str,
    /// The table it scans.
    pub table: Table,
    /// The query with the function removed, to net out the scan.
    pub scan: &'static str,
    /// The query with SQLite's builtin, when there is one.
    pub builtin: Option<&'static str>,
    /// The query with the native closure.
    pub native: &'static str,
    /// The query with the wasm UDF.
    pub wasm: &'static str,
}

impl PerRowCase {
    /// The query for one flavor.
    pub fn sql(&self, flavor: Flavor) -> Option<&'static str> {
        match flavor {
            Flavor::Scan => Some(self.scan),
            Flavor::Builtin => self.builtin,
            Flavor::Native => Some(self.native),
            Flavor::Wasm => Some(self.wasm),
        }
    }
}

/// Every per-row case.
pub const PER_ROW_CASES: &[PerRowCase] = &[
    PerRowCase {
        name: "i64->i64",
        table: Table::Main,
        scan: "SELECT sum(i) FROM t",
        builtin: Some("SELECT sum(i + 1) FROM t"),
        native: "SELECT sum(add1_native(i)) FROM t",
        wasm: "SELECT sum(add1(i)) FROM t",
    },
    PerRowCase {
        name: "identity",
        table: Table::Main,
        scan: "SELECT sum(i) FROM t",
        builtin: None,
        native: "SELECT sum(identity_native(i)) FROM t",
        wasm: "SELECT sum(identity(i)) FROM t",
    },
    PerRowCase {
        name: "f64->f64",
        table: Table::Main,
        scan: "SELECT sum(r) FROM t",
        builtin: Some("SELECT sum(r + 1.0) FROM t"),
        native: "SELECT sum(addf_native(r)) FROM t",
        wasm: "SELECT sum(addf(r)) FROM t",
    },
    PerRowCase {
        name: "text->text 16B",
        table: Table::Main,
        scan: "SELECT sum(length(s)) FROM t",
        builtin: Some("SELECT sum(length(upper(s))) FROM t"),
        native: "SELECT sum(length(upper_ascii_native(s))) FROM t",
        wasm: "SELECT sum(length(upper_ascii(s))) FROM t",
    },
    PerRowCase {
        name: "text->text 1KiB",
        table: Table::Long,
        scan: "SELECT sum(length(l)) FROM long",
        builtin: Some("SELECT sum(length(upper(l))) FROM long"),
        native: "SELECT sum(length(upper_ascii_native(l))) FROM long",
        wasm: "SELECT sum(length(upper_ascii(l))) FROM long",
    },
    PerRowCase {
        name: "blob->blob",
        table: Table::Main,
        scan: "SELECT sum(length(b)) FROM t",
        builtin: None,
        native: "SELECT sum(length(blob_rev_native(b))) FROM t",
        wasm: "SELECT sum(length(blob_rev(b))) FROM t",
    },
    PerRowCase {
        name: "3 args",
        table: Table::Main,
        scan: "SELECT sum(i) FROM t",
        builtin: Some("SELECT sum(i + a + c) FROM t"),
        native: "SELECT sum(add3_native(i, a, c)) FROM t",
        wasm: "SELECT sum(add3(i, a, c)) FROM t",
    },
    PerRowCase {
        name: "aggregate sum",
        table: Table::Main,
        scan: "SELECT count(i) FROM t",
        builtin: Some("SELECT sum(i) FROM t"),
        native: "SELECT sum_i_native(i) FROM t",
        wasm: "SELECT sum_i(i) FROM t",
    },
    PerRowCase {
        name: "aggregate median",
        table: Table::Main,
        scan: "SELECT count(r) FROM t",
        builtin: None,
        native: "SELECT median_native(r) FROM t",
        wasm: "SELECT median_of(r) FROM t",
    },
    PerRowCase {
        name: "window sumsq",
        table: Table::Main,
        scan: const_format_window_scan(),
        builtin: Some(const_format_window_builtin()),
        native: const_format_window_native(),
        wasm: const_format_window_wasm(),
    },
];

// `concat!` cannot take a `const`, so the window queries are spelled out.
const fn const_format_window_scan() -> &'static str {
    "SELECT sum(w) FROM (SELECT count(i) OVER (ORDER BY rowid ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS w FROM t)"
}
const fn const_format_window_builtin() -> &'static str {
    "SELECT sum(w) FROM (SELECT sum(i * i) OVER (ORDER BY rowid ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS w FROM t)"
}
const fn const_format_window_native() -> &'static str {
    "SELECT sum(w) FROM (SELECT sumsq_native(i) OVER (ORDER BY rowid ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS w FROM t)"
}
const fn const_format_window_wasm() -> &'static str {
    "SELECT sum(w) FROM (SELECT sumsq(i) OVER (ORDER BY rowid ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS w FROM t)"
}

/// The guests the benchmarks load.
pub const GUESTS: &[&str] = &[
    wasmudf_test_guests::BENCH,
    wasmudf_test_guests::IDENTITY,
    wasmudf_test_guests::STATS,
];

/// Compiles the benchmark guests on `engine`.
///
/// # Errors
///
/// A load error, if a guest fails to compile.
pub fn components(engine: &Engine) -> Result<Vec<Component>> {
    Ok(GUESTS
        .iter()
        .map(|p| engine.load_file(p))
        .collect::<wasmudf::Result<_>>()?)
}

/// Fills `t` with `rows` rows and `long` with `long_rows` rows of
/// deterministic data.
///
/// # Errors
///
/// SQLite's.
pub fn fill(conn: &Connection, rows: usize, long_rows: usize) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS t(i INTEGER, r REAL, s TEXT, b BLOB, a INTEGER, c INTEGER);
         CREATE TABLE IF NOT EXISTS long(l TEXT);",
    )?;
    conn.execute(
        "WITH RECURSIVE n(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM n WHERE k < ?1 - 1)
         INSERT INTO t SELECT (k * 7919) % 1000, (k % 997) / 7.0,
                              printf('%016x', k * 2654435761), randomblob(16), k % 13, k % 17
         FROM n",
        [rows as i64],
    )?;
    conn.execute(
        "WITH RECURSIVE n(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM n WHERE k < ?1 - 1)
         INSERT INTO long SELECT substr(replace(hex(zeroblob(512)), '0', printf('%x', k % 16)) ||
                                 'the quick brown fox jumps over the lazy dog', 1, 1024)
         FROM n",
        [long_rows as i64],
    )?;
    Ok(())
}

/// An in-memory connection with data, the benchmark components and the
/// native twins registered.
///
/// # Errors
///
/// SQLite's or a registration error.
pub fn connection(components: &[Component], rows: usize, long_rows: usize) -> Result<Connection> {
    let conn = Connection::open_in_memory()?;
    fill(&conn, rows, long_rows)?;
    crate::native::register(&conn)?;
    for c in components {
        c.register(&conn)?;
    }
    Ok(conn)
}

/// Runs a one-row query once and returns how long it took.
///
/// # Errors
///
/// SQLite's, including a UDF's error.
pub fn time_query(conn: &Connection, sql: &str) -> Result<Duration> {
    let mut stmt = conn.prepare_cached(sql)?;
    let start = Instant::now();
    let _: rusqlite::types::Value = stmt.query_row([], |row| row.get(0))?;
    Ok(start.elapsed())
}

/// The median of `runs` timings of `sql`.
///
/// # Errors
///
/// As [`time_query`].
pub fn median_query(conn: &Connection, sql: &str, runs: usize) -> Result<Duration> {
    let mut times = (0..runs.max(1))
        .map(|_| time_query(conn, sql))
        .collect::<Result<Vec<_>>>()?;
    times.sort();
    Ok(times[times.len() / 2])
}
