//! `cargo fuzz` entry point: see `wasmudf_fuzz::targets::manifest`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasmudf_fuzz::targets::manifest::{Input, run};

fuzz_target!(|input: Input| run(input));
