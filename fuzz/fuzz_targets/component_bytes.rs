//! `cargo fuzz` entry point: see `wasmudf_fuzz::targets::component_bytes`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| wasmudf_fuzz::targets::component_bytes::run(data));
