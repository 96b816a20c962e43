//! The cooperative budget: a task that keeps finding its resources ready is
//! made to yield.
//!
//! Explicit switching has a second failure besides the stall: a task in a
//! loop like `loop { let m = rx.recv().await; ... }` never returns `Pending`
//! while messages keep coming, so it never gives its thread back. Each task
//! poll therefore gets a budget of [`BUDGET`] resource operations; every
//! motet resource (socket readiness, one-shot receive, join handle) charges
//! one unit when it is about to report `Ready`, and once the budget is spent
//! it reports `Pending` instead, after waking the task, which goes to the
//! back of its run queue.
//!
//! Why 128: a yield costs about one scheduling round trip (~50-100 ns here),
//! so below one yield per hundred operations it is noise in a busy task's
//! throughput (under 2% when an operation costs ~50 ns); above it, a task
//! could hold its thread for 128 operations (tens of microseconds at most),
//! well under one cross-core wake-up (~20 µs here) per operation it
//! delays, and far under the stall threshold. Erlang's reduction budget
//! (4,000 reductions of a few ns) is of the same order in time.
//!
//! Outside a task poll (a plain thread waiting through `wait`, or a future
//! polled by `block_on` directly) there is no budget: nothing else is waiting
//! for that thread.

use std::cell::Cell;
use std::task::{Context, Poll};

/// Resource operations per task poll.
pub(crate) const BUDGET: u8 = 128;

thread_local! {
    /// `None`: unconstrained (not inside a task poll).
    static LEFT: Cell<Option<u8>> = const { Cell::new(None) };
}

/// Runs one task poll with a fresh budget.
#[inline]
pub(crate) fn with_budget<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(Option<u8>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = LEFT.try_with(|l| l.set(self.0));
        }
    }
    let prev = LEFT.with(|l| l.replace(Some(BUDGET)));
    let _restore = Restore(prev);
    f()
}

/// Called by a resource about to report `Ready`: charges one unit, or, when
/// the budget is spent, wakes the task and returns `Pending`.
#[inline]
pub(crate) fn poll_proceed(cx: &mut Context<'_>) -> Poll<()> {
    let left = LEFT.try_with(|l| l.get()).ok().flatten();
    match left {
        None => Poll::Ready(()),
        Some(0) => {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
        Some(n) => {
            let _ = LEFT.try_with(|l| l.set(Some(n - 1)));
            Poll::Ready(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    #[test]
    fn budget_runs_out_and_is_restored() {
        let mut cx = Context::from_waker(Waker::noop());
        assert!(
            poll_proceed(&mut cx).is_ready(),
            "unconstrained outside a task"
        );
        let spent = with_budget(|| {
            let mut n = 0;
            while poll_proceed(&mut cx).is_ready() {
                n += 1;
            }
            n
        });
        assert_eq!(spent, BUDGET as usize);
        assert!(
            poll_proceed(&mut cx).is_ready(),
            "unconstrained again after the poll"
        );
    }
}
