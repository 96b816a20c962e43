//! Go's `sync.WaitGroup`: wait until a count of outstanding jobs is zero.
//!
//! # Design
//!
//! A cloneable handle over one shared lock holding the counter, a
//! *generation* number and the waiting futures' wakers (by id, so a
//! dropped waiter removes its own entry). When the counter falls to zero,
//! the generation advances and every waker is collected and woken after
//! the lock is released.
//!
//! A waiter is released by the counter being zero when it looks, *or* by
//! the generation having advanced since it first looked. The second rule
//! matters when the counter falls to zero and a new `add` raises it again
//! before the woken waiter runs: Go's waiters return in that case too
//! (they were released by the zero), and so do ours, instead of sleeping
//! through the round they were waiting for.
//!
//! Misuse panics as in Go: [`done`](WaitGroup::done) (or an
//! [`add`](WaitGroup::add) of a negative amount) that would take the
//! counter below zero panics, "negative WaitGroup counter".
//!
//! Rejected: building it on the semaphore (waiting for "all permits back")
//! would need the total known up front, which is exactly what `add`
//! changes.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use crate::loom::sync::{Mutex, MutexGuard};

/// Waits for a collection of jobs to finish: [`add`](Self::add) before
/// starting each, [`done`](Self::done) when each ends, and
/// [`wait`](Self::wait) (async) or [`wait_blocking`](Self::wait_blocking)
/// for the count to reach zero. Clones share one counter.
///
/// ```
/// use motet::sync::WaitGroup;
/// let wg = WaitGroup::new();
/// for _ in 0..4 {
///     wg.add(1);
///     let wg = wg.clone();
///     std::thread::spawn(move || {
///         // ... work ...
///         wg.done();
///     });
/// }
/// wg.wait_blocking();
/// assert_eq!(wg.count(), 0);
/// ```
#[derive(Clone)]
pub struct WaitGroup {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
}

/// Every field is touched only with the lock held.
#[derive(Default)]
struct State {
    count: usize,
    /// Advances each time `count` falls to zero.
    generation: u64,
    waiters: Vec<(u64, Waker)>,
    next_id: u64,
}

impl WaitGroup {
    /// A wait group with a count of zero.
    ///
    /// ```
    /// let wg = motet::sync::WaitGroup::new();
    /// wg.wait_blocking(); // zero: returns at once
    /// ```
    pub fn new() -> WaitGroup {
        WaitGroup {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `delta` (which may be negative, as in Go) to the counter; at
    /// zero, every waiter is released.
    ///
    /// # Panics
    ///
    /// If the counter would go below zero ("negative WaitGroup counter").
    ///
    /// ```
    /// let wg = motet::sync::WaitGroup::new();
    /// wg.add(2);
    /// wg.add(-1);
    /// assert_eq!(wg.count(), 1);
    /// ```
    #[track_caller]
    pub fn add(&self, delta: isize) {
        let mut st = self.lock();
        let next = if delta >= 0 {
            st.count.checked_add(delta.unsigned_abs())
        } else {
            st.count.checked_sub(delta.unsigned_abs())
        };
        let Some(next) = next else {
            drop(st);
            panic!("motet::sync::WaitGroup: negative WaitGroup counter");
        };
        st.count = next;
        if next == 0 && delta != 0 {
            st.generation += 1;
            let wake: Vec<Waker> = st.waiters.drain(..).map(|(_, w)| w).collect();
            drop(st);
            for w in wake {
                w.wake();
            }
        }
    }

    /// One job finished: `add(-1)`.
    ///
    /// # Panics
    ///
    /// If the counter is already zero.
    ///
    /// ```
    /// let wg = motet::sync::WaitGroup::new();
    /// wg.add(1);
    /// wg.done();
    /// assert_eq!(wg.count(), 0);
    /// ```
    #[track_caller]
    pub fn done(&self) {
        self.add(-1);
    }

    /// The counter now (for tests and diagnostics; it may change at once).
    ///
    /// ```
    /// let wg = motet::sync::WaitGroup::new();
    /// wg.add(3);
    /// assert_eq!(wg.count(), 3);
    /// ```
    pub fn count(&self) -> usize {
        self.lock().count
    }

    /// Waits until the counter is zero. Cancel-safe.
    ///
    /// ```
    /// let rt = motet::runtime::Runtime::new().unwrap();
    /// let wg = motet::sync::WaitGroup::new();
    /// rt.block_on(async {
    ///     for _ in 0..3 {
    ///         wg.add(1);
    ///         let wg = wg.clone();
    ///         motet::task::spawn(async move { wg.done() });
    ///     }
    ///     wg.wait().await;
    /// });
    /// ```
    pub fn wait(&self) -> WaitGroupWait<'_> {
        WaitGroupWait {
            wg: self,
            state: None,
        }
    }

    /// Waits until the counter is zero from outside async code: suspends a
    /// green thread, parks an OS thread.
    ///
    /// # Panics
    ///
    /// On an event-loop thread; see [`wait`](crate::wait::wait).
    ///
    /// ```
    /// let wg = motet::sync::WaitGroup::new();
    /// wg.add(1);
    /// let w2 = wg.clone();
    /// std::thread::spawn(move || w2.done());
    /// wg.wait_blocking();
    /// ```
    #[track_caller]
    // Inlined: a green thread suspends in the caller's frame (`wait`).
    #[inline(always)]
    pub fn wait_blocking(&self) {
        crate::wait::wait(self.wait())
    }
}

impl Default for WaitGroup {
    fn default() -> WaitGroup {
        WaitGroup::new()
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &self.count())
            .finish()
    }
}

/// The future of [`WaitGroup::wait`].
#[must_use = "futures do nothing unless polled"]
pub struct WaitGroupWait<'a> {
    wg: &'a WaitGroup,
    /// (generation seen at the first poll, our waiter id once registered)
    state: Option<(u64, Option<u64>)>,
}

impl Future for WaitGroupWait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if crate::coop::poll_proceed(cx).is_pending() {
            return Poll::Pending;
        }
        let mut st = this.wg.lock();
        let (gen, id) = *this.state.get_or_insert((st.generation, None));
        if st.count == 0 || st.generation != gen {
            if let Some(id) = id {
                st.waiters.retain(|(i, _)| *i != id);
            }
            this.state = Some((gen, None));
            return Poll::Ready(());
        }
        match id {
            Some(id) => {
                if let Some((_, w)) = st.waiters.iter_mut().find(|(i, _)| *i == id) {
                    if !w.will_wake(cx.waker()) {
                        *w = cx.waker().clone();
                    }
                }
            }
            None => {
                st.next_id += 1;
                let id = st.next_id;
                st.waiters.push((id, cx.waker().clone()));
                this.state = Some((gen, Some(id)));
            }
        }
        Poll::Pending
    }
}

impl Drop for WaitGroupWait<'_> {
    fn drop(&mut self) {
        if let Some((_, Some(id))) = self.state {
            self.wg.lock().waiters.retain(|(i, _)| *i != id);
        }
    }
}

impl fmt::Debug for WaitGroupWait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WaitGroup::Wait")
    }
}
