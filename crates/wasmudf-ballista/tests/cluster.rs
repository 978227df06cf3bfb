//! A Ballista cluster of separate processes (`wasmudf-cluster scheduler`,
//! `wasmudf-cluster executor`, `wasmudf-cluster query`), each with its own
//! component store, over Parquet and CSV files in a temporary folder; every
//! answer compared with SQLite's for the same components and rows.
//!
//! Separate processes are the point: a store shared by the roles would hide
//! bytes that were never shipped.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::prelude::SessionContext;
use wasmudf::Value;

// The rows and the comparison the DataFusion tests use, shared by path
// (the two crates are in different workspaces).
#[path = "../../wasmudf-datafusion/tests/common/mod.rs"]
mod common;
use common::{assert_same_rows, batch, cell, rows};

const BIN: &str = env!("CARGO_BIN_EXE_wasmudf-cluster");
const ROWS: i64 = 300;

/// A process killed when the test is done with it.
struct Role {
    name: &'static str,
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Drop for Role {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Role {
    /// Starts `wasmudf-cluster ARGS` and waits for its announcement line.
    fn start(name: &'static str, args: &[&str], cache: &Path) -> Result<(Role, String)> {
        let mut child = Command::new(BIN)
            .args(args)
            .env("XDG_CACHE_HOME", cache)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting the {name}"))?;
        let stdout = child.stdout.take().context("stdout")?;
        let mut errors = child.stderr.take().context("stderr")?;
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = errors.read(&mut chunk) {
                let text = String::from_utf8_lossy(&chunk[..n]);
                eprint!("{text}");
                sink.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_str(&text);
            }
        });
        let mut role = Role {
            name,
            child,
            stderr,
        };
        let mut line = String::new();
        let mut reader = BufReader::new(stdout);
        reader.read_line(&mut line)?;
        if line.is_empty() {
            let status = role.child.wait()?;
            bail!("the {} exited before it started: {status}", role.name);
        }
        // Keep draining what it prints, so it never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        Ok((role, line))
    }

    /// What it printed on stderr so far.
    fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// A scheduler and one executor, each given its extra arguments.
struct Cluster {
    url: String,
    _scheduler: Role,
    executor: Role,
}

/// Two ports free now, held together so they differ.
fn free_ports() -> Result<(u16, u16)> {
    let a = TcpListener::bind("127.0.0.1:0")?;
    let b = TcpListener::bind("127.0.0.1:0")?;
    Ok((a.local_addr()?.port(), b.local_addr()?.port()))
}

fn cluster(scheduler_args: &[&str], executor_args: &[&str], cache: &Path) -> Result<Cluster> {
    let mut args = vec!["scheduler", "--bind", "127.0.0.1:0"];
    args.extend(scheduler_args);
    let (scheduler, line) = Role::start("scheduler", &args, cache)?;
    let addr = line
        .trim()
        .strip_prefix("scheduler listening on ")
        .and_then(|rest| rest.split_whitespace().next())
        .with_context(|| format!("scheduler said {line:?}"))?
        .to_owned();
    let (port, grpc_port) = free_ports()?;
    let (port, grpc_port) = (port.to_string(), grpc_port.to_string());
    let mut args = vec![
        "executor",
        "--scheduler",
        &addr,
        "--port",
        &port,
        "--grpc-port",
        &grpc_port,
    ];
    args.extend(executor_args);
    let (executor, _) = Role::start("executor", &args, cache)?;
    Ok(Cluster {
        url: format!("df://{addr}"),
        _scheduler: scheduler,
        executor,
    })
}

/// `t.parquet` (all columns) and `c.csv` (the ones CSV keeps) in `dir`.
fn write_files(dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let all = rows(ROWS);
    let batch = batch(&all)?;
    let parquet = dir.join("t.parquet");
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let ctx = SessionContext::new();
        ctx.read_batch(batch)?
            .write_parquet(
                parquet.to_str().context("utf-8")?,
                DataFrameWriteOptions::new(),
                None,
            )
            .await?;
        anyhow::Ok(())
    })?;
    let csv = dir.join("c.csv");
    let mut text = String::from("id,i,g\n");
    for r in &all {
        let i = r.1.map(|v| v.to_string()).unwrap_or_default();
        text.push_str(&format!("{},{i},{}\n", r.0, r.5));
    }
    std::fs::write(&csv, text)?;
    Ok((parquet, csv))
}

fn sqlite() -> Result<rusqlite::Connection> {
    let engine = wasmudf::Engine::new()?;
    let conn = rusqlite::Connection::open_in_memory()?;
    conn.execute_batch(
        "CREATE TABLE t(id INTEGER, i INTEGER, r REAL, s TEXT, b BLOB, g INTEGER);
         CREATE TABLE c(id INTEGER, i INTEGER, g INTEGER);",
    )?;
    for (id, i, r, s, b, g) in rows(ROWS) {
        conn.execute(
            "INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![id, i, r, s, b, g],
        )?;
        conn.execute(
            "INSERT INTO c VALUES (?1, ?2, ?3)",
            rusqlite::params![id, i, g],
        )?;
    }
    for (name, bytes) in wasmudf_test_guests::EXAMPLES {
        engine.load(name, bytes)?.register(&conn)?;
    }
    Ok(conn)
}

/// Runs `statements` with `wasmudf-cluster query`, one result per
/// statement, read back from its Arrow IPC streams.
fn cluster_query(
    url: &str,
    extra: &[&str],
    tables: &[String],
    statements: &[&str],
    cache: &Path,
) -> Result<Result<Vec<Vec<Vec<Value>>>, String>> {
    let mut cmd = Command::new(BIN);
    cmd.args(["query", "--ballista", url, "--arrow-ipc"])
        .args(extra)
        .env("XDG_CACHE_HOME", cache);
    for t in tables {
        cmd.args(["--table", t]);
    }
    let out = cmd.args(statements).output()?;
    if !out.status.success() {
        return Ok(Err(String::from_utf8_lossy(&out.stderr).into_owned()));
    }
    let mut reader = BufReader::new(out.stdout.as_slice());
    let mut results = Vec::new();
    while !reader.fill_buf()?.is_empty() {
        let stream = StreamReader::try_new(&mut reader, None)?;
        let mut rows = Vec::new();
        for batch in stream {
            let batch = batch?;
            for r in 0..batch.num_rows() {
                rows.push(
                    batch
                        .columns()
                        .iter()
                        .map(|c| cell(c, r))
                        .collect::<Result<Vec<_>>>()?,
                );
            }
        }
        results.push(rows);
    }
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest)?;
    assert!(rest.is_empty());
    Ok(Ok(results))
}

/// Every example function of every example component.
const QUERIES: &[&str] = &[
    "SELECT id, unicode_upper(s), edit_distance(s, 'sitting'), regexp('^[a-z]+[0-9]$', s) FROM t ORDER BY id",
    "SELECT id, sha256_of(b), sha256_of(s), identity(i), identity(r), identity(s), identity(b) FROM t ORDER BY id",
    "SELECT id, greatest_of(i, 3), greatest_of(r, 0.5, -2.0), sleep(0) FROM t ORDER BY id",
    "SELECT g, median_of(r), median_of(i), sumsq(i), sumsq(r) FROM t GROUP BY g ORDER BY g",
    "SELECT g, median_of(DISTINCT i), sumsq(DISTINCT i) FROM t GROUP BY g ORDER BY g",
    "SELECT median_of(r), sumsq(i) FROM t",
    "SELECT id, sumsq(i) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM t ORDER BY id",
    "SELECT g, sumsq(i), median_of(i), greatest_of(g, 2) FROM c GROUP BY g ORDER BY g",
];

fn tables(parquet: &Path, csv: &Path) -> Vec<String> {
    vec![
        format!("t={}", parquet.display()),
        format!("c={}", csv.display()),
    ]
}

fn check_all(url: &str, extra: &[&str], tables: &[String], cache: &Path) -> Result<()> {
    let conn = sqlite()?;
    let results = cluster_query(url, extra, tables, QUERIES, cache)?
        .map_err(|e| anyhow::anyhow!("the query failed: {e}"))?;
    assert_eq!(results.len(), QUERIES.len());
    for (sql, got) in QUERIES.iter().zip(&results) {
        assert_same_rows(&conn, sql, "Ballista", got)?;
    }
    Ok(())
}

/// The example components written out as files, for `--udf DIR`.
fn example_dir(dir: &Path) -> Result<PathBuf> {
    let udfs = dir.join("udfs");
    std::fs::create_dir(&udfs)?;
    for (name, bytes) in wasmudf_test_guests::EXAMPLES {
        std::fs::write(udfs.join(format!("{name}.wasm")), bytes)?;
    }
    Ok(udfs)
}

#[test]
fn shipped_components_answer_on_a_cluster_as_in_sqlite() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let (parquet, csv) = write_files(tmp.path())?;
    // Neither server has a component: everything arrives with the plans.
    let c = cluster(&[], &[], tmp.path())?;
    check_all(&c.url, &[], &tables(&parquet, &csv), tmp.path())
}

#[test]
fn components_found_by_hash_in_each_role_s_own_folder() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let (parquet, csv) = write_files(tmp.path())?;
    let udfs = example_dir(tmp.path())?;
    let udfs = udfs.to_str().context("utf-8")?;
    let t = tables(&parquet, &csv);
    // Nothing is shipped: each server finds the hash in its own folder.
    let c = cluster(&["--udf", udfs], &["--udf", udfs], tmp.path())?;
    check_all(&c.url, &["--ship-limit", "0"], &t, tmp.path())?;
    drop(c);

    // A scheduler with the folder ships what it holds on to the executors
    // (under its own ship limit)...
    let c = cluster(&["--udf", udfs], &[], tmp.path())?;
    check_all(&c.url, &["--ship-limit", "0"], &t, tmp.path())?;
    drop(c);
    // ...and an executor without the folder cannot run what nobody
    // shipped: the query fails, and the executor says which component it
    // lacks (Ballista's scheduler reports a task it could not launch
    // without the executor's reason).
    let c = cluster(&["--udf", udfs, "--ship-limit", "0"], &[], tmp.path())?;
    let err = cluster_query(
        &c.url,
        &["--ship-limit", "0"],
        &t,
        &["SELECT sumsq(i) FROM t"],
        tmp.path(),
    )?
    .expect_err("the executor lacks the component");
    assert!(err.contains("failed"), "{err}");
    let said = c.executor.stderr();
    assert!(
        said.contains("sumsq: component")
            && said.contains("is not in this process's component store"),
        "the executor said: {said}"
    );
    Ok(())
}

/// The `wasmudf` binary of the root workspace, beside this one when the
/// root workspace was built into the same target folder first (as
/// `.ci/run` does).
fn wasmudf_binary() -> Result<PathBuf> {
    let beside = Path::new(BIN).with_file_name(format!("wasmudf{}", std::env::consts::EXE_SUFFIX));
    if !beside.is_file() {
        bail!(
            "{} is missing: build the root workspace into the same target folder first \
             (cargo build -p wasmudf-cli), as .ci/run does",
            beside.display()
        );
    }
    Ok(beside)
}

#[test]
fn wasmudf_query_with_ballista_prints_what_the_local_engine_prints() -> Result<()> {
    let wasmudf = wasmudf_binary()?;
    let tmp = tempfile::tempdir()?;
    let (parquet, csv) = write_files(tmp.path())?;
    let c = cluster(&[], &[], tmp.path())?;
    let sql = "SELECT g, median_of(r), sumsq(i), unicode_upper(min(s)) FROM t GROUP BY g ORDER BY g; \
               SELECT count(*), sumsq(g) FROM c";
    let run = |extra: &[&str]| -> Result<String> {
        let out = Command::new(&wasmudf)
            .args(["query", "--engine", "datafusion", "--json"])
            .args(extra)
            .arg("--table")
            .arg(format!("t={}", parquet.display()))
            .arg("--table")
            .arg(format!("c={}", csv.display()))
            .arg(sql)
            .env("XDG_CACHE_HOME", tmp.path())
            .output()?;
        if !out.status.success() {
            bail!("wasmudf failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8(out.stdout)?)
    };
    let local = run(&[])?;
    let remote = run(&["--ballista", &c.url])?;
    assert!(local.contains("\"g\""), "{local}");
    assert_eq!(remote, local);

    // `wasmudf cluster` is `wasmudf-cluster`.
    let out = Command::new(&wasmudf)
        .args(["cluster", "--help"])
        .output()?;
    let help = String::from_utf8(out.stdout)?;
    assert!(out.status.success() && help.contains("executor"), "{help}");
    Ok(())
}

/// Every role refuses, before it starts, a component named like one of
/// DataFusion's builtins, as the local engines do.
#[test]
fn a_component_named_like_a_builtin_is_refused_by_every_role() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let shadow = wasmudf_test_guests::SHADOW_BUILTINS;
    for args in [
        vec!["query", "--ballista", "df://127.0.0.1:9", "--udf", shadow, "SELECT 1"],
        vec!["scheduler", "--bind", "127.0.0.1:0", "--udf", shadow],
        vec![
            "executor",
            "--scheduler",
            "127.0.0.1:9",
            "--udf",
            shadow,
        ],
    ] {
        let out = Command::new(BIN)
            .args(&args)
            .env("XDG_CACHE_HOME", tmp.path())
            .output()?;
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            err.contains("function `abs` (variadic) clashes with DataFusion's builtin `abs`"),
            "{args:?}: {err}"
        );
    }
    Ok(())
}
