//! Time as guests and deadlines see it.
//!
//! A [`CoarseClock`] is advanced by the engine's epoch ticker, so arming a
//! per-call deadline is one relaxed atomic load rather than a clock read.
//!
//! `wasi:clocks/monotonic-clock` is implemented here instead of by
//! wasmtime-wasi so that a guest blocked in a sleep (`std::thread::sleep`
//! on wasip2) can be woken by an [`Interrupt`] or cut short at the call's
//! deadline; epoch interruption alone only reaches a guest while it runs
//! wasm code. For an instance of deterministic functions the clock is
//! logical instead: zero at the start of every call, moved only by the
//! guest's own sleeps, which return at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi_io::poll::{DynPollable, Pollable, subscribe};

use crate::interrupt::Interrupt;
use crate::sandbox::HostState;

/// Milliseconds since the engine started, advanced by the epoch ticker.
#[derive(Debug)]
pub(crate) struct CoarseClock {
    base: Instant,
    now_ms: AtomicU64,
}

impl CoarseClock {
    pub(crate) fn new() -> Self {
        CoarseClock {
            base: Instant::now(),
            now_ms: AtomicU64::new(0),
        }
    }

    /// Called by the ticker.
    pub(crate) fn tick(&self) {
        let ms = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.now_ms.store(ms, Ordering::Relaxed);
    }

    /// The time of the last tick.
    #[inline]
    pub(crate) fn now_ms(&self) -> u64 {
        self.now_ms.load(Ordering::Relaxed)
    }

    /// The instant `ms` milliseconds after the clock's base.
    pub(crate) fn instant_at(&self, ms: u64) -> Instant {
        self.base + Duration::from_millis(ms)
    }

    /// Nanoseconds since the base, precisely, for the guest's `now()`.
    fn monotonic_nanos(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// A guest sleep: ready at `until`, at the call's deadline, or when the
/// connection is interrupted, whichever comes first.
struct GuestSleep {
    until: Instant,
    deadline: Instant,
    interrupt: Interrupt,
    cut_short: Arc<AtomicBool>,
}

#[wasmtime_wasi::async_trait]
impl Pollable for GuestSleep {
    async fn ready(&mut self) {
        let limit = self.until.min(self.deadline);
        tokio::select! {
            () = wait_until(limit) => {
                if limit < self.until {
                    self.cut_short.store(true, Ordering::SeqCst);
                }
            }
            () = self.interrupt.raised() => {}
        }
    }
}

/// Waits until `at` on [`timer`]'s clock.
async fn wait_until(at: Instant) {
    let Some(timer) = timer() else {
        return tokio::time::sleep_until(at.into()).await;
    };
    // The sleep is made on the timer's thread, inside its runtime.
    let mut task = AbortOnDrop(timer.spawn(async move {
        tokio::time::sleep_until(at.into()).await;
    }));
    // Err only if the timer's runtime went away: wake the guest then.
    let _ = (&mut task.0).await;
}

/// Cancels a sleep whose waiter went away (interrupted, or its call
/// dropped), so that its timer does not outlive it.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The runtime whose timer wakes guest sleeps: one thread, made on first
/// use and kept for the process. Not the caller's runtime: a guest call may
/// run on a blocking thread of a runtime that is shutting down (napi-rs
/// shuts down a Node.js worker's runtime when the worker is terminated),
/// where making a tokio timer panics. None if the thread cannot be made;
/// sleeps then use the caller's runtime.
fn timer() -> Option<&'static tokio::runtime::Handle> {
    static TIMER: std::sync::OnceLock<Option<tokio::runtime::Handle>> = std::sync::OnceLock::new();
    TIMER
        .get_or_init(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .inspect_err(|e| tracing::error!("wasmudf: no timer runtime: {e}"))
                .ok()?;
            let handle = runtime.handle().clone();
            std::thread::Builder::new()
                .name("wasmudf-timer".into())
                .spawn(move || runtime.block_on(std::future::pending::<()>()))
                .inspect_err(|e| tracing::error!("wasmudf: no timer thread: {e}"))
                .ok()?;
            Some(handle)
        })
        .as_ref()
}

/// A deterministic instance's sleep: its clock has already moved on, so it
/// is ready at once, and `pollable.ready` says so every time.
struct LogicalSleep;

#[wasmtime_wasi::async_trait]
impl Pollable for LogicalSleep {
    async fn ready(&mut self) {}
}

/// A sleep of a deterministic instance: moves its logical clock to `until`
/// (nanoseconds since the call started) and returns a ready pollable.
fn logical_sleep(
    mut store: StoreContextMut<'_, HostState>,
    until: u64,
) -> wasmtime::Result<(Resource<DynPollable>,)> {
    let state = store.data_mut();
    state.logical_ns = state.logical_ns.max(until);
    let table = state.table();
    let resource = table.push(LogicalSleep)?;
    Ok((subscribe(table, resource)?,))
}

fn sleep_until(
    mut store: StoreContextMut<'_, HostState>,
    until: Instant,
) -> wasmtime::Result<(Resource<DynPollable>,)> {
    let state = store.data_mut();
    let sleep = GuestSleep {
        until,
        deadline: state.call_deadline(),
        interrupt: state.interrupt.clone(),
        cut_short: state.cut_short.clone(),
    };
    let table = state.table();
    let resource = table.push(sleep)?;
    Ok((subscribe(table, resource)?,))
}

/// Defines `wasi:clocks/monotonic-clock` on the linker.
pub(crate) fn add_monotonic_clock(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    let mut clock = linker.instance("wasi:clocks/monotonic-clock@0.2.12")?;
    clock.func_wrap("now", |store: StoreContextMut<'_, HostState>, (): ()| {
        let state = store.data();
        // Deterministic functions see only the time they slept themselves.
        let now = if state.deterministic {
            state.logical_ns
        } else {
            state.clock.monotonic_nanos()
        };
        Ok((now,))
    })?;
    clock.func_wrap("resolution", |_: StoreContextMut<'_, HostState>, (): ()| {
        Ok((1u64,))
    })?;
    clock.func_wrap(
        "subscribe-instant",
        |store: StoreContextMut<'_, HostState>, (when,): (u64,)| {
            if store.data().deterministic {
                return logical_sleep(store, when);
            }
            let until = store.data().clock.base + Duration::from_nanos(when);
            sleep_until(store, until)
        },
    )?;
    clock.func_wrap(
        "subscribe-duration",
        |store: StoreContextMut<'_, HostState>, (nanos,): (u64,)| {
            if store.data().deterministic {
                let until = store.data().logical_ns.saturating_add(nanos);
                return logical_sleep(store, until);
            }
            let now = Instant::now();
            let until = now
                .checked_add(Duration::from_nanos(nanos))
                .unwrap_or(now + Duration::from_secs(86_400 * 365));
            sleep_until(store, until)
        },
    )?;
    Ok(())
}
