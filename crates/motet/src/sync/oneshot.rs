//! A channel for exactly one value.
//!
//! ```
//! # let rt = motet::runtime::Runtime::new().unwrap();
//! # rt.block_on(async {
//! let (tx, rx) = motet::sync::oneshot::channel();
//! motet::task::spawn(async move { tx.send("done").unwrap() });
//! assert_eq!(rx.await.unwrap(), "done");
//! # });
//! ```
//!
//! # Design
//!
//! One `Arc` holding a mutex over the value slot, the receiver's waker and
//! two "gone" flags. A lock costs a few nanoseconds uncontended, and a
//! one-shot channel is contended at most once; a lock-free state word would
//! save little here. For streams of values, use `motet::chan`.
//! The receiver's waker is woken after the lock is released.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// Creates a one-shot channel.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Arc::new(Inner {
        state: Mutex::new(State {
            value: None,
            waker: None,
            sender_gone: false,
            receiver_gone: false,
        }),
    });
    (
        Sender {
            inner: inner.clone(),
        },
        Receiver { inner },
    )
}

struct Inner<T> {
    state: Mutex<State<T>>,
}

struct State<T> {
    value: Option<T>,
    waker: Option<Waker>,
    sender_gone: bool,
    receiver_gone: bool,
}

impl<T> Inner<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Sends the one value. Dropping it unsent makes the receiver see
/// [`RecvError`].
pub struct Sender<T> {
    inner: Arc<Inner<T>>,
}

/// Receives the one value: `.await` it, or call
/// [`blocking_recv`](Self::blocking_recv) from outside async code.
pub struct Receiver<T> {
    inner: Arc<Inner<T>>,
}

/// The sender was dropped without sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvError;

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the oneshot sender was dropped without sending")
    }
}

impl std::error::Error for RecvError {}

/// Why [`Receiver::try_recv`] returned no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing has been sent yet.
    Empty,
    /// The sender was dropped without sending.
    Closed,
}

impl<T> Sender<T> {
    /// Sends `value`, or hands it back if the receiver is gone.
    ///
    /// ```
    /// let (tx, rx) = motet::sync::oneshot::channel();
    /// drop(rx);
    /// assert_eq!(tx.send(5), Err(5));
    /// ```
    pub fn send(self, value: T) -> Result<(), T> {
        let mut st = self.inner.lock();
        if st.receiver_gone {
            return Err(value);
        }
        st.value = Some(value);
        let waker = st.waker.take();
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
        // `Drop` runs next and finds the value sent: no second wake-up.
    }

    /// Whether the receiver has been dropped (a send would fail).
    pub fn is_closed(&self) -> bool {
        self.inner.lock().receiver_gone
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut st = self.inner.lock();
        st.sender_gone = true;
        let waker = if st.value.is_none() {
            st.waker.take()
        } else {
            None
        };
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Receiver<T> {
    /// Takes the value if it has arrived, without waiting.
    ///
    /// ```
    /// use motet::sync::oneshot::{channel, TryRecvError};
    /// let (tx, mut rx) = channel();
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let mut st = self.inner.lock();
        match st.value.take() {
            Some(v) => Ok(v),
            None if st.sender_gone => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Waits for the value from outside async code (parks an OS thread).
    ///
    /// # Panics
    ///
    /// On an event-loop thread; see [`wait`](crate::wait::wait).
    ///
    /// ```
    /// let (tx, rx) = motet::sync::oneshot::channel();
    /// std::thread::spawn(move || tx.send(9).unwrap());
    /// assert_eq!(rx.blocking_recv(), Ok(9));
    /// ```
    // Inlined: a green thread suspends in the caller's frame (`wait`).
    #[inline(always)]
    pub fn blocking_recv(self) -> Result<T, RecvError> {
        crate::wait::wait(self)
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if crate::coop::poll_proceed(cx).is_pending() {
            return Poll::Pending;
        }
        let mut st = self.inner.lock();
        if let Some(v) = st.value.take() {
            return Poll::Ready(Ok(v));
        }
        if st.sender_gone {
            return Poll::Ready(Err(RecvError));
        }
        match &st.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => st.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut st = self.inner.lock();
        st.receiver_gone = true;
        let value = st.value.take();
        drop(st);
        drop(value);
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("oneshot::Sender")
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("oneshot::Receiver")
    }
}
