//! The shell's output modes, as `sqlite3` has them: each turns one
//! statement's rows into text, as a pure function of the settings and the
//! rows, so every mode's exact output is unit-tested.
//!
//! The streaming modes (`list`, `tabs`, `csv`, `line`, `json`) render row
//! by row, so a long result shows as it is stepped; the columnar ones
//! (`table`, `box`, `markdown`) need every row for the column widths and
//! render at the end. As in `sqlite3`, a statement that returns no rows
//! prints nothing in any mode.
//!
//! Every value and column name goes through [`output::safe`] or
//! [`output::safe_lines`]: they may come from a guest or a database file.

use std::fmt::Write as _;

use rusqlite::types::Value;

use crate::output::{self, safe, safe_lines};

/// How rows are printed (`.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Values separated by `.separator` (`|`), one row per line.
    List,
    /// Values separated by tabs.
    Tabs,
    /// RFC 4180 CSV with CRLF line ends, as `sqlite3` writes it.
    Csv,
    /// One `column = value` line per value, a blank line between rows.
    Line,
    /// One JSON array of row objects.
    Json,
    /// A Markdown (GitHub) table.
    Markdown,
    /// An ASCII table.
    Table,
    /// A table drawn with Unicode box characters, as `sqlite3`'s
    /// `.mode box` draws it.
    Box,
}

impl Mode {
    /// Every mode, in the order `.help` lists them.
    pub(crate) const ALL: [Mode; 8] = [
        Mode::Box,
        Mode::Table,
        Mode::Markdown,
        Mode::List,
        Mode::Tabs,
        Mode::Csv,
        Mode::Line,
        Mode::Json,
    ];

    /// The mode's name in `.mode`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Mode::List => "list",
            Mode::Tabs => "tabs",
            Mode::Csv => "csv",
            Mode::Line => "line",
            Mode::Json => "json",
            Mode::Markdown => "markdown",
            Mode::Table => "table",
            Mode::Box => "box",
        }
    }

    /// The mode named `name`.
    pub(crate) fn parse(name: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// What `.mode`, `.headers`, `.nullvalue` and `.separator` set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settings {
    pub(crate) mode: Mode,
    /// Whether `list`, `tabs` and `csv` print a header line; the columnar
    /// modes always do, as in `sqlite3`.
    pub(crate) headers: bool,
    /// How NULL is shown (not in `json`, where it is `null`).
    pub(crate) nullvalue: String,
    /// The column separator of `list`.
    pub(crate) separator: String,
}

impl Settings {
    /// `sqlite3`'s defaults in `mode`: no header line, NULL as the empty
    /// string, `|` between `list` columns.
    pub(crate) fn new(mode: Mode) -> Settings {
        Settings {
            mode,
            headers: false,
            nullvalue: String::new(),
            separator: "|".to_owned(),
        }
    }
}

/// Renders one statement's rows in a mode, a row at a time.
#[derive(Debug)]
pub(crate) struct Renderer {
    settings: Settings,
    columns: Vec<String>,
    rows: usize,
    /// The columnar modes' cells, rendered, until [`Renderer::finish`].
    cells: Vec<Vec<String>>,
}

impl Renderer {
    /// A renderer for rows with these column names.
    pub(crate) fn new(settings: &Settings, columns: Vec<String>) -> Renderer {
        Renderer {
            settings: settings.clone(),
            columns,
            rows: 0,
            cells: Vec::new(),
        }
    }

    /// Rows seen so far.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// The text for one more row (with what comes before the first); empty
    /// for the columnar modes, which print at [`Renderer::finish`].
    pub(crate) fn row(&mut self, values: &[Value]) -> String {
        let first = self.rows == 0;
        self.rows += 1;
        let s = &self.settings;
        let mut out = String::new();
        match s.mode {
            Mode::List | Mode::Tabs => {
                let sep = if s.mode == Mode::Tabs {
                    "\t"
                } else {
                    s.separator.as_str()
                };
                // The separator is the user's own text, but a pasted
                // control character would still reach the terminal; tabs
                // and line breaks are what separators are made of.
                let sep = sep
                    .split('\t')
                    .map(safe_lines)
                    .collect::<Vec<_>>()
                    .join("\t");
                if first && s.headers {
                    let names: Vec<_> = self.columns.iter().map(|c| safe(c)).collect();
                    out.push_str(&names.join(sep.as_str()));
                    out.push('\n');
                }
                let cells: Vec<String> = values.iter().map(|v| text(v, &s.nullvalue)).collect();
                out.push_str(&cells.join(sep.as_str()));
                out.push('\n');
            }
            Mode::Csv => {
                if first && s.headers {
                    let names: Vec<String> =
                        self.columns.iter().map(|c| csv_field(&safe(c))).collect();
                    out.push_str(&names.join(","));
                    out.push_str("\r\n");
                }
                let cells: Vec<String> = values
                    .iter()
                    .map(|v| match v {
                        Value::Null => safe(&s.nullvalue).into_owned(),
                        Value::Text(t) => csv_field(&safe_lines(t)),
                        other => text(other, &s.nullvalue),
                    })
                    .collect();
                out.push_str(&cells.join(","));
                out.push_str("\r\n");
            }
            Mode::Line => {
                if !first {
                    out.push('\n');
                }
                let width = self
                    .columns
                    .iter()
                    .map(|c| safe(c).chars().count())
                    .max()
                    .unwrap_or(0)
                    .max(5);
                for (name, value) in self.columns.iter().zip(values) {
                    let name = safe(name);
                    let _ = writeln!(out, "{name:>width$} = {}", text(value, &s.nullvalue));
                }
            }
            Mode::Json => {
                out.push_str(if first { "[{" } else { ",\n{" });
                for (i, (name, value)) in self.columns.iter().zip(values).enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&json_string(name));
                    out.push(':');
                    out.push_str(&json_value(value));
                }
                out.push('}');
            }
            Mode::Markdown => self.cells.push(
                values
                    .iter()
                    .map(|v| markdown_cell(&text(v, &s.nullvalue)))
                    .collect(),
            ),
            Mode::Table | Mode::Box => self
                .cells
                .push(values.iter().map(|v| text(v, &s.nullvalue)).collect()),
        }
        out
    }

    /// The text after the last row: the whole table for the columnar
    /// modes, the closing bracket for `json`.
    pub(crate) fn finish(self) -> String {
        if self.rows == 0 {
            return String::new();
        }
        match self.settings.mode {
            Mode::Json => "]\n".to_owned(),
            Mode::Table => grid(TABLE_PRESET, &self.columns, self.cells),
            Mode::Box => grid(BOX_PRESET, &self.columns, self.cells),
            Mode::Markdown => markdown(&self.columns, &self.cells),
            _ => String::new(),
        }
    }
}

/// All of a statement's rows rendered at once.
#[cfg(test)]
pub(crate) fn render(settings: &Settings, columns: &[&str], rows: &[Vec<Value>]) -> String {
    let mut renderer = Renderer::new(settings, columns.iter().map(|c| c.to_string()).collect());
    let mut out = String::new();
    for row in rows {
        out.push_str(&renderer.row(row));
    }
    out.push_str(&renderer.finish());
    out
}

/// `sqlite3`'s `.mode table`: `+---+` lines, `|` between columns, no line
/// between rows (comfy-table's preset letters: borders, header line and
/// intersections, vertical lines, no horizontal lines, corners).
const TABLE_PRESET: &str = "||--+-++|    ++++++";

/// `sqlite3`'s `.mode box`: the same lines drawn with Unicode box
/// characters, `├─┼─┤` under the header.
const BOX_PRESET: &str = "││──├─┼┤│    ┬┴┌┐└┘";

fn grid(preset: &str, columns: &[String], rows: Vec<Vec<String>>) -> String {
    let mut table = comfy_table::Table::new();
    table.load_preset(preset);
    // Headers centred, cells left-aligned, as sqlite3 does.
    table.set_header(columns.iter().map(|c| {
        comfy_table::Cell::new(safe(c)).set_alignment(comfy_table::CellAlignment::Center)
    }));
    for row in rows {
        table.add_row(row);
    }
    let mut out = table.to_string();
    out.push('\n');
    out
}

fn markdown(columns: &[String], rows: &[Vec<String>]) -> String {
    let header: Vec<String> = columns.iter().map(|c| markdown_cell(&safe(c))).collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    // Headers centred, cells left-aligned, as sqlite3 does.
    let line = |cells: &[String], centred: bool| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, &w)| {
                let room = w - c.chars().count();
                let left = if centred { room / 2 } else { 0 };
                format!("{}{c}{}", " ".repeat(left), " ".repeat(room - left))
            })
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut out = line(&header, true);
    let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w + 2)).collect();
    out.push_str(&format!("|{}|\n", rule.join("|")));
    for row in rows {
        out.push_str(&line(row, false));
    }
    out
}

/// A Markdown cell stays on one line and cannot end the cell early.
fn markdown_cell(text: &str) -> String {
    text.replace('\n', "\\n").replace('|', "\\|")
}

/// A value as the text modes show it. BLOBs are shown as SQL literals
/// (`x'00ff'`) rather than raw bytes, which could drive the terminal.
fn text(value: &Value, nullvalue: &str) -> String {
    match value {
        Value::Null => safe(nullvalue).into_owned(),
        Value::Integer(i) => i.to_string(),
        Value::Real(r) => real_text(*r),
        Value::Text(s) => safe_lines(s),
        Value::Blob(b) => format!("x'{}'", output::hex(b)),
    }
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn json_string(text: &str) -> String {
    output::escape_json(serde_json::Value::from(text).to_string())
}

/// A value as JSON: BLOBs as their hex string, as `wasmudf query --json`
/// writes them, and infinities (which JSON lacks) as `null`.
fn json_value(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Integer(i) => i.to_string(),
        Value::Real(r) if r.is_finite() => real_text(*r),
        Value::Real(_) => "null".to_owned(),
        Value::Text(s) => json_string(s),
        Value::Blob(b) => format!("\"{}\"", output::hex(b)),
    }
}

/// A REAL as SQLite writes it (`CAST(r AS TEXT)`, what `sqlite3` shows):
/// SQLite's own `%!.17g`, so that the shell's numbers are `sqlite3`'s to
/// the last digit (`0.1`, `49.47`, `0.33333333333333331`, `1.0e+20`).
pub(crate) fn real_text(r: f64) -> String {
    let mut buf = [0u8; 64];
    // SAFETY: `sqlite3_snprintf` writes at most `buf.len()` bytes, NUL
    // included, into `buf`; the format is NUL-terminated and takes exactly
    // one `double`, which `r` is. The longest `%!.17g` is 24 bytes.
    unsafe {
        rusqlite::ffi::sqlite3_snprintf(
            buf.len() as std::ffi::c_int,
            buf.as_mut_ptr().cast(),
            c"%!.17g".as_ptr(),
            r,
        );
    }
    std::ffi::CStr::from_bytes_until_nul(&buf)
        .map(|text| text.to_string_lossy().into_owned())
        .unwrap_or_else(|_| r.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<Vec<Value>> {
        vec![
            vec![Value::Integer(1), Value::Text("x".into())],
            vec![Value::Real(2.5), Value::Null],
        ]
    }

    fn check(mode: Mode, headers: bool, expected: &str) {
        let settings = Settings {
            headers,
            ..Settings::new(mode)
        };
        assert_eq!(
            render(&settings, &["a", "b"], &rows()),
            expected,
            "{mode:?}"
        );
    }

    #[test]
    fn every_mode_renders_as_sqlite3_does() {
        check(Mode::List, false, "1|x\n2.5|\n");
        check(Mode::List, true, "a|b\n1|x\n2.5|\n");
        check(Mode::Tabs, true, "a\tb\n1\tx\n2.5\t\n");
        check(Mode::Csv, false, "1,x\r\n2.5,\r\n");
        check(Mode::Csv, true, "a,b\r\n1,x\r\n2.5,\r\n");
        check(
            Mode::Line,
            false,
            "    a = 1\n    b = x\n\n    a = 2.5\n    b = \n",
        );
        check(
            Mode::Json,
            false,
            "[{\"a\":1,\"b\":\"x\"},\n{\"a\":2.5,\"b\":null}]\n",
        );
        check(
            Mode::Markdown,
            false,
            "|  a  | b |\n|-----|---|\n| 1   | x |\n| 2.5 |   |\n",
        );
        check(
            Mode::Table,
            false,
            "+-----+---+\n|  a  | b |\n+-----+---+\n| 1   | x |\n| 2.5 |   |\n+-----+---+\n",
        );
        check(
            Mode::Box,
            false,
            "┌─────┬───┐\n│  a  │ b │\n├─────┼───┤\n│ 1   │ x │\n│ 2.5 │   │\n└─────┴───┘\n",
        );
    }

    #[test]
    fn no_rows_print_nothing_in_any_mode() {
        for mode in Mode::ALL {
            let settings = Settings {
                headers: true,
                ..Settings::new(mode)
            };
            assert_eq!(render(&settings, &["a"], &[]), "", "{mode:?}");
        }
    }

    #[test]
    fn list_takes_the_separator_and_nullvalue() {
        let settings = Settings {
            separator: ", ".into(),
            nullvalue: "NULL".into(),
            ..Settings::new(Mode::List)
        };
        assert_eq!(
            render(
                &settings,
                &["a", "b"],
                &[vec![Value::Null, Value::Integer(3)]]
            ),
            "NULL, 3\n"
        );
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        let settings = Settings::new(Mode::Csv);
        let row = vec![
            Value::Text("a,b".into()),
            Value::Text("say \"hi\"".into()),
            Value::Text("two\nlines".into()),
            Value::Text("plain words".into()),
        ];
        assert_eq!(
            render(&settings, &["a", "b", "c", "d"], &[row]),
            "\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",plain words\r\n"
        );
    }

    #[test]
    fn markdown_cells_stay_one_cell() {
        let settings = Settings::new(Mode::Markdown);
        let out = render(&settings, &["a"], &[vec![Value::Text("x|y\nz".into())]]);
        assert_eq!(out, "|    a    |\n|---------|\n| x\\|y\\nz |\n");
    }

    #[test]
    fn json_keeps_duplicate_names_and_shows_blobs_in_hex() {
        let settings = Settings::new(Mode::Json);
        let out = render(
            &settings,
            &["x", "x"],
            &[vec![Value::Blob(vec![0, 255]), Value::Real(1e20)]],
        );
        assert_eq!(out, "[{\"x\":\"00ff\",\"x\":1.0e+20}]\n");
        let back: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
        assert!(back.is_array());
    }

    #[test]
    fn control_characters_are_escaped_in_every_mode() {
        let hostile = "a\x1b]0;t\x07\u{9b}\u{202e}";
        for mode in Mode::ALL {
            let settings = Settings {
                headers: true,
                ..Settings::new(mode)
            };
            let out = render(&settings, &["c\x1b"], &[vec![Value::Text(hostile.into())]]);
            assert!(
                !out.contains(['\x1b', '\x07', '\u{9b}', '\u{202e}']),
                "{mode:?}: {out:?}"
            );
        }
    }

    #[test]
    fn reals_are_written_as_sqlite_writes_them() -> anyhow::Result<()> {
        let conn = rusqlite::Connection::open_in_memory()?;
        let values = [
            0.1,
            0.1 + 0.2,
            49.47,
            1.5,
            2.0,
            -3.25,
            100.0,
            1e-4,
            1.5e-5,
            123456.789,
            1e15,
            1e16,
            1e17,
            1e20,
            -1e100,
            12345678901234567890.0,
            f64::MAX,
            -0.0,
            f64::MIN_POSITIVE,
            5e-324,
            1.0 - f64::EPSILON / 2.0,
            1e23,
            1.0 / 3.0,
            2.0 / 3.0,
            std::f64::consts::PI,
            std::f64::consts::E * 1e-7,
            123_456_789_012_345_680.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        // And numbers of every size and digit pattern: random bits
        // (xorshift, fixed seed), and short decimals of the kind people type.
        let mut bits = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            bits ^= bits << 13;
            bits ^= bits >> 7;
            bits ^= bits << 17;
            bits
        };
        let random = (0..20_000).map(|_| f64::from_bits(next()));
        let typed = (0..5_000).map(|i| f64::from(i) / 100.0 + 0.01);
        let mut stmt = conn.prepare("SELECT CAST(?1 AS TEXT)")?;
        for r in values
            .into_iter()
            .chain(random)
            .chain(typed)
            .filter(|r| !r.is_nan())
        {
            let sqlite: String = stmt.query_row([r], |row| row.get(0))?;
            assert_eq!(real_text(r), sqlite, "{r:e}");
        }
        Ok(())
    }
}
