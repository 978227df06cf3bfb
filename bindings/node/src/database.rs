//! `Database`: an async SQLite database whose connections carry the
//! components, over [`wasmudf::Database`].

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use napi::bindgen_prelude::{PromiseRaw, Unknown};
use napi::{Env, JsValue, sys};
use napi_derive::napi;
use tokio::sync::{AcquireError, Notify, OwnedSemaphorePermit, Semaphore};
use wasmudf::{Component, Engine};

use crate::errors::Failure;
use crate::javascript::{self, NodeContext};
use crate::ops::{self, op_options};
use crate::options::{self, Settings};
use crate::raw::{self, Raw, RawValue};
use crate::statement::{Iteration, Statement};

/// What an open database has.
pub(crate) struct Opened {
    pub(crate) db: wasmudf::Database,
    engine: Engine,
    trusted: bool,
}

type Opening = Shared<BoxFuture<'static, Result<Arc<Opened>, Failure>>>;

/// The state behind a `Database` and its statements.
pub(crate) struct DbInner {
    /// Opening, then open; taken by `close`, so that the pool goes even
    /// while statements of this database are still referenced.
    opened: Mutex<Option<Opening>>,
    pub(crate) safe_integers: bool,
    node: NodeContext,
    closing: AtomicBool,
    in_flight: AtomicUsize,
    idle: Notify,
    iterators: Mutex<Vec<Weak<Iteration>>>,
    /// The pool's size: the most connections, and so the most iterators
    /// that can hold one at once.
    pool_size: usize,
    /// Iterators started and not yet ended: each holds a connection (or
    /// is about to) until it ends.
    holding: AtomicUsize,
    /// One permit per connection: an operation takes its turn here, in the
    /// order it was called (see [`Turn`]), before it asks the pool.
    turns: Arc<Semaphore>,
}

impl std::fmt::Debug for DbInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbInner")
            .field("closing", &self.closing.load(Ordering::Relaxed))
            .field("in_flight", &self.in_flight.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Counts an operation in flight; `close` waits for none to be left.
#[derive(Debug)]
pub(crate) struct OpGuard(Arc<DbInner>);

impl Drop for OpGuard {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// A started iteration's claim on one of the pool's connections, counted
/// from the first `next()` until the iteration ends (or its iterator is
/// collected, or that step is dropped).
#[derive(Debug)]
pub(crate) struct Holding(Arc<DbInner>);

impl Drop for Holding {
    fn drop(&mut self) {
        self.0.holding.fetch_sub(1, Ordering::SeqCst);
    }
}

type Acquire = Pin<Box<dyn Future<Output = Result<OwnedSemaphorePermit, AcquireError>> + Send>>;

/// An operation's place in line for a connection, taken on the JavaScript
/// thread when it is called. The pool hands connections to whichever task
/// asks first, and tasks start in no fixed order: a query called before an
/// iterator's first step could find the iterator holding the only
/// connection, and wait for it for ever, though every check said it would
/// not. With a turn taken at call time (tokio's semaphore is first come,
/// first served, and its waiter is queued by the first poll, made here)
/// connections go in the order the program asked for them.
pub(crate) enum Turn {
    /// A connection was free.
    Now(OwnedSemaphorePermit),
    /// Queued behind earlier operations.
    Queued(Acquire),
}

impl Turn {
    /// Waits for this turn; the permit is held while the connection is.
    pub(crate) async fn wait(self) -> Result<OwnedSemaphorePermit, Failure> {
        match self {
            Turn::Now(permit) => Ok(permit),
            Turn::Queued(acquire) => acquire.await.map_err(|_| Failure::closed()),
        }
    }
}

impl std::fmt::Debug for Turn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Turn::Now(_) => "Turn::Now",
            Turn::Queued(_) => "Turn::Queued",
        })
    }
}

/// Polls `future` once here and now (with a waker that does nothing: the
/// task that awaits it later polls it again with its own).
pub(crate) fn poll_now<F: Future + ?Sized>(future: Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(futures::task::noop_waker_ref()))
}

impl DbInner {
    /// Refuses an operation that needs a connection when every connection
    /// is held by an open iterator: it would wait until one of them ends,
    /// which in the commonest case (a query inside `for await` over another
    /// statement, with `threads: 1`) is never. Checked when the operation
    /// is called, so it depends only on what the program did before.
    pub(crate) fn connection_free(&self) -> Result<(), Failure> {
        let held = self.holding.load(Ordering::SeqCst);
        if held >= self.pool_size {
            return Err(Failure::coded(
                "ERR_WASMUDF_POOL_HELD",
                format!(
                    "every connection of this database ({} with threads: {}) is held by an \
                     open iterator, so this would wait until one ends: exhaust it, call its \
                     return() (break out of for await), or open the database with more threads",
                    held, self.pool_size
                ),
            ));
        }
        Ok(())
    }

    /// Claims a connection for an iteration that starts now; refused as
    /// [`connection_free`](Self::connection_free) refuses.
    pub(crate) fn hold(self: &Arc<Self>) -> Result<(Holding, Turn), Failure> {
        self.connection_free()?;
        self.holding.fetch_add(1, Ordering::SeqCst);
        Ok((Holding(self.clone()), self.turn()))
    }

    /// Takes this operation's place in line for a connection (on the
    /// JavaScript thread, when it is called).
    pub(crate) fn turn(&self) -> Turn {
        let mut acquire: Acquire = Box::pin(self.turns.clone().acquire_owned());
        match poll_now(acquire.as_mut()) {
            Poll::Ready(Ok(permit)) => Turn::Now(permit),
            _ => Turn::Queued(acquire),
        }
    }

    /// Starts an operation: refused once the database is closing.
    pub(crate) fn begin(self: &Arc<Self>) -> Result<OpGuard, Failure> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let guard = OpGuard(self.clone());
        if self.closing.load(Ordering::SeqCst) {
            return Err(Failure::closed());
        }
        Ok(guard)
    }

    /// The open database, once opening has finished.
    pub(crate) fn ready(
        &self,
    ) -> impl std::future::Future<Output = Result<Arc<Opened>, Failure>> + Send + 'static {
        let opening = self
            .opened
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        async move { opening.ok_or_else(Failure::closed)?.await }
    }

    /// Remembers an iterator, which `close` ends.
    pub(crate) fn track(&self, iteration: &Arc<Iteration>) {
        let mut iterators = self
            .iterators
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        iterators.retain(|w| w.strong_count() > 0);
        iterators.push(Arc::downgrade(iteration));
    }

    async fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        // Iterators end first (each after the step it is taking), all at
        // once: an operation still waiting may wait for a connection one of
        // them holds, and an iterator's step for one another holds.
        let iterators = std::mem::take(
            &mut *self
                .iterators
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        futures::future::join_all(
            iterators
                .iter()
                .filter_map(Weak::upgrade)
                .map(|iteration| async move { iteration.end().await }),
        )
        .await;
        loop {
            let idle = self.idle.notified();
            if self.in_flight.load(Ordering::SeqCst) == 0 {
                break;
            }
            idle.await;
        }
        let opening = self
            .opened
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        // Still opening: let it finish, then close what it opened.
        if let Some(Ok(opened)) = match opening {
            Some(opening) => Some(opening.await),
            None => None,
        } {
            opened.db.close();
        }
    }
}

/// Opens the database: builds the engine, loads the components (building
/// JavaScript modules first), opens the pool. Runs on the runtime; the
/// blocking parts on its blocking pool.
async fn open(
    path: Option<String>,
    settings: Settings,
    node: NodeContext,
) -> Result<Arc<Opened>, Failure> {
    let key = settings.engine.clone();
    let engine = blocking(move || options::engine(&key)).await?;
    let mut components = Vec::new();
    for udf in &settings.udf {
        components.push(load(&engine, &node, udf, settings.trusted).await?);
    }
    let mut builder = wasmudf::Database::builder()
        .components(components)
        .read_only(settings.read_only);
    if let Some(path) = path {
        builder = builder.path(path);
    }
    builder = builder.pool_size(settings.pool_size());
    if let Some(timeout) = settings.query_timeout {
        builder = builder.query_timeout(timeout);
    }
    if let Some(timeout) = settings.busy_timeout {
        builder = builder.busy_timeout(timeout);
    }
    let db = builder.open().await?;
    Ok(Arc::new(Opened {
        db,
        engine,
        trusted: settings.trusted,
    }))
}

/// Runs blocking work (compiling, building an engine) on the blocking pool.
pub(crate) async fn blocking<R: Send + 'static>(
    work: impl FnOnce() -> Result<R, Failure> + Send + 'static,
) -> Result<R, Failure> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Failure::coded("ERR_WASMUDF_PANIC", e.to_string()))?
}

/// A JavaScript module (`.js`, `.mjs`, `.cjs`) rather than a component.
fn is_javascript(path: &str) -> bool {
    matches!(
        Path::new(path).extension().and_then(|e| e.to_str()),
        Some("js" | "mjs" | "cjs")
    )
}

/// Compiles the component at `path`, or builds the JavaScript module there
/// (from the cache when it has not changed) and compiles that.
async fn load(
    engine: &Engine,
    node: &NodeContext,
    path: &str,
    trusted: bool,
) -> Result<Component, Failure> {
    let engine = engine.clone();
    let component = if is_javascript(path) {
        let built = javascript::build(node.clone(), PathBuf::from(path)).await?;
        let origin = path.to_string();
        blocking(move || {
            let bytes = engine.read_file(&built)?;
            Ok(engine.load(&origin, &bytes)?)
        })
        .await?
    } else {
        let path = PathBuf::from(path);
        blocking(move || Ok(engine.load_file(&path)?)).await?
    };
    Ok(component.trusted(trusted))
}

/// One function of a loaded component, as `db.functions()` lists it.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct FunctionInfo {
    /// Its SQL name.
    pub name: String,
    /// `scalar`, `aggregate`, `window` or `table`.
    pub kind: String,
    /// How many arguments it takes; -1 for any number.
    pub arity: i32,
    /// The component it comes from: the path it was loaded from.
    pub component: String,
    /// The component's source language when it says (`Rust`,
    /// `JavaScript`, `Python`), else null.
    pub language: Option<String>,
    /// Same arguments, same result.
    pub deterministic: bool,
    /// A table function's columns (empty for the other kinds).
    pub columns: Vec<String>,
}

/// A loaded component, as `db.loadComponent` returns it.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct ComponentInfo {
    /// Its name: the path it was loaded from, which `unloadComponent`
    /// takes.
    pub name: String,
    /// SHA-256 of its bytes, hex.
    pub sha256: String,
    /// Its source language when it says, else null.
    pub language: Option<String>,
    /// Its functions.
    pub functions: Vec<FunctionInfo>,
}

fn functions_of(component: &Component) -> Vec<FunctionInfo> {
    component
        .functions()
        .iter()
        .map(|f| FunctionInfo {
            name: f.name.clone(),
            kind: f.kind.to_string(),
            arity: f.arity.as_sqlite(),
            component: component.origin().to_string(),
            language: component.language().map(str::to_string),
            deterministic: f.flags.deterministic,
            columns: f.columns.clone(),
        })
        .collect()
}

fn info_of(component: &Component) -> ComponentInfo {
    ComponentInfo {
        name: component.origin().to_string(),
        sha256: component.sha256_hex(),
        language: component.language().map(str::to_string),
        functions: functions_of(component),
    }
}

/// Pool and instance counters, as `db.stats()` reports them.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct DatabaseStats {
    /// The most connections (the `threads` option).
    pub pool_size: u32,
    /// Connections opened so far.
    pub connections_opened: f64,
    /// Connections idle in the pool now.
    pub idle_connections: u32,
    /// Component instances alive now, on the database's engine (shared by
    /// databases opened with the same limits).
    pub live_instances: f64,
}

/// Converts a `#[napi(object)]` value to JavaScript.
fn to_js<T: napi::bindgen_prelude::ToNapiValue>(env: sys::napi_env, value: T) -> napi::Result<Raw> {
    // SAFETY: on the env's thread.
    unsafe { T::to_napi_value(env, value) }
}

/// A SQLite database whose SQL can call the functions of WebAssembly
/// components, with every operation asynchronous: statements run on a pool
/// of threads, so the event loop never waits for SQLite or for a UDF.
///
/// ```js
/// const db = new Database('app.db', { udf: ['./udf.js'], threads: 4 });
/// const row = await db.prepare('SELECT sleep(200) AS val').get(); // { val: 200 }
/// await db.close();
/// ```
#[napi]
#[derive(Debug)]
pub struct Database {
    inner: Arc<DbInner>,
}

#[napi]
impl Database {
    /// Opens `path` (created if missing; in memory when omitted, `null` or
    /// `':memory:'`). Opening continues in the background: the first
    /// operation waits for it, and `ready` resolves when it is done (or
    /// rejects with why it failed). Invalid options throw here.
    #[napi(
        constructor,
        ts_args_type = "path?: string | null, options?: DatabaseOptions"
    )]
    pub fn new(env: Env, path: Option<String>, options: Option<Unknown<'_>>) -> napi::Result<Self> {
        let settings = match Settings::from_js(env.raw(), options) {
            Ok(settings) => settings,
            Err(failure) => return Err(throwable(env.raw(), &failure)),
        };
        let node = NodeContext::of(&env)?;
        let path = path.filter(|p| p != ":memory:");
        let safe_integers = settings.safe_integers;
        let pool_size = settings.pool_size();
        let opening: Opening = open(path, settings, node.clone()).boxed().shared();
        // Opening starts now, whether or not anything awaits it yet.
        drop(napi::bindgen_prelude::spawn(opening.clone().map(drop)));
        Ok(Database {
            inner: Arc::new(DbInner {
                opened: Mutex::new(Some(opening)),
                safe_integers,
                node,
                closing: AtomicBool::new(false),
                in_flight: AtomicUsize::new(0),
                idle: Notify::new(),
                iterators: Mutex::new(Vec::new()),
                pool_size,
                holding: AtomicUsize::new(0),
                turns: Arc::new(Semaphore::new(pool_size)),
            }),
        })
    }

    /// Opens a database as the constructor does, and resolves once it is
    /// open (or rejects with why it could not be).
    #[napi(
        ts_args_type = "path?: string | null, options?: DatabaseOptions",
        ts_return_type = "Promise<Database>"
    )]
    pub fn open<'env>(
        env: &'env Env,
        path: Option<String>,
        options: Option<Unknown<'env>>,
    ) -> napi::Result<PromiseRaw<'env, Database>> {
        let db = Database::new(*env, path, options)?;
        let opening = db.inner.ready();
        env.spawn_future_with_callback(
            async move { Ok(opening.await.map(drop)) },
            move |env, opened| match opened {
                Ok(()) => Ok(db),
                Err(failure) => Err(rejection(env.raw(), &failure)),
            },
        )
    }

    /// Resolves once the database is open; rejects with why it could not
    /// be opened (a bad path, a component that does not load).
    #[napi(getter, ts_return_type = "Promise<void>")]
    pub fn ready<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, RawValue>> {
        let opening = self.inner.ready();
        ops::spawn(
            env,
            &Default::default(),
            async move { opening.await.map(drop) },
            |env, ()| raw::undefined(env),
        )
    }

    /// Whether `close` has been called.
    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.inner.closing.load(Ordering::SeqCst)
    }

    /// Whether every INTEGER is read as a `BigInt` (the `safeIntegers`
    /// option).
    #[napi(getter)]
    pub fn safe_integers(&self) -> bool {
        self.inner.safe_integers
    }

    /// A prepared statement. Preparation is lazy: the SQL is compiled (on
    /// each connection, then cached there) when the statement first runs,
    /// so a syntax error rejects the first `get`/`all`/`run`/`columns`.
    #[napi]
    pub fn prepare(&self, sql: String) -> Statement {
        Statement::new(self.inner.clone(), sql)
    }

    /// Runs one or more `;`-separated statements without parameters.
    #[napi(
        ts_args_type = "sql: string, options?: OperationOptions",
        ts_return_type = "Promise<void>"
    )]
    pub fn exec<'env>(
        &self,
        env: &'env Env,
        sql: String,
        options: Option<Unknown<'env>>,
    ) -> napi::Result<PromiseRaw<'env, RawValue>> {
        let inner = self.inner.clone();
        let run = move |guard: OpGuard| async move {
            let _guard = guard;
            let opened = inner.ready().await?;
            let left_open = opened
                .db
                .interact(move |conn| {
                    conn.execute_batch(&sql)?;
                    roll_back_left_open(conn)
                })
                .await?;
            refuse_left_open(left_open)
        };
        start(
            env,
            &self.inner,
            Needs::Connection,
            options,
            run,
            |env, ()| raw::undefined(env),
        )
    }

    /// Loads a component file (or a JavaScript module, as `loadJavaScript`
    /// does) onto every connection, while queries run: statements prepared
    /// after this resolves can call its functions.
    #[napi(
        ts_args_type = "path: string, options?: OperationOptions",
        ts_return_type = "Promise<ComponentInfo>"
    )]
    pub fn load_component<'env>(
        &self,
        env: &'env Env,
        path: String,
        options: Option<Unknown<'env>>,
    ) -> napi::Result<PromiseRaw<'env, RawValue>> {
        let inner = self.inner.clone();
        let run = move |guard: OpGuard| async move {
            let _guard = guard;
            let opened = inner.ready().await?;
            let component = load(&opened.engine, &inner.node, &path, opened.trusted).await?;
            opened.db.add_components([component.clone()]).await?;
            Ok(info_of(&component))
        };
        start(env, &self.inner, Needs::Connection, options, run, to_js)
    }

    /// Builds the JavaScript UDF module at `path` into a component with the
    /// JavaScript guest SDK (`guests/js`, its pinned componentize-js), in a
    /// child process, and loads it. The component is cached by the content
    /// of the module and everything it imports: a second start loads it
    /// from the cache. The first build of a module takes tens of seconds.
    #[napi(
        ts_args_type = "path: string, options?: OperationOptions",
        ts_return_type = "Promise<ComponentInfo>"
    )]
    pub fn load_java_script<'env>(
        &self,
        env: &'env Env,
        path: String,
        options: Option<Unknown<'env>>,
    ) -> napi::Result<PromiseRaw<'env, RawValue>> {
        if !is_javascript(&path) {
            let failure = Failure::type_error(
                "ERR_INVALID_ARG_VALUE",
                format!("{path:?} is not a JavaScript module (.js, .mjs or .cjs)"),
            );
            return ops::rejected(env, &failure, None);
        }
        self.load_component(env, path, options)
    }

    /// Takes a component away from every connection: running statements
    /// finish with it, later ones no longer see its functions. `name` is
    /// the path it was loaded from (`ComponentInfo.name`).
    #[napi(
        ts_args_type = "name: string, options?: OperationOptions",
        ts_return_type = "Promise<void>"
    )]
    pub fn unload_component<'env>(
        &self,
        env: &'env Env,
        name: String,
        options: Option<Unknown<'env>>,
    ) -> napi::Result<PromiseRaw<'env, RawValue>> {
        let inner = self.inner.clone();
        let run = move |guard: OpGuard| async move {
            let _guard = guard;
            let opened = inner.ready().await?;
            let found = opened
                .db
                .components()
                .into_iter()
                .find(|c| c.origin() == name)
                .ok_or_else(|| {
                    Failure::coded(
                        "ERR_WASMUDF_NOT_LOADED",
                        format!(
                            "{}: not a component of this database",
                            wasmudf::escape_controls(&name)
                        ),
                    )
                })?;
            opened
                .db
                .remove_component(&found)
                .await
                .map_err(Failure::from)
        };
        start(
            env,
            &self.inner,
            Needs::Connection,
            options,
            run,
            |env, ()| raw::undefined(env),
        )
    }

    /// The functions of every loaded component.
    #[napi(ts_return_type = "Promise<FunctionInfo[]>")]
    pub fn functions<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, RawValue>> {
        let inner = self.inner.clone();
        let run = move |guard: OpGuard| async move {
            let _guard = guard;
            let opened = inner.ready().await?;
            Ok(opened
                .db
                .components()
                .iter()
                .flat_map(functions_of)
                .collect::<Vec<_>>())
        };
        start(env, &self.inner, Needs::Nothing, None, run, to_js)
    }

    /// Pool and instance counters.
    #[napi(ts_return_type = "Promise<DatabaseStats>")]
    pub fn stats<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, RawValue>> {
        let inner = self.inner.clone();
        let run = move |guard: OpGuard| async move {
            let _guard = guard;
            let stats = inner.ready().await?.db.stats();
            Ok(DatabaseStats {
                pool_size: u32::try_from(stats.size).unwrap_or(u32::MAX),
                connections_opened: stats.opened as f64,
                idle_connections: u32::try_from(stats.idle).unwrap_or(u32::MAX),
                live_instances: stats.instances.live as f64,
            })
        };
        start(env, &self.inner, Needs::Nothing, None, run, to_js)
    }

    /// Closes the database: later operations reject with
    /// `ERR_WASMUDF_CLOSED`; operations already running finish first; open
    /// iterators end; then every connection is closed. Resolves when that
    /// is done. Also `await using db = ...` (`Symbol.asyncDispose`).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, RawValue>> {
        // At once: operations called after this returns are refused.
        self.inner.closing.store(true, Ordering::SeqCst);
        let inner = self.inner.clone();
        ops::spawn(
            env,
            &Default::default(),
            async move {
                inner.close().await;
                Ok(())
            },
            |env, ()| raw::undefined(env),
        )
    }
}

/// Rolls back a transaction an operation left open on `conn`, and says
/// whether there was one. Each operation runs on whichever connection of
/// the pool is free, and a connection back in the pool is rolled back, so
/// a transaction left open would be lost silently and the statements
/// meant to run inside it would each commit on their own.
pub(crate) fn roll_back_left_open(conn: &wasmudf::rusqlite::Connection) -> wasmudf::Result<bool> {
    if conn.is_autocommit() {
        return Ok(false);
    }
    conn.execute_batch("ROLLBACK")?;
    Ok(true)
}

/// The error for an operation that left a transaction open.
pub(crate) fn refuse_left_open(left_open: bool) -> Result<(), Failure> {
    if left_open {
        return Err(Failure::coded(
            "ERR_WASMUDF_TRANSACTION_OPEN",
            "the statement left a transaction open, and it was rolled back: each operation \
             runs on whichever connection of the pool is free, so a transaction must begin \
             and end within one exec() (BEGIN; ...; COMMIT)"
                .to_string(),
        ));
    }
    Ok(())
}

/// What an operation needs besides the open database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Needs {
    /// One of the pool's connections (a statement, loading a component).
    Connection,
    /// Nothing more (listing functions, counters).
    Nothing,
}

/// Starts an operation on `inner` (refused once it is closing, before any
/// work starts), reads `options`, then runs `run(guard)`'s future (see
/// [`ops::spawn`]), which keeps the guard until it ends; a bad `options`
/// rejects, and so does one that `needs` a connection when open iterators
/// hold them all.
pub(crate) fn start<'env, T, F, W, J>(
    env: &'env Env,
    inner: &Arc<DbInner>,
    needs: Needs,
    options: Option<Unknown<'env>>,
    run: F,
    to_js: J,
) -> napi::Result<PromiseRaw<'env, RawValue>>
where
    T: Send + 'static,
    F: FnOnce(OpGuard) -> W,
    W: std::future::Future<Output = Result<T, Failure>> + Send + 'static,
    J: FnOnce(sys::napi_env, T) -> napi::Result<Raw> + 'static,
{
    let options = match op_options(env.raw(), options.map(|o| o.raw())) {
        Ok(options) => options,
        Err(failure) => return ops::rejected(env, &failure, None),
    };
    let turn = match needs {
        Needs::Connection => match inner.connection_free() {
            Ok(()) => Some(inner.turn()),
            Err(failure) => return ops::rejected(env, &failure, None),
        },
        Needs::Nothing => None,
    };
    match inner.begin() {
        Ok(guard) => {
            let work = run(guard);
            let work = async move {
                let _permit = match turn {
                    Some(turn) => Some(turn.wait().await?),
                    None => None,
                };
                work.await
            };
            ops::spawn(env, &options, work, to_js)
        }
        Err(failure) => ops::rejected(env, &failure, None),
    }
}

/// A `napi::Error` that throws (or rejects with) exactly the `Error` object
/// for `failure`.
pub(crate) fn rejection(env: sys::napi_env, failure: &Failure) -> napi::Error {
    match failure.to_js(env, None) {
        // SAFETY: on the env's thread, with a value of this scope.
        Ok(error) => napi::Error::from(unsafe { Unknown::from_raw_unchecked(env, error) }),
        Err(err) => err,
    }
}

/// The same, for a synchronous throw.
fn throwable(env: sys::napi_env, failure: &Failure) -> napi::Error {
    rejection(env, failure)
}
