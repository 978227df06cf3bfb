//! Hostile test guest: `flood(mib)` writes `mib` MiB to stdout.

use std::io::Write;
use wasmudf_guest::Error;

/// `flood(mib INTEGER) -> INTEGER`: writes `mib` MiB of text to stdout (in
/// 64 KiB lines through `stdout().lock()`) and a line per MiB to stderr,
/// ignoring every write error, then returns `mib`.
#[wasmudf_guest::scalar]
pub fn flood(mib: i64) -> Result<i64, Error> {
    let count = usize::try_from(mib).map_err(|_| Error::new("mib must be >= 0"))?;
    let mut line = vec![b'F'; 64 * 1024];
    *line.last_mut().expect("non-empty") = b'\n';
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    for i in 0..count {
        for _ in 0..16 {
            let _ = out.write_all(&line);
        }
        let _ = writeln!(err, "flood: {} MiB written to stdout", i + 1);
    }
    let _ = out.flush();
    let _ = err.flush();
    Ok(mib)
}

wasmudf_guest::export! {
    scalars: [flood],
}
