//! `regex_matches(pattern, text)`: a table-valued function with one row per
//! match of `pattern` in `text`.

use regex::Regex;
use wasmudf_guest::{Error, Flags, Table};

/// The matches of one call, found as the host asks for rows.
pub struct RegexMatches {
    regex: Regex,
    text: String,
    /// Where the next search starts, in bytes.
    at: usize,
    /// The character position (1-based) of byte `at`, counted so far.
    chars_before: i64,
    /// The end of the last match, to step past an empty match.
    last_end: Option<usize>,
}

impl RegexMatches {
    /// Counts characters from `self.at` to `to`, advancing `self.at`.
    fn advance_to(&mut self, to: usize) -> i64 {
        self.chars_before += self.text[self.at..to].chars().count() as i64;
        self.at = to;
        self.chars_before + 1
    }
}

impl Table for RegexMatches {
    const NAME: &'static str = "regex_matches";
    const FLAGS: Flags = Flags::DETERMINISTIC;
    const COLUMNS: &'static [&'static str] = &["match", "start", "end"];
    type Args<'a> = (&'a str, &'a str);
    /// The matched text, its first character's position (1-based, in
    /// characters, as `substr` and `instr` count) and the position just
    /// past it: `substr(text, start, end - start)` is the match.
    type Row = (String, i64, i64);

    fn open((pattern, text): (&str, &str)) -> Result<Self, Error> {
        let regex = Regex::new(pattern)
            .map_err(|e| Error::new(format!("invalid regular expression: {e}")))?;
        Ok(RegexMatches {
            regex,
            text: text.to_owned(),
            at: 0,
            chars_before: 0,
            last_end: None,
        })
    }

    fn next(&mut self) -> Result<Option<Self::Row>, Error> {
        let mut from = self.at;
        loop {
            if from > self.text.len() {
                return Ok(None);
            }
            let Some((at, to)) = self
                .regex
                .find_at(&self.text, from)
                .map(|m| (m.start(), m.end()))
            else {
                return Ok(None);
            };
            // An empty match right where the last match ended is skipped
            // (as `find_iter` does), so `a*` over "baa" yields "" and "aa"
            // rather than a second "" after "aa".
            if at == to && Some(to) == self.last_end {
                from = next_char_boundary(&self.text, to);
                continue;
            }
            let matched = self.text[at..to].to_owned();
            let start = self.advance_to(at);
            let end = self.advance_to(to);
            self.last_end = Some(to);
            return Ok(Some((matched, start, end)));
        }
    }
}

/// The byte index of the character after `at` (or past the end).
fn next_char_boundary(text: &str, at: usize) -> usize {
    text[at..]
        .chars()
        .next()
        .map_or(at + 1, |c| at + c.len_utf8())
}

wasmudf_guest::export! {
    tables: [RegexMatches],
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, text: &str) -> Vec<(String, i64, i64)> {
        let mut t = RegexMatches::open((pattern, text)).expect("opens");
        let mut rows = Vec::new();
        while let Some(row) = t.next().expect("next") {
            rows.push(row);
        }
        rows
    }

    fn row(m: &str, start: i64, end: i64) -> (String, i64, i64) {
        (m.to_owned(), start, end)
    }

    #[test]
    fn digits() {
        assert_eq!(
            matches(r"\d+", "a1b22c333"),
            [row("1", 2, 3), row("22", 4, 6), row("333", 7, 10)]
        );
        assert!(matches(r"\d+", "none").is_empty());
        assert!(matches(r"\d+", "").is_empty());
    }

    #[test]
    fn positions_count_characters() {
        // "é" is two bytes; positions are in characters.
        assert_eq!(matches("b+", "ébbéb"), [row("bb", 2, 4), row("b", 5, 6)]);
    }

    #[test]
    fn empty_matches_advance_as_find_iter_does() {
        let expected: Vec<_> = Regex::new("a*")
            .expect("valid")
            .find_iter("baaéa")
            .map(|m| m.as_str().to_owned())
            .collect();
        let got: Vec<_> = matches("a*", "baaéa").into_iter().map(|r| r.0).collect();
        assert_eq!(got, expected);
        assert_eq!(
            matches("", "ab"),
            [row("", 1, 1), row("", 2, 2), row("", 3, 3)]
        );
    }

    #[test]
    fn an_invalid_pattern_is_an_error() {
        let err = RegexMatches::open(("(", "x")).err().expect("refused");
        assert!(
            err.to_string().starts_with("invalid regular expression: "),
            "{err}"
        );
    }
}
