//! The channel's shared state and the operations on it, all run under the
//! channel's one lock. See the essay in `chan/mod.rs` for the protocol;
//! this file is its implementation.
//!
//! Invariants (checked by `debug_check` in debug builds):
//!
//! 1. A *live* interest (a waiting receiver whose signal is unclaimed) and
//!    a value ready to receive (in `buf`, or a live offer) never coexist
//!    while the channel is open: a sender hands its value to a live
//!    interest before it buffers or parks, and a receiver takes what is
//!    ready before it registers an interest. The one exception: a select
//!    waiting both to send and to receive on one channel (it never meets
//!    itself).
//! 2. A live offer exists only while the buffer is full (`buf.len() >=
//!    cap`; for a rendezvous channel, always).
//! 3. Every value is in exactly one place: `buf`, an offer in `sendq`, a
//!    `delivered` slot, a sender's future, or a receiver's hands.

use std::collections::VecDeque;
use std::task::Waker;

use crate::loom::atomic::{AtomicUsize, Ordering};
use crate::loom::sync::Arc;

use super::lock::{Lock, LockGuard};

use super::error::{TryRecvError, TrySendError};

/// The shared claim word of one waiting operation (a future, or a select
/// with all its arms): `UNCLAIMED`, or the index of the arm that completed.
///
/// Claims happen only under the lock of the channel the claimed entry is
/// on, and only once: the CAS from `UNCLAIMED` is the whole protocol that
/// keeps a select from completing two arms.
#[derive(Debug)]
pub(crate) struct Signal {
    state: AtomicUsize,
}

const UNCLAIMED: usize = usize::MAX;

impl Signal {
    pub(crate) fn new() -> Arc<Signal> {
        Arc::new(Signal {
            state: AtomicUsize::new(UNCLAIMED),
        })
    }

    /// Claims the operation for `arm`; false if someone else already did.
    fn claim(&self, arm: usize) -> bool {
        self.state
            .compare_exchange(UNCLAIMED, arm, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    fn is_claimed(&self) -> bool {
        self.state.load(Ordering::Acquire) != UNCLAIMED
    }

    /// Makes the signal claimable again. Only its owner calls this, after
    /// withdrawing every entry that points at it.
    pub(crate) fn reset(&self) {
        self.state.store(UNCLAIMED, Ordering::Release);
    }
}

/// Who waits: a plain future (always claimable: it has one arm) or an arm
/// of a select (claimable while its shared signal is).
struct Waiter {
    id: u64,
    signal: Option<(Arc<Signal>, usize)>,
    waker: Waker,
}

impl Waiter {
    fn claim(&self) -> bool {
        match &self.signal {
            None => true,
            Some((s, arm)) => s.claim(*arm),
        }
    }

    fn is_stale(&self) -> bool {
        matches!(&self.signal, Some((s, _)) if s.is_claimed())
    }

    /// Whether this entry belongs to the select whose signal is `me`.
    fn is_mine(&self, me: &Arc<Signal>) -> bool {
        matches!(&self.signal, Some((s, _)) if Arc::ptr_eq(s, me))
    }
}

/// A parked sender: its value waits here until a receiver takes it.
struct Offer<T> {
    waiter: Waiter,
    value: T,
}

/// Wakers collected under the lock, woken after it is released.
#[derive(Default)]
pub(crate) struct Wakeups {
    one: Option<Waker>,
    more: Vec<Waker>,
}

impl Wakeups {
    #[inline]
    fn push(&mut self, w: Waker) {
        match self.one {
            None => self.one = Some(w),
            Some(_) => self.more.push(w),
        }
    }

    /// Wakes everything collected. Call with no channel lock held.
    #[inline(always)]
    pub(crate) fn wake(&mut self) {
        // `more` fills only after `one`: the common case is one branch.
        if let Some(w) = self.one.take() {
            w.wake();
            if !self.more.is_empty() {
                self.wake_more();
            }
        }
    }

    #[cold]
    fn wake_more(&mut self) {
        for w in self.more.drain(..) {
            w.wake();
        }
    }
}

/// One channel: a lock over [`State`].
pub(crate) struct Chan<T> {
    state: Lock<State<T>>,
}

impl<T> Chan<T> {
    pub(crate) fn new(cap: Option<usize>) -> Arc<Chan<T>> {
        Arc::new(Chan {
            state: Lock::new(State {
                buf: VecDeque::new(),
                cap: cap.unwrap_or(usize::MAX),
                bounded: cap.is_some(),
                sendq: VecDeque::new(),
                recvq: VecDeque::new(),
                delivered: Vec::new(),
                closed: false,
                senders: 1,
                receivers: 1,
                next_id: 0,
            }),
        })
    }

    /// Locks the state. A panic while locked leaves the state consistent
    /// (no operation panics halfway), so the lock does not poison.
    #[inline]
    pub(crate) fn lock(&self) -> LockGuard<'_, State<T>> {
        self.state.lock()
    }
}

/// What the lock protects. Every field is touched only with the lock held.
pub(crate) struct State<T> {
    /// Buffered values, oldest first. May exceed `cap` by values put back
    /// by cancelled receivers.
    buf: VecDeque<T>,
    /// Capacity; `usize::MAX` when unbounded, 0 for rendezvous.
    cap: usize,
    bounded: bool,
    /// Parked senders with their values, oldest first (may hold stale
    /// offers of selects claimed elsewhere; their owners remove them).
    sendq: VecDeque<Offer<T>>,
    /// Waiting receivers, oldest first (stale ones are dropped by whoever
    /// meets them).
    recvq: VecDeque<Waiter>,
    /// Values handed to claimed receivers, not yet collected.
    delivered: Vec<(u64, T)>,
    /// `close` was called, or every sender is gone.
    closed: bool,
    senders: usize,
    receivers: usize,
    next_id: u64,
}

impl<T> State<T> {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Whether a send must fail: closed, or nobody can ever receive.
    #[inline]
    pub(crate) fn send_closed(&self) -> bool {
        self.closed || self.receivers == 0
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn capacity(&self) -> Option<usize> {
        self.bounded.then_some(self.cap)
    }

    pub(crate) fn add_sender(&mut self) {
        self.senders += 1;
    }

    pub(crate) fn add_receiver(&mut self) {
        self.receivers += 1;
    }

    /// The last sender gone closes the channel.
    pub(crate) fn drop_sender(&mut self, wake: &mut Wakeups) {
        self.senders -= 1;
        if self.senders == 0 {
            self.close(wake);
        }
    }

    /// The last receiver gone fails every parked send.
    pub(crate) fn drop_receiver(&mut self, wake: &mut Wakeups) {
        self.receivers -= 1;
        if self.receivers == 0 {
            for o in &self.sendq {
                wake.push(o.waiter.waker.clone());
            }
        }
    }

    /// Go's close: later sends fail, receivers drain the buffer and then
    /// see closed, parked senders are woken to take their values back.
    /// Closing twice does nothing more.
    pub(crate) fn close(&mut self, wake: &mut Wakeups) {
        if self.closed {
            return;
        }
        self.closed = true;
        for w in &self.recvq {
            wake.push(w.waker.clone());
        }
        for o in &self.sendq {
            wake.push(o.waiter.waker.clone());
        }
    }

    /// Sends without waiting: hand to the oldest live waiting receiver, or
    /// buffer if there is room and no live offer is ahead.
    #[inline]
    pub(crate) fn try_send(&mut self, value: T, wake: &mut Wakeups) -> Result<(), TrySendError<T>> {
        if self.send_closed() {
            return Err(TrySendError::Closed(value));
        }
        // Fast path: nobody waits on either side, the buffer has room.
        if self.recvq.is_empty() && self.sendq.is_empty() && self.buf.len() < self.cap {
            self.buf.push_back(value);
            return Ok(());
        }
        self.try_send_slow(value, wake)
    }

    #[inline(never)]
    fn try_send_slow(&mut self, value: T, wake: &mut Wakeups) -> Result<(), TrySendError<T>> {
        while let Some(w) = self.recvq.pop_front() {
            if w.claim() {
                self.delivered.push((w.id, value));
                wake.push(w.waker);
                return Ok(());
            }
            // Stale: a select claimed on another arm. Interests hold no
            // value, so anyone may drop them.
        }
        if self.buf.len() < self.cap && !self.has_live_offer() {
            self.buf.push_back(value);
            return Ok(());
        }
        Err(TrySendError::Full(value))
    }

    /// Whether a select arm sending here could complete now, counting
    /// no entry of that select itself (`me`: a select never meets itself,
    /// as in Go).
    pub(crate) fn send_ready(&self, me: &Arc<Signal>) -> bool {
        self.send_closed()
            || self.recvq.iter().any(|w| !w.is_stale() && !w.is_mine(me))
            || (self.buf.len() < self.cap && !self.has_live_offer())
    }

    fn has_live_offer(&self) -> bool {
        self.sendq.iter().any(|o| !o.waiter.is_stale())
    }

    /// Receives without waiting: the buffer's oldest value (refilling the
    /// buffer from parked senders), else the oldest live offer.
    #[inline]
    pub(crate) fn try_recv(&mut self, wake: &mut Wakeups) -> Result<T, TryRecvError> {
        if let Some(v) = self.buf.pop_front() {
            // Refill from parked senders (none parked: the fast path).
            if !self.closed && !self.sendq.is_empty() {
                self.refill(wake);
            }
            return Ok(v);
        }
        self.try_recv_slow(wake)
    }

    /// Moves parked senders' values into the buffer while it has room.
    #[inline(never)]
    fn refill(&mut self, wake: &mut Wakeups) {
        while self.buf.len() < self.cap {
            match self.take_offer(wake) {
                Some(x) => self.buf.push_back(x),
                None => break,
            }
        }
    }

    /// `try_recv` with an empty buffer: the oldest live offer, if any.
    #[inline(never)]
    fn try_recv_slow(&mut self, wake: &mut Wakeups) -> Result<T, TryRecvError> {
        if !self.closed {
            if let Some(v) = self.take_offer(wake) {
                return Ok(v);
            }
        }
        if self.closed {
            Err(TryRecvError::Closed)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// Whether a select arm receiving here could complete now, counting
    /// no offer of that select itself (`me`).
    pub(crate) fn recv_ready(&self, me: &Arc<Signal>) -> bool {
        self.closed
            || !self.buf.is_empty()
            || self
                .sendq
                .iter()
                .any(|o| !o.waiter.is_stale() && !o.waiter.is_mine(me))
    }

    /// Claims the oldest live offer and takes its value.
    fn take_offer(&mut self, wake: &mut Wakeups) -> Option<T> {
        let pos = self.sendq.iter().position(|o| o.waiter.claim())?;
        let o = self.sendq.remove(pos).expect("position is in range");
        wake.push(o.waiter.waker);
        Some(o.value)
    }

    /// Parks a sender's value. Returns the entry's id.
    pub(crate) fn park_offer(
        &mut self,
        value: T,
        signal: Option<(Arc<Signal>, usize)>,
        waker: Waker,
    ) -> u64 {
        let id = self.id();
        self.sendq.push_back(Offer {
            waiter: Waiter { id, signal, waker },
            value,
        });
        id
    }

    /// Registers a waiting receiver. Returns the entry's id.
    pub(crate) fn park_interest(
        &mut self,
        signal: Option<(Arc<Signal>, usize)>,
        waker: Waker,
    ) -> u64 {
        let id = self.id();
        self.recvq.push_back(Waiter { id, signal, waker });
        id
    }

    /// Takes a parked offer back. `None`: a receiver took its value.
    pub(crate) fn withdraw_offer(&mut self, id: u64) -> Option<T> {
        let pos = self.sendq.iter().position(|o| o.waiter.id == id)?;
        self.sendq.remove(pos).map(|o| o.value)
    }

    /// Whether offer `id` is still parked; if so, its waker is refreshed.
    pub(crate) fn refresh_offer(&mut self, id: u64, waker: &Waker) -> bool {
        match self.sendq.iter_mut().find(|o| o.waiter.id == id) {
            Some(o) => {
                if !o.waiter.waker.will_wake(waker) {
                    o.waiter.waker = waker.clone();
                }
                true
            }
            None => false,
        }
    }

    /// Whether interest `id` is still waiting; if so, its waker is refreshed.
    pub(crate) fn refresh_interest(&mut self, id: u64, waker: &Waker) -> bool {
        match self.recvq.iter_mut().find(|w| w.id == id) {
            Some(w) => {
                if !w.waker.will_wake(waker) {
                    w.waker = waker.clone();
                }
                true
            }
            None => false,
        }
    }

    /// Removes interest `id`, and returns the value handed to it, if any.
    pub(crate) fn withdraw_interest(&mut self, id: u64) -> Option<T> {
        if let Some(pos) = self.recvq.iter().position(|w| w.id == id) {
            self.recvq.remove(pos);
            return None;
        }
        let pos = self.delivered.iter().position(|(i, _)| *i == id)?;
        Some(self.delivered.swap_remove(pos).1)
    }

    /// Puts back a value that a receiver was handed but did not return
    /// (its future was dropped): to the oldest live waiting receiver, else
    /// to the front of the buffer, even past capacity. Order is kept: the
    /// value was older than anything buffered since.
    pub(crate) fn put_back(&mut self, value: T, wake: &mut Wakeups) {
        while let Some(w) = self.recvq.pop_front() {
            if w.claim() {
                self.delivered.push((w.id, value));
                wake.push(w.waker);
                return;
            }
        }
        self.buf.push_front(value);
    }

    /// Checks the invariants in the essay (debug builds only).
    #[cfg(debug_assertions)]
    pub(crate) fn debug_check(&self) {
        if !self.closed {
            let live_interest = self.recvq.iter().any(|w| !w.is_stale());
            debug_assert!(
                !live_interest || self.buf.is_empty(),
                "motet::chan invariant: a live waiting receiver beside a buffered value"
            );
            // A select may wait to send and to receive on one channel; its
            // own offer and interest are the one allowed pair.
            let meet = self.recvq.iter().filter(|w| !w.is_stale()).any(|w| {
                self.sendq.iter().filter(|o| !o.waiter.is_stale()).any(|o| {
                    match (&w.signal, &o.waiter.signal) {
                        (Some((a, _)), Some((b, _))) => !Arc::ptr_eq(a, b),
                        _ => true,
                    }
                })
            });
            debug_assert!(
                !meet,
                "motet::chan invariant: a live waiting receiver beside a live parked sender"
            );
            debug_assert!(
                !self.has_live_offer() || self.buf.len() >= self.cap,
                "motet::chan invariant: a parked sender while the buffer has room"
            );
        }
    }

    #[cfg(not(debug_assertions))]
    pub(crate) fn debug_check(&self) {}
}
