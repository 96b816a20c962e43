//! A worker's LIFO slot, which thieves may empty as a last resort.
//!
//! The slot holds the one task its worker runs next: the task just spawned
//! or woken by the task that ran (so a spawn tree runs depth first, and a
//! message exchange stays on one core). The owner fills and empties it
//! without locks; another worker takes from it only when it has found no
//! other work and the owner has been inside a single poll for a while (Go's
//! `runnext`, which thieves steal the same way). So a worker that stalls
//! right after spawning does not keep its newest task hostage.
//!
//! The slot is one atomic pointer holding a `Runnable` in its raw form.
//! Every transfer is a `swap`, so exactly one party gets each pointer out,
//! and turns it back into a `Runnable` exactly once.

use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicPtr, Ordering};

use crate::task::Runnable;

/// One task slot, shared between its owner and thieves.
pub(crate) struct LifoSlot(AtomicPtr<()>);

impl Default for LifoSlot {
    fn default() -> LifoSlot {
        LifoSlot(AtomicPtr::new(ptr::null_mut()))
    }
}

impl LifoSlot {
    /// Puts `task` in the slot and returns what was there.
    pub(crate) fn replace(&self, task: Runnable) -> Option<Runnable> {
        let new = task.into_raw().as_ptr();
        from_raw(self.0.swap(new, Ordering::AcqRel))
    }

    /// Empties the slot.
    pub(crate) fn take(&self) -> Option<Runnable> {
        if self.0.load(Ordering::Relaxed).is_null() {
            return None;
        }
        from_raw(self.0.swap(ptr::null_mut(), Ordering::AcqRel))
    }

    /// Whether a task is in the slot (a hint: it may change at once).
    pub(crate) fn is_occupied(&self) -> bool {
        !self.0.load(Ordering::Acquire).is_null()
    }
}

fn from_raw(raw: *mut ()) -> Option<Runnable> {
    let raw = NonNull::new(raw)?;
    // SAFETY: the slot only ever holds pointers made by `Runnable::into_raw`
    // (in `replace`), and each leaves the slot through exactly one `swap`,
    // whose caller is the only one to see it: so this pointer came from
    // `into_raw` and is turned back into a `Runnable` exactly once.
    Some(unsafe { Runnable::from_raw(raw) })
}

impl Drop for LifoSlot {
    fn drop(&mut self) {
        drop(self.take());
    }
}
