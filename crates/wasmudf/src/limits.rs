//! Per-component resource limits and the store-level limiter that enforces
//! them.

use std::time::Duration;

/// Limits applied to every instance of a component.
///
/// The defaults are safe for untrusted code: a 5-second deadline per call,
/// 64 MiB of linear memory per instance (all of its memories together), a
/// 512 KiB wasm stack, results capped at 64 MiB, and load-time caps on how
/// much code and how many functions a component may bring.
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
    /// Most linear memory, in bytes, one instance may hold: the sum over
    /// every memory of every core instance inside it. A `memory.grow` past
    /// it returns -1 to the guest, as the WebAssembly spec allows, so a
    /// runtime with a garbage collector can collect and carry on; a guest
    /// that traps after a refused growth is reported as having hit this
    /// limit.
    pub max_memory_bytes: usize,
    /// Most table elements one instance may hold, summed over its tables.
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
    /// Most core instances inside one component instance. A Rust guest
    /// needs a handful; componentize-py's about 40.
    pub max_core_instances: u32,
    /// Most linear memories inside one component instance.
    pub max_memories: u32,
    /// Most tables inside one component instance.
    pub max_tables: u32,
    /// Most functions defined across all core modules of a component,
    /// checked before compiling it: compile time and memory grow with it.
    pub max_wasm_functions: u32,
    /// Most bytes of function bodies across all core modules of a
    /// component, checked before compiling it. Cranelift takes seconds per
    /// MiB of code on a small machine, and a compile cannot be stopped
    /// once started; the default leaves room for a JavaScript or Python
    /// runtime (a few MiB of code) while bounding what a hostile component
    /// can cost.
    pub max_code_bytes: usize,
    /// Most locals one function may declare, checked before compiling.
    pub max_function_locals: u32,
    /// Most functions one component's manifest may declare. Registration
    /// costs grow with the number of functions on a connection (SQLite's
    /// function hash stops growing at 64 buckets), for every connection of
    /// a pool.
    pub max_functions: usize,
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
            max_core_instances: 100,
            max_memories: 8,
            max_tables: 32,
            max_wasm_functions: 80_000,
            max_code_bytes: 16 << 20,
            max_function_locals: 50_000,
            max_functions: 4096,
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

/// Enforces [`Limits`] on one store, over all of its memories and tables
/// together: a component may instantiate many core instances, and a
/// per-memory cap would let each of them take the whole budget.
///
/// A refused growth makes `memory.grow` (or `table.grow`) return -1 rather
/// than trap, as the spec allows: a guest with a garbage collector can then
/// collect and carry on. The refusal is remembered until the next call is
/// armed, so that a guest which traps because of it (a Rust guest aborts
/// on a failed allocation) is reported as having hit the limit.
#[derive(Debug)]
pub(crate) struct Limiter {
    max_memory_bytes: usize,
    max_table_elements: usize,
    max_core_instances: usize,
    max_memories: usize,
    max_tables: usize,
    /// Bytes of linear memory the store holds, over all memories.
    memory_bytes: usize,
    /// Elements the store's tables hold, over all tables.
    table_elements: usize,
    /// The growth last allowed, taken back if wasmtime then fails it.
    pending_memory: usize,
    pending_table: usize,
    /// The last refusal since the call was armed.
    hit: Option<LimitHit>,
}

impl Limiter {
    pub(crate) fn new(limits: &Limits) -> Limiter {
        let count = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
        Limiter {
            max_memory_bytes: limits.max_memory_bytes,
            max_table_elements: limits.max_table_elements,
            // The direct path's core instance is one more in a store of
            // its own, so the same caps serve both kinds of store.
            max_core_instances: count(limits.max_core_instances),
            max_memories: count(limits.max_memories),
            max_tables: count(limits.max_tables),
            memory_bytes: 0,
            table_elements: 0,
            pending_memory: 0,
            pending_table: 0,
            hit: None,
        }
    }

    /// Forgets an earlier refusal: called when a call is armed.
    pub(crate) fn clear_hit(&mut self) {
        self.hit = None;
    }

    /// The growth refused since the call was armed, if any.
    pub(crate) fn hit(&self) -> Option<LimitHit> {
        self.hit
    }

    /// Linear memory the store holds now, in bytes.
    #[cfg(test)]
    pub(crate) fn memory_bytes(&self) -> usize {
        self.memory_bytes
    }
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let grow = desired.saturating_sub(current);
        let total = self.memory_bytes.saturating_add(grow);
        if total > self.max_memory_bytes {
            self.hit = Some(LimitHit::Memory {
                desired: total,
                limit: self.max_memory_bytes,
            });
            return Ok(false);
        }
        self.memory_bytes = total;
        self.pending_memory = grow;
        Ok(true)
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.memory_bytes = self.memory_bytes.saturating_sub(self.pending_memory);
        self.pending_memory = 0;
        Ok(())
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let grow = desired.saturating_sub(current);
        let total = self.table_elements.saturating_add(grow);
        if total > self.max_table_elements {
            self.hit = Some(LimitHit::Table {
                desired: total,
                limit: self.max_table_elements,
            });
            return Ok(false);
        }
        self.table_elements = total;
        self.pending_table = grow;
        Ok(true)
    }

    fn table_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.table_elements = self.table_elements.saturating_sub(self.pending_table);
        self.pending_table = 0;
        Ok(())
    }

    fn instances(&self) -> usize {
        self.max_core_instances
    }

    fn memories(&self) -> usize {
        self.max_memories
    }

    fn tables(&self) -> usize {
        self.max_tables
    }
}

#[cfg(test)]
mod tests {
    use wasmtime::ResourceLimiter;

    use super::*;

    fn limiter(max_memory_bytes: usize) -> Limiter {
        Limiter::new(&Limits {
            max_memory_bytes,
            max_table_elements: 10,
            ..Limits::default()
        })
    }

    #[test]
    fn memory_is_counted_over_all_memories() -> wasmtime::Result<()> {
        let mut l = limiter(4 << 16);
        // Two memories of two pages each fill the budget; a third refuses.
        assert!(l.memory_growing(0, 2 << 16, None)?);
        assert!(l.memory_growing(0, 2 << 16, None)?);
        assert!(!l.memory_growing(0, 1 << 16, None)?);
        assert_eq!(
            l.hit(),
            Some(LimitHit::Memory {
                desired: 5 << 16,
                limit: 4 << 16
            })
        );
        l.clear_hit();
        assert_eq!(l.hit(), None);
        Ok(())
    }

    #[test]
    fn a_failed_growth_is_given_back() -> wasmtime::Result<()> {
        let mut l = limiter(4 << 16);
        assert!(l.memory_growing(1 << 16, 3 << 16, None)?);
        assert_eq!(l.memory_bytes(), 2 << 16);
        l.memory_grow_failed(wasmtime::Error::msg("no"))?;
        assert_eq!(l.memory_bytes(), 0);
        Ok(())
    }

    #[test]
    fn tables_are_counted_over_all_tables() -> wasmtime::Result<()> {
        let mut l = limiter(1 << 16);
        assert!(l.table_growing(0, 6, None)?);
        assert!(!l.table_growing(0, 6, None)?);
        assert!(l.table_growing(0, 4, None)?);
        assert!(matches!(l.hit(), Some(LimitHit::Table { limit: 10, .. })));
        Ok(())
    }
}
