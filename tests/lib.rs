//! Shared helpers for the integration tests in `it/`.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use rusqlite::Connection;
use wasmudf::{Component, Engine, Limits};

pub mod wat_guest;

/// One engine for the whole test binary, as an embedder would have.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        Engine::builder()
            .limits(long_lived())
            .build()
            .expect("engine builds")
    })
}

/// Default limits with a smaller instance pool, for an engine that lives as
/// long as the test binary. Each engine reserves address space for every
/// memory its pool may hold (about 12 TiB at the default 1,000 instances),
/// and the binary's long-lived engines together with those of concurrently
/// running tests must fit in the process's 128 TiB; with default pools a
/// handful of static engines and two tests at once came close enough to
/// fail with "mmap failed to reserve".
pub fn long_lived() -> Limits {
    Limits {
        max_instances: 256,
        ..Limits::default()
    }
}

/// The compiled-code cache's secret key file for this test binary: one per
/// process, as one per user in real use, in a private temporary folder
/// (not the real user's state folder).
pub fn cache_secret() -> std::path::PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a temporary folder"))
        .path()
        .join("cache-secret")
}

/// The compiled component for a guest crate, compiled once per test binary.
pub fn component(name: &str) -> Component {
    static CACHE: OnceLock<Mutex<HashMap<String, Component>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(c) = cache.lock().expect("cache lock").get(name) {
        return c.clone();
    }
    let path = wasmudf_test_guests::ALL
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no guest named {name}"))
        .1;
    let compiled = engine()
        .load_file(path)
        .unwrap_or_else(|e| panic!("loading {name}: {e}"));
    cache
        .lock()
        .expect("cache lock")
        .insert(name.to_string(), compiled.clone());
    compiled
}

/// An in-memory connection with the named guests registered.
pub fn conn_with(guests: &[&str]) -> anyhow::Result<Connection> {
    let conn = Connection::open_in_memory()?;
    for g in guests {
        component(g).register(&conn)?;
    }
    Ok(conn)
}

/// The single value of a one-row, one-column query.
pub fn scalar(conn: &Connection, sql: &str) -> rusqlite::Result<rusqlite::types::Value> {
    conn.query_row(sql, [], |row| row.get(0))
}

/// Records which OS threads ran guest calls and how many calls overlapped,
/// through [`wasmudf::EngineBuilder::on_call`].
#[derive(Debug, Default)]
pub struct CallLog {
    threads: Mutex<std::collections::HashSet<std::thread::ThreadId>>,
    in_flight: std::sync::atomic::AtomicUsize,
    high_water: std::sync::atomic::AtomicUsize,
    calls: std::sync::atomic::AtomicUsize,
}

impl CallLog {
    /// An engine whose every guest call is recorded in the returned log.
    pub fn engine() -> (Engine, std::sync::Arc<CallLog>) {
        CallLog::engine_with(Engine::builder())
    }

    /// [`CallLog::engine`] from a builder with other settings.
    pub fn engine_with(builder: wasmudf::EngineBuilder) -> (Engine, std::sync::Arc<CallLog>) {
        use std::sync::atomic::Ordering::SeqCst;
        let log = std::sync::Arc::new(CallLog::default());
        let hook = log.clone();
        let engine = builder
            .on_call(move |phase| match phase {
                wasmudf::CallPhase::Enter => {
                    hook.threads
                        .lock()
                        .expect("log lock")
                        .insert(std::thread::current().id());
                    hook.calls.fetch_add(1, SeqCst);
                    let now = hook.in_flight.fetch_add(1, SeqCst) + 1;
                    hook.high_water.fetch_max(now, SeqCst);
                }
                wasmudf::CallPhase::Exit => {
                    hook.in_flight.fetch_sub(1, SeqCst);
                }
            })
            .build()
            .expect("engine builds");
        (engine, log)
    }

    /// Distinct threads that ran at least one guest call.
    pub fn thread_count(&self) -> usize {
        self.threads.lock().expect("log lock").len()
    }

    /// The most guest calls that were running at the same moment.
    pub fn high_water(&self) -> usize {
        self.high_water.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Guest calls so far.
    pub fn calls(&self) -> usize {
        self.calls.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Loads a guest by crate name on a given engine.
pub fn load_on(engine: &Engine, name: &str) -> Component {
    let path = wasmudf_test_guests::ALL
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no guest named {name}"))
        .1;
    engine
        .load_file(path)
        .unwrap_or_else(|e| panic!("loading {name}: {e}"))
}

/// A runtime like a real server's: 2 workers, a blocking pool with room.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(16)
        .enable_all()
        .build()
        .expect("runtime builds")
}

/// Makes the next step of a stream likely to land on another thread: every
/// blocking thread that is idle now gets a task that holds it for a while.
pub async fn occupy_idle_blocking_threads() {
    for _ in 0..4 {
        drop(tokio::task::spawn_blocking(|| {
            std::thread::sleep(std::time::Duration::from_millis(30))
        }));
    }
    tokio::task::yield_now().await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
}

/// Every row of `sql`, consumed slowly: every seventh row waits until the
/// idle blocking threads are busy, so the statement's next step is likely
/// to run on another thread.
pub async fn slow_collect(
    db: &wasmudf::Database,
    sql: &str,
) -> anyhow::Result<Vec<Vec<rusqlite::types::Value>>> {
    use futures::StreamExt;
    let mut stream = db.stream(sql, ());
    let mut out = Vec::new();
    while let Some(row) = stream.next().await {
        out.push(row?.into_values());
        if out.len() % 7 == 0 {
            occupy_idle_blocking_threads().await;
        } else {
            tokio::task::yield_now().await;
        }
    }
    Ok(out)
}

/// The `tracing` warnings emitted on this thread while [`warnings_during`]
/// ran its closure: each event's message and fields, as text.
#[derive(Debug, Default)]
struct Warnings(Mutex<Vec<String>>);

/// Writes an event's fields into one line of text.
struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write;
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}

impl tracing::Subscriber for Warnings {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        *metadata.level() <= tracing::Level::WARN
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if *event.metadata().level() == tracing::Level::WARN {
            let mut line = String::new();
            event.record(&mut Fields(&mut line));
            self.0.lock().expect("warnings lock").push(line);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Runs `f` and returns its result with the `tracing` warnings it emitted
/// on this thread (where a plain `rusqlite::Connection` runs its guests).
pub fn warnings_during<R>(f: impl FnOnce() -> R) -> (R, Vec<String>) {
    let warnings = std::sync::Arc::new(Warnings::default());
    let out = tracing::subscriber::with_default(warnings.clone(), f);
    let seen = std::mem::take(&mut *warnings.0.lock().expect("warnings lock"));
    (out, seen)
}
