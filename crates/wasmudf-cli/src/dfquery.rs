//! `wasmudf query --engine datafusion`: the same components as DataFusion
//! UDFs, over CSV and Parquet files named with `--table NAME=FILE`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::prelude::{CsvReadOptions, ParquetReadOptions, SessionConfig, SessionContext};
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

/// The file is opened the way every path a user hands us is (cap-std, from
/// its directory), so a missing or unreadable one is a clear error before
/// DataFusion lists it.
async fn register_table(ctx: &SessionContext, t: &TableArg) -> Result<()> {
    check_readable(&t.file)?;
    let path = t
        .file
        .to_str()
        .with_context(|| format!("{}: not a UTF-8 path", t.file.display()))?;
    let ext = t
        .file
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    match ext.to_ascii_lowercase().as_str() {
        "csv" => ctx.register_csv(&t.name, path, CsvReadOptions::new()).await,
        "parquet" => {
            ctx.register_parquet(&t.name, path, ParquetReadOptions::default())
                .await
        }
        _ => bail!(
            "{}: a table must be a .csv or .parquet file",
            t.file.display()
        ),
    }
    .with_context(|| format!("reading table {} from {}", t.name, t.file.display()))
}

fn check_readable(file: &Path) -> Result<()> {
    let dir = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = file
        .file_name()
        .with_context(|| format!("{}: not a file", file.display()))?;
    let dir = cap_std::fs::Dir::open_ambient_dir(dir, cap_std::ambient_authority())
        .with_context(|| format!("opening the folder of {}", file.display()))?;
    dir.open(name)
        .with_context(|| format!("opening {}", file.display()))?;
    Ok(())
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
