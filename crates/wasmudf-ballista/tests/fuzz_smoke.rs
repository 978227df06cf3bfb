//! The codec fuzz target's smoke run (`fuzz/smoke`, part of `.ci/run`):
//! its committed seeds and regressions, then `FUZZ_RUNS` random inputs,
//! built by this workspace's test build so that it compiles no second
//! DataFusion or Ballista. Not a search: the long `cargo fuzz` run of
//! `fuzz/README.md` is.
//!
//! `cargo test --manifest-path crates/wasmudf-ballista/Cargo.toml
//! --target-dir target --test fuzz_smoke -- --nocapture`

#[path = "fuzz_smoke/codec.rs"]
mod codec;
// The driver of the root workspace's smoke run (std, arbitrary and
// fastrand only), included rather than depended on: the crate around it
// brings wasm-smith and wit-component.
#[path = "../../wasmudf-fuzz/src/smoke.rs"]
mod smoke;

#[test]
fn codec() {
    let root = smoke::repo_root(env!("CARGO_MANIFEST_DIR").as_ref());
    let fuzz = root.join("crates/wasmudf-ballista/fuzz");
    let dirs = [fuzz.join("seeds/codec"), fuzz.join("regressions/codec")];
    let summary = smoke::run("codec", &dirs, 4096, |data| {
        if let Some(input) = smoke::input(data) {
            codec::run(input);
        }
    });
    assert!(summary.seeds > 0, "no seeds replayed");
}
