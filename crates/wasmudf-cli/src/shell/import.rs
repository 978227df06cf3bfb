//! `.import FILE TABLE`: CSV rows into a table, as `sqlite3` does it.
//!
//! When TABLE does not exist, the file's first row names its columns (all
//! TEXT) and the other rows are its data; when it exists, every row is
//! data (`--skip 1` passes over a header). A row with too few fields gets
//! NULLs, one with too many loses the extra ones, and both are reported.
//! Fields are bound as TEXT, so the table's column affinities decide what
//! is stored, as with `sqlite3`.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::Connection;

/// What an import did.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Imported {
    pub(crate) rows: u64,
    /// Whether the table was created from the header row.
    pub(crate) created: bool,
    /// Notes on rows that did not fit, for stderr.
    pub(crate) notes: Vec<String>,
}

/// At most this many notes on misfit rows; the rest are counted.
const MAX_NOTES: usize = 5;

/// Imports CSV from `input` into `table`, counting rows into `progress`.
/// Runs inside a savepoint, so a failure leaves nothing behind (not even
/// a table it created), inside or outside the user's transaction.
///
/// # Errors
///
/// `name:LINE: message` for a malformed row or a failing insert.
pub(crate) fn import(
    conn: &Connection,
    input: impl Read,
    name: &str,
    table: &str,
    skip: u64,
    progress: &Arc<AtomicU64>,
) -> Result<Imported, String> {
    conn.execute_batch("SAVEPOINT wasmudf_import")
        .map_err(|e| format!("{name}: {}", message(&e)))?;
    let result = fill(conn, input, name, table, skip, progress);
    let end = match result {
        Ok(_) => "RELEASE wasmudf_import",
        Err(_) => "ROLLBACK TO wasmudf_import; RELEASE wasmudf_import",
    };
    let ended = conn.execute_batch(end);
    let imported = result?;
    ended.map_err(|e| format!("{name}: {}", message(&e)))?;
    Ok(imported)
}

fn fill(
    conn: &Connection,
    input: impl Read,
    name: &str,
    table: &str,
    skip: u64,
    progress: &Arc<AtomicU64>,
) -> Result<Imported, String> {
    let quoted = quote(table);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(input);
    let mut records = reader.byte_records();
    let at = |line: u64, e: &dyn std::fmt::Display| format!("{name}:{line}: {e}");
    let mut imported = Imported::default();
    let existing = match conn.prepare(&format!("SELECT * FROM {quoted}")) {
        Ok(stmt) => Some(stmt.column_count()),
        Err(_) => None,
    };
    let width = match existing {
        Some(width) => width,
        None => {
            let Some(header) = records.next() else {
                return Err(format!("{name}: empty file"));
            };
            let header = header.map_err(|e| at(1, &e))?;
            let columns = column_names(&header);
            let create = format!(
                "CREATE TABLE {quoted}({})",
                columns
                    .iter()
                    .map(|c| format!("{} TEXT", quote(c)))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            conn.execute_batch(&create)
                .map_err(|e| format!("{name}: {}", message(&e)))?;
            imported.created = true;
            columns.len()
        }
    };
    let placeholders = vec!["?"; width].join(", ");
    let mut insert = conn
        .prepare(&format!("INSERT INTO {quoted} VALUES ({placeholders})"))
        .map_err(|e| format!("{name}: {}", message(&e)))?;
    let mut misfits = 0usize;
    for (index, record) in records.enumerate() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(index as u64 + 1, |p| p.line());
            at(line, &e)
        })?;
        let line = record.position().map_or(index as u64 + 1, |p| p.line());
        if (index as u64) < skip {
            continue;
        }
        if record.len() != width {
            misfits += 1;
            if misfits <= MAX_NOTES {
                let what = if record.len() < width {
                    "filling the rest with NULL"
                } else {
                    "extras ignored"
                };
                imported.notes.push(format!(
                    "{name}:{line}: expected {width} columns but found {} - {what}",
                    record.len()
                ));
            }
        }
        for i in 0..width {
            let value = record.get(i).map(String::from_utf8_lossy);
            insert
                .raw_bind_parameter(i + 1, value.as_deref())
                .map_err(|e| at(line, &message(&e)))?;
        }
        insert.raw_execute().map_err(|e| at(line, &message(&e)))?;
        imported.rows += 1;
        progress.fetch_add(1, Ordering::Relaxed);
    }
    if misfits > MAX_NOTES {
        imported.notes.push(format!(
            "{name}: {} more rows had the wrong number of columns",
            misfits - MAX_NOTES
        ));
    }
    Ok(imported)
}

/// The header row's names: a byte-order mark dropped, a blank name
/// replaced by its position (`c3`), a repeated one numbered (`a_2`).
fn column_names(header: &csv::ByteRecord) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(header.len());
    for (i, field) in header.iter().enumerate() {
        let mut name = String::from_utf8_lossy(field).trim().to_owned();
        if i == 0 {
            name = name.trim_start_matches('\u{feff}').to_owned();
        }
        if name.is_empty() {
            name = format!("c{}", i + 1);
        }
        let base = name.clone();
        let mut n = 1;
        while names.iter().any(|other| other.eq_ignore_ascii_case(&name)) {
            n += 1;
            name = format!("{base}_{n}");
        }
        names.push(name);
    }
    names
}

/// An identifier, quoted for SQL.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn message(err: &rusqlite::Error) -> String {
    super::session::SqlError::new(super::session::Phase::Runtime, err).message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(conn: &Connection, csv: &str, table: &str, skip: u64) -> Result<Imported, String> {
        import(
            conn,
            csv.as_bytes(),
            "in.csv",
            table,
            skip,
            &Arc::new(AtomicU64::new(0)),
        )
    }

    fn rows(conn: &Connection, sql: &str) -> Vec<String> {
        let mut stmt = conn.prepare(sql).expect("prepare");
        stmt.query_map([], |r| r.get::<_, String>(0))
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows")
    }

    #[test]
    fn a_new_table_takes_its_columns_from_the_header() -> rusqlite::Result<()> {
        let conn = Connection::open_in_memory()?;
        let csv = "\u{feff}name,\"big, city\",name\nAda,\"London\",x\nGrace,NYC,y\n";
        let imported = run(&conn, csv, "people", 0).expect("import");
        assert_eq!(imported.rows, 2);
        assert!(imported.created);
        assert_eq!(
            rows(&conn, "SELECT sql FROM sqlite_schema"),
            [r#"CREATE TABLE "people"("name" TEXT, "big, city" TEXT, "name_2" TEXT)"#]
        );
        assert_eq!(
            rows(&conn, "SELECT name || '/' || \"big, city\" FROM people"),
            ["Ada/London", "Grace/NYC"]
        );
        Ok(())
    }

    #[test]
    fn an_existing_table_takes_every_row_and_misfits_are_noted() -> rusqlite::Result<()> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch("CREATE TABLE t(a INTEGER, b)")?;
        let imported = run(&conn, "1,x\n2\n3,y,z\n", "t", 0).expect("import");
        assert_eq!(imported.rows, 3);
        assert_eq!(imported.notes.len(), 2, "{:?}", imported.notes);
        assert!(imported.notes[0].starts_with("in.csv:2: expected 2 columns but found 1"));
        assert_eq!(
            rows(
                &conn,
                "SELECT typeof(a) || ':' || coalesce(b, 'NULL') FROM t"
            ),
            ["integer:x", "integer:NULL", "integer:y"]
        );
        let imported = run(&conn, "a,b\n4,w\n", "t", 1).expect("import");
        assert_eq!(imported.rows, 1);
        Ok(())
    }

    #[test]
    fn a_failing_import_leaves_nothing() -> rusqlite::Result<()> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch("CREATE TABLE t(a UNIQUE)")?;
        let err = run(&conn, "1\n1\n", "t", 0).expect_err("a duplicate");
        assert_eq!(err, "in.csv:2: UNIQUE constraint failed: t.a");
        assert!(rows(&conn, "SELECT a FROM t").is_empty());
        let err = run(&conn, "", "fresh", 0).expect_err("no header");
        assert_eq!(err, "in.csv: empty file");
        assert!(rows(&conn, "SELECT name FROM sqlite_schema WHERE name = 'fresh'").is_empty());
        Ok(())
    }
}
