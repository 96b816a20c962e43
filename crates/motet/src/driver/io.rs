//! Readiness of one registered I/O source, and the registration handle that
//! the `net` types hold.
//!
//! # Design
//!
//! mio registers sources edge-triggered: epoll reports a transition to ready
//! once, not a level. So the driver records readiness in a [`ScheduledIo`]
//! when an event arrives, and a socket operation trusts that record until the
//! system call itself says `WouldBlock`; only then is the bit cleared and the
//! task's waker stored.
//!
//! The race this must survive: an event arrives *between* the system call
//! returning `WouldBlock` and the bit being cleared. Clearing it then would
//! lose the event for good (no second edge comes). Every event therefore bumps
//! a `tick`; [`ScheduledIo::poll_ready`] hands the tick it saw to the caller,
//! and [`ScheduledIo::clear`] clears only if the tick is still the same.
//!
//! The `*_CLOSED` and `ERROR` bits are never cleared: once the peer has hung
//! up, epoll will not say so again, and a reader must keep seeing it.
//!
//! # Locks
//!
//! `IoState` is guarded by its own mutex; the driver takes it while holding
//! the registration slab's lock (order: slab, then state), and nothing takes
//! the slab lock while holding a state lock. Wakers are never called under
//! either lock: they are collected and woken after both are released.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use super::Driver;

/// Which half of a source an operation waits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Reads, accepts, receives.
    Read,
    /// Writes, connects, sends.
    Write,
}

const READABLE: u8 = 1 << 0;
const WRITABLE: u8 = 1 << 1;
/// The peer will send no more (final; never cleared).
const READ_CLOSED: u8 = 1 << 2;
/// The peer will accept no more (final; never cleared).
const WRITE_CLOSED: u8 = 1 << 3;
/// The source reported an error (final; never cleared).
const ERROR: u8 = 1 << 4;

impl Direction {
    /// Bits that make an operation in this direction worth attempting.
    fn mask(self) -> u8 {
        match self {
            Direction::Read => READABLE | READ_CLOSED | ERROR,
            Direction::Write => WRITABLE | WRITE_CLOSED | ERROR,
        }
    }

    /// The one bit that `WouldBlock` clears.
    fn clearable(self) -> u8 {
        match self {
            Direction::Read => READABLE,
            Direction::Write => WRITABLE,
        }
    }
}

/// Readiness state shared by the driver and the tasks using one source.
#[derive(Default)]
pub(crate) struct ScheduledIo {
    state: Mutex<IoState>,
}

#[derive(Default)]
struct IoState {
    ready: u8,
    /// Bumped by every event; see the module docs.
    tick: u32,
    /// Tasks waiting to read (or accept, or receive). Usually one; several
    /// when tasks share a socket (two tasks accepting on one listener).
    readers: Vec<Waker>,
    /// Tasks waiting to write (or connect, or send).
    writers: Vec<Waker>,
    /// The driver is gone: every wait fails from now on.
    shutdown: bool,
}

impl ScheduledIo {
    fn lock(&self) -> MutexGuard<'_, IoState> {
        // The state is plain data that stays consistent across a panic.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records an event from the driver and collects the wakers it releases.
    pub(super) fn dispatch(&self, event: &mio::event::Event, wake: &mut Vec<Waker>) {
        let mut bits = 0;
        if event.is_readable() {
            bits |= READABLE;
        }
        if event.is_writable() {
            bits |= WRITABLE;
        }
        if event.is_read_closed() {
            bits |= READ_CLOSED;
        }
        if event.is_write_closed() {
            bits |= WRITE_CLOSED;
        }
        if event.is_error() {
            bits |= ERROR;
        }
        let mut st = self.lock();
        st.ready |= bits;
        st.tick = st.tick.wrapping_add(1);
        if st.ready & Direction::Read.mask() != 0 {
            wake.append(&mut st.readers);
        }
        if st.ready & Direction::Write.mask() != 0 {
            wake.append(&mut st.writers);
        }
    }

    /// Marks the source dead because its driver shut down, releasing waiters.
    pub(super) fn shutdown(&self, wake: &mut Vec<Waker>) {
        let mut st = self.lock();
        st.shutdown = true;
        wake.append(&mut st.readers);
        wake.append(&mut st.writers);
    }

    /// Ready with the tick observed if `dir` may make progress; otherwise
    /// stores the waker and returns `Pending`.
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>, dir: Direction) -> Poll<io::Result<u32>> {
        let mut st = self.lock();
        if st.shutdown {
            return Poll::Ready(Err(shutdown_error()));
        }
        if st.ready & dir.mask() != 0 {
            return Poll::Ready(Ok(st.tick));
        }
        let waiters = match dir {
            Direction::Read => &mut st.readers,
            Direction::Write => &mut st.writers,
        };
        // A task polling again must not pile up copies of its waker. A
        // waiter that gave up (its future dropped) stays until the next
        // event and is then woken spuriously, which is harmless.
        if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
            waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Clears `dir`'s readiness unless an event arrived since `tick`.
    pub(crate) fn clear(&self, dir: Direction, tick: u32) {
        let mut st = self.lock();
        if st.tick == tick {
            st.ready &= !dir.clearable();
        }
    }
}

fn shutdown_error() -> io::Error {
    io::Error::other("the motet runtime that owns this I/O source has shut down")
}

/// A source's membership in a driver. Dropping it forgets the source's
/// readiness; the `net` types deregister the source itself first.
pub(crate) struct Registration {
    driver: Arc<Driver>,
    token: usize,
    io: Arc<ScheduledIo>,
}

impl Registration {
    /// Registers `source` with the current thread's driver.
    ///
    /// # Panics
    ///
    /// Outside a motet runtime context, with a message saying how to enter one.
    pub(crate) fn new<S: mio::event::Source + ?Sized>(
        source: &mut S,
        interest: mio::Interest,
    ) -> io::Result<Registration> {
        let driver = Driver::current();
        let (token, io) = driver.register(source, interest)?;
        Ok(Registration { driver, token, io })
    }

    /// Runs the non-blocking operation `f` until it stops saying
    /// `WouldBlock`, waiting for readiness in `dir` in between.
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        mut f: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        if crate::coop::poll_proceed(cx).is_pending() {
            return Poll::Pending;
        }
        loop {
            let tick = match self.io.poll_ready(cx, dir) {
                Poll::Ready(Ok(tick)) => tick,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            match f() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.io.clear(dir, tick),
                res => return Poll::Ready(res),
            }
        }
    }

    /// The `async` form of [`poll_io`](Self::poll_io).
    pub(crate) async fn async_io<R>(
        &self,
        dir: Direction,
        mut f: impl FnMut() -> io::Result<R>,
    ) -> io::Result<R> {
        std::future::poll_fn(|cx| self.poll_io(cx, dir, &mut f)).await
    }

    /// Removes `source` from the driver's epoll set. Call before closing a
    /// source whose file descriptor may have been duplicated.
    pub(crate) fn deregister<S: mio::event::Source + ?Sized>(
        &self,
        source: &mut S,
    ) -> io::Result<()> {
        self.driver.registry.deregister(source)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.driver.forget(self.token);
    }
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("token", &self.token)
            .finish()
    }
}
