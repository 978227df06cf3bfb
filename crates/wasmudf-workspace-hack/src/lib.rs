//! No code. This crate's dependency list pins features of crates the main
//! workspace and the Ballista workspace share; see its Cargo.toml.
