//! The public handles ([`Sender`], [`Receiver`]) and the two futures every
//! blocking and async operation is made of ([`SendFut`], [`RecvFut`]).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use crate::loom::sync::Arc;

use super::error::{
    RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError,
};
use super::state::{Chan, Wakeups};

/// How many times a blocking `send`/`recv` on a queue channel (a ring:
/// `bounded(cap)`, `cap >= 2`; or a list: `unbounded`), from a plain OS
/// thread, retries its `try_` form (with [`backoff`] between) before it
/// registers as a waiter: the other side of a busy channel usually acts
/// within a few microseconds, and a waiter costs a lock round trip on
/// both sides plus a futex wake, and raises `busy`, which sends the other
/// side through the lock until the waiter is served. (On the other
/// channels the other side always takes the lock, and a retry contends
/// for it: measured slower.) Green threads and scheduler threads never
/// spin.
const RETRIES: u32 = 8;

/// The pause before retry `round`: growing spins for the first rounds,
/// then a yield (another thread may need this core).
#[inline]
fn backoff(round: u32) {
    if round < 6 {
        crate::wait::spin_pause(round);
    } else {
        std::thread::yield_now();
    }
}

/// Creates a channel holding up to `cap` values. `bounded(0)` is a
/// rendezvous channel with Go's unbuffered semantics: a send completes
/// only when a receiver takes the value.
///
/// ```
/// let (tx, rx) = motet::chan::bounded(2);
/// tx.send(1).unwrap();
/// tx.send(2).unwrap();
/// assert_eq!(tx.try_send(3).unwrap_err().into_inner(), 3);
/// assert_eq!(rx.recv(), Ok(1));
/// ```
pub fn bounded<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    let chan = Chan::new(Some(cap));
    (Sender { chan: chan.clone() }, Receiver { chan })
}

/// Creates a channel whose buffer grows without limit: sends never wait.
///
/// ```
/// let (tx, rx) = motet::chan::unbounded();
/// for i in 0..1000 {
///     tx.send(i).unwrap();
/// }
/// assert_eq!(rx.len(), 1000);
/// ```
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    let chan = Chan::new(None);
    (Sender { chan: chan.clone() }, Receiver { chan })
}

/// The sending side. Clone it for more producers; the channel closes when
/// the last one is dropped (or on [`close`](Self::close)).
///
/// ```
/// let (tx, rx) = motet::chan::unbounded();
/// let tx2 = tx.clone();
/// std::thread::spawn(move || tx2.send("from a thread").unwrap());
/// assert_eq!(rx.recv(), Ok("from a thread"));
/// ```
pub struct Sender<T> {
    pub(crate) chan: Arc<Chan<T>>,
}

/// The receiving side. Clone it for more consumers (each value goes to
/// exactly one); when the last one is dropped, sends fail.
///
/// ```
/// let (tx, rx) = motet::chan::bounded(1);
/// let rx2 = rx.clone();
/// tx.send(5).unwrap();
/// assert_eq!(rx2.recv(), Ok(5));
/// # drop(rx);
/// ```
pub struct Receiver<T> {
    pub(crate) chan: Arc<Chan<T>>,
}

impl<T> Sender<T> {
    /// Sends `value` without waiting.
    ///
    /// ```
    /// use motet::chan::{bounded, TrySendError};
    /// let (tx, rx) = bounded(0);
    /// // Rendezvous: nobody is waiting to receive.
    /// assert_eq!(tx.try_send(1), Err(TrySendError::Full(1)));
    /// # drop(rx);
    /// ```
    #[inline]
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        match self.chan.fast_send(value) {
            Ok(r) => r,
            Err(v) => self.try_send_locked(v),
        }
    }

    /// `try_send` under the channel lock.
    #[inline(always)]
    fn try_send_locked(&self, value: T) -> Result<(), TrySendError<T>> {
        let mut w = Wakeups::default();
        let r = self.chan.lock().try_send(value, &mut w);
        w.wake();
        r
    }

    /// Sends `value`, waiting for room (or, on a rendezvous channel, for a
    /// receiver). From an OS thread this parks the thread; from a green
    /// thread it suspends it (as [`crate::wait::wait`] does).
    ///
    /// # Panics
    ///
    /// On an event-loop thread: use [`send_async`](Self::send_async) there.
    ///
    /// ```
    /// let (tx, rx) = motet::chan::bounded(0);
    /// let t = std::thread::spawn(move || rx.recv().unwrap());
    /// tx.send(3).unwrap();
    /// assert_eq!(t.join().unwrap(), 3);
    /// ```
    #[inline(always)]
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        // The lock-free push of a queue channel first: no waker, no future.
        let value = match self.chan.fast_send(value) {
            Ok(Ok(())) => {
                crate::coop::proceed_blocking(crate::coop::CHANNEL_OP);
                return Ok(());
            }
            Ok(Err(e)) => return Err(SendError(e.into_inner())),
            Err(v) => v,
        };
        match crate::green::current_green() {
            // A green thread goes straight to the future, whose first poll
            // tries under the lock and, if it must, waits in the same
            // critical section; it waits here, in the caller's own frame
            // (see "The cost of a switch" in `green`'s module docs). The
            // future charges the budget itself: the wait adds nothing.
            Some(green) => crate::green::suspend_on_charged(green, self.send_async(value)),
            None => self.send_on_thread(value),
        }
    }

    /// `send` on a plain OS thread, after the lock-free push: under the
    /// lock, then (a queue channel) a few retries, then park.
    #[inline(never)]
    fn send_on_thread(&self, value: T) -> Result<(), SendError<T>> {
        match self.try_send_locked(value) {
            Ok(()) => {
                crate::coop::proceed_blocking(crate::coop::CHANNEL_OP);
                Ok(())
            }
            Err(TrySendError::Closed(v)) => Err(SendError(v)),
            Err(TrySendError::Full(v)) if self.chan.has_queue() => self.send_slow(v),
            Err(TrySendError::Full(v)) => crate::wait::wait(self.send_async(v)),
        }
    }

    /// `send` on a ring channel that found no room: retry a little (plain
    /// OS threads), then wait.
    #[cold]
    #[inline(never)]
    fn send_slow(&self, mut value: T) -> Result<(), SendError<T>> {
        if crate::wait::may_spin() {
            for round in 0..RETRIES {
                backoff(round);
                value = match self.try_send(value) {
                    Ok(()) => return Ok(()),
                    Err(TrySendError::Closed(v)) => return Err(SendError(v)),
                    Err(TrySendError::Full(v)) => v,
                };
            }
        }
        crate::wait::wait_charged(self.send_async(value))
    }

    /// Sends `value`, waiting at most `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (tx, rx) = motet::chan::bounded(1);
    /// tx.send_timeout(1, Duration::from_millis(1)).unwrap();
    /// assert!(tx.send_timeout(2, Duration::from_millis(1)).unwrap_err().is_timeout());
    /// # drop(rx);
    /// ```
    pub fn send_timeout(&self, value: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        self.send_deadline(value, Instant::now() + timeout)
    }

    /// Sends `value`, waiting until `deadline` at the latest.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (tx, _rx) = motet::chan::bounded(0);
    /// let r = tx.send_deadline(1, Instant::now() + Duration::from_millis(1));
    /// assert_eq!(r.unwrap_err().into_inner(), 1);
    /// ```
    pub fn send_deadline(&self, value: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        let value = match self.try_send(value) {
            Ok(()) => {
                crate::coop::proceed_blocking(crate::coop::CHANNEL_OP);
                return Ok(());
            }
            Err(TrySendError::Closed(v)) => return Err(SendTimeoutError::Closed(v)),
            Err(TrySendError::Full(v)) => v,
        };
        let mut fut = self.send_async(value);
        match crate::wait::wait_until(&mut fut, deadline) {
            Some(r) => r.map_err(SendTimeoutError::from),
            None => match fut.cancel() {
                Some(v) => Err(SendTimeoutError::Timeout(v)),
                None => Ok(()), // taken by a receiver at the last moment
            },
        }
    }

    /// A future that sends `value`. Dropping it before it completes takes
    /// the value back out of the channel (it is then dropped); use
    /// [`SendFut::cancel`] to get it back instead.
    ///
    /// ```
    /// # let rt = motet::runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let (tx, rx) = motet::chan::bounded(0);
    /// motet::task::spawn(async move { tx.send_async("hi").await.unwrap() });
    /// assert_eq!(rx.recv_async().await, Ok("hi"));
    /// # });
    /// ```
    pub fn send_async(&self, value: T) -> SendFut<'_, T> {
        SendFut {
            chan: &self.chan,
            value: Some(value),
            entry: None,
        }
    }

    /// Closes the channel (Go's `close`): later sends fail with the value
    /// handed back, senders parked now are woken and fail the same way,
    /// receivers drain what is buffered and then see closed. Closing a
    /// closed channel does nothing (unlike Go, it does not panic).
    ///
    /// ```
    /// let (tx, rx) = motet::chan::unbounded();
    /// tx.send(1).unwrap();
    /// tx.close();
    /// tx.close(); // harmless
    /// assert!(tx.send(2).is_err());
    /// assert_eq!(rx.recv(), Ok(1));
    /// assert!(rx.recv().is_err());
    /// ```
    pub fn close(&self) {
        let mut w = Wakeups::default();
        self.chan.lock().close(&mut w);
        w.wake();
    }

    /// Whether the channel is closed (by [`close`](Self::close) or because
    /// every sender is gone).
    ///
    /// ```
    /// let (tx, _rx) = motet::chan::bounded::<u8>(1);
    /// assert!(!tx.is_closed());
    /// tx.close();
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.lock().is_closed()
    }

    /// How many values are buffered.
    ///
    /// ```
    /// let (tx, _rx) = motet::chan::bounded(4);
    /// tx.send(1).unwrap();
    /// assert_eq!(tx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.lock().len()
    }

    /// Whether nothing is buffered.
    ///
    /// ```
    /// let (tx, _rx) = motet::chan::bounded::<u8>(4);
    /// assert!(tx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The capacity: `Some(cap)` for [`bounded`], `None` for [`unbounded`].
    ///
    /// ```
    /// assert_eq!(motet::chan::bounded::<u8>(3).0.capacity(), Some(3));
    /// assert_eq!(motet::chan::unbounded::<u8>().0.capacity(), None);
    /// ```
    pub fn capacity(&self) -> Option<usize> {
        self.chan.lock().capacity()
    }

    /// Whether both handles belong to the same channel.
    ///
    /// ```
    /// let (tx, _rx) = motet::chan::unbounded::<u8>();
    /// assert!(tx.same_channel(&tx.clone()));
    /// ```
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }
}

impl<T> Receiver<T> {
    /// Receives a value without waiting.
    ///
    /// ```
    /// let (tx, rx) = motet::chan::unbounded();
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    #[inline]
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        match self.chan.fast_recv() {
            Some(v) => Ok(v),
            None => self.try_recv_locked(),
        }
    }

    /// `try_recv` under the channel lock.
    #[inline(always)]
    fn try_recv_locked(&self) -> Result<T, TryRecvError> {
        let mut w = Wakeups::default();
        let r = self.chan.lock().try_recv(&mut w);
        w.wake();
        r
    }

    /// Receives a value, waiting for one. Fails once the channel is closed
    /// and drained.
    ///
    /// # Panics
    ///
    /// On an event-loop thread: use [`recv_async`](Self::recv_async) there.
    ///
    /// ```
    /// let (tx, rx) = motet::chan::bounded(0);
    /// std::thread::spawn(move || tx.send(8).unwrap());
    /// assert_eq!(rx.recv(), Ok(8));
    /// ```
    #[inline(always)]
    pub fn recv(&self) -> Result<T, RecvError> {
        // As in `Sender::send`.
        if let Some(v) = self.chan.fast_recv() {
            crate::coop::proceed_blocking(crate::coop::CHANNEL_OP);
            return Ok(v);
        }
        match crate::green::current_green() {
            Some(green) => crate::green::suspend_on_charged(green, self.recv_async()),
            None => self.recv_on_thread(),
        }
    }

    /// `recv` on a plain OS thread, after the lock-free pop: a queue
    /// channel retries a little, then waits; another tries under the
    /// lock, then parks.
    #[inline(never)]
    fn recv_on_thread(&self) -> Result<T, RecvError> {
        if self.chan.has_queue() {
            return self.recv_slow();
        }
        match self.try_recv_locked() {
            Ok(v) => {
                crate::coop::proceed_blocking(crate::coop::CHANNEL_OP);
                Ok(v)
            }
            Err(TryRecvError::Closed) => Err(RecvError),
            Err(TryRecvError::Empty) => crate::wait::wait(self.recv_async()),
        }
    }

    /// `recv` on a queue channel whose lock-free pop found nothing (or
    /// found `busy` up): retry the pop a little (plain OS threads), then
    /// wait. The retries take no lock: while `busy` is down nothing waits
    /// under it, and once it is up the wait's first poll takes the lock
    /// and does what `try_recv` would. A closed channel is seen there, so
    /// a `recv` on a closed, empty channel spins first (once).
    #[cold]
    #[inline(never)]
    fn recv_slow(&self) -> Result<T, RecvError> {
        if crate::wait::may_spin() {
            for round in 0..RETRIES {
                if self.chan.is_busy() {
                    break;
                }
                backoff(round);
                if let Some(v) = self.chan.fast_recv() {
                    return Ok(v);
                }
            }
        }
        crate::wait::wait_charged(self.recv_async())
    }

    /// Receives a value, waiting at most `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (tx, rx) = motet::chan::unbounded();
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.recv_timeout(Duration::from_millis(1)), Ok(1));
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.recv_deadline(Instant::now() + timeout)
    }

    /// Receives a value, waiting until `deadline` at the latest.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use motet::chan::RecvTimeoutError;
    /// let (_tx, rx) = motet::chan::bounded::<u8>(0);
    /// let r = rx.recv_deadline(Instant::now() + Duration::from_millis(1));
    /// assert_eq!(r, Err(RecvTimeoutError::Timeout));
    /// ```
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        match self.try_recv() {
            Ok(v) => {
                crate::coop::proceed_blocking(crate::coop::CHANNEL_OP);
                return Ok(v);
            }
            Err(TryRecvError::Closed) => return Err(RecvTimeoutError::Closed),
            Err(TryRecvError::Empty) => {}
        }
        let mut fut = self.recv_async();
        match crate::wait::wait_until(&mut fut, deadline) {
            Some(r) => r.map_err(RecvTimeoutError::from),
            None => match fut.cancel() {
                Some(v) => Ok(v), // handed over at the last moment
                None => Err(RecvTimeoutError::Timeout),
            },
        }
    }

    /// A future that receives a value. Dropping it loses nothing: a value
    /// handed to it and not yet returned goes back to the channel.
    ///
    /// ```
    /// # let rt = motet::runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let (tx, rx) = motet::chan::unbounded();
    /// tx.send(4).unwrap();
    /// assert_eq!(rx.recv_async().await, Ok(4));
    /// # });
    /// ```
    pub fn recv_async(&self) -> RecvFut<'_, T> {
        RecvFut {
            chan: &self.chan,
            entry: None,
        }
    }

    /// A blocking iterator over received values; it ends when the channel
    /// is closed and drained (Go's `for v := range ch`).
    ///
    /// ```
    /// let (tx, rx) = motet::chan::unbounded();
    /// std::thread::spawn(move || (0..3).for_each(|i| tx.send(i).unwrap()));
    /// assert_eq!(rx.iter().sum::<i32>(), 3);
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// An iterator over the values that can be received now, without
    /// waiting.
    ///
    /// ```
    /// let (tx, rx) = motet::chan::unbounded();
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2]);
    /// ```
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }

    /// Closes the channel, as [`Sender::close`] does.
    ///
    /// ```
    /// let (tx, rx) = motet::chan::unbounded::<u8>();
    /// rx.close();
    /// assert!(tx.send(1).is_err());
    /// ```
    pub fn close(&self) {
        let mut w = Wakeups::default();
        self.chan.lock().close(&mut w);
        w.wake();
    }

    /// Whether the channel is closed.
    ///
    /// ```
    /// let (tx, rx) = motet::chan::unbounded::<u8>();
    /// drop(tx);
    /// assert!(rx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.lock().is_closed()
    }

    /// How many values are buffered.
    ///
    /// ```
    /// let (tx, rx) = motet::chan::unbounded();
    /// tx.send(()).unwrap();
    /// assert_eq!(rx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.lock().len()
    }

    /// Whether nothing is buffered.
    ///
    /// ```
    /// let (_tx, rx) = motet::chan::unbounded::<u8>();
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The capacity: `Some(cap)` for [`bounded`], `None` for [`unbounded`].
    ///
    /// ```
    /// assert_eq!(motet::chan::bounded::<u8>(0).1.capacity(), Some(0));
    /// ```
    pub fn capacity(&self) -> Option<usize> {
        self.chan.lock().capacity()
    }

    /// Whether both handles belong to the same channel.
    ///
    /// ```
    /// let (_tx, rx) = motet::chan::unbounded::<u8>();
    /// assert!(rx.same_channel(&rx.clone()));
    /// ```
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.lock().add_sender();
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.chan.lock().add_receiver();
        Receiver {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut w = Wakeups::default();
        self.chan.lock().drop_sender(&mut w);
        w.wake();
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut w = Wakeups::default();
        self.chan.lock().drop_receiver(&mut w);
        w.wake();
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("chan::Sender { .. }")
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("chan::Receiver { .. }")
    }
}

/// The iterator of [`Receiver::iter`]: blocks for each value.
#[derive(Debug)]
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

/// The iterator of [`Receiver::try_iter`]: never blocks.
#[derive(Debug)]
pub struct TryIter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

/// The future of [`Sender::send_async`].
///
/// Cancellation: dropped before it completes, it withdraws its value from
/// the channel (no receiver gets it). [`cancel`](Self::cancel) does the
/// same and hands the value back.
#[must_use = "a SendFut does nothing unless awaited"]
pub struct SendFut<'a, T> {
    chan: &'a Arc<Chan<T>>,
    /// The value, until it is parked in the channel or sent.
    value: Option<T>,
    /// The id of the parked offer, while parked.
    entry: Option<u64>,
}

impl<T> SendFut<'_, T> {
    /// Stops sending: returns the value if no receiver took it, `None` if
    /// it was sent. The future is then finished (polling it again panics).
    ///
    /// ```
    /// let (tx, _rx) = motet::chan::bounded(0);
    /// let mut fut = tx.send_async(1);
    /// assert_eq!(fut.cancel(), Some(1));
    /// ```
    pub fn cancel(&mut self) -> Option<T> {
        match self.entry.take() {
            Some(id) => self.chan.lock().withdraw_offer(id),
            None => self.value.take(),
        }
    }
}

impl<T> Unpin for SendFut<'_, T> {}

impl<T> Future for SendFut<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Some(id) = this.entry {
            // Parked: a send already waiting in the channel may have
            // completed, and must report it.
            let mut st = this.chan.lock();
            if st.send_closed() {
                this.entry = None;
                return Poll::Ready(match st.withdraw_offer(id) {
                    Some(v) => Err(SendError(v)),
                    None => Ok(()),
                });
            }
            if st.refresh_offer(id, cx.waker()) {
                return Poll::Pending;
            }
            this.entry = None;
            return Poll::Ready(Ok(()));
        }
        // A first try charges the cooperative budget (`coop.rs`), or yields
        // if it is spent.
        ready!(crate::coop::poll_proceed_with(cx, crate::coop::CHANNEL_OP));
        let value = this
            .value
            .take()
            .expect("SendFut polled after it completed");
        let value = match this.chan.fast_send(value) {
            Ok(r) => return Poll::Ready(r.map_err(|e| SendError(e.into_inner()))),
            Err(v) => v,
        };
        let mut st = this.chan.lock();
        let mut w = Wakeups::default();
        let r = match st.try_send(value, &mut w) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(TrySendError::Closed(v)) => Poll::Ready(Err(SendError(v))),
            Err(TrySendError::Full(v)) => match st.park_sender(v, cx.waker()) {
                Ok(()) => Poll::Ready(Ok(())),
                Err(id) => {
                    this.entry = Some(id);
                    Poll::Pending
                }
            },
        };
        st.debug_check();
        drop(st);
        w.wake();
        r
    }
}

impl<T> Drop for SendFut<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // Small enough to inline: every blocking send drops one of these,
        // nearly always finished.
        if self.entry.is_some() {
            self.withdraw();
        }
    }
}

impl<T> SendFut<'_, T> {
    /// Dropped while parked: take the offer back, as `cancel` does, and
    /// drop the value (outside the lock: T's destructor may do anything).
    #[cold]
    #[inline(never)]
    fn withdraw(&mut self) {
        drop(self.cancel());
    }
}

impl<T> fmt::Debug for SendFut<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendFut")
            .field("parked", &self.entry.is_some())
            .finish()
    }
}

/// The future of [`Receiver::recv_async`].
///
/// Cancellation: a value handed to it (by a sender that found it waiting)
/// and not yet returned goes back to the channel when it is dropped, to
/// the next waiting receiver or the front of the buffer.
#[must_use = "a RecvFut does nothing unless awaited"]
pub struct RecvFut<'a, T> {
    chan: &'a Arc<Chan<T>>,
    /// The id of the registered interest, while waiting.
    entry: Option<u64>,
}

impl<T> RecvFut<'_, T> {
    /// Stops receiving: returns a value that was already handed to this
    /// future, if any (else `None`, and nothing was taken).
    ///
    /// ```
    /// let (_tx, rx) = motet::chan::bounded::<u8>(0);
    /// let mut fut = rx.recv_async();
    /// assert_eq!(fut.cancel(), None);
    /// ```
    pub fn cancel(&mut self) -> Option<T> {
        let id = self.entry.take()?;
        self.chan.lock().withdraw_interest(id)
    }
}

impl<T> Unpin for RecvFut<'_, T> {}

impl<T> Future for RecvFut<'_, T> {
    type Output = Result<T, RecvError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if this.entry.is_none() {
            // As in `SendFut::poll`.
            ready!(crate::coop::poll_proceed_with(cx, crate::coop::CHANNEL_OP));
            if let Some(v) = this.chan.fast_recv() {
                return Poll::Ready(Ok(v));
            }
        }
        let mut st = this.chan.lock();
        if let Some(id) = this.entry {
            // Woken, nearly always because a value was handed over: look
            // for it first.
            if let Some(v) = st.take_delivered(id) {
                this.entry = None;
                return Poll::Ready(Ok(v));
            }
            if !st.is_closed() && st.refresh_interest(id, cx.waker()) {
                return Poll::Pending;
            }
            this.entry = None;
            st.withdraw_interest(id);
        }
        let mut w = Wakeups::default();
        let r = match st.try_recv(&mut w) {
            Ok(v) => Poll::Ready(Ok(v)),
            Err(TryRecvError::Closed) => Poll::Ready(Err(RecvError)),
            Err(TryRecvError::Empty) => match st.park_receiver(cx.waker(), &mut w) {
                Ok(v) => Poll::Ready(Ok(v)),
                Err(id) => {
                    this.entry = Some(id);
                    Poll::Pending
                }
            },
        };
        st.debug_check();
        drop(st);
        w.wake();
        r
    }
}

impl<T> Drop for RecvFut<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // As in `SendFut`'s.
        if self.entry.is_some() {
            self.withdraw();
        }
    }
}

impl<T> RecvFut<'_, T> {
    /// Dropped while waiting: withdraw the interest, and put back a value
    /// that was handed to it.
    #[cold]
    #[inline(never)]
    fn withdraw(&mut self) {
        if let Some(id) = self.entry.take() {
            let mut w = Wakeups::default();
            let mut st = self.chan.lock();
            if let Some(v) = st.withdraw_interest(id) {
                st.put_back(v, &mut w);
            }
            drop(st);
            w.wake();
        }
    }
}

impl<T> fmt::Debug for RecvFut<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvFut")
            .field("waiting", &self.entry.is_some())
            .finish()
    }
}
