//! The event-loop flavor: one thread runs every task (Node's model, and that
//! of every epoll loop, Twisted and Tornado).
//!
//! # Glossary
//!
//! - **owner thread**: the thread that built the runtime and calls
//!   `block_on`; the only one that ever polls or drops a task.
//! - **local queue**: FIFO of runnable tasks, touched only by the owner
//!   thread, without locks or borrow flags ([`LocalQueue`], reached
//!   through the thread's context while it drives the loop).
//! - **remote queue**: FIFO behind a mutex for wake-ups and spawns from other
//!   threads; the loop moves it wholesale into the local queue at each of
//!   the pace's turns (at least every 32 polls, and at each look at the
//!   driver: `pace.rs`), and whenever the local queue runs dry.
//! - **sleeping**: the loop is blocked (or about to block) in
//!   `Driver::park`; a remote wake-up must then unpark the driver.
//!
//! # The loop
//!
//! ```text
//! loop {
//!     if the block_on future was woken: poll it; return if ready
//!     run queued tasks, FIFO, until the queue is empty
//!         (every event_interval polls, spaced out while looks find nothing:
//!          look at the driver without blocking)
//!     if nothing is runnable: sleep in the driver until I/O, a timer or a wake-up
//! }
//! ```
//!
//! # Sleeping without losing a wake-up
//!
//! A remote wake-up pushes onto the remote queue, then unparks the driver
//! only if the loop announced it was going to sleep; the loop announces,
//! re-checks the remote queue and the `block_on` waker's flag, and only then
//! blocks. The protocol lives in [`Sleeper`], with its loom model. The
//! payoff: a wake-up from another thread costs an eventfd write only when
//! the loop really sleeps, and wake-ups on the owner thread (the common
//! case: one task waking another) touch no shared atomic at all beyond the
//! waker's own reference count.
//!
//! # Rejected alternatives
//!
//! - *One mutex-protected queue for everything*: every local spawn and wake
//!   would take a lock; the local queue needs none because only the owner
//!   thread touches it.
//! - *Always writing the eventfd on a remote wake-up*: a system call per
//!   cross-thread message even when the loop is busy.
//! - *LIFO scheduling of woken tasks* (tokio's "LIFO slot"): it helps
//!   message-passing locality on a multi-threaded scheduler, where it keeps
//!   a pair of tasks on one core; on one thread, plain FIFO is both fair and
//!   as cache-friendly. Measured (2026-11-30, a LIFO slot with the
//!   work-stealing flavor's guard of 3 runs in a row): skynet's peak memory
//!   fell by a third (async-loop 533 to 364 MB, green-loop 735 to 501 MB),
//!   its time did not (761 against 790 ms, 1,110 against 1,139 ms, same
//!   run), so the loop stays FIFO.
//!
//! # Shutdown
//!
//! See [`cancel_all`]: close the registry, wake every registered task onto
//! the local queue, drop every queued runnable on the owner thread (which
//! cancels it), repeat until the queues stay empty. The runtime then stops
//! the watchdog, the blocking pool and the driver.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::Location;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use super::local_queue::LocalQueue;
use super::pace::Pace;
use super::per_core::Group;
use super::registry::Registry;
use super::sleeper::Sleeper;
use super::stall::{PollScope, Probe};
use super::{context, RuntimeStats, Scheduler, WorkerStats};
use crate::blocking::BlockingPool;
use crate::driver::Driver;
use crate::task::{Runnable, TaskId};

/// State reachable from any thread.
pub(crate) struct Shared {
    driver: Arc<Driver>,
    remote: Mutex<VecDeque<Runnable>>,
    /// The loop's sleep state; its `pending` count is `remote`'s length.
    sleeper: Sleeper,
    registry: Arc<Registry>,
    blocking: BlockingPool,
    /// Stalls seen by the runtime's watchdog (shared by all its loops).
    stalls: Arc<AtomicU64>,
    /// The per-core runtime this loop is one core of, and its index there.
    group: OnceLock<(Weak<Group>, usize)>,
    event_interval: u32,
    /// The loop's stall probe, which counts its polls too.
    probe: Arc<Probe>,
    parks: AtomicU64,
    remote_schedules: AtomicU64,
}

/// State only the owner thread touches.
pub(crate) struct Local {
    shared: Arc<Shared>,
    queue: LocalQueue<Runnable>,
    /// `shared.probe`, held here too: a poll reaches it without going
    /// through `shared` (one load less a poll: 415 against 417
    /// instructions per n of switch `green-loop`).
    probe: Arc<Probe>,
}

/// What a scheduler is made of besides its queues; the runtime builds the
/// parts (one set per event loop, one for a whole work-stealing runtime).
pub(crate) struct Parts {
    pub(crate) driver: Arc<Driver>,
    pub(crate) blocking: BlockingPool,
    pub(crate) registry: Arc<Registry>,
    pub(crate) stalls: Arc<AtomicU64>,
    pub(crate) event_interval: u32,
}

impl Shared {
    /// Creates a loop whose owner is the calling thread; `probe` is the
    /// stall watchdog's view of it.
    pub(crate) fn new(parts: Parts, probe: Arc<Probe>) -> (Arc<Shared>, Rc<Local>) {
        let shared = Arc::new(Shared {
            driver: parts.driver,
            remote: Mutex::new(VecDeque::new()),
            sleeper: Sleeper::default(),
            registry: parts.registry,
            blocking: parts.blocking,
            stalls: parts.stalls,
            group: OnceLock::new(),
            event_interval: parts.event_interval,
            probe: probe.clone(),
            parks: AtomicU64::new(0),
            remote_schedules: AtomicU64::new(0),
        });
        let local = Rc::new(Local {
            shared: shared.clone(),
            queue: LocalQueue::default(),
            probe,
        });
        (shared, local)
    }

    pub(crate) fn driver(&self) -> &Arc<Driver> {
        &self.driver
    }

    pub(crate) fn blocking(&self) -> &BlockingPool {
        &self.blocking
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Records that this loop is core `index` of `group`.
    pub(crate) fn join_group(&self, group: Weak<Group>, index: usize) {
        let _ = self.group.set((group, index));
    }

    /// The per-core runtime this loop belongs to, and its core index.
    pub(crate) fn group(&self) -> Option<(Arc<Group>, usize)> {
        let (g, i) = self.group.get()?;
        Some((g.upgrade()?, *i))
    }

    pub(crate) fn admit(&self, runnable: Runnable, name: Option<&str>) {
        match self.registry.admit(runnable, name, 0) {
            Ok(runnable) => Scheduler::schedule(runnable, false),
            // Shut down: dropping cancels the task; its handle reports it.
            // Only a Send task can get here off the owner thread
            // (spawn_local needs the loop).
            Err(runnable) => drop(runnable),
        }
    }

    pub(crate) fn push_remote(&self, runnable: Runnable) {
        self.remote
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(runnable);
        self.sleeper.add_pending(1);
        self.remote_schedules.fetch_add(1, Ordering::Relaxed);
        self.notify();
    }

    /// Wakes the loop if it sleeps (see [`Sleeper`] for the protocol).
    fn notify(&self) {
        if self.sleeper.notify() {
            self.driver.unpark();
        }
    }

    pub(crate) fn stats(&self) -> RuntimeStats {
        let (spawned, alive) = self.registry.counts();
        let (blocking_threads, blocking_idle) = self.blocking.counts();
        let worker = WorkerStats {
            polls: self.probe.polls(),
            steals: 0,
            parks: self.parks.load(Ordering::Relaxed),
        };
        RuntimeStats {
            workers: 1,
            tasks_spawned: spawned,
            tasks_alive: alive,
            polls: worker.polls,
            stalls: self.stalls.load(Ordering::Relaxed),
            parks: worker.parks,
            steals: 0,
            remote_schedules: self.remote_schedules.load(Ordering::Relaxed),
            timers_pending: self.driver.timers_pending(),
            blocking_threads,
            blocking_idle,
            per_worker: vec![worker],
        }
    }
}

impl Local {
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Queues a task of this loop's, on its owner thread.
    #[inline]
    pub(crate) fn push_local(&self, runnable: Runnable) {
        self.queue.push(runnable);
    }

    pub(crate) fn owns(&self, runnable: &Runnable) -> bool {
        matches!(&runnable.metadata().sched, Scheduler::EventLoop(s) if self.runs(s))
    }

    /// Whether this is the loop of `shared`.
    pub(crate) fn runs(&self, shared: &Arc<Shared>) -> bool {
        Arc::ptr_eq(shared, &self.shared)
    }

    /// Moves every remotely scheduled task to the back of the local queue.
    fn take_remote(&self) {
        if !self.shared.sleeper.has_pending() {
            return;
        }
        let mut remote = self.shared.remote.lock().unwrap_or_else(|e| e.into_inner());
        self.shared.sleeper.take_pending(remote.len());
        self.queue.extend(&mut remote);
    }

    /// At one of the pace's turns: true if a look at the driver is due
    /// (which takes the remote queue after it), else takes the remote
    /// queue now, so that a remote wake-up waits at most a turn's polls
    /// behind a loop that keeps itself busy.
    fn turn(&self, pace: &Pace) -> bool {
        if pace.look_due() {
            return true;
        }
        self.take_remote();
        false
    }

    /// The next queued task; the remote queue's too when the local one is
    /// empty.
    #[inline]
    fn pop(&self) -> Option<Runnable> {
        self.queue.pop().or_else(|| {
            self.take_remote();
            self.queue.pop()
        })
    }

    /// Brackets one poll for the stall watchdog (and so counts it).
    #[inline]
    fn poll_scope(&self, id: TaskId, location: &'static Location<'static>) -> PollScope<'_> {
        PollScope::begin(&self.probe, id, location)
    }
}

/// The waker of the future passed to `block_on`.
struct MainWaker {
    shared: Arc<Shared>,
    woken: AtomicBool,
}

impl Wake for MainWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.shared.notify();
    }
}

#[track_caller]
pub(crate) fn block_on<F: Future>(local: &Rc<Local>, future: F) -> F::Output {
    let location = Location::caller();
    let _drive = context::drive(local.clone());
    let shared = &local.shared;
    let main = Arc::new(MainWaker {
        shared: shared.clone(),
        woken: AtomicBool::new(true),
    });
    let waker = Waker::from(main.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    let pace = Pace::new(shared.event_interval);
    // Time for a look at the driver (see `pace`).
    let mut look = false;

    loop {
        if main.woken.swap(false, Ordering::SeqCst) {
            let _scope = local.poll_scope(TaskId::BLOCK_ON, location);
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
            look = pace.tick() && local.turn(&pace);
        }

        if !look {
            // Run queued tasks until the queue is empty or a look is due.
            look = crate::coop::across_polls(|| {
                while let Some(runnable) = local.pop() {
                    let meta = runnable.metadata();
                    let scope = local.poll_scope(meta.id, meta.location);
                    crate::coop::fresh_budget();
                    let yielded = runnable.run();
                    drop(scope);
                    if let Some(runnable) = yielded {
                        local.push_local(runnable);
                    }
                    if pace.tick() && local.turn(&pace) {
                        return true;
                    }
                }
                false
            });
        }

        if look {
            // Busy: give I/O, timers and other threads a turn without
            // blocking.
            look = false;
            pace.looked(shared.driver.park(Some(Duration::ZERO)));
            local.take_remote();
            continue;
        }
        if main.woken.load(Ordering::SeqCst) || !local.queue.is_empty() {
            continue;
        }

        if shared.sleeper.prepare(|| main.woken.load(Ordering::SeqCst)) {
            shared.parks.fetch_add(1, Ordering::Relaxed);
            shared.driver.park(None);
            shared.sleeper.woke();
        }
        // Ran dry: a fresh start for the spacing.
        pace.looked(true);
    }
}

/// Cancels every unfinished task, on the owner thread: closes the registry,
/// wakes every registered task onto the local queue and drops each queued
/// runnable (which cancels it), until the queues stay empty. Idempotent: a
/// second call finds the registry closed and empty.
pub(crate) fn cancel_all(local: &Rc<Local>) {
    let _drive = context::drive_for_shutdown(local.clone());
    // Each wake queues the task here (we drive the loop), unless it is
    // queued already.
    for w in local.shared.registry.close() {
        w.wake();
    }
    // Dropping a future may wake other tasks, which land in the queues
    // again: drain to quiescence.
    loop {
        local.take_remote();
        match local.queue.pop() {
            Some(runnable) => drop(runnable),
            None => break,
        }
    }
}
