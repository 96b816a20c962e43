//! Waiting as a service: one way to wait on any future from code that is
//! not async.
//!
//! Every motet primitive (timer, socket, join handle, channel) is written
//! once, as a future that registers a [`Waker`]. How a unit waits on such a
//! future depends on what it is:
//!
//! | caller | how it waits |
//! |---|---|
//! | async task | `.await` |
//! | plain OS thread (or a blocking-pool thread) | [`wait`] parks the thread; the waker unparks it |
//! | green thread | [`wait`] suspends the coroutine (the task's poll returns `Pending`); the waker makes the task runnable, and its next poll resumes the coroutine |
//! | a task or `block_on` future on an event-loop thread | [`wait`] **panics**: it would block every task on the loop |
//!
//! The last row is the "blocking the event loop" bug of every async system,
//! refused loudly instead of stalling silently.
//!
//! ```
//! let rt = motet::runtime::Runtime::new().unwrap();
//! let handle = rt.handle().clone();
//! // A plain OS thread waits on a task with motet::wait.
//! let t = std::thread::spawn(move || {
//!     let h = handle.spawn(async { 40 + 2 });
//!     motet::wait(h).unwrap()
//! });
//! rt.block_on(motet::time::sleep(std::time::Duration::from_millis(20)));
//! assert_eq!(t.join().unwrap(), 42);
//! ```

use std::cell::RefCell;
use std::future::{Future, IntoFuture};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

use crate::runtime::context;

/// Blocks the current (non-async) unit until `future` completes, and
/// returns its output: suspends a green thread, parks an OS thread.
///
/// # Panics
///
/// When called on a thread that is driving an event loop (from inside a
/// task or a `block_on` future): use `.await` there, or move the blocking
/// work to [`spawn_blocking`](crate::task::spawn_blocking).
#[track_caller]
pub fn wait<F: IntoFuture>(future: F) -> F::Output {
    // First: a green thread runs *on* an event-loop thread, and suspends
    // instead of blocking it.
    if crate::green::in_green_thread() {
        return crate::green::suspend_on(future.into_future());
    }
    if context::is_driving() {
        panic!(
            "motet::wait (or a blocking call such as JoinHandle::join) was called from an async task \
             on an event-loop thread: it would block every task on that loop. Use `.await` instead, \
             or run the blocking code with `motet::task::spawn_blocking`"
        );
    }
    park_on(future.into_future())
}

/// Unparks one thread; `notified` absorbs wake-ups that arrive before it parks.
struct ThreadWaker {
    thread: Thread,
    notified: AtomicBool,
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.notified.swap(true, Ordering::Release) {
            self.thread.unpark();
        }
    }
}

thread_local! {
    /// This thread's waker, reused across waits (taken while in use, so a
    /// nested wait makes its own).
    static WAKER: RefCell<Option<Arc<ThreadWaker>>> = const { RefCell::new(None) };
}

/// Polls `future` on this thread, parking it between polls.
pub(crate) fn park_on<F: Future>(future: F) -> F::Output {
    let unparker = WAKER
        .try_with(|w| w.borrow_mut().take())
        .ok()
        .flatten()
        .unwrap_or_else(|| {
            Arc::new(ThreadWaker {
                thread: thread::current(),
                notified: AtomicBool::new(false),
            })
        });
    let waker = Waker::from(unparker.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    let out = loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            break out;
        }
        // `park` may return spuriously; only a wake-up clears the flag.
        while !unparker.notified.swap(false, Ordering::Acquire) {
            thread::park();
        }
    };
    unparker.notified.store(false, Ordering::Relaxed);
    let _ = WAKER.try_with(|w| *w.borrow_mut() = Some(unparker));
    out
}

/// Like [`wait`], but gives up at `deadline`: `None` then, and the future
/// is left as it is (pass `&mut fut` to keep it, for example to take back
/// a value it holds).
///
/// ```
/// use std::time::{Duration, Instant};
/// let (_tx, rx) = motet::chan::bounded::<u8>(1);
/// let mut fut = rx.recv_async();
/// let got = motet::wait::wait_until(&mut fut, Instant::now() + Duration::from_millis(5));
/// assert!(got.is_none());
/// ```
///
/// # Panics
///
/// Where [`wait`] panics: on a thread that drives an event loop.
#[track_caller]
pub fn wait_until<F: IntoFuture>(future: F, deadline: std::time::Instant) -> Option<F::Output> {
    // A green thread suspends, with the driver's timer as the deadline.
    if crate::green::in_green_thread() {
        let timed = crate::time::timeout_at(deadline, future.into_future());
        return crate::green::suspend_on(timed).ok();
    }
    if context::is_driving() {
        panic!(
            "motet::wait_until (or a blocking call with a timeout, such as Receiver::recv_timeout) \
             was called from an async task on an event-loop thread: it would block every task on \
             that loop. Use `.await` with `motet::time::timeout` instead, or run the blocking code \
             with `motet::task::spawn_blocking`"
        );
    }
    park_on_until(future.into_future(), deadline)
}

/// [`park_on`] with a deadline (`park_timeout`; `None` when it passes).
fn park_on_until<F: Future>(future: F, deadline: std::time::Instant) -> Option<F::Output> {
    let unparker = Arc::new(ThreadWaker {
        thread: thread::current(),
        notified: AtomicBool::new(false),
    });
    let waker = Waker::from(unparker.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return Some(out);
        }
        while !unparker.notified.swap(false, Ordering::Acquire) {
            let now = std::time::Instant::now();
            if now >= deadline {
                return None;
            }
            thread::park_timeout(deadline - now);
        }
    }
}
