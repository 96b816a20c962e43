//! The driver: everything that waits on the outside world.
//!
//! # Glossary
//!
//! - **driver**: one epoll instance (through mio), the readiness records of
//!   the sources registered with it, and one timer wheel. Each event loop
//!   owns one; the work-stealing flavor will share one among its workers.
//! - **park**: block the calling thread in `epoll_wait` until an I/O event,
//!   the earliest timer, or an unpark, then wake every task that became
//!   ready. Only one thread parks on a driver at a time (the poll lock).
//! - **unpark**: make a parked driver return early, from any thread, by
//!   writing to mio's eventfd waker. Schedulers call it only when they know
//!   the loop is asleep, because it costs a system call (and on this VM about
//!   20 µs of cross-core wake-up latency).
//! - **tick**: one millisecond of driver time, counted from the driver's
//!   creation; the timer wheel speaks only in ticks.
//!
//! # Why mio
//!
//! mio and polling are both well kept. mio was chosen because its
//! registration model (a `Token` per source, edge-triggered events with
//! `is_read_closed`/`is_write_closed`) maps one-to-one onto the readiness
//! records below, and its `net` types give non-blocking sockets with no extra
//! wrapping. polling's oneshot model would cost a re-arm system call per wait.
//!
//! # Timers
//!
//! A deadline becomes the tick that rounds it *up*, so a timer never fires
//! early; it fires at the first park that returns at or after that tick.
//! Resolution is therefore 1 ms, like tokio's and Go's netpoller deadlines.
//! See [`wheel`] for the levels and what happens to timers far in the future.
//!
//! # Shutdown
//!
//! When its runtime drops the driver, [`Driver::shutdown`] marks every live
//! registration dead and wakes its waiters, whose next operation fails with
//! an `io::Error` saying the runtime shut down; pending timers are woken and
//! their futures then find no driver behind them.

pub(crate) mod io;
pub(crate) mod wheel;

use std::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;
use std::time::{Duration, Instant};

use slab::Slab;

use self::io::ScheduledIo;
use self::wheel::{TimerKey, Wheel};

/// The token of mio's eventfd waker; source tokens are slab keys.
const WAKER_TOKEN: mio::Token = mio::Token(usize::MAX);

/// A driver is not parked.
const NOT_PARKED: u64 = 0;
/// A driver parked with no timer deadline.
const PARKED_FOREVER: u64 = u64::MAX;

/// The right to block in a driver's `epoll_wait`: its poll lock.
pub(crate) struct DriverGuard<'a> {
    driver: &'a Driver,
    state: MutexGuard<'a, PollState>,
}

impl DriverGuard<'_> {
    /// Blocks until an I/O event, the earliest timer, `timeout`, or
    /// [`Driver::unpark`], then wakes every task made ready.
    /// `Some(Duration::ZERO)` only collects what is ready now.
    /// Returns whether it woke anything (a task waiting on I/O or a timer).
    pub(crate) fn park(mut self, timeout: Option<Duration>) -> bool {
        let driver = self.driver;
        let st = &mut *self.state;
        if driver.is_shut_down() {
            return false;
        }
        let timeout = driver.park_timeout(timeout);
        if let Err(e) = st.poll.poll(&mut st.events, timeout) {
            // EINTR is the only expected error; anything else would repeat
            // forever, so report it rather than spin silently.
            if e.kind() != std::io::ErrorKind::Interrupted {
                tracing::error!(error = %e, "motet driver: epoll_wait failed");
            }
        }
        driver.parked_until.store(NOT_PARKED, Ordering::SeqCst);
        {
            let sources = driver.sources();
            for event in st.events.iter() {
                if event.token() == WAKER_TOKEN {
                    continue;
                }
                if let Some(io) = sources.get(event.token().0) {
                    io.dispatch(event, &mut st.wake);
                }
            }
        }
        driver.fire_timers(&mut st.wake);
        // Release the poll lock before waking, so that a woken task's
        // thread can park here at once.
        let mut wake = std::mem::take(&mut st.wake);
        drop(self);
        let woke = !wake.is_empty();
        for w in wake.drain(..) {
            w.wake();
        }
        // Keep the buffer's capacity for next time, if the lock is free.
        if let Ok(mut st) = driver.poll.try_lock() {
            if st.wake.capacity() < wake.capacity() {
                st.wake = wake;
            }
        }
        woke
    }
}

/// One epoll instance, its sources' readiness, and its timers.
pub(crate) struct Driver {
    /// Held by the thread currently parked (or about to park) on this driver.
    poll: Mutex<PollState>,
    registry: mio::Registry,
    waker: mio::Waker,
    /// Readiness records by token. Lock order: `sources`, then a record's state.
    sources: Mutex<Slab<Arc<ScheduledIo>>>,
    timers: Mutex<Wheel>,
    /// `NOT_PARKED`, or 1 + the tick a park in progress will return at
    /// (`PARKED_FOREVER` if none), so that a timer inserted from another
    /// thread can tell whether it must interrupt the park.
    parked_until: AtomicU64,
    shut_down: AtomicBool,
    start: Instant,
}

struct PollState {
    poll: mio::Poll,
    events: mio::Events,
    /// Reused buffer of wakers to call once every lock is released.
    wake: Vec<Waker>,
}

impl Driver {
    /// Creates a driver with its own epoll instance.
    pub(crate) fn new() -> std::io::Result<Driver> {
        let poll = mio::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = mio::Waker::new(&registry, WAKER_TOKEN)?;
        Ok(Driver {
            poll: Mutex::new(PollState {
                poll,
                events: mio::Events::with_capacity(1024),
                wake: Vec::new(),
            }),
            registry,
            waker,
            sources: Mutex::new(Slab::new()),
            timers: Mutex::new(Wheel::new()),
            parked_until: AtomicU64::new(NOT_PARKED),
            shut_down: AtomicBool::new(false),
            start: Instant::now(),
        })
    }

    /// The driver of the runtime this thread is in.
    ///
    /// # Panics
    ///
    /// Outside a runtime context, with a message naming the ways in.
    pub(crate) fn current() -> Arc<Driver> {
        crate::runtime::context::driver().unwrap_or_else(|| {
            panic!(
                "this motet operation needs a runtime: call it from inside `Runtime::block_on`, \
                 from a task, or after `Handle::enter()`"
            )
        })
    }

    fn sources(&self) -> MutexGuard<'_, Slab<Arc<ScheduledIo>>> {
        self.sources.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn timers(&self) -> MutexGuard<'_, Wheel> {
        self.timers.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn register<S: mio::event::Source + ?Sized>(
        &self,
        source: &mut S,
        interest: mio::Interest,
    ) -> std::io::Result<(usize, Arc<ScheduledIo>)> {
        let io = Arc::new(ScheduledIo::default());
        let token = {
            let mut sources = self.sources();
            // Checked under the sources lock: `shutdown` sets the flag
            // before it takes that lock to release every source, so a
            // source is either refused here or released there.
            if self.is_shut_down() {
                return Err(std::io::Error::other(
                    "the motet runtime this socket would belong to has shut down",
                ));
            }
            sources.insert(io.clone())
        };
        if let Err(e) = self.registry.register(source, mio::Token(token), interest) {
            self.sources().remove(token);
            return Err(e);
        }
        Ok((token, io))
    }

    fn forget(&self, token: usize) {
        self.sources().try_remove(token);
    }

    /// Blocks until an I/O event, the earliest timer, `timeout`, or
    /// [`unpark`](Self::unpark), then wakes every task made ready.
    /// `Some(Duration::ZERO)` only collects what is ready now.
    pub(crate) fn park(&self, timeout: Option<Duration>) -> bool {
        let state = self.poll.lock().unwrap_or_else(|e| e.into_inner());
        DriverGuard {
            driver: self,
            state,
        }
        .park(timeout)
    }

    /// The poll lock, if no other thread holds it: the right to park here.
    pub(crate) fn try_lock(&self) -> Option<DriverGuard<'_>> {
        let state = match self.poll.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        Some(DriverGuard {
            driver: self,
            state,
        })
    }

    /// Collects ready I/O and due timers without blocking, unless another
    /// thread holds the poll lock (it is parked here and will do it).
    /// Returns whether it woke anything.
    pub(crate) fn try_park_now(&self) -> bool {
        self.try_lock()
            .is_some_and(|guard| guard.park(Some(Duration::ZERO)))
    }

    /// Decides how long `epoll_wait` may block and publishes it for
    /// [`insert_timer`](Self::insert_timer).
    ///
    /// The handshake with [`insert_timer`](Self::insert_timer) on another
    /// thread is Dekker's: this side publishes "parked" *before* reading the
    /// wheel, that side inserts *before* reading `parked_until`, with a
    /// `SeqCst` fence on each side. So either this read sees the new timer,
    /// or that read sees this park and interrupts it. (Publishing after the
    /// read, as a first version did, lost the wake-up when the inserting
    /// thread slipped in between: a worker then slept in `epoll_wait` with no
    /// deadline while a timer was due, seen as a rare hang under load.)
    fn park_timeout(&self, timeout: Option<Duration>) -> Option<Duration> {
        let blocking = timeout != Some(Duration::ZERO);
        if blocking {
            self.parked_until.store(PARKED_FOREVER, Ordering::SeqCst);
            fence(Ordering::SeqCst);
        }
        let next_tick = self.timers().next_expiration();
        let timer = next_tick.map(|tick| {
            let at = self.start + Duration::from_millis(tick);
            at.saturating_duration_since(Instant::now())
        });
        let timeout = match (timeout, timer) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if blocking {
            // Narrow "forever" to the deadline this park will wake at: a
            // timer due later needs no interruption.
            if let Some(tick) = next_tick.filter(|_| timer == timeout) {
                self.parked_until
                    .store(tick.saturating_add(1), Ordering::SeqCst);
            }
        }
        timeout
    }

    fn fire_timers(&self, wake: &mut Vec<Waker>) {
        let now = self.now_tick();
        let mut timers = self.timers();
        if timers.next_expiration().is_some_and(|t| t <= now) {
            timers.advance(now, wake);
        }
    }

    /// Makes a parked driver return soon. Cheap to call spuriously, but it is
    /// a system call: callers avoid it when the driver is known to be awake.
    pub(crate) fn unpark(&self) {
        if let Err(e) = self.waker.wake() {
            tracing::error!(error = %e, "motet driver: failed to unpark");
        }
    }

    /// The tick a deadline fires at: rounded up, so never early.
    fn deadline_tick(&self, deadline: Instant) -> u64 {
        let d = deadline.saturating_duration_since(self.start);
        let ms = d.as_millis();
        let up = if d > Duration::from_millis(ms as u64) {
            ms + 1
        } else {
            ms
        };
        u64::try_from(up).unwrap_or(u64::MAX)
    }

    /// The current tick: rounded down, so a timer fires only once its
    /// deadline has passed.
    fn now_tick(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Registers a timer; `waker` is woken once `deadline` has passed.
    pub(crate) fn insert_timer(&self, deadline: Instant, waker: Waker) -> TimerKey {
        let tick = self.deadline_tick(deadline);
        let key = self.timers().insert(tick, waker);
        // A park in progress on another thread may be waiting longer than
        // this timer allows: interrupt it so it recomputes its timeout (see
        // `park_timeout` for why the fence).
        fence(Ordering::SeqCst);
        let parked = self.parked_until.load(Ordering::SeqCst);
        if parked != NOT_PARKED && tick < parked - 1 {
            self.unpark();
        }
        key
    }

    /// Replaces a pending timer's waker; false once it has fired.
    pub(crate) fn set_timer_waker(&self, key: TimerKey, waker: &Waker) -> bool {
        self.timers().set_waker(key, waker)
    }

    /// Cancels a timer (harmless if it fired already).
    pub(crate) fn remove_timer(&self, key: TimerKey) {
        self.timers().remove(key);
    }

    /// Number of timers pending (for stats and tests).
    pub(crate) fn timers_pending(&self) -> usize {
        self.timers().len()
    }

    /// Ends the driver: releases every I/O waiter with an error and every
    /// timer waiter. Idempotent.
    pub(crate) fn shutdown(&self) {
        let mut guard = self.poll.lock().unwrap_or_else(|e| e.into_inner());
        let st = &mut *guard;
        if self.shut_down.swap(true, Ordering::SeqCst) {
            return;
        }
        for (_, io) in self.sources().iter() {
            io.shutdown(&mut st.wake);
        }
        self.timers().advance(u64::MAX, &mut st.wake);
        let wake = std::mem::take(&mut st.wake);
        drop(guard);
        for w in wake {
            w.wake();
        }
    }

    /// Whether [`shutdown`](Self::shutdown) has run.
    pub(crate) fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::SeqCst)
    }
}
