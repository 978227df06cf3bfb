//! `wasmudf query`: run statements through the async pool and print their
//! rows.

use anyhow::{Context, Result};
use rusqlite::fallible_iterator::FallibleIterator;
use rusqlite::{Batch, Connection};
use wasmudf::Database;

use crate::QueryArgs;
use crate::output::ResultSet;
use crate::udfs;

pub(crate) fn run(args: &QueryArgs) -> Result<()> {
    let engine = udfs::engine(&args.session)?;
    let components = udfs::load(&engine, &args.session)?;
    udfs::runtime()?.block_on(async {
        let db = udfs::open(&args.session, &components).await?;
        for sql in &args.sql {
            for set in execute(&db, sql).await? {
                print(&set, args.json);
            }
        }
        Ok(())
    })
}

pub(crate) fn print(set: &ResultSet, json: bool) {
    if json {
        println!("{}", set.to_json());
    } else if let Some(table) = set.to_table() {
        println!("{table}");
    }
}

/// Runs every statement in `sql`, in order, on one pooled connection,
/// returning each one's rows. Stops at the first failing statement.
pub(crate) async fn execute(db: &Database, sql: &str) -> Result<Vec<ResultSet>> {
    let sql = sql.to_owned();
    db.interact(move |conn| run_batch(conn, &sql).map_err(wasmudf::Error::from))
        .await
        .context("running SQL")
}

fn run_batch(conn: &Connection, sql: &str) -> rusqlite::Result<Vec<ResultSet>> {
    let mut sets = Vec::new();
    let mut batch = Batch::new(conn, sql);
    while let Some(mut stmt) = batch.next()? {
        let columns: Vec<String> = stmt.column_names().map(String::from).collect();
        let width = columns.len();
        let mut rows = Vec::new();
        let mut cursor = stmt.raw_query();
        while let Some(row) = cursor.next()? {
            rows.push(
                (0..width)
                    .map(|i| row.get::<_, rusqlite::types::Value>(i))
                    .collect::<rusqlite::Result<Vec<_>>>()?,
            );
        }
        sets.push(ResultSet { columns, rows });
    }
    Ok(sets)
}
