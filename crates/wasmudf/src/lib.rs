//! Sandboxed WebAssembly user-defined functions for SQLite that run on any
//! thread.
//!
//! A UDF is a WebAssembly component targeting the `wasmudf:udf` WIT world.
//! An [`Engine`] compiles it once into a [`Component`], which is shared by
//! every thread; [`Component::register`] adds its scalar, aggregate and
//! window functions to a [`rusqlite::Connection`]. SQLite may then call them
//! from whichever thread steps a statement: a guest has no thread affinity,
//! and its state travels with the connection and the statement.
//!
//! ```no_run
//! # fn main() -> anyhow::Result<()> {
//! use rusqlite::Connection;
//!
//! let engine = wasmudf::Engine::new()?;
//! let stats = engine.load_file("guests/stats.wasm")?;
//! let conn = Connection::open_in_memory()?;
//! stats.register(&conn)?;
//! let median: f64 = conn.query_row(
//!     "SELECT median_of(x) FROM (SELECT 1 AS x UNION ALL SELECT 5 UNION ALL SELECT 2)",
//!     [],
//!     |row| row.get(0),
//! )?;
//! assert_eq!(median, 2.0);
//! # Ok(())
//! # }
//! ```
//!
//! Guest failures keep their meaning all the way to SQL: a guest's own
//! error, a trap, a deadline, fuel or memory limit each becomes a SQL error
//! whose message names the function and the cause ([`CallError`]). The
//! connection stays usable, and an instance that trapped is replaced.
#![deny(missing_docs)]

mod batch;
mod bindings;
mod cache;
mod call;
mod capture;
mod clock;
mod column;
mod component;
mod database;
mod direct;
mod engine;
mod error;
mod files;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod guest_text;
mod instance;
mod interrupt;
mod limits;
mod manifest;
mod precheck;
mod register;
mod sandbox;
mod trampoline;
mod value;

pub use bindings::WitVersion;
pub use cache::{CacheStatus, default_cache_dir, default_cache_secret_file};
pub use call::{CallError, CallErrorKind};
pub use column::{Column, ColumnRef, Value};
pub use component::Component;
pub use database::{Database, DatabaseBuilder, PoolStats, Row, RowStream, ToParams, Transaction};
pub use engine::{CallPhase, DirLoad, Engine, EngineBuilder, InstanceStats};
pub use error::{Error, ExistingFunction, FunctionOwner, Result};
pub use files::{DirScan, SkipReason, Skipped};
pub use guest_text::{MAX_GUEST_MESSAGE_BYTES, escape_controls};
pub use instance::{Accumulator, Instance};
pub use interrupt::Interrupt;
pub use limits::Limits;
pub use manifest::{Arity, FunctionFlags, FunctionKind, FunctionSpec, MAX_ARITY, ValueType};
pub use sandbox::DirGrant;

// Re-exported so embedders use the same rusqlite as the library.
pub use rusqlite;

/// The README's Rust examples, compiled by `cargo test` as doc tests so
/// that they stay true to the API.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
