//! `cargo fuzz` entry point: see `wasmudf_fuzz::targets::columns`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasmudf_fuzz::targets::columns::{Input, run};

fuzz_target!(|input: Input| run(input));
