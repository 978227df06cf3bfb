//! The direct instance's `accumulator` handles: what `resource.new`,
//! `resource.rep` and `resource.drop` do there, natively.
//!
//! # Why by hand
//!
//! The direct instance is a plain core instance, so wasmtime keeps no
//! component handle table for it, and none of its types can be used
//! outside a component instance. The guest sees handle numbers (wit-bindgen
//! keeps them in its `Accumulator` values), so this table hands out the
//! same numbers wasmtime 48's `HandleTable` would for the same sequence of
//! operations: slot index plus one (0 is never a handle), the most recently
//! freed slot reused first, and the same store-wide cap on live handles
//! (`DEFAULT_MAX_COMPONENT_HANDLES`), which counts the handles the host
//! holds too. Its errors have wasmtime's texts, so a trap reads the same on
//! both paths. The tests below pin each of these behaviours.

/// At most this many handles live in one store, the host's included, as
/// wasmtime's default.
pub(crate) const MAX_HANDLES: usize = 100_000;

/// The component model's upper bound on a handle index.
const MAX_HANDLE: u32 = 1 << 28;

#[derive(Debug, Clone, Copy)]
enum Slot {
    Free { next: u32 },
    Own { rep: u32 },
}

/// One direct instance's `own<accumulator>` handles.
#[derive(Debug, Default)]
pub(crate) struct Handles {
    next: u32,
    slots: Vec<Slot>,
    /// Handles in `slots`, plus those the host holds (lifted out of a
    /// `create` result and not yet handed back or dropped).
    live: usize,
}

/// A handle operation wasmtime would refuse; its text is wasmtime's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HandleError(pub(crate) String);

impl std::fmt::Display for HandleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HandleError {}

impl Handles {
    /// `resource.new`, and the lowering of an `own` handle into the guest.
    pub(crate) fn insert(&mut self, rep: u32) -> Result<u32, HandleError> {
        let next = self.next;
        if next + 1 >= MAX_HANDLE {
            return Err(HandleError(
                "cannot allocate another handle: index overflow".into(),
            ));
        }
        if self.live >= MAX_HANDLES {
            return Err(HandleError(
                "cannot allocate another handle: store handle limit exceeded".into(),
            ));
        }
        if next as usize == self.slots.len() {
            self.slots.push(Slot::Free { next: next + 1 });
        }
        let Some(slot) = self.slots.get_mut(next as usize) else {
            return Err(HandleError("handle table out of order".into()));
        };
        self.next = match std::mem::replace(slot, Slot::Own { rep }) {
            Slot::Free { next } => next,
            Slot::Own { .. } => return Err(HandleError("handle table out of order".into())),
        };
        self.live += 1;
        Ok(next + 1)
    }

    /// `resource.rep`.
    pub(crate) fn rep(&self, handle: u32) -> Result<u32, HandleError> {
        match handle
            .checked_sub(1)
            .and_then(|i| self.slots.get(i as usize))
        {
            Some(Slot::Own { rep }) => Ok(*rep),
            _ => Err(unknown(handle)),
        }
    }

    /// `resource.drop` of an own handle (the caller then runs the
    /// destructor on the returned rep), and the lifting of an `own` handle
    /// out of the guest.
    pub(crate) fn remove(&mut self, handle: u32) -> Result<u32, HandleError> {
        let rep = self.rep(handle)?;
        let index = handle - 1;
        self.slots[index as usize] = Slot::Free { next: self.next };
        self.next = index;
        self.live -= 1;
        Ok(rep)
    }

    /// A handle lifted out of the guest now held by the host: it still
    /// counts against the cap, as in wasmtime's host table.
    pub(crate) fn host_took(&mut self) {
        self.live += 1;
    }

    /// A handle the host held is handed back (before [`insert`], which
    /// counts it again) or dropped.
    ///
    /// [`insert`]: Handles::insert
    pub(crate) fn host_released(&mut self) {
        self.live = self.live.saturating_sub(1);
    }
}

fn unknown(handle: u32) -> HandleError {
    HandleError(format!("unknown handle index {handle}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_start_at_one_and_reuse_the_last_freed_slot_first() {
        let mut h = Handles::default();
        assert_eq!(h.insert(100), Ok(1));
        assert_eq!(h.insert(200), Ok(2));
        assert_eq!(h.insert(300), Ok(3));
        assert_eq!(h.remove(1), Ok(100));
        assert_eq!(h.remove(3), Ok(300));
        // Last freed first: 3, then 1, then a new slot.
        assert_eq!(h.insert(400), Ok(3));
        assert_eq!(h.insert(500), Ok(1));
        assert_eq!(h.insert(600), Ok(4));
        assert_eq!(h.rep(2), Ok(200));
        assert_eq!(h.rep(4), Ok(600));
    }

    #[test]
    fn unknown_handles_are_refused_with_wasmtimes_text() {
        let mut h = Handles::default();
        assert_eq!(h.rep(0), Err(unknown(0)));
        assert_eq!(h.rep(1), Err(unknown(1)));
        let handle = h.insert(7).expect("insert");
        assert_eq!(h.remove(handle), Ok(7));
        assert_eq!(
            h.remove(handle).map_err(|e| e.to_string()),
            Err("unknown handle index 1".to_string())
        );
        assert_eq!(h.rep(u32::MAX), Err(unknown(u32::MAX)));
    }

    #[test]
    fn the_cap_counts_handles_the_host_holds() {
        let mut h = Handles::default();
        for i in 0..MAX_HANDLES - 1 {
            h.insert(i as u32).expect("under the cap");
        }
        // A create: the guest makes a handle, the host lifts it out and
        // holds it.
        let last = h.insert(0).expect("the last one");
        h.remove(last).expect("lifted");
        h.host_took();
        assert_eq!(
            h.insert(1).map_err(|e| e.to_string()),
            Err("cannot allocate another handle: store handle limit exceeded".to_string())
        );
        // Handing it back to the guest (finish) makes room for exactly it.
        h.host_released();
        assert!(h.insert(1).is_ok());
    }
}
