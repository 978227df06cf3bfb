//! The async facade: a pool of connections stepped on tokio's blocking
//! pool, with no thread affinity anywhere.
//!
//! Every call takes a connection from the pool and runs its blocking work
//! in `spawn_blocking`; a row stream runs each batch of steps as a separate
//! blocking task, so one statement's steps (and the UDF calls inside them)
//! land on whichever blocking thread is free. Dropping a future or stream
//! stops SQLite (`sqlite3_interrupt`) and the guest (an `Interrupt`); the
//! connection goes back to the pool once the blocking work has returned,
//! with any open transaction rolled back.

mod cursor;
mod pool;
mod row;
mod sql_load;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use rusqlite::OpenFlags;
use rusqlite::types::Value;

use crate::component::Component;
use crate::engine::Engine;
use crate::error::{Error, Result};

use cursor::Cursor;
pub use pool::PoolStats;
use pool::{CancelOnDrop, Lease, Pool, Target, Ticket, blocking};
pub use row::{Row, ToParams};

/// Configures and opens a [`Database`].
///
/// # Examples
///
/// ```no_run
/// # async fn f(components: Vec<wasmudf::Component>) -> wasmudf::Result<()> {
/// let db = wasmudf::Database::builder()
///     .path("app.db")
///     .components(components)
///     .pool_size(4)
///     .query_timeout(std::time::Duration::from_secs(10))
///     .open()
///     .await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct DatabaseBuilder {
    path: Option<PathBuf>,
    components: Vec<Component>,
    pool_size: Option<usize>,
    query_timeout: Option<Duration>,
    busy_timeout: Option<Duration>,
    sql_load: Option<(Engine, PathBuf)>,
    read_only: bool,
}

impl DatabaseBuilder {
    /// Lets SQL on this database load components: `SELECT
    /// wasmudf_load('name.wasm')` compiles `name.wasm` from `dir` (and only
    /// from there: the name is opened inside it through cap-std) on
    /// `engine` and registers it on every connection, as
    /// [`Database::add_components`] does. Only for setups that trust the
    /// SQL they run: anyone who can run SQL can then load any component in
    /// `dir`. Off by default. The function cannot be called from a view or
    /// trigger (`SQLITE_DIRECTONLY`), returns the number of functions the
    /// component registered, and records the name in the table
    /// `wasmudf_loaded` of the database, created at open, so that the next
    /// [`open`](DatabaseBuilder::open) with SQL loading allowed loads the
    /// same names again.
    ///
    /// A load is atomic with its record. It is checked, under the pool's
    /// lock, against every component of the database and every load
    /// pending on another connection (by content hash and by function
    /// name), registered on the calling connection and then recorded, in
    /// the caller's statement and transaction. When the statement ends it
    /// is settled: if its row committed, every connection has the
    /// component from its next statement on; if the row is gone (the write
    /// failed, the statement failed, the transaction rolled back, or it
    /// rolled back to a savepoint taken before the load), nothing is
    /// loaded. Inside a transaction the functions are usable at once on
    /// that transaction's connection and nowhere else until it commits;
    /// after `ROLLBACK TO` they are gone from the end of that call on. A
    /// load on a connection whose components are behind the database's
    /// (another connection changed them since its transaction began) is
    /// refused, with [`Error::SqlLoad`] in the SQL error.
    ///
    /// At open the names are read only from a real table of that name
    /// (never a view or virtual table, which a database file could use to
    /// run any query or choose the files), under the query timeout (10
    /// seconds without one).
    ///
    /// ```no_run
    /// # async fn f(engine: wasmudf::Engine) -> wasmudf::Result<()> {
    /// let db = wasmudf::Database::builder()
    ///     .path("app.db")
    ///     .allow_sql_load(&engine, "udfs/")
    ///     .open()
    ///     .await?;
    /// db.query_row("SELECT wasmudf_load('text.wasm')", ()).await?;
    /// let row = db.query_row("SELECT unicode_upper('ok')", ()).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn allow_sql_load(mut self, engine: &Engine, dir: impl AsRef<Path>) -> Self {
        self.sql_load = Some((engine.clone(), dir.as_ref().to_path_buf()));
        self
    }

    /// A database file (created if missing). Without one the database is
    /// in memory, shared by the pool's connections and gone when the
    /// `Database` is dropped.
    pub fn path(mut self, path: impl AsRef<Path>) -> Self {
        self.path = Some(path.as_ref().to_path_buf());
        self
    }

    /// Opens every connection read-only: statements that write fail with
    /// `SQLITE_READONLY`, and a file that does not exist is an error rather
    /// than created. Off by default.
    ///
    /// ```no_run
    /// # async fn f() -> wasmudf::Result<()> {
    /// let db = wasmudf::Database::builder().path("app.db").read_only(true).open().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// Components whose functions every connection has.
    pub fn components(mut self, components: impl IntoIterator<Item = Component>) -> Self {
        self.components.extend(components);
        self
    }

    /// The most connections, and so the most queries running at once.
    /// Defaults to the number of CPUs.
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = Some(size.max(1));
        self
    }

    /// A deadline for each query (for a row stream, for each batch of
    /// steps). A query past it is interrupted and fails with
    /// [`Error::Timeout`].
    pub fn query_timeout(mut self, timeout: Duration) -> Self {
        self.query_timeout = Some(timeout);
        self
    }

    /// How long a connection waits for a lock held by another (default 5 s).
    /// Clamped to `i32::MAX` milliseconds (about 24.8 days), the most SQLite
    /// takes.
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        const LONGEST: Duration = Duration::from_millis(i32::MAX as u64);
        self.busy_timeout = Some(timeout.min(LONGEST));
        self
    }

    /// Opens the first connection (which checks the path and registers every
    /// component) and returns the database.
    ///
    /// # Errors
    ///
    /// [`Error::Sqlite`] if the database cannot be opened, or any
    /// registration error such as [`Error::NameClash`]. With SQL loading
    /// allowed, [`Error::SqlLoad`] when the database's `wasmudf_loaded` is
    /// not a table, [`Error::Timeout`] when reading it takes too long, and
    /// the error of any recorded component that cannot be loaded.
    pub async fn open(self) -> Result<Database> {
        static MEMORY_DBS: AtomicU64 = AtomicU64::new(0);
        let access = if self.read_only {
            OpenFlags::SQLITE_OPEN_READ_ONLY
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
        };
        let flags = access | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let target = match &self.path {
            Some(path) => Target {
                uri: path.to_string_lossy().into_owned(),
                flags: flags & !OpenFlags::SQLITE_OPEN_URI,
                is_file: true,
            },
            // The `memdb` VFS with a name starting in `/` is one database
            // shared by every connection of this process that opens it,
            // with real locking, unlike `:memory:` (one database per
            // connection) or shared-cache mode (table-level lock errors).
            None => Target {
                uri: format!(
                    "file:/wasmudf-{}-{}?vfs=memdb",
                    std::process::id(),
                    MEMORY_DBS.fetch_add(1, Ordering::Relaxed)
                ),
                flags,
                is_file: false,
            },
        };
        let size = self.pool_size.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
        });
        let sql_load = match self.sql_load {
            Some((engine, dir)) => Some(Arc::new(sql_load::SqlLoad::new(engine, &dir)?)),
            None => None,
        };
        let pool = Arc::new(Pool::new(
            target,
            self.components,
            size,
            self.busy_timeout.unwrap_or(Duration::from_secs(5)),
            sql_load.clone(),
        ));
        // Open one connection now, so a bad path or a clashing component
        // fails here; it also keeps an in-memory database alive.
        let lease = pool.acquire().await?;
        if let Some(load) = sql_load {
            // The list comes from the database file: read under a deadline
            // (the query timeout, or `LOAD_LIST_TIMEOUT`), so that no file
            // can hold `open` up.
            let limit = self.query_timeout.unwrap_or(LOAD_LIST_TIMEOUT);
            let ticket = lease.ticket();
            let guard = CancelOnDrop(Some(ticket.clone()));
            let reader = load.clone();
            let read = blocking(move || {
                let names = reader.recorded_names(lease.conn());
                ticket.finish();
                Ok((lease, names))
            });
            // On timeout `guard` interrupts the read as it drops.
            let (lease, names) = tokio::time::timeout(limit, read)
                .await
                .map_err(|_| Error::Timeout(limit))??;
            guard.disarm();
            let names = names.map_err(interrupted)?;
            let pool = pool.clone();
            blocking(move || {
                let mut lease = lease;
                let loaded = names
                    .iter()
                    .map(|name| load.read(name))
                    .collect::<Result<Vec<_>>>()?;
                pool.add_components(&mut lease, loaded)
            })
            .await?;
        } else {
            drop(lease);
        }
        Ok(Database {
            shared: Arc::new(Shared {
                pool,
                query_timeout: self.query_timeout,
            }),
        })
    }
}

struct Shared {
    pool: Arc<Pool>,
    query_timeout: Option<Duration>,
}

/// An async SQLite database whose connections carry wasmudf components.
///
/// Cheap to clone; every method returns a `Send + 'static` future, and may
/// be called from any task. Statements run on tokio's blocking pool; any
/// step of any statement may run on any blocking thread.
///
/// # Examples
///
/// ```no_run
/// # async fn f() -> wasmudf::Result<()> {
/// let engine = wasmudf::Engine::new()?;
/// let sleep = engine.load_file("sleep.wasm")?;
/// let db = wasmudf::Database::builder().components([sleep]).open().await?;
/// let row = db.query_row("SELECT sleep(200)", ()).await?;
/// assert_eq!(row.get::<i64>(0)?, 200);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Database {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("pool", &self.shared.pool.stats())
            .finish_non_exhaustive()
    }
}

impl Database {
    /// Starts configuring a database.
    pub fn builder() -> DatabaseBuilder {
        DatabaseBuilder::default()
    }

    /// Opens a database file with the given components and default settings.
    ///
    /// # Errors
    ///
    /// As [`DatabaseBuilder::open`].
    pub async fn open(
        path: impl AsRef<Path>,
        components: impl IntoIterator<Item = Component>,
    ) -> Result<Database> {
        Database::builder()
            .path(path)
            .components(components)
            .open()
            .await
    }

    /// Runs one statement to completion and returns the number of rows it
    /// changed (0 for a statement that only reads). Rows it returns are
    /// discarded.
    ///
    /// # Errors
    ///
    /// [`Error::Call`] when a UDF failed (its own error, a trap, a limit),
    /// [`Error::Sqlite`] for other SQL errors, [`Error::Interrupted`],
    /// [`Error::Timeout`], [`Error::Closed`].
    pub fn execute(
        &self,
        sql: &str,
        params: impl ToParams,
    ) -> impl Future<Output = Result<usize>> + Send + 'static {
        self.run(execute_work(sql, params))
    }

    /// Runs several `;`-separated statements with no parameters.
    ///
    /// # Errors
    ///
    /// As [`Database::execute`].
    pub fn execute_batch(&self, sql: &str) -> impl Future<Output = Result<()>> + Send + 'static {
        let sql = sql.to_owned();
        self.run(move |conn| Ok(conn.execute_batch(&sql)?))
    }

    /// Runs a query and collects every row.
    ///
    /// # Errors
    ///
    /// As [`Database::execute`].
    pub fn query(
        &self,
        sql: &str,
        params: impl ToParams,
    ) -> impl Future<Output = Result<Vec<Row>>> + Send + 'static {
        self.run(query_work(sql, params))
    }

    /// Runs a query and returns its first row.
    ///
    /// # Errors
    ///
    /// `Error::Sqlite(rusqlite::Error::QueryReturnedNoRows)` when there is
    /// none; otherwise as [`Database::execute`].
    pub fn query_row(
        &self,
        sql: &str,
        params: impl ToParams,
    ) -> impl Future<Output = Result<Row>> + Send + 'static {
        self.run(query_row_work(sql, params))
    }

    /// Streams a query's rows as they are stepped.
    ///
    /// Rows are fetched in batches that start at one row and double up to
    /// 256, each batch a separate blocking task; the next batch is fetched
    /// only when the consumer asks for it (backpressure). Dropping the
    /// stream stops the statement and returns the connection.
    pub fn stream(&self, sql: &str, params: impl ToParams) -> RowStream {
        RowStream::new(self.shared.clone(), sql.to_owned(), params.to_params())
    }

    /// Begins a transaction on a connection of its own.
    ///
    /// # Errors
    ///
    /// As [`Database::execute`].
    pub async fn transaction(&self) -> Result<Transaction> {
        let lease = self.shared.pool.acquire().await?;
        let (lease, begun) = on_lease(&self.shared, Some(lease), |conn| {
            Ok(conn.execute_batch("BEGIN IMMEDIATE")?)
        })
        .await;
        begun?;
        Ok(Transaction {
            shared: self.shared.clone(),
            lease,
        })
    }

    /// Adds components to every connection of the pool. They are
    /// registered on one connection at once, so a name clash is reported
    /// here; the other connections get them before their next use.
    ///
    /// # Errors
    ///
    /// [`Error::NameClash`] and other registration errors.
    pub async fn add_components(
        &self,
        components: impl IntoIterator<Item = Component>,
    ) -> Result<()> {
        let added: Vec<Component> = components.into_iter().collect();
        let shared = self.shared.clone();
        let lease = shared.pool.acquire().await?;
        let pool = shared.pool.clone();
        blocking(move || {
            let mut lease = lease;
            pool.add_components(&mut lease, added)
        })
        .await
    }

    /// Replaces `old` with `new` on every connection, while they are in
    /// use. A statement running now finishes on `old`; every statement
    /// prepared after this returns runs on `new`: each connection switches
    /// when it is next handed out. No connection is closed, and no
    /// transaction or row is lost.
    ///
    /// `new` is registered on one connection first, so a name clash (with
    /// SQLite's functions, the application's or another component's; not
    /// with `old`'s, which it takes over) is reported here and changes
    /// nothing.
    ///
    /// ```no_run
    /// # async fn f(db: wasmudf::Database, engine: wasmudf::Engine) -> wasmudf::Result<()> {
    /// let v1 = engine.load_file("text-v1.wasm")?;
    /// db.add_components([v1.clone()]).await?;
    /// // ... later, with queries running:
    /// let v2 = engine.load_file("text-v2.wasm")?;
    /// db.replace_component(&v1, v2).await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::NotRegistered`] if `old` is not one of the database's
    /// components ([`Component::same_as`]); registration errors of `new`.
    pub async fn replace_component(&self, old: &Component, new: Component) -> Result<()> {
        self.change_component(old, Some(new)).await
    }

    /// Removes `component` from every connection, as
    /// [`replace_component`](Database::replace_component) replaces one:
    /// running statements finish with it, later ones no longer see its
    /// functions.
    ///
    /// # Errors
    ///
    /// [`Error::NotRegistered`] if it is not one of the database's
    /// components.
    pub async fn remove_component(&self, component: &Component) -> Result<()> {
        self.change_component(component, None).await
    }

    async fn change_component(&self, old: &Component, new: Option<Component>) -> Result<()> {
        let old = old.clone();
        let lease = self.shared.pool.acquire().await?;
        let pool = self.shared.pool.clone();
        blocking(move || {
            let mut lease = lease;
            pool.replace(&mut lease, &old, new)
        })
        .await
    }

    /// The database's components now, in the order they were added.
    pub fn components(&self) -> Vec<Component> {
        self.shared.pool.components()
    }

    /// Pool and instance counters.
    pub fn stats(&self) -> PoolStats {
        self.shared.pool.stats()
    }

    /// Stops handing out connections; idle ones are closed now, busy ones
    /// when their work ends. Later calls fail with [`Error::Closed`].
    pub fn close(&self) {
        self.shared.pool.close();
    }

    /// Runs `work` with a pooled connection on the blocking pool: the
    /// escape hatch for anything the other methods do not cover (batches of
    /// statements, `rusqlite` APIs). The same cancellation rules apply: if
    /// the future is dropped or times out, SQLite and the guest are
    /// interrupted and the connection returns once `work` returns.
    ///
    /// # Errors
    ///
    /// Whatever `work` returns, or [`Error::Timeout`] / [`Error::Closed`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f(db: wasmudf::Database) -> wasmudf::Result<()> {
    /// let n = db
    ///     .interact(|conn| Ok(conn.query_row("SELECT count(*) FROM pragma_function_list", [], |r| r.get::<_, i64>(0))?))
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn interact<R: Send + 'static>(
        &self,
        work: impl FnOnce(&rusqlite::Connection) -> Result<R> + Send + 'static,
    ) -> impl Future<Output = Result<R>> + Send + 'static {
        self.run(work)
    }

    /// Takes a connection and runs `work` on the blocking pool.
    fn run<R: Send + 'static>(
        &self,
        work: impl FnOnce(&rusqlite::Connection) -> Result<R> + Send + 'static,
    ) -> impl Future<Output = Result<R>> + Send + 'static {
        let shared = self.shared.clone();
        async move {
            let lease = shared.pool.acquire().await?;
            on_lease(&shared, Some(lease), work).await.1
        }
    }
}

fn bind(stmt: &mut rusqlite::Statement<'_>, params: &[Value]) -> rusqlite::Result<()> {
    for (i, value) in params.iter().enumerate() {
        stmt.raw_bind_parameter(i + 1, value)?;
    }
    Ok(())
}

/// The blocking work of `execute`, shared by [`Database`] and
/// [`Transaction`]. Parameters are converted now, so the work owns them.
fn execute_work(
    sql: &str,
    params: impl ToParams,
) -> impl FnOnce(&rusqlite::Connection) -> Result<usize> + Send + 'static {
    let (sql, params) = (sql.to_owned(), params.to_params());
    move |conn| execute(conn, &sql, &params?)
}

/// The blocking work of `query`; see [`execute_work`].
fn query_work(
    sql: &str,
    params: impl ToParams,
) -> impl FnOnce(&rusqlite::Connection) -> Result<Vec<Row>> + Send + 'static {
    let (sql, params) = (sql.to_owned(), params.to_params());
    move |conn| collect(conn, &sql, &params?, usize::MAX)
}

/// The blocking work of `query_row`: steps only to the first row.
fn query_row_work(
    sql: &str,
    params: impl ToParams,
) -> impl FnOnce(&rusqlite::Connection) -> Result<Row> + Send + 'static {
    let (sql, params) = (sql.to_owned(), params.to_params());
    move |conn| {
        collect(conn, &sql, &params?, 1)?
            .pop()
            .ok_or(Error::Sqlite(rusqlite::Error::QueryReturnedNoRows))
    }
}

/// Runs a statement to completion, discarding any rows (so that
/// `SELECT sleep(200)` or `INSERT ... RETURNING` work here too), and
/// returns the rows it changed.
fn execute(conn: &rusqlite::Connection, sql: &str, params: &[Value]) -> Result<usize> {
    let mut stmt = conn.prepare(sql)?;
    bind(&mut stmt, params)?;
    let readonly = stmt.readonly();
    let mut rows = stmt.raw_query();
    while rows.next()?.is_some() {}
    Ok(if readonly { 0 } else { conn.changes() as usize })
}

fn collect(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[Value],
    max: usize,
) -> Result<Vec<Row>> {
    let mut stmt = conn.prepare(sql)?;
    bind(&mut stmt, params)?;
    let columns: Arc<[String]> = stmt.column_names().map(String::from).collect();
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while out.len() < max {
        let Some(row) = rows.next()? else { break };
        out.push(Row::read(&columns, row)?);
    }
    Ok(out)
}

/// Runs `work` on the blocking pool under `ticket`. If this future is
/// dropped first, or the query timeout passes, the ticket is cancelled
/// (SQLite and the guest are interrupted) and whatever `work` returns is
/// dropped on the blocking thread, which is where a lease inside it goes
/// back to the pool.
async fn guarded<R: Send + 'static>(
    shared: &Shared,
    ticket: Arc<Ticket>,
    work: impl FnOnce() -> R + Send + 'static,
) -> Result<R> {
    let guard = CancelOnDrop(Some(ticket.clone()));
    let task = blocking(move || {
        // Queued work whose caller has gone is not started. Dropping it
        // here, inside the blocking scope, returns a lease it owns to the
        // pool on this thread.
        if ticket.cancelled() {
            ticket.finish();
            drop(work);
            return Ok(None);
        }
        let result = work();
        ticket.finish();
        if ticket.cancelled() {
            drop(result);
            return Ok(None);
        }
        Ok(Some(result))
    });
    let joined = match shared.query_timeout {
        // On timeout `guard` cancels the work as it drops.
        Some(limit) => tokio::time::timeout(limit, task)
            .await
            .map_err(|_| Error::Timeout(limit))?,
        None => task.await,
    };
    guard.disarm();
    // `None` only when cancelled, and a cancelled caller is gone.
    joined?.ok_or(Error::Interrupted)
}

/// Runs `work` on `lease`'s connection (see [`guarded`]) and hands the lease
/// back, unless the work was cancelled.
async fn on_lease<R: Send + 'static>(
    shared: &Shared,
    lease: Option<Lease>,
    work: impl FnOnce(&rusqlite::Connection) -> Result<R> + Send + 'static,
) -> (Option<Lease>, Result<R>) {
    let Some(lease) = lease else {
        return (None, Err(Error::Closed));
    };
    let ticket = lease.ticket();
    match guarded(shared, ticket, move || {
        let result = typed_errors(|| work(lease.conn()));
        // `wasmudf_load`s of this work that committed are every
        // connection's before the caller hears back.
        lease.settle();
        (lease, result)
    })
    .await
    {
        Ok((lease, result)) => (Some(lease), result.map_err(interrupted)),
        Err(err) => (None, Err(err)),
    }
}

/// Runs blocking `work` and gives a statement that failed in a UDF its typed
/// error: SQLite keeps only the message of the [`CallError`](crate::CallError)
/// a function reported (`call::reported`), so a SQLite error with exactly
/// that message becomes [`Error::Call`] with it. Must run on the thread that
/// steps the statements.
fn typed_errors<R>(work: impl FnOnce() -> Result<R>) -> Result<R> {
    crate::call::take_reported();
    let result = work();
    let reported = crate::call::take_reported();
    match (result, reported) {
        (Err(Error::Sqlite(rusqlite::Error::SqliteFailure(code, Some(message)))), Some(call)) => {
            if call.to_string() == message {
                Err(Error::Call(call))
            } else {
                Err(Error::Sqlite(rusqlite::Error::SqliteFailure(
                    code,
                    Some(message),
                )))
            }
        }
        (result, _) => result,
    }
}

/// SQLite's "interrupted" and a guest's interrupted call both mean the query
/// was cancelled.
fn interrupted(err: Error) -> Error {
    match &err {
        Error::Sqlite(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::OperationInterrupted =>
        {
            Error::Interrupted
        }
        Error::Call(call) if call.cause == crate::CallErrorKind::Interrupted => Error::Interrupted,
        _ => err,
    }
}

/// A transaction on one pooled connection. Statements on it run in order.
///
/// Dropping it without [`Transaction::commit`] rolls back, on the blocking
/// pool; so does dropping one of its futures mid-statement (the statement
/// is interrupted first).
pub struct Transaction {
    shared: Arc<Shared>,
    lease: Option<Lease>,
}

impl std::fmt::Debug for Transaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("open", &self.lease.is_some())
            .finish()
    }
}

impl Transaction {
    async fn run<R: Send + 'static>(
        &mut self,
        work: impl FnOnce(&rusqlite::Connection) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        let (lease, result) = on_lease(&self.shared, self.lease.take(), work).await;
        self.lease = lease;
        result
    }

    /// As [`Database::execute`], inside the transaction.
    ///
    /// # Errors
    ///
    /// As [`Database::execute`]; [`Error::Closed`] if an earlier call on
    /// this transaction was cancelled (which rolled it back).
    pub async fn execute(&mut self, sql: &str, params: impl ToParams) -> Result<usize> {
        self.run(execute_work(sql, params)).await
    }

    /// As [`Database::query`], inside the transaction.
    ///
    /// # Errors
    ///
    /// As [`Transaction::execute`].
    pub async fn query(&mut self, sql: &str, params: impl ToParams) -> Result<Vec<Row>> {
        self.run(query_work(sql, params)).await
    }

    /// As [`Database::query_row`], inside the transaction.
    ///
    /// # Errors
    ///
    /// As [`Database::query_row`].
    pub async fn query_row(&mut self, sql: &str, params: impl ToParams) -> Result<Row> {
        self.run(query_row_work(sql, params)).await
    }

    /// Commits.
    ///
    /// # Errors
    ///
    /// As [`Transaction::execute`]; on error the transaction is rolled back.
    pub async fn commit(mut self) -> Result<()> {
        self.run(|conn| Ok(conn.execute_batch("COMMIT")?)).await
    }

    /// Rolls back.
    ///
    /// # Errors
    ///
    /// As [`Transaction::execute`].
    pub async fn rollback(mut self) -> Result<()> {
        self.run(|conn| Ok(conn.execute_batch("ROLLBACK")?)).await
    }
}

type Fetch = Pin<Box<dyn Future<Output = (Option<Box<Cursor>>, Result<(Vec<Row>, bool)>)> + Send>>;
type Start = Pin<Box<dyn Future<Output = Result<Box<Cursor>>> + Send>>;

enum StreamState {
    Starting(Start),
    Idle(Box<Cursor>),
    Fetching(Fetch),
    Done,
}

/// Rows of a query, yielded as they are stepped; see [`Database::stream`].
pub struct RowStream {
    shared: Arc<Shared>,
    state: StreamState,
    buffer: VecDeque<Row>,
    batch: usize,
}

impl std::fmt::Debug for RowStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowStream")
            .field("buffered", &self.buffer.len())
            .finish_non_exhaustive()
    }
}

/// How long [`DatabaseBuilder::open`] reads the names `wasmudf_load`
/// recorded, at most, when no query timeout is set.
const LOAD_LIST_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest batch of rows one blocking task steps.
const MAX_BATCH: usize = 256;

impl RowStream {
    fn new(shared: Arc<Shared>, sql: String, params: rusqlite::Result<Vec<Value>>) -> RowStream {
        let starter = shared.clone();
        let start: Start = Box::pin(async move {
            let params = params?;
            let lease = starter.pool.acquire().await?;
            let ticket = lease.ticket();
            guarded(&starter, ticket, move || {
                typed_errors(|| Ok(Cursor::start(lease, &sql, &params)?))
            })
            .await?
            .map(Box::new)
            .map_err(interrupted)
        });
        RowStream {
            shared,
            state: StreamState::Starting(start),
            buffer: VecDeque::new(),
            batch: 1,
        }
    }

    fn fetch(&mut self, cursor: Box<Cursor>) -> Fetch {
        let shared = self.shared.clone();
        let max = self.batch;
        self.batch = (self.batch * 2).min(MAX_BATCH);
        Box::pin(async move {
            let ticket = cursor.lease().ticket();
            let fetched = guarded(&shared, ticket, move || {
                let mut cursor = cursor;
                let fetched = typed_errors(|| Ok(cursor.fetch(max)?));
                (cursor, fetched)
            })
            .await;
            match fetched {
                Ok((cursor, fetched)) => (Some(cursor), fetched.map_err(interrupted)),
                Err(err) => (None, Err(err)),
            }
        })
    }
}

impl Stream for RowStream {
    type Item = Result<Row>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(row) = this.buffer.pop_front() {
                return Poll::Ready(Some(Ok(row)));
            }
            match std::mem::replace(&mut this.state, StreamState::Done) {
                StreamState::Done => return Poll::Ready(None),
                StreamState::Starting(mut start) => match start.as_mut().poll(cx) {
                    Poll::Pending => {
                        this.state = StreamState::Starting(start);
                        return Poll::Pending;
                    }
                    Poll::Ready(Ok(cursor)) => this.state = StreamState::Idle(cursor),
                    Poll::Ready(Err(err)) => return Poll::Ready(Some(Err(err))),
                },
                StreamState::Idle(cursor) => {
                    this.state = StreamState::Fetching(this.fetch(cursor));
                }
                StreamState::Fetching(mut fetch) => match fetch.as_mut().poll(cx) {
                    Poll::Pending => {
                        this.state = StreamState::Fetching(fetch);
                        return Poll::Pending;
                    }
                    Poll::Ready((cursor, Ok((rows, done)))) => {
                        this.buffer.extend(rows);
                        if let (Some(cursor), false) = (cursor, done) {
                            this.state = StreamState::Idle(cursor);
                        }
                        // A finished cursor is dropped here: its statement
                        // was already reset, and its lease returns to the
                        // pool from the blocking pool (see `Lease::drop`).
                    }
                    Poll::Ready((_, Err(err))) => return Poll::Ready(Some(Err(err))),
                },
            }
        }
    }
}

impl Drop for RowStream {
    fn drop(&mut self) {
        // A fetch in flight is cancelled by its own guard as it drops. An
        // idle cursor's statement is finalized wherever the cursor drops;
        // move that to the blocking pool when on an async thread.
        if let StreamState::Idle(cursor) = std::mem::replace(&mut self.state, StreamState::Done)
            && tokio::runtime::Handle::try_current().is_ok()
            && !crate::call::is_blocking_thread()
        {
            drop(tokio::task::spawn_blocking(move || drop(cursor)));
        }
    }
}

impl Unpin for RowStream {}
