//! Hostile test guest: terminal control sequences in every piece of text a
//! guest hands the host, and an error string of many megabytes.

use wasmudf_guest::Error;

/// Sets the terminal title (OSC 0), writes the clipboard (OSC 52), colours
/// text (CSI), rings the bell, and uses the 8-bit CSI (U+009B) and a
/// right-to-left override (U+202E).
pub const HOSTILE: &str = "\x1b]0;pwned-title\x07\x1b]52;c;ZWNobyBwd25lZA==\x07\x1b[31mred\x1b[0m\x07\u{9b}2J\u{202e}evil";

/// `esc_error()`: a guest error whose text is [`HOSTILE`].
#[wasmudf_guest::scalar]
pub fn esc_error() -> Result<i64, Error> {
    Err(Error::new(HOSTILE))
}

/// `esc_text()`: returns [`HOSTILE`] as TEXT, for table cells and JSON.
#[wasmudf_guest::scalar]
pub fn esc_text() -> String {
    HOSTILE.to_string()
}

/// `esc_panic()`: panics with [`HOSTILE`], so it reaches the trap message
/// through the captured stderr.
#[wasmudf_guest::scalar]
pub fn esc_panic() -> i64 {
    panic!("{HOSTILE}")
}

/// `giant_error(mib)`: a guest error of `mib` MiB (capped at 64), starting
/// and ending with [`HOSTILE`].
#[wasmudf_guest::scalar]
pub fn giant_error(mib: i64) -> Result<i64, Error> {
    let bytes = usize::try_from(mib.clamp(0, 64)).unwrap_or(0) << 20;
    let mut text = String::with_capacity(bytes + 2 * HOSTILE.len());
    text.push_str(HOSTILE);
    text.extend(std::iter::repeat_n('E', bytes));
    text.push_str(HOSTILE);
    Err(Error::new(text))
}

/// A function whose SQL name sets the terminal title: `.functions` and
/// `wasmudf inspect` print it.
#[wasmudf_guest::scalar(name = "esc_name\x1b]0;pwned-name\x07")]
pub fn esc_name() -> i64 {
    1
}

wasmudf_guest::export! {
    scalars: [esc_error, esc_text, esc_panic, giant_error, esc_name],
}
