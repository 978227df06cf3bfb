//! Shared helpers for the integration tests in `it/`.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use rusqlite::Connection;
use wasmudf::{Component, Engine};

/// One engine for the whole test binary, as an embedder would have.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::new().expect("default engine builds"))
}

/// The compiled component for a guest crate, compiled once per test binary.
pub fn component(name: &str) -> Component {
    static CACHE: OnceLock<Mutex<HashMap<String, Component>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(c) = cache.lock().expect("cache lock").get(name) {
        return c.clone();
    }
    let path = wasmudf_test_guests::ALL
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no guest named {name}"))
        .1;
    let compiled = engine()
        .load_file(path)
        .unwrap_or_else(|e| panic!("loading {name}: {e}"));
    cache
        .lock()
        .expect("cache lock")
        .insert(name.to_string(), compiled.clone());
    compiled
}

/// An in-memory connection with the named guests registered.
pub fn conn_with(guests: &[&str]) -> anyhow::Result<Connection> {
    let conn = Connection::open_in_memory()?;
    for g in guests {
        component(g).register(&conn)?;
    }
    Ok(conn)
}

/// The single value of a one-row, one-column query.
pub fn scalar(conn: &Connection, sql: &str) -> rusqlite::Result<rusqlite::types::Value> {
    conn.query_row(sql, [], |row| row.get(0))
}
