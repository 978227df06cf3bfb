//! `SELECT wasmudf_load('name.wasm')`: registering a component from SQL,
//! for setups whose embedder trusts the SQL it runs with a directory of
//! components ([`DatabaseBuilder::allow_sql_load`](super::DatabaseBuilder::allow_sql_load)).
//! Off by default.
//!
//! The name is opened inside that directory through cap-std, so neither
//! `..`, an absolute path nor a symbolic link reaches outside it. The
//! function is `SQLITE_DIRECTONLY`: a view or trigger in a database file
//! cannot call it.
//!
//! A load is the row it writes in the table `wasmudf_loaded` of the
//! database: the component is the database's exactly when that row
//! commits, whatever happens in between. So:
//! - under the pool's write lock, the component is checked against every
//!   component of the pool and every load still pending on any connection
//!   (same bytes: nothing to do; a clashing name: refused), then registered
//!   on the calling connection (so a clash with SQLite's builtins or the
//!   application's functions is refused too) and its names reserved; a
//!   connection whose components are behind the pool's (its transaction
//!   began before another connection changed them) is refused;
//! - then the row is written (upserted by name), on the calling connection,
//!   inside the caller's statement and transaction;
//! - once the connection's statement has ended (after each piece of work
//!   on a lease, before its caller hears back), the load is settled
//!   ([`Pool::settle`](super::pool::Pool::settle)): the row gone (the
//!   INSERT failed, the statement failed and was rolled back, `ROLLBACK`,
//!   or `ROLLBACK TO` a savepoint taken before the load) unregisters the
//!   component from the connection and frees its names; the row committed
//!   makes it the pool's, registered on every other connection from its
//!   next statement on. Inside a transaction the component is usable on
//!   its own connection at once, and on the others once it commits.
//!
//! Each row carries the time of its load, made to differ from any row of
//! that name before it, so a row left by an earlier load of the same file
//! is never mistaken for this one's.
//!
//! [`DatabaseBuilder::open`](super::DatabaseBuilder::open) loads the
//! recorded names again when SQL loading is allowed, reading them only from
//! a real table (`type = 'table'` in `main.sqlite_schema`, not a virtual
//! table): a database file's view of that name could otherwise run any
//! query at open (an endless recursive CTE) and choose which files load.
//! The read runs under a deadline.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, OptionalExtension, params};

use super::pool::{Begun, PendingLoad, Pool, SharedConnState};
use crate::component::Component;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::interrupt::Interrupt;

/// The table that records what `wasmudf_load` loaded.
const RECORD: &str = "CREATE TABLE main.wasmudf_loaded(
    name TEXT PRIMARY KEY, sha256 TEXT NOT NULL, loaded_at REAL NOT NULL)";

/// Where `wasmudf_load` may load from, and the engine that compiles.
pub(crate) struct SqlLoad {
    engine: Engine,
    dir: Dir,
    path: PathBuf,
}

impl std::fmt::Debug for SqlLoad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlLoad")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqlLoad {
    pub(crate) fn new(engine: Engine, path: &Path) -> Result<SqlLoad> {
        let dir = Dir::open_ambient_dir(path, ambient_authority()).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(SqlLoad {
            engine,
            dir,
            path: path.to_path_buf(),
        })
    }

    /// Reads and compiles `name`, inside the allowed directory only.
    pub(crate) fn read(&self, name: &str) -> Result<Component> {
        let shown = self.path.join(name);
        let bytes = crate::files::read_capped_in(
            &self.dir,
            OsStr::new(name),
            &shown,
            self.engine.max_component_bytes(),
        )?;
        Component::compile(
            self.engine.clone(),
            &shown.display().to_string(),
            Some(&shown),
            &bytes,
        )
    }

    /// The names recorded in `main.wasmudf_loaded`, in the order they were
    /// first loaded; creates the table when the database has none. Blocking;
    /// the caller bounds it with a deadline.
    ///
    /// # Errors
    ///
    /// [`Error::SqlLoad`] when `wasmudf_loaded` is anything but a real
    /// table; SQLite's error when its rows are not names.
    pub(crate) fn recorded_names(&self, conn: &Connection) -> Result<Vec<String>> {
        match record_kind(conn)? {
            None => {
                conn.execute_batch(RECORD)?;
                return Ok(Vec::new());
            }
            Some(Kind::Table) => {}
            Some(other) => {
                return Err(Error::SqlLoad {
                    detail: format!(
                        "`wasmudf_loaded` in this database is {other}, not the table \
                         wasmudf_load records its loads in: no component is loaded from it"
                    ),
                });
            }
        }
        let mut stmt = conn.prepare("SELECT name FROM main.wasmudf_loaded ORDER BY rowid")?;
        let names = stmt
            .query_map([], |row| row.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(names)
    }
}

/// What `main.wasmudf_loaded` is, by the schema of the database file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Table,
    VirtualTable,
    View,
    Index,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Table => "a table",
            Kind::VirtualTable => "a virtual table",
            Kind::View => "a view",
            Kind::Index => "an index",
        })
    }
}

/// What `main.wasmudf_loaded` is, if anything. Only the schema table is
/// read: nothing of the file's runs.
fn record_kind(conn: &Connection) -> Result<Option<Kind>> {
    let found: Option<(String, Option<String>)> = conn
        .query_row(
            "SELECT type, sql FROM main.sqlite_schema \
             WHERE type IN ('table', 'view', 'index') AND name = 'wasmudf_loaded' COLLATE NOCASE",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    Ok(found.map(|(kind, sql)| match kind.as_str() {
        "table" => {
            let sql = sql.unwrap_or_default();
            let head = sql.trim_start().get(..14).unwrap_or_default();
            if head.eq_ignore_ascii_case("CREATE VIRTUAL") {
                Kind::VirtualTable
            } else {
                Kind::Table
            }
        }
        "view" => Kind::View,
        _ => Kind::Index,
    }))
}

/// The row one `wasmudf_load` call writes in `main.wasmudf_loaded`.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    name: String,
    sha256: String,
    /// Seconds since the Unix epoch, unlike the row's before (see
    /// [`Record::new`]).
    loaded_at: f64,
}

impl Record {
    /// The row for loading `component` as `name` now. Its time differs from
    /// the time in the row of that name already there, if any, so that the
    /// row found later is this load's only if this load wrote it.
    fn new(conn: &Connection, name: &str, component: &Component) -> Result<Record> {
        match record_kind(conn)? {
            Some(Kind::Table) => {}
            other => {
                return Err(Error::SqlLoad {
                    detail: format!(
                        "`wasmudf_loaded` in this database is {}, not the table it records \
                         its loads in",
                        other.map_or_else(|| "missing".to_string(), |k| k.to_string())
                    ),
                });
            }
        }
        let before: Option<Option<f64>> = conn
            .query_row(
                "SELECT loaded_at FROM main.wasmudf_loaded WHERE name = ?1",
                [name],
                |row| row.get(0),
            )
            .optional()?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let loaded_at = match before.flatten() {
            Some(before) if before == now => now.next_up(),
            _ => now,
        };
        Ok(Record {
            name: name.to_owned(),
            sha256: component.sha256_hex(),
            loaded_at,
        })
    }

    /// Writes the row, replacing the row of the same name.
    fn write(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.execute(
            "INSERT INTO main.wasmudf_loaded(name, sha256, loaded_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(name) DO UPDATE SET sha256 = excluded.sha256,
                 loaded_at = excluded.loaded_at",
            params![self.name, self.sha256, self.loaded_at],
        )?;
        Ok(())
    }

    /// Whether the row is in the database as this load wrote it (as the
    /// connection sees it: committed, or written by its open transaction).
    pub(crate) fn is_present(&self, conn: &Connection) -> Result<bool> {
        if record_kind(conn)? != Some(Kind::Table) {
            return Ok(false);
        }
        let rows: i64 = conn.query_row(
            "SELECT count(*) FROM main.wasmudf_loaded
             WHERE name = ?1 AND sha256 = ?2 AND loaded_at = ?3",
            params![self.name, self.sha256, self.loaded_at],
            |row| row.get(0),
        )?;
        Ok(rows > 0)
    }
}

fn user_error(err: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::UserFunctionError(format!("wasmudf_load: {err}").into())
}

/// Registers `wasmudf_load(name)` on `conn`, whose state in the pool is
/// `state`.
pub(crate) fn register(
    conn: &Connection,
    load: Arc<SqlLoad>,
    pool: Weak<Pool>,
    state: SharedConnState,
    interrupt: Interrupt,
) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DIRECTONLY;
    conn.create_scalar_function("wasmudf_load", 1, flags, move |ctx| {
        let name: String = ctx.get(0)?;
        let pool = pool.upgrade().ok_or_else(|| user_error(Error::Closed))?;
        let component = load.read(&name).map_err(user_error)?;
        let functions = component.functions().len() as i64;
        // SAFETY: the connection is the one running this call, on this
        // thread; the reference does not outlive the call.
        let here = unsafe { ctx.get_connection()? };
        let record = Record::new(&here, &name, &component).map_err(user_error)?;
        let pending = PendingLoad {
            component,
            record: record.clone(),
        };
        match pool
            .begin_load(&state, &here, &interrupt, pending)
            .map_err(user_error)?
        {
            // Loading the same bytes again changes nothing.
            Begun::Already => return Ok(functions),
            Begun::Registered => {}
        }
        // A failed write leaves the load pending without its row: settled
        // (undone) when the statement ends, as SQLite cannot remove a
        // function while one runs.
        record.write(&here).map_err(|e| {
            user_error(format!(
                "{name}: not recorded in the database, so not loaded: {e}"
            ))
        })?;
        Ok(functions)
    })
}
