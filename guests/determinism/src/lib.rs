//! A test guest for what deterministic functions can observe: each
//! function comes as a deterministic `det_*` and a plain twin, so a test can
//! show that the plain one does observe what the deterministic one must not.

use std::time::{Duration, Instant};

use wasmudf_guest::Error;

unsafe extern "C" {
    /// wasi-libc's `getentropy`, which std links on wasm32-wasip2: at most
    /// 256 bytes from `wasi:random/random`.
    fn getentropy(buffer: *mut core::ffi::c_void, length: usize) -> core::ffi::c_int;
}

fn entropy() -> Result<Vec<u8>, Error> {
    let mut bytes = vec![0u8; 16];
    // SAFETY: `bytes` is a live, writable buffer of the length passed.
    let status = unsafe { getentropy(bytes.as_mut_ptr().cast(), bytes.len()) };
    if status == 0 {
        Ok(bytes)
    } else {
        Err(Error::new("getentropy failed"))
    }
}

fn nap(ms: i64) -> Result<i64, Error> {
    let millis = u64::try_from(ms).map_err(|_| Error::new("ms must not be negative"))?;
    let start = Instant::now();
    std::thread::sleep(Duration::from_millis(millis));
    Ok(i64::try_from(start.elapsed().as_millis()).unwrap_or(i64::MAX))
}

fn read(path: &str) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::new(format!("cannot read {path}: {e}")))
}

/// `det_nap(ms INTEGER) -> INTEGER`: sleeps `ms` milliseconds and returns
/// how many milliseconds the monotonic clock says passed. Deterministic.
#[wasmudf_guest::scalar(deterministic)]
pub fn det_nap(ms: i64) -> Result<i64, Error> {
    nap(ms)
}

/// `plain_nap(ms INTEGER) -> INTEGER`: `det_nap`'s plain twin.
#[wasmudf_guest::scalar]
pub fn plain_nap(ms: i64) -> Result<i64, Error> {
    nap(ms)
}

/// `det_random() -> BLOB`: 16 bytes from `wasi:random/random`.
/// Deterministic.
#[wasmudf_guest::scalar(deterministic)]
pub fn det_random() -> Result<Vec<u8>, Error> {
    entropy()
}

/// `plain_random() -> BLOB`: `det_random`'s plain twin.
#[wasmudf_guest::scalar]
pub fn plain_random() -> Result<Vec<u8>, Error> {
    entropy()
}

/// `det_read(path TEXT) -> TEXT`: the file at `path`, or a guest error
/// saying why it cannot be read. Deterministic.
#[wasmudf_guest::scalar(deterministic)]
pub fn det_read(path: String) -> Result<String, Error> {
    read(&path)
}

/// `plain_read(path TEXT) -> TEXT`: `det_read`'s plain twin.
#[wasmudf_guest::scalar]
pub fn plain_read(path: String) -> Result<String, Error> {
    read(&path)
}

wasmudf_guest::export! {
    scalars: [det_nap, plain_nap, det_random, plain_random, det_read, plain_read],
}
