//! The smoke run's driver: one target over every file of its seed folders
//! (committed seeds, regressions), then over random inputs, fresh bytes or
//! seeds with a few bytes changed.
//!
//! This is not a search: nothing guides the inputs (there is no coverage
//! instrumentation here); it replays what the long `cargo fuzz` runs found
//! worth keeping and tries some more, in the ordinary test build, so that
//! it costs CI no second build of wasmtime. It mirrors libFuzzer's harness:
//! typed inputs are made as `libfuzzer-sys` makes them ([`input`]), a
//! panic fails the run with the input saved, and so does an input that
//! runs longer than libFuzzer's `-timeout`.
//!
//! The driver uses only `std`, `arbitrary` and `fastrand`, so the Ballista
//! workspace's codec smoke test includes this file by path rather than
//! depending on this crate (and its `wasm-smith` and `wit-component`).

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use arbitrary::{Arbitrary, Unstructured};

/// How long one input may run before the run fails as a hang (libFuzzer's
/// `-timeout=60`, as `fuzz/README.md`'s commands give it).
const TIMEOUT: Duration = Duration::from_secs(60);

/// `data` as the typed input of a target, made exactly as `libfuzzer-sys`'s
/// `fuzz_target!` makes it (so a corpus file replays as it ran under
/// libFuzzer); `None` where `fuzz_target!` rejects the bytes.
pub fn input<'a, T: Arbitrary<'a>>(data: &'a [u8]) -> Option<T> {
    if data.len() < T::size_hint(0).0 {
        return None;
    }
    T::arbitrary_take_rest(Unstructured::new(data)).ok()
}

/// What a smoke run of one target did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Files replayed from the seed folders.
    pub seeds: usize,
    /// Random inputs run after them.
    pub random: usize,
}

/// Where a failing input is saved: `FUZZ_SMOKE_OUT`, or a folder under the
/// system's temporary one.
fn out_dir() -> PathBuf {
    std::env::var_os("FUZZ_SMOKE_OUT")
        .map_or_else(|| std::env::temp_dir().join("wasmudf-fuzz-smoke"), PathBuf::from)
}

fn save(target: &str, kind: &str, data: &[u8]) -> String {
    let dir = out_dir();
    let path = dir.join(format!("{target}-{kind}-{}", std::process::id()));
    match std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, data)) {
        Ok(()) => path.display().to_string(),
        Err(e) => format!("(not saved: {}: {e})", path.display()),
    }
}

/// The files of `dirs` (missing folders hold none), in a stable order.
fn seed_files(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        let mut these: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        these.sort();
        files.extend(these);
    }
    files
}

/// Up to four changes to `seed`: bytes overwritten, inserted or erased,
/// or a cut, as libFuzzer's simplest mutations do.
fn mutate(rng: &mut fastrand::Rng, seed: &[u8], max_len: usize) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..rng.usize(1..=4) {
        let len = data.len();
        match rng.u8(0..4) {
            0 if len > 0 => {
                let at = rng.usize(0..len);
                data[at] = rng.u8(..);
            }
            1 if len < max_len.max(seed.len()) => {
                let at = rng.usize(0..=len);
                let n = rng.usize(1..=16);
                data.splice(at..at, std::iter::repeat_with(|| rng.u8(..)).take(n));
            }
            2 if len > 0 => {
                let at = rng.usize(0..len);
                let end = (at + rng.usize(1..=16)).min(len);
                data.drain(at..end);
            }
            _ if len > 0 => data.truncate(rng.usize(0..len)),
            _ => data.push(rng.u8(..)),
        }
    }
    data
}

/// Runs `one` over every file in `dirs`, then over `FUZZ_RUNS` (300 by
/// default) random inputs of at most `max_len` bytes (or a seed's length),
/// drawn from `FUZZ_SEED` (printed, random by default). Panics, naming the
/// input and where it was saved, when `one` panics or runs for more than a
/// minute; prints what it ran.
pub fn run(target: &str, dirs: &[PathBuf], max_len: usize, mut one: impl FnMut(&[u8])) -> Summary {
    let runs: usize = std::env::var("FUZZ_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(300);
    let seed: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    let mut rng = fastrand::Rng::with_seed(seed);
    let files = seed_files(dirs);
    let start = Instant::now();

    // The input running now and since when, for the watchdog.
    let current: Arc<Mutex<(Instant, Arc<Vec<u8>>)>> =
        Arc::new(Mutex::new((Instant::now(), Arc::new(Vec::new()))));
    let done = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let (current, done, target) = (current.clone(), done.clone(), target.to_owned());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                let (since, data) = current.lock().unwrap_or_else(PoisonError::into_inner).clone();
                if !done.load(Ordering::Relaxed) && since.elapsed() > TIMEOUT {
                    let saved = save(&target, "timeout", &data);
                    eprintln!("fuzz smoke {target}: an input ran for over {TIMEOUT:?}; saved as {saved}");
                    std::process::exit(1);
                }
            }
        })
    };

    let mut try_one = |origin: &dyn Fn() -> String, data: Vec<u8>| {
        let data = Arc::new(data);
        *current.lock().unwrap_or_else(PoisonError::into_inner) = (Instant::now(), data.clone());
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| one(&data))) {
            done.store(true, Ordering::Relaxed);
            let saved = save(target, "crash", &data);
            eprintln!(
                "fuzz smoke {target}: {} panicked (FUZZ_SEED={seed}); the input is saved as {saved}",
                origin()
            );
            resume_unwind(panic);
        }
    };

    for path in &files {
        let data = match std::fs::read(path) {
            Ok(data) => data,
            Err(e) => panic!("fuzz smoke {target}: {}: {e}", path.display()),
        };
        try_one(&|| path.display().to_string(), data);
    }
    for i in 0..runs {
        let data = if !files.is_empty() && rng.bool() {
            // Read again rather than kept: seeds may be whole guests.
            let path = &files[rng.usize(0..files.len())];
            let seed = std::fs::read(path).unwrap_or_default();
            mutate(&mut rng, &seed, max_len)
        } else {
            // Short inputs more often than long ones, as libFuzzer grows them.
            let shift = rng.u32(0..8);
            let len = rng.usize(0..=max_len >> shift);
            std::iter::repeat_with(|| rng.u8(..)).take(len).collect()
        };
        try_one(&|| format!("random input {i}"), data);
    }
    done.store(true, Ordering::Relaxed);
    let _ = watchdog.join();
    let summary = Summary { seeds: files.len(), random: runs };
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "fuzz smoke {target}: {} seeds and {} random inputs (FUZZ_SEED={seed}) in {secs:.1} s",
        summary.seeds, summary.random
    );
    summary
}

/// The repository's root, found above `from` (a crate's manifest folder)
/// as the folder holding `guests/Cargo.toml`.
pub fn repo_root(from: &Path) -> PathBuf {
    from.ancestors()
        .find(|dir| dir.join("guests/Cargo.toml").is_file())
        .unwrap_or(from)
        .to_path_buf()
}
