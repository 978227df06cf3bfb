//! `Statement` and its row iterator.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;
use napi::bindgen_prelude::{PromiseRaw, Unknown};
use napi::{Env, JsValue, sys};
use napi_derive::napi;
use wasmudf::rusqlite::{self, types::Value};

use crate::convert::{self, Params, Rows, Shape};
use crate::database::{
    DbInner, Holding, Needs, OpGuard, Turn, poll_now, refuse_left_open, roll_back_left_open, start,
};
use crate::errors::Failure;
use crate::ops::{self, OpOptions, op_options};
use crate::raw::{self, Raw, RawValue};

/// A statement's SQL, run on whichever connection is free each time it is
/// used (prepared there once and then cached). Every method returns a
/// Promise.
///
/// ```js
/// const stmt = db.prepare('SELECT name FROM users WHERE id = :id');
/// const row = await stmt.get({ id: 1 });          // named
/// const rows = await db.prepare('SELECT ?, ?').all([1, 'a']); // positional
/// for await (const row of stmt.iterate({ id: 1 })) console.log(row);
/// ```
#[napi]
#[derive(Debug)]
pub struct Statement {
    db: Arc<DbInner>,
    sql: Arc<str>,
    safe_integers: AtomicBool,
}

/// What one run of a statement returns to `run()`.
#[derive(Debug, Clone, Copy)]
struct RunResult {
    changes: i64,
    last_insert_rowid: i64,
}

/// The columns of a statement's result, as `columns()` lists them.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct ColumnInfo {
    /// The column's name (its alias, when it has one).
    pub name: String,
    /// The declared type of the table column it comes from, if any.
    #[napi(js_name = "type")]
    pub decl_type: Option<String>,
}

impl Statement {
    pub(crate) fn new(db: Arc<DbInner>, sql: String) -> Statement {
        let safe_integers = db.safe_integers;
        Statement {
            db,
            sql: sql.into(),
            safe_integers: AtomicBool::new(safe_integers),
        }
    }

    /// Runs `work` on a connection with the statement prepared (from the
    /// connection's cache) and its parameters bound, as one operation.
    fn run_on<'env, T: Send + 'static>(
        &self,
        env: &'env Env,
        params: Option<Unknown<'env>>,
        options: Option<Unknown<'env>>,
        work: fn(&mut rusqlite::Statement<'_>, &rusqlite::Connection) -> rusqlite::Result<T>,
        to_js: impl FnOnce(sys::napi_env, T, bool) -> napi::Result<Raw> + 'static,
    ) -> napi::Result<PromiseRaw<'env, RawValue>> {
        let params = match convert::params(env.raw(), params.map(|p| p.raw())) {
            Ok(params) => params,
            Err(failure) => return ops::rejected(env, &failure, None),
        };
        let (db, sql) = (self.db.clone(), self.sql.clone());
        let safe = self.safe_integers.load(Ordering::Relaxed);
        let run = move |guard: OpGuard| async move {
            let _guard = guard;
            let opened = db.ready().await?;
            let (out, left_open) = opened
                .db
                .interact(move |conn| {
                    let out = {
                        let mut stmt = conn.prepare_cached(&sql)?;
                        bind(&mut stmt, &params)?;
                        work(&mut stmt, conn)?
                    };
                    Ok((out, roll_back_left_open(conn)?))
                })
                .await?;
            refuse_left_open(left_open)?;
            Ok(out)
        };
        start(
            env,
            &self.db,
            Needs::Connection,
            options,
            run,
            move |env, out| to_js(env, out, safe),
        )
    }
}

/// Binds `params` to `stmt`. Named parameters match with or without their
/// prefix (`{ id: 1 }` binds `:id`, `@id` or `$id`).
fn bind(stmt: &mut rusqlite::Statement<'_>, params: &Params) -> wasmudf::Result<()> {
    match params {
        Params::None => Ok(()),
        Params::Positional(values) => {
            let expected = stmt.parameter_count();
            if values.len() > expected {
                return Err(rusqlite::Error::InvalidParameterCount(values.len(), expected).into());
            }
            for (i, value) in values.iter().enumerate() {
                stmt.raw_bind_parameter(i + 1, value)?;
            }
            Ok(())
        }
        Params::Named(values) => {
            for (name, value) in values {
                let index = parameter_index(stmt, name)?
                    .ok_or_else(|| rusqlite::Error::InvalidParameterName(name.clone()))?;
                stmt.raw_bind_parameter(index, value)?;
            }
            Ok(())
        }
    }
}

fn parameter_index(stmt: &rusqlite::Statement<'_>, name: &str) -> rusqlite::Result<Option<usize>> {
    if name.starts_with([':', '@', '$']) {
        return stmt.parameter_index(name);
    }
    for prefix in [':', '@', '$'] {
        if let Some(i) = stmt.parameter_index(&format!("{prefix}{name}"))? {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

/// Reads up to `max` rows of a bound statement.
fn read_rows(stmt: &mut rusqlite::Statement<'_>, max: usize) -> rusqlite::Result<Rows> {
    let columns: Vec<String> = stmt.column_names().map(String::from).collect();
    let width = columns.len();
    let mut rows = Vec::new();
    let mut query = stmt.raw_query();
    while rows.len() < max {
        let Some(row) = query.next()? else { break };
        let values = (0..width)
            .map(|i| row.get_ref(i).map(owned))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.push(values);
    }
    Ok(Rows { columns, rows })
}

/// A value copied out of SQLite; TEXT that is not UTF-8 has its invalid
/// bytes replaced (SQLite does not check encodings).
fn owned(value: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

fn get_work(
    stmt: &mut rusqlite::Statement<'_>,
    _: &rusqlite::Connection,
) -> rusqlite::Result<Rows> {
    read_rows(stmt, 1)
}

fn all_work(
    stmt: &mut rusqlite::Statement<'_>,
    _: &rusqlite::Connection,
) -> rusqlite::Result<Rows> {
    read_rows(stmt, usize::MAX)
}

fn run_work(
    stmt: &mut rusqlite::Statement<'_>,
    conn: &rusqlite::Connection,
) -> rusqlite::Result<RunResult> {
    // Both counters are the connection's, and a pool has several: so that
    // they describe this statement whichever connection ran it, the rowid
    // starts at 0 (it stays 0 unless the statement inserts), and `changes`
    // counts only when the statement changed something (SQLite's count is
    // the last INSERT, UPDATE or DELETE's, so DDL would report an earlier
    // statement's).
    let before = conn.total_changes();
    // SAFETY: `conn.handle()` is the live connection this thread holds.
    unsafe { wasmudf::rusqlite::ffi::sqlite3_set_last_insert_rowid(conn.handle(), 0) };
    let mut rows = stmt.raw_query();
    while rows.next()?.is_some() {}
    drop(rows);
    let changed = conn.total_changes() != before;
    Ok(RunResult {
        changes: if changed { conn.changes() as i64 } else { 0 },
        last_insert_rowid: conn.last_insert_rowid(),
    })
}

fn columns_work(
    stmt: &mut rusqlite::Statement<'_>,
    conn: &rusqlite::Connection,
) -> rusqlite::Result<Vec<ColumnInfo>> {
    let names: Vec<String> = stmt.column_names().map(String::from).collect();
    let mut types = decl_types(conn, stmt.expanded_sql().as_deref());
    types.resize(names.len(), None);
    Ok(names
        .into_iter()
        .zip(types)
        .map(|(name, decl_type)| ColumnInfo { name, decl_type })
        .collect())
}

/// The declared types of a statement's result columns (rusqlite reads them
/// only with a feature the workspace does not build), from a second
/// preparation of the same SQL on the same connection.
fn decl_types(conn: &rusqlite::Connection, sql: Option<&str>) -> Vec<Option<String>> {
    use std::ffi::{CStr, CString};
    use wasmudf::rusqlite::ffi;
    let Some(sql) = sql.and_then(|s| CString::new(s).ok()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    // SAFETY: `conn.handle()` is the live connection this thread holds (the
    // caller's lease); the statement is prepared and finalized here, and
    // each declared type is copied before the next call.
    unsafe {
        let mut stmt = std::ptr::null_mut();
        let rc = ffi::sqlite3_prepare_v2(
            conn.handle(),
            sql.as_ptr(),
            -1,
            &mut stmt,
            std::ptr::null_mut(),
        );
        if rc != ffi::SQLITE_OK || stmt.is_null() {
            return out;
        }
        for i in 0..ffi::sqlite3_column_count(stmt) {
            let decl = ffi::sqlite3_column_decltype(stmt, i);
            out.push(
                (!decl.is_null()).then(|| CStr::from_ptr(decl).to_string_lossy().into_owned()),
            );
        }
        ffi::sqlite3_finalize(stmt);
    }
    out
}

#[napi]
impl Statement {
    /// The SQL text.
    #[napi(getter, js_name = "sourceSQL")]
    pub fn source_sql(&self) -> String {
        self.sql.to_string()
    }

    /// Reads INTEGERs of this statement as `BigInt`s (or not, with
    /// `false`); the default is the database's `safeIntegers` option.
    /// Returns the statement.
    #[napi(ts_return_type = "this")]
    pub fn safe_integers<'this>(
        &self,
        this: napi::bindgen_prelude::This<'this>,
        enabled: Option<bool>,
    ) -> napi::bindgen_prelude::This<'this> {
        self.safe_integers
            .store(enabled.unwrap_or(true), Ordering::Relaxed);
        this
    }

    /// The first row as an object (`{ column: value }`), or `undefined`
    /// when there is none.
    #[napi(
        ts_args_type = "params?: BindParameters, options?: OperationOptions",
        ts_return_type = "Promise<Row | undefined>"
    )]
    pub fn get<'env>(
        &self,
        env: &'env Env,
        params: Option<Unknown<'env>>,
        options: Option<Unknown<'env>>,
    ) -> napi::Result<PromiseRaw<'env, RawValue>> {
        self.run_on(env, params, options, get_work, |env, rows, safe| {
            rows.first_to_js(env, Shape::Object, safe)
        })
    }

    /// Every row, as objects.
    #[napi(
        ts_args_type = "params?: BindParameters, options?: OperationOptions",
        ts_return_type = "Promise<Row[]>"
    )]
    pub fn all<'env>(
        &self,
        env: &'env Env,
        params: Option<Unknown<'env>>,
        options: Option<Unknown<'env>>,
    ) -> napi::Result<PromiseRaw<'env, RawValue>> {
        self.run_on(env, params, options, all_work, |env, rows, safe| {
            rows.to_js(env, Shape::Object, safe)
        })
    }

    /// Every row, as arrays of values in column order.
    #[napi(
        ts_args_type = "params?: BindParameters, options?: OperationOptions",
        ts_return_type = "Promise<SqlValue[][]>"
    )]
    pub fn values<'env>(
        &self,
        env: &'env Env,
        params: Option<Unknown<'env>>,
        options: Option<Unknown<'env>>,
    ) -> napi::Result<PromiseRaw<'env, RawValue>> {
        self.run_on(env, params, options, all_work, |env, rows, safe| {
            rows.to_js(env, Shape::Array, safe)
        })
    }

    /// Runs the statement to its end (discarding rows) and resolves with
    /// `{ changes, lastInsertRowid }`.
    #[napi(
        ts_args_type = "params?: BindParameters, options?: OperationOptions",
        ts_return_type = "Promise<RunResult>"
    )]
    pub fn run<'env>(
        &self,
        env: &'env Env,
        params: Option<Unknown<'env>>,
        options: Option<Unknown<'env>>,
    ) -> napi::Result<PromiseRaw<'env, RawValue>> {
        self.run_on(env, params, options, run_work, |env, out, safe| {
            let object = raw::object(env)?;
            let changes = convert::to_js(env, &Value::Integer(out.changes), safe)?;
            raw::set_named(env, object, "changes", changes)?;
            let rowid = convert::to_js(env, &Value::Integer(out.last_insert_rowid), safe)?;
            raw::set_named(env, object, "lastInsertRowid", rowid)?;
            Ok(object)
        })
    }

    /// The result's columns: `{ name, type }` (the declared type, or
    /// null).
    #[napi(
        ts_args_type = "options?: OperationOptions",
        ts_return_type = "Promise<ColumnInfo[]>"
    )]
    pub fn columns<'env>(
        &self,
        env: &'env Env,
        options: Option<Unknown<'env>>,
    ) -> napi::Result<PromiseRaw<'env, RawValue>> {
        self.run_on(env, None, options, columns_work, |env, columns, _| {
            // SAFETY: on the env's thread.
            unsafe { napi::bindgen_prelude::ToNapiValue::to_napi_value(env, columns) }
        })
    }

    /// The rows one at a time, for `for await (const row of stmt.iterate())`.
    /// Rows are read in batches as they are asked for (one, then doubling
    /// to 256), each batch on whichever pool thread is free; the statement
    /// keeps its connection from the first `next()` until the iterator
    /// ends, is returned from (`break`), is garbage-collected, or the
    /// database closes. While open iterators hold every connection, other
    /// statements reject with `ERR_WASMUDF_POOL_HELD` rather than wait. The
    /// signal in `options` covers the whole iteration.
    #[napi(ts_args_type = "params?: BindParameters, options?: OperationOptions")]
    pub fn iterate(
        &self,
        env: Env,
        params: Option<Unknown<'_>>,
        options: Option<Unknown<'_>>,
    ) -> napi::Result<RowIterator> {
        let env_raw = env.raw();
        let mut signal = None;
        let state = match (
            convert::params(env_raw, params.map(|p| p.raw())),
            op_options(env_raw, options.map(|o| o.raw())),
        ) {
            (Ok(params), Ok(options)) => {
                signal = options
                    .signal
                    .map(|s| raw::Ref::new(env_raw, s))
                    .transpose()?;
                IterState::Pending {
                    sql: self.sql.clone(),
                    params,
                }
            }
            (Err(failure), _) | (_, Err(failure)) => IterState::Failed(failure),
        };
        let iteration = Arc::new(Iteration {
            state: Arc::new(tokio::sync::Mutex::new(state)),
        });
        self.db.track(&iteration);
        // The signal covers the whole iteration: between steps too, where
        // no step's own listener is there to see it.
        let ending = match &signal {
            Some(signal) => {
                let weak = Arc::downgrade(&iteration);
                Some(ops::AbortLink::on_abort(
                    env_raw,
                    signal.get(env_raw)?,
                    move || {
                        if let Some(iteration) = weak.upgrade() {
                            iteration.end_soon();
                        }
                    },
                )?)
            }
            None => None,
        };
        Ok(RowIterator {
            ending,
            db: self.db.clone(),
            iteration,
            started: AtomicBool::new(false),
            signal,
            env: env_raw,
            safe_integers: self.safe_integers.load(Ordering::Relaxed),
        })
    }
}

/// Where an iteration is.
pub(crate) enum IterState {
    /// Not started: the first `next()` starts it.
    Pending { sql: Arc<str>, params: Params },
    /// Reading rows, on the connection it claimed.
    Running(wasmudf::RowStream, Claimed),
    /// Its arguments were bad: the first `next()` rejects with this.
    Failed(Failure),
    /// Ended: exhausted, returned from, failed, aborted or closed.
    Done,
}

impl IterState {
    /// Ends the iteration, dropping its statement (which returns the
    /// connection to the pool).
    pub(crate) fn end(&mut self) {
        *self = IterState::Done;
    }
}

/// What an iteration holds while it runs: its count among the iterators
/// holding connections, and its turn's permit.
pub(crate) struct Claimed {
    _holding: Holding,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

/// The connection an iteration's first `next()` claims, on the JavaScript
/// thread: counted at once, and in line for a connection. It travels in
/// that step's future, so it is given up if the step is dropped (aborted)
/// before it starts.
struct Claim {
    holding: Holding,
    turn: Turn,
}

impl Claim {
    async fn wait(self) -> Result<Claimed, Failure> {
        Ok(Claimed {
            _permit: self.turn.wait().await?,
            _holding: self.holding,
        })
    }
}

type LockTurn =
    std::pin::Pin<Box<dyn Future<Output = tokio::sync::OwnedMutexGuard<IterState>> + Send>>;

/// One iteration: where it is.
pub(crate) struct Iteration {
    state: Arc<tokio::sync::Mutex<IterState>>,
}

impl Iteration {
    /// A step's place in line for the iteration, taken when `next()` is
    /// called: steps run in the order they were asked for, so the first one
    /// (which carries the claim) starts the iteration.
    fn lock_turn(&self) -> LockTurn {
        let mut lock: LockTurn = Box::pin(self.state.clone().lock_owned());
        if let std::task::Poll::Ready(guard) = poll_now(lock.as_mut()) {
            return Box::pin(std::future::ready(guard));
        }
        lock
    }

    /// Ends the iteration after the step it is taking, if any.
    pub(crate) async fn end(&self) {
        self.state.lock().await.end();
    }

    /// Ends the iteration at once when no step is in flight, so that an
    /// operation called right after finds its connection free; else after
    /// that step. The row stream drops, which gives the connection back.
    fn end_soon(self: Arc<Self>) {
        if let Ok(mut state) = self.state.try_lock() {
            state.end();
            return;
        }
        drop(napi::bindgen_prelude::spawn(async move {
            self.end().await;
        }));
    }
}

/// The async iterator `Statement.iterate` returns: `next()` and `return()`
/// as the async iterator protocol has them.
#[napi]
pub struct RowIterator {
    db: Arc<DbInner>,
    iteration: Arc<Iteration>,
    /// Whether `next()` has been called (and claimed a connection).
    started: AtomicBool,
    signal: Option<raw::Ref>,
    /// Ends the iteration when the signal fires.
    ending: Option<ops::AbortLink>,
    /// The environment the signal reference belongs to (the iterator's
    /// own: it is dropped in that environment's finalizer).
    env: sys::napi_env,
    safe_integers: bool,
}

impl std::fmt::Debug for RowIterator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowIterator").finish_non_exhaustive()
    }
}

/// One step of an iteration: a row, or the end.
type Step = Option<wasmudf::Row>;

/// `{ value, done }` for the async iterator protocol.
fn step_to_js(env: sys::napi_env, step: Step, safe_integers: bool) -> napi::Result<Raw> {
    let result = raw::object(env)?;
    match step {
        Some(row) => {
            let rows = Rows {
                columns: row.columns().to_vec(),
                rows: vec![row.into_values()],
            };
            raw::set_named(
                env,
                result,
                "value",
                rows.first_to_js(env, Shape::Object, safe_integers)?,
            )?;
            raw::set_named(env, result, "done", raw::boolean(env, false)?)?;
        }
        None => {
            raw::set_named(env, result, "value", raw::undefined(env)?)?;
            raw::set_named(env, result, "done", raw::boolean(env, true)?)?;
        }
    }
    Ok(result)
}

async fn advance(
    db: Arc<DbInner>,
    lock: LockTurn,
    claim: Option<Claim>,
    guard: OpGuard,
) -> Result<Step, Failure> {
    let _guard = guard;
    let mut state = lock.await;
    if let IterState::Pending { sql, params } = &*state {
        let (sql, params) = (sql.clone(), params.clone());
        // The first step brings the claim; a later one finds the iteration
        // pending only if that step was dropped before it started.
        let claim = match claim {
            Some(claim) => claim,
            None => {
                let (holding, turn) = db.hold()?;
                Claim { holding, turn }
            }
        };
        let holding = claim.wait().await?;
        let opened = match db.ready().await {
            Ok(opened) => opened,
            Err(failure) => {
                state.end();
                return Err(failure);
            }
        };
        let positional = match positional(&opened.db, &sql, params).await {
            Ok(values) => values,
            Err(failure) => {
                state.end();
                return Err(failure);
            }
        };
        *state = IterState::Running(opened.db.stream(&sql, positional), holding);
    }
    // The stream is taken out while a row is read: if this step is dropped
    // (its signal fired), the stream drops with it, which stops the
    // statement, and the iteration is over.
    match std::mem::replace(&mut *state, IterState::Done) {
        IterState::Running(mut stream, holding) => match stream.next().await {
            Some(Ok(row)) => {
                *state = IterState::Running(stream, holding);
                Ok(Some(row))
            }
            Some(Err(err)) => Err(err.into()),
            None => Ok(None),
        },
        IterState::Failed(failure) => Err(failure),
        IterState::Done | IterState::Pending { .. } => Ok(None),
    }
}

/// The parameters by position: named ones are placed where the statement
/// has them (the row stream binds by position).
async fn positional(
    db: &wasmudf::Database,
    sql: &Arc<str>,
    params: Params,
) -> Result<Vec<Value>, Failure> {
    match params {
        Params::None => Ok(Vec::new()),
        Params::Positional(values) if values.is_empty() => Ok(values),
        // Checked here as `bind` checks it, so that too many parameters are
        // the same error from `iterate` as from `get`.
        Params::Positional(values) => {
            let sql = sql.clone();
            Ok(db
                .interact(move |conn| {
                    let expected = conn.prepare_cached(&sql)?.parameter_count();
                    if values.len() > expected {
                        return Err(
                            rusqlite::Error::InvalidParameterCount(values.len(), expected).into(),
                        );
                    }
                    Ok(values)
                })
                .await?)
        }
        Params::Named(named) => {
            let sql = sql.clone();
            Ok(db
                .interact(move |conn| {
                    let stmt = conn.prepare_cached(&sql)?;
                    let mut values = vec![Value::Null; stmt.parameter_count()];
                    for (name, value) in named {
                        let index = parameter_index(&stmt, &name)?
                            .ok_or(rusqlite::Error::InvalidParameterName(name))?;
                        values[index - 1] = value;
                    }
                    Ok(values)
                })
                .await?)
        }
    }
}

#[napi]
impl RowIterator {
    /// The next row: `{ value: row, done: false }`, or `{ value:
    /// undefined, done: true }` at the end.
    #[napi(ts_return_type = "Promise<IteratorResult<Row, undefined>>")]
    pub fn next<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, RawValue>> {
        let options = match &self.signal {
            Some(signal) => OpOptions {
                signal: Some(signal.get(env.raw())?),
            },
            None => OpOptions::default(),
        };
        if let Some(signal) = options.signal
            && let Some(reason) = ops::already_aborted(env.raw(), signal)?
        {
            // Ends the iteration, which gives its connection back.
            self.iteration.clone().end_soon();
            return ops::rejected(env, &Failure::Aborted, Some(reason));
        }
        let guard = match self.db.begin() {
            Ok(guard) => guard,
            Err(failure) => return ops::rejected(env, &failure, None),
        };
        // The first step claims a connection now, on the JavaScript thread,
        // so that every operation called after this one counts it, and
        // takes its turn for one behind every operation called before.
        let mut claim = None;
        if !self.started.load(Ordering::SeqCst) {
            match self.db.hold() {
                Ok((holding, turn)) => {
                    claim = Some(Claim { holding, turn });
                    self.started.store(true, Ordering::SeqCst);
                }
                Err(failure) => return ops::rejected(env, &failure, None),
            }
        }
        let lock = self.iteration.lock_turn();
        let safe = self.safe_integers;
        let work = advance(self.db.clone(), lock, claim, guard);
        ops::spawn(env, &options, work, move |env, step| {
            step_to_js(env, step, safe)
        })
    }

    /// Ends the iteration early (what `break` in `for await` calls):
    /// resolves with `{ value: undefined, done: true }`.
    #[napi(
        js_name = "return",
        ts_return_type = "Promise<IteratorResult<Row, undefined>>"
    )]
    pub fn finish<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, RawValue>> {
        // At once when no step is in flight, so that an operation called
        // right after (even without awaiting this) finds the connection free.
        let iteration = self.iteration.clone();
        iteration.clone().end_soon();
        ops::spawn(
            env,
            &OpOptions::default(),
            async move {
                iteration.end().await;
                Ok(None)
            },
            move |env, step| step_to_js(env, step, false),
        )
    }
}

impl Drop for RowIterator {
    fn drop(&mut self) {
        if let Some(ending) = self.ending.take() {
            ending.finish(self.env);
        }
        if let Some(signal) = self.signal.take() {
            signal.release(self.env);
        }
    }
}
