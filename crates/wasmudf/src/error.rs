//! The library's typed error.

use std::path::PathBuf;

use crate::guest_text::Escaped;

/// Everything that can go wrong when loading components or registering
/// their functions.
///
/// Errors raised *inside* SQL (a guest error, a trap, a limit hit while a
/// query runs) reach the caller as [`rusqlite::Error`]s whose message names
/// the function and the cause; see [`CallError`](crate::CallError).
///
/// Names a guest chose (imports, exports, manifest entries) are shown with
/// control characters escaped, as [`escape_controls`](crate::escape_controls)
/// does; the fields keep them raw.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not WebAssembly at all.
    #[error("{origin}: not a WebAssembly file ({detail})")]
    NotWasm {
        /// Where the bytes came from (a path, or `<bytes>`).
        origin: String,
        /// What was found instead.
        detail: String,
    },
    /// The bytes are a core WebAssembly module, not a component.
    #[error(
        "{origin}: this is a core WebAssembly module, not a component; build the guest for \
         wasm32-wasip2 (or with `cargo component build`)"
    )]
    CoreModule {
        /// Where the bytes came from.
        origin: String,
    },
    /// The file is larger than [`EngineBuilder::max_component_bytes`](crate::EngineBuilder::max_component_bytes).
    #[error("{origin}: component is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// Where the bytes came from.
        origin: String,
        /// The size found.
        size: u64,
        /// The configured cap.
        limit: u64,
    },
    /// The component is over one of the structural limits checked before it
    /// is compiled ([`Limits::max_wasm_functions`](crate::Limits::max_wasm_functions),
    /// [`max_code_bytes`](crate::Limits::max_code_bytes),
    /// [`max_function_locals`](crate::Limits::max_function_locals)).
    #[error("{origin}: refused before compiling: {detail}")]
    OverLimit {
        /// Where the bytes came from.
        origin: String,
        /// Which limit, what was found and how to raise it.
        detail: String,
    },
    /// The component is valid but failed to compile or validate.
    #[error("{origin}: invalid component: {detail}")]
    Invalid {
        /// Where the bytes came from.
        origin: String,
        /// The validator's or compiler's message.
        detail: String,
    },
    /// The component does not export the `wasmudf:udf/guest` interface at
    /// the version this host speaks.
    #[error("{origin}: {}", Escaped(detail))]
    WrongWorld {
        /// Where the bytes came from.
        origin: String,
        /// Which exports were expected and which were found.
        detail: String,
    },
    /// The component exports more than one version of the
    /// `wasmudf:udf/guest` interface (0.1.0 and 0.2.0, say). Each version
    /// could run different code, and which one a call reached would depend
    /// on the call path, so such a component is refused: a component
    /// exports exactly one.
    #[error(
        "{origin}: exports more than one version of `wasmudf:udf/guest` ({}); a component \
         must export exactly one, so that every call runs the same code",
        Escaped(&exports.join(", "))
    )]
    SeveralVersions {
        /// Where the bytes came from.
        origin: String,
        /// The interface exports found, e.g. `wasmudf:udf/guest@0.1.0`.
        exports: Vec<String>,
    },
    /// The component imports something the sandbox does not provide.
    #[error(
        "{origin}: imports `{}`, which the wasmudf sandbox does not provide",
        Escaped(import)
    )]
    ForbiddenImport {
        /// Where the bytes came from.
        origin: String,
        /// The import's name.
        import: String,
    },
    /// The component's manifest is not acceptable.
    #[error("{origin}: invalid manifest: {}", Escaped(detail))]
    Manifest {
        /// Where the bytes came from.
        origin: String,
        /// What is wrong, naming the function.
        detail: String,
    },
    /// A function would replace or shadow one the connection already has:
    /// the same name (compared ASCII case-insensitively, as SQLite does)
    /// and the same arity, or the same name where either side is variadic.
    /// [`Component::allow_override`](crate::Component::allow_override) lets
    /// an embedder register it anyway.
    #[error(
        "{origin}: function `{name}` ({}) clashes with {existing} already registered on this \
         connection",
        arity_text(*arity)
    )]
    NameClash {
        /// Where the new function's component came from.
        origin: String,
        /// The new function's SQL name, as its manifest spells it.
        name: String,
        /// The new function's arity (-1 for variadic).
        arity: i16,
        /// The function it clashes with.
        existing: ExistingFunction,
    },
    /// Instantiating the component, or running its manifest, failed.
    #[error("{origin}: failed to instantiate: {}", Escaped(detail))]
    Instantiate {
        /// Where the bytes came from.
        origin: String,
        /// The cause.
        detail: String,
    },
    /// Instantiating the component, or running its manifest, hit one of
    /// the instance's resource limits
    /// ([`Limits::max_memory_bytes`](crate::Limits::max_memory_bytes),
    /// [`max_table_elements`](crate::Limits::max_table_elements)): a
    /// refused growth the guest then trapped on, or an initial memory or
    /// table that does not fit.
    #[error("{origin}: failed to load: {detail}")]
    ResourceLimit {
        /// Where the bytes came from.
        origin: String,
        /// Which limit, what was asked and what is allowed.
        detail: String,
    },
    /// Reading a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The path that was read.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Engine configuration was rejected by wasmtime.
    #[error("invalid engine configuration: {0}")]
    Config(String),
    /// SQLite reported an error, including a UDF's error or trap raised
    /// inside a statement (see [`CallError`](crate::CallError)).
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// A component's function failed inside a statement run by a
    /// [`Database`](crate::Database): the guest's own error, a trap, or a
    /// limit (deadline, fuel, memory, result size), typed. Its message is
    /// the SQL error's, which names the function and the cause. (On a
    /// plain `rusqlite::Connection` the same failure is the
    /// [`Error::Sqlite`] SQLite reports, with that message.)
    #[error("{0}")]
    Call(crate::CallError),
    /// The query was cancelled: its future or stream was dropped, or it was
    /// interrupted, before it finished.
    #[error("query interrupted")]
    Interrupted,
    /// The query ran past the database's query timeout.
    #[error("query timed out after {0:?}")]
    Timeout(std::time::Duration),
    /// The database (or a transaction) is closed.
    #[error("database closed")]
    Closed,
    /// [`Database::replace_component`](crate::Database::replace_component)
    /// or [`remove_component`](crate::Database::remove_component) named a
    /// component the database does not have.
    #[error("{}: not a component of this database", Escaped(origin))]
    NotRegistered {
        /// The component's origin.
        origin: String,
    },
    /// `wasmudf_load` refused a load (the connection is behind the
    /// database's components, another connection is loading the same
    /// component), or the database's record of what it loaded
    /// (`wasmudf_loaded`) cannot be used: it is a view or a virtual table
    /// rather than the table `wasmudf_load` writes.
    #[error("{}", Escaped(detail))]
    SqlLoad {
        /// What is wrong.
        detail: String,
    },
    /// A blocking task panicked. This is a bug in wasmudf or in a callback
    /// the application registered; the connection it used was discarded.
    #[error("a blocking database task panicked: {0}")]
    Panic(String),
}

/// A function already registered on a connection, as named in
/// [`Error::NameClash`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingFunction {
    /// Its SQL name, as SQLite lists it.
    pub name: String,
    /// Its arity (-1 for variadic).
    pub arity: i16,
    /// Who registered it.
    pub owner: FunctionOwner,
}

/// Who registered an [`ExistingFunction`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FunctionOwner {
    /// SQLite itself: a builtin such as `abs` or `sum`.
    Builtin,
    /// A wasmudf component, named by its origin (its path, or the name
    /// given to [`Engine::load`](crate::Engine::load)).
    Component(String),
    /// Registered on the connection by anything but wasmudf: the
    /// application, or an extension SQLite registers on every connection
    /// (FTS5's `highlight`, R*Tree's `rtreecheck`, ...).
    Application,
}

impl std::fmt::Display for ExistingFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (name, arity) = (&self.name, arity_text(self.arity));
        match &self.owner {
            FunctionOwner::Builtin => write!(f, "SQLite's builtin `{name}` ({arity})"),
            FunctionOwner::Component(origin) => {
                write!(f, "`{name}` ({arity}) of component {origin}")
            }
            FunctionOwner::Application => write!(f, "the application's `{name}` ({arity})"),
        }
    }
}

/// `arity 2`, or `variadic` for -1.
fn arity_text(arity: i16) -> String {
    if arity < 0 {
        "variadic".to_string()
    } else {
        format!("arity {arity}")
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
