//! `wasmudf-cluster`: the Ballista roles with wasmudf components.
//!
//! - `wasmudf-cluster scheduler [--bind ADDR] [--udf DIR]...`
//! - `wasmudf-cluster executor --scheduler HOST:PORT [--udf DIR]...`
//! - `wasmudf-cluster query --ballista df://HOST:PORT [--udf PATH]... [--table NAME=FILE]... SQL...`
//!
//! `wasmudf cluster ...` and `wasmudf query --engine datafusion --ballista`
//! run this binary; it is built apart from `wasmudf` (its own workspace)
//! because Ballista builds DataFusion with other features.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::{create_scheduler, start_grpc_service_with_listener};
use clap::{Args, Parser, Subcommand};
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::prelude::SessionContext;
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};
use wasmudf::Engine;
use wasmudf_ballista::ComponentStore;

#[derive(Debug, Parser)]
#[command(
    name = "wasmudf-cluster",
    version,
    about = "wasmudf components on an Apache Ballista cluster"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs a Ballista scheduler whose plans carry wasmudf functions.
    Scheduler(SchedulerArgs),
    /// Runs a Ballista executor that runs wasmudf functions in its tasks.
    Executor(ExecutorArgs),
    /// Runs SQL on a Ballista cluster, with components as UDFs.
    Query(QueryArgs),
}

/// What every role's component store is made of: this process's policy.
#[derive(Debug, Args)]
struct StoreArgs {
    /// A component file, or a folder of them (every `*.wasm` in it);
    /// repeatable. Components not here must come with the plan.
    #[arg(long = "udf", value_name = "PATH")]
    udfs: Vec<PathBuf>,
    /// Components up to this size travel with the plans this process
    /// sends; larger ones must be in every process's --udf folder.
    #[arg(long, default_value_t = wasmudf_ballista::DEFAULT_SHIP_LIMIT, value_name = "BYTES")]
    ship_limit: usize,
    /// Wall-clock limit of one guest call.
    #[arg(long, default_value_t = 5_000, value_name = "MS")]
    timeout_ms: u64,
    /// Fuel per guest call (off when not given).
    #[arg(long)]
    fuel: Option<u64>,
    /// Linear memory a guest may grow to.
    #[arg(long, default_value_t = 64, value_name = "MIB")]
    memory_mib: usize,
    /// Do not cache compiled components on disk.
    #[arg(long)]
    no_cache: bool,
    /// Partitions (or task slots) that run at once.
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

#[derive(Debug, Args)]
struct SchedulerArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Where to listen; port 0 picks a free one. The address taken is
    /// printed on stdout as `scheduler listening on ADDR`.
    #[arg(long, default_value = "127.0.0.1:50050")]
    bind: SocketAddr,
}

#[derive(Debug, Args)]
struct ExecutorArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The scheduler to register with.
    #[arg(long, default_value = "127.0.0.1:50050", value_name = "HOST:PORT")]
    scheduler: String,
    /// The host to bind and advertise.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// The port of the executor's Flight service (shuffle reads).
    #[arg(long, default_value_t = 50051)]
    port: u16,
    /// The port the scheduler pushes tasks to.
    #[arg(long, default_value_t = 50052)]
    grpc_port: u16,
    /// Where shuffle files go (a temporary folder when not given).
    #[arg(long)]
    work_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct QueryArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The scheduler, as `df://HOST:PORT`.
    #[arg(long, value_name = "URL")]
    ballista: String,
    /// A table, `NAME=FILE.csv` or `NAME=FILE.parquet`; repeatable. The
    /// path goes to the executors as an absolute path, so they must see
    /// the same file system.
    #[arg(long = "table", value_name = "NAME=FILE")]
    tables: Vec<String>,
    /// Write every statement's result as an Arrow IPC stream on stdout
    /// (how `wasmudf query --ballista` reads it) instead of a table.
    #[arg(long)]
    arrow_ipc: bool,
    /// One statement per argument.
    #[arg(required = true, value_name = "SQL")]
    sql: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `RUST_LOG` as usual, warnings and errors by default. Messages can
    // quote guest text: escaped like everything else printed.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .format(|buf, record| {
            writeln!(
                buf,
                "[{} {}] {}",
                record.level(),
                record.target(),
                wasmudf::escape_controls(&record.args().to_string())
            )
        })
        .init();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")
        .and_then(|rt| {
            rt.block_on(async {
                match cli.command {
                    Command::Scheduler(args) => scheduler(args).await,
                    Command::Executor(args) => executor(args).await,
                    Command::Query(args) => query(args).await,
                }
            })
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // Messages can quote guest text and file names: no control
            // characters reach the terminal.
            eprintln!("error: {}", wasmudf::escape_controls(&format!("{err:#}")));
            ExitCode::FAILURE
        }
    }
}

impl StoreArgs {
    fn store(&self, with_examples: bool) -> Result<Arc<ComponentStore>> {
        let mut builder = Engine::builder().limits(wasmudf::Limits {
            timeout: Duration::from_millis(self.timeout_ms),
            fuel: self.fuel,
            max_memory_bytes: self.memory_mib.saturating_mul(1 << 20),
            ..wasmudf::Limits::default()
        });
        if !self.no_cache
            && let Some(dir) = wasmudf::default_cache_dir()
        {
            builder = builder.cache_dir(dir);
        }
        let store = ComponentStore::new(builder.build()?, self.threads).ship_limit(self.ship_limit);
        if with_examples && self.udfs.is_empty() {
            for (name, bytes) in wasmudf_test_guests::EXAMPLES {
                store.insert(&format!("<example {name}>"), bytes)?;
            }
        }
        for path in &self.udfs {
            if path.is_dir() {
                store.load_dir(path)?;
            } else {
                store.load_file(path)?;
            }
        }
        Ok(Arc::new(store))
    }
}

async fn scheduler(args: SchedulerArgs) -> Result<()> {
    let store = args.store.store(false)?;
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("binding {}", args.bind))?;
    // The port taken, not the one asked for (0 = any): the scheduler
    // advertises it.
    let bound = listener.local_addr()?;
    let mut config = SchedulerConfig::default();
    config.bind_host = bound.ip().to_string();
    config.bind_port = bound.port();
    config.external_host = bound.ip().to_string();
    let config = Arc::new(wasmudf_ballista::scheduler_config(config, &store));
    let cluster = BallistaCluster::new_from_config(&config).await?;
    let scheduler = create_scheduler::<LogicalPlanNode, PhysicalPlanNode>(cluster, config).await?;
    announce(&format!(
        "scheduler listening on {bound} with {} components",
        store.len()
    ))?;
    start_grpc_service_with_listener(listener, scheduler).await?;
    Ok(())
}

async fn executor(args: ExecutorArgs) -> Result<()> {
    let store = args.store.store(false)?;
    let (host, port) = args
        .scheduler
        .rsplit_once(':')
        .with_context(|| format!("--scheduler {}: not HOST:PORT", args.scheduler))?;
    let scheduler_port: u16 = port
        .parse()
        .with_context(|| format!("--scheduler {}: not a port", args.scheduler))?;
    // Ballista's own default work folder is a temporary one it deletes at
    // once; ours lives as long as the process.
    let temp = tempfile::tempdir()?;
    let work_dir = args.work_dir.unwrap_or_else(|| temp.path().to_path_buf());
    let config = ExecutorProcessConfig {
        bind_host: args.host.clone(),
        external_host: Some(args.host),
        port: args.port,
        grpc_port: args.grpc_port,
        scheduler_host: host.to_owned(),
        scheduler_port,
        scheduler_connect_timeout_seconds: 30,
        vcores: args.store.threads,
        work_dir: Some(
            work_dir
                .to_str()
                .context("the work folder is not a UTF-8 path")?
                .to_owned(),
        ),
        ..ExecutorProcessConfig::default()
    };
    let config = wasmudf_ballista::executor_config(config, &store);
    announce(&format!(
        "executor on ports {} and {} with {} components, scheduler {}",
        args.port,
        args.grpc_port,
        store.len(),
        args.scheduler
    ))?;
    start_executor_process(Arc::new(config)).await?;
    Ok(())
}

async fn query(args: QueryArgs) -> Result<()> {
    let store = args.store.store(true)?;
    let ctx = wasmudf_ballista::connect(&args.ballista, store)
        .await
        .with_context(|| format!("connecting to {}", args.ballista))?;
    for t in &args.tables {
        register_table(&ctx, t).await?;
    }
    let mut out = std::io::stdout().lock();
    for sql in &args.sql {
        let df = ctx.sql(sql).await?;
        let schema = df.schema().inner().clone();
        let batches = df.collect().await?;
        if args.arrow_ipc {
            let mut writer = StreamWriter::try_new(&mut out, &schema)?;
            for b in &batches {
                writer.write(b)?;
            }
            writer.finish()?;
        } else {
            writeln!(out, "{}", pretty_format_batches(&batches)?)?;
        }
    }
    out.flush()?;
    Ok(())
}

/// A line on stdout, flushed, that a test or a script waits for.
fn announce(line: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

async fn register_table(ctx: &SessionContext, arg: &str) -> Result<()> {
    let (name, file) = arg
        .split_once('=')
        .with_context(|| format!("--table {arg}: not NAME=FILE"))?;
    wasmudf_datafusion::register_file(ctx, name, Path::new(file))
        .await
        .with_context(|| format!("reading table {name} from {file}"))
}
