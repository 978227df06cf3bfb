//! `wasmudf`: run SQL with sandboxed WebAssembly UDFs loaded, inspect
//! components, and measure what the sandbox costs.

mod bench;
mod dfquery;
mod inspect;
mod new;
mod output;
mod plots;
mod query;
mod shell;
mod udfs;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// Sandboxed WebAssembly user-defined functions for SQLite.
#[derive(Debug, Parser)]
#[command(name = "wasmudf", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run SQL statements and print their rows.
    Query(QueryArgs),
    /// An interactive SQL shell with line editing and history.
    Shell(SessionArgs),
    /// List a component's functions with kind, arity and flags.
    Inspect {
        /// A component file (.wasm).
        file: PathBuf,
        /// Compile the component afresh instead of loading it from the
        /// on-disk cache of compiled components.
        #[arg(long)]
        no_cache: bool,
    },
    /// Create a guest project (Rust, JavaScript or Python) that builds into
    /// a component with one command and carries a test query.
    New {
        /// The guest's language.
        #[arg(long, value_enum)]
        lang: new::Lang,
        /// The project's name, also its folder and function prefix.
        name: String,
        /// Where to create the project folder.
        #[arg(long, value_name = "DIR", default_value = ".")]
        dir: PathBuf,
        /// The root of the wasmudf checkout whose guest SDKs the project
        /// uses; by default, the one this binary was built from.
        #[arg(long, value_name = "DIR")]
        sdk: Option<PathBuf>,
    },
    /// Measure what the sandbox costs: per-row overhead against builtins and
    /// native closures, instance creation, limits, memory and scaling.
    Bench(BenchArgs),
    /// The Apache Ballista roles with wasmudf components: `wasmudf cluster
    /// scheduler [--udf DIR]`, `wasmudf cluster executor --scheduler
    /// HOST:PORT [--udf DIR]` (run by `wasmudf-cluster`, built apart:
    /// `cargo build --release --manifest-path crates/wasmudf-ballista/Cargo.toml
    /// --target-dir target`).
    #[command(disable_help_flag = true)]
    Cluster {
        /// What `wasmudf-cluster` is given; `wasmudf cluster --help` lists it.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "ARGS"
        )]
        args: Vec<std::ffi::OsString>,
    },
}

#[derive(Debug, Args)]
struct BenchArgs {
    /// Rows in the main table.
    #[arg(long, default_value_t = 200_000)]
    rows: usize,
    /// Timed runs per query (the median is reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Where to write `bench.json` and the plots `per-row.svg`,
    /// `scaling.svg` and `instances.svg`.
    #[arg(long, value_name = "DIR", default_value = "bench-results")]
    out: PathBuf,
    /// Skip the better-sqlite3 column even if Node.js is available.
    #[arg(long)]
    no_node: bool,
    /// Rows of the DataFusion comparison (wasm UDF against a native Rust
    /// UDF, and against SQLite); 0 skips it.
    #[arg(long, default_value_t = 1_000_000, value_name = "N")]
    datafusion_rows: usize,
    /// Concurrency levels of the scaling table, e.g. `1,2,4,8,16`: that
    /// many UDF-heavy queries at once, on a pool of that many connections.
    #[arg(long, value_name = "N,...", value_delimiter = ',', default_values_t = [1, 2, 4],
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    threads: Vec<u16>,
}

/// What every SQL-running command shares: the database, the components and
/// the sandbox limits.
#[derive(Debug, Args)]
struct SessionArgs {
    /// Database file; an in-memory database when omitted.
    #[arg(long)]
    db: Option<PathBuf>,
    /// A component file, or a folder of them; repeatable. The example guests
    /// are loaded when none is given.
    #[arg(long = "udf", value_name = "PATH")]
    udfs: Vec<PathBuf>,
    /// Treat the components as trusted: their functions may be called from
    /// views, triggers, indexes and other schema objects.
    #[arg(long)]
    trusted: bool,
    /// Deadline for one UDF call, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    timeout_ms: u64,
    /// Deadline for each SQL argument (in the shell, each statement), in
    /// milliseconds: past it the statements are stopped and nothing more
    /// commits.
    #[arg(long, value_name = "MS")]
    query_timeout_ms: Option<u64>,
    /// Fuel budget for one UDF call (roughly wasm instructions); unmetered
    /// when omitted.
    #[arg(long)]
    fuel: Option<u64>,
    /// Linear memory cap per instance (all of its memories together), in
    /// MiB.
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    memory_mib: usize,
    /// Largest TEXT or BLOB a UDF may return, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    max_result_mib: usize,
    /// Largest wasm stack, in KiB.
    #[arg(long, value_name = "KIB", default_value_t = 512)]
    stack_kib: usize,
    /// Most live instances across all components.
    #[arg(long, default_value_t = 1000)]
    max_instances: u32,
    /// Most core instances inside one component instance.
    #[arg(long, value_name = "N", default_value_t = wasmudf::Limits::default().max_core_instances)]
    max_core_instances: u32,
    /// Most functions a component may define across its core modules;
    /// checked before compiling.
    #[arg(long, value_name = "N", default_value_t = wasmudf::Limits::default().max_wasm_functions)]
    max_wasm_functions: u32,
    /// Most code a component may bring, in MiB; checked before compiling.
    #[arg(long, value_name = "MIB", default_value_t = wasmudf::Limits::default().max_code_bytes >> 20)]
    max_code_mib: usize,
    /// Most functions one component may declare.
    #[arg(long, value_name = "N", default_value_t = wasmudf::Limits::default().max_functions)]
    max_functions: usize,
    /// Compile every component afresh instead of loading it from the
    /// on-disk cache of compiled components (`$XDG_CACHE_HOME/wasmudf`).
    #[arg(long)]
    no_cache: bool,
    /// Refuse component files larger than this, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    max_component_mib: u64,
    /// Connections in the pool, and so blocking threads stepping statements
    /// at once.
    #[arg(long, value_name = "N", default_value_t = 2)]
    threads: usize,
}

impl SessionArgs {
    fn limits(&self) -> wasmudf::Limits {
        wasmudf::Limits {
            timeout: Duration::from_millis(self.timeout_ms),
            fuel: self.fuel,
            max_memory_bytes: self.memory_mib.saturating_mul(1 << 20),
            max_result_bytes: self.max_result_mib.saturating_mul(1 << 20),
            max_wasm_stack: self.stack_kib.saturating_mul(1 << 10),
            max_instances: self.max_instances,
            max_core_instances: self.max_core_instances,
            max_wasm_functions: self.max_wasm_functions,
            max_code_bytes: self.max_code_mib.saturating_mul(1 << 20),
            max_functions: self.max_functions,
            ..wasmudf::Limits::default()
        }
    }
}

#[derive(Debug, Args)]
struct QueryArgs {
    #[command(flatten)]
    session: SessionArgs,
    /// Print one JSON array of row objects per statement instead of tables.
    #[arg(long)]
    json: bool,
    /// Which SQL engine runs the statements: SQLite (the database of
    /// `--db`, or an in-memory one), or Apache DataFusion over the files
    /// of `--table`, with the same components as its UDFs.
    #[arg(long, value_enum, default_value_t = EngineKind::Sqlite)]
    engine: EngineKind,
    /// A table for `--engine datafusion`: `NAME=FILE.csv` or
    /// `NAME=FILE.parquet`; repeatable.
    #[arg(long = "table", value_name = "NAME=FILE")]
    tables: Vec<dfquery::TableArg>,
    /// With `--engine datafusion`: run on the Apache Ballista cluster whose
    /// scheduler is at `df://HOST:PORT` (started with `wasmudf cluster
    /// scheduler`), shipping the components with the plan.
    #[arg(long, value_name = "URL")]
    ballista: Option<String>,
    /// SQL to run; each argument may hold several `;`-separated statements.
    #[arg(required = true, value_name = "SQL")]
    sql: Vec<String>,
}

/// The SQL engines `wasmudf query` runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum EngineKind {
    /// SQLite, through the async connection pool.
    Sqlite,
    /// Apache DataFusion, vectorised.
    Datafusion,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Query(args) => match args.engine {
            EngineKind::Sqlite if !args.tables.is_empty() => Err(anyhow::anyhow!(
                "--table is for --engine datafusion; with SQLite, import the file into --db"
            )),
            EngineKind::Sqlite if args.ballista.is_some() => Err(anyhow::anyhow!(
                "--ballista runs DataFusion: add --engine datafusion"
            )),
            EngineKind::Sqlite => query::run(&args),
            EngineKind::Datafusion => match &args.ballista {
                Some(url) => dfquery::run_on_cluster(&args, url),
                None => dfquery::run(&args),
            },
        },
        Command::Cluster { args } => dfquery::cluster(&args),
        // The shell's exit status says whether piped input had errors,
        // which it has reported itself.
        Command::Shell(args) => match shell::run(&args) {
            Ok(code) => return code,
            Err(err) => Err(err),
        },
        Command::Inspect { file, no_cache } => inspect::run(&file, no_cache),
        Command::New {
            lang,
            name,
            dir,
            sdk,
        } => new::run(lang, &name, &dir, sdk.as_deref()).map(|project| {
            println!(
                "created {}; build it as its README.md says, then:\n  wasmudf query --udf {} \"$(cat test.sql)\"",
                output::safe(&project.display().to_string()),
                new::component_path(lang, &name)
            );
        }),
        Command::Bench(args) => bench::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            output::print_error(&err);
            ExitCode::FAILURE
        }
    }
}
