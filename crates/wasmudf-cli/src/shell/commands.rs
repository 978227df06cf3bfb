//! The dot commands.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use anyhow::{Context, Result, anyhow, bail};
use wasmudf::Component;

use super::input::{ReaderLines, words};
use super::render::Mode;
use super::{Flow, Input, Shell, import, sink};
use crate::output::{safe, safe_lines};
use crate::udfs;

/// One dot command, for `.help` and completion.
#[derive(Debug)]
pub(crate) struct Command {
    pub(crate) name: &'static str,
    args: &'static str,
    help: &'static str,
}

/// Every dot command, in `.help`'s order.
pub(crate) const COMMANDS: &[Command] = &[
    Command {
        name: ".bail",
        args: "on|off",
        help: "stop at the first error (on for piped input)",
    },
    Command {
        name: ".changes",
        args: "on|off",
        help: "show the rows each statement changed",
    },
    Command {
        name: ".exit",
        args: "?CODE?",
        help: "leave the shell with exit status CODE",
    },
    Command {
        name: ".functions",
        args: "?PATTERN?",
        help: "list the components' functions (LIKE pattern, or GLOB with * ? [)",
    },
    Command {
        name: ".headers",
        args: "on|off",
        help: "print column names in list, tabs and csv modes",
    },
    Command {
        name: ".help",
        args: "",
        help: "show this help",
    },
    Command {
        name: ".import",
        args: "FILE TABLE",
        help: "import CSV; a new TABLE takes its columns from the first row (--skip N)",
    },
    Command {
        name: ".indexes",
        args: "?TABLE?",
        help: "list the indexes (of the tables matching the LIKE pattern TABLE)",
    },
    Command {
        name: ".load",
        args: "FILE",
        help: "load a component or a folder of them; loaded again, one replaces itself",
    },
    Command {
        name: ".mode",
        args: "MODE",
        help: "box, table, markdown, list, tabs, csv, line or json",
    },
    Command {
        name: ".nullvalue",
        args: "TEXT",
        help: "show NULL as TEXT",
    },
    Command {
        name: ".once",
        args: "FILE",
        help: "send the next input's output to FILE",
    },
    Command {
        name: ".open",
        args: "?FILE?",
        help: "open database FILE (without: a new in-memory one) with the same components",
    },
    Command {
        name: ".output",
        args: "?FILE?",
        help: "send output to FILE, or back to the terminal without FILE",
    },
    Command {
        name: ".quit",
        args: "",
        help: "leave the shell (also Ctrl-D)",
    },
    Command {
        name: ".read",
        args: "FILE",
        help: "run the SQL and dot commands in FILE",
    },
    Command {
        name: ".schema",
        args: "?PATTERN?",
        help: "show the CREATE statements of the tables matching the LIKE pattern",
    },
    Command {
        name: ".separator",
        args: "TEXT",
        help: "the column separator of list mode",
    },
    Command {
        name: ".show",
        args: "",
        help: "show the current settings",
    },
    Command {
        name: ".tables",
        args: "?PATTERN?",
        help: "list the tables and views matching the LIKE pattern",
    },
    Command {
        name: ".timer",
        args: "on|off",
        help: "show how long each statement took",
    },
    Command {
        name: ".unload",
        args: "NAME",
        help: "remove a component: its file name, file stem or origin",
    },
];

/// `.help`'s text.
pub(crate) fn help() -> String {
    let mut out = String::new();
    for c in COMMANDS {
        let usage = format!("{} {}", c.name, c.args);
        out.push_str(&format!("{usage:<22} {}\n", c.help));
    }
    out.push_str(
        "SQL statements end with ';' and may span lines. Tab completes commands, \
         keywords and names; Ctrl-C stops a running statement.\n",
    );
    out
}

/// `on`/`off` as `sqlite3` reads them.
fn boolean(word: &str) -> Result<bool> {
    match word.to_ascii_lowercase().as_str() {
        "on" | "yes" | "true" | "1" => Ok(true),
        "off" | "no" | "false" | "0" => Ok(false),
        _ => bail!("not a boolean: {} (on or off)", safe(word)),
    }
}

/// Names in columns across an 80-column line, filled down each column
/// first, as `sqlite3` lays out `.tables`.
pub(crate) fn columns(names: &[String]) -> String {
    if names.is_empty() {
        return String::new();
    }
    let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    let per_line = (80 / (width + 2)).max(1);
    let lines = names.len().div_ceil(per_line);
    let mut out = String::new();
    for line in 0..lines {
        let mut j = line;
        while j < names.len() {
            if j >= lines {
                out.push_str("  ");
            }
            out.push_str(&format!("{:<width$}", names[j]));
            j += lines;
        }
        out.push('\n');
    }
    out
}

/// Whether component `c` is the one the user calls `name`: its file name
/// (`text.wasm`), file stem (`text`), path, origin, or the name inside an
/// example's origin (`text` for `<example text>`).
fn called(c: &Component, name: &str) -> bool {
    let os = std::ffi::OsStr::new(name);
    c.origin() == name
        || c.origin()
            .strip_prefix("<example ")
            .and_then(|rest| rest.strip_suffix('>'))
            == Some(name)
        || c.path().is_some_and(|p| {
            p == Path::new(name) || p.file_name() == Some(os) || p.file_stem() == Some(os)
        })
}

/// Whether `a` and `b` were loaded from the same place: the same file (by
/// its canonical path, so `./x.wasm` and `/abs/x.wasm` agree), or the same
/// origin when either has no file.
fn same_source(a: &Component, b: &Component) -> bool {
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    match (a.path(), b.path()) {
        (Some(p), Some(q)) => canonical(p) == canonical(q),
        _ => a.origin() == b.origin(),
    }
}

/// The tables the library keeps in each connection's `temp` schema: its
/// catalog of functions and components.
const CATALOG: [&str; 2] = ["wasmudf_functions", "wasmudf_components"];

/// Whether a name matches `pattern` as [`pattern_sql`] would select it:
/// SQLite's own `LIKE` or `GLOB`, evaluated on a connection of its own
/// (no database, no component), so the rules are exactly sqlite3's.
fn name_filter(pattern: Option<&str>) -> Result<impl Fn(&str) -> Result<bool>> {
    let (filter, pattern) = pattern_sql("?2", pattern);
    let conn = rusqlite::Connection::open_in_memory()?;
    let sql = format!("SELECT {filter}");
    Ok(move |name: &str| -> Result<bool> {
        let mut stmt = conn.prepare_cached(&sql)?;
        Ok(stmt.query_row((pattern.as_str(), name), |row| row.get(0))?)
    })
}

/// A LIKE pattern, or a GLOB one when it has GLOB's `*`, `?` or `[`.
fn pattern_sql(column: &str, pattern: Option<&str>) -> (String, String) {
    match pattern {
        Some(p) if p.contains(['*', '?', '[']) => (format!("{column} GLOB ?1"), p.to_owned()),
        Some(p) => (format!("{column} LIKE ?1"), p.to_owned()),
        None => (format!("{column} LIKE ?1"), "%".to_owned()),
    }
}

impl Shell {
    /// Runs one dot command line.
    pub(super) fn command(&mut self, line: &str) -> Input {
        let words = words(line);
        let Some(name) = words.first() else {
            return Input::Ok;
        };
        let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
        match self.dispatch(name, &args) {
            Ok(input) => input,
            Err(err) => {
                crate::output::print_error(&err);
                Input::Failed
            }
        }
    }

    fn dispatch(&mut self, name: &str, args: &[&str]) -> Result<Input> {
        let usage = || {
            let c = COMMANDS.iter().find(|c| c.name == name);
            anyhow!("usage: {} {}", safe(name), c.map_or("", |c| c.args))
        };
        match (name, args) {
            (".quit", []) => return Ok(Input::Stop(Flow::Quit(None))),
            (".exit", []) => return Ok(Input::Stop(Flow::Quit(Some(0)))),
            (".exit", [code]) => {
                let code: u8 = code.parse().map_err(|_| usage())?;
                return Ok(Input::Stop(Flow::Quit(Some(code))));
            }
            (".help", _) => self.print(&help())?,
            (".bail", [on]) => self.bail = boolean(on)?,
            (".changes", [on]) => self.changes = boolean(on)?,
            (".timer", [on]) => self.timer = boolean(on)?,
            (".headers", [on]) => self.settings.headers = boolean(on)?,
            (".mode", []) => {
                let text = format!("current output mode: {}\n", self.settings.mode.name());
                self.print(&text)?;
            }
            (".mode", [mode]) => {
                self.settings.mode = Mode::parse(mode).ok_or_else(|| {
                    let all: Vec<&str> = Mode::ALL.iter().map(|m| m.name()).collect();
                    anyhow!("unknown mode {}; one of {}", safe(mode), all.join(", "))
                })?;
            }
            (".nullvalue", [text]) => self.settings.nullvalue = (*text).to_owned(),
            (".separator", [text]) => self.settings.separator = (*text).to_owned(),
            (".show", []) => self.show()?,
            (".tables", [] | [_]) => self.tables(args.first().copied())?,
            (".indexes", [] | [_]) => self.indexes(args.first().copied())?,
            (".schema", [] | [_]) => self.schema(args.first().copied())?,
            (".functions", [] | [_]) => self.functions(args.first().copied())?,
            (".read", [file]) => return self.read(file),
            (".output", []) => self.out.reset()?,
            (".output", [file]) => self.redirect(file, false)?,
            (".once", [file]) => self.redirect(file, true)?,
            (".open", []) => self.open(None)?,
            (".open", [path]) => self.open(Some(path))?,
            (".import", _) => self
                .import(args)
                .map_err(|e| if e.to_string().is_empty() { usage() } else { e })?,
            (".load", [path]) => self.load(path)?,
            (".unload", [name]) => self.unload(name)?,
            _ if COMMANDS.iter().any(|c| c.name == name) => return Err(usage()),
            _ => bail!("unknown command {}; enter .help for help", safe(name)),
        }
        Ok(Input::Ok)
    }

    /// Writes command output where results go.
    fn print(&mut self, text: &str) -> Result<()> {
        self.out.write(text).context("writing output")
    }

    fn show(&mut self) -> Result<()> {
        let on = |b: bool| if b { "on" } else { "off" };
        let quoted = |s: &str| format!("{:?}", safe(s).into_owned());
        let rows = [
            ("bail", on(self.bail).to_owned()),
            ("changes", on(self.changes).to_owned()),
            ("headers", on(self.settings.headers).to_owned()),
            ("mode", self.settings.mode.name().to_owned()),
            ("nullvalue", quoted(&self.settings.nullvalue)),
            ("output", safe(self.out.name()).into_owned()),
            ("separator", quoted(&self.settings.separator)),
            ("timer", on(self.timer).to_owned()),
            (
                "filename",
                self.session.path().map_or(":memory:".to_owned(), |p| {
                    safe(&p.display().to_string()).into_owned()
                }),
            ),
        ];
        let mut text = String::new();
        for (name, value) in rows {
            text.push_str(&format!("{name:>12}: {value}\n"));
        }
        self.print(&text)
    }

    /// The names in every schema (main, temp, attached ones, each but
    /// main's prefixed `schema.`) that `select` picks from its
    /// `sqlite_schema` with `?1` bound to `pattern`.
    fn schema_names(&mut self, select: &'static str, pattern: Option<&str>) -> Result<Vec<String>> {
        let pattern = pattern.unwrap_or("%").to_owned();
        let names = self.call(move |conn| -> rusqlite::Result<Vec<String>> {
            let schemas: Vec<String> = conn
                .prepare("SELECT name FROM pragma_database_list ORDER BY seq")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut names = Vec::new();
            for schema in schemas {
                let sql = select.replace("SCHEMA", &schema.replace('"', "\"\""));
                let mut stmt = conn.prepare(&sql)?;
                let found = stmt
                    .query_map([&pattern], |r| r.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                for name in found {
                    names.push(if schema == "main" {
                        name
                    } else {
                        format!("{schema}.{name}")
                    });
                }
            }
            Ok(names)
        })?;
        Ok(names?.iter().map(|n| safe(n).into_owned()).collect())
    }

    fn tables(&mut self, pattern: Option<&str>) -> Result<()> {
        let mut names = self.schema_names(
            "SELECT name FROM \"SCHEMA\".sqlite_schema WHERE type IN ('table', 'view') \
             AND name NOT LIKE 'sqlite_%' AND name LIKE ?1",
            pattern,
        )?;
        // The library's catalog, as sqlite3 leaves out SQLite's own tables.
        names.retain(|n| !CATALOG.iter().any(|c| n.strip_prefix("temp.") == Some(*c)));
        names.sort();
        self.print(&columns(&names))
    }

    fn indexes(&mut self, table: Option<&str>) -> Result<()> {
        let mut names = self.schema_names(
            "SELECT name FROM \"SCHEMA\".sqlite_schema WHERE type = 'index' AND tbl_name LIKE ?1",
            table,
        )?;
        names.sort();
        self.print(&columns(&names))
    }

    fn schema(&mut self, pattern: Option<&str>) -> Result<()> {
        let pattern = pattern.unwrap_or("%").to_owned();
        let sqls = self.call(move |conn| -> rusqlite::Result<Vec<String>> {
            let schemas: Vec<String> = conn
                .prepare("SELECT name FROM pragma_database_list ORDER BY seq")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut sqls = Vec::new();
            for schema in schemas {
                // The library's catalog is no part of the database.
                let catalog = if schema == "temp" {
                    format!(" AND name NOT IN ('{}')", CATALOG.join("', '"))
                } else {
                    String::new()
                };
                let sql = format!(
                    "SELECT sql FROM \"{}\".sqlite_schema WHERE sql IS NOT NULL \
                     AND (name LIKE ?1 OR tbl_name LIKE ?1){catalog} ORDER BY rowid",
                    schema.replace('"', "\"\"")
                );
                let mut stmt = conn.prepare(&sql)?;
                sqls.extend(
                    stmt.query_map([&pattern], |r| r.get::<_, String>(0))?
                        .collect::<rusqlite::Result<Vec<_>>>()?,
                );
            }
            Ok(sqls)
        })??;
        let mut text = String::new();
        for sql in sqls {
            // The database file's own text: escaped, line breaks kept.
            text.push_str(&safe_lines(&sql));
            text.push_str(";\n");
        }
        self.print(&text)
    }

    /// The functions of the database's components, as their manifests
    /// declare them (the library's list, not a table a database file could
    /// fake), whose names match `pattern`.
    fn functions(&mut self, pattern: Option<&str>) -> Result<()> {
        let components = self.session.db().components();
        let matches = name_filter(pattern)?;
        let mut text = String::new();
        for component in &components {
            for spec in component.functions() {
                if !matches(&spec.name)? {
                    continue;
                }
                let arity = match spec.arity.as_sqlite() {
                    n if n < 0 => "variadic".to_owned(),
                    n => n.to_string(),
                };
                // `FunctionFlags` shows no flag as `-`.
                let flags = spec.flags.to_string();
                // Names and origins come from the component and the file
                // system: printed escaped.
                text.push_str(&format!(
                    "{:<20} {:<9} arity {:<8} {}  ({})\n",
                    safe(&spec.name),
                    safe(&spec.kind.to_string()),
                    arity,
                    safe(flags.trim_start_matches('-')),
                    safe(component.origin())
                ));
            }
        }
        self.print(&text)
    }

    fn read(&mut self, file: &str) -> Result<Input> {
        // Deep enough for any real script; a file that reads itself stops
        // here rather than at the end of the stack.
        if self.depth >= 25 {
            bail!("{}: .read nested too deeply", safe(file));
        }
        let handle =
            sink::open_file(file).with_context(|| format!("cannot open {}", safe(file)))?;
        let mut lines = ReaderLines::new(std::io::BufReader::new(handle));
        self.depth += 1;
        let flow = self.process(&mut lines);
        self.depth -= 1;
        match flow? {
            Flow::Eof => Ok(Input::Ok),
            stop => Ok(Input::Stop(stop)),
        }
    }

    fn redirect(&mut self, file: &str, once: bool) -> Result<()> {
        if file.starts_with('|') {
            bail!("output to a command is not supported");
        }
        let handle =
            sink::create_file(file).with_context(|| format!("cannot open {}", safe(file)))?;
        self.out.redirect(handle, file, once)?;
        Ok(())
    }

    fn open(&mut self, path: Option<&str>) -> Result<()> {
        if path.is_some_and(|p| p.starts_with("--")) {
            bail!("options of .open are not supported");
        }
        let path = path.map(PathBuf::from);
        let components = self.session.db().components();
        let runtime = self.runtime.clone();
        let db = runtime.block_on(super::open(path.as_deref(), &components))?;
        runtime.block_on(self.session.close());
        self.session = super::session::Session::new(db, path);
        Ok(())
    }

    fn import(&mut self, args: &[&str]) -> Result<()> {
        let mut skip = 0u64;
        let mut rest = Vec::new();
        let mut i = 0;
        while i < args.len() {
            match args[i] {
                "--csv" => {}
                "--skip" => {
                    i += 1;
                    skip = args
                        .get(i)
                        .and_then(|n| n.parse().ok())
                        .ok_or_else(|| anyhow!("--skip takes a number of rows"))?;
                }
                option if option.starts_with("--") => {
                    bail!("unknown option {} of .import", safe(option))
                }
                word => rest.push(word),
            }
            i += 1;
        }
        let [file, table] = rest[..] else {
            // `dispatch` turns this into the usage line.
            return Err(anyhow!(""));
        };
        let input = sink::open_file(file).with_context(|| format!("cannot open {}", safe(file)))?;
        let (name, table) = (safe(file).into_owned(), table.to_owned());
        let progress = Arc::new(AtomicU64::new(0));
        let counted = progress.clone();
        let job = move |conn: &rusqlite::Connection| {
            import::import(
                conn,
                std::io::BufReader::new(input),
                &name,
                &table,
                skip,
                &counted,
            )
        };
        let runtime = self.runtime.clone();
        let imported = runtime
            .block_on(self.watched(job, progress))?
            .map_err(|message| anyhow!(safe(&message).into_owned()))?;
        for note in &imported.notes {
            eprintln!("{}", safe(note));
        }
        Ok(())
    }

    fn load(&mut self, path: &str) -> Result<()> {
        if self.session.in_transaction() {
            bail!("cannot change components inside a transaction: COMMIT or ROLLBACK first");
        }
        let engine = self.engine.clone();
        let owned = PathBuf::from(path);
        let trusted = self.trusted;
        // Compiling can take seconds: off the main thread, so Ctrl-C can
        // give the prompt back (the compile finishes unseen).
        let compile = async move {
            tokio::task::spawn_blocking(move || udfs::load_path(&engine, &owned))
                .await
                .map_err(|e| anyhow!("compiling failed: {e}"))?
        };
        let runtime = self.runtime.clone();
        let loaded: Vec<Component> = runtime
            .block_on(self.unless_interrupted(compile))??
            .into_iter()
            .map(|c| c.trusted(trusted))
            .collect();
        let present = self.session.db().components();
        let mut added = Vec::new();
        let mut messages = Vec::new();
        for component in loaded {
            match present.iter().find(|old| same_source(old, &component)) {
                Some(old) => {
                    let unchanged = old.sha256() == component.sha256();
                    let origin = safe(component.origin()).into_owned();
                    runtime
                        .block_on(self.session.db().replace_component(old, component))
                        .with_context(|| format!("replacing {origin}"))?;
                    messages.push(if unchanged {
                        format!("reloaded {origin} (unchanged)")
                    } else {
                        format!("replaced {origin}")
                    });
                }
                None => added.push(component),
            }
        }
        if !added.is_empty() {
            let count = added.len();
            runtime.block_on(self.session.db().add_components(added))?;
            messages.push(format!("loaded {count} component(s)"));
        }
        for message in messages {
            println!("{message}");
        }
        Ok(())
    }

    fn unload(&mut self, name: &str) -> Result<()> {
        if self.session.in_transaction() {
            bail!("cannot change components inside a transaction: COMMIT or ROLLBACK first");
        }
        let present = self.session.db().components();
        let matching: Vec<&Component> = present.iter().filter(|c| called(c, name)).collect();
        let component = match matching[..] {
            [one] => one,
            [] => bail!("no component {} is loaded", safe(name)),
            _ => bail!(
                "{} names {} components: {}; give its path",
                safe(name),
                matching.len(),
                matching
                    .iter()
                    .map(|c| safe(c.origin()).into_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let runtime = self.runtime.clone();
        runtime.block_on(self.session.db().remove_component(component))?;
        println!("unloaded {}", safe(component.origin()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_laid_out_in_columns_like_sqlite3s() {
        let names: Vec<String> = ["a", "bb", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(columns(&names), "a   bb  c \n");
        let long: Vec<String> = (0..30).map(|i| format!("table_{i:02}")).collect();
        let text = columns(&long);
        // Eight names of ten characters fit in 80 columns: four lines,
        // filled down the columns first.
        assert_eq!(text.lines().count(), 4, "{text}");
        assert!(text.starts_with("table_00  table_04"), "{text}");
    }

    #[test]
    fn booleans_read_as_sqlite3_reads_them() {
        for on in ["on", "YES", "true", "1"] {
            assert!(boolean(on).is_ok_and(|b| b));
        }
        for off in ["off", "no", "FALSE", "0"] {
            assert!(boolean(off).is_ok_and(|b| !b));
        }
        assert!(boolean("maybe").is_err());
    }

    #[test]
    fn help_lists_every_command() {
        let text = help();
        for c in COMMANDS {
            assert!(text.contains(c.name), "{}", c.name);
        }
    }
}
