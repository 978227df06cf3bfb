//! The same wasmudf components on an [Apache Ballista] cluster.
//!
//! Ballista sends plans between three roles: the client plans a query, the
//! scheduler splits it into stages, and executors run the stages' tasks.
//! A plain Ballista cluster knows a UDF by its name alone, so every process
//! would need the same functions registered by hand. Here a
//! [`WasmCodec`] writes each wasmudf function into the plan as its
//! component's SHA-256 and manifest index, with the component's bytes when
//! they are small enough to ship (see [`ComponentStore::ship_limit`]); the
//! receiving process looks the hash up in its own [`ComponentStore`] and
//! loads the shipped bytes, checked against the hash, when it lacks them.
//!
//! What is never serialised: trust, directory grants and limits. They are
//! each process's own policy, set on the [`wasmudf::Engine`] of its store.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use std::sync::Arc;
//! use wasmudf_ballista::{ComponentStore, connect};
//!
//! let store = Arc::new(ComponentStore::new(wasmudf::Engine::new()?, 4));
//! store.load_file("stats.wasm")?;
//! let ctx = connect("df://localhost:50050", store).await?;
//! ctx.sql("SELECT median_of(x) FROM (VALUES (1.0), (5.0), (3.0)) AS t(x)")
//!     .await?
//!     .show()
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! The `wasmudf-cluster` binary runs the two server roles
//! (`wasmudf-cluster scheduler`, `wasmudf-cluster executor --udf DIR`) and
//! the client (`wasmudf-cluster query --ballista df://HOST:PORT`).
//!
//! [Apache Ballista]: https://datafusion.apache.org/ballista/

mod codec;
mod store;

use std::sync::Arc;

use ballista::prelude::{SessionConfigExt, SessionContextExt};
use ballista_executor::executor_process::ExecutorProcessConfig;
use ballista_scheduler::config::SchedulerConfig;
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

pub use codec::WasmCodec;
pub use store::{ComponentStore, DEFAULT_SHIP_LIMIT, DEFAULT_SHIPPED_QUOTA};

/// What can go wrong loading components into a store or shipping them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or folder could not be read, its bytes are not a component
    /// this host loads, or its functions are named like DataFusion's
    /// builtins or another stored component's
    /// ([`wasmudf::Error::NameClash`]).
    #[error(transparent)]
    Load(#[from] wasmudf::Error),
    /// DataFusion refused the component's functions.
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
    /// A plan names a component this process does not have, without its
    /// bytes.
    #[error(
        "{function}: component {hash} is not in this process's component store and its bytes \
         were not shipped with the plan; put it in the folder given with --udf, or raise the \
         client's ship limit"
    )]
    NotInStore {
        /// The function the plan calls.
        function: String,
        /// The component's SHA-256, in hex.
        hash: String,
    },
    /// A component came with a plan that is larger than the store's quota
    /// of shipped components ([`ComponentStore::shipped_quota`]).
    #[error(
        "shipped component {hash} is {size} bytes, over this process's quota of {quota} bytes \
         for shipped components; put it in the folder given with --udf instead"
    )]
    OverQuota {
        /// The component's SHA-256, in hex.
        hash: String,
        /// Its size in bytes.
        size: usize,
        /// The store's quota.
        quota: usize,
    },
    /// Shipped bytes that do not hash to the hash they came with.
    #[error("{function}: shipped component bytes hash to {actual}, not to the declared {declared}")]
    HashMismatch {
        /// The function the plan calls.
        function: String,
        /// The hash the plan declared.
        declared: String,
        /// The hash of the bytes that came.
        actual: String,
    },
}

/// `config` with the codec of `store` installed for the plans a Ballista
/// client sends.
pub fn client_config(config: SessionConfig, store: &Arc<ComponentStore>) -> SessionConfig {
    let codec = Arc::new(WasmCodec::new(store.clone()));
    config
        .with_ballista_logical_extension_codec(codec.clone())
        .with_ballista_physical_extension_codec(codec)
}

/// A session on the Ballista scheduler at `url` (`df://HOST:PORT`), with
/// every function of `store` registered and shipped through its codec.
///
/// # Errors
///
/// The URL does not parse, or DataFusion refuses a function (one named
/// like a builtin: [`wasmudf::Error::NameClash`]).
pub async fn connect(url: &str, store: Arc<ComponentStore>) -> Result<SessionContext, Error> {
    let config = client_config(SessionConfig::new_with_ballista(), &store);
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .build();
    let ctx = SessionContext::remote_with_state(url, state).await?;
    // Ballista rebuilds the state it is given and drops custom functions
    // on the way; they go back on the context it returns.
    store.register(&ctx)?;
    Ok(ctx)
}

/// A scheduler configuration whose plans decode and encode wasmudf
/// functions through `store`.
pub fn scheduler_config(config: SchedulerConfig, store: &Arc<ComponentStore>) -> SchedulerConfig {
    let codec = Arc::new(WasmCodec::new(store.clone()));
    let mut config = config;
    config.override_logical_codec = Some(codec.clone());
    config.override_physical_codec = Some(codec);
    config
}

/// An executor configuration whose tasks decode wasmudf functions through
/// `store`.
pub fn executor_config(
    config: ExecutorProcessConfig,
    store: &Arc<ComponentStore>,
) -> ExecutorProcessConfig {
    let codec = Arc::new(WasmCodec::new(store.clone()));
    let mut config = config;
    config.override_logical_codec = Some(codec.clone());
    config.override_physical_codec = Some(codec);
    config
}
