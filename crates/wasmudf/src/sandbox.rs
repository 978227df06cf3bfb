//! What a guest can reach: the per-store host state and the WASI subset
//! linked into every component.
//!
//! Nothing is granted by default: no preopened directories, no environment,
//! no arguments, empty stdin, no network. The socket interfaces are linked,
//! because language runtimes import them whether or not a UDF uses them
//! (componentize-py's default build does), but every use is denied before
//! an OS socket exists: creating a TCP or UDP socket and looking up a name
//! fail with `access-denied`, and the address check refuses every address.
//! stdout and stderr go to a bounded in-memory buffer that the host reads
//! to explain traps.

use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use crate::capture::Captured;
use crate::clock::CoarseClock;
use crate::interrupt::Interrupt;
use crate::limits::Limiter;

/// A host directory a component may use, mapped to a path in the guest.
///
/// The directory is opened with cap-std: the guest reaches only what is
/// below it, and neither `..` nor a symlink that points outside lets it out.
///
/// # Examples
///
/// ```no_run
/// # fn f(component: wasmudf::Component) -> wasmudf::Result<()> {
/// let component = component.grant_dir(wasmudf::DirGrant::read_only("./data", "/data"))?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirGrant {
    pub(crate) host: std::path::PathBuf,
    pub(crate) guest: String,
    pub(crate) writable: bool,
}

impl DirGrant {
    /// `host`, readable by the guest at `guest`.
    pub fn read_only(host: impl AsRef<std::path::Path>, guest: impl Into<String>) -> DirGrant {
        DirGrant {
            host: host.as_ref().to_path_buf(),
            guest: guest.into(),
            writable: false,
        }
    }

    /// `host`, readable and writable by the guest at `guest`.
    pub fn read_write(host: impl AsRef<std::path::Path>, guest: impl Into<String>) -> DirGrant {
        DirGrant {
            writable: true,
            ..DirGrant::read_only(host, guest)
        }
    }
}

/// What one instance may reach beyond computing.
#[derive(Debug, Clone, Default)]
pub(crate) struct Capabilities {
    pub(crate) grants: Arc<[DirGrant]>,
    /// For an instance that runs only deterministic functions: no granted
    /// directories, the wall clock stopped at the Unix epoch, a monotonic
    /// clock that starts at zero on every call and moves only by the
    /// guest's own sleeps (which return at once), and "random" bytes that
    /// start the same fixed sequence on every call. The functions therefore
    /// cannot observe anything that varies, not even across calls.
    pub(crate) deterministic: bool,
}

impl Capabilities {
    /// Nothing: no directories, and nothing that varies.
    pub(crate) fn none() -> Capabilities {
        Capabilities {
            grants: Arc::new([]),
            deterministic: true,
        }
    }
}

/// A wall clock stopped at the Unix epoch, for deterministic instances.
struct FrozenWallClock;

impl wasmtime_wasi::HostWallClock for FrozenWallClock {
    fn resolution(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(1)
    }
    fn now(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }
}

/// A "random" generator for deterministic instances: a SplitMix64 sequence
/// from a fixed seed, restarted whenever `calls` moves, that is, at the
/// start of every call (see [`HostState::start_deterministic_call`]).
struct PerCallSequence {
    calls: Arc<AtomicU64>,
    seen: u64,
    seed: u64,
    state: u64,
}

impl PerCallSequence {
    fn new(calls: &Arc<AtomicU64>, seed: u64) -> Self {
        PerCallSequence {
            calls: calls.clone(),
            seen: calls.load(Ordering::Relaxed),
            seed,
            state: seed,
        }
    }

    fn next(&mut self) -> u64 {
        let calls = self.calls.load(Ordering::Relaxed);
        if calls != self.seen {
            self.seen = calls;
            self.state = self.seed;
        }
        // SplitMix64 (Steele, Lea, Flood 2014).
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl rand_core::TryRng for PerCallSequence {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok((self.next() >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(self.next())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.next().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }
}

/// The data every guest `Store` carries.
pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: Limiter,
    stderr: Captured,
    /// Whether this instance runs only deterministic functions.
    pub(crate) deterministic: bool,
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
    /// For a deterministic instance: the monotonic clock, in nanoseconds
    /// since the call started, advanced only by the guest's sleeps.
    pub(crate) logical_ns: u64,
    /// Bumped at the start of every call of a deterministic instance, which
    /// restarts its random sequences.
    calls: Arc<AtomicU64>,
    /// A direct instance's `accumulator` handles (unused by a component
    /// instance, whose handles wasmtime keeps).
    pub(crate) handles: crate::direct::handles::Handles,
    /// A direct instance's accumulator destructor, run by its native
    /// `resource.drop`.
    pub(crate) dtor: Option<wasmtime::TypedFunc<i32, ()>>,
    /// Cleared while a direct instance runs `cabi_realloc` or a
    /// post-return function, where the canonical ABI lets no intrinsic be
    /// called.
    pub(crate) may_leave: bool,
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
        caps: &Capabilities,
    ) -> std::io::Result<Self> {
        let stderr = Captured::default();
        let mut wasi = WasiCtx::builder();
        wasi.stdout(Captured::default())
            .stderr(stderr.clone())
            // File I/O on a granted directory runs inline: guest calls
            // already run on a thread that may block.
            .allow_blocking_current_thread(true)
            // wasmtime-wasi's defaults already, spelled out because the
            // sandbox promises them: no TCP, no UDP, no name lookups, and
            // an address check that refuses every address.
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }));
        // A deterministic instance reads no files: their contents vary.
        let grants: &[DirGrant] = if caps.deterministic {
            &[]
        } else {
            &caps.grants
        };
        for grant in grants {
            let perms = if grant.writable {
                wasmtime_wasi::FsPerms::ReadWrite
            } else {
                wasmtime_wasi::FsPerms::ReadOnly
            };
            wasi.preopened_dir(&grant.host, &grant.guest, perms)
                .map_err(|e| std::io::Error::other(format!("{}: {e:#}", grant.host.display())))?;
        }
        let calls = Arc::new(AtomicU64::new(0));
        if caps.deterministic {
            wasi.wall_clock(FrozenWallClock)
                .secure_random(PerCallSequence::new(&calls, 0x5EC0_4E00))
                .insecure_random(PerCallSequence::new(&calls, 0x1A5E_C04E))
                .insecure_random_seed(42);
        }
        let wasi = wasi.build();
        Ok(HostState {
            wasi,
            table: ResourceTable::new(),
            limiter,
            stderr,
            interrupt,
            clock,
            call_start_ms: 0,
            timeout_ms,
            cut_short: Arc::default(),
            deterministic: caps.deterministic,
            logical_ns: 0,
            calls,
            handles: Default::default(),
            dtor: None,
            may_leave: true,
        })
    }

    /// Called as a deterministic instance's call (or instantiation) starts:
    /// its monotonic clock goes back to zero and its random sequences
    /// restart, so no call sees what an earlier one did to them.
    #[inline]
    pub(crate) fn start_deterministic_call(&mut self) {
        self.logical_ns = 0;
        // Only this store's owner writes it (no read-modify-write needed),
        // and this runs on every direct-path call too: keep it two moves.
        let calls = self.calls.load(Ordering::Relaxed);
        self.calls.store(calls.wrapping_add(1), Ordering::Relaxed);
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
            Some(at) => lines[at..]
                .iter()
                .take(2)
                .copied()
                .collect::<Vec<_>>()
                .join(" "),
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
    // Linked with every use denied (see the module docs).
    "wasi:sockets/network",
    "wasi:sockets/instance-network",
    "wasi:sockets/tcp",
    "wasi:sockets/tcp-create-socket",
    "wasi:sockets/udp",
    "wasi:sockets/udp-create-socket",
    "wasi:sockets/ip-name-lookup",
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
    use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem, random, sockets, sync};
    use wasmtime_wasi::random::{WasiRandom, WasiRandomView};
    use wasmtime_wasi::sockets::{WasiSockets, WasiSocketsView};

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
    let network = sockets::network::LinkOptions::default();
    sockets::network::add_to_linker::<T, WasiSockets>(l, &network, T::sockets)?;
    sockets::instance_network::add_to_linker::<T, WasiSockets>(l, T::sockets)?;
    sockets::tcp_create_socket::add_to_linker::<T, WasiSockets>(l, T::sockets)?;
    sockets::ip_name_lookup::add_to_linker::<T, WasiSockets>(l, T::sockets)?;
    sync::sockets::tcp::add_to_linker::<T, WasiSockets>(l, T::sockets)?;
    sync::sockets::udp::add_to_linker::<T, WasiSockets>(l, T::sockets)?;
    sync::sockets::udp_create_socket::add_to_linker::<T, WasiSockets>(l, T::sockets)?;
    Ok(linker)
}
