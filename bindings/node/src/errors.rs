//! Why an operation failed, and the `Error` object JavaScript sees.
//!
//! Every error has a stable `code`:
//!
//! | code | when |
//! |---|---|
//! | `ERR_WASMUDF_GUEST` | a UDF returned its own error (`guestMessage`) |
//! | `ERR_WASMUDF_TRAP` | a UDF trapped (`guestMessage`: the trap and its stderr line) |
//! | `ERR_WASMUDF_DEADLINE` | a UDF call ran past `timeoutMs` |
//! | `ERR_WASMUDF_FUEL` | a UDF call used up its `fuel` |
//! | `ERR_WASMUDF_MEMORY` | a UDF grew its memory past `memoryMib` (`ERR_WASMUDF_TABLE_LIMIT`: a table past its cap) |
//! | `ERR_WASMUDF_STACK_OVERFLOW` | a UDF overflowed its wasm stack |
//! | `ERR_WASMUDF_RESULT_TOO_BIG` | a UDF returned more than `maxResultMib` |
//! | `ERR_WASMUDF_STATE_LOST`, `..._INSTANTIATE`, `..._CALL` | the rarer call failures |
//! | `ERR_WASMUDF_QUERY_TIMEOUT` | the statement ran past `queryTimeoutMs` |
//! | `ABORT_ERR` (name `AbortError`) | the operation's `AbortSignal` fired |
//! | `ERR_WASMUDF_CLOSED` | the database is closed |
//! | `ERR_WASMUDF_TRANSACTION_OPEN` | an operation left a transaction open (rolled back) |
//! | `ERR_WASMUDF_POOL_HELD` | open iterators hold every connection of the pool |
//! | `ERR_WASMUDF_LOAD`, `..._NAME_CLASH`, `..._NOT_LOADED`, `..._IO` | loading or unloading a component |
//! | `ERR_WASMUDF_JS_BUILD` | building a JavaScript UDF module failed |
//! | `ERR_WASMUDF_BIND` | a parameter name or count does not fit the statement |
//! | `SQLITE_*` | SQLite's own error, by its (extended) result code name, with `errcode` and `errstr` |
//! | `ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE`, `ERR_OUT_OF_RANGE` | a bad argument (TypeError / RangeError) |
//!
//! UDF errors also carry `function` (the SQL function's name) and, for a
//! guest error or trap, `guestMessage`. Text a guest chose is escaped
//! (control characters as `\u{..}`) in every property, as in the message.

use std::sync::Arc;

use napi::sys;
use wasmudf::rusqlite;
use wasmudf::{CallErrorKind, escape_controls};

use crate::raw::{self, ErrorClass, Raw};

/// An operation's failure, carried from wherever it happened to the
/// JavaScript thread, where it becomes an `Error` object.
#[derive(Debug, Clone)]
pub(crate) enum Failure {
    /// From the host library.
    Db(Arc<wasmudf::Error>),
    /// The operation's `AbortSignal` fired.
    Aborted,
    /// A bad argument, or any error of our own with a code.
    Coded {
        class: ErrorClass,
        code: &'static str,
        message: String,
    },
}

impl From<wasmudf::Error> for Failure {
    fn from(err: wasmudf::Error) -> Self {
        Failure::Db(Arc::new(err))
    }
}

impl From<rusqlite::Error> for Failure {
    fn from(err: rusqlite::Error) -> Self {
        Failure::Db(Arc::new(wasmudf::Error::Sqlite(err)))
    }
}

impl Failure {
    pub(crate) fn coded(code: &'static str, message: String) -> Failure {
        Failure::Coded {
            class: ErrorClass::Error,
            code,
            message,
        }
    }

    pub(crate) fn type_error(code: &'static str, message: String) -> Failure {
        Failure::Coded {
            class: ErrorClass::TypeError,
            code,
            message,
        }
    }

    pub(crate) fn range_error(code: &'static str, message: String) -> Failure {
        Failure::Coded {
            class: ErrorClass::RangeError,
            code,
            message,
        }
    }

    pub(crate) fn closed() -> Failure {
        Failure::coded("ERR_WASMUDF_CLOSED", "the database is closed".to_string())
    }

    /// A Node-API call that failed (rare: out of memory, a termination).
    pub(crate) fn from_napi(err: napi::Error) -> Failure {
        Failure::coded("ERR_WASMUDF_NODE_API", err.reason.clone())
    }

    /// Prefixes a conversion error with which parameter it was about.
    pub(crate) fn in_parameter(self, which: &str) -> Failure {
        match self {
            Failure::Coded {
                class,
                code,
                message,
            } => Failure::Coded {
                class,
                code,
                message: format!("{which}: {message}"),
            },
            other => other,
        }
    }

    /// The JavaScript `Error` for this failure. `abort_reason` is the
    /// signal's `reason`, made the `cause` of an `AbortError`.
    pub(crate) fn to_js(&self, env: sys::napi_env, abort_reason: Option<Raw>) -> napi::Result<Raw> {
        match self {
            Failure::Aborted => {
                let err = raw::error(
                    env,
                    ErrorClass::Error,
                    "ABORT_ERR",
                    "The operation was aborted",
                )?;
                let name = raw::string(env, "AbortError")?;
                raw::set_named(env, err, "name", name)?;
                if let Some(reason) = abort_reason {
                    raw::set_named(env, err, "cause", reason)?;
                }
                Ok(err)
            }
            Failure::Coded {
                class,
                code,
                message,
            } => raw::error(env, *class, code, message),
            Failure::Db(err) => db_error(env, err),
        }
    }
}

/// The `Error` for a host-library error.
fn db_error(env: sys::napi_env, err: &wasmudf::Error) -> napi::Result<Raw> {
    // Every message of the library escapes guest text already.
    let message = err.to_string();
    match err {
        wasmudf::Error::Call(call) => {
            let object = raw::error(env, ErrorClass::Error, call_code(&call.cause), &message)?;
            let function = raw::string(env, &escape_controls(&call.function))?;
            raw::set_named(env, object, "function", function)?;
            let guest = match &call.cause {
                CallErrorKind::Guest(text) | CallErrorKind::Trap(text) => Some(text),
                _ => None,
            };
            if let Some(text) = guest {
                let text = raw::string(env, &escape_controls(text))?;
                raw::set_named(env, object, "guestMessage", text)?;
            }
            Ok(object)
        }
        wasmudf::Error::Sqlite(sqlite) => sqlite_error(env, sqlite, &message),
        wasmudf::Error::Interrupted => {
            raw::error(env, ErrorClass::Error, "ERR_WASMUDF_INTERRUPTED", &message)
        }
        wasmudf::Error::Timeout(_) => raw::error(
            env,
            ErrorClass::Error,
            "ERR_WASMUDF_QUERY_TIMEOUT",
            &message,
        ),
        wasmudf::Error::Closed => {
            raw::error(env, ErrorClass::Error, "ERR_WASMUDF_CLOSED", &message)
        }
        wasmudf::Error::NameClash { .. } => {
            raw::error(env, ErrorClass::Error, "ERR_WASMUDF_NAME_CLASH", &message)
        }
        wasmudf::Error::NotRegistered { .. } => {
            raw::error(env, ErrorClass::Error, "ERR_WASMUDF_NOT_LOADED", &message)
        }
        wasmudf::Error::Io { .. } => raw::error(env, ErrorClass::Error, "ERR_WASMUDF_IO", &message),
        wasmudf::Error::Config(_) => raw::error(
            env,
            ErrorClass::RangeError,
            "ERR_INVALID_ARG_VALUE",
            &message,
        ),
        wasmudf::Error::Panic(_) => {
            raw::error(env, ErrorClass::Error, "ERR_WASMUDF_PANIC", &message)
        }
        // NotWasm, CoreModule, TooLarge, OverLimit, Invalid, WrongWorld,
        // ForbiddenImport, Manifest, Instantiate, and whatever comes next.
        _ => raw::error(env, ErrorClass::Error, "ERR_WASMUDF_LOAD", &message),
    }
}

/// The code of a UDF's failure.
pub(crate) fn call_code(cause: &CallErrorKind) -> &'static str {
    match cause {
        CallErrorKind::Guest(_) => "ERR_WASMUDF_GUEST",
        CallErrorKind::Trap(_) => "ERR_WASMUDF_TRAP",
        CallErrorKind::Deadline => "ERR_WASMUDF_DEADLINE",
        CallErrorKind::Fuel => "ERR_WASMUDF_FUEL",
        // The limiter's own text (not the guest's): a table's growth past
        // its cap, else memory's.
        CallErrorKind::Resource(what) if what.starts_with("table") => "ERR_WASMUDF_TABLE_LIMIT",
        CallErrorKind::Resource(_) => "ERR_WASMUDF_MEMORY",
        CallErrorKind::StackOverflow => "ERR_WASMUDF_STACK_OVERFLOW",
        CallErrorKind::TooBig { .. } => "ERR_WASMUDF_RESULT_TOO_BIG",
        CallErrorKind::Interrupted => "ERR_WASMUDF_INTERRUPTED",
        CallErrorKind::StateLost => "ERR_WASMUDF_STATE_LOST",
        CallErrorKind::Instantiate(_) => "ERR_WASMUDF_INSTANTIATE",
        _ => "ERR_WASMUDF_CALL",
    }
}

/// The `Error` for a rusqlite error: SQLite's own failures by the name of
/// their result code, with `errcode` (the extended code) and `errstr`.
fn sqlite_error(env: sys::napi_env, err: &rusqlite::Error, message: &str) -> napi::Result<Raw> {
    let (code, errcode) = match err {
        rusqlite::Error::SqliteFailure(e, _) => {
            (result_code_name(e.extended_code), Some(e.extended_code))
        }
        rusqlite::Error::SqlInputError { error, .. } => (
            result_code_name(error.extended_code),
            Some(error.extended_code),
        ),
        rusqlite::Error::InvalidParameterName(_) | rusqlite::Error::InvalidParameterCount(..) => {
            ("ERR_WASMUDF_BIND", None)
        }
        rusqlite::Error::MultipleStatement => ("ERR_WASMUDF_MULTIPLE_STATEMENTS", None),
        _ => ("ERR_WASMUDF_SQLITE", None),
    };
    let class = if code == "ERR_WASMUDF_BIND" {
        ErrorClass::RangeError
    } else {
        ErrorClass::Error
    };
    let object = raw::error(env, class, code, message)?;
    if let Some(errcode) = errcode {
        raw::set_named(
            env,
            object,
            "errcode",
            raw::double(env, f64::from(errcode))?,
        )?;
        let errstr = rusqlite::ffi::code_to_str(errcode);
        raw::set_named(env, object, "errstr", raw::string(env, errstr)?)?;
    }
    Ok(object)
}

/// SQLite's name for a (possibly extended) result code, as `sqlite3.h`
/// spells it: `SQLITE_CONSTRAINT_UNIQUE`, or the primary code's name for
/// an extended code not listed here.
pub(crate) fn result_code_name(code: i32) -> &'static str {
    const EXTENDED: &[(i32, &str)] = &[
        (1 | (1 << 8), "SQLITE_ERROR_MISSING_COLLSEQ"),
        (1 | (2 << 8), "SQLITE_ERROR_RETRY"),
        (1 | (3 << 8), "SQLITE_ERROR_SNAPSHOT"),
        (5 | (1 << 8), "SQLITE_BUSY_RECOVERY"),
        (5 | (2 << 8), "SQLITE_BUSY_SNAPSHOT"),
        (5 | (3 << 8), "SQLITE_BUSY_TIMEOUT"),
        (6 | (1 << 8), "SQLITE_LOCKED_SHAREDCACHE"),
        (6 | (2 << 8), "SQLITE_LOCKED_VTAB"),
        (8 | (1 << 8), "SQLITE_READONLY_RECOVERY"),
        (8 | (2 << 8), "SQLITE_READONLY_CANTLOCK"),
        (8 | (3 << 8), "SQLITE_READONLY_ROLLBACK"),
        (8 | (4 << 8), "SQLITE_READONLY_DBMOVED"),
        (8 | (5 << 8), "SQLITE_READONLY_CANTINIT"),
        (8 | (6 << 8), "SQLITE_READONLY_DIRECTORY"),
        (9 | (2 << 8), "SQLITE_ABORT_ROLLBACK"),
        (14 | (1 << 8), "SQLITE_CANTOPEN_NOTEMPDIR"),
        (14 | (2 << 8), "SQLITE_CANTOPEN_ISDIR"),
        (14 | (3 << 8), "SQLITE_CANTOPEN_FULLPATH"),
        (14 | (4 << 8), "SQLITE_CANTOPEN_CONVPATH"),
        (14 | (6 << 8), "SQLITE_CANTOPEN_SYMLINK"),
        (11 | (1 << 8), "SQLITE_CORRUPT_VTAB"),
        (11 | (2 << 8), "SQLITE_CORRUPT_SEQUENCE"),
        (11 | (3 << 8), "SQLITE_CORRUPT_INDEX"),
        (19 | (1 << 8), "SQLITE_CONSTRAINT_CHECK"),
        (19 | (2 << 8), "SQLITE_CONSTRAINT_COMMITHOOK"),
        (19 | (3 << 8), "SQLITE_CONSTRAINT_FOREIGNKEY"),
        (19 | (4 << 8), "SQLITE_CONSTRAINT_FUNCTION"),
        (19 | (5 << 8), "SQLITE_CONSTRAINT_NOTNULL"),
        (19 | (6 << 8), "SQLITE_CONSTRAINT_PRIMARYKEY"),
        (19 | (7 << 8), "SQLITE_CONSTRAINT_TRIGGER"),
        (19 | (8 << 8), "SQLITE_CONSTRAINT_UNIQUE"),
        (19 | (9 << 8), "SQLITE_CONSTRAINT_VTAB"),
        (19 | (10 << 8), "SQLITE_CONSTRAINT_ROWID"),
        (19 | (11 << 8), "SQLITE_CONSTRAINT_PINNED"),
        (19 | (12 << 8), "SQLITE_CONSTRAINT_DATATYPE"),
        (27 | (1 << 8), "SQLITE_NOTICE_RECOVER_WAL"),
        (27 | (2 << 8), "SQLITE_NOTICE_RECOVER_ROLLBACK"),
        (28 | (1 << 8), "SQLITE_WARNING_AUTOINDEX"),
        (100 | (1 << 8), "SQLITE_OK_LOAD_PERMANENTLY"),
    ];
    const PRIMARY: [&str; 29] = [
        "SQLITE_OK",
        "SQLITE_ERROR",
        "SQLITE_INTERNAL",
        "SQLITE_PERM",
        "SQLITE_ABORT",
        "SQLITE_BUSY",
        "SQLITE_LOCKED",
        "SQLITE_NOMEM",
        "SQLITE_READONLY",
        "SQLITE_INTERRUPT",
        "SQLITE_IOERR",
        "SQLITE_CORRUPT",
        "SQLITE_NOTFOUND",
        "SQLITE_FULL",
        "SQLITE_CANTOPEN",
        "SQLITE_PROTOCOL",
        "SQLITE_EMPTY",
        "SQLITE_SCHEMA",
        "SQLITE_TOOBIG",
        "SQLITE_CONSTRAINT",
        "SQLITE_MISMATCH",
        "SQLITE_MISUSE",
        "SQLITE_NOLFS",
        "SQLITE_AUTH",
        "SQLITE_FORMAT",
        "SQLITE_RANGE",
        "SQLITE_NOTADB",
        "SQLITE_NOTICE",
        "SQLITE_WARNING",
    ];
    if let Some((_, name)) = EXTENDED.iter().find(|(c, _)| *c == code) {
        return name;
    }
    match code & 0xff {
        100 => "SQLITE_ROW",
        101 => "SQLITE_DONE",
        primary => PRIMARY
            .get(primary as usize)
            .copied()
            .unwrap_or("SQLITE_ERROR"),
    }
}

#[cfg(test)]
mod tests {
    use super::result_code_name;

    #[test]
    fn result_codes_are_named_as_sqlite_names_them() {
        use wasmudf::rusqlite::ffi;
        assert_eq!(result_code_name(ffi::SQLITE_ERROR), "SQLITE_ERROR");
        assert_eq!(
            result_code_name(ffi::SQLITE_CONSTRAINT_UNIQUE),
            "SQLITE_CONSTRAINT_UNIQUE"
        );
        assert_eq!(
            result_code_name(ffi::SQLITE_CONSTRAINT_FUNCTION),
            "SQLITE_CONSTRAINT_FUNCTION"
        );
        assert_eq!(
            result_code_name(ffi::SQLITE_BUSY_TIMEOUT),
            "SQLITE_BUSY_TIMEOUT"
        );
        assert_eq!(result_code_name(ffi::SQLITE_READONLY), "SQLITE_READONLY");
        assert_eq!(result_code_name(ffi::SQLITE_IOERR_READ), "SQLITE_IOERR");
        assert_eq!(result_code_name(ffi::SQLITE_RANGE), "SQLITE_RANGE");
        assert_eq!(result_code_name(ffi::SQLITE_INTERRUPT), "SQLITE_INTERRUPT");
    }
}
