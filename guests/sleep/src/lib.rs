//! `sleep(ms INTEGER) -> INTEGER`: sleeps `ms` milliseconds, returns `ms`.

use std::time::Duration;

use wasmudf_guest::Error;

/// Sleeps `ms` milliseconds (on the WASI monotonic clock) and returns `ms`.
#[wasmudf_guest::scalar]
pub fn sleep(ms: i64) -> Result<i64, Error> {
    let millis = u64::try_from(ms).map_err(|_| Error::new("ms must not be negative"))?;
    std::thread::sleep(Duration::from_millis(millis));
    Ok(ms)
}

wasmudf_guest::export! {
    scalars: [sleep],
}
