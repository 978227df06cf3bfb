//! Rendering result rows as a table or as JSON.

use comfy_table::Table;
use rusqlite::types::Value;

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
        Value::Text(s) => s.clone(),
        Value::Blob(b) => format!("x'{}'", hex(b)),
    }
}

fn hex(bytes: &[u8]) -> String {
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
        table.set_header(self.columns.iter());
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
        serde_json::Value::Array(rows).to_string()
    }
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
    fn statements_without_columns_print_no_table() {
        assert!(ResultSet::default().to_table().is_none());
        assert_eq!(ResultSet::default().to_json(), "[]");
    }
}
