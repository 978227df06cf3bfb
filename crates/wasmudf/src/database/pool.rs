//! The connection pool: every connection has every component registered,
//! and a connection may be used from any thread, one user at a time.
//!
//! The pool's components change while connections are out (added,
//! replaced, removed): each connection keeps the list it has registered
//! and is brought to the pool's list when it is next handed out, so a
//! statement already running finishes on what it started with, and every
//! statement prepared after a change sees it.

use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use super::sql_load::SqlLoad;
use std::time::Duration;

use rusqlite::{Connection, InterruptHandle, OpenFlags};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::component::Component;
use crate::error::{Error, Result};
use crate::interrupt::Interrupt;

/// Where connections point.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) uri: String,
    pub(crate) flags: OpenFlags,
    pub(crate) is_file: bool,
}

/// A connection, the two handles that stop work on it, and what it has
/// registered.
pub(crate) struct PooledConn {
    pub(crate) conn: Connection,
    interrupt: Interrupt,
    sqlite: Arc<InterruptHandle>,
    state: SharedConnState,
}

/// What one connection has registered. Shared with the connection's own
/// `wasmudf_load`, which registers on it from inside a statement.
#[derive(Debug)]
pub(crate) struct ConnState {
    /// Tells this connection's reservations apart in [`Components`].
    id: u64,
    /// The pool's components registered on the connection, as of pool
    /// version `version`.
    registered: Vec<Component>,
    version: u64,
    /// Components `wasmudf_load` registered on this connection, whose
    /// record has not committed yet: published to the pool when it does,
    /// unregistered when it does not (see [`Pool::settle`]).
    pending: Vec<PendingLoad>,
}

/// [`ConnState`], as the pool and `wasmudf_load` share it. Lock order: the
/// pool's components first, then this.
pub(crate) type SharedConnState = Arc<Mutex<ConnState>>;

/// A component `wasmudf_load` registered on one connection, and the row it
/// wrote in `wasmudf_loaded`, which decides whether it stays.
#[derive(Debug, Clone)]
pub(crate) struct PendingLoad {
    pub(crate) component: Component,
    pub(crate) record: super::sql_load::Record,
}

/// The pool's components, and how many times they have changed.
struct Components {
    list: Vec<Component>,
    version: u64,
    /// Components loaded by `wasmudf_load` in a transaction that has not
    /// ended, by the id of their connection: not the pool's yet, but their
    /// names are taken, so nothing that would clash with them is added
    /// meanwhile (by another load, `add_components` or `replace`).
    reserved: Vec<(u64, Component)>,
}

impl Components {
    /// Refuses `component` if it clashes with a reservation of a connection
    /// other than `except`.
    fn check_reserved(&self, component: &Component, except: Option<u64>) -> Result<()> {
        for (owner, reserved) in &self.reserved {
            if Some(*owner) != except {
                crate::register::check_against(component, reserved)?;
            }
        }
        Ok(())
    }
}

/// What [`Pool::begin_load`] did.
#[derive(Debug)]
pub(crate) enum Begun {
    /// The same bytes are loaded already (or being loaded on this
    /// connection): nothing to do.
    Already,
    /// Registered on the connection, pending its record.
    Registered,
}

pub(crate) struct Pool {
    target: Target,
    /// Changed by [`Pool::add_components`] and [`Pool::replace`];
    /// connections catch up when they are next handed out.
    components: RwLock<Components>,
    busy_timeout: Duration,
    /// `wasmudf_load`, when the embedder allowed it.
    sql_load: Option<Arc<SqlLoad>>,
    idle: Mutex<Vec<PooledConn>>,
    permits: Arc<Semaphore>,
    pub(crate) size: usize,
    opened: AtomicU64,
    /// The next connection's [`ConnState::id`].
    next_id: AtomicU64,
    closed: AtomicBool,
}

/// Pool counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// The most connections the pool holds.
    pub size: usize,
    /// Connections opened so far.
    pub opened: u64,
    /// Connections waiting in the pool now.
    pub idle: usize,
    /// Component instances on the components' engine.
    pub instances: crate::InstanceStats,
}

impl Pool {
    pub(crate) fn new(
        target: Target,
        components: Vec<Component>,
        size: usize,
        busy_timeout: Duration,
        sql_load: Option<Arc<SqlLoad>>,
    ) -> Pool {
        Pool {
            target,
            components: RwLock::new(Components {
                list: components,
                version: 0,
                reserved: Vec::new(),
            }),
            busy_timeout,
            sql_load,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(size)),
            size,
            opened: AtomicU64::new(0),
            next_id: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        }
    }

    /// Opens a connection with every component registered. Blocking.
    pub(crate) fn open(self: &Arc<Pool>) -> Result<PooledConn> {
        let mut conn = Connection::open_with_flags(&self.target.uri, self.target.flags)?;
        conn.busy_timeout(self.busy_timeout)?;
        let interrupt = Interrupt::new();
        stop_sqlite_on(&mut conn, &interrupt)?;
        // A schema (view, trigger) must not call functions that were not
        // meant for it, whatever the database file says.
        conn.pragma_update(None, "trusted_schema", "OFF")?;
        let writable = !self.target.flags.contains(OpenFlags::SQLITE_OPEN_READ_ONLY);
        if self.target.is_file && writable && self.opened.load(Ordering::Relaxed) == 0 {
            // Readers and one writer proceed in parallel under WAL.
            let _mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))?;
        }
        // The catalog before any component, and before `wasmudf_load` can
        // register one from inside a statement.
        crate::register::prepare(&conn)?;
        let state = Arc::new(Mutex::new(ConnState {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            registered: Vec::new(),
            version: u64::MAX,
            pending: Vec::new(),
        }));
        if let Some(load) = &self.sql_load {
            super::sql_load::register(
                &conn,
                load.clone(),
                Arc::downgrade(self),
                state.clone(),
                interrupt.clone(),
            )?;
        }
        let pooled = PooledConn {
            sqlite: Arc::new(conn.get_interrupt_handle()),
            conn,
            interrupt,
            state,
        };
        self.catch_up(&pooled)?;
        self.opened.fetch_add(1, Ordering::Relaxed);
        Ok(pooled)
    }

    /// Brings `conn` to the pool's components: unregisters those the pool
    /// no longer has, then registers those `conn` lacks.
    fn catch_up(&self, conn: &PooledConn) -> Result<()> {
        let components = self.read_components();
        let mut state = lock(&conn.state);
        if state.version == components.version {
            return Ok(());
        }
        sync(conn, &mut state.registered, &components.list)?;
        state.version = components.version;
        Ok(())
    }

    /// The pool's components, to read them.
    fn read_components(&self) -> std::sync::RwLockReadGuard<'_, Components> {
        self.components
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The pool's components, to change them.
    fn write_components(&self) -> std::sync::RwLockWriteGuard<'_, Components> {
        self.components
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds components to every connection: registered on `lease`'s
    /// connection now (so a clash is reported here), and on the others when
    /// they are next handed out. Blocking.
    pub(crate) fn add_components(&self, lease: &mut Lease, added: Vec<Component>) -> Result<()> {
        let conn = &lease.0.conn;
        self.catch_up(conn)?;
        let mut components = self.write_components();
        let mut state = lock(&conn.state);
        for component in added {
            components.check_reserved(&component, None)?;
            component.register_with(&conn.conn, &conn.interrupt)?;
            state.registered.push(component.clone());
            components.list.push(component);
            components.version += 1;
            state.version = components.version;
        }
        Ok(())
    }

    /// Replaces `old` by `new` (or removes it, for `None`) on every
    /// connection: on `lease`'s now, so that a clash is reported here and
    /// leaves everything as it was, and on the others when they are next
    /// handed out. Blocking.
    pub(crate) fn replace(
        &self,
        lease: &mut Lease,
        old: &Component,
        new: Option<Component>,
    ) -> Result<()> {
        let conn = &lease.0.conn;
        self.catch_up(conn)?;
        let mut components = self.write_components();
        if let Some(new) = &new {
            components.check_reserved(new, None)?;
        }
        let mut state = lock(&conn.state);
        let position = components
            .list
            .iter()
            .position(|c| c.same_as(old))
            .ok_or_else(|| Error::NotRegistered {
                origin: old.origin().to_string(),
            })?;
        let mut wanted = components.list.clone();
        match &new {
            Some(new) => wanted[position] = new.clone(),
            None => {
                wanted.remove(position);
            }
        }
        if let Err(err) = sync(conn, &mut state.registered, &wanted) {
            // Back to what every other connection has.
            let restored = sync(conn, &mut state.registered, &components.list);
            if let Err(again) = restored {
                tracing::warn!("wasmudf: could not restore a connection's components: {again}");
                // Registered again from nothing at its next use.
                state.version = u64::MAX;
            }
            return Err(err);
        }
        components.list = wanted;
        components.version += 1;
        state.version = components.version;
        Ok(())
    }

    /// The first half of `wasmudf_load(name)` on the connection `here`
    /// (whose state is `state`), from inside the statement that calls it:
    /// under the pool's write lock, checks `component` against the pool's
    /// components and every connection's pending loads, by hash and by
    /// name, registers it on `here` (which also checks SQLite's builtins
    /// and the application's functions), and reserves its names. It joins
    /// the pool only when its record commits ([`Pool::settle`]).
    ///
    /// # Errors
    ///
    /// A connection behind the pool (another connection changed the
    /// components since this one caught up: its transaction began before)
    /// is refused, as its own functions are not the pool's; so is a
    /// component another connection is loading, and any clash.
    pub(crate) fn begin_load(
        &self,
        state: &SharedConnState,
        here: &Connection,
        interrupt: &Interrupt,
        load: PendingLoad,
    ) -> Result<Begun> {
        let mut components = self.write_components();
        let mut state = lock(state);
        let component = &load.component;
        let sha256 = component.sha256();
        let same = |c: &Component| c.sha256() == sha256;
        if components.list.iter().any(same) || state.pending.iter().any(|p| same(&p.component)) {
            return Ok(Begun::Already);
        }
        if state.version != components.version {
            return Err(Error::SqlLoad {
                detail: "this connection's components are behind the database's (another \
                         connection changed them since its transaction began): load again in \
                         a new transaction"
                    .into(),
            });
        }
        if let Some((_, other)) = components.reserved.iter().find(|(_, c)| same(c)) {
            return Err(Error::SqlLoad {
                detail: format!(
                    "{}: being loaded in another connection's transaction",
                    other.origin()
                ),
            });
        }
        components.check_reserved(component, Some(state.id))?;
        for existing in &components.list {
            crate::register::check_against(component, existing)?;
        }
        component.register_with(here, interrupt)?;
        components.reserved.push((state.id, component.clone()));
        state.pending.push(load);
        Ok(Begun::Registered)
    }

    /// Settles the loads pending on `conn` (see [`Pool::begin_load`]) once
    /// nothing runs on it: each whose record is no longer in the database
    /// (a failed statement, a `ROLLBACK`, a `ROLLBACK TO` a savepoint
    /// before it) is unregistered from `conn` and its names freed; each
    /// whose record has committed (no transaction is open) joins the
    /// pool's components, which every other connection then registers. A
    /// record present in a transaction still open stays pending.
    ///
    /// Blocking. Call it only while no statement of `conn` is running
    /// (SQLite cannot remove a function then).
    pub(crate) fn settle(&self, conn: &PooledConn) -> Result<()> {
        let pending = lock(&conn.state).pending.clone();
        if pending.is_empty() {
            return Ok(());
        }
        let open = conn.conn.transaction_state(None::<&str>)? != rusqlite::TransactionState::None;
        let mut undone = Vec::new();
        let mut committed = Vec::new();
        for load in &pending {
            if !load.record.is_present(&conn.conn)? {
                undone.push(load.component.clone());
            } else if !open {
                committed.push(load.component.clone());
            }
        }
        for component in &undone {
            component.unregister(&conn.conn)?;
        }
        if !undone.is_empty() {
            conn.conn.flush_prepared_statement_cache();
        }
        let mut components = self.write_components();
        let mut state = lock(&conn.state);
        let id = state.id;
        let settled = |c: &Component| undone.iter().chain(&committed).any(|s| s.same_as(c));
        components
            .reserved
            .retain(|(owner, c)| *owner != id || !settled(c));
        state.pending.retain(|p| !settled(&p.component));
        for component in committed {
            let caught_up = state.version == components.version;
            components.list.push(component.clone());
            components.version += 1;
            if caught_up {
                state.registered.push(component);
                state.version = components.version;
            }
            // Otherwise `catch_up` finds it registered here already.
        }
        Ok(())
    }

    /// Forgets the loads pending on a connection that is being closed
    /// unsettled: its registrations go with it.
    fn abandon(&self, conn: &PooledConn) {
        let mut components = self.write_components();
        let mut state = lock(&conn.state);
        let id = state.id;
        components.reserved.retain(|(owner, _)| *owner != id);
        state.pending.clear();
    }

    /// The pool's components now.
    pub(crate) fn components(&self) -> Vec<Component> {
        self.read_components().list.clone()
    }

    /// Waits for a free slot, then hands out an idle connection or opens
    /// a new one on the blocking pool.
    pub(crate) async fn acquire(self: &Arc<Pool>) -> Result<Lease> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Closed)?;
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::Closed);
        }
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match idle {
            Some(conn) => {
                let behind = lock(&conn.state).version != self.read_components().version;
                if behind {
                    let pool = self.clone();
                    blocking(move || pool.catch_up(&conn).map(|()| conn)).await?
                } else {
                    conn
                }
            }
            None => {
                let pool = self.clone();
                blocking(move || pool.open()).await?
            }
        };
        conn.interrupt.reset();
        Ok(Lease(ManuallyDrop::new(Leased {
            conn,
            pool: self.clone(),
            _permit: permit,
        })))
    }

    pub(crate) fn stats(&self) -> PoolStats {
        PoolStats {
            size: self.size,
            opened: self.opened.load(Ordering::Relaxed),
            idle: self
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .len(),
            instances: self
                .read_components()
                .list
                .first()
                .map(|c| c.engine().instance_stats())
                .unwrap_or_default(),
        }
    }

    /// Stops handing out connections and closes the idle ones.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.permits.close();
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

/// A connection's state, locked (a poisoned lock is still consistent: it
/// holds plain lists, each changed in one step).
fn lock(state: &SharedConnState) -> std::sync::MutexGuard<'_, ConnState> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Makes the pool's components registered on `conn` (`registered`) exactly
/// `wanted`: removes what is no longer wanted first (so a new version does
/// not clash with the one it replaces), then registers what is missing, in
/// `wanted`'s order. Statements cached before are dropped: they were
/// prepared against the functions that were there.
fn sync(conn: &PooledConn, registered: &mut Vec<Component>, wanted: &[Component]) -> Result<()> {
    let before = registered.len();
    let mut kept = Vec::with_capacity(wanted.len());
    for component in std::mem::take(registered) {
        if wanted.iter().any(|w| w.same_as(&component)) {
            kept.push(component);
        } else if let Err(err) = component.unregister(&conn.conn) {
            kept.push(component);
            *registered = kept;
            return Err(err);
        }
    }
    *registered = kept;
    let mut changed = registered.len() != before;
    for component in wanted {
        if !registered.iter().any(|r| r.same_as(component)) {
            // A component `wasmudf_load` registered here joined the pool
            // when its record committed: the connection's registry knows.
            if !crate::register::is_registered(component, &conn.conn)? {
                component.register_with(&conn.conn, &conn.interrupt)?;
            }
            registered.push(component.clone());
            changed = true;
        }
    }
    if changed {
        conn.conn.flush_prepared_statement_cache();
    }
    Ok(())
}

/// How many SQLite VM steps pass between two looks at the interrupt flag
/// (see [`stop_sqlite_on`]): rare enough to cost nothing measurable, often
/// enough to stop a long statement within microseconds.
const PROGRESS_OPS: std::ffi::c_int = 1000;

/// Makes a cancel stick on `conn` until the next [`Pool::acquire`] resets
/// `interrupt`.
///
/// `sqlite3_interrupt` alone is lost when it lands while no statement runs
/// (between two statements of a batch, or before queued work starts):
/// SQLite clears it when the next statement starts. So SQLite is also asked
/// to look at the flag: every [`PROGRESS_OPS`] steps a progress handler
/// stops a statement that started after the cancel, and a commit hook turns
/// any commit made after it into a rollback, so cancelled work never
/// commits, however short its statements. A user's own hooks set through
/// [`Database::interact`](crate::Database::interact) replace these.
fn stop_sqlite_on(conn: &mut Connection, interrupt: &Interrupt) -> rusqlite::Result<()> {
    let flag = interrupt.clone();
    conn.progress_handler(PROGRESS_OPS, Some(move || flag.is_interrupted()))?;
    let flag = interrupt.clone();
    conn.commit_hook(Some(move || flag.is_interrupted()))
}

/// Runs blocking work on tokio's blocking pool, marked as safe for blocking
/// guest calls while it runs, with the guests' native stack reserved once
/// for the whole job rather than on each call.
pub(crate) async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R> + Send + 'static,
) -> Result<R> {
    tokio::task::spawn_blocking(move || {
        let _scope = crate::call::BlockingScope::enter();
        crate::call::with_guest_stack(crate::call::largest_wasm_stack(), f)
    })
    .await
    .map_err(|e| Error::Panic(e.to_string()))?
}

/// Exclusive use of one pooled connection. Dropping it rolls back an open
/// transaction and returns the connection to the pool.
pub(crate) struct Lease(ManuallyDrop<Leased>);

struct Leased {
    conn: PooledConn,
    pool: Arc<Pool>,
    _permit: OwnedSemaphorePermit,
}

impl Lease {
    pub(crate) fn conn(&self) -> &Connection {
        &self.0.conn.conn
    }

    /// Settles the loads `wasmudf_load` left pending on this connection
    /// ([`Pool::settle`]), after a piece of work, so that a load whose
    /// record committed is every connection's before the caller hears back.
    /// Blocking; only while no statement of the connection runs. What
    /// cannot be settled now (an interrupted connection cannot read its
    /// record) is settled when the lease is released.
    pub(crate) fn settle(&self) {
        if let Err(err) = self.0.pool.settle(&self.0.conn) {
            tracing::debug!("wasmudf: loads left pending for now: {err}");
        }
    }

    /// A ticket for one piece of blocking work on this connection.
    pub(crate) fn ticket(&self) -> Arc<Ticket> {
        Arc::new(Ticket {
            done: Mutex::new(false),
            interrupt: self.0.conn.interrupt.clone(),
            sqlite: self.0.conn.sqlite.clone(),
        })
    }
}

impl Leased {
    /// Returns the connection to the pool. Blocking: it may roll back.
    fn release(self) {
        let Leased {
            conn,
            pool,
            _permit,
        } = self;
        // The work under the last ticket has ended: a raised flag has done
        // its job and must not stop the rollback.
        conn.interrupt.reset();
        if !conn.conn.is_autocommit() {
            // An abandoned transaction never leaks into the next user.
            if let Err(err) = conn.conn.execute_batch("ROLLBACK") {
                tracing::warn!("wasmudf: rollback of an abandoned transaction failed: {err}");
                pool.abandon(&conn);
                return;
            }
        }
        // No transaction is left open: every pending load is decided.
        if let Err(err) = pool.settle(&conn) {
            tracing::warn!(
                "wasmudf: a connection could not settle what `wasmudf_load` loaded on it, \
                 and is closed: {err}"
            );
            pool.abandon(&conn);
            return;
        }
        if !pool.closed.load(Ordering::SeqCst) {
            pool.idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(conn);
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // SAFETY: `self.0` is taken exactly once, here, and never touched
        // again: the lease is being dropped.
        let leased = unsafe { ManuallyDrop::take(&mut self.0) };
        let on_async_thread =
            tokio::runtime::Handle::try_current().is_ok() && !crate::call::is_blocking_thread();
        if on_async_thread {
            // Rolling back touches the disk; never do it on an async worker.
            drop(tokio::task::spawn_blocking(move || leased.release()));
        } else {
            leased.release();
        }
    }
}

/// One piece of blocking work on a leased connection. If the caller goes
/// away before the work is `finish`ed, `cancel` stops SQLite and the guest;
/// once finished, cancelling does nothing, so an interrupt can never reach
/// the connection's next user.
pub(crate) struct Ticket {
    done: Mutex<bool>,
    interrupt: Interrupt,
    sqlite: Arc<InterruptHandle>,
}

impl Ticket {
    pub(crate) fn cancel(&self) {
        let done = self.done.lock().unwrap_or_else(PoisonError::into_inner);
        if !*done {
            self.interrupt.interrupt();
            self.sqlite.interrupt();
        }
    }

    pub(crate) fn finish(&self) {
        *self.done.lock().unwrap_or_else(PoisonError::into_inner) = true;
    }

    /// Whether the work was cancelled: its caller has gone.
    pub(crate) fn cancelled(&self) -> bool {
        self.interrupt.is_interrupted()
    }
}

/// Cancels its ticket when dropped unless disarmed: this is what turns
/// "the future was dropped" into "the query stops".
pub(crate) struct CancelOnDrop(pub(crate) Option<Arc<Ticket>>);

impl CancelOnDrop {
    pub(crate) fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(ticket) = self.0.take() {
            ticket.cancel();
        }
    }
}
