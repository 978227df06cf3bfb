//! `wasmudf shell`: a SQL shell with the habits of `sqlite3`.
//!
//! Input comes a line at a time (from the terminal with line editing,
//! completion and history, or from a pipe or a `.read` file with no
//! prompts); lines that start with `.` are dot commands, the rest gather
//! into SQL until SQLite says a statement is complete. Each statement then
//! runs by itself on the shell's one connection ([`session`]), its rows
//! streamed into the output mode's renderer ([`render`]), so an error can
//! name its line and Ctrl-C can stop it.
//!
//! - [`input`], line sources, cutting SQL into statements;
//! - [`commands`], the dot commands;
//! - [`render`], the `.mode`s, as pure functions;
//! - [`session`], the connection, its worker, statement errors;
//! - [`sink`], `.output` and `.once`, and opening user paths with cap-std;
//! - [`import`], `.import`;
//! - [`complete`], tab completion.

mod commands;
mod complete;
mod import;
mod input;
mod render;
mod session;
mod sink;

use std::future::Future;
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rusqlite::Connection;
use wasmudf::{Component, Database, Engine};

use crate::SessionArgs;
use crate::output::{print_error, safe};
use crate::udfs;
use complete::Names;
use input::{Lines, Read, ReaderLines, TerminalLines};
use render::{Mode, Renderer, Settings};
use session::{Event, Session, SqlError};
use sink::Sink;

/// How reading input ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// The input ran out.
    Eof,
    /// `.quit` (exit status from the errors seen) or `.exit CODE`.
    Quit(Option<u8>),
    /// An error with `.bail on`.
    Bail,
}

/// How one input (a chunk of SQL, a dot command) went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Input {
    Ok,
    /// It failed, and said so on stderr.
    Failed,
    /// Stop reading: `.quit`, or a `.read` file that bailed.
    Stop(Flow),
}

/// Runs the shell to the end of its input; the exit status is 1 if piped
/// input had an error, as with `sqlite3`.
///
/// # Errors
///
/// The database or the components cannot be opened, or input cannot be
/// read.
pub(crate) fn run(args: &SessionArgs) -> Result<ExitCode> {
    let interactive = std::io::stdin().is_terminal();
    let engine = udfs::engine(args)?;
    let components = udfs::load(&engine, args)?;
    let runtime = Arc::new(udfs::runtime()?);
    let mut shell = Shell {
        engine,
        trusted: args.trusted,
        query_timeout: args.query_timeout_ms.map(Duration::from_millis),
        session: Session::new(
            runtime.block_on(open(args.db.as_deref(), &components))?,
            args.db.clone(),
        ),
        runtime,
        // A terminal gets the boxes `wasmudf query` draws; a script gets
        // `sqlite3`'s plain `list`, which other programs read.
        settings: Settings::new(if interactive { Mode::Box } else { Mode::List }),
        timer: false,
        changes: false,
        // The choice over `sqlite3`'s: a failing script stops
        // rather than running on against a state it did not expect.
        bail: !interactive,
        interactive,
        progress: interactive && std::io::stderr().is_terminal(),
        errors: 0,
        out: Sink::stdout(),
        names: Arc::new(RwLock::new(Names::default())),
        depth: 0,
    };
    let flow = if interactive {
        shell.interactive()
    } else {
        let mut lines = ReaderLines::new(std::io::stdin().lock());
        shell.process(&mut lines)
    };
    if let Err(err) = shell.out.reset() {
        print_error(&anyhow!(err).context("writing output"));
        shell.errors += 1;
    }
    let runtime = shell.runtime.clone();
    runtime.block_on(shell.session.close());
    let code = match flow? {
        Flow::Quit(Some(code)) => code,
        _ if shell.errors > 0 && !shell.interactive => 1,
        _ => 0,
    };
    Ok(ExitCode::from(code))
}

/// Opens a database with `components` for the shell: one connection, as
/// `sqlite3` has (see [`session`]), and no query timeout of the pool's,
/// whose clock would run across a whole transaction: the shell times each
/// statement itself.
pub(super) async fn open(path: Option<&Path>, components: &[Component]) -> Result<Database> {
    udfs::open_database(path, components, 1, None).await
}

/// The shell's state.
struct Shell {
    engine: Engine,
    /// `--trusted`, for components loaded with `.load`.
    trusted: bool,
    /// `--query-timeout-ms`, per statement.
    query_timeout: Option<Duration>,
    runtime: Arc<tokio::runtime::Runtime>,
    session: Session,
    settings: Settings,
    timer: bool,
    changes: bool,
    bail: bool,
    /// Standard input is a terminal: prompts, history, completion, Ctrl-C.
    interactive: bool,
    /// Standard error is a terminal too: progress of long statements.
    progress: bool,
    /// Inputs that failed.
    errors: usize,
    out: Sink,
    /// What completion offers, refreshed after each input.
    names: Arc<RwLock<Names>>,
    /// `.read` nesting.
    depth: usize,
}

/// The rendered text of a statement's rows, written in batches.
const WRITE_BATCH: usize = 64 << 10;

/// How a statement's run ended, seen from the shell.
enum Ended {
    Done(session::Done),
    Stopped(Stop),
    Failed(anyhow::Error),
}

/// Why the shell stopped a statement.
#[derive(Debug, Clone, Copy)]
enum Stop {
    Interrupted,
    TimedOut(Duration),
}

impl Shell {
    fn interactive(&mut self) -> Result<Flow> {
        let config = rustyline::Config::builder()
            .completion_type(rustyline::CompletionType::List)
            .auto_add_history(false)
            .build();
        let mut editor = rustyline::Editor::with_config(config)?;
        editor.set_helper(Some(complete::ShellHelper::new(self.names.clone())));
        let history = std::env::var_os("HOME")
            .map(|home| std::path::PathBuf::from(home).join(".wasmudf_history"));
        if let Some(path) = &history {
            // A missing history file is normal on first use.
            let _ = editor.load_history(path);
        }
        // From here on Ctrl-C is the shell's: it stops a statement, and
        // does nothing (rather than ending the shell) where nothing runs.
        let runtime = self.runtime.clone();
        runtime.block_on(async {
            #[cfg(unix)]
            let _ = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt());
        });
        self.refresh_names();
        println!(
            "wasmudf shell: {} components loaded. Enter .help for help.",
            self.session.db().components().len()
        );
        let flow = self.process(&mut TerminalLines {
            editor: &mut editor,
        });
        if let Some(path) = &history {
            let _ = editor.save_history(path);
        }
        flow
    }

    /// Reads `lines` to the end (or to `.quit`, or to an error with
    /// `.bail on`), running each dot command and each complete chunk of
    /// SQL as it arrives.
    fn process(&mut self, lines: &mut dyn Lines) -> Result<Flow> {
        let numbered = lines.numbered();
        let mut pending = String::new();
        let (mut line_no, mut first_line) = (0, 0);
        loop {
            let line = match lines.read(!pending.is_empty())? {
                Read::Line(line) => line,
                Read::Interrupted => {
                    pending.clear();
                    continue;
                }
                Read::Eof => break,
            };
            line_no += 1;
            if pending.is_empty() {
                let trimmed = line.trim();
                // `#` lines are comments between statements, as in
                // `sqlite3`.
                if trimmed.is_empty() || line.starts_with('#') {
                    continue;
                }
                if trimmed.starts_with('.') {
                    lines.remember(trimmed);
                    let input = self.command(trimmed);
                    if let Some(flow) = self.after(input) {
                        return Ok(flow);
                    }
                    continue;
                }
                first_line = line_no;
            }
            pending.push_str(&line);
            pending.push('\n');
            // Only a line with a `;` can complete a statement.
            if line.contains(';') && input::is_complete(&pending) {
                let sql = std::mem::take(&mut pending);
                lines.remember(&sql);
                let input = self.sql(&sql, first_line, numbered);
                if let Some(flow) = self.after(input) {
                    return Ok(flow);
                }
            }
        }
        // SQL left without its `;` at the end still runs, as in `sqlite3`:
        // it is complete to SQLite, or SQLite says what is missing.
        if !pending.trim().is_empty() {
            lines.remember(&pending);
            let input = self.sql(&pending, first_line, numbered);
            if let Some(flow) = self.after(input) {
                return Ok(flow);
            }
        }
        Ok(Flow::Eof)
    }

    /// Book-keeping after each input; `Some` when reading must stop.
    fn after(&mut self, input: Input) -> Option<Flow> {
        if let Err(err) = self.out.end_input() {
            print_error(&anyhow!(err).context("writing output"));
            // A file that cannot be written is given up; the terminal
            // takes the output again.
            let _ = self.out.reset();
            self.errors += 1;
        }
        if self.interactive {
            self.refresh_names();
        }
        match input {
            Input::Ok => None,
            Input::Failed => {
                self.errors += 1;
                self.bail.then_some(Flow::Bail)
            }
            Input::Stop(flow) => Some(flow),
        }
    }

    /// Runs each statement of a chunk of SQL in turn, stopping at the
    /// first that fails, as `sqlite3` does.
    fn sql(&mut self, chunk: &str, first_line: usize, numbered: bool) -> Input {
        for statement in input::statements(chunk) {
            let line = numbered.then_some(first_line + statement.line);
            let runtime = self.runtime.clone();
            match runtime.block_on(self.statement(statement.sql, line)) {
                Input::Ok => {}
                other => return other,
            }
        }
        Input::Ok
    }

    /// Runs one statement, printing its rows as they come, then the timer
    /// and changes lines.
    async fn statement(&mut self, sql: &str, line: Option<usize>) -> Input {
        let started = Instant::now();
        let was_in_transaction = self.session.in_transaction();
        let (events, mut inbox) = tokio::sync::mpsc::channel(256);
        self.session
            .submit(session::statement_job(sql.to_owned(), events));
        let stop = self.stop_signal();
        tokio::pin!(stop);
        let mut progress = Progress::new(self.progress, started);
        let mut ticks = tokio::time::interval(Duration::from_millis(200));
        let mut renderer: Option<Renderer> = None;
        let mut text = String::new();
        let mut write_failed = None;
        let ended = loop {
            tokio::select! {
                event = inbox.recv() => match event {
                    Some(Event::Columns(columns)) => {
                        renderer = Some(Renderer::new(&self.settings, columns));
                    }
                    Some(Event::Row(values)) => {
                        if let Some(renderer) = renderer.as_mut() {
                            text.push_str(&renderer.row(&values));
                            progress.rows.store(renderer.rows() as u64, Ordering::Relaxed);
                        }
                        if text.len() >= WRITE_BATCH
                            && let Err(err) = self.write_rows(&mut text, &progress)
                        {
                            self.session.abort();
                            write_failed = Some(err);
                            break Ended::Stopped(Stop::Interrupted);
                        }
                    }
                    Some(Event::Done(done)) => break Ended::Done(done),
                    None => break Ended::Failed(self.session.failure().await),
                },
                stopped = &mut stop => {
                    self.session.abort();
                    break Ended::Stopped(stopped);
                }
                _ = ticks.tick() => {
                    progress.tick();
                    if let Err(err) = self.write_rows(&mut text, &progress) {
                        self.session.abort();
                        write_failed = Some(err);
                        break Ended::Stopped(Stop::Interrupted);
                    }
                }
            }
        };
        progress.clear();
        // Let the connection go (or keep it for an open transaction)
        // before anything else can fail.
        let settled = match &ended {
            Ended::Done(done) => self.session.settle(done.in_transaction).await,
            _ => Ok(()),
        };
        // What was rendered before an error or a stop is shown too, and a
        // JSON array is closed.
        if let Some(renderer) = renderer {
            text.push_str(&renderer.finish());
        }
        if write_failed.is_none()
            && let Err(err) = self.write_rows(&mut text, &progress)
        {
            write_failed = Some(err);
        }
        if let Some(err) = write_failed {
            return self.output_failed(err);
        }
        if let Err(err) = settled {
            print_error(&err);
            return Input::Failed;
        }
        let input = match ended {
            Ended::Done(done) => match (&done.error, done.changes) {
                (Some(err), _) => {
                    eprintln!("{}", err.describe(sql, line));
                    Input::Failed
                }
                (None, Some((changes, total))) if self.changes => {
                    match self
                        .out
                        .write(&format!("changes: {changes}   total_changes: {total}\n"))
                    {
                        Ok(()) => Input::Ok,
                        Err(err) => return self.output_failed(err),
                    }
                }
                (None, _) => Input::Ok,
            },
            Ended::Stopped(Stop::Interrupted) => {
                eprintln!("{}", SqlError::interrupted().describe(sql, line));
                if was_in_transaction {
                    eprintln!("note: the open transaction was rolled back");
                }
                Input::Failed
            }
            Ended::Stopped(Stop::TimedOut(limit)) => {
                let message = format!(
                    "query timed out after {} ms (--query-timeout-ms)",
                    limit.as_millis()
                );
                eprintln!("{}", SqlError::runtime(&message).describe(sql, line));
                if was_in_transaction {
                    eprintln!("note: the open transaction was rolled back");
                }
                Input::Failed
            }
            Ended::Failed(err) => {
                print_error(&err);
                Input::Failed
            }
        };
        if self.timer {
            // On the terminal, as `sqlite3` does, not into an `.output`
            // file of results.
            println!("Run Time: real {:.3}", started.elapsed().as_secs_f64());
        }
        input
    }

    /// Writes rendered rows, around the progress bar when both are on the
    /// terminal.
    fn write_rows(&mut self, text: &mut String, progress: &Progress) -> std::io::Result<()> {
        if text.is_empty() {
            return Ok(());
        }
        let result = match (&progress.bar, self.out.is_stdout()) {
            (Some(bar), true) => bar.suspend(|| self.out.write(text)),
            _ => self.out.write(text),
        };
        text.clear();
        result
    }

    /// Output that cannot be written: standard output gone (a closed pipe)
    /// ends the shell, a file that fails is given up.
    fn output_failed(&mut self, err: std::io::Error) -> Input {
        if self.out.is_stdout() {
            if err.kind() != std::io::ErrorKind::BrokenPipe {
                print_error(&anyhow!(err).context("writing output"));
            }
            self.errors += 1;
            return Input::Stop(Flow::Quit(None));
        }
        print_error(&anyhow!(err).context(format!("writing {}", safe(self.out.name()))));
        let _ = self.out.reset();
        Input::Failed
    }

    /// Resolves when the user presses Ctrl-C (at a terminal) or the
    /// statement passes `--query-timeout-ms`.
    fn stop_signal(&self) -> impl Future<Output = Stop> + use<> {
        let (interactive, timeout) = (self.interactive, self.query_timeout);
        async move {
            let ctrl_c = async {
                // A handler that cannot be installed never fires.
                if !interactive || tokio::signal::ctrl_c().await.is_err() {
                    std::future::pending::<()>().await;
                }
            };
            let late = async {
                match timeout {
                    Some(limit) => tokio::time::sleep(limit).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = ctrl_c => Stop::Interrupted,
                () = late => Stop::TimedOut(timeout.unwrap_or_default()),
            }
        }
    }

    /// Runs `work` on the connection, waiting for it.
    fn call<R: Send + 'static>(
        &mut self,
        work: impl FnOnce(&Connection) -> R + Send + 'static,
    ) -> Result<R> {
        let runtime = self.runtime.clone();
        runtime.block_on(self.session.call(work))
    }

    /// Runs `work` on the connection as a statement runs: Ctrl-C and the
    /// query timeout stop it, and a progress bar counts `rows` when it
    /// takes long.
    async fn watched<R: Send + 'static>(
        &mut self,
        work: impl FnOnce(&Connection) -> R + Send + 'static,
        rows: Arc<AtomicU64>,
    ) -> Result<R> {
        let started = Instant::now();
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        self.session.submit(Box::new(move |conn| {
            let result = work(conn);
            let _ = tx.send((result, !conn.is_autocommit()));
        }));
        let stop = self.stop_signal();
        tokio::pin!(stop);
        let mut progress = Progress::new(self.progress, started);
        progress.rows = rows;
        let mut ticks = tokio::time::interval(Duration::from_millis(200));
        let result = loop {
            tokio::select! {
                done = &mut rx => break match done {
                    Ok((result, in_transaction)) => {
                        self.session.settle(in_transaction).await.map(|()| result)
                    }
                    Err(_) => Err(self.session.failure().await),
                },
                stopped = &mut stop => {
                    self.session.abort();
                    break Err(match stopped {
                        Stop::Interrupted => anyhow!("interrupted"),
                        Stop::TimedOut(limit) => {
                            anyhow!("timed out after {} ms", limit.as_millis())
                        }
                    });
                }
                _ = ticks.tick() => progress.tick(),
            }
        };
        progress.clear();
        result
    }

    /// `future`, unless the user presses Ctrl-C first.
    async fn unless_interrupted<T>(&self, future: impl Future<Output = T>) -> Result<T> {
        let interactive = self.interactive;
        tokio::select! {
            value = future => Ok(value),
            () = async {
                if !interactive || tokio::signal::ctrl_c().await.is_err() {
                    std::future::pending::<()>().await;
                }
            } => Err(anyhow!("interrupted")),
        }
    }

    /// Reads the names completion offers, for the prompt's next line.
    fn refresh_names(&mut self) {
        let Ok(mut names) = self.call(complete::read_names) else {
            return;
        };
        names.components = self
            .session
            .db()
            .components()
            .iter()
            .map(|c| match c.path().and_then(Path::file_name) {
                Some(name) => name.to_string_lossy().into_owned(),
                None => c.origin().to_owned(),
            })
            .collect();
        *self.names.write().unwrap_or_else(PoisonError::into_inner) = names;
    }
}

/// A spinner on stderr for a statement that has run a second, with its
/// elapsed time and rows so far; only when stderr is a terminal.
struct Progress {
    enabled: bool,
    started: Instant,
    bar: Option<ProgressBar>,
    rows: Arc<AtomicU64>,
}

impl Progress {
    fn new(enabled: bool, started: Instant) -> Progress {
        Progress {
            enabled,
            started,
            bar: None,
            rows: Arc::new(AtomicU64::new(0)),
        }
    }

    fn tick(&mut self) {
        if !self.enabled {
            return;
        }
        if self.bar.is_none() && self.started.elapsed() >= Duration::from_secs(1) {
            // Elapsed from the statement's start, not the bar's.
            let target = ProgressDrawTarget::term_like(Box::new(BarLine));
            let bar =
                ProgressBar::with_draw_target(None, target).with_elapsed(self.started.elapsed());
            if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed} {msg}") {
                bar.set_style(style);
            }
            self.bar = Some(bar);
        }
        // Drawn from the shell's own ticks, not indicatif's ticker thread:
        // a draw racing Ctrl-C (which makes the terminal drop output it
        // has queued) could leave the line behind.
        if let Some(bar) = &self.bar {
            let rows = self.rows.load(Ordering::Relaxed);
            bar.set_message(format!("{rows} rows so far (Ctrl-C stops)"));
            bar.tick();
        }
    }

    fn clear(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// Standard error for the progress bar, as indicatif draws on a terminal
/// but without the spaces it pads a bar's line with to the terminal's
/// width: at the right margin, the `^C` the terminal echoes would wrap
/// onto a line of its own and push the bar out of reach of its clearing.
#[derive(Debug)]
struct BarLine;

impl BarLine {
    fn put(text: &str) -> std::io::Result<()> {
        use std::io::Write;
        let mut err = std::io::stderr().lock();
        err.write_all(text.as_bytes())?;
        err.flush()
    }

    fn cursor(n: usize, direction: char) -> std::io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        BarLine::put(&format!("\x1b[{n}{direction}"))
    }
}

impl indicatif::TermLike for BarLine {
    fn width(&self) -> u16 {
        // Wide enough that the one short line never wraps in indicatif's
        // reckoning; the padding it then writes is dropped below.
        1000
    }

    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        BarLine::cursor(n, 'A')
    }

    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        BarLine::cursor(n, 'B')
    }

    fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
        BarLine::cursor(n, 'C')
    }

    fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
        BarLine::cursor(n, 'D')
    }

    fn write_line(&self, s: &str) -> std::io::Result<()> {
        BarLine::put(&format!("{s}\n"))
    }

    fn write_str(&self, s: &str) -> std::io::Result<()> {
        if s.bytes().all(|b| b == b' ') {
            return Ok(());
        }
        BarLine::put(s)
    }

    fn clear_line(&self) -> std::io::Result<()> {
        BarLine::put("\r\x1b[2K")
    }

    fn flush(&self) -> std::io::Result<()> {
        use std::io::Write;
        std::io::stderr().flush()
    }
}
