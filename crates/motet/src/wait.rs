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
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::Instant;

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
#[inline(always)]
pub fn wait<F: IntoFuture>(future: F) -> F::Output {
    let future = future.into_future();
    // First: a green thread runs *on* a scheduler thread, and suspends
    // instead of blocking it. Inlined into the caller, so the green thread
    // suspends in the caller's own frame (see "The cost of a switch" in
    // `green`'s module docs).
    if let Some(green) = crate::green::current_green() {
        return crate::green::suspend_on(green, future);
    }
    wait_on_thread(future)
}

/// [`wait`] for a future that charges the cooperative budget itself (a
/// channel operation's): a green thread's wait that is ready at once adds
/// no charge of its own.
#[track_caller]
#[inline(always)]
pub(crate) fn wait_charged<F: Future>(future: F) -> F::Output {
    if let Some(green) = crate::green::current_green() {
        return crate::green::suspend_on_charged(green, future);
    }
    wait_on_thread(future)
}

/// [`wait`] off a green thread: parks the OS thread (spinning a little
/// first), or refuses on a thread that drives a scheduler. Out of line:
/// inlined, its locals would widen the caller's frame, which a green
/// thread keeps on its stack while it is suspended.
#[track_caller]
#[inline(never)]
fn wait_on_thread<F: Future>(future: F) -> F::Output {
    refuse_on_a_scheduler_thread();
    park_until(future, None, true).expect("no deadline, so the future completed")
}

/// `wait`'s second case: on a thread that drives a scheduler, blocking
/// would stall every task on it.
#[track_caller]
fn refuse_on_a_scheduler_thread() {
    if context::is_driving() {
        panic!(
            "motet::wait (or a blocking call such as JoinHandle::join or Receiver::recv_timeout) \
             was called from an async task on a scheduler thread: it would block every task on \
             that thread. Use `.await` instead (with `motet::time::timeout` for a deadline), or \
             run the blocking code with `motet::task::spawn_blocking`"
        );
    }
}

/// Whether the caller is a plain OS thread (not a green thread, not a
/// thread driving a runtime) in a process that may run on more than one
/// CPU. Only such a thread may spin before it waits: a spinning green
/// thread or scheduler thread would hold up every unit queued behind it,
/// and on one CPU the thread that would end the wait cannot run while the
/// waiter spins.
#[inline]
pub(crate) fn may_spin() -> bool {
    !crate::green::in_green_thread() && !context::is_driving() && multi_cpu()
}

/// Whether this process may run on more than one CPU: its affinity mask
/// and cgroup quota, as [`std::thread::available_parallelism`] reads them,
/// once. Go's locks spin only where this holds, for the reason above.
#[inline]
pub(crate) fn multi_cpu() -> bool {
    /// 0 until read; then the count of CPUs.
    static CPUS: AtomicUsize = AtomicUsize::new(0);
    let mut cpus = CPUS.load(Ordering::Relaxed);
    if cpus == 0 {
        cpus = thread::available_parallelism().map_or(1, |n| n.get());
        CPUS.store(cpus, Ordering::Relaxed);
    }
    cpus > 1
}

/// How many rounds a plain OS thread checks its wake-up flag before it
/// parks: a wake-up that comes within a few microseconds (the other end
/// of a busy channel) then costs no futex call on either side.
const SPIN_ROUNDS: u32 = 64;

/// On one CPU, how many times a plain OS thread yields the CPU (checking
/// its flag after each) before it parks.
const YIELD_ROUNDS: u32 = 8;

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
/// (No spinning: this is `Runtime::block_on`'s wait, usually long.)
pub(crate) fn park_on<F: Future>(future: F) -> F::Output {
    park_until(future, None, false).expect("no deadline, so the future completed")
}

/// Polls `future` on this thread, parking it between polls, until it
/// completes (`Some`) or `deadline` passes (`None`). With `spin`, checks
/// the wake-up flag for a short while before each park: spinning with
/// growing pauses, or, where the process has one CPU, yielding it (the
/// threads that would wake this one can then run, and often do it before
/// it parks: the lab's fanout with OS threads under `taskset -c 0` on the
/// 2-core VM took 36-38 ms with the yields and 124-175 ms parking at once,
/// crossbeam-channel 49-50 ms; spinning had taken up to 1.4 s on the
/// 16-core machine's Intel part).
fn park_until<F: Future>(future: F, deadline: Option<Instant>, spin: bool) -> Option<F::Output> {
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
    let out = 'polls: loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            break Some(out);
        }
        if spin {
            if multi_cpu() {
                spin_for(&unparker.notified);
            } else {
                yield_for(&unparker.notified);
            }
        }
        // `park` may return spuriously; only a wake-up clears the flag.
        while !unparker.notified.swap(false, Ordering::Acquire) {
            match deadline {
                None => thread::park(),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        break 'polls None;
                    }
                    thread::park_timeout(d - now);
                }
            }
        }
    };
    unparker.notified.store(false, Ordering::Relaxed);
    let _ = WAKER.try_with(|w| *w.borrow_mut() = Some(unparker));
    out
}

/// Spins until `flag` is set or [`SPIN_ROUNDS`] rounds pass: each round
/// reads the flag, then pauses a little longer (up to 32 `spin_loop`s).
#[inline]
fn spin_for(flag: &AtomicBool) {
    for round in 0..SPIN_ROUNDS {
        if flag.load(Ordering::Relaxed) {
            return;
        }
        spin_pause(round);
    }
}

/// One CPU: gives it to the other threads a few times, reading the flag
/// after each, before parking.
fn yield_for(flag: &AtomicBool) {
    for _ in 0..YIELD_ROUNDS {
        if flag.load(Ordering::Relaxed) {
            return;
        }
        thread::yield_now();
    }
}

/// The pause after a failed check number `round`: `2^round` spin hints,
/// at most 32 (the channels' blocking retries use it too).
#[inline]
pub(crate) fn spin_pause(round: u32) {
    for _ in 0..1u32 << round.min(5) {
        std::hint::spin_loop();
    }
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
pub fn wait_until<F: IntoFuture>(future: F, deadline: Instant) -> Option<F::Output> {
    let future = future.into_future();
    // On a green thread the deadline becomes a driver timer.
    if let Some(green) = crate::green::current_green() {
        let future = crate::time::timeout_at(deadline, future);
        return crate::green::suspend_on(green, future).ok();
    }
    refuse_on_a_scheduler_thread();
    park_until(future, Some(deadline), true)
}
