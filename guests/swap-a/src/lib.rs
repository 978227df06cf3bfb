//! Version `a` of the swap test component (see `guests/swap/README.md`).

/// Which version this is, in every answer.
pub const VERSION: &str = "a";

include!("../../swap/functions.rs");
