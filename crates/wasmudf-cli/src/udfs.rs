//! Which components a session loads, and the async database they are
//! registered on.

use anyhow::{Context, Result};
use wasmudf::{Component, Database, Engine};

use crate::SessionArgs;
use crate::output::safe;

/// Compiles the components named by `--udf` (files or folders), or the
/// embedded example guests when there are none.
pub(crate) fn load(engine: &Engine, args: &SessionArgs) -> Result<Vec<Component>> {
    let mut components = Vec::new();
    if args.udfs.is_empty() {
        for (name, bytes) in wasmudf_test_guests::EXAMPLES {
            components.push(engine.load(&format!("<example {name}>"), bytes)?);
        }
    }
    for path in &args.udfs {
        components.extend(load_path(engine, path)?);
    }
    Ok(components
        .into_iter()
        .map(|c| c.trusted(args.trusted))
        .collect())
}

/// A component file, or every component in a folder. A folder's `.wasm`
/// entries that cannot be loaded (a directory, a dangling link) are named
/// on stderr; other files are passed over quietly.
pub(crate) fn load_path(engine: &Engine, path: &std::path::Path) -> Result<Vec<Component>> {
    if !path.is_dir() {
        return Ok(vec![engine.load_file(path)?]);
    }
    let loaded = engine.load_dir_report(path)?;
    for skipped in &loaded.skipped {
        if skipped.reason != wasmudf::SkipReason::NotWasm {
            eprintln!(
                "note: skipped {}: {}",
                safe(&skipped.path.display().to_string()),
                safe(&skipped.reason.to_string())
            );
        }
    }
    Ok(loaded.components)
}

/// The engine for a session's limits.
pub(crate) fn engine(args: &SessionArgs) -> Result<Engine> {
    let builder = Engine::builder()
        .limits(args.limits())
        .max_component_bytes(args.max_component_mib.saturating_mul(1 << 20));
    build_cached(builder, args.no_cache)
}

/// Builds `builder` with the on-disk cache of compiled components
/// (`$XDG_CACHE_HOME/wasmudf`) unless `no_cache`.
pub(crate) fn build_cached(mut builder: wasmudf::EngineBuilder, no_cache: bool) -> Result<Engine> {
    if !no_cache && let Some(dir) = wasmudf::default_cache_dir() {
        builder = builder.cache_dir(dir);
    }
    let engine = builder.build()?;
    // An unusable cache (a read-only home, a directory others can write)
    // costs compile time, not correctness: say so and carry on.
    if let status @ wasmudf::CacheStatus::Refused { .. } = engine.cache_status() {
        eprintln!(
            "warning: {}; compiling every component (--no-cache silences this)",
            safe(&status.to_string())
        );
    }
    Ok(engine)
}

/// Opens the session's database, a pool of `--threads` connections, each
/// with every component registered.
pub(crate) async fn open(args: &SessionArgs, components: &[Component]) -> Result<Database> {
    let timeout = args.query_timeout_ms.map(std::time::Duration::from_millis);
    open_database(args.db.as_deref(), components, args.threads, timeout).await
}

/// Opens the database file at `path` (an in-memory database when `None`)
/// as a pool of `pool_size` connections with `components` registered.
pub(crate) async fn open_database(
    path: Option<&std::path::Path>,
    components: &[Component],
    pool_size: usize,
    query_timeout: Option<std::time::Duration>,
) -> Result<Database> {
    let mut builder = Database::builder()
        .components(components.iter().cloned())
        .pool_size(pool_size);
    if let Some(path) = path {
        builder = builder.path(path);
    }
    if let Some(timeout) = query_timeout {
        builder = builder.query_timeout(timeout);
    }
    builder.open().await.with_context(|| match path {
        Some(path) => format!("opening database {}", safe(&path.display().to_string())),
        None => "opening the in-memory database".to_string(),
    })
}

/// A multi-thread runtime whose blocking pool steps the statements.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}
