//! Registering a component's functions on a `rusqlite::Connection`, and the
//! callbacks SQLite runs from inside `sqlite3_step`.
//!
//! Each registration shares one [`InstanceSlot`] per (component,
//! connection). The slot travels with the connection's function table, so
//! whichever thread steps a statement reaches the same instance and the
//! same aggregate state; nothing is kept in thread-local storage.

use std::cell::{Cell, UnsafeCell};
use std::collections::HashMap;
use std::ffi::CStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::Connection;
use rusqlite::functions::FunctionFlags as SqlFlags;
use rusqlite::types::{Value as SqlValue, ValueRef};

use crate::bindings::{FastResult, ValueParam, ValueResult};
use crate::call::{Budget, CallError, CallErrorKind, Direct, InstanceSlot};
use crate::component::Component;
use crate::direct::abi::{Answer, Borrowed};
use crate::error::{Error, ExistingFunction, FunctionOwner, Result};
use crate::interrupt::Interrupt;
use crate::manifest::{FunctionKind, FunctionSpec};
use crate::trampoline::{self, Out};
use crate::value::{from_fast, from_guest, to_guest, to_number};

/// A fast call's answer, fetching a `deferred` one (TEXT, BLOB or an error)
/// with `take-result`. A deferred TEXT or BLOB sets `text_results`: the
/// function answers numbers with text, and its later calls skip the fast
/// entry points, which would cross twice for every such answer.
#[inline]
fn finish_fast(
    fast: FastResult,
    text_results: &AtomicBool,
    take: impl FnOnce() -> wasmtime::Result<std::result::Result<ValueResult, String>>,
) -> wasmtime::Result<std::result::Result<ValueResult, String>> {
    match from_fast(fast) {
        Some(value) => Ok(Ok(value)),
        None => {
            let taken = take()?;
            if matches!(taken, Ok(ValueResult::Text(_) | ValueResult::Blob(_))) {
                text_results.store(true, Ordering::Relaxed);
            }
            Ok(taken)
        }
    }
}

/// The most arguments a direct call takes (the `fastN`/`callN` exports).
const MAX_DIRECT_ARGS: usize = trampoline::INLINE_ARGS;

/// Bytes of aggregate arguments (see [`batch::cost`]) buffered before one
/// `step` call, at most; a row larger than this is sent on its own. Rows of
/// 64 KB would otherwise make a batch of 64 MB, which the guest must hold
/// at once whatever it does with the rows.
const STEP_BATCH_BYTES: usize = 256 << 10;

/// The step batch's byte budget for a memory limit: [`STEP_BATCH_BYTES`],
/// or a sixteenth of the guest's memory if that is less, so a batch never
/// takes more than a small share of what the guest may have.
fn step_batch_bytes(max_memory_bytes: usize) -> usize {
    STEP_BATCH_BYTES.min(max_memory_bytes / 16).max(1)
}

type Slot = Arc<SlotCell<InstanceSlot>>;

/// The [`InstanceSlot`] a connection's functions share, borrowed for the
/// length of one callback.
///
/// Not a `Mutex`: an uncontended lock and unlock are two atomic
/// read-modify-writes on every call, a measurable share of a direct call,
/// to guard against something SQLite already excludes. A connection's
/// callbacks run one at a time: rusqlite's `Connection` is `Send` but not
/// `Sync`, so only the thread that holds it steps its statements, and a
/// connection handed between threads (the async pool) is handed over
/// through a synchronising channel. What is left is re-entrance, one
/// callback running while another holds the slot. No guest can call SQLite,
/// so it cannot happen today; the `busy` flag refuses it rather than
/// assuming it, and the test below checks that it does.
pub(crate) struct SlotCell<T> {
    busy: Cell<bool>,
    slot: UnsafeCell<T>,
}

// SAFETY: see above: every access goes through `borrow`, only from the
// callbacks of one connection, which never run concurrently; `busy` turns
// a re-entrant borrow into `None` instead of a second `&mut`.
unsafe impl<T: Send> Sync for SlotCell<T> {}

impl<T> SlotCell<T> {
    fn new(slot: T) -> SlotCell<T> {
        SlotCell {
            busy: Cell::new(false),
            slot: UnsafeCell::new(slot),
        }
    }

    /// The slot, or `None` while another callback holds it.
    #[inline]
    fn borrow(&self) -> Option<SlotGuard<'_, T>> {
        if self.busy.replace(true) {
            return None;
        }
        Some(SlotGuard(self))
    }
}

/// A borrowed [`InstanceSlot`]; releases it when dropped.
struct SlotGuard<'a, T>(&'a SlotCell<T>);

impl<T> std::ops::Deref for SlotGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: `busy` is set for as long as this guard lives, so no
        // other reference to the slot exists.
        unsafe { &*self.0.slot.get() }
    }
}

impl<T> std::ops::DerefMut for SlotGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as above.
        unsafe { &mut *self.0.slot.get() }
    }
}

impl<T> Drop for SlotGuard<'_, T> {
    fn drop(&mut self) {
        self.0.busy.set(false);
    }
}

/// What a callback reports when the slot is already borrowed.
fn slot_busy() -> CallErrorKind {
    CallErrorKind::Instantiate(
        "the component's instance is in use by another call on this connection".into(),
    )
}

mod aggregate;
mod catalog;
mod table;

/// A virtual table's aux data, which every registration here passes.
fn vtab_aux<T: Clone>(aux: Option<&T>, what: &str) -> rusqlite::Result<T> {
    aux.cloned()
        .ok_or_else(|| rusqlite::Error::ModuleError(format!("wasmudf: {what} without its data")))
}

/// Runs a virtual-table method, turning a panic into an error: rusqlite's
/// `vtab` callbacks are `extern "C"` and do not catch panics, and a panic
/// unwinding out of an `extern "C"` function aborts the process.
fn vtab_guarded<R>(what: &str, f: impl FnOnce() -> rusqlite::Result<R>) -> rusqlite::Result<R> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(rusqlite::Error::ModuleError(format!(
            "wasmudf: internal error in {what} (a panic, caught)"
        )))
    })
}

pub(crate) fn register(
    component: &Component,
    conn: &Connection,
    interrupt: Interrupt,
) -> Result<()> {
    let registry = registry(conn)?;
    // Without its tables (a connection where nothing may be written, not
    // even `temp`: `PRAGMA query_only`) the functions still work.
    if let Err(err) = catalog::ensure(conn) {
        tracing::warn!("wasmudf: no catalog tables on this connection: {err}");
    }
    if !component.overrides_allowed() {
        check_clashes(component.origin(), component.functions(), conn, registry)?;
        check_module_clashes(component.origin(), component.functions(), conn, registry)?;
    }
    // Deterministic functions run in an instance of their own with
    // deterministic capabilities; the rest share another. Each is created
    // on first use, so a component of one kind costs one instance.
    let slot_for = |deterministic| -> Slot {
        Arc::new(SlotCell::new(InstanceSlot::new(
            component.clone(),
            interrupt.clone(),
            deterministic,
        )))
    };
    let (det_slot, other_slot) = (slot_for(true), slot_for(false));
    let limits = component.engine().limits();
    let max_result = limits.max_result_bytes;
    let batch_bytes = step_batch_bytes(limits.max_memory_bytes);
    let log_budget = aggregate::log_budget(limits.max_memory_bytes);
    let origin: Arc<str> = component.origin().into();
    let mut direct_flags = Vec::with_capacity(component.functions().len());
    for (id, spec) in component.functions().iter().enumerate() {
        let id = u32::try_from(id).map_err(|_| Error::Manifest {
            origin: component.origin().to_string(),
            detail: "too many functions".into(),
        })?;
        let flags = sqlite_flags(spec, component.is_trusted());
        let arity = spec.arity.as_sqlite();
        let slot = if spec.flags.deterministic {
            &det_slot
        } else {
            &other_slot
        };
        let direct = Arc::new(AtomicBool::new(component.has_direct_path()));
        let target = || Target {
            slot: slot.clone(),
            id,
            name: spec.name.clone().into(),
            max_result,
            batch_bytes,
            log_budget,
            direct: direct.clone(),
            text_results: AtomicBool::new(false),
        };
        match spec.kind {
            FunctionKind::Scalar => {
                trampoline::create_scalar(conn, spec.name.as_str(), arity, flags, target())?
            }
            FunctionKind::Aggregate => {
                conn.create_aggregate_function(spec.name.as_str(), arity, flags, target())?
            }
            FunctionKind::Window => {
                conn.create_window_function(spec.name.as_str(), arity, flags, target())?
            }
            FunctionKind::Table => {
                let function = table::TableFunction::new(spec, slot.clone(), id, max_result, flags)
                    .ok_or_else(|| Error::Manifest {
                        origin: component.origin().to_string(),
                        detail: format!("`{}`: cannot declare its table", spec.name),
                    })?;
                table::create(conn, function)?;
                registry.record_module(&spec.name, &origin);
                direct_flags.push(None);
                continue;
            }
        }
        registry.record(&spec.name, arity, &origin);
        direct_flags.push(Some(direct));
    }
    let mut registered = registry
        .registered
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    // Registered again (over itself, with `allow_override`): listed once.
    registered.retain(|r| !r.component.same_as(component));
    registered.push(catalog::Registered {
        component: component.clone(),
        direct: direct_flags,
    });
    Ok(())
}

/// Gives `conn` the wasmudf catalog (`temp.wasmudf_functions`,
/// `temp.wasmudf_components`) before any component is registered, so that
/// its names are taken and no registration has to create it later (from
/// inside a running statement, as `wasmudf_load` registers).
pub(crate) fn prepare(conn: &Connection) -> Result<()> {
    registry(conn)?;
    Ok(catalog::ensure(conn)?)
}

/// Whether `component` is registered on `conn`.
pub(crate) fn is_registered(component: &Component, conn: &Connection) -> Result<bool> {
    Ok(registry(conn)?
        .registered
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .any(|r| r.component.same_as(component)))
}

/// Removes `component`'s functions from `conn`, and its records from the
/// connection's registry.
pub(crate) fn unregister(component: &Component, conn: &Connection) -> Result<()> {
    let registry = registry(conn)?;
    for spec in component.functions() {
        match spec.kind {
            FunctionKind::Table => table::remove(conn, &spec.name)?,
            _ => conn.remove_function(spec.name.as_str(), spec.arity.as_sqlite())?,
        }
    }
    registry.forget(component);
    Ok(())
}

/// SQLite flags for a function: untrusted components are always
/// `DIRECTONLY`, and only trusted ones may be `INNOCUOUS`.
fn sqlite_flags(spec: &FunctionSpec, trusted: bool) -> SqlFlags {
    let mut flags = SqlFlags::SQLITE_UTF8;
    if spec.flags.deterministic {
        flags |= SqlFlags::SQLITE_DETERMINISTIC;
    }
    if spec.flags.direct_only || !trusted {
        flags |= SqlFlags::SQLITE_DIRECTONLY;
    } else if spec.flags.innocuous {
        flags |= SqlFlags::SQLITE_INNOCUOUS;
    }
    flags
}

/// Which component registered which function on a connection, so that a
/// clash can name it. Kept in SQLite's client data, which lives and dies
/// with the connection.
#[derive(Default)]
struct Registry {
    functions: Mutex<HashMap<(String, i64), Arc<str>>>,
    /// Table functions, by name: SQLite keeps virtual-table modules apart
    /// from functions.
    modules: Mutex<HashMap<String, Arc<str>>>,
    /// Every component registered, for `wasmudf_functions` and
    /// `wasmudf_components`.
    registered: catalog::Shared,
}

impl Registry {
    fn record(&self, name: &str, arity: i32, origin: &Arc<str>) {
        let key = (name.to_ascii_lowercase(), i64::from(arity));
        self.functions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, origin.clone());
    }

    fn origin(&self, name: &str, arity: i64) -> Option<Arc<str>> {
        let key = (name.to_ascii_lowercase(), arity);
        let map = self
            .functions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        map.get(&key).cloned()
    }

    fn record_module(&self, name: &str, origin: &Arc<str>) {
        self.modules
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_ascii_lowercase(), origin.clone());
    }

    /// Forgets what `component` registered.
    fn forget(&self, component: &Component) {
        let mut functions = self
            .functions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut modules = self.modules.lock().unwrap_or_else(PoisonError::into_inner);
        for spec in component.functions() {
            let name = spec.name.to_ascii_lowercase();
            match spec.kind {
                FunctionKind::Table => modules.remove(&name),
                _ => functions.remove(&(name, i64::from(spec.arity.as_sqlite()))),
            };
        }
        self.registered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|r| !r.component.same_as(component));
    }

    fn module_origin(&self, name: &str) -> Option<Arc<str>> {
        let map = self.modules.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(&name.to_ascii_lowercase()).cloned()
    }
}

/// The client-data name of the connection's [`Registry`].
const REGISTRY: &CStr = c"wasmudf.registry";

/// The connection's [`Registry`], created on first use.
fn registry(conn: &Connection) -> Result<&Registry> {
    // SAFETY: client data under `REGISTRY` is only ever set here, and
    // always to a `Registry`.
    if let Some(registry) = unsafe { conn.get_clientdata::<Registry, _>(REGISTRY)? } {
        return Ok(registry);
    }
    // The catalog first, so that its names are taken before any table
    // function's.
    let registry = Registry::default();
    catalog::create(conn, &registry.registered)?;
    // SAFETY: as above; nothing holds a reference to earlier data under
    // this name, since there is none.
    unsafe { conn.set_clientdata(REGISTRY, Some(registry))? };
    // SAFETY: as above.
    unsafe { conn.get_clientdata::<Registry, _>(REGISTRY)? }.ok_or_else(|| {
        Error::Sqlite(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_NOMEM),
            Some("SQLite kept no client data for wasmudf's function registry".into()),
        ))
    })
}

/// A function SQLite knows on the connection, from `pragma_function_list`.
struct Known {
    name: String,
    arity: i64,
    builtin: bool,
}

/// Refuses a function that would replace or shadow one SQLite already
/// knows on this connection (a builtin, the application's or another
/// component's): one with the same name (ASCII case-insensitive, as SQLite
/// compares) and the same arity, or the same name where either side is
/// variadic. SQLite prefers an exact arity to a variadic function, but a
/// connection's own function to a builtin, so a variadic `abs` would take
/// every call of `abs`, even from views written before it came; and a
/// fixed-arity function would take the calls of that arity from an
/// existing variadic one.
///
/// Within one manifest, the same name and arity twice is refused when the
/// manifest is read; a variadic and a fixed-arity function of the same
/// name there are one author's overloads, as SQLite allows.
fn check_clashes(
    origin: &str,
    functions: &[FunctionSpec],
    conn: &Connection,
    registry: &Registry,
) -> Result<()> {
    let mut known: HashMap<String, Vec<Known>> = HashMap::new();
    let mut stmt = conn.prepare("SELECT name, narg, builtin FROM pragma_function_list")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let name: String = row.get(0)?;
        let arity: i64 = row.get(1)?;
        let f = Known {
            // Some builtins are -3 or -4: variadic, with at least one or
            // two arguments.
            arity: arity.max(-1),
            builtin: row.get(2)?,
            name,
        };
        known
            .entry(f.name.to_ascii_lowercase())
            .or_default()
            .push(f);
    }
    for spec in functions {
        let Some(same_name) = known.get(&spec.name.to_ascii_lowercase()) else {
            continue;
        };
        let arity = i64::from(spec.arity.as_sqlite());
        let clashes = |f: &&Known| arity == -1 || f.arity == -1 || f.arity == arity;
        // Name the exact match if there is one, else any clashing one.
        let hit = same_name
            .iter()
            .filter(clashes)
            .min_by_key(|f| (f.arity != arity, !f.builtin, f.arity));
        let Some(hit) = hit else { continue };
        let owner = if hit.builtin {
            FunctionOwner::Builtin
        } else {
            match registry.origin(&hit.name, hit.arity) {
                Some(origin) => FunctionOwner::Component(origin.to_string()),
                None => FunctionOwner::Application,
            }
        };
        return Err(clash(
            origin,
            spec,
            ExistingFunction {
                name: hit.name.clone(),
                arity: i16::try_from(hit.arity).unwrap_or(i16::MAX),
                owner,
            },
        ));
    }
    Ok(())
}

/// Refuses `new` when one of its functions would clash with one of
/// `existing`'s, by the rule [`check_clashes`] applies on a connection (the
/// same name, and the same arity or either variadic; table functions by
/// name). For components not registered on the connection at hand: the
/// pool's, and the ones `wasmudf_load` has reserved for a transaction that
/// has not ended.
pub(crate) fn check_against(new: &Component, existing: &Component) -> Result<()> {
    for spec in new.functions() {
        let is_table = spec.kind == FunctionKind::Table;
        let arity = spec.arity.as_sqlite();
        for other in existing.functions() {
            if (other.kind == FunctionKind::Table) != is_table
                || !spec.name.eq_ignore_ascii_case(&other.name)
            {
                continue;
            }
            let other_arity = other.arity.as_sqlite();
            if is_table || arity == -1 || other_arity == -1 || arity == other_arity {
                return Err(clash(
                    new.origin(),
                    spec,
                    ExistingFunction {
                        name: other.name.clone(),
                        arity: if is_table {
                            -1
                        } else {
                            i16::try_from(other_arity).unwrap_or(i16::MAX)
                        },
                        owner: FunctionOwner::Component(existing.origin().to_string()),
                    },
                ));
            }
        }
    }
    Ok(())
}

/// The error for `spec` of component `origin` clashing with `existing`.
fn clash(origin: &str, spec: &FunctionSpec, existing: ExistingFunction) -> Error {
    Error::NameClash {
        origin: origin.to_string(),
        name: spec.name.clone(),
        arity: spec.arity.as_sqlite() as i16,
        existing,
    }
}

/// Virtual-table modules SQLite itself may provide (bundled, or with the
/// usual compile options). SQLite registers some only when a query first
/// names them (`json_each`, the `pragma_*` tables), so they are missing
/// from `pragma_module_list` until then, and a module of that name
/// registered before would be found first. Any other module a connection
/// lists that no component registered is the application's.
const BUILTIN_MODULES: &[&str] = &[
    "json_each",
    "json_tree",
    "jsonb_each",
    "jsonb_tree",
    "fts3",
    "fts3tokenize",
    "fts4",
    "fts4aux",
    "fts5",
    "fts5vocab",
    "rtree",
    "rtree_i32",
    "geopoly",
    "dbstat",
    "sqlite_dbpage",
    "sqlite_dbdata",
    "sqlite_dbptr",
    "sqlite_stmt",
    "generate_series",
    "carray",
    "bytecode",
    "tables_used",
    "completion",
];

/// Refuses a table function whose name is a virtual-table module the
/// connection has (`pragma_module_list`: the application's or another
/// component's) or SQLite's own ([`BUILTIN_MODULES`], and every name
/// starting `sqlite_` or `pragma_`), listed yet or not, or this library's
/// (`wasmudf_functions`, and every name starting `wasmudf_`): registering a
/// module of the same name replaces it, so a component could otherwise
/// take over `json_each` from every query.
fn check_module_clashes(
    origin: &str,
    functions: &[FunctionSpec],
    conn: &Connection,
    registry: &Registry,
) -> Result<()> {
    let tables: Vec<&FunctionSpec> = functions
        .iter()
        .filter(|f| f.kind == FunctionKind::Table)
        .collect();
    if tables.is_empty() {
        return Ok(());
    }
    let mut known = HashMap::new();
    let mut stmt = conn.prepare("SELECT name FROM pragma_module_list")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let name: String = row.get(0)?;
        known.insert(name.to_ascii_lowercase(), name);
    }
    for spec in tables {
        let lower = spec.name.to_ascii_lowercase();
        let builtin = lower.starts_with("sqlite_")
            || lower.starts_with("pragma_")
            || lower.starts_with("wasmudf_")
            || BUILTIN_MODULES.contains(&lower.as_str());
        let hit = match known.get(&lower) {
            Some(name) => name.clone(),
            None if builtin => lower.clone(),
            None => continue,
        };
        let owner = match registry.module_origin(&hit) {
            Some(origin) => FunctionOwner::Component(origin.to_string()),
            None if builtin => FunctionOwner::Builtin,
            None => FunctionOwner::Application,
        };
        return Err(clash(
            origin,
            spec,
            ExistingFunction {
                name: hit,
                arity: -1,
                owner,
            },
        ));
    }
    Ok(())
}

/// One registered function: which slot and which manifest index.
struct Target {
    slot: Slot,
    id: u32,
    name: Arc<str>,
    max_result: usize,
    /// The step batch's byte budget ([`step_batch_bytes`]).
    batch_bytes: usize,
    /// The replay log's byte budget (`aggregate::log_budget`).
    log_budget: usize,
    /// Whether scalar calls try the direct path first; cleared for good
    /// once the function needs the host (see [`crate::direct`]). Shared
    /// with the connection's `wasmudf_functions` table, which shows it.
    direct: Arc<AtomicBool>,
    /// Set once a component-path fast call of this function answered TEXT
    /// or BLOB (see [`finish_fast`]): numeric arguments then take `callN`.
    text_results: AtomicBool,
}

impl Target {
    fn error(&self, cause: CallErrorKind) -> rusqlite::Error {
        rusqlite::Error::UserFunctionError(Box::new(crate::call::reported(CallError {
            function: self.name.to_string(),
            cause,
        })))
    }

    fn result(
        &self,
        r: std::result::Result<crate::bindings::ValueResult, CallErrorKind>,
    ) -> rusqlite::Result<SqlValue> {
        let value = r.map_err(|cause| self.error(cause))?;
        from_guest(value, self.max_result).map_err(|size| {
            self.error(CallErrorKind::TooBig {
                size,
                limit: self.max_result,
            })
        })
    }

    /// The slot, for an aggregate callback.
    fn borrow_slot(&self) -> rusqlite::Result<SlotGuard<'_, InstanceSlot>> {
        self.slot.borrow().ok_or_else(|| self.error(slot_busy()))
    }

    /// The SQL error for `cause`, with the function's name.
    fn fail(&self, out: &Out, cause: CallErrorKind) {
        let error = crate::call::reported(CallError {
            function: self.name.to_string(),
            cause,
        });
        out.error(&error.to_string());
    }

    /// Hands a TEXT or BLOB over [`Target::max_result`] back as `TooBig`.
    fn check_size(&self, len: usize) -> std::result::Result<(), CallErrorKind> {
        if len > self.max_result {
            return Err(CallErrorKind::TooBig {
                size: len,
                limit: self.max_result,
            });
        }
        Ok(())
    }

    /// Puts a result lifted in place (still in guest memory) into SQLite.
    #[inline]
    fn put_borrowed(
        &self,
        out: &Out,
        value: Borrowed<'_>,
    ) -> std::result::Result<(), CallErrorKind> {
        match value {
            Borrowed::Null => out.null(),
            Borrowed::Integer(i) => out.integer(i),
            Borrowed::Real(r) => out.real(r),
            Borrowed::Text(t) => {
                self.check_size(t.len())?;
                out.text(t);
            }
            Borrowed::Blob(b) => {
                self.check_size(b.len())?;
                out.blob(b);
            }
        }
        Ok(())
    }

    /// Puts a result the component path lifted into SQLite.
    fn put_owned(&self, out: &Out, value: ValueResult) -> std::result::Result<(), CallErrorKind> {
        match &value {
            ValueResult::Null => self.put_borrowed(out, Borrowed::Null),
            ValueResult::Integer(i) => self.put_borrowed(out, Borrowed::Integer(*i)),
            ValueResult::Real(r) => self.put_borrowed(out, Borrowed::Real(*r)),
            ValueResult::Text(t) => self.put_borrowed(out, Borrowed::Text(t)),
            ValueResult::Blob(b) => self.put_borrowed(out, Borrowed::Blob(b)),
        }
    }

    /// A scalar call: on the direct path when it can, else through the
    /// component. The result, or the SQL error, goes into `out`.
    fn scalar(&self, args: &[ValueRef<'_>], out: &Out) {
        let Some(mut slot) = self.slot.borrow() else {
            return self.fail(out, slot_busy());
        };
        let mut budget = None;
        if args.len() <= MAX_DIRECT_ARGS && self.direct.load(Ordering::Relaxed) {
            let id = self.id;
            let numbers_fast = !self.text_results.load(Ordering::Relaxed);
            let take = |answer: Answer<'_>| match answer {
                Ok(value) => {
                    // Numbers answered with TEXT or BLOB came through
                    // `take-result`, a second crossing: use `callN` next
                    // time.
                    if numbers_fast
                        && matches!(value, Borrowed::Text(_) | Borrowed::Blob(_))
                        && args.iter().all(|a| to_number(*a).is_some())
                    {
                        self.text_results.store(true, Ordering::Relaxed);
                    }
                    Ok(self.put_borrowed(out, value))
                }
                Err(message) => Err(message.to_string()),
            };
            // A retry keeps what the direct attempt left of the call's
            // deadline and fuel.
            budget = match slot.call_direct(|s, d| d.scalar(s, id, args, numbers_fast, take)) {
                Direct::Done(r) => {
                    drop(slot);
                    if let Err(cause) = r.and_then(|put| put) {
                        self.fail(out, cause);
                    }
                    return;
                }
                Direct::NeedsHost(left) => {
                    self.direct.store(false, Ordering::Relaxed);
                    Some(left)
                }
                Direct::Retry(left) => left,
            };
        }
        slot.release_orphans();
        let r = self.component_scalar(&mut slot, args, budget);
        drop(slot);
        if let Err(cause) = r.and_then(|value| self.put_owned(out, value)) {
            self.fail(out, cause);
        }
    }

    /// A scalar call through the component. One to three NULL or numeric
    /// arguments take the fast entry points (one crossing, no allocation,
    /// no post-return); other small calls use the fixed-arity exports,
    /// which lower no list.
    fn component_scalar(
        &self,
        slot: &mut InstanceSlot,
        args: &[ValueRef<'_>],
        budget: Option<Budget>,
    ) -> std::result::Result<ValueResult, CallErrorKind> {
        let id = self.id;
        let raw = |i: usize| args.get(i).copied().unwrap_or(ValueRef::Null);
        let arg = |i| to_guest(raw(i));
        let fast = !self.text_results.load(Ordering::Relaxed);
        let num = |i| if fast { to_number(raw(i)) } else { None };
        let text_results = &self.text_results;
        match args.len() {
            0 => slot.call_within(budget, |s, u| u.call0(s, id)),
            1 => match num(0) {
                Some(a) => slot.call_within(budget, |s, u| {
                    let g = u;
                    let fast = g.fast1(&mut *s, id, a)?;
                    finish_fast(fast, text_results, || g.take_result(s))
                }),
                None => {
                    let a = arg(0);
                    slot.call_within(budget, |s, u| u.call1(s, id, a))
                }
            },
            2 => match (num(0), num(1)) {
                (Some(a), Some(b)) => slot.call_within(budget, |s, u| {
                    let g = u;
                    let fast = g.fast2(&mut *s, id, a, b)?;
                    finish_fast(fast, text_results, || g.take_result(s))
                }),
                _ => {
                    let (a, b) = (arg(0), arg(1));
                    slot.call_within(budget, |s, u| u.call2(s, id, a, b))
                }
            },
            3 => match (num(0), num(1), num(2)) {
                (Some(a), Some(b), Some(c)) => slot.call_within(budget, |s, u| {
                    let g = u;
                    let fast = g.fast3(&mut *s, id, a, b, c)?;
                    finish_fast(fast, text_results, || g.take_result(s))
                }),
                _ => {
                    let (a, b, c) = (arg(0), arg(1), arg(2));
                    slot.call_within(budget, |s, u| u.call3(s, id, a, b, c))
                }
            },
            _ => {
                let args: Vec<ValueParam<'_>> = args.iter().map(|a| to_guest(*a)).collect();
                slot.call_within(budget, |s, u| u.call(s, id, &args))
            }
        }
    }
}

impl trampoline::Scalar for Target {
    #[inline]
    fn call(&self, args: &[ValueRef<'_>], out: &Out) {
        self.scalar(args, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Arity;

    fn scalar(name: &str, arity: Arity) -> FunctionSpec {
        FunctionSpec {
            name: name.into(),
            arity,
            kind: FunctionKind::Scalar,
            flags: crate::FunctionFlags::default(),
            returns: None,
            params: None,
            mergeable: false,
            columns: Vec::new(),
        }
    }

    /// What registering `spec` on `conn` clashes with, if anything.
    fn clash(conn: &Connection, spec: FunctionSpec) -> Option<(String, i16, ExistingFunction)> {
        let registry = registry(conn).expect("registry");
        match check_clashes("new.wasm", &[spec], conn, registry) {
            Ok(()) => None,
            Err(Error::NameClash {
                origin,
                name,
                arity,
                existing,
            }) => {
                assert_eq!(origin, "new.wasm");
                Some((name, arity, existing))
            }
            Err(e) => panic!("{e}"),
        }
    }

    fn existing(name: &str, arity: i16, owner: FunctionOwner) -> ExistingFunction {
        ExistingFunction {
            name: name.into(),
            arity,
            owner,
        }
    }

    #[test]
    fn a_variadic_function_clashes_with_any_builtin_of_its_name() -> anyhow::Result<()> {
        let conn = Connection::open_in_memory()?;
        let got = clash(&conn, scalar("ABS", Arity::Variadic));
        assert_eq!(
            got,
            Some(("ABS".into(), -1, existing("abs", 1, FunctionOwner::Builtin)))
        );
        // `sum` is a builtin aggregate (and window function).
        let (_, _, hit) = clash(&conn, scalar("sum", Arity::Variadic)).expect("sum");
        assert_eq!(hit, existing("sum", 1, FunctionOwner::Builtin));
        // `substr` has arities 2 and 3; either is named.
        let (_, _, hit) = clash(&conn, scalar("substr", Arity::Variadic)).expect("substr");
        assert!(hit.arity == 2 || hit.arity == 3, "{hit}");
        assert_eq!(
            clash(&conn, scalar("no_such_builtin", Arity::Variadic)),
            None
        );
        Ok(())
    }

    #[test]
    fn a_fixed_arity_function_clashes_with_the_same_arity_or_a_variadic() -> anyhow::Result<()> {
        let conn = Connection::open_in_memory()?;
        // Same name and arity as a builtin.
        let (_, _, hit) = clash(&conn, scalar("Lower", Arity::Exactly(1))).expect("lower");
        assert_eq!(hit, existing("lower", 1, FunctionOwner::Builtin));
        // `max` and `printf` are variadic builtins: a two-argument `max`
        // would take `max(a, b)`.
        let (_, arity, hit) = clash(&conn, scalar("max", Arity::Exactly(2))).expect("max");
        assert_eq!(
            (arity, hit),
            (2, existing("max", -1, FunctionOwner::Builtin))
        );
        assert!(clash(&conn, scalar("printf", Arity::Exactly(0))).is_some());
        // A new arity of a fixed-arity builtin takes no existing call.
        assert_eq!(clash(&conn, scalar("round", Arity::Exactly(3))), None);
        assert_eq!(clash(&conn, scalar("abs", Arity::Exactly(2))), None);
        Ok(())
    }

    #[test]
    fn a_clash_names_the_component_or_the_application_that_registered_it() -> anyhow::Result<()> {
        let conn = Connection::open_in_memory()?;
        let flags = SqlFlags::SQLITE_UTF8;
        conn.create_scalar_function("app_fn", -1, flags, |_| Ok(0))?;
        conn.create_scalar_function("comp_fn", -1, flags, |_| Ok(0))?;
        registry(&conn)?.record("Comp_Fn", -1, &Arc::from("earlier.wasm"));
        let (_, _, hit) = clash(&conn, scalar("APP_FN", Arity::Exactly(3))).expect("app");
        assert_eq!(hit, existing("app_fn", -1, FunctionOwner::Application));
        let (_, _, hit) = clash(&conn, scalar("comp_fn", Arity::Exactly(1))).expect("comp");
        assert_eq!(
            hit,
            existing(
                "comp_fn",
                -1,
                FunctionOwner::Component("earlier.wasm".into())
            )
        );
        let message = Error::NameClash {
            origin: "new.wasm".into(),
            name: "comp_fn".into(),
            arity: 1,
            existing: hit,
        }
        .to_string();
        assert_eq!(
            message,
            "new.wasm: function `comp_fn` (arity 1) clashes with `comp_fn` (variadic) of \
             component earlier.wasm already registered on this connection"
        );
        Ok(())
    }

    #[test]
    fn a_slot_is_lent_to_one_callback_at_a_time() {
        let cell = SlotCell::new(1u32);
        let mut first = cell.borrow().expect("a free slot");
        *first += 1;
        assert!(
            cell.borrow().is_none(),
            "a second borrow while the first lives"
        );
        drop(first);
        let again = cell.borrow().expect("the slot is free again");
        assert_eq!(*again, 2);
    }

    #[test]
    fn the_step_batch_budget_follows_the_memory_limit() {
        assert_eq!(step_batch_bytes(64 << 20), STEP_BATCH_BYTES);
        assert_eq!(step_batch_bytes(1 << 20), 64 << 10);
        assert_eq!(step_batch_bytes(0), 1);
    }

    #[test]
    fn untrusted_functions_are_direct_only_and_never_innocuous() {
        let spec = FunctionSpec {
            name: "f".into(),
            arity: Arity::Exactly(1),
            kind: FunctionKind::Scalar,
            returns: None,
            params: None,
            mergeable: false,
            columns: Vec::new(),
            flags: crate::FunctionFlags {
                deterministic: true,
                innocuous: true,
                direct_only: false,
            },
        };
        let untrusted = sqlite_flags(&spec, false);
        assert!(untrusted.contains(SqlFlags::SQLITE_DIRECTONLY));
        assert!(!untrusted.contains(SqlFlags::SQLITE_INNOCUOUS));
        let trusted = sqlite_flags(&spec, true);
        assert!(!trusted.contains(SqlFlags::SQLITE_DIRECTONLY));
        assert!(trusted.contains(SqlFlags::SQLITE_INNOCUOUS));
        assert!(trusted.contains(SqlFlags::SQLITE_DETERMINISTIC));
    }
}
