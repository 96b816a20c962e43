//! `select`: wait on several channel operations, complete exactly one.
//!
//! The engine is [`SelectFut`]; [`Select`] builds one from *arms* that live
//! in the caller's frame ([`RecvArm`], [`SendArm`]), so results keep their
//! types without boxing or `'static` bounds; the macros are sugar over it.
//! The protocol (withdraw, try in random order, park) is in the essay of
//! `chan/mod.rs`.

#[cfg(not(loom))]
use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::loom::sync::Arc;

use super::error::{RecvError, SendError, TryRecvError, TrySendError};
use super::ops::{Receiver, Sender};
use super::state::{Chan, Signal, Wakeups};

/// One operation of a select, type-erased.
pub(crate) trait Arm {
    /// Completes now if it can (a value, or closed). Locks its channel.
    fn try_complete(&mut self, w: &mut Wakeups) -> bool;
    /// Parks on its channel unless it could complete now (then `false`).
    fn park(&mut self, signal: &Arc<Signal>, index: usize, waker: &Waker) -> bool;
    /// Leaves its channel; `true` if it completed while parked.
    fn withdraw(&mut self) -> bool;
}

/// A receive arm of a [`Select`]. After the select, [`take`](Self::take)
/// gives its result if this arm won.
///
/// If it won and its value is never taken, dropping the arm puts the
/// value back into the channel.
///
/// ```
/// use motet::chan::{unbounded, RecvArm, Select};
/// let (tx, rx) = unbounded();
/// tx.send(1).unwrap();
/// let mut arm = RecvArm::new(&rx);
/// let mut sel = Select::new();
/// let i = sel.recv(&mut arm);
/// assert_eq!(sel.select(), i);
/// assert_eq!(arm.take(), Some(Ok(1)));
/// ```
pub struct RecvArm<'c, T> {
    chan: &'c Arc<Chan<T>>,
    entry: Option<u64>,
    out: Option<Result<T, RecvError>>,
}

impl<'c, T> RecvArm<'c, T> {
    /// An arm that receives from `rx`.
    pub fn new(rx: &'c Receiver<T>) -> Self {
        RecvArm {
            chan: &rx.chan,
            entry: None,
            out: None,
        }
    }

    /// The result, if this arm completed (once; later calls give `None`).
    pub fn take(&mut self) -> Option<Result<T, RecvError>> {
        self.out.take()
    }

    /// Whether this arm completed and its result is not yet taken.
    pub fn is_done(&self) -> bool {
        self.out.is_some()
    }
}

impl<T> Arm for RecvArm<'_, T> {
    fn try_complete(&mut self, w: &mut Wakeups) -> bool {
        match self.chan.try_recv(w) {
            Ok(v) => self.out = Some(Ok(v)),
            Err(TryRecvError::Closed) => self.out = Some(Err(RecvError)),
            Err(TryRecvError::Empty) => return false,
        }
        true
    }

    fn park(&mut self, signal: &Arc<Signal>, index: usize, waker: &Waker) -> bool {
        let mut st = self.chan.lock();
        st.raise();
        if st.recv_ready(signal) {
            return false;
        }
        self.entry = Some(st.park_interest((signal.clone(), index), waker));
        true
    }

    fn withdraw(&mut self) -> bool {
        let Some(id) = self.entry.take() else {
            return false;
        };
        match self.chan.lock().withdraw_interest(id) {
            Some(v) => {
                self.out = Some(Ok(v));
                true
            }
            None => false,
        }
    }
}

impl<T> Drop for RecvArm<'_, T> {
    fn drop(&mut self) {
        self.withdraw();
        if let Some(Ok(v)) = self.out.take() {
            let mut w = Wakeups::default();
            self.chan.lock().put_back(v, &mut w);
            w.wake();
        }
    }
}

impl<T> fmt::Debug for RecvArm<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvArm")
            .field("done", &self.out.is_some())
            .finish()
    }
}

/// A send arm of a [`Select`]. After the select, [`take`](Self::take)
/// gives its result if this arm won, and [`into_unsent`](Self::into_unsent)
/// hands back the value if it was not sent.
///
/// ```
/// use motet::chan::{bounded, SendArm, Select};
/// let (tx, rx) = bounded(0);
/// let mut arm = SendArm::new(&tx, 5);
/// let mut sel = Select::new();
/// sel.send(&mut arm);
/// assert_eq!(sel.try_select(), None); // nobody receiving
/// assert_eq!(arm.into_unsent(), Some(5));
/// # drop(rx);
/// ```
pub struct SendArm<'c, T> {
    chan: &'c Arc<Chan<T>>,
    value: Option<T>,
    entry: Option<u64>,
    out: Option<Result<(), SendError<T>>>,
}

impl<'c, T> SendArm<'c, T> {
    /// An arm that sends `value` on `tx`.
    pub fn new(tx: &'c Sender<T>, value: T) -> Self {
        SendArm {
            chan: &tx.chan,
            value: Some(value),
            entry: None,
            out: None,
        }
    }

    /// The result, if this arm completed (once; later calls give `None`).
    pub fn take(&mut self) -> Option<Result<(), SendError<T>>> {
        self.out.take()
    }

    /// Whether this arm completed and its result is not yet taken.
    pub fn is_done(&self) -> bool {
        self.out.is_some()
    }

    /// The value, if it was not sent (also when the send failed on a closed
    /// channel and that result was not taken).
    pub fn into_unsent(mut self) -> Option<T> {
        self.withdraw();
        match self.out.take() {
            Some(Err(SendError(v))) => Some(v),
            _ => self.value.take(),
        }
    }
}

impl<T> Arm for SendArm<'_, T> {
    fn try_complete(&mut self, w: &mut Wakeups) -> bool {
        let Some(v) = self.value.take() else {
            return false;
        };
        match self.chan.try_send(v, w) {
            Ok(()) => self.out = Some(Ok(())),
            Err(TrySendError::Closed(v)) => self.out = Some(Err(SendError(v))),
            Err(TrySendError::Full(v)) => {
                self.value = Some(v);
                return false;
            }
        }
        true
    }

    fn park(&mut self, signal: &Arc<Signal>, index: usize, waker: &Waker) -> bool {
        let mut st = self.chan.lock();
        st.raise();
        if st.send_ready(signal) {
            return false;
        }
        let Some(v) = self.value.take() else {
            return true; // already completed: nothing to park
        };
        self.entry = Some(st.park_offer(v, (signal.clone(), index), waker));
        true
    }

    fn withdraw(&mut self) -> bool {
        let Some(id) = self.entry.take() else {
            return false;
        };
        match self.chan.lock().withdraw_offer(id) {
            Some(v) => {
                self.value = Some(v);
                false
            }
            None => {
                self.out = Some(Ok(()));
                true
            }
        }
    }
}

impl<T> Drop for SendArm<'_, T> {
    fn drop(&mut self) {
        self.withdraw();
    }
}

impl<T> fmt::Debug for SendArm<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendArm")
            .field("done", &self.out.is_some())
            .finish()
    }
}

type ArmRef<'a> = &'a mut (dyn Arm + Send + 'a);

/// Builds a select over arms; then [`select`](Self::select) (blocking),
/// [`select_async`](Self::select_async), [`try_select`](Self::try_select)
/// (Go's `default`), or [`select_timeout`](Self::select_timeout).
///
/// Each returns the index of the arm that completed (indices count from 0
/// in the order arms were added). Exactly one arm completes; when several
/// are ready, each is equally likely to be chosen. Arms that lose take
/// nothing: a receive leaves its value in the channel, a send keeps its
/// value (see [`SendArm::into_unsent`]).
///
/// ```
/// use motet::chan::{unbounded, RecvArm, Select};
/// let (tx1, rx1) = unbounded::<u8>();
/// let (_tx2, rx2) = unbounded::<u8>();
/// tx1.send(1).unwrap();
/// let (mut a, mut b) = (RecvArm::new(&rx1), RecvArm::new(&rx2));
/// let mut sel = Select::new();
/// sel.recv(&mut a);
/// sel.recv(&mut b);
/// assert_eq!(sel.select(), 0);
/// assert_eq!(a.take(), Some(Ok(1)));
/// assert!(!b.is_done());
/// ```
#[derive(Default)]
pub struct Select<'a> {
    arms: Vec<ArmRef<'a>>,
}

impl<'a> Select<'a> {
    /// An empty select (it would wait forever, like Go's `select {}`).
    pub fn new() -> Self {
        Select { arms: Vec::new() }
    }

    /// Adds a receive arm; returns its index.
    pub fn recv<'c: 'a, T: Send + 'a>(&mut self, arm: &'a mut RecvArm<'c, T>) -> usize {
        self.arms.push(arm);
        self.arms.len() - 1
    }

    /// Adds a send arm; returns its index.
    pub fn send<'c: 'a, T: Send + 'a>(&mut self, arm: &'a mut SendArm<'c, T>) -> usize {
        self.arms.push(arm);
        self.arms.len() - 1
    }

    /// Completes an arm that is ready now, chosen at random among the
    /// ready ones; `None` if none is (Go's `default`).
    pub fn try_select(self) -> Option<usize> {
        let mut fut = self.select_async();
        fut.attempt()
    }

    /// Waits until an arm completes (parks an OS thread; see
    /// [`crate::wait::wait`]).
    ///
    /// # Panics
    ///
    /// On an event-loop thread: use [`select_async`](Self::select_async).
    #[inline(always)] // a green thread suspends in the caller's frame (`green`'s docs)
    pub fn select(self) -> usize {
        crate::wait::wait_charged(self.select_async())
    }

    /// Waits at most `timeout`; `None` if no arm completed.
    pub fn select_timeout(self, timeout: Duration) -> Option<usize> {
        self.select_deadline(Instant::now() + timeout)
    }

    /// Waits until `deadline` at the latest; `None` if no arm completed.
    pub fn select_deadline(self, deadline: Instant) -> Option<usize> {
        let mut fut = self.select_async();
        match crate::wait::wait_until(&mut fut, deadline) {
            Some(i) => Some(i),
            None => fut.cancel(),
        }
    }

    /// The select as a future. For a timeout, wrap it in
    /// [`motet::time::timeout`](crate::time::timeout).
    pub fn select_async(self) -> SelectFut<'a> {
        SelectFut {
            arms: self.arms,
            signal: None,
            parked: false,
        }
    }
}

impl fmt::Debug for Select<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Select")
            .field("arms", &self.arms.len())
            .finish()
    }
}

/// The future of [`Select::select_async`]; its output is the index of the
/// arm that completed. Dropped while pending, it leaves every channel; an
/// arm that completed in that instant keeps its result (a received value
/// goes back to its channel when the arm is dropped untaken).
#[must_use = "a SelectFut does nothing unless awaited"]
pub struct SelectFut<'a> {
    arms: Vec<ArmRef<'a>>,
    /// Shared by every parked arm; claimed (once) by whoever completes one.
    signal: Option<Arc<Signal>>,
    parked: bool,
}

impl SelectFut<'_> {
    /// Leaves every channel. Returns the arm that completed meanwhile, if
    /// one did (at most one can).
    pub fn cancel(&mut self) -> Option<usize> {
        if !self.parked {
            return None;
        }
        self.parked = false;
        let mut won = None;
        for (i, arm) in self.arms.iter_mut().enumerate() {
            if arm.withdraw() {
                debug_assert!(won.is_none(), "two select arms completed");
                won = Some(i);
            }
        }
        if let Some(s) = &self.signal {
            s.reset();
        }
        won
    }

    /// Tries every arm once, in random order.
    fn attempt(&mut self) -> Option<usize> {
        let mut w = Wakeups::default();
        let n = self.arms.len();
        let mut order: Vec<usize> = (0..n).collect();
        shuffle(&mut order);
        let won = order
            .into_iter()
            .find(|&i| self.arms[i].try_complete(&mut w));
        w.wake();
        won
    }
}

impl Future for SelectFut<'_> {
    type Output = usize;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        let this = &mut *self;
        // As a send's or receive's first try (`SendFut::poll`): charges the
        // cooperative budget, never once arms are parked.
        if !this.parked {
            ready!(crate::coop::poll_proceed_with(cx, crate::coop::CHANNEL_OP));
        }
        loop {
            // 1. Leave every channel, so nobody can claim us while we look.
            if let Some(i) = this.cancel() {
                return Poll::Ready(i);
            }
            // 2. Whatever is ready now, chosen at random.
            if let Some(i) = this.attempt() {
                return Poll::Ready(i);
            }
            // 3. Park every arm; if one became ready meanwhile, go again.
            let signal = this.signal.get_or_insert_with(Signal::new).clone();
            this.parked = true;
            let all = this
                .arms
                .iter_mut()
                .enumerate()
                .all(|(i, arm)| arm.park(&signal, i, cx.waker()));
            if all {
                return Poll::Pending;
            }
        }
    }
}

impl Drop for SelectFut<'_> {
    fn drop(&mut self) {
        self.cancel();
    }
}

impl fmt::Debug for SelectFut<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelectFut")
            .field("arms", &self.arms.len())
            .field("parked", &self.parked)
            .finish()
    }
}

#[cfg(not(loom))]
thread_local! {
    static RNG: Cell<u64> = const { Cell::new(0) };
}

/// A fast per-thread xorshift generator: uniform enough for choosing arms.
#[cfg(not(loom))]
fn next_random() -> u64 {
    RNG.with(|c| {
        let mut x = c.get();
        if x == 0 {
            // Seed from the thread-local's address and the clock.
            x = (c as *const Cell<u64> as u64)
                ^ std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(0x9E37_79B9_7F4A_7C15)
                | 1;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        c.set(x);
        x
    })
}

/// Fisher-Yates: every order equally likely. (Under loom the order is
/// fixed: a model must replay the same way on every run.)
#[cfg(loom)]
fn shuffle(_: &mut [usize]) {}

/// Fisher-Yates: every order equally likely.
#[cfg(not(loom))]
fn shuffle(v: &mut [usize]) {
    for i in (1..v.len()).rev() {
        let j = (next_random() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}
