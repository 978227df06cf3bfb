//! What a guest can reach: the per-store host state and the WASI subset
//! linked into every component.
//!
//! Nothing is granted by default: no preopened directories, no environment,
//! no arguments, empty stdin, no sockets (the socket interfaces are not even
//! linked, so a component importing them fails to load). stdout and stderr
//! go to a bounded in-memory buffer that the host reads to explain traps.

use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use crate::clock::CoarseClock;
use crate::interrupt::Interrupt;
use crate::limits::Limiter;

/// Bytes of guest stdout+stderr kept per instance; later output is an
/// error for the guest's write, not for the host.
const CAPTURE_BYTES: usize = 64 << 10;

/// The data every guest `Store` carries.
pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: Limiter,
    stderr: MemoryOutputPipe,
    /// Raised to stop this store's guest from another thread.
    pub(crate) interrupt: Interrupt,
    pub(crate) clock: Arc<CoarseClock>,
    /// When the current call started, on `clock`.
    pub(crate) call_start_ms: u64,
    /// The per-call deadline, in milliseconds.
    pub(crate) timeout_ms: u64,
    /// Set when a guest sleep was cut short by the call's deadline, so the
    /// call fails even if the guest returns before the next epoch check.
    pub(crate) cut_short: Arc<AtomicBool>,
}

impl std::fmt::Debug for HostState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostState").finish_non_exhaustive()
    }
}

impl HostState {
    pub(crate) fn new(
        limiter: Limiter,
        interrupt: Interrupt,
        clock: Arc<CoarseClock>,
        timeout_ms: u64,
    ) -> Self {
        let stderr = MemoryOutputPipe::new(CAPTURE_BYTES);
        let wasi = WasiCtx::builder()
            .stdout(MemoryOutputPipe::new(CAPTURE_BYTES))
            .stderr(stderr.clone())
            .build();
        HostState {
            wasi,
            table: ResourceTable::new(),
            limiter,
            stderr,
            interrupt,
            clock,
            call_start_ms: 0,
            timeout_ms,
            cut_short: Arc::default(),
        }
    }

    /// When the current call's deadline passes.
    pub(crate) fn call_deadline(&self) -> Instant {
        self.clock
            .instant_at(self.call_start_ms.saturating_add(self.timeout_ms))
    }

    pub(crate) fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    /// What the guest last said on stderr, to explain a trap: a Rust panic
    /// message with its location when there is one, otherwise the last
    /// non-empty line. Rust's "run with RUST_BACKTRACE" hint is skipped.
    pub(crate) fn last_stderr_line(&self) -> Option<String> {
        let bytes = self.stderr.contents();
        let text = String::from_utf8_lossy(&bytes);
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with("note: run with"))
            .collect();
        let said = match lines.iter().rposition(|line| line.contains("panicked at")) {
            Some(at) => lines[at..].iter().take(2).copied().collect::<Vec<_>>().join(" "),
            None => lines.last()?.to_string(),
        };
        Some(said.chars().take(500).collect())
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// WASI interfaces (without their `@version`) a component may import.
pub(crate) const ALLOWED_IMPORTS: &[&str] = &[
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/monotonic-clock",
    "wasi:clocks/wall-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
];

/// Whether an import name (`ns:pkg/iface@x.y.z`) is one the sandbox links.
pub(crate) fn import_allowed(name: &str) -> bool {
    let unversioned = name.split('@').next().unwrap_or(name);
    ALLOWED_IMPORTS.contains(&unversioned)
}

/// Builds the linker holding exactly [`ALLOWED_IMPORTS`].
pub(crate) fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<HostState>> {
    use wasmtime_wasi::cli::{WasiCli, WasiCliView};
    use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
    use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView};
    use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem, random, sync};
    use wasmtime_wasi::random::{WasiRandom, WasiRandomView};

    struct Io;
    impl wasmtime::component::HasData for Io {
        type Data<'a> = &'a mut ResourceTable;
    }

    type T = HostState;
    let mut linker = Linker::new(engine);
    let l = &mut linker;
    wasmtime_wasi_io::bindings::wasi::io::error::add_to_linker::<T, Io>(l, |t| &mut t.table)?;
    sync::io::poll::add_to_linker::<T, Io>(l, |t| &mut t.table)?;
    sync::io::streams::add_to_linker::<T, Io>(l, |t| &mut t.table)?;
    clocks::wall_clock::add_to_linker::<T, WasiClocks>(l, T::clocks)?;
    // Ours, not wasmtime-wasi's: its sleeps must be interruptible.
    crate::clock::add_monotonic_clock(l)?;
    random::random::add_to_linker::<T, WasiRandom>(l, T::random)?;
    random::insecure::add_to_linker::<T, WasiRandom>(l, T::random)?;
    random::insecure_seed::add_to_linker::<T, WasiRandom>(l, T::random)?;
    cli::exit::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::environment::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stdin::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stdout::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stderr::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_input::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_output::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stdin::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stdout::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stderr::add_to_linker::<T, WasiCli>(l, T::cli)?;
    filesystem::preopens::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)?;
    sync::filesystem::types::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)?;
    Ok(linker)
}
