//! The fuzz targets' bodies, one module each: `run` takes one input and
//! panics on a finding. The `cargo fuzz` entry points in `fuzz/fuzz_targets`
//! only hand libFuzzer's input to them, and the smoke run
//! (`tests/smoke.rs`) replays seeds and random inputs through the same
//! functions, in the root workspace's ordinary test build.

pub mod columns;
pub mod component_bytes;
pub mod component_smith;
pub mod manifest;
pub mod merge;
