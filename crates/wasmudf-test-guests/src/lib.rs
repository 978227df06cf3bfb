//! The guests of `guests/`, compiled to `wasm32-wasip2` components by this
//! crate's build script.
//!
//! Each guest crate `guests/<name>` (and `guests/hostile/<name>`) gets a
//! constant `<NAME>` holding the path of its `.wasm` file; [`ALL`] lists
//! them, [`EXAMPLES`] embeds the example guests the CLI loads by default,
//! and `foreach_guest!` expands a macro once per guest.

include!(concat!(env!("OUT_DIR"), "/guests.rs"));
