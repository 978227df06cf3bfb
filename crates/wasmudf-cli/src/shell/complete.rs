//! Tab completion at the prompt: dot commands and their arguments, SQL
//! keywords, and the names of tables, columns and functions.
//!
//! The names are read from the connection after each input (see
//! [`read_names`]) and kept in [`Names`], which the completer only reads:
//! completing never waits for a statement or touches the database.

use std::sync::{Arc, PoisonError, RwLock};

use rusqlite::Connection;
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;

use super::commands::COMMANDS;
use super::render::Mode;

/// The database's names, as of the last input.
#[derive(Debug, Default, Clone)]
pub(crate) struct Names {
    pub(crate) tables: Vec<String>,
    pub(crate) columns: Vec<String>,
    pub(crate) functions: Vec<String>,
    /// What `.unload` takes: each component's file name or origin.
    pub(crate) components: Vec<String>,
}

/// Tables and views (main, temp and attached), their columns, and every
/// function and table-valued function the connection has. A failing part
/// (a view whose table is gone) leaves its names out, nothing more.
pub(crate) fn read_names(conn: &Connection) -> Names {
    let list = |sql: &str| -> Vec<String> {
        conn.prepare(sql)
            .and_then(|mut stmt| {
                stmt.query_map([], |row| row.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .unwrap_or_default()
    };
    let mut tables = Vec::new();
    for schema in list("SELECT name FROM pragma_database_list") {
        let quoted = schema.replace('"', "\"\"");
        tables.extend(list(&format!(
            "SELECT name FROM \"{quoted}\".sqlite_schema WHERE type IN ('table', 'view')"
        )));
    }
    let mut columns = Vec::new();
    // Reading columns costs one query per table: enough for completion in
    // any schema a person types against.
    for table in tables.iter().take(500) {
        if let Ok(mut stmt) = conn.prepare("SELECT name FROM pragma_table_info(?1)")
            && let Ok(names) = stmt
                .query_map([table], |row| row.get::<_, String>(0))
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        {
            columns.extend(names);
        }
    }
    let mut functions = list("SELECT name FROM pragma_function_list");
    // Table-valued functions (`split`) are modules; SQLite registers its
    // JSON ones only when a statement first names them.
    functions.extend(list("SELECT name FROM pragma_module_list"));
    functions.extend(
        ["json_each", "json_tree", "jsonb_each", "jsonb_tree"]
            .into_iter()
            .map(String::from),
    );
    for names in [&mut tables, &mut columns, &mut functions] {
        names.sort();
        names.dedup();
    }
    Names {
        tables,
        columns,
        functions,
        components: Vec::new(),
    }
}

/// SQLite's keywords, from SQLite itself.
pub(crate) fn keywords() -> Vec<String> {
    // SAFETY: `sqlite3_keyword_count` takes nothing; for each index below
    // it, `sqlite3_keyword_name` points `name` at `len` bytes of static
    // ASCII that SQLite owns.
    unsafe {
        let count = rusqlite::ffi::sqlite3_keyword_count();
        (0..count)
            .filter_map(|i| {
                let mut name = std::ptr::null();
                let mut len = 0;
                if rusqlite::ffi::sqlite3_keyword_name(i, &mut name, &mut len)
                    != rusqlite::ffi::SQLITE_OK
                    || name.is_null()
                {
                    return None;
                }
                let bytes =
                    std::slice::from_raw_parts(name.cast::<u8>(), usize::try_from(len).ok()?);
                std::str::from_utf8(bytes).ok().map(String::from)
            })
            .collect()
    }
}

/// rustyline's helper: completion only.
pub(crate) struct ShellHelper {
    names: Arc<RwLock<Names>>,
    keywords: Vec<String>,
    files: FilenameCompleter,
}

impl ShellHelper {
    pub(crate) fn new(names: Arc<RwLock<Names>>) -> ShellHelper {
        ShellHelper {
            names,
            keywords: keywords(),
            files: FilenameCompleter::new(),
        }
    }
}

/// What the word before the cursor is, for completion.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Completion {
    /// Replace from `start` with one of these.
    Words { start: usize, words: Vec<String> },
    /// A file name argument.
    File,
}

/// The dot commands whose arguments are file names.
const FILE_COMMANDS: &[&str] = &[".import", ".load", ".once", ".open", ".output", ".read"];

/// Candidates for the word that ends at `pos` in `line`.
pub(crate) fn candidates(line: &str, pos: usize, names: &Names, keywords: &[String]) -> Completion {
    let before = &line[..pos];
    let start = before
        .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
        .map_or(0, |i| {
            i + before[i..].chars().next().map_or(1, char::len_utf8)
        });
    let word = &before[start..];
    let trimmed = before.trim_start();
    if let Some(rest) = trimmed.strip_prefix('.') {
        let command_start = before.len() - trimmed.len();
        if !rest.contains(char::is_whitespace) {
            let words = COMMANDS
                .iter()
                .map(|c| c.name)
                .filter(|name| name.starts_with(trimmed))
                .map(String::from)
                .collect();
            return Completion::Words {
                start: command_start,
                words,
            };
        }
        let command = trimmed.split_whitespace().next().unwrap_or_default();
        if FILE_COMMANDS.contains(&command) && trimmed.split_whitespace().count() <= 2 {
            return Completion::File;
        }
        let options: Vec<String> = match command {
            ".mode" => Mode::ALL.iter().map(|m| m.name().to_owned()).collect(),
            ".bail" | ".changes" | ".headers" | ".timer" => vec!["on".into(), "off".into()],
            ".schema" | ".indexes" | ".import" => names.tables.clone(),
            ".functions" => names.functions.clone(),
            ".unload" => names.components.clone(),
            _ => Vec::new(),
        };
        return Completion::Words {
            start,
            words: starting_with(word, options.iter().map(String::as_str), false),
        };
    }
    if word.is_empty() {
        return Completion::Words {
            start,
            words: Vec::new(),
        };
    }
    // Keywords take the case the user types in; names keep their own.
    let mut words = starting_with(word, keywords.iter().map(String::as_str), true);
    for list in [&names.tables, &names.columns, &names.functions] {
        words.extend(starting_with(word, list.iter().map(String::as_str), false));
    }
    words.sort_by_key(|w| w.to_ascii_lowercase());
    words.dedup();
    Completion::Words { start, words }
}

/// Those of `options` that start with `word`, ignoring ASCII case.
fn starting_with<'a>(
    word: &str,
    options: impl Iterator<Item = &'a str>,
    follow_case: bool,
) -> Vec<String> {
    let lower = word.chars().next().is_some_and(char::is_lowercase);
    options
        .filter(|o| {
            o.len() >= word.len()
                && o.is_char_boundary(word.len())
                && o[..word.len()].eq_ignore_ascii_case(word)
        })
        .map(|o| match (follow_case, lower) {
            (true, true) => o.to_ascii_lowercase(),
            (true, false) => o.to_ascii_uppercase(),
            (false, _) => o.to_owned(),
        })
        .collect()
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let names = self.names.read().unwrap_or_else(PoisonError::into_inner);
        match candidates(line, pos, &names, &self.keywords) {
            Completion::File => self.files.complete(line, pos, ctx),
            Completion::Words { start, words } => Ok((
                start,
                words
                    .into_iter()
                    .map(|w| Pair {
                        // Names come from the database file and the
                        // components: shown escaped in the list.
                        display: crate::output::safe(&w).into_owned(),
                        replacement: w,
                    })
                    .collect(),
            )),
        }
    }
}

impl Hinter for ShellHelper {
    type Hint = String;
}

impl Highlighter for ShellHelper {}

impl Validator for ShellHelper {}

impl rustyline::Helper for ShellHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        Names {
            tables: vec!["orders".into(), "Ostrich".into()],
            columns: vec!["order_id".into()],
            functions: vec!["levenshtein".into(), "lower".into()],
            components: vec!["text.wasm".into()],
        }
    }

    fn words(line: &str) -> (usize, Vec<String>) {
        let keywords = ["SELECT".to_string(), "ORDER".to_string(), "OR".to_string()];
        match candidates(line, line.len(), &names(), &keywords) {
            Completion::Words { start, words } => (start, words),
            Completion::File => panic!("{line}: a file name"),
        }
    }

    #[test]
    fn dot_commands_and_their_arguments_complete() {
        assert_eq!(words(".ta"), (0, vec![".tables".to_string()]));
        assert_eq!(words("  .ti"), (2, vec![".timer".to_string()]));
        assert_eq!(words(".mode ma"), (6, vec!["markdown".to_string()]));
        assert_eq!(words(".headers o").1, ["on", "off"]);
        assert_eq!(words(".schema or").1, ["orders"]);
        assert_eq!(words(".unload te").1, ["text.wasm"]);
        assert_eq!(words(".functions lev").1, ["levenshtein"]);
        let keywords: Vec<String> = Vec::new();
        assert_eq!(
            candidates(".read sc", 8, &names(), &keywords),
            Completion::File
        );
    }

    #[test]
    fn sql_words_complete_to_keywords_and_names() {
        assert_eq!(
            words("SELECT * FROM O").1,
            ["OR", "ORDER", "order_id", "orders", "Ostrich"]
        );
        // Keywords follow the case typed.
        assert_eq!(words("sel"), (0, vec!["select".to_string()]));
        assert_eq!(words("SELECT lev").1, ["levenshtein"]);
        assert_eq!(words("SELECT lev").0, 7);
        assert!(words("SELECT ").1.is_empty());
    }

    #[test]
    fn sqlite_has_keywords() {
        let all = keywords();
        assert!(all.len() > 100, "{all:?}");
        assert!(all.iter().any(|k| k == "SELECT"));
    }

    #[test]
    fn names_are_read_from_the_connection() -> rusqlite::Result<()> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(
            "CREATE TABLE t(alpha, beta); CREATE TEMP VIEW v AS SELECT alpha FROM t; \
             CREATE VIEW broken AS SELECT * FROM t; DROP TABLE t; CREATE TABLE u(gamma);",
        )?;
        let names = read_names(&conn);
        assert_eq!(names.tables, ["broken", "u", "v"]);
        assert_eq!(names.columns, ["gamma"]);
        assert!(names.functions.iter().any(|f| f == "json_each"));
        assert!(names.functions.iter().any(|f| f == "lower"));
        Ok(())
    }
}
