//! A counting semaphore with a FIFO queue: the core that [`Mutex`],
//! [`RwLock`] and [`OnceCell`] are built on.
//!
//! [`Mutex`]: super::Mutex
//! [`RwLock`]: super::RwLock
//! [`OnceCell`]: super::OnceCell
//!
//! # Design
//!
//! One lock (`crate::loom::sync::Mutex`, so the loom models below run this
//! very code) over [`State`]: the free permits, a FIFO queue of waiters
//! (id, how many permits each needs, its waker), the ids of waiters that
//! were *granted* their permits but have not yet collected them, and a
//! closed flag. An acquire is the future [`Acquire`] (or [`AcquireOwned`]);
//! its blocking form is [`wait`](crate::wait::wait) over the same future.
//!
//! Permits move in exactly one direction at a time:
//!
//! - *acquire* takes them from `permits` at once when nobody is queued
//!   and enough are free; otherwise it queues;
//! - *release* (a dropped [`Permit`], [`Semaphore::add_permits`]) adds
//!   them to `permits` and then *grants*: while the head of the queue needs
//!   no more than what is free, its permits are subtracted, it leaves the
//!   queue, its id goes to `granted`, and its waker is collected (woken
//!   after the lock is released);
//! - a granted future's next poll finds its id in `granted` and returns
//!   the [`Permit`].
//!
//! # Fairness: strict FIFO
//!
//! Grants go to the head of the queue only, and an acquire never jumps a
//! non-empty queue (not even [`try_acquire`](Semaphore::try_acquire)). So a
//! large request at the head is never starved by a stream of small ones:
//! the small ones queue behind it until enough permits have come back.
//! The price is that free permits may sit unused while the head waits for
//! more (a request for 5 with 4 free blocks a request for 1 behind it).
//! We prefer the guarantee: [`RwLock`](super::RwLock)'s writer is exactly
//! such a large request, and this rule is what keeps readers from starving
//! it. The rejected alternative, granting any waiter that fits ("first
//! fit"), has more throughput under mixed sizes and starves large requests.
//!
//! # Cancellation
//!
//! A dropped acquire future never leaks permits. Dropped while queued, it
//! leaves the queue (and, if it was the head, the new head is granted if
//! it now fits). Dropped after being granted but before collecting its
//! permits, it releases them, and they go to the next waiters as any
//! release does. So wrapping an acquire in [`time::timeout`] or a select is
//! safe.
//!
//! [`time::timeout`]: crate::time::timeout
//!
//! # Invariants (with the lock held)
//!
//! 1. The head of the queue needs more than `permits` (otherwise it would
//!    have been granted): checked by `debug_check` in debug builds.
//! 2. Every permit is in exactly one place: `permits`, a granted id's
//!    future, or a live [`Permit`]. The loom models count them.
//! 3. When closed, the queue is empty (close empties it and wakes all).

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use crate::loom::sync::{Mutex, MutexGuard};

/// A counting semaphore, fair (FIFO), usable from async tasks (`.await`),
/// green threads and OS threads (the `_blocking` forms).
///
/// ```
/// use motet::sync::Semaphore;
/// let rt = motet::runtime::Runtime::new().unwrap();
/// let sem = std::sync::Arc::new(Semaphore::new(2));
/// rt.block_on(async {
///     let a = sem.acquire().await.unwrap();
///     let b = sem.acquire().await.unwrap();
///     assert_eq!(sem.available_permits(), 0);
///     assert!(sem.try_acquire().is_err());
///     drop(a);
///     assert_eq!(sem.available_permits(), 1);
///     drop(b);
/// });
/// ```
pub struct Semaphore {
    state: Mutex<State>,
}

/// What the semaphore's lock protects; every field is touched only with
/// the lock held.
struct State {
    /// Free permits.
    permits: usize,
    /// [`Semaphore::close`] was called.
    closed: bool,
    /// Waiting acquires, oldest first.
    queue: VecDeque<Waiter>,
    /// Acquires granted their permits (already subtracted), not yet
    /// collected by their futures.
    granted: Vec<u64>,
    next_id: u64,
}

struct Waiter {
    id: u64,
    need: usize,
    waker: Waker,
}

/// Where one acquire future stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Not polled yet.
    Idle,
    /// Queued (or granted) under this id.
    Queued(u64),
    /// Returned its output; nothing to clean up.
    Done,
}

/// Wakers collected under the lock, woken after it is released.
type Wakeups = Vec<Waker>;

fn wake_all(wakeups: Wakeups) {
    for w in wakeups {
        w.wake();
    }
}

impl State {
    /// Grants the head of the queue for as long as it fits.
    fn grant(&mut self, wake: &mut Wakeups) {
        while let Some(head) = self.queue.front() {
            if head.need > self.permits {
                break;
            }
            let head = self.queue.pop_front().expect("front exists");
            self.permits -= head.need;
            self.granted.push(head.id);
            wake.push(head.waker);
        }
        self.debug_check();
    }

    fn release(&mut self, n: usize, wake: &mut Wakeups) {
        self.permits = self
            .permits
            .checked_add(n)
            .expect("motet::sync::Semaphore: permit count overflow");
        self.grant(wake);
    }

    #[cfg(debug_assertions)]
    fn debug_check(&self) {
        if let Some(head) = self.queue.front() {
            debug_assert!(
                head.need > self.permits,
                "motet::sync::Semaphore invariant: the head waiter fits but was not granted"
            );
        }
        debug_assert!(
            !self.closed || self.queue.is_empty(),
            "motet::sync::Semaphore invariant: waiters queued on a closed semaphore"
        );
    }

    #[cfg(not(debug_assertions))]
    fn debug_check(&self) {}
}

impl Semaphore {
    /// A semaphore with `permits` free permits.
    ///
    /// ```
    /// let sem = motet::sync::Semaphore::new(3);
    /// assert_eq!(sem.available_permits(), 3);
    /// ```
    pub fn new(permits: usize) -> Semaphore {
        Semaphore {
            state: Mutex::new(State {
                permits,
                closed: false,
                queue: VecDeque::new(),
                granted: Vec::new(),
                next_id: 0,
            }),
        }
    }

    /// A semaphore with `permits` free permits, in a `const` context (for
    /// statics).
    ///
    /// ```
    /// static LIMIT: motet::sync::Semaphore = motet::sync::Semaphore::const_new(8);
    /// assert_eq!(LIMIT.available_permits(), 8);
    /// ```
    #[cfg(not(loom))]
    pub const fn const_new(permits: usize) -> Semaphore {
        Semaphore {
            state: Mutex::new(State {
                permits,
                closed: false,
                queue: VecDeque::new(),
                granted: Vec::new(),
                next_id: 0,
            }),
        }
    }

    /// Locks the state. No operation panics halfway through a change, so
    /// a poisoned lock (a panic elsewhere while it was held) still guards
    /// consistent state, and poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for one permit. The future is fair (FIFO) and cancel-safe:
    /// dropping it never loses a permit.
    ///
    /// # Errors
    ///
    /// [`AcquireError`] if the semaphore is (or gets) closed first.
    ///
    /// ```
    /// let rt = motet::runtime::Runtime::new().unwrap();
    /// let sem = motet::sync::Semaphore::new(1);
    /// rt.block_on(async {
    ///     let permit = sem.acquire().await.unwrap();
    ///     assert_eq!(permit.num_permits(), 1);
    /// });
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn acquire(&self) -> Acquire<'_> {
        self.acquire_many(1)
    }

    /// Waits for `n` permits at once (all or nothing; while it waits at the
    /// head of the queue, later acquires wait behind it).
    ///
    /// A request for more permits than will ever be free waits forever (or
    /// until [`close`](Self::close)).
    ///
    /// # Errors
    ///
    /// [`AcquireError`] if the semaphore is (or gets) closed first.
    ///
    /// ```
    /// let rt = motet::runtime::Runtime::new().unwrap();
    /// let sem = motet::sync::Semaphore::new(5);
    /// rt.block_on(async {
    ///     let three = sem.acquire_many(3).await.unwrap();
    ///     assert_eq!(sem.available_permits(), 2);
    ///     drop(three);
    /// });
    /// ```
    pub fn acquire_many(&self, n: usize) -> Acquire<'_> {
        Acquire {
            sem: self,
            need: n,
            stage: Stage::Idle,
        }
    }

    /// Waits for one permit from outside async code: suspends a green
    /// thread, parks an OS thread.
    ///
    /// # Errors
    ///
    /// [`AcquireError`] if the semaphore is (or gets) closed first.
    ///
    /// # Panics
    ///
    /// On an event-loop thread; see [`wait`](crate::wait::wait).
    ///
    /// ```
    /// let sem = motet::sync::Semaphore::new(1);
    /// let p = sem.acquire_blocking().unwrap();
    /// assert_eq!(sem.available_permits(), 0);
    /// drop(p);
    /// ```
    #[track_caller]
    // Inlined: a green thread suspends in the caller's frame (`wait`).
    #[inline(always)]
    pub fn acquire_blocking(&self) -> Result<Permit<'_>, AcquireError> {
        crate::wait::wait(self.acquire())
    }

    /// [`acquire_many`](Self::acquire_many) from outside async code.
    ///
    /// # Errors
    ///
    /// [`AcquireError`] if the semaphore is (or gets) closed first.
    ///
    /// # Panics
    ///
    /// On an event-loop thread; see [`wait`](crate::wait::wait).
    ///
    /// ```
    /// let sem = motet::sync::Semaphore::new(4);
    /// let p = sem.acquire_many_blocking(4).unwrap();
    /// assert_eq!(p.num_permits(), 4);
    /// ```
    #[track_caller]
    // Inlined: a green thread suspends in the caller's frame (`wait`).
    #[inline(always)]
    pub fn acquire_many_blocking(&self, n: usize) -> Result<Permit<'_>, AcquireError> {
        crate::wait::wait(self.acquire_many(n))
    }

    /// Takes one permit if one is free and nobody is queued.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::NoPermits`] when it would have to wait (also
    /// when permits are free but others are queued: FIFO),
    /// [`TryAcquireError::Closed`] when closed.
    ///
    /// ```
    /// use motet::sync::{Semaphore, TryAcquireError};
    /// let sem = Semaphore::new(1);
    /// let p = sem.try_acquire().unwrap();
    /// assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
    /// ```
    pub fn try_acquire(&self) -> Result<Permit<'_>, TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if they are free and nobody is queued.
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Self::try_acquire).
    ///
    /// ```
    /// let sem = motet::sync::Semaphore::new(3);
    /// assert!(sem.try_acquire_many(4).is_err());
    /// assert!(sem.try_acquire_many(3).is_ok());
    /// ```
    pub fn try_acquire_many(&self, n: usize) -> Result<Permit<'_>, TryAcquireError> {
        self.try_take(n)?;
        Ok(Permit { sem: self, n })
    }

    fn try_take(&self, n: usize) -> Result<(), TryAcquireError> {
        let mut st = self.lock();
        if st.closed {
            return Err(TryAcquireError::Closed);
        }
        if st.queue.is_empty() && st.permits >= n {
            st.permits -= n;
            Ok(())
        } else {
            Err(TryAcquireError::NoPermits)
        }
    }

    /// [`acquire`](Self::acquire) for a shared semaphore, with a permit
    /// that owns a reference to it (`'static`: it can move into a task).
    ///
    /// # Errors
    ///
    /// [`AcquireError`] if the semaphore is (or gets) closed first.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let rt = motet::runtime::Runtime::new().unwrap();
    /// let sem = Arc::new(motet::sync::Semaphore::new(1));
    /// rt.block_on(async {
    ///     let permit = sem.clone().acquire_owned().await.unwrap();
    ///     motet::task::spawn(async move { drop(permit) }).await.unwrap();
    /// });
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn acquire_owned(self: Arc<Self>) -> AcquireOwned {
        self.acquire_many_owned(1)
    }

    /// [`acquire_many`](Self::acquire_many) with an owned permit.
    ///
    /// # Errors
    ///
    /// [`AcquireError`] if the semaphore is (or gets) closed first.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(motet::sync::Semaphore::new(2));
    /// let p = motet::wait(sem.clone().acquire_many_owned(2)).unwrap();
    /// assert_eq!(p.num_permits(), 2);
    /// ```
    pub fn acquire_many_owned(self: Arc<Self>, n: usize) -> AcquireOwned {
        AcquireOwned {
            sem: self,
            need: n,
            stage: Stage::Idle,
        }
    }

    /// [`try_acquire`](Self::try_acquire) with an owned permit.
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Self::try_acquire).
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(motet::sync::Semaphore::new(1));
    /// let p = sem.clone().try_acquire_owned().unwrap();
    /// assert!(sem.clone().try_acquire_owned().is_err());
    /// drop(p);
    /// ```
    pub fn try_acquire_owned(self: Arc<Self>) -> Result<OwnedPermit, TryAcquireError> {
        self.try_take(1)?;
        Ok(OwnedPermit { sem: self, n: 1 })
    }

    /// Adds `n` permits (they go to queued waiters first, in order).
    ///
    /// # Panics
    ///
    /// If the count would overflow `usize`.
    ///
    /// ```
    /// let sem = motet::sync::Semaphore::new(0);
    /// sem.add_permits(2);
    /// assert_eq!(sem.available_permits(), 2);
    /// ```
    pub fn add_permits(&self, n: usize) {
        let mut wake = Wakeups::new();
        self.lock().release(n, &mut wake);
        wake_all(wake);
    }

    /// How many permits are free now (granted-but-uncollected permits are
    /// not free).
    ///
    /// ```
    /// let sem = motet::sync::Semaphore::new(2);
    /// let _p = sem.try_acquire().unwrap();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.lock().permits
    }

    /// Closes the semaphore: every queued acquire, and every later one,
    /// fails with [`AcquireError`]. Permits already held stay valid and
    /// still return to the count when dropped. An acquire that had been
    /// granted before the close still succeeds.
    ///
    /// ```
    /// use motet::sync::{Semaphore, TryAcquireError};
    /// let sem = Semaphore::new(1);
    /// sem.close();
    /// assert!(sem.is_closed());
    /// assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::Closed);
    /// assert!(motet::wait(sem.acquire()).is_err());
    /// ```
    pub fn close(&self) {
        let mut st = self.lock();
        st.closed = true;
        let wake: Wakeups = st.queue.drain(..).map(|w| w.waker).collect();
        drop(st);
        wake_all(wake);
    }

    /// Whether [`close`](Self::close) was called.
    ///
    /// ```
    /// let sem = motet::sync::Semaphore::new(1);
    /// assert!(!sem.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// The one poll of every acquire future.
    fn poll_acquire(
        &self,
        need: usize,
        stage: &mut Stage,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), AcquireError>> {
        if *stage == Stage::Done {
            panic!("motet::sync::Semaphore: acquire future polled after completion");
        }
        // The task's budget first: if it is spent we return Pending (the
        // task was woken) and keep whatever grant we may have.
        if crate::coop::poll_proceed(cx).is_pending() {
            return Poll::Pending;
        }
        let mut st = self.lock();
        match *stage {
            Stage::Idle => {
                if st.closed {
                    *stage = Stage::Done;
                    return Poll::Ready(Err(AcquireError(())));
                }
                if st.queue.is_empty() && st.permits >= need {
                    st.permits -= need;
                    *stage = Stage::Done;
                    return Poll::Ready(Ok(()));
                }
                st.next_id += 1;
                let id = st.next_id;
                st.queue.push_back(Waiter {
                    id,
                    need,
                    waker: cx.waker().clone(),
                });
                *stage = Stage::Queued(id);
                Poll::Pending
            }
            Stage::Queued(id) => {
                if let Some(pos) = st.granted.iter().position(|&g| g == id) {
                    st.granted.swap_remove(pos);
                    *stage = Stage::Done;
                    return Poll::Ready(Ok(()));
                }
                if let Some(w) = st.queue.iter_mut().find(|w| w.id == id) {
                    if !w.waker.will_wake(cx.waker()) {
                        w.waker = cx.waker().clone();
                    }
                    return Poll::Pending;
                }
                // Neither queued nor granted: close emptied the queue.
                debug_assert!(st.closed);
                *stage = Stage::Done;
                Poll::Ready(Err(AcquireError(())))
            }
            Stage::Done => unreachable!(),
        }
    }

    /// A dropped acquire future: leave the queue, or give back a grant.
    fn cancel(&self, need: usize, stage: Stage) {
        let Stage::Queued(id) = stage else { return };
        let mut wake = Wakeups::new();
        let mut st = self.lock();
        if let Some(pos) = st.queue.iter().position(|w| w.id == id) {
            st.queue.remove(pos);
            if pos == 0 {
                // A smaller request may now be at the head and fit.
                st.grant(&mut wake);
            }
        } else if let Some(pos) = st.granted.iter().position(|&g| g == id) {
            st.granted.swap_remove(pos);
            st.release(need, &mut wake);
        }
        drop(st);
        wake_all(wake);
    }

    fn release(&self, n: usize) {
        if n > 0 {
            self.add_permits(n);
        }
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.lock();
        f.debug_struct("Semaphore")
            .field("permits", &st.permits)
            .field("waiters", &st.queue.len())
            .field("closed", &st.closed)
            .finish()
    }
}

/// The future of [`Semaphore::acquire`] and [`Semaphore::acquire_many`].
/// Dropping it before it completes never loses permits.
#[must_use = "futures do nothing unless polled"]
pub struct Acquire<'a> {
    sem: &'a Semaphore,
    need: usize,
    stage: Stage,
}

impl<'a> Future for Acquire<'a> {
    type Output = Result<Permit<'a>, AcquireError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let sem = this.sem;
        let need = this.need;
        sem.poll_acquire(need, &mut this.stage, cx)
            .map(|r| r.map(|()| Permit { sem, n: need }))
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        self.sem.cancel(self.need, self.stage);
    }
}

impl fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire").field("need", &self.need).finish()
    }
}

/// The future of [`Semaphore::acquire_owned`]; cancel-safe like
/// [`Acquire`].
#[must_use = "futures do nothing unless polled"]
pub struct AcquireOwned {
    sem: Arc<Semaphore>,
    need: usize,
    stage: Stage,
}

impl Future for AcquireOwned {
    type Output = Result<OwnedPermit, AcquireError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let need = this.need;
        match this.sem.poll_acquire(need, &mut this.stage, cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(r) => Poll::Ready(r.map(|()| OwnedPermit {
                sem: this.sem.clone(),
                n: need,
            })),
        }
    }
}

impl Drop for AcquireOwned {
    fn drop(&mut self) {
        self.sem.cancel(self.need, self.stage);
    }
}

impl fmt::Debug for AcquireOwned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquireOwned")
            .field("need", &self.need)
            .finish()
    }
}

/// Permits held; dropping it gives them back.
///
/// ```
/// let sem = motet::sync::Semaphore::new(1);
/// {
///     let _p = sem.try_acquire().unwrap();
///     assert_eq!(sem.available_permits(), 0);
/// }
/// assert_eq!(sem.available_permits(), 1);
/// ```
#[must_use = "the permits are released as soon as this is dropped"]
pub struct Permit<'a> {
    sem: &'a Semaphore,
    n: usize,
}

impl Permit<'_> {
    /// How many permits this holds.
    ///
    /// ```
    /// let sem = motet::sync::Semaphore::new(3);
    /// assert_eq!(sem.try_acquire_many(2).unwrap().num_permits(), 2);
    /// ```
    pub fn num_permits(&self) -> usize {
        self.n
    }

    /// Drops the permit *without* giving its permits back (they leave the
    /// semaphore for good).
    ///
    /// ```
    /// let sem = motet::sync::Semaphore::new(2);
    /// sem.try_acquire().unwrap().forget();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn forget(mut self) {
        self.n = 0;
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.sem.release(self.n);
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").field("n", &self.n).finish()
    }
}

/// Permits held, with an owning reference to their semaphore
/// (`'static`); dropping it gives them back.
///
/// ```
/// use std::sync::Arc;
/// let sem = Arc::new(motet::sync::Semaphore::new(1));
/// let p = sem.clone().try_acquire_owned().unwrap();
/// assert_eq!(p.num_permits(), 1);
/// drop(p);
/// assert_eq!(sem.available_permits(), 1);
/// ```
#[must_use = "the permits are released as soon as this is dropped"]
pub struct OwnedPermit {
    sem: Arc<Semaphore>,
    n: usize,
}

impl OwnedPermit {
    /// How many permits this holds.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(motet::sync::Semaphore::new(1));
    /// assert_eq!(sem.try_acquire_owned().unwrap().num_permits(), 1);
    /// ```
    pub fn num_permits(&self) -> usize {
        self.n
    }

    /// The semaphore these permits belong to.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(motet::sync::Semaphore::new(1));
    /// let p = sem.clone().try_acquire_owned().unwrap();
    /// assert!(Arc::ptr_eq(p.semaphore(), &sem));
    /// ```
    pub fn semaphore(&self) -> &Arc<Semaphore> {
        &self.sem
    }

    /// Drops the permit without giving its permits back.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(motet::sync::Semaphore::new(1));
    /// sem.clone().try_acquire_owned().unwrap().forget();
    /// assert_eq!(sem.available_permits(), 0);
    /// ```
    pub fn forget(mut self) {
        self.n = 0;
    }
}

impl Drop for OwnedPermit {
    fn drop(&mut self) {
        self.sem.release(self.n);
    }
}

impl fmt::Debug for OwnedPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPermit").field("n", &self.n).finish()
    }
}

/// The semaphore was closed before the acquire got its permits.
///
/// ```
/// let sem = motet::sync::Semaphore::new(0);
/// sem.close();
/// let err = motet::wait(sem.acquire()).unwrap_err();
/// assert_eq!(err.to_string(), "the semaphore is closed");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcquireError(());

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the semaphore is closed")
    }
}

impl std::error::Error for AcquireError {}

/// Why a `try_acquire` got nothing.
///
/// ```
/// use motet::sync::{Semaphore, TryAcquireError};
/// let sem = Semaphore::new(0);
/// assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryAcquireError {
    /// Not enough free permits, or others are queued ahead.
    NoPermits,
    /// The semaphore is closed.
    Closed,
}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryAcquireError::NoPermits => f.write_str("no permits available"),
            TryAcquireError::Closed => f.write_str("the semaphore is closed"),
        }
    }
}

impl std::error::Error for TryAcquireError {}

#[cfg(all(test, loom))]
mod loom_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn poll<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
        Pin::new(f).poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn large_head_is_not_starved_by_small_requests() {
        let sem = Semaphore::new(2);
        let held = sem.try_acquire_many(2).unwrap();
        let mut big = sem.acquire_many(2);
        assert!(poll(&mut big).is_pending());
        let mut small = sem.acquire();
        assert!(poll(&mut small).is_pending());
        drop(held);
        // The big request is at the head: it gets both, the small waits.
        let big = match poll(&mut big) {
            Poll::Ready(Ok(p)) => p,
            _ => panic!("head not granted"),
        };
        assert!(poll(&mut small).is_pending());
        drop(big);
        assert!(matches!(poll(&mut small), Poll::Ready(Ok(_))));
    }

    #[test]
    fn granted_then_dropped_passes_permits_on() {
        let sem = Semaphore::new(1);
        let held = sem.try_acquire().unwrap();
        let mut a = sem.acquire();
        let mut b = sem.acquire();
        assert!(poll(&mut a).is_pending());
        assert!(poll(&mut b).is_pending());
        drop(held); // grants `a`
        drop(a); // never collected: goes to `b`
        assert!(matches!(poll(&mut b), Poll::Ready(Ok(_))));
        drop(b);
        assert_eq!(sem.available_permits(), 1);
    }

    #[test]
    fn dropped_head_lets_a_smaller_one_through() {
        let sem = Semaphore::new(1);
        let mut big = sem.acquire_many(2);
        let mut small = sem.acquire();
        assert!(poll(&mut big).is_pending());
        assert!(poll(&mut small).is_pending());
        drop(big);
        assert!(matches!(poll(&mut small), Poll::Ready(Ok(_))));
    }

    #[test]
    fn close_fails_waiters() {
        let sem = Semaphore::new(0);
        let mut a = sem.acquire();
        assert!(poll(&mut a).is_pending());
        sem.close();
        assert!(matches!(poll(&mut a), Poll::Ready(Err(AcquireError(())))));
    }
}
