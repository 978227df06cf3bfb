//! `cargo fuzz` entry point: the body is `tests/fuzz_smoke/codec.rs` of
//! wasmudf-ballista, which its smoke test runs too.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_smoke/codec.rs"]
mod codec;

fuzz_target!(|input: codec::Input| codec::run(input));
