//! `split(text, sep)`: a table-valued function with one row per part of
//! `text` between occurrences of `sep`.

use wasmudf_guest::{Error, Flags, Table};

/// The parts of one call, cut as the host asks for rows.
pub struct Split {
    text: String,
    sep: String,
    /// Where the next part starts, in bytes; `None` after the last part.
    at: Option<usize>,
    ordinal: i64,
}

impl Table for Split {
    const NAME: &'static str = "split";
    const FLAGS: Flags = Flags::DETERMINISTIC;
    const COLUMNS: &'static [&'static str] = &["ordinal", "part"];
    type Args<'a> = (&'a str, &'a str);
    /// The part's position (1-based) and its text.
    type Row = (i64, String);

    fn open((text, sep): (&str, &str)) -> Result<Self, Error> {
        if sep.is_empty() {
            return Err(Error::new("the separator must not be empty"));
        }
        Ok(Split {
            text: text.to_owned(),
            sep: sep.to_owned(),
            at: Some(0),
            ordinal: 0,
        })
    }

    fn next(&mut self) -> Result<Option<Self::Row>, Error> {
        let Some(at) = self.at else {
            return Ok(None);
        };
        let rest = &self.text[at..];
        let part = match rest.find(&self.sep) {
            Some(len) => {
                self.at = Some(at + len + self.sep.len());
                &rest[..len]
            }
            None => {
                self.at = None;
                rest
            }
        };
        self.ordinal += 1;
        Ok(Some((self.ordinal, part.to_owned())))
    }
}

wasmudf_guest::export! {
    tables: [Split],
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str, sep: &str) -> Vec<(i64, String)> {
        let mut t = Split::open((text, sep)).expect("opens");
        let mut rows = Vec::new();
        while let Some(row) = t.next().expect("next") {
            rows.push(row);
        }
        rows
    }

    fn parts(rows: Vec<(i64, String)>) -> Vec<String> {
        rows.into_iter().map(|(_, p)| p).collect()
    }

    #[test]
    fn parts_and_ordinals_match_str_split() {
        for (text, sep) in [
            ("a,b,,c", ","),
            ("", ","),
            (",", ","),
            ("a", ","),
            ("x--y----z", "--"),
            ("ünï,cödé", ","),
            ("aaa", "aa"),
        ] {
            let rows = split(text, sep);
            let ordinals: Vec<i64> = rows.iter().map(|r| r.0).collect();
            assert_eq!(ordinals, (1..=rows.len() as i64).collect::<Vec<_>>());
            let expected: Vec<String> = text.split(sep).map(str::to_owned).collect();
            assert_eq!(parts(rows), expected, "{text:?} by {sep:?}");
        }
    }

    #[test]
    fn an_empty_separator_is_an_error() {
        let err = Split::open(("abc", "")).err().expect("refused");
        assert_eq!(err.to_string(), "the separator must not be empty");
    }
}
