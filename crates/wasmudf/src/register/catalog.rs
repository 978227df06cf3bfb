//! `wasmudf_functions` and `wasmudf_components`: read-only virtual tables
//! listing what is registered on the connection, so SQL can see it
//! (`SELECT name, kind FROM wasmudf_functions`).
//!
//! They belong to the host, not to the database file, so they live in the
//! connection's `temp` schema (`CREATE VIRTUAL TABLE temp.wasmudf_functions
//! USING wasmudf_functions`), which no file can hold:
//! - SQLite looks an unqualified name up in `temp` before `main`, so a
//!   table, view or virtual table of the same name in an untrusted file
//!   cannot hide or fake them (an eponymous table would be found only when
//!   no schema has the name);
//! - a view or trigger of the file (`main` or an attached database) sees
//!   only its own schema, so it cannot read them and copy host paths and
//!   hashes into the file; and they are not innocuous either, so with
//!   `trusted_schema=OFF` no untrusted schema object may use them at all;
//! - the modules are not eponymous, and refuse a table anywhere but in
//!   `temp` under their own name, so a file's `CREATE VIRTUAL TABLE ...
//!   USING wasmudf_functions` is an error, not a copy of the catalog.
//!
//! Each scan copies the rows out of the connection's [`Registered`] list
//! when it starts; the tables are small (one row per function), and a copy
//! keeps the list's lock out of SQLite's stepping.

use std::borrow::Cow;
use std::ffi::{CStr, c_int};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::UNIX_EPOCH;

use rusqlite::types::Value as SqlValue;
use rusqlite::vtab::{
    Context, CreateVTab, Filters, IndexInfo, Module, VTab, VTabConnection, VTabCursor, VTabKind,
    sqlite3_vtab, sqlite3_vtab_cursor,
};

use crate::component::Component;
use crate::manifest::{FunctionKind, FunctionSpec};

/// The names of the two tables; table functions may not take them.
pub(crate) const NAMES: [&str; 2] = ["wasmudf_functions", "wasmudf_components"];

/// A component registered on the connection, with each function's
/// direct-path switch as its callback sees it (`None` for functions that
/// never take the direct path: table functions).
pub(crate) struct Registered {
    pub(crate) component: Component,
    pub(crate) direct: Vec<Option<Arc<AtomicBool>>>,
}

/// What a connection has registered, shared by its registry and its two
/// tables.
pub(crate) type Shared = Arc<Mutex<Vec<Registered>>>;

/// Which of the two tables.
#[derive(Clone, Copy)]
pub(crate) enum Which {
    Functions,
    Components,
}

const FUNCTIONS: &CStr = c"CREATE TABLE x(name TEXT, kind TEXT, arity INTEGER, flags TEXT, \
    component TEXT, path TEXT, sha256 TEXT, language TEXT, direct INTEGER, returns TEXT, \
    params TEXT, columns TEXT, mergeable INTEGER, trusted INTEGER)";

const COMPONENTS: &CStr = c"CREATE TABLE x(sha256 TEXT, component TEXT, path TEXT, \
    size INTEGER, wit_version TEXT, language TEXT, loaded_at REAL, load_ms REAL, \
    live_instances INTEGER, functions INTEGER, trusted INTEGER)";

/// Registers both modules on `conn`; [`ensure`] makes their tables.
pub(crate) fn create(conn: &rusqlite::Connection, shared: &Shared) -> rusqlite::Result<()> {
    const MODULE: Module<'static, CatalogTable> = Module::read_only_module();
    conn.create_module(NAMES[0], &MODULE, Some((Which::Functions, shared.clone())))?;
    conn.create_module(NAMES[1], &MODULE, Some((Which::Components, shared.clone())))
}

/// Creates the two tables in `temp` unless they are there: made inside a
/// transaction that was then rolled back, they went with it, so every
/// registration looks again (two lookups in `temp`'s small schema).
pub(crate) fn ensure(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    for name in NAMES {
        let there: i64 = conn.query_row(
            "SELECT count(*) FROM temp.sqlite_schema WHERE type = 'table' AND name = ?1",
            [name],
            |row| row.get(0),
        )?;
        if there == 0 {
            conn.execute_batch(&format!("CREATE VIRTUAL TABLE temp.{name} USING {name}"))?;
        }
    }
    Ok(())
}

fn text(s: impl Into<String>) -> SqlValue {
    SqlValue::Text(s.into())
}

fn opt_text(s: Option<impl Into<String>>) -> SqlValue {
    s.map_or(SqlValue::Null, text)
}

fn flag(b: bool) -> SqlValue {
    SqlValue::Integer(i64::from(b))
}

fn path_of(c: &Component) -> SqlValue {
    opt_text(c.path().map(|p| p.display().to_string()))
}

fn list(items: impl IntoIterator<Item = String>) -> String {
    items.into_iter().collect::<Vec<_>>().join(",")
}

fn function_row(
    r: &Registered,
    spec: &FunctionSpec,
    direct: Option<&Arc<AtomicBool>>,
) -> Vec<SqlValue> {
    let c = &r.component;
    vec![
        text(spec.name.as_str()),
        text(spec.kind.to_string()),
        SqlValue::Integer(i64::from(spec.arity.as_sqlite())),
        // `FunctionFlags` shows no flag as `-`, which SQL does not need.
        text(spec.flags.to_string().trim_start_matches('-')),
        text(c.origin()),
        path_of(c),
        text(c.sha256_hex()),
        opt_text(c.language()),
        flag(direct.is_some_and(|d| d.load(Ordering::Relaxed))),
        opt_text(spec.returns.map(|t| t.to_string())),
        opt_text(
            spec.params
                .as_ref()
                .map(|p| list(p.iter().map(ToString::to_string))),
        ),
        match spec.kind {
            FunctionKind::Table => text(list(spec.columns.iter().cloned())),
            _ => SqlValue::Null,
        },
        flag(spec.mergeable),
        flag(c.is_trusted()),
    ]
}

fn component_row(r: &Registered) -> Vec<SqlValue> {
    let c = &r.component;
    let loaded_at = c
        .loaded_at()
        .duration_since(UNIX_EPOCH)
        .map_or(SqlValue::Null, |d| SqlValue::Real(d.as_secs_f64()));
    vec![
        text(c.sha256_hex()),
        text(c.origin()),
        path_of(c),
        SqlValue::Integer(i64::try_from(c.size()).unwrap_or(i64::MAX)),
        text(c.wit_version().as_str()),
        opt_text(c.language()),
        loaded_at,
        SqlValue::Real(c.load_time().as_secs_f64() * 1000.0),
        SqlValue::Integer(i64::try_from(c.live_instances()).unwrap_or(i64::MAX)),
        SqlValue::Integer(i64::try_from(c.functions().len()).unwrap_or(i64::MAX)),
        flag(c.is_trusted()),
    ]
}

/// The rows of `which`, now.
fn snapshot(which: Which, shared: &Shared) -> Vec<Vec<SqlValue>> {
    let registered = shared.lock().unwrap_or_else(PoisonError::into_inner);
    match which {
        Which::Functions => registered
            .iter()
            .flat_map(|r| {
                r.component
                    .functions()
                    .iter()
                    .enumerate()
                    .map(move |(i, spec)| {
                        function_row(r, spec, r.direct.get(i).and_then(Option::as_ref))
                    })
            })
            .collect(),
        Which::Components => registered.iter().map(component_row).collect(),
    }
}

/// [`super::vtab_guarded`], for this module's callbacks.
fn guarded<R>(f: impl FnOnce() -> rusqlite::Result<R>) -> rusqlite::Result<R> {
    super::vtab_guarded("the wasmudf catalog", f)
}

#[repr(C)]
pub(crate) struct CatalogTable {
    base: sqlite3_vtab,
    which: Which,
    shared: Shared,
}

// SAFETY: `repr(C)` with `sqlite3_vtab` first, as the trait requires.
unsafe impl<'vtab> VTab<'vtab> for CatalogTable {
    type Aux = (Which, Shared);
    type Cursor = CatalogCursor<'vtab>;

    fn connect(
        _db: &mut VTabConnection,
        aux: Option<&(Which, Shared)>,
        module: &[u8],
        database: &[u8],
        table: &[u8],
        _args: &[&[u8]],
    ) -> rusqlite::Result<(Cow<'static, CStr>, Self)> {
        guarded(|| {
            let (which, shared) = super::vtab_aux(aux, "catalog")?;
            // Only the host's own table: never one a database file declares
            // (its schema is read with this connection's modules), and
            // never under another name.
            if database != b"temp" || !table.eq_ignore_ascii_case(module) {
                return Err(rusqlite::Error::ModuleError(format!(
                    "{} is wasmudf's catalog: only temp.{0} may use it",
                    String::from_utf8_lossy(module)
                )));
            }
            // Not innocuous (nor direct-only): an untrusted schema object
            // may not read what the host loaded from where, and the user's
            // own temporary views may.
            let declaration = match which {
                Which::Functions => FUNCTIONS,
                Which::Components => COMPONENTS,
            };
            Ok((
                Cow::Borrowed(declaration),
                CatalogTable {
                    base: sqlite3_vtab::default(),
                    which,
                    shared,
                },
            ))
        })
    }

    fn best_index(&self, info: &mut IndexInfo) -> rusqlite::Result<bool> {
        info.set_estimated_cost(100.0);
        Ok(true)
    }

    fn open(&'vtab mut self) -> rusqlite::Result<CatalogCursor<'vtab>> {
        Ok(CatalogCursor {
            base: sqlite3_vtab_cursor::default(),
            which: self.which,
            shared: self.shared.clone(),
            rows: Vec::new(),
            row: 0,
            _table: PhantomData,
        })
    }
}

/// `create` is `connect` (the default), which checks where the table is
/// made.
impl<'vtab> CreateVTab<'vtab> for CatalogTable {
    /// Not eponymous: a table exists only where the host creates one.
    const KIND: VTabKind = VTabKind::Default;
}

#[repr(C)]
pub(crate) struct CatalogCursor<'vtab> {
    base: sqlite3_vtab_cursor,
    which: Which,
    shared: Shared,
    rows: Vec<Vec<SqlValue>>,
    row: usize,
    _table: PhantomData<&'vtab CatalogTable>,
}

// SAFETY: `repr(C)` with `sqlite3_vtab_cursor` first, as the trait requires.
unsafe impl VTabCursor for CatalogCursor<'_> {
    fn filter(&mut self, _: c_int, _: Option<&str>, _: &Filters<'_>) -> rusqlite::Result<()> {
        guarded(|| {
            self.rows = snapshot(self.which, &self.shared);
            self.row = 0;
            Ok(())
        })
    }

    fn next(&mut self) -> rusqlite::Result<()> {
        self.row += 1;
        Ok(())
    }

    fn eof(&self) -> bool {
        self.row >= self.rows.len()
    }

    fn column(&self, ctx: &mut Context, i: c_int) -> rusqlite::Result<()> {
        let value = usize::try_from(i)
            .ok()
            .and_then(|i| self.rows.get(self.row)?.get(i));
        ctx.set_result(value.unwrap_or(&SqlValue::Null))
    }

    fn rowid(&self) -> rusqlite::Result<i64> {
        Ok(i64::try_from(self.row).unwrap_or(i64::MAX) + 1)
    }
}
