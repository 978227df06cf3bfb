//! Text functions: `unicode_upper(text)`, `edit_distance(a, b)` and
//! `regexp(pattern, text)`.

use std::cell::RefCell;

use regex::Regex;
use wasmudf_guest::Error;

/// `unicode_upper(text) -> TEXT`: full Unicode uppercase ('straße' ->
/// 'STRASSE').
#[wasmudf_guest::scalar(deterministic, innocuous)]
pub fn unicode_upper(text: &str) -> String {
    text.to_uppercase()
}

/// `edit_distance(a TEXT, b TEXT) -> INTEGER`: the Levenshtein distance
/// between `a` and `b`, counted in Unicode scalar values. (Not named
/// `levenshtein`: DataFusion has a builtin of that name.)
#[wasmudf_guest::scalar(name = "edit_distance", deterministic, innocuous)]
pub fn levenshtein_sql(a: &str, b: &str) -> i64 {
    levenshtein(a, b) as i64
}

/// The Levenshtein distance between `a` and `b` in chars: O(n*m) time,
/// O(min(n, m)) memory.
pub fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (long, short) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    // row[j] = distance between the processed prefix of `long` and short[..j].
    let mut row: Vec<usize> = (0..=short.len()).collect();
    for (i, lc) in long.iter().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, sc) in short.iter().enumerate() {
            let above = row[j + 1];
            let cost = usize::from(lc != sc);
            row[j + 1] = (above + 1).min(row[j] + 1).min(diag + cost);
            diag = above;
        }
    }
    row[short.len()]
}

thread_local! {
    /// The last compiled pattern, so a query over many rows compiles once.
    static LAST_REGEX: RefCell<Option<(String, Regex)>> = const { RefCell::new(None) };
}

/// `regexp(pattern TEXT, text TEXT) -> INTEGER`: 1 if `text` matches
/// `pattern` anywhere, else 0. SQLite rewrites `X REGEXP Y` to
/// `regexp(Y, X)`.
#[wasmudf_guest::scalar(deterministic)]
pub fn regexp(pattern: &str, text: &str) -> Result<bool, Error> {
    LAST_REGEX.with(|cell| {
        let mut cache = cell.borrow_mut();
        if let Some((p, re)) = cache.as_ref()
            && p == pattern
        {
            return Ok(re.is_match(text));
        }
        let re = Regex::new(pattern)
            .map_err(|e| Error::new(format!("invalid regular expression: {e}")))?;
        let matched = re.is_match(text);
        *cache = Some((pattern.to_owned(), re));
        Ok(matched)
    })
}

wasmudf_guest::export! {
    scalars: [unicode_upper, levenshtein_sql, regexp],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(levenshtein("", ""), 0);
        assert_eq!(levenshtein("abc", ""), 3);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("sitting", "kitten"), 3);
        assert_eq!(levenshtein("flaw", "lawn"), 2);
        assert_eq!(levenshtein("straße", "strasse"), 2);
        assert_eq!(levenshtein("日本語", "日本"), 1);
    }

    #[test]
    fn upper() {
        assert_eq!(unicode_upper("straße"), "STRASSE");
    }

    #[test]
    fn regex_cache() {
        assert!(regexp("^a+b$", "aaab").unwrap());
        assert!(!regexp("^a+b$", "aaac").unwrap());
        assert!(regexp("b", "abc").unwrap());
        let e = regexp("(", "x").unwrap_err();
        assert!(
            e.to_string().starts_with("invalid regular expression: "),
            "{e}"
        );
    }
}
