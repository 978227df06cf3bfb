//! A statement in progress that can move between threads between steps.
//!
//! rusqlite's `Rows` borrows its `Statement`, which borrows its
//! `Connection`, so none of them can be kept across an `.await` on their
//! own. A [`Cursor`] owns all three, with the connection and statement
//! boxed at fixed addresses, and is `Send` as a whole: SQLite (built
//! threadsafe) allows a connection and its statements to be used from any
//! thread as long as one thread uses them at a time, which `&mut self`
//! guarantees. This is what lets successive steps of one statement run on
//! different blocking-pool threads.

use std::ptr::NonNull;
use std::sync::Arc;

use rusqlite::types::Value;
use rusqlite::{Rows, Statement};

use super::pool::Lease;
use super::row::Row;

pub(crate) struct Cursor {
    // Field order is drop order: rows, then statement, then lease; `Drop`
    // below makes that explicit for the raw parts.
    rows: Option<Rows<'static>>,
    stmt: NonNull<Statement<'static>>,
    lease: NonNull<Lease>,
    columns: Arc<[String]>,
    done: bool,
}

// SAFETY: see the module comment. The lease (and so the connection), the
// statement and the rows are only reachable through `&mut Cursor`, so they
// are never used from two threads at once, and SQLite's serialized
// threading mode (rusqlite's bundled default) allows a connection to be
// used from whichever thread holds it.
unsafe impl Send for Cursor {}

impl Cursor {
    /// Prepares `sql` on the leased connection, binds `params` and starts
    /// the query. Blocking.
    pub(crate) fn start(lease: Lease, sql: &str, params: &[Value]) -> rusqlite::Result<Cursor> {
        let lease = NonNull::from(Box::leak(Box::new(lease)));
        // SAFETY: `lease` points to a live boxed `Lease` that this cursor
        // frees last (see `Drop`); the `'static` borrow never outlives it.
        let conn: &'static rusqlite::Connection = unsafe { lease.as_ref() }.conn();
        let prepared = conn.prepare(sql).and_then(|mut stmt| {
            for (i, value) in params.iter().enumerate() {
                stmt.raw_bind_parameter(i + 1, value)?;
            }
            Ok(stmt)
        });
        let stmt = match prepared {
            Ok(stmt) => NonNull::from(Box::leak(Box::new(stmt))),
            Err(err) => {
                // SAFETY: nothing borrows the lease any more.
                drop(unsafe { Box::from_raw(lease.as_ptr()) });
                return Err(err);
            }
        };
        // SAFETY: as above, for the boxed statement.
        let stmt_ref: &'static mut Statement<'static> = unsafe { &mut *stmt.as_ptr() };
        let columns: Arc<[String]> = stmt_ref.column_names().map(String::from).collect();
        let rows = stmt_ref.raw_query();
        Ok(Cursor {
            rows: Some(rows),
            stmt,
            lease,
            columns,
            done: false,
        })
    }

    /// Steps up to `max` rows. Returns them and whether the statement is
    /// finished. Blocking.
    pub(crate) fn fetch(&mut self, max: usize) -> rusqlite::Result<(Vec<Row>, bool)> {
        let mut out = Vec::with_capacity(max.min(256));
        if let Some(rows) = self.rows.as_mut() {
            while out.len() < max {
                match rows.next() {
                    Ok(Some(row)) => out.push(Row::read(&self.columns, row)?),
                    Ok(None) => {
                        self.done = true;
                        break;
                    }
                    Err(err) => {
                        self.done = true;
                        self.rows = None;
                        self.lease().settle();
                        return Err(err);
                    }
                }
            }
        } else {
            self.done = true;
        }
        if self.done {
            // Reset now, so the statement holds no read lock while the
            // cursor waits to be dropped; then what `wasmudf_load` loaded
            // in it is settled before the last rows reach the caller.
            self.rows = None;
            self.lease().settle();
        }
        Ok((out, self.done))
    }
}

impl Cursor {
    /// The lease the cursor runs on.
    pub(crate) fn lease(&self) -> &Lease {
        // SAFETY: the lease is alive for as long as the cursor.
        unsafe { self.lease.as_ref() }
    }
}

impl Drop for Cursor {
    fn drop(&mut self) {
        self.rows = None;
        // SAFETY: both pointers came from `Box::leak` in `start` and are
        // freed exactly once, statement before the connection it borrows.
        unsafe {
            drop(Box::from_raw(self.stmt.as_ptr()));
            drop(Box::from_raw(self.lease.as_ptr()));
        }
    }
}
