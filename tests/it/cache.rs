//! The compiled-code cache: what it refuses to load, where it refuses to
//! live, and how it stays within its size cap.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Result;
use rusqlite::Connection;
use wasmudf::{CacheStatus, Engine};
use wasmudf_test_guests as guests;

fn cached_engine(dir: &Path) -> Result<Engine> {
    Ok(Engine::builder().cache_dir(dir).build()?)
}

/// The cache's entries (`*.cwasm`), sorted.
fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// The component entry (not the direct-path module) among `entries`.
fn component_entry(dir: &Path) -> PathBuf {
    entries(dir)
        .into_iter()
        .find(|p| !p.to_string_lossy().ends_with(".direct.cwasm"))
        .expect("a component entry")
}

fn total_bytes(dir: &Path) -> u64 {
    entries(dir)
        .iter()
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum()
}

/// `identity(5)` through `engine`'s compile of the identity guest: the
/// component really is identity.
fn identity_answers(engine: &Engine) -> Result<()> {
    let identity = engine.load_file(guests::IDENTITY)?;
    let names: Vec<&str> = identity
        .functions()
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(names, ["identity"]);
    let conn = Connection::open_in_memory()?;
    identity.register(&conn)?;
    let v: i64 = conn.query_row("SELECT identity(5)", [], |r| r.get(0))?;
    assert_eq!(v, 5);
    Ok(())
}

#[test]
fn entries_are_private_files() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let cache = dir.path().join("wasmudf");
    let engine = cached_engine(&cache)?;
    assert_eq!(*engine.cache_status(), CacheStatus::Active(cache.clone()));
    identity_answers(&engine)?;
    assert_eq!(
        std::fs::metadata(&cache)?.permissions().mode() & 0o777,
        0o700
    );
    let written = entries(&cache);
    assert!(!written.is_empty());
    for entry in written {
        assert_eq!(
            std::fs::metadata(&entry)?.permissions().mode() & 0o777,
            0o600,
            "{}",
            entry.display()
        );
    }
    Ok(())
}

/// Another component's genuine artifact, planted under identity's entry
/// names, is refused: identity is recompiled, answers as identity, and the
/// planted entries are replaced.
#[test]
fn a_foreign_artifact_under_the_expected_name_is_not_loaded() -> Result<()> {
    let mine = tempfile::tempdir()?;
    let other = tempfile::tempdir()?;
    identity_answers(&cached_engine(mine.path())?)?;
    // The direct module is compiled on first use; a probe forces it.
    cached_engine(other.path())?
        .load_file(guests::TEXT)?
        .probe_direct_instance()?;
    let planted = std::fs::read(component_entry(other.path()))?;
    let target = component_entry(mine.path());
    std::fs::write(&target, &planted)?;
    for entry in entries(mine.path()) {
        if entry.to_string_lossy().ends_with(".direct.cwasm") {
            let foreign = entries(other.path())
                .into_iter()
                .find(|p| p.to_string_lossy().ends_with(".direct.cwasm"))
                .expect("text has a direct module");
            std::fs::copy(foreign, entry)?;
        }
    }
    identity_answers(&cached_engine(mine.path())?)?;
    assert_ne!(
        std::fs::read(&target)?,
        planted,
        "the planted entry was kept"
    );
    Ok(())
}

#[test]
fn a_world_writable_directory_is_not_used() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let cache = dir.path().join("shared");
    std::fs::create_dir(&cache)?;
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777))?;
    // A genuine entry someone else could have replaced is not loaded either.
    let donor = tempfile::tempdir()?;
    cached_engine(donor.path())?.load_file(guests::IDENTITY)?;
    for entry in entries(donor.path()) {
        std::fs::copy(&entry, cache.join(entry.file_name().expect("name")))?;
    }
    let before = entries(&cache);
    let engine = cached_engine(&cache)?;
    match engine.cache_status() {
        CacheStatus::Refused { dir, reason } => {
            assert_eq!(dir, &cache);
            assert!(reason.contains("writable by group or others"), "{reason}");
        }
        other => panic!("cache used: {other:?}"),
    }
    identity_answers(&engine)?;
    engine.load_file(guests::TEXT)?;
    assert_eq!(entries(&cache), before, "the refused directory was written");
    Ok(())
}

/// A group-writable entry is not trusted: the component is recompiled and
/// the entry replaced by a new private file.
#[test]
fn a_group_writable_entry_is_not_used() -> Result<()> {
    let dir = tempfile::tempdir()?;
    identity_answers(&cached_engine(dir.path())?)?;
    let entry = component_entry(dir.path());
    std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o664))?;
    let inode = std::fs::metadata(&entry)?.ino();
    identity_answers(&cached_engine(dir.path())?)?;
    let now = std::fs::metadata(&entry)?;
    assert_ne!(now.ino(), inode, "the group-writable entry was loaded");
    assert_eq!(now.permissions().mode() & 0o777, 0o600);
    Ok(())
}

/// A cache location that cannot be created (here: below a regular file,
/// which fails even for root) does not stop the engine.
#[test]
fn an_unusable_location_leaves_the_engine_working() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"")?;
    let engine = cached_engine(&file.join("wasmudf"))?;
    assert!(
        matches!(engine.cache_status(), CacheStatus::Refused { reason, .. } if reason.contains("cannot create")),
        "{:?}",
        engine.cache_status()
    );
    identity_answers(&engine)
}

/// Over its cap, the cache removes the least recently used entries: one
/// read since refreshes an entry.
#[test]
fn the_cache_evicts_the_least_recently_used_entries() -> Result<()> {
    // Each guest's entries alone, to know their names and sizes.
    let sizes = [guests::IDENTITY, guests::TEXT, guests::SHA256].map(|guest| {
        let alone = tempfile::tempdir().expect("tempdir");
        cached_engine(alone.path())
            .and_then(|e| Ok(e.load_file(guest)?))
            .expect("loads");
        let name = component_entry(alone.path())
            .file_name()
            .expect("name")
            .to_owned();
        (name, total_bytes(alone.path()))
    });
    let [(identity, i), (text, t), (sha, s)] = sizes;
    let dir = tempfile::tempdir()?;
    // Room for any two of the three, not for all of them.
    let cap = i + t + s - 1;
    let engine = Engine::builder()
        .cache_dir(dir.path())
        .cache_max_bytes(cap)
        .build()?;
    engine.load_file(guests::IDENTITY)?;
    engine.load_file(guests::TEXT)?;
    // Loaded from the cache: identity is now more recently used than text.
    std::thread::sleep(std::time::Duration::from_millis(20));
    identity_answers(&engine)?;
    std::thread::sleep(std::time::Duration::from_millis(20));
    engine.load_file(guests::SHA256)?;
    let names: Vec<_> = entries(dir.path())
        .iter()
        .filter_map(|p| p.file_name().map(ToOwned::to_owned))
        .collect();
    assert!(
        total_bytes(dir.path()) <= cap,
        "{} > {cap}",
        total_bytes(dir.path())
    );
    assert!(
        names.contains(&identity),
        "recently used entry evicted: {names:?}"
    );
    assert!(names.contains(&sha), "new entry evicted: {names:?}");
    assert!(
        !names.contains(&text),
        "least recently used entry kept: {names:?}"
    );
    Ok(())
}
