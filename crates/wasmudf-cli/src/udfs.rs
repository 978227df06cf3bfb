//! Which components a session loads, and the connection they are
//! registered on.

use anyhow::{Context, Result};
use rusqlite::Connection;
use wasmudf::{Component, Engine};

use crate::SessionArgs;

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
        if path.is_dir() {
            components.extend(engine.load_dir(path)?);
        } else {
            components.push(engine.load_file(path)?);
        }
    }
    Ok(components
        .into_iter()
        .map(|c| c.trusted(args.trusted))
        .collect())
}

/// The engine for a session's limits.
pub(crate) fn engine(args: &SessionArgs) -> Result<Engine> {
    Ok(Engine::builder().limits(args.limits()).build()?)
}

/// Opens the session's database with every component registered.
pub(crate) fn open(args: &SessionArgs, components: &[Component]) -> Result<Connection> {
    let conn = match &args.db {
        Some(path) => Connection::open(path)
            .with_context(|| format!("opening database {}", path.display()))?,
        None => Connection::open_in_memory()?,
    };
    // A schema must not call functions it was not given explicitly.
    conn.pragma_update(None, "trusted_schema", "OFF")?;
    for c in components {
        c.register(&conn)
            .with_context(|| format!("registering {}", c.origin()))?;
    }
    Ok(conn)
}
