//! The fuzz targets' smoke run (`fuzz/smoke`, part of `.ci/run`): each
//! target over its committed seeds (`fuzz/seeds/<target>`) and
//! regressions (`fuzz/regressions/<target>`), then `FUZZ_RUNS` random
//! inputs. Not a search (see `wasmudf_fuzz::smoke`): the long `cargo fuzz`
//! runs of `fuzz/README.md` are.
//!
//! `cargo test --workspace --test fuzz_smoke -- --nocapture` (the guests
//! must be built: `cargo test --workspace` builds them).

use std::path::PathBuf;

use wasmudf_fuzz::smoke::{self, input, repo_root};
use wasmudf_fuzz::targets;

/// The folders a target's smoke run replays: its committed seeds, its
/// regressions, and `more` (each test checks it replayed something).
fn dirs(target: &str, more: &[&str]) -> Vec<PathBuf> {
    let root = repo_root(env!("CARGO_MANIFEST_DIR").as_ref());
    let mut dirs = vec![root.join("fuzz/seeds").join(target), root.join("fuzz/regressions").join(target)];
    dirs.extend(more.iter().map(|m| root.join(m)));
    dirs
}

#[test]
fn manifest() {
    let summary = smoke::run("manifest", &dirs("manifest", &[]), 4096, |data| {
        if let Some(i) = input(data) {
            targets::manifest::run(i);
        }
    });
    assert!(summary.seeds > 0, "no seeds replayed");
}

#[test]
fn columns() {
    let summary = smoke::run("columns", &dirs("columns", &[]), 4096, |data| {
        if let Some(i) = input(data) {
            targets::columns::run(i);
        }
    });
    assert!(summary.seeds > 0, "no seeds replayed");
}

#[test]
fn merge() {
    let summary = smoke::run("merge", &dirs("merge", &[]), 4096, |data| {
        if let Some(i) = input(data) {
            targets::merge::run(i);
        }
    });
    assert!(summary.seeds > 0, "no seeds replayed");
}

#[test]
fn component_smith() {
    let summary = smoke::run("component_smith", &dirs("component_smith", &[]), 16384, targets::component_smith::run);
    assert!(summary.seeds > 0, "no seeds replayed");
}

/// Seeded with every built guest (not copied into `fuzz/seeds`).
#[test]
fn component_bytes() {
    let guests = "guests/target/wasm32-wasip2/release";
    let summary = smoke::run("component_bytes", &dirs("component_bytes", &[guests]), 4096, targets::component_bytes::run);
    assert!(summary.seeds > 0, "no guests replayed: build them first");
}
