//! Text that came from a guest, made safe to show and bounded.
//!
//! A guest chooses its error messages, what it writes to stderr, its
//! function names and the TEXT it returns. Printed raw, such text can drive
//! the terminal that shows it: set the window title, write the clipboard
//! (OSC 52), hide or rewrite earlier output. And a guest error can be as
//! large as the guest's memory.

use std::borrow::Cow;
use std::fmt;

/// The most bytes of a guest's error message that are kept; the rest is
/// replaced by a note saying how long it was.
pub const MAX_GUEST_MESSAGE_BYTES: usize = 4 << 10;

/// Whether `c` must not reach a terminal as itself: C0 and C1 control
/// characters and DEL (`char::is_control`), and the Unicode controls that
/// reorder or break lines without being `Cc` (bidirectional overrides and
/// isolates, line and paragraph separators).
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2028}' | '\u{2029}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// `text` with every control character written as an escape: `\n`, `\t`,
/// `\r`, and `\u{1b}` for ESC, as [`char::escape_default`] writes them. Other
/// characters, backslashes included, are left alone, so escaping twice
/// changes nothing more. Borrowed when there is nothing to escape.
///
/// The library escapes guest text in [`CallError`](crate::CallError)'s
/// message; use this for anything else taken from a guest (returned TEXT,
/// function names, load errors) before it reaches a terminal or a log.
///
/// # Examples
///
/// ```
/// assert_eq!(wasmudf::escape_controls("a\x1b]0;title\x07b"), "a\\u{1b}]0;title\\u{7}b");
/// assert_eq!(wasmudf::escape_controls("plain: ß ✓"), "plain: ß ✓");
/// ```
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if needs_escape(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Formats a `&str` through [`escape_controls`] without allocating when
/// there is nothing to escape.
pub(crate) struct Escaped<'a>(pub(crate) &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&escape_controls(self.0))
    }
}

/// `message` cut to at most [`MAX_GUEST_MESSAGE_BYTES`] bytes (on a
/// character boundary), with a note of the original length when it was cut.
pub(crate) fn cap_message(mut message: String) -> String {
    if message.len() <= MAX_GUEST_MESSAGE_BYTES {
        return message;
    }
    let total = message.len();
    let mut end = MAX_GUEST_MESSAGE_BYTES;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    message.truncate(end);
    message.push_str(&format!("… (truncated, {total} bytes)"));
    message.shrink_to_fit();
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escapes_terminal_sequences() {
        assert_eq!(
            escape_controls("\x1b]52;c;ZXZpbA==\x07\u{9b}2J\u{202e}x\r\n\t\x7f"),
            "\\u{1b}]52;c;ZXZpbA==\\u{7}\\u{9b}2J\\u{202e}x\\r\\n\\t\\u{7f}"
        );
        assert!(matches!(escape_controls("\\ \"ok\""), Cow::Borrowed(_)));
    }

    #[test]
    fn caps_long_messages_on_a_char_boundary() {
        assert_eq!(cap_message("short".into()), "short");
        let long = "é".repeat(MAX_GUEST_MESSAGE_BYTES);
        let capped = cap_message(long.clone());
        assert!(capped.len() < MAX_GUEST_MESSAGE_BYTES + 40);
        assert!(capped.ends_with(&format!("… (truncated, {} bytes)", long.len())));
        assert!(long.starts_with(capped.split('…').next().unwrap_or_default()));
    }

    proptest! {
        #[test]
        fn escaped_text_has_no_control_characters(text in ".*", raw in proptest::collection::vec(any::<char>(), 0..64)) {
            let mixed: String = text.chars().chain(raw).collect();
            let once = escape_controls(&mixed).into_owned();
            prop_assert!(!once.chars().any(needs_escape));
            prop_assert_eq!(escape_controls(&once), once.as_str());
        }
    }
}
