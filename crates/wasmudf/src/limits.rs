//! Per-component resource limits and the store-level limiter that enforces
//! them.

use std::time::Duration;

/// Limits applied to every instance of a component.
///
/// The defaults are safe for untrusted code: a 5-second deadline per call,
/// 64 MiB of linear memory, a 512 KiB wasm stack, and results capped at
/// SQLite's own default maximum string length (1 GB) or less.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let limits = wasmudf::Limits {
///     timeout: Duration::from_millis(250),
///     max_memory_bytes: 16 << 20,
///     ..wasmudf::Limits::default()
/// };
/// assert_eq!(limits.max_memory_bytes, 16 * 1024 * 1024);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock budget for one guest call, enforced with epoch
    /// interruption: the guest traps at its next loop back-edge or function
    /// entry once the deadline passes.
    pub timeout: Duration,
    /// Fuel budget for one guest call (roughly one unit per wasm
    /// instruction); `None` disables fuel metering, which is cheaper.
    pub fuel: Option<u64>,
    /// Largest linear memory, in bytes, a component instance may grow to.
    pub max_memory_bytes: usize,
    /// Largest number of elements in any one table.
    pub max_table_elements: usize,
    /// Largest wasm stack, in bytes; at most [`Limits::MAX_WASM_STACK`].
    /// A guest call runs with this much native stack plus 256 KiB for the
    /// host left; on a thread with less, it runs on a fresh stack segment
    /// (correct, but a few microseconds slower per call).
    pub max_wasm_stack: usize,
    /// Largest TEXT or BLOB a function may return, in bytes.
    pub max_result_bytes: usize,
    /// Most live instances of all components on one engine.
    pub max_instances: u32,
}

impl Limits {
    /// The largest [`Limits::max_wasm_stack`] an engine accepts: 64 MiB.
    /// Every byte of it is native stack a guest may fill.
    pub const MAX_WASM_STACK: usize = 64 << 20;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(5),
            fuel: None,
            max_memory_bytes: 64 << 20,
            max_table_elements: 100_000,
            max_wasm_stack: 512 << 10,
            max_result_bytes: 64 << 20,
            max_instances: 1000,
        }
    }
}

/// Which limit stopped a guest. Carried inside the wasmtime error a limiter
/// returns so the trap can be classified afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LimitHit {
    Memory { desired: usize, limit: usize },
    Table { desired: usize, limit: usize },
}

impl std::fmt::Display for LimitHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LimitHit::Memory { desired, limit } => write!(
                f,
                "memory limit exceeded: tried to grow linear memory to {desired} bytes, limit is {limit}"
            ),
            LimitHit::Table { desired, limit } => write!(
                f,
                "table limit exceeded: tried to grow a table to {desired} elements, limit is {limit}"
            ),
        }
    }
}

impl std::error::Error for LimitHit {}

/// Enforces [`Limits`] on one store. A refused growth is turned into a trap
/// (rather than `memory.grow` returning -1) so that the caller learns which
/// limit was hit instead of seeing a guest's generic allocation failure.
#[derive(Debug)]
pub(crate) struct Limiter {
    pub(crate) max_memory_bytes: usize,
    pub(crate) max_table_elements: usize,
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory_bytes {
            return Err(LimitHit::Memory {
                desired,
                limit: self.max_memory_bytes,
            }
            .into());
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_table_elements {
            return Err(LimitHit::Table {
                desired,
                limit: self.max_table_elements,
            }
            .into());
        }
        Ok(true)
    }
}
