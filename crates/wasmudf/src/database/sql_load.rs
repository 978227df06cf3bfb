//! `SELECT wasmudf_load('name.wasm')`: registering a component from SQL,
//! for setups whose embedder trusts the SQL it runs with a directory of
//! components ([`DatabaseBuilder::allow_sql_load`](super::DatabaseBuilder::allow_sql_load)).
//! Off by default.
//!
//! The name is opened inside that directory through cap-std, so neither
//! `..`, an absolute path nor a symbolic link reaches outside it. The
//! function is `SQLITE_DIRECTONLY`: a view or trigger in a database file
//! cannot call it. A loaded component is registered on the calling
//! connection at once (so a clash is the call's error) and joins the
//! pool's components, which every other connection registers when it is
//! next handed out. Each load is recorded in the table `wasmudf_loaded` of
//! the database, and [`DatabaseBuilder::open`](super::DatabaseBuilder::open)
//! loads the recorded names again when SQL loading is allowed.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, params};

use super::pool::Pool;
use crate::component::Component;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::interrupt::Interrupt;

/// The table that records what `wasmudf_load` loaded.
const RECORD: &str = "CREATE TABLE IF NOT EXISTS wasmudf_loaded(
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
    fn read(&self, name: &str) -> Result<Component> {
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

    /// Creates the record table, and loads every component it names.
    /// Blocking.
    pub(crate) fn reload(&self, conn: &Connection) -> Result<Vec<Component>> {
        conn.execute_batch(RECORD)?;
        let mut stmt = conn.prepare("SELECT name FROM wasmudf_loaded ORDER BY rowid")?;
        let names = stmt
            .query_map([], |row| row.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        names.iter().map(|name| self.read(name)).collect()
    }
}

fn user_error(err: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::UserFunctionError(format!("wasmudf_load: {err}").into())
}

/// Registers `wasmudf_load(name)` on `conn`.
pub(crate) fn register(
    conn: &Connection,
    load: Arc<SqlLoad>,
    pool: Weak<Pool>,
    interrupt: Interrupt,
) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DIRECTONLY;
    conn.create_scalar_function("wasmudf_load", 1, flags, move |ctx| {
        let name: String = ctx.get(0)?;
        let pool = pool.upgrade().ok_or_else(|| user_error(Error::Closed))?;
        let component = load.read(&name).map_err(user_error)?;
        if let Some(existing) = pool
            .components()
            .into_iter()
            .find(|c| c.sha256() == component.sha256())
        {
            // Loading the same bytes again changes nothing.
            return Ok(existing.functions().len() as i64);
        }
        // SAFETY: the connection is the one running this call, on this
        // thread; the reference does not outlive the call.
        let here = unsafe { ctx.get_connection()? };
        component
            .register_with(&here, &interrupt)
            .map_err(user_error)?;
        pool.push_loaded(component.clone());
        let sha256 = component.sha256_hex();
        here.execute(
            "INSERT INTO wasmudf_loaded(name, sha256, loaded_at) VALUES (?1, ?2, unixepoch('subsec'))
             ON CONFLICT(name) DO UPDATE SET sha256 = excluded.sha256, loaded_at = excluded.loaded_at",
            params![name, sha256],
        )
        .map_err(|e| user_error(format!("loaded, but not recorded in the database: {e}")))?;
        Ok(component.functions().len() as i64)
    })
}
