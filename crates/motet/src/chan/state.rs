//! The channel's shared state and the operations on it: the lock-free
//! fast path of queue channels ([`Chan::fast_send`], [`Chan::fast_recv`])
//! and everything else, under the channel's one lock ([`Locked`]). See
//! the essay in `chan/mod.rs` for the protocol; this file is its
//! implementation. A *queue channel* is one with a lock-free buffer (a
//! [`Queue`]): the ring of `bounded(cap)`, `cap >= 2`, or the list of
//! `unbounded`; below, "the queue" is that buffer, whichever it is.
//!
//! Who touches what: `Fast::queue` is shared lock-free (its own protocol,
//! `chan/ring.rs` or `chan/list.rs`); `Fast::busy` is written only under
//! the lock, read by anyone; every field of [`State`] only under the lock.
//!
//! Invariants, at every release of the lock (checked by `debug_check` in
//! debug builds, except where the queue is involved: lock-free operations
//! change it meanwhile):
//!
//! 1. A *live* interest (a waiting receiver whose signal is unclaimed) and
//!    a value ready to receive (in `buf`, `late`, or a live offer) never
//!    coexist while the channel is open: a sender hands its value to a
//!    live interest before it buffers or parks, a receiver takes what is
//!    ready before it registers an interest, and every locked operation
//!    on a queue channel settles first. The one exception: a select
//!    waiting both to send and to receive on one channel (it never meets
//!    itself). A queued value may sit beside a live interest only between
//!    a push and the settle that its pusher then runs (it sees `busy`).
//! 2. A live offer exists only while the buffer is full (`buf.len() >=
//!    cap`; for a rendezvous channel, always; for a ring channel, the ring
//!    full or `late` non-empty, up to a pop whose popper then settles; for
//!    an unbounded channel, never).
//! 3. Every value is in exactly one place: the queue, `buf`, `late`, an
//!    offer in `sendq`, a `delivered` slot, a sender's future, or a
//!    receiver's hands.
//! 4. Queue channels: `busy` is up whenever `sendq`, `recvq`, `buf` or
//!    `late` is non-empty (recomputed as [`Locked`] is dropped, and raised
//!    before a thread parks), so a lock-free operation that finds it down
//!    has nobody to serve and nobody to pass.
//! 5. Queue channels: `buf` holds only values put back by cancelled
//!    receivers (older than the queue's); `late` only values of claimed
//!    offers (younger than the queue's; ring channels only: a list is
//!    never full, so no sender ever parks on an unbounded channel).

use std::collections::VecDeque;
use std::task::Waker;

use std::ops::{Deref, DerefMut};

use crate::loom::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use crate::loom::sync::Arc;

use super::list::List;
use super::lock::{Lock, LockGuard};
use super::queue::Queue;
use super::ring::{Padded, PushError, Ring};

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
    #[inline]
    fn claim(&self, arm: usize) -> bool {
        self.state
            .compare_exchange(UNCLAIMED, arm, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    #[inline]
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
    #[inline]
    fn claim(&self) -> bool {
        match &self.signal {
            None => true,
            Some((s, arm)) => s.claim(*arm),
        }
    }

    #[inline]
    fn is_stale(&self) -> bool {
        matches!(&self.signal, Some((s, _)) if s.is_claimed())
    }

    /// Whether this entry belongs to the select whose signal is `me`.
    #[inline]
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
    pub(crate) fn wake(mut self) {
        // `more` fills only after `one`: the common case is one branch.
        if let Some(w) = self.one.take() {
            w.wake();
            if !self.more.is_empty() {
                self.wake_more();
            }
        }
        // Every channel operation makes one of these and nearly always
        // ends here with nothing left in it, where the compiler's drop of
        // an `Option<Waker>` and a `Vec<Waker>` is a call of some forty
        // instructions wherever it is not inlined: skip it when there is
        // nothing to free (`forget` of an empty, never-allocated `Vec`
        // leaks nothing).
        if self.more.capacity() == 0 {
            std::mem::forget(self);
        }
    }

    #[cold]
    fn wake_more(&mut self) {
        for w in self.more.drain(..) {
            w.wake();
        }
    }
}

/// One channel: the queue (its lock-free buffer, for `bounded(cap)` with
/// `cap >= 2` and for `unbounded`), the `busy` flag, and a lock over
/// [`State`].
pub(crate) struct Chan<T> {
    /// The lock-free side of a queue channel; `None` for rendezvous and
    /// `bounded(1)` channels, whose buffer is `State::buf`.
    fast: Option<Box<Fast<T>>>,
    state: Lock<State<T>>,
}

/// A queue channel's lock-free side. Boxed: its words sit on cache lines of
/// their own (padding), which inline would make every channel, queue or
/// not, five cache lines long; the lab's ring (1,000 `bounded(1)`
/// channels, one hop each per lap) measured 30 to 40% slower per hop that
/// way, from cache misses alone.
struct Fast<T> {
    queue: Queue<T>,
    /// Whether anything waits in `State` (an offer, an interest, a value
    /// in `buf` or `late`), as of the end of the last critical section;
    /// raised early by a thread about to park. Written only under the
    /// lock; read by the lock-free operations.
    busy: Padded<AtomicBool>,
}

impl<T> Fast<T> {
    fn new(queue: Queue<T>) -> Fast<T> {
        Fast {
            queue,
            busy: Padded(AtomicBool::new(false)),
        }
    }
}

impl<T> Chan<T> {
    pub(crate) fn new(cap: Option<usize>) -> Arc<Chan<T>> {
        Arc::new(Chan {
            fast: match cap {
                Some(0 | 1) => None,
                Some(c) => Some(Box::new(Fast::new(Queue::Ring(Ring::new(c))))),
                None => Some(Box::new(Fast::new(Queue::List(List::new())))),
            },
            state: Lock::new(State {
                buf: VecDeque::new(),
                late: VecDeque::new(),
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
    pub(crate) fn lock(&self) -> Locked<'_, T> {
        Locked {
            chan: self,
            st: self.state.lock(),
        }
    }

    /// Whether this is a queue channel (`bounded(cap)` with `cap >= 2`,
    /// or `unbounded`).
    #[inline]
    pub(crate) fn has_queue(&self) -> bool {
        self.fast.is_some()
    }

    /// Whether something waits under the lock (`busy`, as the lock-free
    /// operations read it); false on a channel without a queue.
    #[inline]
    pub(crate) fn is_busy(&self) -> bool {
        self.fast
            .as_deref()
            .is_some_and(|f| f.busy.0.load(Ordering::Relaxed))
    }

    /// The queue of a queue channel.
    #[inline]
    fn queue(&self) -> Option<&Queue<T>> {
        self.fast.as_deref().map(|f| &f.queue)
    }

    /// Sends without waiting: into the queue if nothing waits, else under
    /// the lock.
    #[inline]
    pub(crate) fn try_send(&self, value: T, wake: &mut Wakeups) -> Result<(), TrySendError<T>> {
        match self.fast_send(value) {
            Ok(r) => r,
            Err(value) => self.lock().try_send(value, wake),
        }
    }

    /// Receives without waiting: from the queue if nothing waits, else
    /// under the lock.
    #[inline]
    pub(crate) fn try_recv(&self, wake: &mut Wakeups) -> Result<T, TryRecvError> {
        match self.fast_recv() {
            Some(v) => Ok(v),
            None => self.lock().try_recv(wake),
        }
    }

    /// The lock-free send: `Ok` with the result, or `Err` with the value
    /// when the lock must decide (no queue, something waits, or full).
    #[inline(always)]
    pub(crate) fn fast_send(&self, value: T) -> Result<Result<(), TrySendError<T>>, T> {
        let Some(fast) = self.fast.as_deref() else {
            return Err(value);
        };
        if fast.busy.0.load(Ordering::Relaxed) {
            return Err(value);
        }
        match fast.queue.push(value) {
            Ok(()) => {
                self.after_fast_op(fast);
                Ok(Ok(()))
            }
            Err(PushError::Closed(v)) => Ok(Err(TrySendError::Closed(v))),
            Err(PushError::Full(v)) => Err(v),
        }
    }

    /// The lock-free receive: a value, or `None` when the lock must decide
    /// (no queue, something waits, or empty).
    #[inline(always)]
    pub(crate) fn fast_recv(&self) -> Option<T> {
        let fast = self.fast.as_deref()?;
        if fast.busy.0.load(Ordering::Relaxed) {
            return None;
        }
        let v = fast.queue.pop()?;
        self.after_fast_op(fast);
        Some(v)
    }

    /// The lock-free half of the handshake (the essay in `chan/mod.rs`):
    /// after a push or pop, a full fence, then the flag; if someone waits,
    /// settle under the lock.
    #[inline]
    fn after_fast_op(&self, fast: &Fast<T>) {
        fast_side_fence();
        if fast.busy.0.load(Ordering::SeqCst) {
            self.settle_now();
        }
    }

    #[cold]
    #[inline(never)]
    fn settle_now(&self) {
        let mut w = Wakeups::default();
        self.lock().settle(&mut w);
        w.wake();
    }
}

/// The lock-free side's fence of the handshake. Under loom it is a
/// `SeqCst` fence. In real builds it is folded into the queue's `SeqCst`
/// claiming CAS and the `SeqCst` load of `busy` that follows: `SeqCst`
/// operations have one total order, so either the locked side's `SeqCst`
/// look at the head or tail (after raising `busy`) sees the CAS, or the
/// load sees `busy` raised. (A list pop with `AHEAD` set skips its look
/// at the tail, but then it finds a value, which is all the look is for.)
/// Loom models `SeqCst` accesses only as acquire/release (it would report
/// lost wake-ups that cannot happen), so the models check the fenced form;
/// on x86 the CAS is a full barrier already and the fence would be a
/// second locked instruction per operation (measured: same-thread
/// send+recv 48 ns/msg with it, against crossbeam's 30).
#[inline(always)]
fn fast_side_fence() {
    #[cfg(loom)]
    fence(Ordering::SeqCst);
}

/// The channel's state, locked. On queue channels, dropping it (before the
/// lock is released) sets `busy` to what the state now holds.
pub(crate) struct Locked<'a, T> {
    chan: &'a Chan<T>,
    st: LockGuard<'a, State<T>>,
}

impl<T> Drop for Locked<'_, T> {
    #[inline]
    fn drop(&mut self) {
        if let Some(fast) = self.chan.fast.as_deref() {
            let st = &*self.st;
            let busy = !st.sendq.is_empty()
                || !st.recvq.is_empty()
                || !st.buf.is_empty()
                || !st.late.is_empty();
            if busy != fast.busy.0.load(Ordering::Relaxed) {
                fast.busy.0.store(busy, Ordering::Relaxed);
            }
        }
    }
}

impl<T> Deref for Locked<'_, T> {
    type Target = State<T>;

    #[inline]
    fn deref(&self) -> &State<T> {
        &self.st
    }
}

impl<T> DerefMut for Locked<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut State<T> {
        &mut self.st
    }
}

impl<T> Locked<'_, T> {
    /// The locked half of the handshake, before parking: raise `busy`,
    /// then a full fence; the caller then looks at the queue again. A queue
    /// operation that this look misses sees the flag, and settles.
    #[inline]
    pub(crate) fn raise(&mut self) {
        if let Some(fast) = self.chan.fast.as_deref() {
            fast.busy.0.store(true, Ordering::SeqCst);
            fence(Ordering::SeqCst);
        }
    }

    /// Sends without waiting (see [`State::try_send`]); on a queue channel,
    /// settles first, so the queue's values go to waiting receivers before
    /// this one.
    #[inline]
    pub(crate) fn try_send(&mut self, value: T, wake: &mut Wakeups) -> Result<(), TrySendError<T>> {
        match self.chan.queue() {
            None => self.st.try_send(value, wake),
            Some(queue) => self.st.queue_try_send(queue, value, wake),
        }
    }

    /// Receives without waiting (see [`State::try_recv`]); on a queue
    /// channel the order is: values put back (`buf`), the queue, `late`,
    /// then parked senders.
    #[inline]
    pub(crate) fn try_recv(&mut self, wake: &mut Wakeups) -> Result<T, TryRecvError> {
        match self.chan.queue() {
            None => self.st.try_recv(wake),
            Some(queue) => self.st.queue_try_recv(queue, wake),
        }
    }

    /// For a send future that found no room: raise `busy`, try the queue
    /// once more, else park an offer. `Ok`: sent after all; `Err`: the
    /// parked offer's id.
    pub(crate) fn park_sender(&mut self, value: T, waker: &Waker) -> Result<(), u64> {
        self.raise();
        let value = match self.chan.queue() {
            Some(queue) if self.st.late.is_empty() && !self.st.has_live_offer() => {
                match queue.push(value) {
                    Ok(()) => return Ok(()),
                    Err(PushError::Full(v) | PushError::Closed(v)) => v,
                }
            }
            _ => value,
        };
        Err(self.st.park_offer(value, None, waker.clone()))
    }

    /// For a receive future that found nothing: raise `busy`, try the queue
    /// once more, else register an interest. `Ok`: a value after all;
    /// `Err`: the interest's id.
    pub(crate) fn park_receiver(&mut self, waker: &Waker, wake: &mut Wakeups) -> Result<T, u64> {
        self.raise();
        if let Some(queue) = self.chan.queue() {
            if let Some(v) = queue.pop() {
                self.st.refill_queue(queue, wake);
                return Ok(v);
            }
        }
        Err(self.st.park_interest(None, waker.clone()))
    }

    /// Parks a select's send arm. Call [`raise`](Self::raise), then check
    /// [`send_ready`](Self::send_ready), first.
    pub(crate) fn park_offer(
        &mut self,
        value: T,
        signal: (Arc<Signal>, usize),
        waker: &Waker,
    ) -> u64 {
        self.st.park_offer(value, Some(signal), waker.clone())
    }

    /// Parks a select's receive arm. Call [`raise`](Self::raise), then
    /// check [`recv_ready`](Self::recv_ready), first.
    pub(crate) fn park_interest(&mut self, signal: (Arc<Signal>, usize), waker: &Waker) -> u64 {
        self.st.park_interest(Some(signal), waker.clone())
    }

    /// Whether a select arm sending here could complete now, counting no
    /// entry of that select itself (`me`: a select never meets itself, as
    /// in Go).
    pub(crate) fn send_ready(&self, me: &Arc<Signal>) -> bool {
        let st = &*self.st;
        match self.chan.queue() {
            None => st.send_ready(me),
            Some(queue) => {
                st.send_closed()
                    || st.recvq.iter().any(|w| !w.is_stale() && !w.is_mine(me))
                    || (st.late.is_empty() && !st.has_live_offer() && queue.has_room())
            }
        }
    }

    /// Whether a select arm receiving here could complete now, counting
    /// no offer of that select itself (`me`).
    pub(crate) fn recv_ready(&self, me: &Arc<Signal>) -> bool {
        let st = &*self.st;
        st.recv_ready(me) || !st.late.is_empty() || self.chan.queue().is_some_and(Queue::has_value)
    }

    /// Go's close (see [`State::close`]); the queue takes its close mark.
    pub(crate) fn close(&mut self, wake: &mut Wakeups) {
        self.st.close(wake);
        if let Some(queue) = self.chan.queue() {
            queue.close();
        }
    }

    /// The last sender gone closes the channel.
    pub(crate) fn drop_sender(&mut self, wake: &mut Wakeups) {
        self.st.senders -= 1;
        if self.st.senders == 0 {
            self.close(wake);
        }
    }

    /// The last receiver gone fails every send, parked or to come.
    pub(crate) fn drop_receiver(&mut self, wake: &mut Wakeups) {
        self.st.drop_receiver(wake);
        if self.st.receivers == 0 {
            if let Some(queue) = self.chan.queue() {
                queue.close();
            }
        }
    }

    /// How many values are buffered.
    pub(crate) fn len(&self) -> usize {
        self.st.buf.len() + self.st.late.len() + self.chan.queue().map_or(0, Queue::len)
    }

    /// Settles (see [`State::settle`]); a no-op without a queue.
    fn settle(&mut self, wake: &mut Wakeups) {
        if let Some(queue) = self.chan.queue() {
            self.st.settle(queue, wake);
        }
    }

    /// Checks the invariants at the head of this file (debug builds only).
    pub(crate) fn debug_check(&self) {
        self.st.debug_check(self.chan.has_queue());
    }
}

/// What the lock protects. Every field is touched only with the lock held.
pub(crate) struct State<T> {
    /// Buffered values, oldest first. May exceed `cap` by values put back
    /// by cancelled receivers. On a queue channel it holds only those
    /// put-back values, which are older than anything in the queue.
    buf: VecDeque<T>,
    /// Ring channels only: values taken from parked senders that found
    /// the ring full again (fast pushes raced the refill); younger than
    /// anything in the ring, moved into it as room appears.
    late: VecDeque<T>,
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

    pub(crate) fn capacity(&self) -> Option<usize> {
        self.bounded.then_some(self.cap)
    }

    pub(crate) fn add_sender(&mut self) {
        self.senders += 1;
    }

    pub(crate) fn add_receiver(&mut self) {
        self.receivers += 1;
    }

    /// The last receiver gone fails every parked send.
    fn drop_receiver(&mut self, wake: &mut Wakeups) {
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
    fn close(&mut self, wake: &mut Wakeups) {
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
    fn try_send(&mut self, value: T, wake: &mut Wakeups) -> Result<(), TrySendError<T>> {
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

    /// Hands `value` to the oldest live waiting receiver (Go's direct
    /// handoff), or gives it back if none waits.
    #[inline(always)]
    fn hand_to_receiver(&mut self, value: T, wake: &mut Wakeups) -> Result<(), T> {
        while let Some(w) = self.recvq.pop_front() {
            if w.claim() {
                self.delivered.push((w.id, value));
                wake.push(w.waker);
                return Ok(());
            }
            // Stale: a select claimed on another arm. Interests hold no
            // value, so anyone may drop them.
        }
        Err(value)
    }

    #[inline(never)]
    fn try_send_slow(&mut self, value: T, wake: &mut Wakeups) -> Result<(), TrySendError<T>> {
        let value = match self.hand_to_receiver(value, wake) {
            Ok(()) => return Ok(()),
            Err(v) => v,
        };
        if self.buf.len() < self.cap && !self.has_live_offer() {
            self.buf.push_back(value);
            return Ok(());
        }
        Err(TrySendError::Full(value))
    }

    /// Whether a select arm sending here could complete now, counting
    /// no entry of that select itself (`me`: a select never meets itself,
    /// as in Go).
    fn send_ready(&self, me: &Arc<Signal>) -> bool {
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
    fn try_recv(&mut self, wake: &mut Wakeups) -> Result<T, TryRecvError> {
        if let Some(v) = self.buf.pop_front() {
            // Refill from parked senders (none parked: the fast path).
            if !self.closed && !self.sendq.is_empty() {
                self.refill(wake);
            }
            return Ok(v);
        }
        // Nothing buffered and no sender parked (the common case of a
        // receiver that must wait): answer here, without the call.
        if self.sendq.is_empty() {
            return Err(if self.closed {
                TryRecvError::Closed
            } else {
                TryRecvError::Empty
            });
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
    fn recv_ready(&self, me: &Arc<Signal>) -> bool {
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
    fn park_offer(&mut self, value: T, signal: Option<(Arc<Signal>, usize)>, waker: Waker) -> u64 {
        let id = self.id();
        self.sendq.push_back(Offer {
            waiter: Waiter { id, signal, waker },
            value,
        });
        id
    }

    /// Registers a waiting receiver. Returns the entry's id.
    fn park_interest(&mut self, signal: Option<(Arc<Signal>, usize)>, waker: Waker) -> u64 {
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
        self.take_delivered(id)
    }

    /// The value handed to interest `id`, if one was (the interest is then
    /// gone from `recvq`).
    #[inline]
    pub(crate) fn take_delivered(&mut self, id: u64) -> Option<T> {
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

    /// Queue channels' `try_send`: settle first, so the queue's values go
    /// to waiting receivers before this one; then hand to a waiting
    /// receiver, else push unless senders wait ahead.
    #[inline(never)]
    fn queue_try_send(
        &mut self,
        queue: &Queue<T>,
        value: T,
        wake: &mut Wakeups,
    ) -> Result<(), TrySendError<T>> {
        if self.send_closed() {
            return Err(TrySendError::Closed(value));
        }
        self.settle(queue, wake);
        let value = match self.hand_to_receiver(value, wake) {
            Ok(()) => return Ok(()),
            Err(v) => v,
        };
        if !self.late.is_empty() || self.has_live_offer() {
            return Err(TrySendError::Full(value));
        }
        match queue.push(value) {
            Ok(()) => Ok(()),
            Err(PushError::Full(v)) => Err(TrySendError::Full(v)),
            Err(PushError::Closed(v)) => Err(TrySendError::Closed(v)),
        }
    }

    /// Queue channels' `try_recv`: values put back (`buf`), the queue,
    /// `late`, then parked senders.
    #[inline(never)]
    fn queue_try_recv(&mut self, queue: &Queue<T>, wake: &mut Wakeups) -> Result<T, TryRecvError> {
        self.settle(queue, wake);
        if let Some(v) = self.buf.pop_front() {
            return Ok(v);
        }
        if let Some(v) = queue.pop().or_else(|| self.late.pop_front()) {
            self.refill_queue(queue, wake);
            return Ok(v);
        }
        if !self.closed {
            if let Some(v) = self.take_offer(wake) {
                return Ok(v);
            }
            return Err(TryRecvError::Empty);
        }
        Err(TryRecvError::Closed)
    }

    /// Queue channels: hands the oldest values (put back, then the
    /// queue's, then `late`) to live waiting receivers, in order, then
    /// refills the queue from `late` and parked senders. Run under the lock by every
    /// locked operation and by a lock-free one that saw `busy`.
    fn settle(&mut self, queue: &Queue<T>, wake: &mut Wakeups) {
        loop {
            while !self.recvq.is_empty() {
                let next = match self.buf.pop_front() {
                    Some(v) => Some(v),
                    None => queue.pop().or_else(|| self.late.pop_front()),
                };
                match next {
                    // To the oldest live interest, else back to the front.
                    Some(v) => self.put_back(v, wake),
                    None => break,
                }
            }
            if !self.refill_queue(queue, wake) || self.recvq.is_empty() {
                return;
            }
        }
    }

    /// Queue channels: moves `late` values, then parked senders' values,
    /// into the queue while it has room (a list has no `late` values and
    /// no parked senders). Whether anything moved.
    fn refill_queue(&mut self, queue: &Queue<T>, wake: &mut Wakeups) -> bool {
        if self.send_closed() {
            return false; // parked senders fail; `late` drains as it is
        }
        let mut moved = false;
        while let Some(v) = self.late.pop_front() {
            match queue.push(v) {
                Ok(()) => moved = true,
                Err(PushError::Full(v) | PushError::Closed(v)) => {
                    self.late.push_front(v);
                    return moved;
                }
            }
        }
        while !self.sendq.is_empty() && queue.has_room() {
            let Some(v) = self.take_offer(wake) else {
                break;
            };
            // A fast push may have taken the room since `has_room`: the
            // sender is served anyway (its offer is claimed), so the value
            // waits in `late`, behind the queue.
            match queue.push(v) {
                Ok(()) => moved = true,
                Err(PushError::Full(v) | PushError::Closed(v)) => {
                    self.late.push_back(v);
                    return true;
                }
            }
        }
        moved
    }

    /// Checks the invariants at the head of this file (debug builds only).
    /// On a queue channel the queue itself is not looked at: lock-free
    /// operations change it meanwhile.
    #[cfg(debug_assertions)]
    fn debug_check(&self, queue: bool) {
        if !self.closed {
            let live_interest = self.recvq.iter().any(|w| !w.is_stale());
            debug_assert!(
                !live_interest || (self.buf.is_empty() && self.late.is_empty()),
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
                queue || !self.has_live_offer() || self.buf.len() >= self.cap,
                "motet::chan invariant: a parked sender while the buffer has room"
            );
        }
    }

    #[cfg(not(debug_assertions))]
    fn debug_check(&self, _queue: bool) {}
}
