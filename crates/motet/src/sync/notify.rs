//! Notify: wake one waiter or all of them, with no data attached.
//!
//! # Design
//!
//! One lock over: a FIFO queue of waiting [`Notified`] futures (id and
//! waker), the ids of futures already notified but not yet polled (those
//! chosen by [`notify_one`](Notify::notify_one); those released by
//! [`notify_waiters`](Notify::notify_waiters) simply leave the queue), and
//! one stored *permit*.
//!
//! - `notify_one` hands the notification to the oldest waiter; if nobody
//!   waits, it stores the permit (at most one: several `notify_one`s with
//!   nobody waiting store one), which the next waiter consumes at once.
//!   So a `notify_one` that races ahead of the `notified().await` it is
//!   meant for is not lost.
//! - `notify_waiters` releases every future waiting *now* and stores
//!   nothing.
//! - A future "waits" from its first poll (the blocking forms poll at
//!   once). A future created but not yet polled misses a
//!   `notify_waiters`; use `notify_one`'s permit for handshakes.
//!
//! # Cancellation
//!
//! A `Notified` dropped while queued leaves the queue. One dropped after
//! `notify_one` chose it, but before it saw the notification, passes the
//! notification on (to the next waiter, else to the permit): a
//! `notify_one` is never swallowed by a cancelled waiter. A dropped
//! `notify_waiters` release is not passed on (every waiter got one).
//!
//! Rejected: a condition variable tied to [`Mutex`](super::Mutex) (the
//! classic `Condvar`). Notify plus a loop that re-checks the condition
//! under the lock does the same job, without a guard type to thread
//! through the wait, and serves code that has no lock at all.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use crate::loom::sync::{Mutex, MutexGuard};

/// Wakes tasks, green threads or OS threads waiting on it.
///
/// ```
/// use std::sync::Arc;
/// let notify = Arc::new(motet::sync::Notify::new());
/// let n2 = notify.clone();
/// let t = std::thread::spawn(move || n2.notified_blocking());
/// notify.notify_one(); // before or after the thread waits: not lost
/// t.join().unwrap();
/// ```
pub struct Notify {
    state: Mutex<State>,
}

/// Every field is touched only with the lock held.
struct State {
    /// Waiting futures, oldest first.
    queue: VecDeque<(u64, Waker)>,
    /// Futures chosen by `notify_one` that have not yet seen it. (Those
    /// released by `notify_waiters` are not recorded: a queued future
    /// found in neither list was released that way.)
    notified: Vec<u64>,
    /// A `notify_one` that found nobody waiting.
    permit: bool,
    next_id: u64,
}

impl State {
    /// `notify_one`'s logic, also used to pass a notification on.
    fn notify_one(&mut self) -> Option<Waker> {
        match self.queue.pop_front() {
            Some((id, waker)) => {
                self.notified.push(id);
                Some(waker)
            }
            None => {
                self.permit = true;
                None
            }
        }
    }
}

impl Notify {
    /// A `Notify` with no permit stored.
    ///
    /// ```
    /// let n = motet::sync::Notify::new();
    /// n.notify_waiters(); // nobody waits: nothing happens
    /// ```
    pub fn new() -> Notify {
        Notify {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                notified: Vec::new(),
                permit: false,
                next_id: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes the oldest waiter, or stores one permit for the next.
    ///
    /// ```
    /// let rt = motet::runtime::Runtime::new().unwrap();
    /// let n = motet::sync::Notify::new();
    /// n.notify_one();
    /// rt.block_on(n.notified()); // consumes the stored permit
    /// ```
    pub fn notify_one(&self) {
        let waker = self.lock().notify_one();
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Wakes every future waiting now (polled at least once); stores no
    /// permit.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let rt = motet::runtime::Runtime::new().unwrap();
    /// let n = Arc::new(motet::sync::Notify::new());
    /// rt.block_on(async {
    ///     let mut hs = Vec::new();
    ///     for _ in 0..3 {
    ///         let n = n.clone();
    ///         hs.push(motet::task::spawn(async move { n.notified().await }));
    ///     }
    ///     // Let them start waiting, then release all three.
    ///     while n.waiters() < 3 {
    ///         motet::task::yield_now().await;
    ///     }
    ///     n.notify_waiters();
    ///     for h in hs {
    ///         h.await.unwrap();
    ///     }
    /// });
    /// ```
    pub fn notify_waiters(&self) {
        let mut st = self.lock();
        let wake: Vec<Waker> = st.queue.drain(..).map(|(_, w)| w).collect();
        drop(st);
        for w in wake {
            w.wake();
        }
    }

    /// How many futures are waiting now (for tests and diagnostics).
    ///
    /// ```
    /// let n = motet::sync::Notify::new();
    /// assert_eq!(n.waiters(), 0);
    /// ```
    pub fn waiters(&self) -> usize {
        self.lock().queue.len()
    }

    /// Waits for a notification. Cancel-safe (see the module notes).
    ///
    /// ```
    /// let rt = motet::runtime::Runtime::new().unwrap();
    /// let n = std::sync::Arc::new(motet::sync::Notify::new());
    /// rt.block_on(async {
    ///     let n2 = n.clone();
    ///     motet::task::spawn(async move { n2.notify_one() });
    ///     n.notified().await;
    /// });
    /// ```
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            notify: self,
            stage: Stage::Idle,
        }
    }

    /// Waits for a notification from outside async code: suspends a green
    /// thread, parks an OS thread.
    ///
    /// # Panics
    ///
    /// On an event-loop thread; see [`wait`](crate::wait::wait).
    ///
    /// ```
    /// let n = motet::sync::Notify::new();
    /// n.notify_one();
    /// n.notified_blocking();
    /// ```
    #[track_caller]
    // Inlined: a green thread suspends in the caller's frame (`wait`).
    #[inline(always)]
    pub fn notified_blocking(&self) {
        crate::wait::wait(self.notified())
    }
}

impl Default for Notify {
    fn default() -> Notify {
        Notify::new()
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.lock();
        f.debug_struct("Notify")
            .field("waiters", &st.queue.len())
            .field("permit", &st.permit)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Idle,
    Queued(u64),
    Done,
}

/// The future of [`Notify::notified`].
#[must_use = "futures do nothing unless polled"]
pub struct Notified<'a> {
    notify: &'a Notify,
    stage: Stage,
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.stage == Stage::Done {
            return Poll::Ready(());
        }
        if crate::coop::poll_proceed(cx).is_pending() {
            return Poll::Pending;
        }
        let mut st = this.notify.lock();
        match this.stage {
            Stage::Idle => {
                if st.permit {
                    st.permit = false;
                    this.stage = Stage::Done;
                    return Poll::Ready(());
                }
                st.next_id += 1;
                let id = st.next_id;
                st.queue.push_back((id, cx.waker().clone()));
                this.stage = Stage::Queued(id);
                Poll::Pending
            }
            Stage::Queued(id) => {
                if let Some(pos) = st.notified.iter().position(|&i| i == id) {
                    st.notified.swap_remove(pos);
                    this.stage = Stage::Done;
                    return Poll::Ready(());
                }
                if let Some((_, w)) = st.queue.iter_mut().find(|(i, _)| *i == id) {
                    if !w.will_wake(cx.waker()) {
                        *w = cx.waker().clone();
                    }
                    return Poll::Pending;
                }
                // Released by `notify_waiters` (which does not record ids).
                this.stage = Stage::Done;
                Poll::Ready(())
            }
            Stage::Done => unreachable!(),
        }
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        let Stage::Queued(id) = self.stage else {
            return;
        };
        let mut st = self.notify.lock();
        if let Some(pos) = st.queue.iter().position(|(i, _)| *i == id) {
            st.queue.remove(pos);
            return;
        }
        let mut pass_on = None;
        if let Some(pos) = st.notified.iter().position(|&i| i == id) {
            st.notified.swap_remove(pos);
            pass_on = st.notify_one();
        }
        drop(st);
        if let Some(w) = pass_on {
            w.wake();
        }
    }
}

impl fmt::Debug for Notified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Notified")
    }
}
