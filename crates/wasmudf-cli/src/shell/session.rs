//! The shell's one connection, and running statements on it.
//!
//! `sqlite3`'s users expect one connection: `BEGIN` on one line and
//! `COMMIT` three lines later, temp tables, `PRAGMA`s and `total_changes()`
//! that last. So the shell's database is a pool of one connection, and all
//! its work goes through [`Database::interact`], whose future, dropped,
//! interrupts SQLite and the guest (Ctrl-C, the query timeout).
//!
//! The pool rolls back a transaction that is still open when a connection
//! goes back to it. So the work that leaves a transaction open does not
//! return: it keeps the connection and runs the work sent to it after,
//! until the transaction ends. That is the [`Session`]'s worker: one
//! `interact` call serving a queue of jobs, kept while a transaction is
//! open and let go as soon as none is.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use rusqlite::Connection;
use rusqlite::types::{Value, ValueRef};
use tokio::task::JoinHandle;
use wasmudf::Database;

use crate::output::safe;

/// Work for the shell's connection, run on the blocking pool.
pub(crate) type Job = Box<dyn FnOnce(&Connection) + Send>;

/// One `Database::interact` call running jobs on the connection it holds.
struct Worker {
    jobs: std::sync::mpsc::Sender<Job>,
    task: JoinHandle<wasmudf::Result<()>>,
}

/// The shell's database and the connection's worker.
pub(crate) struct Session {
    db: Database,
    path: Option<PathBuf>,
    /// Between inputs, there is a worker only while a transaction is open.
    worker: Option<Worker>,
}

impl Session {
    pub(crate) fn new(db: Database, path: Option<PathBuf>) -> Session {
        Session {
            db,
            path,
            worker: None,
        }
    }

    pub(crate) fn db(&self) -> &Database {
        &self.db
    }

    /// The database file; `None` for the in-memory database.
    pub(crate) fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Whether the user has a transaction open. While one is, the worker
    /// holds the pool's only connection, so nothing may ask the
    /// [`Database`] itself for one (adding or removing components would
    /// wait for ever).
    pub(crate) fn in_transaction(&self) -> bool {
        self.worker.is_some()
    }

    /// Hands `job` to the worker, starting one if there is none. Must run
    /// inside the runtime: a new worker is a task.
    pub(crate) fn submit(&mut self, job: Job) {
        let job = match self.worker.take() {
            Some(worker) => match worker.jobs.send(job) {
                Ok(()) => {
                    self.worker = Some(worker);
                    return;
                }
                // The worker has ended (its transaction with it): start
                // another.
                Err(std::sync::mpsc::SendError(job)) => job,
            },
            None => job,
        };
        let (jobs, inbox) = std::sync::mpsc::channel::<Job>();
        // The receiver is alive: this cannot fail.
        let _ = jobs.send(job);
        let task = tokio::spawn(self.db.interact(move |conn| {
            while let Ok(job) = inbox.recv() {
                job(conn);
                // Returning lets the pool have the connection back, which
                // would roll back an open transaction.
                if conn.is_autocommit() {
                    break;
                }
            }
            Ok(())
        }));
        self.worker = Some(Worker { jobs, task });
    }

    /// After a job has reported: lets the connection go back to the pool,
    /// unless the job left a transaction open.
    ///
    /// # Errors
    ///
    /// The worker's own error (the pool closed, a panic).
    pub(crate) async fn settle(&mut self, in_transaction: bool) -> anyhow::Result<()> {
        if in_transaction {
            return Ok(());
        }
        let Some(worker) = self.worker.take() else {
            return Ok(());
        };
        drop(worker.jobs);
        joined(worker.task.await)
    }

    /// Why a job ended without reporting: its worker's error.
    pub(crate) async fn failure(&mut self) -> anyhow::Error {
        let Some(worker) = self.worker.take() else {
            return anyhow!("the connection's worker has stopped");
        };
        drop(worker.jobs);
        match joined(worker.task.await) {
            Err(err) => err,
            Ok(()) => anyhow!("the connection's worker has stopped"),
        }
    }

    /// Stops the job running now: SQLite and the guest are interrupted
    /// (the library does it as the `interact` future drops), and the pool
    /// rolls back an open transaction once the job has returned, as SQLite
    /// itself does when a write inside one is interrupted.
    pub(crate) fn abort(&mut self) {
        if let Some(worker) = self.worker.take() {
            worker.task.abort();
        }
    }

    /// Runs `work` on the connection and returns what it returns.
    ///
    /// # Errors
    ///
    /// The worker's error, when the job could not run to the end.
    pub(crate) async fn call<R: Send + 'static>(
        &mut self,
        work: impl FnOnce(&Connection) -> R + Send + 'static,
    ) -> anyhow::Result<R> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(Box::new(move |conn| {
            let result = work(conn);
            let _ = tx.send((result, !conn.is_autocommit()));
        }));
        match rx.await {
            Ok((result, in_transaction)) => {
                self.settle(in_transaction).await?;
                Ok(result)
            }
            Err(_) => Err(self.failure().await),
        }
    }

    /// Ends the session: an open transaction is rolled back, as when
    /// `sqlite3` exits, and the connection is closed.
    pub(crate) async fn close(&mut self) {
        if let Some(worker) = self.worker.take() {
            drop(worker.jobs);
            let _ = worker.task.await;
        }
        self.db.close();
    }
}

/// A worker task's end as a result: cancelled by [`Session::abort`] is
/// fine; the pool's errors and panics are not.
fn joined(result: Result<wasmudf::Result<()>, tokio::task::JoinError>) -> anyhow::Result<()> {
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(err.into()),
        Err(err) if err.is_cancelled() => Ok(()),
        Err(err) => Err(anyhow!("the connection's worker failed: {err}")),
    }
}

/// What a statement job reports, in order: its column names (if it has
/// any), each row, then how it ended.
#[derive(Debug)]
pub(crate) enum Event {
    Columns(Vec<String>),
    Row(Vec<Value>),
    Done(Done),
}

/// How a statement ended.
#[derive(Debug)]
pub(crate) struct Done {
    /// Rows the statement changed (0 for one that only reads) and the
    /// connection's total, when it succeeded.
    pub(crate) changes: Option<(u64, u64)>,
    pub(crate) error: Option<SqlError>,
    /// Whether the connection is inside a transaction now.
    pub(crate) in_transaction: bool,
}

/// A job that runs one statement, sending its rows to `events` as they
/// are stepped. The channel is bounded, so a slow terminal slows the
/// stepping rather than filling memory; a dropped receiver stops it.
pub(crate) fn statement_job(sql: String, events: tokio::sync::mpsc::Sender<Event>) -> Job {
    Box::new(move |conn| {
        let mut done = step(conn, &sql, &events);
        done.in_transaction = !conn.is_autocommit();
        let _ = events.blocking_send(Event::Done(done));
    })
}

fn step(conn: &Connection, sql: &str, events: &tokio::sync::mpsc::Sender<Event>) -> Done {
    let failed = |error| Done {
        changes: None,
        error: Some(error),
        in_transaction: false,
    };
    let mut stmt = match conn.prepare(sql) {
        Ok(stmt) => stmt,
        // Only comments: nothing to run.
        Err(rusqlite::Error::Empty) => {
            return Done {
                changes: None,
                error: None,
                in_transaction: false,
            };
        }
        Err(err) => return failed(SqlError::new(Phase::Parse, &err)),
    };
    let columns: Vec<String> = stmt.column_names().map(String::from).collect();
    let width = columns.len();
    if width > 0 && events.blocking_send(Event::Columns(columns)).is_err() {
        return failed(SqlError::interrupted());
    }
    let readonly = stmt.readonly();
    let mut rows = stmt.raw_query();
    loop {
        match rows.next() {
            Ok(Some(row)) => {
                let values = (0..width)
                    .map(|i| row.get_ref(i).map(owned))
                    .collect::<rusqlite::Result<Vec<_>>>();
                match values {
                    Ok(values) => {
                        if events.blocking_send(Event::Row(values)).is_err() {
                            return failed(SqlError::interrupted());
                        }
                    }
                    Err(err) => return failed(SqlError::new(Phase::Runtime, &err)),
                }
            }
            Ok(None) => break,
            Err(err) => return failed(SqlError::new(Phase::Runtime, &err)),
        }
    }
    drop(rows);
    let changes = if readonly { 0 } else { conn.changes() };
    Done {
        changes: Some((changes, conn.total_changes())),
        error: None,
        in_transaction: false,
    }
}

/// A value copied out of the row; TEXT that is not UTF-8 is shown with
/// replacement characters rather than failing the statement.
fn owned(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

/// Whether a statement failed while it was prepared or while it ran:
/// `sqlite3` names the two "Parse error" and "Runtime error".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Parse,
    Runtime,
}

/// A statement's error, as SQLite put it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SqlError {
    pub(crate) phase: Phase,
    /// SQLite's message only, without rusqlite's "Error code 1: SQL logic
    /// error" around it.
    pub(crate) message: String,
    /// Where in the statement SQLite found the error, in bytes.
    pub(crate) offset: Option<usize>,
}

impl SqlError {
    pub(crate) fn new(phase: Phase, err: &rusqlite::Error) -> SqlError {
        let (message, offset) = match err {
            rusqlite::Error::SqliteFailure(_, Some(message)) => (message.clone(), None),
            rusqlite::Error::SqliteFailure(code, None) => (
                rusqlite::ffi::code_to_str(code.extended_code).to_owned(),
                None,
            ),
            rusqlite::Error::SqlInputError { msg, offset, .. } => {
                (msg.clone(), usize::try_from(*offset).ok())
            }
            other => (other.to_string(), None),
        };
        SqlError {
            phase,
            message,
            offset,
        }
    }

    pub(crate) fn interrupted() -> SqlError {
        SqlError::runtime("interrupted")
    }

    pub(crate) fn runtime(message: &str) -> SqlError {
        SqlError {
            phase: Phase::Runtime,
            message: message.to_owned(),
            offset: None,
        }
    }

    /// The error as `sqlite3` prints it: "Parse error near line 3: no such
    /// table: t" (without "near line" for what was typed at a terminal),
    /// then the statement around the error with a marker under it.
    /// Escaped: the message may quote a guest, the SQL a file.
    pub(crate) fn describe(&self, sql: &str, line: Option<usize>) -> String {
        let kind = match self.phase {
            Phase::Parse => "Parse error",
            Phase::Runtime => "Runtime error",
        };
        let place = line.map(|l| format!(" near line {l}")).unwrap_or_default();
        let mut text = format!("{kind}{place}: {}", safe(&self.message));
        if let Some(context) = self.offset.and_then(|offset| context(sql, offset)) {
            text.push_str(&context);
        }
        text
    }
}

/// `sqlite3`'s picture of where an error is: at most 78 bytes of the
/// statement on one line, starting at most 50 bytes before the error, and
/// a marker under the error.
fn context(sql: &str, offset: usize) -> Option<String> {
    if offset >= sql.len() {
        return None;
    }
    let mut start = offset.saturating_sub(50);
    while !sql.is_char_boundary(start) {
        start += 1;
    }
    let mut end = (start + 78).min(sql.len());
    while !sql.is_char_boundary(end) {
        end -= 1;
    }
    let code: String = sql[start..end]
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .collect();
    let column = sql[start..offset.max(start)].chars().count();
    let code = safe(&code);
    Some(if column < 25 {
        format!("\n  {code}\n  {}^--- error here", " ".repeat(column))
    } else {
        format!(
            "\n  {code}\n  {}error here ---^",
            " ".repeat(column.saturating_sub(14))
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prepare_error(sql: &str) -> SqlError {
        let conn = Connection::open_in_memory().expect("in-memory database");
        match conn.prepare(sql) {
            Ok(_) => panic!("{sql} prepared"),
            Err(err) => SqlError::new(Phase::Parse, &err),
        }
    }

    #[test]
    fn errors_read_like_sqlite3s() {
        let sql = "SELECT * FRM t;";
        let err = prepare_error(sql);
        assert_eq!(
            err.describe(sql, Some(3)),
            "Parse error near line 3: near \"FRM\": syntax error\n  SELECT * FRM t;\n           ^--- error here"
        );
        let sql = "SELECT * FROM nowhere;";
        let text = prepare_error(sql).describe(sql, None);
        assert!(
            text.starts_with("Parse error: no such table: nowhere"),
            "{text}"
        );
        assert!(!text.contains("Error code"), "{text}");
    }

    #[test]
    fn runtime_errors_carry_sqlites_message_only() {
        let conn = Connection::open_in_memory().expect("in-memory database");
        let err = conn
            .execute_batch("CREATE TABLE t(x UNIQUE); INSERT INTO t VALUES (1), (1);")
            .expect_err("a duplicate");
        let err = SqlError::new(Phase::Runtime, &err);
        assert_eq!(
            err.describe("", Some(5)),
            "Runtime error near line 5: UNIQUE constraint failed: t.x"
        );
    }

    #[test]
    fn the_error_marker_follows_long_statements() {
        let sql = format!("SELECT {} FRM t;", "1, ".repeat(30));
        let err = prepare_error(&sql);
        let text = err.describe(&sql, None);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[2].ends_with("error here ---^"), "{text}");
        // The marker's end sits under the error's first character.
        let caret = lines[2].chars().count() - 1;
        assert_eq!(lines[1].chars().nth(caret), Some('F'), "{text}");
    }
}
