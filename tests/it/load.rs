//! Each typed load error, from real files.

use anyhow::Result;
use wasmudf::{Error, FunctionOwner};
use wasmudf_test_guests::IDENTITY;
use wasmudf_tests::{component, engine};

fn load(bytes: &[u8]) -> wasmudf::Result<wasmudf::Component> {
    engine().load("test-bytes", bytes)
}

#[test]
fn empty_file_is_not_wasm() {
    let err = load(&[]).expect_err("empty");
    assert!(matches!(err, Error::NotWasm { .. }), "{err}");
    assert!(err.to_string().contains("empty"), "{err}");
}

#[test]
fn random_bytes_are_not_wasm() {
    let bytes: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let err = load(&bytes).expect_err("random");
    assert!(matches!(err, Error::NotWasm { .. }), "{err}");
}

#[test]
fn core_module_is_named_as_such() {
    // The smallest valid core module: magic and version 1.
    let err = load(b"\0asm\x01\0\0\0").expect_err("core module");
    assert!(matches!(err, Error::CoreModule { .. }), "{err}");
    assert!(err.to_string().contains("core WebAssembly module"), "{err}");
}

#[test]
fn truncated_component_is_invalid() -> Result<()> {
    let bytes = std::fs::read(wasmudf_test_guests::IDENTITY)?;
    let err = load(&bytes[..bytes.len() / 2]).expect_err("truncated");
    assert!(matches!(err, Error::Invalid { .. }), "{err}");
    Ok(())
}

#[test]
fn component_of_another_world_is_refused() {
    // An empty component: valid, but it exports nothing.
    let err = load(b"\0asm\x0d\0\x01\0").expect_err("empty component");
    assert!(matches!(err, Error::WrongWorld { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("wasmudf:udf/guest@0.2.0") && msg.contains("wasmudf:udf/guest@0.1.0"),
        "{msg}"
    );
}

#[test]
fn component_of_another_version_is_refused_naming_both() {
    let err = engine()
        .load_file(wasmudf_test_guests::OTHER_VERSION)
        .expect_err("wrong version");
    assert!(matches!(err, Error::WrongWorld { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("@0.9.0") && msg.contains("@0.2.0") && msg.contains("@0.1.0"),
        "{msg}"
    );
}

#[test]
fn manifest_naming_a_function_twice_is_refused() {
    let err = engine()
        .load_file(wasmudf_test_guests::DUP_MANIFEST)
        .expect_err("duplicate");
    assert!(matches!(err, Error::Manifest { .. }), "{err}");
    assert!(err.to_string().contains("declared twice"), "{err}");
}

#[test]
fn registering_a_name_twice_on_one_connection_clashes() -> Result<()> {
    let conn = rusqlite::Connection::open_in_memory()?;
    component("identity").register(&conn)?;
    let err = component("identity").register(&conn).expect_err("clash");
    assert!(
        matches!(err, Error::NameClash { ref name, arity: 1, ref existing, .. }
            if name == "identity"
                && existing.owner == FunctionOwner::Component(IDENTITY.to_string())),
        "{err}"
    );
    Ok(())
}

#[test]
fn clash_with_an_application_function_is_detected() -> Result<()> {
    let conn = rusqlite::Connection::open_in_memory()?;
    conn.create_scalar_function(
        "unicode_upper",
        1,
        rusqlite::functions::FunctionFlags::SQLITE_UTF8,
        |_| Ok(0),
    )?;
    let err = component("text").register(&conn).expect_err("clash");
    assert!(
        matches!(err, Error::NameClash { ref existing, .. }
            if existing.owner == FunctionOwner::Application),
        "{err}"
    );
    Ok(())
}

#[test]
fn missing_file_is_an_io_error_naming_the_path() {
    let err = engine()
        .load_file("/nonexistent/udf.wasm")
        .expect_err("missing");
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/udf.wasm"), "{err}");
}

#[test]
fn oversized_file_is_refused_before_reading() -> Result<()> {
    let small = wasmudf::Engine::builder()
        .max_component_bytes(1024)
        .build()?;
    let err = small
        .load_file(wasmudf_test_guests::IDENTITY)
        .expect_err("too large");
    assert!(matches!(err, Error::TooLarge { limit: 1024, .. }), "{err}");
    Ok(())
}

#[test]
fn manifest_is_read_with_kinds_arities_and_flags() {
    use wasmudf::{Arity, FunctionKind};
    let stats = component("stats");
    let median = stats
        .functions()
        .iter()
        .find(|f| f.name == "median_of")
        .expect("median_of");
    assert_eq!(median.kind, FunctionKind::Aggregate);
    assert_eq!(median.arity, Arity::Exactly(1));
    assert!(median.flags.deterministic);
    let sumsq = stats
        .functions()
        .iter()
        .find(|f| f.name == "sumsq")
        .expect("sumsq");
    assert_eq!(sumsq.kind, FunctionKind::Window);
    let greatest = component("greatest");
    assert_eq!(greatest.functions()[0].arity, Arity::Variadic);
    let sleep = component("sleep");
    assert!(!sleep.functions()[0].flags.deterministic);
}

/// The user named the path: a symbolic link to a component is followed,
/// whether it is relative, absolute, or a chain, and keeps its own name in
/// `origin`.
#[test]
fn symlinked_component_files_are_followed() -> Result<()> {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir()?;
    let real = dir.path().join("real");
    std::fs::create_dir(&real)?;
    std::fs::copy(wasmudf_test_guests::IDENTITY, real.join("identity.wasm"))?;
    let links = dir.path().join("links");
    std::fs::create_dir(&links)?;
    symlink("../real/identity.wasm", links.join("relative.wasm"))?;
    symlink(wasmudf_test_guests::TEXT, links.join("absolute.wasm"))?;
    symlink("relative.wasm", links.join("chain.wasm"))?;
    for (name, function) in [
        ("relative.wasm", "identity"),
        ("absolute.wasm", "unicode_upper"),
        ("chain.wasm", "identity"),
    ] {
        let path = links.join(name);
        let c = engine().load_file(&path)?;
        assert_eq!(c.origin(), path.display().to_string());
        assert!(c.functions().iter().any(|f| f.name == function), "{name}");
    }
    // A link to a directory is still not a component file.
    symlink(&real, links.join("dir.wasm"))?;
    let err = engine()
        .load_file(links.join("dir.wasm"))
        .expect_err("a directory");
    assert!(matches!(err, Error::Io { .. }), "{err}");
    Ok(())
}

/// A folder load follows symlinked `.wasm` files and reports every entry it
/// passes over, with the reason.
#[test]
fn load_dir_follows_links_and_reports_what_it_skips() -> Result<()> {
    use std::os::unix::fs::symlink;
    use wasmudf::SkipReason;
    let dir = tempfile::tempdir()?;
    std::fs::copy(wasmudf_test_guests::IDENTITY, dir.path().join("a.wasm"))?;
    symlink(wasmudf_test_guests::TEXT, dir.path().join("b.wasm"))?;
    symlink(dir.path().join("missing"), dir.path().join("dangling.wasm"))?;
    std::fs::create_dir(dir.path().join("folder.wasm"))?;
    std::fs::write(dir.path().join("notes.txt"), "not a component")?;
    let loaded = engine().load_dir_report(dir.path())?;
    let origins: Vec<&str> = loaded.components.iter().map(|c| c.origin()).collect();
    assert_eq!(
        origins,
        [
            dir.path().join("a.wasm").display().to_string(),
            dir.path().join("b.wasm").display().to_string()
        ]
    );
    let skipped: Vec<(String, &SkipReason)> = loaded
        .skipped
        .iter()
        .map(|s| {
            let name = s.path.file_name().map(|n| n.to_string_lossy().into_owned());
            (name.unwrap_or_default(), &s.reason)
        })
        .collect();
    assert_eq!(skipped.len(), 3, "{skipped:?}");
    assert!(matches!(skipped[0], (ref n, SkipReason::BrokenLink(_)) if n == "dangling.wasm"));
    assert!(matches!(skipped[1], (ref n, SkipReason::NotAFile) if n == "folder.wasm"));
    assert!(matches!(skipped[2], (ref n, SkipReason::NotWasm) if n == "notes.txt"));
    // `load_dir` loads the same components.
    assert_eq!(engine().load_dir(dir.path())?.len(), 2);
    Ok(())
}

/// Found by the `component_bytes` fuzz target: a guest whose export name
/// holds a NUL reached the `invalid component` message raw through
/// wasmtime's validation error.
#[test]
fn validation_error_escapes_names_from_the_bytes() {
    let bytes = include_bytes!(
        "../../fuzz/regressions/component_bytes/crash-e52c901d66a1a1e15c855ddc328d2709eb3bc44b"
    );
    let err = load(bytes).expect_err("an export name the instance lacks");
    assert!(matches!(err, Error::Invalid { .. }), "{err}");
    let shown = err.to_string();
    assert!(!shown.chars().any(char::is_control), "{shown:?}");
    assert!(shown.contains("terminal-outp"), "{shown:?}");
}
