//! Table-valued functions: each one an eponymous-only virtual table
//! (rusqlite's `vtab`), so `SELECT * FROM split('a,b', ',')` and joins
//! such as `FROM t, split(t.csv, ',')` work.
//!
//! The declared columns come first, then one `HIDDEN` column per argument
//! (`arg1`, `arg2`, ...): SQLite passes a table-valued function's arguments
//! as equality constraints on its hidden columns, in order, and
//! [`WasmTable::best_index`] asks for all of them. The guest's `cursor` for
//! one call lives in the SQLite cursor, that is, with the statement: a
//! statement stepped on one thread and then another (the async pool's
//! `RowStream`) reads on from the same guest cursor. Rows come a batch at a
//! time, each batch one guest call with the function's limits (deadline,
//! fuel, memory, result size); a cancelled query stops at the next batch,
//! and SQLite closing the cursor drops the guest's, so rows nobody reads
//! are not computed.
//!
//! rusqlite's `vtab` callbacks do not catch panics, and a panic unwinding
//! out of an `extern "C"` function aborts the process, so every method here
//! runs inside [`guarded`].

use std::borrow::Cow;
use std::ffi::{CStr, CString};
use std::marker::PhantomData;
use std::os::raw::c_int;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use rusqlite::ffi;
use rusqlite::functions::FunctionFlags as SqlFlags;
use rusqlite::types::Value as SqlValue;
use rusqlite::vtab::{
    Context, Filters, IndexConstraintOp, IndexInfo, Module, VTab, VTabConfig, VTabConnection,
    VTabCursor, escape_double_quote, sqlite3_vtab, sqlite3_vtab_cursor,
};
use wasmtime::component::ResourceAny;

use super::{Slot, slot_busy};
use crate::call::{CallError, CallErrorKind};
use crate::manifest::FunctionSpec;
use crate::value::{from_guest, owned_to_guest, to_owned};

/// The first batch a cursor asks the guest for: small, so `LIMIT 1` or an
/// `EXISTS` costs little.
const FIRST_BATCH_ROWS: u32 = 16;

/// Each later batch doubles, up to this many rows.
const MAX_BATCH_ROWS: u32 = 1024;

/// What every connection's virtual table of one table function shares.
pub(crate) struct TableFunction {
    slot: Slot,
    id: u32,
    name: Arc<str>,
    /// The declared result columns; the arguments come after them.
    width: usize,
    arity: usize,
    max_result: usize,
    /// Refuse use from triggers and views (`SQLITE_VTAB_DIRECTONLY`).
    direct_only: bool,
    /// Allowed from an untrusted schema (`SQLITE_VTAB_INNOCUOUS`).
    innocuous: bool,
    /// The `CREATE TABLE` statement the module declares: the columns, then
    /// the arguments as hidden columns.
    declaration: CString,
}

impl TableFunction {
    /// Table function `id` of `spec`, registered with the function `flags`
    /// the other kinds get; `None` for what the manifest check refuses (a
    /// variadic table function, a name with NUL).
    pub(crate) fn new(
        spec: &FunctionSpec,
        slot: Slot,
        id: u32,
        max_result: usize,
        flags: SqlFlags,
    ) -> Option<TableFunction> {
        let crate::Arity::Exactly(arity) = spec.arity else {
            return None;
        };
        let arity = usize::from(arity);
        let columns = spec
            .columns
            .iter()
            .map(|c| format!("\"{}\"", escape_double_quote(c)))
            .chain((0..arity).map(|n| format!("\"{}\" HIDDEN", spec.hidden_column(n))));
        let declaration = CString::new(format!(
            "CREATE TABLE x({})",
            columns.collect::<Vec<_>>().join(", ")
        ))
        .ok()?;
        Some(TableFunction {
            slot,
            id,
            name: spec.name.as_str().into(),
            width: spec.columns.len(),
            arity,
            max_result,
            direct_only: flags.contains(SqlFlags::SQLITE_DIRECTONLY),
            innocuous: flags.contains(SqlFlags::SQLITE_INNOCUOUS),
            declaration,
        })
    }

    fn error(&self, cause: CallErrorKind) -> rusqlite::Error {
        let code = match cause {
            CallErrorKind::Interrupted => ffi::SQLITE_INTERRUPT,
            _ => ffi::SQLITE_ERROR,
        };
        let message = crate::call::reported(CallError {
            function: self.name.to_string(),
            cause,
        })
        .to_string();
        rusqlite::Error::SqliteFailure(ffi::Error::new(code), Some(message))
    }
}

/// The module every table function's virtual table is made by; each
/// registration passes its own [`TableFunction`] as the module's aux data.
/// (A `const`, promoted to a `'static` where it is borrowed, as rusqlite's
/// own modules do: the table of C function pointers is not `Sync`.)
const MODULE: Module<'static, WasmTable> = Module::eponymous_only_module();

/// Registers `function` on `conn` as an eponymous virtual table of its
/// name.
pub(crate) fn create(conn: &rusqlite::Connection, function: TableFunction) -> rusqlite::Result<()> {
    let name = function.name.clone();
    conn.create_module(&*name, &MODULE, Some(Arc::new(function)))
}

/// Removes the table function `name` from `conn`: a module registered with
/// no methods is SQLite's way to drop one (rusqlite has no call for it).
/// SQLite counts the references its statements hold to the old module and
/// frees it (and our [`TableFunction`]) after the last.
pub(crate) fn remove(conn: &rusqlite::Connection, name: &str) -> rusqlite::Result<()> {
    let name = CString::new(name).map_err(|_| {
        rusqlite::Error::ModuleError(format!("table function name with NUL: {name:?}"))
    })?;
    // SAFETY: the handle is this connection's, used on this thread while
    // `conn` is borrowed; SQLite copies the name; a NULL module, aux and
    // destructor are what `sqlite3_create_module_v2` documents for removal.
    let rc = unsafe {
        ffi::sqlite3_create_module_v2(
            conn.handle(),
            name.as_ptr(),
            std::ptr::null(),
            std::ptr::null_mut(),
            None,
        )
    };
    if rc == ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(rusqlite::Error::SqliteFailure(ffi::Error::new(rc), None))
    }
}

/// [`super::vtab_guarded`], for this module's callbacks.
fn guarded<R>(f: impl FnOnce() -> rusqlite::Result<R>) -> rusqlite::Result<R> {
    super::vtab_guarded("a table function", f)
}

/// One connection's virtual table of one table function.
#[repr(C)]
pub(crate) struct WasmTable {
    /// SQLite's part; first, as SQLite casts to and from it.
    base: sqlite3_vtab,
    function: Arc<TableFunction>,
}

// SAFETY: `WasmTable` is `repr(C)` with `sqlite3_vtab` first, as the trait
// requires; rusqlite allocates and frees it.
unsafe impl<'vtab> VTab<'vtab> for WasmTable {
    type Aux = Arc<TableFunction>;
    type Cursor = WasmCursor<'vtab>;

    fn connect(
        db: &mut VTabConnection,
        aux: Option<&Arc<TableFunction>>,
        _module: &[u8],
        _database: &[u8],
        _table: &[u8],
        _args: &[&[u8]],
    ) -> rusqlite::Result<(Cow<'static, CStr>, Self)> {
        guarded(|| {
            let function = super::vtab_aux(aux, "table function")?;
            if function.direct_only {
                db.config(VTabConfig::DirectOnly)?;
            } else if function.innocuous {
                db.config(VTabConfig::Innocuous)?;
            }
            let declaration = Cow::Owned(function.declaration.clone());
            Ok((
                declaration,
                WasmTable {
                    base: sqlite3_vtab::default(),
                    function,
                },
            ))
        })
    }

    /// Asks for every argument as an equality constraint on its hidden
    /// column. Without one SQLite cannot call the function: when some
    /// argument has no constraint at all the call gave too few arguments
    /// (an error naming the function); when one is there but not usable
    /// yet (a join whose other table is not in the outer loop), the plan
    /// is refused so SQLite tries another order.
    fn best_index(&self, info: &mut IndexInfo) -> rusqlite::Result<bool> {
        guarded(|| {
            let f = &self.function;
            let first_arg = f.width as c_int;
            let mut usable: Vec<Option<usize>> = vec![None; f.arity];
            let mut given = vec![false; f.arity];
            for (i, c) in info.constraints().enumerate() {
                let Some(arg) = c
                    .column()
                    .checked_sub(first_arg)
                    .and_then(|a| usize::try_from(a).ok())
                    .filter(|&a| a < f.arity)
                else {
                    continue;
                };
                given[arg] = true;
                if c.is_usable()
                    && c.operator() == IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_EQ
                    && usable[arg].is_none()
                {
                    usable[arg] = Some(i);
                }
            }
            if given.iter().any(|g| !g) {
                let got = given.iter().filter(|g| **g).count();
                return Err(f.error(CallErrorKind::Usage(format!(
                    "expected {} argument{}, got {got}",
                    f.arity,
                    if f.arity == 1 { "" } else { "s" }
                ))));
            }
            let Some(order) = usable.into_iter().collect::<Option<Vec<usize>>>() else {
                return Ok(false);
            };
            for (arg, constraint) in order.into_iter().enumerate() {
                let mut usage = info.constraint_usage(constraint);
                usage.set_argv_index(arg as c_int + 1);
                usage.set_omit(true);
            }
            info.set_estimated_cost(10.0);
            info.set_estimated_rows(100);
            Ok(true)
        })
    }

    fn open(&'vtab mut self) -> rusqlite::Result<WasmCursor<'vtab>> {
        guarded(|| {
            Ok(WasmCursor {
                base: sqlite3_vtab_cursor::default(),
                function: self.function.clone(),
                args: Vec::new(),
                guest: None,
                batch: Vec::new(),
                row: 0,
                rows: 0,
                done: true,
                next_batch: FIRST_BATCH_ROWS,
                rowid: 0,
                _table: PhantomData,
            })
        })
    }
}

/// One scan of a table function: one guest cursor per `xFilter` call.
#[repr(C)]
pub(crate) struct WasmCursor<'vtab> {
    /// SQLite's part; first, as SQLite casts to and from it.
    base: sqlite3_vtab_cursor,
    function: Arc<TableFunction>,
    /// The arguments of the current call, read back by the hidden columns.
    args: Vec<SqlValue>,
    /// The guest's cursor and the generation of the instance it lives in.
    guest: Option<(ResourceAny, u64)>,
    /// The current batch, row after row.
    batch: Vec<SqlValue>,
    /// The current row within `batch`.
    row: usize,
    /// The rows in `batch`.
    rows: usize,
    /// The guest said it has no more rows.
    done: bool,
    /// How many rows the next batch asks for.
    next_batch: u32,
    rowid: i64,
    _table: PhantomData<&'vtab WasmTable>,
}

impl WasmCursor<'_> {
    /// Drops the guest cursor of the last call, if any (its destructor runs
    /// now, or at a later call on an interrupted connection).
    fn close_guest(&mut self) {
        if let Some((handle, generation)) = self.guest.take()
            && let Some(mut slot) = self.function.slot.borrow()
        {
            slot.release(handle, generation);
        }
        // Without the slot (never, as callbacks of one connection do not
        // nest), the handle goes with its instance.
    }

    /// Fetches the next batch from the guest into `batch`.
    fn fetch(&mut self) -> rusqlite::Result<()> {
        let f = self.function.clone();
        self.batch.clear();
        self.row = 0;
        self.rows = 0;
        let Some((handle, generation)) = self.guest else {
            self.done = true;
            return Ok(());
        };
        let max_rows = self.next_batch;
        self.next_batch = self.next_batch.saturating_mul(2).min(MAX_BATCH_ROWS);
        let values = {
            let mut slot = f.slot.borrow().ok_or_else(|| f.error(slot_busy()))?;
            // Before the check: a destructor that traps replaces the
            // instance.
            slot.release_orphans();
            if slot.generation() != generation {
                // Its instance was replaced after a trap in another call.
                self.guest = None;
                return Err(f.error(CallErrorKind::StateLost));
            }
            let values = slot.call(|s, u| u.cursor_next(s, handle, max_rows));
            if slot.generation() != generation {
                // This call trapped: the guest cursor went with the
                // instance.
                self.guest = None;
            }
            values
        };
        let values = values.map_err(|cause| f.error(cause))?;
        let width = f.width;
        if values.len() % width != 0 || values.len() / width > max_rows as usize {
            return Err(f.error(CallErrorKind::Usage(format!(
                "a batch of {} values is not at most {max_rows} rows of {width} column{}",
                values.len(),
                if width == 1 { "" } else { "s" }
            ))));
        }
        self.rows = values.len() / width;
        self.done = self.rows == 0;
        for value in values {
            let value = from_guest(value, f.max_result).map_err(|size| {
                f.error(CallErrorKind::TooBig {
                    size,
                    limit: f.max_result,
                })
            })?;
            self.batch.push(value);
        }
        Ok(())
    }
}

impl Drop for WasmCursor<'_> {
    fn drop(&mut self) {
        // `drop` runs in SQLite's `xClose`; nothing may unwind out of it.
        let _ = catch_unwind(AssertUnwindSafe(|| self.close_guest()));
    }
}

// SAFETY: `WasmCursor` is `repr(C)` with `sqlite3_vtab_cursor` first, as
// the trait requires; rusqlite allocates and frees it.
unsafe impl VTabCursor for WasmCursor<'_> {
    fn filter(
        &mut self,
        _idx_num: c_int,
        _idx_str: Option<&str>,
        args: &Filters<'_>,
    ) -> rusqlite::Result<()> {
        guarded(|| {
            self.close_guest();
            let f = self.function.clone();
            self.args = args.iter().map(to_owned).collect();
            self.rowid = 0;
            self.next_batch = FIRST_BATCH_ROWS;
            if self.args.len() != f.arity {
                return Err(f.error(CallErrorKind::Usage(format!(
                    "expected {} arguments, got {}",
                    f.arity,
                    self.args.len()
                ))));
            }
            let opened = {
                let mut slot = f.slot.borrow().ok_or_else(|| f.error(slot_busy()))?;
                slot.release_orphans();
                let params: Vec<_> = self.args.iter().map(owned_to_guest).collect();
                let id = f.id;
                slot.recycle_if_due();
                let opened = slot.call(|s, u| u.cursor_open(s, id, &params));
                if opened.is_ok() {
                    // A cursor is a resource handle like an accumulator:
                    // counted against the instance's handle table.
                    slot.accumulator_created();
                }
                opened.map(|handle| (handle, slot.generation()))
            };
            self.guest = Some(opened.map_err(|cause| f.error(cause))?);
            self.done = false;
            self.fetch()?;
            if self.rows > 0 {
                self.rowid = 1;
            }
            Ok(())
        })
    }

    fn next(&mut self) -> rusqlite::Result<()> {
        guarded(|| {
            self.row += 1;
            self.rowid += 1;
            if self.row >= self.rows && !self.done {
                self.fetch()?;
            }
            if self.row >= self.rows && self.done {
                // Free the guest's state now, not when SQLite closes us.
                self.close_guest();
            }
            Ok(())
        })
    }

    fn eof(&self) -> bool {
        self.row >= self.rows
    }

    fn column(&self, ctx: &mut Context, i: c_int) -> rusqlite::Result<()> {
        guarded(|| {
            let f = &self.function;
            let i = usize::try_from(i).unwrap_or(usize::MAX);
            let width = f.width;
            let value = if i < width {
                self.batch.get(self.row * width + i)
            } else {
                self.args.get(i - width)
            };
            match value {
                Some(v) => ctx.set_result(v),
                None => ctx.set_result(&SqlValue::Null),
            }
        })
    }

    fn rowid(&self) -> rusqlite::Result<i64> {
        Ok(self.rowid)
    }
}
