//! The compiled-code cache: what it refuses to load, where it refuses to
//! live, and how it stays within its size cap.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Result;
use rusqlite::Connection;
use wasmudf::{CacheStatus, Engine};
use wasmudf_test_guests as guests;

fn cached_engine(dir: &Path) -> Result<Engine> {
    with_secret(dir, &wasmudf_tests::cache_secret())
}

/// An engine caching in `dir` under the secret in file `secret`.
fn with_secret(dir: &Path, secret: &Path) -> Result<Engine> {
    Ok(Engine::builder()
        .cache_dir(dir)
        .cache_secret_file(secret)
        .build()?)
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
        .cache_secret_file(wasmudf_tests::cache_secret())
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

/// The cache's entries under their file names, with their contents.
fn contents(dir: &Path) -> Result<Vec<(std::ffi::OsString, Vec<u8>)>> {
    entries(dir)
        .into_iter()
        .map(|p| Ok((p.file_name().expect("name").to_owned(), std::fs::read(&p)?)))
        .collect()
}

/// The secret makes the entries: a cache folder written under another
/// secret (another user's, another machine's, a folder checked out from a
/// repository) is never loaded, whatever its files are named, even when
/// they are owner-only files with a valid trailer. Here another cache's
/// entries for `text` are planted under the very names this cache looks
/// for `identity` under: loading them would make `identity` answer as
/// `text`; instead they are recompiled and replaced. Entries the cache
/// wrote itself are then loaded as they are.
#[test]
fn entries_written_under_another_secret_are_never_loaded() -> Result<()> {
    let root = tempfile::tempdir()?;
    let (mine, theirs) = (root.path().join("mine"), root.path().join("theirs"));
    let my_secret = root.path().join("my-state").join("cache-secret");
    let their_secret = root.path().join("their-state").join("cache-secret");

    // Their cache, for both guests; then mine, for identity.
    let theirs_engine = with_secret(&theirs, &their_secret)?;
    theirs_engine.load_file(guests::IDENTITY)?;
    theirs_engine
        .load_file(guests::TEXT)?
        .probe_direct_instance()?;
    let mine_engine = with_secret(&mine, &my_secret)?;
    assert_eq!(
        *mine_engine.cache_status(),
        CacheStatus::Active(mine.clone())
    );
    let identity = mine_engine.load_file(guests::IDENTITY)?;
    identity.probe_direct_instance()?;
    drop(identity);

    // The same component is cached under other names under another secret.
    let their_names: Vec<_> = contents(&theirs)?.into_iter().map(|(n, _)| n).collect();
    for (name, _) in contents(&mine)? {
        assert!(!their_names.contains(&name), "{name:?} named alike");
    }

    // Their `text` entries, planted under my `identity` names, owner-only.
    let their_text = tempfile::tempdir()?;
    with_secret(their_text.path(), &their_secret)?
        .load_file(guests::TEXT)?
        .probe_direct_instance()?;
    let text_entries = contents(their_text.path())?;
    let planted: Vec<_> = contents(&mine)?
        .into_iter()
        .map(|(name, _)| {
            let direct = name.to_string_lossy().ends_with(".direct.cwasm");
            let (_, bytes) = text_entries
                .iter()
                .find(|(n, _)| n.to_string_lossy().ends_with(".direct.cwasm") == direct)
                .expect("text has both kinds of entry");
            (name, bytes.clone())
        })
        .collect();
    for (name, bytes) in &planted {
        let path = mine.join(name);
        std::fs::write(&path, bytes)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    // Their own entries too, under their own names, beside mine.
    for (name, bytes) in contents(&theirs)? {
        std::fs::write(mine.join(&name), bytes)?;
    }

    let again = with_secret(&mine, &my_secret)?;
    identity_answers(&again)?;
    again.load_file(guests::IDENTITY)?.probe_direct_instance()?;
    for (name, bytes) in &planted {
        assert_ne!(
            &std::fs::read(mine.join(name))?,
            bytes,
            "{name:?}: the planted entry was kept"
        );
    }

    // What this cache wrote itself is loaded as it is: not rewritten.
    let inodes: Vec<u64> = planted
        .iter()
        .map(|(name, _)| std::fs::metadata(mine.join(name)).map(|m| m.ino()))
        .collect::<std::io::Result<_>>()?;
    let third = with_secret(&mine, &my_secret)?;
    identity_answers(&third)?;
    third.load_file(guests::IDENTITY)?.probe_direct_instance()?;
    for ((name, _), inode) in planted.iter().zip(inodes) {
        assert_eq!(std::fs::metadata(mine.join(name))?.ino(), inode, "{name:?}");
    }
    Ok(())
}

/// The secret is made on first use: 32 bytes, `0600`, in a `0700`
/// folder, and kept.
#[test]
fn the_secret_is_made_once_and_private() -> Result<()> {
    let root = tempfile::tempdir()?;
    let secret = root
        .path()
        .join("state")
        .join("wasmudf")
        .join("cache-secret");
    let engine = with_secret(&root.path().join("cache"), &secret)?;
    assert!(matches!(engine.cache_status(), CacheStatus::Active(_)));
    let meta = std::fs::metadata(&secret)?;
    assert_eq!(meta.len(), 32);
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let folder = std::fs::metadata(secret.parent().expect("folder"))?;
    assert_eq!(folder.permissions().mode() & 0o777, 0o700);
    let bytes = std::fs::read(&secret)?;
    assert_ne!(bytes, [0u8; 32]);
    with_secret(&root.path().join("cache"), &secret)?;
    assert_eq!(std::fs::read(&secret)?, bytes, "the secret was replaced");
    Ok(())
}

/// A secret that someone else could know or have chosen leaves the cache
/// unused (`Refused`, saying why), never an error: the engine compiles,
/// answers, and writes nothing into the cache folder. The secret is not
/// replaced either.
#[test]
fn a_secret_that_is_not_private_leaves_the_cache_unused() -> Result<()> {
    // Files a test makes are owned by the effective user.
    let me = std::fs::metadata(tempfile::tempdir()?.path())?.uid();
    // (name, how to spoil the secret (the path to use), what the refusal
    // says)
    type Spoil = fn(&Path, u32) -> std::io::Result<PathBuf>;
    let cases: [(&str, Spoil, &str); 5] = [
        (
            "readable by others",
            |s, _| {
                std::fs::set_permissions(s, std::fs::Permissions::from_mode(0o644))?;
                Ok(s.to_path_buf())
            },
            "readable or writable by group or others",
        ),
        (
            "group-writable folder",
            |s, _| {
                let folder = s.parent().expect("folder");
                std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o770))?;
                Ok(s.to_path_buf())
            },
            "its folder is writable by group or others",
        ),
        (
            "owned by another user",
            |s, me| {
                if me == 0 {
                    std::os::unix::fs::chown(s, Some(4242), None)?;
                    Ok(s.to_path_buf())
                } else {
                    // Not root, so no file can be given away: a file
                    // root owns, in a folder root owns.
                    Ok(PathBuf::from("/etc/passwd"))
                }
            },
            "owned by uid",
        ),
        (
            "too short",
            |s, _| {
                std::fs::write(s, [7u8; 16])?;
                Ok(s.to_path_buf())
            },
            "holds 16 bytes, not 32",
        ),
        (
            "a folder, not a file",
            |s, _| {
                std::fs::remove_file(s)?;
                std::fs::create_dir(s)?;
                Ok(s.to_path_buf())
            },
            "not a regular file",
        ),
    ];
    for (what, spoil, says) in cases {
        let root = tempfile::tempdir()?;
        let cache = root.path().join("cache");
        let state = root.path().join("state");
        std::fs::create_dir(&state)?;
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700))?;
        let secret = state.join("cache-secret");
        std::fs::write(&secret, [1u8; 32])?;
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600))?;
        let spoiled = spoil(&secret, me)?;
        let engine = with_secret(&cache, &spoiled)?;
        match engine.cache_status() {
            CacheStatus::Refused { dir, reason } => {
                assert_eq!(dir, &cache, "{what}");
                assert!(
                    reason.contains("secret key") && reason.contains(says),
                    "{what}: {reason}"
                );
            }
            other => panic!("{what}: the cache was used: {other:?}"),
        }
        identity_answers(&engine)?;
        assert!(entries(&cache).is_empty(), "{what}: the cache was written");
        if std::fs::symlink_metadata(&secret)?.is_file() && what != "too short" {
            assert_eq!(std::fs::read(&secret)?, [1u8; 32], "{what}: replaced");
        }
    }
    Ok(())
}

/// A secret inside the cache folder would travel with it (into a
/// repository, an archive) and come back with planted entries: refused,
/// and not even created there.
#[test]
fn a_secret_inside_the_cache_folder_is_refused() -> Result<()> {
    let root = tempfile::tempdir()?;
    let cache = root.path().join("cache");
    for secret in [
        cache.join("cache-secret"),
        cache.join("keys").join("secret"),
    ] {
        let engine = with_secret(&cache, &secret)?;
        match engine.cache_status() {
            CacheStatus::Refused { reason, .. } => {
                assert!(reason.contains("inside the cache folder"), "{reason}");
            }
            other => panic!("the cache was used: {other:?}"),
        }
        assert!(!secret.exists(), "{}: created", secret.display());
        identity_answers(&engine)?;
    }
    Ok(())
}
