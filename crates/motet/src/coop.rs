//! The cooperative budget: a unit that keeps finding its resources ready is
//! made to yield.
//!
//! Explicit switching has a second failure besides the stall: a task in a
//! loop like `loop { let m = rx.recv().await; ... }` never returns `Pending`
//! while messages keep coming, so it never gives its thread back. Each task
//! poll therefore gets a budget ([`BUDGET`] units); every motet resource
//! charges what its operation costs when it is about to report `Ready`
//! ([`OP`] for socket readiness, one-shot receive, join handle and the
//! `sync` primitives; [`CHANNEL_OP`], an eighth of that, for a channel
//! send, receive or select), and once the budget is spent it reports
//! `Pending` instead, after waking the task, which goes to the back of its
//! run queue. Like Erlang's reductions, operations are charged by their
//! cost, so a slice is about as long whatever the task does.
//!
//! Green threads spend the same budget: a green thread runs inside its
//! task's poll (one poll per resume), so the operations it completes
//! without waiting charge that poll's budget too ([`proceed_blocking`]:
//! a blocking `send` or `recv` that found room or a value, a `wait` whose
//! future was ready at once). When it is spent, the green thread yields
//! (wakes its task and suspends), and its next resume starts with a fresh
//! budget. A future that charges by itself is charged twice when a green
//! thread waits on it (its own charge and the wait's).
//!
//! Why 128 operations: a yield costs about one scheduling round trip
//! (~50-100 ns here), so below one yield per hundred operations it is
//! noise in a busy task's throughput (under 2% when an operation costs
//! ~50 ns); above it, a task could hold its thread for 128 operations
//! (tens of microseconds at most), well under one cross-core wake-up
//! (~20 µs here) per operation it delays, and far under the stall
//! threshold. 1,024 channel operations are about as long. Erlang's
//! reduction budget (4,000 reductions of a few ns) is of the same order in
//! time.
//!
//! Outside a task poll (a plain thread waiting through `wait`, or a future
//! polled by `block_on` directly) there is no budget: nothing else is waiting
//! for that thread.

use std::cell::Cell;
use std::task::{Context, Poll};

/// What one resource operation costs (socket readiness, one-shot receive,
/// join, the `sync` primitives, a green thread's `wait` that was ready).
pub(crate) const OP: u16 = 8;

/// What one channel send, receive or select costs: an eighth of [`OP`],
/// as it is some tens of nanoseconds where a socket operation is a system
/// call of about a microsecond. Charged at [`OP`], a producer yielded every
/// 128 sends, an eighth of the way into filling a `bounded(1024)` channel,
/// and the lab's fanout (one producer, four consumers) ran 45% slower on
/// green threads and 27% on the event loop than with no channel budget
/// (40-41 against 27-29 ns per message; async-loop 47 against 37); at an
/// eighth it costs 3-5% there (green-loop 28.6-29.0 against 27.7,
/// async-loop 38.2-38.3 against 35.6-36.8) and pingpong 1-2%, alternating
/// runs on 2026-11-30.
pub(crate) const CHANNEL_OP: u16 = 1;

/// Units per task poll: 128 resource operations, or 1,024 channel ones.
pub(crate) const BUDGET: u16 = 128 * OP;

thread_local! {
    /// Units left in this task poll; `None`: unconstrained (not inside a
    /// task poll).
    static LEFT: Cell<Option<u16>> = const { Cell::new(None) };
}

/// Runs `f`, in which this thread polls tasks one after another, each
/// begun with [`fresh_budget`], and puts the thread's budget back after it
/// (on a panic too): code polled outside any task (`block_on`'s future)
/// stays unconstrained. A scheduler brackets its run of polls with it, so
/// that a poll costs one store to the budget, not a save and restore.
#[inline]
pub(crate) fn across_polls<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(Option<u16>);
    impl Drop for Restore {
        #[inline]
        fn drop(&mut self) {
            let _ = LEFT.try_with(|l| l.set(self.0));
        }
    }
    let _restore = Restore(LEFT.with(Cell::get));
    f()
}

/// Begins a task poll with a whole budget; only inside [`across_polls`].
#[inline]
pub(crate) fn fresh_budget() {
    LEFT.set(Some(BUDGET));
}

/// Called by a resource about to report `Ready`: charges one [`OP`], or,
/// when the budget is spent, wakes the task and returns `Pending`.
#[inline]
pub(crate) fn poll_proceed(cx: &mut Context<'_>) -> Poll<()> {
    poll_proceed_with(cx, OP)
}

/// [`poll_proceed`] for an operation of `units`. Channels call it before
/// their first try, whether or not it completes: a try that finds nothing
/// ends in `Pending`, which ends the task's poll anyway, so charging it
/// costs nothing, and one thread-local access per operation is the
/// cheapest (checking first and charging after cost a pingpong round trip
/// 8% more instructions).
#[inline]
pub(crate) fn poll_proceed_with(cx: &mut Context<'_>, units: u16) -> Poll<()> {
    if spend(units) == Some(0) {
        cx.waker().wake_by_ref();
        return Poll::Pending;
    }
    Poll::Ready(())
}

/// Charges `units` for an operation that completed. Returns whether the
/// budget is now spent (always false outside a task poll).
#[inline]
pub(crate) fn charge(units: u16) -> bool {
    spend(units).is_some_and(|left| left <= units)
}

/// Takes `units` from this task poll's budget (down to zero); returns
/// what was left before, or `None` outside a task poll.
#[inline]
fn spend(units: u16) -> Option<u16> {
    LEFT.try_with(|l| {
        let left = l.get()?;
        l.set(Some(left.saturating_sub(units)));
        Some(left)
    })
    .ok()
    .flatten()
}

/// Blocking code's [`poll_proceed`], for an operation that completed
/// without waiting: charges `units`, and once the budget is spent a green
/// thread yields (its next resume has a fresh budget). Off a green thread
/// it only charges: an OS thread has no budget, and an async task that
/// calls a blocking operation which happens not to wait will find its
/// budget spent at its next resource.
#[inline]
pub(crate) fn proceed_blocking(units: u16) {
    if charge(units) {
        crate::green::yield_in_place();
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
        let spent = across_polls(|| {
            let mut spent = Vec::new();
            for _ in 0..2 {
                fresh_budget();
                let mut n = 0;
                while poll_proceed(&mut cx).is_ready() {
                    n += 1;
                }
                spent.push(n);
            }
            spent
        });
        let whole = (BUDGET / OP) as usize;
        assert_eq!(
            spent,
            [whole, whole],
            "each poll starts with a whole budget"
        );
        assert!(
            poll_proceed(&mut cx).is_ready(),
            "unconstrained again after the poll"
        );
    }
}
