//! `cargo fuzz` entry point: see `wasmudf_fuzz::targets::merge`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasmudf_fuzz::targets::merge::{Input, run};

fuzz_target!(|input: Input| run(input));
