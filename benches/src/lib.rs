//! What wasmudf costs, measured side by side with SQLite builtins and native
//! rusqlite closures in the same process and run.
//!
//! The scenarios here are shared by the criterion benches
//! (`cargo bench -p wasmudf-benches`) and the `wasmudf bench` harness, so
//! both measure exactly the same queries.

pub mod harness;
pub mod in_datafusion;
pub mod languages;
pub mod native;
pub mod scenarios;

pub use scenarios::{Flavor, PER_ROW_CASES, PerRowCase, Table};
