//! Version `b` of the swap test component (see `guests/swap/README.md`).

/// Which version this is, in every answer.
pub const VERSION: &str = "b";

include!("../../swap/functions.rs");
