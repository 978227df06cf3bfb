//! Where the shell's lines come from (the terminal, piped standard input, a
//! `.read` file) and how they are cut into statements and dot-command
//! arguments.

use std::io::BufRead;

use rustyline::error::ReadlineError;

/// What reading one line gave.
#[derive(Debug)]
pub(crate) enum Read {
    Line(String),
    /// Ctrl-C at the prompt: the line being typed is dropped.
    Interrupted,
    Eof,
}

/// A source of input lines.
pub(crate) trait Lines {
    /// The next line, without its line break. `continuation` says a
    /// statement is incomplete, for the prompt.
    fn read(&mut self, continuation: bool) -> anyhow::Result<Read>;

    /// Remembers a finished input (a statement or a dot command) in the
    /// history, where there is one.
    fn remember(&mut self, _entry: &str) {}

    /// Whether line numbers mean anything to the user: in `sqlite3`'s
    /// messages a terminal's errors have none ("Parse error: ..."), a
    /// script's name their line ("Parse error near line 3: ...").
    fn numbered(&self) -> bool {
        true
    }
}

/// Lines from a reader: piped standard input or a `.read` file. No
/// prompts; bytes that are not UTF-8 are replaced, as a terminal would
/// show them.
pub(crate) struct ReaderLines<R> {
    reader: R,
}

impl<R: BufRead> ReaderLines<R> {
    pub(crate) fn new(reader: R) -> Self {
        ReaderLines { reader }
    }
}

impl<R: BufRead> Lines for ReaderLines<R> {
    fn read(&mut self, _continuation: bool) -> anyhow::Result<Read> {
        let mut line = Vec::new();
        if self.reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(Read::Eof);
        }
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        Ok(Read::Line(String::from_utf8_lossy(&line).into_owned()))
    }
}

/// Lines typed at a terminal, with line editing, completion and history.
pub(crate) struct TerminalLines<'e, H: rustyline::Helper> {
    pub(crate) editor: &'e mut rustyline::Editor<H, rustyline::history::DefaultHistory>,
}

impl<H: rustyline::Helper> Lines for TerminalLines<'_, H> {
    fn read(&mut self, continuation: bool) -> anyhow::Result<Read> {
        let prompt = if continuation {
            "   ...> "
        } else {
            "wasmudf> "
        };
        match self.editor.readline(prompt) {
            Ok(line) => Ok(Read::Line(line)),
            Err(ReadlineError::Interrupted) => Ok(Read::Interrupted),
            Err(ReadlineError::Eof) => Ok(Read::Eof),
            Err(err) => Err(err.into()),
        }
    }

    fn remember(&mut self, entry: &str) {
        // A history that cannot take an entry (a duplicate) is no error.
        let _ = self.editor.add_history_entry(entry.trim());
    }

    fn numbered(&self) -> bool {
        false
    }
}

/// Whether `sql` ends with a complete statement, by SQLite's own rules
/// (a `;` inside a string literal or a trigger body does not count).
pub(crate) fn is_complete(sql: &str) -> bool {
    let Ok(c) = std::ffi::CString::new(sql) else {
        // A NUL byte: let SQLite's parser report it.
        return true;
    };
    // SAFETY: `c` is a valid NUL-terminated string for the whole call.
    unsafe { rusqlite::ffi::sqlite3_complete(c.as_ptr()) != 0 }
}

/// One statement of an input chunk.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Statement<'a> {
    /// The statement's text, from its first non-blank character.
    pub(crate) sql: &'a str,
    /// The line it starts on, counting the chunk's first line as 0.
    pub(crate) line: usize,
}

/// Cuts a chunk of input into statements, each ending at the `;` that
/// completes it by SQLite's rules; what is left after the last `;` (SQL
/// still incomplete when the input ended) is a statement too, so that
/// SQLite names what is missing, as `sqlite3` does. Blank pieces are
/// dropped; comment-only ones are kept and prepare to nothing.
///
/// Each statement runs by itself, so an error can name its line. Only a
/// `;` outside quotes and comments is asked about, so a long string
/// literal full of semicolons costs one scan, not one scan per `;`.
pub(crate) fn statements(chunk: &str) -> Vec<Statement<'_>> {
    fn push<'a>(chunk: &'a str, from: usize, to: usize, out: &mut Vec<Statement<'a>>) {
        let piece = &chunk[from..to];
        let sql = piece.trim_start();
        if !sql.trim_end().is_empty() {
            let lead = piece.len() - sql.len();
            let line = chunk[..from + lead].matches('\n').count();
            out.push(Statement { sql, line });
        }
    }
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = chunk.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'\'' | b'"' | b'`') => {
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += 1;
                }
            }
            b'[' => {
                while i < bytes.len() && bytes[i] != b']' {
                    i += 1;
                }
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 1;
            }
            b';' if is_complete(&chunk[start..=i]) => {
                push(chunk, start, i + 1, &mut out);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < chunk.len() {
        push(chunk, start, chunk.len(), &mut out);
    }
    out
}

/// A dot command's words, split as `sqlite3` splits them: on white space,
/// with `"double quotes"` (backslash escapes `\"`, `\\`, `\n`, `\t`) and
/// `'single quotes'` (taken as they are) around words with spaces.
pub(crate) fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(&first) = chars.peek() else {
            return out;
        };
        let mut word = String::new();
        match first {
            '"' => {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some('n') => word.push('\n'),
                            Some('t') => word.push('\t'),
                            Some(other) => word.push(other),
                            None => word.push('\\'),
                        },
                        other => word.push(other),
                    }
                }
            }
            '\'' => {
                chars.next();
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            _ => {
                while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                    word.push(c);
                }
            }
        }
        out.push(word);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(chunk: &str) -> Vec<(&str, usize)> {
        statements(chunk)
            .into_iter()
            .map(|s| (s.sql, s.line))
            .collect()
    }

    #[test]
    fn statements_are_cut_where_sqlite_says_they_end() {
        assert_eq!(
            cut("SELECT 1; SELECT ';';\n\n  SELECT\n 2;\n"),
            [("SELECT 1;", 0), ("SELECT ';';", 0), ("SELECT\n 2;", 2)]
        );
        // A trigger body's semicolons do not end the statement.
        let trigger = "CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; SELECT 2; END;";
        assert_eq!(cut(trigger), [(trigger, 0)]);
        // Comments and quoted names hide semicolons too.
        assert_eq!(
            cut("SELECT 1 -- ; not here\n; SELECT \"a;b\", [c;d] /* ; */;"),
            [
                ("SELECT 1 -- ; not here\n;", 0),
                ("SELECT \"a;b\", [c;d] /* ; */;", 1)
            ]
        );
        // Input that ends without `;` is still a statement.
        assert_eq!(
            cut("SELECT 1;\nSELECT 2\n"),
            [("SELECT 1;", 0), ("SELECT 2\n", 1)]
        );
        assert!(cut("  \n\t").is_empty());
    }

    #[test]
    fn completeness_follows_sqlite() {
        assert!(is_complete("SELECT 1;"));
        assert!(!is_complete("SELECT 'a;"));
        assert!(!is_complete("SELECT 1"));
    }

    #[test]
    fn dot_command_words_take_quotes() {
        assert_eq!(
            words(r#".import "my file.csv" t"#),
            [".import", "my file.csv", "t"]
        );
        assert_eq!(
            words(r#".separator "\t" 'a b'"#),
            [".separator", "\t", "a b"]
        );
        assert_eq!(words("  .tables  "), [".tables"]);
        assert!(words("").is_empty());
    }

    #[test]
    fn reader_lines_drop_line_ends_and_bad_bytes() -> anyhow::Result<()> {
        let mut lines = ReaderLines::new(&b"a\r\nb\xff\nlast"[..]);
        let mut got = Vec::new();
        while let Read::Line(line) = lines.read(false)? {
            got.push(line);
        }
        assert_eq!(got, ["a", "b\u{fffd}", "last"]);
        Ok(())
    }
}
