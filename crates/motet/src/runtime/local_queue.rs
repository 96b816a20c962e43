//! An event loop's local run queue: a FIFO of runnable tasks that only the
//! loop's owner thread touches.
//!
//! A `RefCell<VecDeque>` would do, but its borrow flag is checked and
//! written around every push and pop: four instructions each, on the path
//! of every switch (a yield pops one task and pushes another). Here the
//! deque sits in an `UnsafeCell`, reached only through [`LocalQueue::with`],
//! whose callers run nothing but the deque's own methods inside it.

use std::cell::UnsafeCell;
use std::collections::VecDeque;

/// A FIFO for one thread (it is not `Sync`); the event loop's holds
/// `Runnable`s.
pub(crate) struct LocalQueue<T>(UnsafeCell<VecDeque<T>>);

impl<T> Default for LocalQueue<T> {
    fn default() -> LocalQueue<T> {
        LocalQueue(UnsafeCell::new(VecDeque::new()))
    }
}

impl<T> LocalQueue<T> {
    /// Runs `f` on the deque. Private, and every `f` below only calls
    /// `VecDeque` methods that move values and drop none, so they run no
    /// code of anyone else's, and no second `with` can begin while one is
    /// running.
    #[inline(always)]
    fn with<R>(&self, f: impl FnOnce(&mut VecDeque<T>) -> R) -> R {
        // SAFETY: `LocalQueue` is not `Sync` (it holds an `UnsafeCell`), so
        // only the thread that owns it gets here; `with` is not re-entered
        // (above), so this is the only reference to the deque while `f`
        // runs, and `f` cannot keep it past its return.
        f(unsafe { &mut *self.0.get() })
    }

    #[inline]
    pub(crate) fn push(&self, value: T) {
        self.with(|q| q.push_back(value));
    }

    #[inline]
    pub(crate) fn pop(&self) -> Option<T> {
        self.with(|q| q.pop_front())
    }

    /// Moves every value of `more` to the back, in order.
    pub(crate) fn extend(&self, more: &mut VecDeque<T>) {
        self.with(|q| q.append(more));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.with(|q| q.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_come_out_in_the_order_they_went_in() {
        let q = LocalQueue::default();
        assert!(q.is_empty());
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
    fn values_left_in_the_queue_are_dropped_with_it() {
        let value = std::rc::Rc::new(());
        let q = LocalQueue::default();
        q.push(value.clone());
        q.push(value.clone());
        assert_eq!(std::rc::Rc::strong_count(&value), 3);
        drop(q);
        assert_eq!(std::rc::Rc::strong_count(&value), 1);
    }
}
