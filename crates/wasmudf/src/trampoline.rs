//! SQLite's C entry point for scalar functions, written over
//! `rusqlite::ffi` instead of `Connection::create_scalar_function`.
//!
//! # Why not rusqlite's
//!
//! rusqlite's trampoline hands the closure a `Context` and takes an owned
//! `ToSql` result. A TEXT or BLOB result the guest leaves in its memory
//! would then be copied into a host `String` or `Vec`, and copied again by
//! SQLite; and its per-call machinery (argument views re-read on every
//! access, the result conversion) is a measurable share of a call that
//! costs about 100 ns in all. Here arguments are read once off the
//! `sqlite3_value`s, and a result is handed to SQLite straight from guest
//! memory with `SQLITE_TRANSIENT`: SQLite copies it once, before the guest
//! may free it.
//!
//! # What it imitates
//!
//! rusqlite's `call_boxed_closure`: the callback is boxed as the function's
//! user data and freed by `xDestroy` (which SQLite also runs when
//! registration fails); a panic is caught before it reaches C and becomes a
//! SQL error; an error result is `sqlite3_result_error` with the error's
//! text. [`value_ref`] reads a value as `rusqlite::types::ValueRef` does.
//! The tests below register the same function both ways and compare what
//! each sees and returns, so a drift from rusqlite shows.

use std::ffi::{CString, c_int, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};

use rusqlite::Connection;
use rusqlite::ffi;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::ValueRef;

/// Where a scalar call puts its result: the `sqlite3_context` of the call.
///
/// Each setter replaces what an earlier one set, as SQLite's do, so a
/// call that set a result and then failed can still report the error.
pub(crate) struct Out(*mut ffi::sqlite3_context);

impl Out {
    #[inline]
    pub(crate) fn null(&self) {
        // SAFETY: `self.0` is the live context of the current call.
        unsafe { ffi::sqlite3_result_null(self.0) }
    }

    #[inline]
    pub(crate) fn integer(&self, i: i64) {
        // SAFETY: as above.
        unsafe { ffi::sqlite3_result_int64(self.0, i) }
    }

    #[inline]
    pub(crate) fn real(&self, r: f64) {
        // SAFETY: as above.
        unsafe { ffi::sqlite3_result_double(self.0, r) }
    }

    /// TEXT, copied by SQLite before this returns.
    #[inline]
    pub(crate) fn text(&self, text: &str) {
        // SAFETY: as above; SQLITE_TRANSIENT makes SQLite copy the bytes
        // now, so `text` need not outlive the call. A `str`'s pointer is
        // never null, so empty text stays empty text rather than NULL.
        unsafe {
            ffi::sqlite3_result_text64(
                self.0,
                text.as_ptr().cast(),
                text.len() as u64,
                ffi::SQLITE_TRANSIENT(),
                ffi::SQLITE_UTF8 as u8,
            )
        }
    }

    /// A BLOB, copied by SQLite before this returns.
    #[inline]
    pub(crate) fn blob(&self, blob: &[u8]) {
        // SAFETY: as for `text`; a slice's pointer is never null, so an
        // empty BLOB stays a BLOB.
        unsafe {
            ffi::sqlite3_result_blob64(
                self.0,
                blob.as_ptr().cast(),
                blob.len() as u64,
                ffi::SQLITE_TRANSIENT(),
            )
        }
    }

    /// A SQL error with `message` as its text.
    pub(crate) fn error(&self, message: &str) {
        let len = c_int::try_from(message.len()).unwrap_or(c_int::MAX);
        // SAFETY: as above; SQLite copies `len` bytes of `message`.
        unsafe { ffi::sqlite3_result_error(self.0, message.as_ptr().cast(), len) }
    }
}

/// Reads one argument as `rusqlite::types::ValueRef::from_value` does.
/// `None` when SQLite could not produce the bytes of a TEXT or BLOB (out of
/// memory).
///
/// # Safety
///
/// `value` must be an argument of the call in progress; the result must
/// not outlive that call.
#[inline]
unsafe fn value_ref<'a>(value: *mut ffi::sqlite3_value) -> Option<ValueRef<'a>> {
    // SAFETY: the caller's promise; each accessor is called as SQLite
    // documents (the pointer before the length).
    unsafe {
        Some(match ffi::sqlite3_value_type(value) {
            ffi::SQLITE_INTEGER => ValueRef::Integer(ffi::sqlite3_value_int64(value)),
            ffi::SQLITE_FLOAT => ValueRef::Real(ffi::sqlite3_value_double(value)),
            ffi::SQLITE_TEXT => {
                let ptr = ffi::sqlite3_value_text(value);
                let len = ffi::sqlite3_value_bytes(value);
                if ptr.is_null() {
                    return None;
                }
                ValueRef::Text(std::slice::from_raw_parts(ptr, len.max(0) as usize))
            }
            ffi::SQLITE_BLOB => {
                let ptr = ffi::sqlite3_value_blob(value);
                let len = ffi::sqlite3_value_bytes(value);
                if len <= 0 {
                    ValueRef::Blob(&[])
                } else if ptr.is_null() {
                    return None;
                } else {
                    ValueRef::Blob(std::slice::from_raw_parts(ptr.cast(), len as usize))
                }
            }
            _ => ValueRef::Null,
        })
    }
}

/// The arguments of one call, read once. Up to [`INLINE_ARGS`] are kept
/// without allocating.
pub(crate) enum Args<'a> {
    Inline([ValueRef<'a>; INLINE_ARGS], usize),
    Heap(Vec<ValueRef<'a>>),
}

/// Arguments read into [`Args`] without a heap allocation.
pub(crate) const INLINE_ARGS: usize = 3;

impl<'a> Args<'a> {
    /// # Safety
    ///
    /// `argv` holds `argc` arguments of the call in progress.
    unsafe fn read(argc: c_int, argv: *mut *mut ffi::sqlite3_value) -> Option<Args<'a>> {
        let n = argc.max(0) as usize;
        let raw: &[*mut ffi::sqlite3_value] = if n == 0 || argv.is_null() {
            &[]
        } else {
            // SAFETY: the caller's promise.
            unsafe { std::slice::from_raw_parts(argv, n) }
        };
        if raw.len() <= INLINE_ARGS {
            let mut inline = [ValueRef::Null; INLINE_ARGS];
            for (slot, value) in inline.iter_mut().zip(raw) {
                // SAFETY: an argument of this call.
                *slot = unsafe { value_ref(*value) }?;
            }
            Some(Args::Inline(inline, raw.len()))
        } else {
            // SAFETY: as above.
            raw.iter()
                .map(|value| unsafe { value_ref(*value) })
                .collect::<Option<_>>()
                .map(Args::Heap)
        }
    }

    #[inline]
    pub(crate) fn as_slice(&self) -> &[ValueRef<'a>] {
        match self {
            Args::Inline(values, n) => &values[..*n],
            Args::Heap(values) => values,
        }
    }
}

/// A scalar function's body: the arguments, and where its result goes.
pub(crate) trait Scalar: Send + 'static {
    fn call(&self, args: &[ValueRef<'_>], out: &Out);
}

/// Registers `f` as scalar function `name` on `conn`.
pub(crate) fn create_scalar<F: Scalar>(
    conn: &Connection,
    name: &str,
    arity: c_int,
    flags: FunctionFlags,
    f: F,
) -> rusqlite::Result<()> {
    let c_name = CString::new(name).map_err(rusqlite::Error::NulError)?;
    let boxed: *mut F = Box::into_raw(Box::new(f));
    // SAFETY: the handle is the connection's own, used on the thread that
    // holds `conn`; `boxed` is freed by `destroy::<F>`, which SQLite calls
    // when the function is replaced or the connection closes, and also when
    // this call fails.
    let rc = unsafe {
        ffi::sqlite3_create_function_v2(
            conn.handle(),
            c_name.as_ptr(),
            arity,
            flags.bits(),
            boxed.cast::<c_void>(),
            Some(call::<F>),
            None,
            None,
            Some(destroy::<F>),
        )
    };
    if rc == ffi::SQLITE_OK {
        return Ok(());
    }
    // SAFETY: as above; the message is copied before the next call.
    let message = unsafe {
        let text = ffi::sqlite3_errmsg(conn.handle());
        (!text.is_null()).then(|| {
            std::ffi::CStr::from_ptr(text)
                .to_string_lossy()
                .into_owned()
        })
    };
    Err(rusqlite::Error::SqliteFailure(ffi::Error::new(rc), message))
}

unsafe extern "C" fn call<F: Scalar>(
    ctx: *mut ffi::sqlite3_context,
    argc: c_int,
    argv: *mut *mut ffi::sqlite3_value,
) {
    let out = Out(ctx);
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: SQLite passes the user data it was given at
        // registration, a live `F` until `destroy` runs, and the call's
        // arguments.
        let f = unsafe { &*ffi::sqlite3_user_data(ctx).cast::<F>() };
        match unsafe { Args::read(argc, argv) } {
            Some(args) => f.call(args.as_slice(), &out),
            // SAFETY: the live context.
            None => unsafe { ffi::sqlite3_result_error_nomem(ctx) },
        }
    }));
    if outcome.is_err() {
        out.error("wasmudf: internal error: a panic was caught in a scalar function");
    }
}

unsafe extern "C" fn destroy<F>(p: *mut c_void) {
    if !p.is_null() {
        // SAFETY: `p` is the box `create_scalar` leaked, freed once.
        drop(unsafe { Box::from_raw(p.cast::<F>()) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::types::Value;

    /// Echoes its argument back, and records what it saw.
    struct Echo;

    impl Scalar for Echo {
        fn call(&self, args: &[ValueRef<'_>], out: &Out) {
            match args.first().copied().unwrap_or(ValueRef::Null) {
                ValueRef::Null => out.null(),
                ValueRef::Integer(i) => out.integer(i),
                ValueRef::Real(r) => out.real(r),
                ValueRef::Text(t) => match std::str::from_utf8(t) {
                    Ok(t) => out.text(t),
                    Err(_) => out.blob(t),
                },
                ValueRef::Blob(b) => out.blob(b),
            }
        }
    }

    /// Each value the tests send through both trampolines.
    const CASES: &[&str] = &[
        "NULL",
        "0",
        "-9223372036854775808",
        "1.5",
        "-0.0",
        "''",
        "'héllo'",
        "x''",
        "x'00ff'",
        "CAST(x'ff' AS TEXT)",
        "zeroblob(3)",
    ];

    #[test]
    fn arguments_and_results_are_what_rusqlite_gives() -> anyhow::Result<()> {
        let conn = Connection::open_in_memory()?;
        let flags = FunctionFlags::SQLITE_UTF8;
        create_scalar(&conn, "ours", 1, flags, Echo)?;
        conn.create_scalar_function("theirs", 1, flags, |ctx| {
            Ok(match ctx.get_raw(0) {
                ValueRef::Text(t) => match std::str::from_utf8(t) {
                    Ok(t) => Value::Text(t.into()),
                    Err(_) => Value::Blob(t.to_vec()),
                },
                ValueRef::Null => Value::Null,
                ValueRef::Integer(i) => Value::Integer(i),
                ValueRef::Real(r) => Value::Real(r),
                ValueRef::Blob(b) => Value::Blob(b.to_vec()),
            })
        })?;
        for case in CASES {
            let sql = format!("SELECT ours({case}), theirs({case}), typeof(ours({case}))");
            let (ours, theirs, ty): (Value, Value, String) =
                conn.query_row(&sql, [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            assert_eq!(ours, theirs, "{case}");
            let want = match theirs {
                Value::Null => "null",
                Value::Integer(_) => "integer",
                Value::Real(_) => "real",
                Value::Text(_) => "text",
                Value::Blob(_) => "blob",
            };
            assert_eq!(ty, want, "{case}");
        }
        Ok(())
    }

    struct Fails;

    impl Scalar for Fails {
        fn call(&self, args: &[ValueRef<'_>], out: &Out) {
            if args.len() == 2 {
                panic!("a bug");
            }
            out.integer(1);
            out.error("f: it went wrong");
        }
    }

    #[test]
    fn errors_and_panics_become_sql_errors() -> anyhow::Result<()> {
        let conn = Connection::open_in_memory()?;
        create_scalar(&conn, "f", -1, FunctionFlags::SQLITE_UTF8, Fails)?;
        let err = conn
            .query_row("SELECT f(1)", [], |r| r.get::<_, i64>(0))
            .expect_err("an error");
        assert!(err.to_string().contains("f: it went wrong"), "{err}");
        let err = conn
            .query_row("SELECT f(1, 2)", [], |r| r.get::<_, i64>(0))
            .expect_err("a caught panic");
        assert!(err.to_string().contains("a panic was caught"), "{err}");
        // The connection is still usable, and the function can be replaced
        // (its box freed) and called again.
        create_scalar(&conn, "f", -1, FunctionFlags::SQLITE_UTF8, Echo)?;
        let v: i64 = conn.query_row("SELECT f(7)", [], |r| r.get(0))?;
        assert_eq!(v, 7);
        Ok(())
    }

    #[test]
    fn many_arguments_are_read_too() -> anyhow::Result<()> {
        struct Count;
        impl Scalar for Count {
            fn call(&self, args: &[ValueRef<'_>], out: &Out) {
                let sum: i64 = args.iter().filter_map(|a| a.as_i64().ok()).sum();
                out.integer(sum * 1000 + args.len() as i64);
            }
        }
        let conn = Connection::open_in_memory()?;
        create_scalar(&conn, "count_args", -1, FunctionFlags::SQLITE_UTF8, Count)?;
        let v: i64 = conn.query_row("SELECT count_args(1, 2, 3, 4, 'x')", [], |r| r.get(0))?;
        assert_eq!(v, 10_005);
        let v: i64 = conn.query_row("SELECT count_args()", [], |r| r.get(0))?;
        assert_eq!(v, 0);
        Ok(())
    }
}
