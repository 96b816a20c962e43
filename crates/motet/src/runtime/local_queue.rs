//! A scheduler thread's own run queue: a FIFO of runnable tasks that only
//! that thread touches (an event loop's local queue, a work-stealing
//! worker's FIFO of pinned tasks).
//!
//! A `RefCell<VecDeque>` would do, but its borrow flag is checked and
//! written around every push and pop, and the deque wraps its indices with
//! a compare and a conditional move: about twenty instructions on the path
//! of every switch (a yield pops one task and pushes another). Here the
//! queue is a ring of a power-of-two size with free-running indices (a
//! mask finds the slot) in an `UnsafeCell`, reached only through
//! [`LocalQueue::with`], whose callers run no code but the ring's own.

use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::mem::MaybeUninit;

/// Slots of a ring's first buffer.
const FIRST_CAPACITY: usize = 64;

/// A FIFO for one thread (it is not `Sync`); the event loop's holds
/// `Runnable`s.
pub(crate) struct LocalQueue<T>(UnsafeCell<Ring<T>>);

/// Values live in `buf[i & mask]` for `head <= i < tail` (wrapping), and
/// only there; `buf.len()` is a power of two, at least [`FIRST_CAPACITY`],
/// and `mask` is `buf.len() - 1` (kept, so that a push or pop does not
/// compute it: one instruction each).
struct Ring<T> {
    buf: Box<[MaybeUninit<T>]>,
    mask: usize,
    head: usize,
    tail: usize,
}

impl<T> Default for LocalQueue<T> {
    fn default() -> LocalQueue<T> {
        LocalQueue(UnsafeCell::new(Ring {
            buf: uninit_slots(FIRST_CAPACITY),
            mask: FIRST_CAPACITY - 1,
            head: 0,
            tail: 0,
        }))
    }
}

fn uninit_slots<T>(n: usize) -> Box<[MaybeUninit<T>]> {
    (0..n).map(|_| MaybeUninit::uninit()).collect()
}

impl<T> LocalQueue<T> {
    /// Runs `f` on the ring. Private, and every `f` below only moves values
    /// in and out of it and drops none, so it runs no code of anyone
    /// else's, and no second `with` can begin while one is running.
    #[inline(always)]
    fn with<R>(&self, f: impl FnOnce(&mut Ring<T>) -> R) -> R {
        // SAFETY: `LocalQueue` is not `Sync` (it holds an `UnsafeCell`), so
        // only the thread that owns it gets here; `with` is not re-entered
        // (above), so this is the only reference to the ring while `f`
        // runs, and `f` cannot keep it past its return.
        f(unsafe { &mut *self.0.get() })
    }

    #[inline]
    pub(crate) fn push(&self, value: T) {
        self.with(|r| r.push(value));
    }

    #[inline]
    pub(crate) fn pop(&self) -> Option<T> {
        self.with(|r| r.pop())
    }

    /// Moves every value of `more` to the back, in order.
    pub(crate) fn extend(&self, more: &mut VecDeque<T>) {
        self.with(|r| {
            for v in more.drain(..) {
                r.push(v);
            }
        });
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.with(|r| r.head == r.tail)
    }
}

impl<T> Ring<T> {
    #[inline(always)]
    fn push(&mut self, value: T) {
        if self.tail.wrapping_sub(self.head) > self.mask {
            self.grow();
        }
        let slot = self.tail & self.mask;
        // SAFETY: the mask is the buffer's length, a power of two, less one,
        // so it keeps `slot` below that length; the buffer has room for one
        // more value (it just grew if it had none). (Indexing would check
        // the length again on every push.)
        unsafe { self.buf.get_unchecked_mut(slot) }.write(value);
        self.tail = self.tail.wrapping_add(1);
    }

    #[inline(always)]
    fn pop(&mut self) -> Option<T> {
        if self.head == self.tail {
            return None;
        }
        let slot = self.head & self.mask;
        // SAFETY: the mask is the buffer's length, a power of two, less one,
        // so it keeps `slot` below that length. `head != tail`, so the ring
        // holds a value, in slot `head` (the ring's invariant); it moves out
        // here and is no longer counted.
        let value = unsafe { self.buf.get_unchecked(slot).assume_init_read() };
        self.head = self.head.wrapping_add(1);
        Some(value)
    }

    /// Doubles the buffer, moving the values to its start in order.
    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        let mut buf = uninit_slots(self.buf.len() * 2);
        let len = self.tail.wrapping_sub(self.head);
        for (i, slot) in buf.iter_mut().take(len).enumerate() {
            let from = self.head.wrapping_add(i) & self.mask;
            // SAFETY: `head + i` is below `tail`, so the old slot holds a
            // value; it is moved, and the old buffer is freed below without
            // dropping its slots (`MaybeUninit` drops nothing).
            slot.write(unsafe { self.buf[from].assume_init_read() });
        }
        self.mask = buf.len() - 1;
        self.buf = buf;
        self.head = 0;
        self.tail = len;
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        // A value's drop may run any code (a `Runnable` cancels its task),
        // but none of it can reach this queue: it is being dropped, so no
        // reference to it is left (an event loop or worker is no thread's
        // driven core once its last `Rc` is gone, and its shutdown has
        // emptied the queue before).
        while self.pop().is_some() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_come_out_in_the_order_they_went_in() {
        let q = LocalQueue::default();
        assert!(q.is_empty());
        assert_eq!(q.pop(), None);
        q.push(1);
        q.push(2);
        let mut more = VecDeque::from([3, 4]);
        q.extend(&mut more);
        assert!(more.is_empty());
        q.push(5);
        assert!(!q.is_empty());
        let out: Vec<i32> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(out, [1, 2, 3, 4, 5]);
        assert!(q.is_empty());
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn order_holds_across_growth_with_the_ring_wrapped() {
        let q = LocalQueue::default();
        let (mut next_in, mut next_out) = (0u32, 0u32);
        // Wrap the first buffer, then grow it while wrapped, three times.
        for round in 0..3 {
            for _ in 0..FIRST_CAPACITY / 2 {
                q.push(next_in);
                next_in += 1;
            }
            for _ in 0..FIRST_CAPACITY / 4 {
                assert_eq!(q.pop(), Some(next_out));
                next_out += 1;
            }
            for _ in 0..FIRST_CAPACITY << round {
                q.push(next_in);
                next_in += 1;
            }
        }
        while let Some(v) = q.pop() {
            assert_eq!(v, next_out);
            next_out += 1;
        }
        assert_eq!(next_out, next_in);
    }

    #[test]
    fn values_left_in_the_queue_are_dropped_with_it() {
        let value = std::rc::Rc::new(());
        let q = LocalQueue::default();
        for _ in 0..100 {
            q.push(value.clone());
        }
        assert_eq!(q.pop().map(drop), Some(()));
        assert_eq!(std::rc::Rc::strong_count(&value), 100);
        drop(q);
        assert_eq!(std::rc::Rc::strong_count(&value), 1);
    }
}
