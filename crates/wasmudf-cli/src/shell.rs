//! `wasmudf shell`: an interactive SQL shell in the spirit of `sqlite3`.

use anyhow::Result;
use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;

use crate::SessionArgs;
use crate::output;
use crate::query::execute;
use crate::udfs;

const HELP: &str = "\
.load FILE       load a component (or a folder of them) and register it
.functions       list the functions loaded from components
.help            show this help
.quit            leave the shell (also Ctrl-D)
SQL statements end with ';' and may span lines.";

pub(crate) fn run(args: &SessionArgs) -> Result<()> {
    let engine = udfs::engine(args)?;
    let mut components = udfs::load(&engine, args)?;
    let runtime = udfs::runtime()?;
    let db = runtime.block_on(udfs::open(args, &components))?;
    let mut editor = DefaultEditor::new()?;
    let history = std::env::var_os("HOME")
        .map(|home| std::path::PathBuf::from(home).join(".wasmudf_history"));
    if let Some(path) = &history {
        // A missing history file is normal on first use.
        let _ = editor.load_history(path);
    }
    println!(
        "wasmudf shell: {} components loaded. Enter .help for help.",
        components.len()
    );
    let mut pending = String::new();
    loop {
        let prompt = if pending.is_empty() {
            "wasmudf> "
        } else {
            "   ...> "
        };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                pending.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(err) => return Err(err.into()),
        };
        let trimmed = line.trim();
        if pending.is_empty() && trimmed.starts_with('.') {
            let _ = editor.add_history_entry(trimmed);
            let mut words = trimmed.splitn(2, char::is_whitespace);
            match (
                words.next().unwrap_or_default(),
                words.next().map(str::trim),
            ) {
                (".quit" | ".exit", _) => break,
                (".help", _) => println!("{HELP}"),
                (".functions", _) => print_functions(&components),
                (".load", Some(path)) if !path.is_empty() => {
                    match load_more(&engine, args, &runtime, &db, path) {
                        Ok(added) => {
                            println!("loaded {} component(s)", added.len());
                            components.extend(added);
                        }
                        Err(err) => output::print_error(&err),
                    }
                }
                (".load", _) => eprintln!("usage: .load FILE"),
                (other, _) => eprintln!("unknown command {}; try .help", output::safe(other)),
            }
            continue;
        }
        pending.push_str(&line);
        pending.push('\n');
        if !is_complete(&pending) {
            continue;
        }
        let sql = std::mem::take(&mut pending);
        let _ = editor.add_history_entry(sql.trim());
        match runtime.block_on(execute(&db, &sql)) {
            Ok(sets) => {
                for set in sets {
                    if let Some(table) = set.to_table() {
                        println!("{table}");
                    }
                }
            }
            Err(err) => output::print_error(&err),
        }
    }
    if let Some(path) = &history {
        let _ = editor.save_history(path);
    }
    Ok(())
}

/// Loads more components and adds them to every pooled connection.
fn load_more(
    engine: &wasmudf::Engine,
    args: &SessionArgs,
    runtime: &tokio::runtime::Runtime,
    db: &wasmudf::Database,
    path: &str,
) -> Result<Vec<wasmudf::Component>> {
    let added: Vec<_> = udfs::load_path(engine, std::path::Path::new(path))?
        .into_iter()
        .map(|c| c.trusted(args.trusted))
        .collect();
    runtime.block_on(db.add_components(added.clone()))?;
    Ok(added)
}

fn print_functions(components: &[wasmudf::Component]) {
    for c in components {
        for f in c.functions() {
            // Names and origins come from the component and the file
            // system: printed escaped.
            println!(
                "{:<20} {:<9} arity {:<8} {}  ({})",
                output::safe(&f.name),
                f.kind,
                f.arity,
                f.flags,
                output::safe(c.origin())
            );
        }
    }
}

/// Whether `sql` ends with a complete statement, by SQLite's own rules
/// (a `;` inside a string literal or a trigger body does not count).
fn is_complete(sql: &str) -> bool {
    let Ok(c) = std::ffi::CString::new(sql) else {
        return true;
    };
    // SAFETY: `c` is a valid NUL-terminated string for the whole call.
    unsafe { rusqlite::ffi::sqlite3_complete(c.as_ptr()) != 0 }
}
