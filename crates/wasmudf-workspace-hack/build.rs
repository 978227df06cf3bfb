//! Empty: it exists so that Cargo resolves this crate's build-dependencies,
//! which pin features on the build-script side (see Cargo.toml).
fn main() {}
