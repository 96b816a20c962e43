//! The lock-free buffer of a channel that has one: the ring of
//! `bounded(cap)` channels with `cap >= 2` (`chan/ring.rs`) or the list of
//! unbounded ones (`chan/list.rs`). Both speak one vocabulary (push, pop,
//! close, and the two looks the locked side takes after raising `busy`),
//! dispatched here by enum, so the handshake in `chan/state.rs` is
//! written once for both.

use super::list::List;
use super::ring::{PushError, Ring};

/// A channel's lock-free buffer.
pub(crate) enum Queue<T> {
    /// `bounded(cap)`, `cap >= 2`: full at `cap` values.
    Ring(Ring<T>),
    /// `unbounded`: never full.
    List(List<T>),
}

impl<T> Queue<T> {
    /// Appends `value`, unless the queue is full (a ring only) or closed.
    #[inline(always)]
    pub(crate) fn push(&self, value: T) -> Result<(), PushError<T>> {
        match self {
            Queue::Ring(r) => r.push(value),
            Queue::List(l) => l.push(value),
        }
    }

    /// Takes the oldest value, if there is one (waiting briefly for a push
    /// that has claimed its place and not yet published it).
    #[inline(always)]
    pub(crate) fn pop(&self) -> Option<T> {
        match self {
            Queue::Ring(r) => r.pop(),
            Queue::List(l) => l.pop(),
        }
    }

    /// Whether a pop would find a value now.
    pub(crate) fn has_value(&self) -> bool {
        match self {
            Queue::Ring(r) => r.has_value(),
            Queue::List(l) => l.has_value(),
        }
    }

    /// Whether a push would find room now, closed or not.
    pub(crate) fn has_room(&self) -> bool {
        match self {
            Queue::Ring(r) => r.has_room(),
            Queue::List(_) => true,
        }
    }

    /// How many values are in the queue (a snapshot).
    pub(crate) fn len(&self) -> usize {
        match self {
            Queue::Ring(r) => r.len(),
            Queue::List(l) => l.len(),
        }
    }

    /// Sets the close mark: every later push fails; pushes that got a
    /// place before it are popped as usual.
    pub(crate) fn close(&self) {
        match self {
            Queue::Ring(r) => r.close(),
            Queue::List(l) => l.close(),
        }
    }
}
