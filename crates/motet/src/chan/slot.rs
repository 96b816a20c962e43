//! A waiting receive future's landing place: the sender that serves it
//! writes the value straight into the future (Go's direct hand-off, where
//! a sender copies into the parked receiver's stack), so the woken
//! receiver collects it without taking the channel's lock again.
//!
//! # Protocol
//!
//! A [`Slot`] lives inside a pinned [`RecvFut`](super::RecvFut). While the
//! future's interest is in the channel's wait queue, the queue holds a
//! [`SlotRef`] to it.
//!
//! - **Fill** ([`SlotRef::fill`]): only a sender (or a put-back) that holds
//!   the channel's lock and has just removed the interest from the queue,
//!   so at most once per registration. It writes the value, then raises
//!   `full` (release). That store is its last access: from then on the
//!   future may complete and its memory go away.
//! - **Take** ([`Slot::take`]): only the future, through `&self`. It reads
//!   `full` (acquire) and, if raised, lowers it and moves the value out.
//!   A fill in progress has not raised `full` yet, so a take never reads a
//!   value being written, and a fill never writes where a take reads: the
//!   interest is out of the queue before the fill starts, and the future
//!   registers again only after a take found nothing and the lock said
//!   the interest is still queued, or after it withdrew it.
//! - **Lifetime**: the future is pinned while registered, and its `Drop`
//!   (which pinning guarantees runs before the memory is reused) withdraws
//!   the interest under the lock, or takes a value that landed.

use std::marker::PhantomPinned;
use std::mem::MaybeUninit;
use std::ptr::NonNull;

use crate::loom::atomic::{AtomicBool, Ordering};
use crate::loom::cell::UnsafeCell;

/// One value's landing place (see the module docs).
pub(crate) struct Slot<T> {
    full: AtomicBool,
    value: UnsafeCell<MaybeUninit<T>>,
    /// The channel points here while the owner waits.
    _pinned: PhantomPinned,
}

impl<T> Slot<T> {
    pub(crate) fn new() -> Slot<T> {
        Slot {
            full: AtomicBool::new(false),
            value: UnsafeCell::new(MaybeUninit::uninit()),
            _pinned: PhantomPinned,
        }
    }

    /// The owner's take: the value a sender put here, if any.
    #[inline]
    pub(crate) fn take(&self) -> Option<T> {
        if !self.full.load(Ordering::Acquire) {
            return None;
        }
        self.full.store(false, Ordering::Relaxed);
        // SAFETY: `full` was raised by a fill whose write happened before
        // (release/acquire), and no fill can start again until the owner
        // registers anew (module docs): the value is initialized and ours.
        Some(self.value.with(|v| unsafe { (*v).assume_init_read() }))
    }

    /// A reference for the channel's wait queue. The caller holds the
    /// channel's lock, is the owner, and has found the slot empty; the
    /// slot must be pinned until it is withdrawn or filled and taken.
    pub(crate) fn as_ref(&self) -> SlotRef<T> {
        SlotRef(NonNull::from(self))
    }
}

impl<T> Drop for Slot<T> {
    fn drop(&mut self) {
        // The future takes every value that lands, in a poll or in its
        // own `Drop` (which runs first), so nothing is left to drop here.
        #[cfg(debug_assertions)]
        assert!(
            !self.full.load(Ordering::Relaxed),
            "motet::chan: a receive future was dropped with a value in its slot"
        );
    }
}

/// The wait queue's pointer to a waiting future's [`Slot`].
pub(crate) struct SlotRef<T>(NonNull<Slot<T>>);

// SAFETY: a `SlotRef` only moves a `T` into the slot, on whichever thread
// holds the channel's lock; the channel is `Send`/`Sync` only for `T: Send`,
// and the slot's owner takes the value on its own thread.
unsafe impl<T: Send> Send for SlotRef<T> {}
// SAFETY: shared `SlotRef`s do nothing (filling consumes one).
unsafe impl<T: Send> Sync for SlotRef<T> {}

impl<T> SlotRef<T> {
    /// Hands `value` to the waiting future.
    ///
    /// # Safety
    ///
    /// The caller holds the channel's lock and has just removed the
    /// interest that held this reference from the wait queue (module
    /// docs): the slot is alive, pinned and empty, and no one else fills it.
    #[inline]
    pub(crate) unsafe fn fill(self, value: T) {
        // SAFETY: by the caller's contract the slot is alive and no other
        // access to `value` happens until `full` is raised below.
        let slot = unsafe { self.0.as_ref() };
        slot.value.with_mut(|v| {
            // SAFETY: as above: the write is exclusive.
            unsafe { (*v).write(value) };
        });
        // The last access: the owner may free the slot once it sees this.
        slot.full.store(true, Ordering::Release);
    }
}
