//! `wasmudf query --engine datafusion`: the same components as DataFusion
//! UDFs, over CSV and Parquet files named with `--table NAME=FILE`.

use std::ffi::OsString;
use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::prelude::{SessionConfig, SessionContext};
use rusqlite::types::Value;

use crate::QueryArgs;
use crate::output::ResultSet;
use crate::udfs;

/// One `--table NAME=FILE`.
#[derive(Debug, Clone)]
pub(crate) struct TableArg {
    name: String,
    file: PathBuf,
}

impl std::str::FromStr for TableArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (name, file) = s
            .split_once('=')
            .ok_or_else(|| format!("`{s}` is not NAME=FILE"))?;
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "`{name}` is not a table name (letters, digits and _)"
            ));
        }
        Ok(TableArg {
            name: name.to_owned(),
            file: PathBuf::from(file),
        })
    }
}

pub(crate) fn run(args: &QueryArgs) -> Result<()> {
    let engine = udfs::engine(&args.session)?;
    let components = udfs::load(&engine, &args.session)?;
    udfs::runtime()?.block_on(async {
        let config = SessionConfig::new().with_target_partitions(args.session.threads.max(1));
        let ctx = SessionContext::new_with_config(config);
        for c in &components {
            wasmudf_datafusion::register(&ctx, c)
                .with_context(|| format!("registering {}", crate::output::safe(c.origin())))?;
        }
        for t in &args.tables {
            register_table(&ctx, t).await?;
        }
        for sql in &args.sql {
            for statement in statements(sql) {
                let set = execute(&ctx, &statement).await?;
                crate::query::print(&set, args.json);
            }
        }
        Ok(())
    })
}

/// `wasmudf query --engine datafusion --ballista URL`: the statements run
/// by `wasmudf-cluster query`, whose Arrow IPC streams (one per statement)
/// are printed as the local engine prints its batches.
pub(crate) fn run_on_cluster(args: &QueryArgs, url: &str) -> Result<()> {
    let s = &args.session;
    if s.trusted {
        bail!("--trusted does not travel to a cluster: trust is each executor's own policy");
    }
    let mut cmd = Command::new(cluster_binary());
    cmd.args(["query", "--ballista", url, "--arrow-ipc"])
        .arg(format!("--threads={}", s.threads.max(1)))
        .arg(format!("--timeout-ms={}", s.timeout_ms))
        .arg(format!("--memory-mib={}", s.memory_mib));
    if let Some(fuel) = s.fuel {
        cmd.arg(format!("--fuel={fuel}"));
    }
    if s.no_cache {
        cmd.arg("--no-cache");
    }
    for udf in &s.udfs {
        cmd.arg("--udf").arg(udf);
    }
    for t in &args.tables {
        cmd.arg("--table")
            .arg(format!("{}={}", t.name, t.file.display()));
    }
    let statements: Vec<String> = args.sql.iter().flat_map(|sql| statements(sql)).collect();
    cmd.arg("--").args(&statements);
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| missing_cluster_binary(&e))?;
    if !out.status.success() {
        bail!("wasmudf-cluster query failed ({})", out.status);
    }
    let mut reader = std::io::BufReader::new(out.stdout.as_slice());
    while !reader.fill_buf()?.is_empty() {
        let stream = StreamReader::try_new(&mut reader, None)
            .context("reading wasmudf-cluster's Arrow IPC output")?;
        let columns = stream
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let mut rows = Vec::new();
        for batch in stream {
            rows.extend(batch_rows(&batch?)?);
        }
        crate::query::print(&ResultSet { columns, rows }, args.json);
    }
    Ok(())
}

/// `wasmudf cluster ARGS`: `wasmudf-cluster ARGS`, which holds Ballista.
pub(crate) fn cluster(args: &[OsString]) -> Result<()> {
    let status = Command::new(cluster_binary())
        .args(args)
        .status()
        .map_err(|e| missing_cluster_binary(&e))?;
    if !status.success() {
        bail!("wasmudf-cluster failed ({status})");
    }
    Ok(())
}

/// `wasmudf-cluster` beside this binary (both land in `target/release`),
/// else on `PATH`.
fn cluster_binary() -> PathBuf {
    let name = format!("wasmudf-cluster{}", std::env::consts::EXE_SUFFIX);
    std::env::current_exe()
        .ok()
        .map(|exe| exe.with_file_name(&name))
        .filter(|beside| beside.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}

fn missing_cluster_binary(e: &std::io::Error) -> anyhow::Error {
    anyhow::anyhow!(
        "running wasmudf-cluster: {e}. It is built apart from wasmudf (Ballista builds \
         DataFusion with other features): cargo build --release --manifest-path \
         crates/wasmudf-ballista/Cargo.toml --target-dir target"
    )
}

async fn register_table(ctx: &SessionContext, t: &TableArg) -> Result<()> {
    wasmudf_datafusion::register_file(ctx, &t.name, &t.file)
        .await
        .with_context(|| format!("reading table {} from {}", t.name, t.file.display()))
}

/// `sql` split into statements at `;` outside quotes and comments.
fn statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = sql.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        current.push(c);
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '-') if chars.peek() == Some(&'-') => {
                for c in chars.by_ref() {
                    current.push(c);
                    if c == '\n' {
                        break;
                    }
                }
            }
            (None, ';') => {
                current.pop();
                out.push(std::mem::take(&mut current));
            }
            _ => {}
        }
    }
    out.push(current);
    out.into_iter().filter(|s| !s.trim().is_empty()).collect()
}

async fn execute(ctx: &SessionContext, sql: &str) -> Result<ResultSet> {
    let df = ctx.sql(sql).await?;
    let columns: Vec<String> = df
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let batches = df.collect().await?;
    let mut rows = Vec::new();
    for batch in &batches {
        rows.extend(batch_rows(batch)?);
    }
    Ok(ResultSet { columns, rows })
}

fn batch_rows(batch: &RecordBatch) -> Result<Vec<Vec<Value>>> {
    (0..batch.num_rows())
        .map(|r| batch.columns().iter().map(|c| value(c, r)).collect())
        .collect()
}

/// A DataFusion cell as SQLite's classes, as the SQLite engine prints it.
fn value(a: &ArrayRef, row: usize) -> Result<Value> {
    use datafusion::arrow::datatypes::{
        Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
        UInt32Type,
    };
    if a.is_null(row) {
        return Ok(Value::Null);
    }
    Ok(match a.data_type() {
        DataType::Boolean => Value::Integer(a.as_boolean().value(row).into()),
        DataType::Int8 => Value::Integer(a.as_primitive::<Int8Type>().value(row).into()),
        DataType::Int16 => Value::Integer(a.as_primitive::<Int16Type>().value(row).into()),
        DataType::Int32 => Value::Integer(a.as_primitive::<Int32Type>().value(row).into()),
        DataType::Int64 => Value::Integer(a.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => Value::Integer(a.as_primitive::<UInt8Type>().value(row).into()),
        DataType::UInt16 => Value::Integer(a.as_primitive::<UInt16Type>().value(row).into()),
        DataType::UInt32 => Value::Integer(a.as_primitive::<UInt32Type>().value(row).into()),
        DataType::Float32 => Value::Real(a.as_primitive::<Float32Type>().value(row).into()),
        DataType::Float64 => Value::Real(a.as_primitive::<Float64Type>().value(row)),
        DataType::Utf8 => Value::Text(a.as_string::<i32>().value(row).to_owned()),
        DataType::LargeUtf8 => Value::Text(a.as_string::<i64>().value(row).to_owned()),
        DataType::Utf8View => Value::Text(a.as_string_view().value(row).to_owned()),
        DataType::Binary => Value::Blob(a.as_binary::<i32>().value(row).to_vec()),
        DataType::LargeBinary => Value::Blob(a.as_binary::<i64>().value(row).to_vec()),
        DataType::BinaryView => Value::Blob(a.as_binary_view().value(row).to_vec()),
        // Dates, decimals, u64 and the rest as DataFusion prints them.
        _ => Value::Text(array_value_to_string(a, row)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn statements_split_outside_quotes_and_comments() {
        assert_eq!(
            statements("SELECT 'a;b'; SELECT \"x;\" -- c;d\n; ;SELECT 3"),
            ["SELECT 'a;b'", " SELECT \"x;\" -- c;d\n", "SELECT 3"]
        );
    }

    #[test]
    fn table_args_are_name_equals_file() {
        let t: TableArg = "t_1=data/x.parquet".parse().expect("parses");
        assert_eq!(
            (t.name.as_str(), t.file.as_path()),
            ("t_1", Path::new("data/x.parquet"))
        );
        assert!("x.parquet".parse::<TableArg>().is_err());
        assert!("a-b=x.csv".parse::<TableArg>().is_err());
    }
}
