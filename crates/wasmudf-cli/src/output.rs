//! Rendering result rows as a table or as JSON, and making any text that
//! may come from a guest safe to print.
//!
//! Everything the CLI prints passes through here: guest text (values, error
//! messages, function names) can hold terminal control sequences that set
//! the window title or write the clipboard, so control characters are shown
//! escaped (`\u{1b}`), never raw.

use std::borrow::Cow;

use comfy_table::Table;
use rusqlite::types::Value;

/// `text` with control characters escaped, for one line of output.
pub(crate) fn safe(text: &str) -> Cow<'_, str> {
    wasmudf::escape_controls(text)
}

/// Like [`safe`], keeping line breaks: a multi-line TEXT value stays
/// multi-line inside its table cell.
pub(crate) fn safe_lines(text: &str) -> String {
    text.split('\n')
        .map(|line| safe(line))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Prints an error on stderr, escaped.
pub(crate) fn print_error(err: &anyhow::Error) {
    eprintln!("error: {}", safe(&format!("{err:#}")));
}

/// The rows of one statement.
#[derive(Debug, Default)]
pub(crate) struct ResultSet {
    pub(crate) columns: Vec<String>,
    pub(crate) rows: Vec<Vec<Value>>,
}

/// A value as the table shows it.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => "NULL".into(),
        Value::Integer(i) => i.to_string(),
        Value::Real(r) => format!("{r:?}"),
        Value::Text(s) => safe_lines(s),
        Value::Blob(b) => format!("x'{}'", hex(b)),
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A value as JSON: numbers and strings as themselves, NULL as `null`, and a
/// BLOB as its lowercase hex string (JSON has no byte type).
fn json(value: &Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Integer(i) => (*i).into(),
        Value::Real(r) => serde_json::Number::from_f64(*r)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        Value::Text(s) => s.clone().into(),
        Value::Blob(b) => hex(b).into(),
    }
}

impl ResultSet {
    pub(crate) fn to_table(&self) -> Option<String> {
        if self.columns.is_empty() {
            return None;
        }
        let mut table = Table::new();
        table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
        table.set_header(self.columns.iter().map(|c| safe(c)));
        for row in &self.rows {
            table.add_row(row.iter().map(cell));
        }
        Some(table.to_string())
    }

    pub(crate) fn to_json(&self) -> String {
        let rows: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|row| {
                let object: serde_json::Map<String, serde_json::Value> = self
                    .columns
                    .iter()
                    .cloned()
                    .zip(row.iter().map(json))
                    .collect();
                serde_json::Value::Object(object)
            })
            .collect();
        escape_json(serde_json::Value::Array(rows).to_string())
    }
}

/// serde_json escapes C0 controls in strings but writes DEL, the C1
/// controls (U+0080..U+009F, which some terminals obey) and the Unicode
/// reordering controls raw. Outside strings JSON text is plain ASCII, so
/// writing every such character as `\uXXXX` keeps the JSON equal.
pub(crate) fn escape_json(json: String) -> String {
    let escaped = |c: char| matches!(safe(c.encode_utf8(&mut [0; 4])), Cow::Owned(_));
    if !json.chars().any(escaped) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if escaped(c) {
            for unit in c.encode_utf16(&mut [0; 2]) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_maps_every_storage_class() {
        let set = ResultSet {
            columns: vec!["n".into(), "i".into(), "r".into(), "t".into(), "b".into()],
            rows: vec![vec![
                Value::Null,
                Value::Integer(-3),
                Value::Real(2.5),
                Value::Text("ß".into()),
                Value::Blob(vec![0, 255]),
            ]],
        };
        assert_eq!(
            set.to_json(),
            r#"[{"n":null,"i":-3,"r":2.5,"t":"ß","b":"00ff"}]"#
        );
    }

    #[test]
    fn control_characters_are_escaped_in_tables_and_json() -> anyhow::Result<()> {
        let hostile = "a\x1b]0;t\x07\u{9b}2J\u{202e}\x7f\nline2";
        let set = ResultSet {
            columns: vec!["c\x1b".into()],
            rows: vec![vec![Value::Text(hostile.into())]],
        };
        let table = set.to_table().unwrap_or_default();
        assert!(
            !table.contains(['\x1b', '\x07', '\u{9b}', '\u{202e}', '\x7f']),
            "{table}"
        );
        assert!(table.contains("line2"), "{table}");
        let json = set.to_json();
        assert!(
            !json.contains(['\x1b', '\x07', '\u{9b}', '\u{202e}', '\x7f']),
            "{json}"
        );
        let back: serde_json::Value = serde_json::from_str(&json)?;
        assert_eq!(back[0]["c\x1b"], hostile);
        Ok(())
    }

    #[test]
    fn statements_without_columns_print_no_table() {
        assert!(ResultSet::default().to_table().is_none());
        assert_eq!(ResultSet::default().to_json(), "[]");
    }
}
