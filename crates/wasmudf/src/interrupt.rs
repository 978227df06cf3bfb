//! Stopping a running guest from another thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// A handle that stops the guests running on one connection.
///
/// [`Interrupt::interrupt`] makes a guest that is executing wasm trap at its
/// next epoch check (within a few milliseconds), and wakes a guest that is
/// blocked in a WASI sleep at once. The interrupted call fails with
/// [`CallErrorKind::Interrupted`](crate::CallErrorKind::Interrupted) and its
/// instance is replaced. The async [`Database`](crate::Database) does this
/// itself when a query future or row stream is dropped or times out; pair it
/// with [`rusqlite::InterruptHandle`] to stop SQLite as well.
///
/// # Examples
///
/// ```no_run
/// # fn main() -> anyhow::Result<()> {
/// let engine = wasmudf::Engine::new()?;
/// let sleep = engine.load_file("sleep.wasm")?;
/// let conn = rusqlite::Connection::open_in_memory()?;
/// let interrupt = wasmudf::Interrupt::new();
/// sleep.register_with(&conn, &interrupt)?;
/// let handle = interrupt.clone();
/// std::thread::spawn(move || {
///     std::thread::sleep(std::time::Duration::from_millis(50));
///     handle.interrupt();
/// });
/// let err = conn.query_row("SELECT sleep(10000)", [], |r| r.get::<_, i64>(0));
/// assert!(err.is_err());
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Default)]
pub struct Interrupt {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    raised: AtomicBool,
    notify: Notify,
}

impl std::fmt::Debug for Interrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interrupt")
            .field("raised", &self.is_interrupted())
            .finish()
    }
}

impl Interrupt {
    /// A handle that is not raised.
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    /// Stops the guest call running now, and every call after it until
    /// [`Interrupt::reset`].
    pub fn interrupt(&self) {
        self.inner.raised.store(true, Ordering::SeqCst);
        self.inner.notify.notify_waiters();
    }

    /// Lowers the flag so that calls run again.
    pub fn reset(&self) {
        self.inner.raised.store(false, Ordering::SeqCst);
    }

    /// Whether the flag is raised.
    pub fn is_interrupted(&self) -> bool {
        self.inner.raised.load(Ordering::Relaxed)
    }

    /// Resolves once the flag is raised.
    pub(crate) async fn raised(&self) {
        loop {
            let notified = self.inner.notify.notified();
            let mut notified = std::pin::pin!(notified);
            // Register interest before checking, so a concurrent
            // `interrupt()` cannot slip between the check and the wait.
            notified.as_mut().enable();
            if self.inner.raised.load(Ordering::SeqCst) {
                return;
            }
            notified.await;
        }
    }
}

/// The error an epoch callback raises when the interrupt flag is up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}
