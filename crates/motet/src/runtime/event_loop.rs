//! The event-loop flavor: one thread runs every task (Node's model, and that
//! of every epoll loop, Twisted and Tornado).
//!
//! # Glossary
//!
//! - **owner thread**: the thread that built the runtime and calls
//!   `block_on`; the only one that ever polls or drops a task.
//! - **local queue**: FIFO of runnable tasks, touched only by the owner
//!   thread, without locks (a `RefCell` reached through the thread's
//!   context while it drives the loop).
//! - **remote queue**: FIFO behind a mutex for wake-ups and spawns from other
//!   threads; the loop moves it wholesale into the local queue every
//!   [`REMOTE_INTERVAL`] polls and whenever the local queue runs dry.
//! - **sleeping**: the loop is blocked (or about to block) in
//!   `Driver::park`; a remote wake-up must then unpark the driver.
//!
//! # The loop
//!
//! ```text
//! loop {
//!     if the block_on future was woken: poll it; return if ready
//!     run queued tasks, FIFO, until the queue is empty
//!         (every event_interval polls: look at the driver without blocking)
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
//!   as cache-friendly.
//!
//! # Shutdown
//!
//! See [`shutdown`]: close the registry, wake every registered task onto the
//! local queue, drop every queued runnable on the owner thread (which
//! cancels it), repeat until the queues stay empty; then stop the watchdog,
//! the blocking pool, and the driver.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::panic::Location;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use slab::Slab;

use super::sleeper::Sleeper;
use super::stall::{Probe, Watchdog};
use super::{context, Builder, RuntimeStats, Scheduler};
use crate::blocking::BlockingPool;
use crate::driver::Driver;
use crate::task::{Runnable, TaskId};

/// Polls between two moves of the remote queue into the local one while
/// the local queue is busy: bounds how long a remote wake-up can wait behind
/// a loop that keeps itself busy.
const REMOTE_INTERVAL: u32 = 31;

/// State reachable from any thread.
pub(crate) struct Shared {
    driver: Arc<Driver>,
    remote: Mutex<VecDeque<Runnable>>,
    /// The loop's sleep state; its `pending` count is `remote`'s length.
    sleeper: Sleeper,
    registry: Mutex<Registry>,
    blocking: BlockingPool,
    watchdog: Mutex<Option<Watchdog>>,
    shut_down: AtomicBool,
    event_interval: u32,
    polls: AtomicU64,
    parks: AtomicU64,
    remote_schedules: AtomicU64,
}

/// Every live task, so that shutdown can reach the ones nobody will wake.
#[derive(Default)]
struct Registry {
    tasks: Slab<Waker>,
    /// Names of the tasks that have one (few do), for the stall detector.
    names: HashMap<TaskId, Box<str>>,
    spawned: u64,
    /// Set at shutdown: new tasks are cancelled at once.
    closed: bool,
}

/// State only the owner thread touches.
pub(crate) struct Local {
    shared: Arc<Shared>,
    queue: RefCell<VecDeque<Runnable>>,
    probe: Option<Arc<Probe>>,
    tick: Cell<u32>,
}

impl Shared {
    pub(crate) fn new(cfg: &Builder) -> std::io::Result<(Arc<Shared>, Rc<Local>)> {
        let driver = Arc::new(Driver::new()?);
        let shared = Arc::new(Shared {
            driver,
            remote: Mutex::new(VecDeque::new()),
            sleeper: Sleeper::default(),
            registry: Mutex::new(Registry::default()),
            blocking: BlockingPool::new(cfg.max_blocking_threads, cfg.blocking_keep_alive),
            watchdog: Mutex::new(None),
            shut_down: AtomicBool::new(false),
            event_interval: cfg.event_interval,
            polls: AtomicU64::new(0),
            parks: AtomicU64::new(0),
            remote_schedules: AtomicU64::new(0),
        });
        let probe = match cfg.stall_threshold {
            None => None,
            Some(threshold) => {
                let probe = Arc::new(Probe::default());
                let weak: Weak<Shared> = Arc::downgrade(&shared);
                let name_of = move |id: TaskId| -> Option<String> {
                    let shared = weak.upgrade()?;
                    let reg = shared.registry();
                    reg.names.get(&id).map(|n| n.to_string())
                };
                let dog = Watchdog::start(threshold, vec![probe.clone()], Box::new(name_of))?;
                *shared.watchdog.lock().unwrap_or_else(|e| e.into_inner()) = Some(dog);
                Some(probe)
            }
        };
        let local = Rc::new(Local {
            shared: shared.clone(),
            queue: RefCell::new(VecDeque::new()),
            probe,
            tick: Cell::new(0),
        });
        Ok((shared, local))
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn driver(&self) -> &Arc<Driver> {
        &self.driver
    }

    pub(crate) fn blocking(&self) -> &BlockingPool {
        &self.blocking
    }

    pub(crate) fn admit(&self, runnable: Runnable, name: Option<&str>) {
        let mut reg = self.registry();
        if reg.closed {
            drop(reg);
            // Cancels the task; its handle reports it. Only a Send task can
            // get here off the owner thread (spawn_local needs the loop).
            drop(runnable);
            return;
        }
        let key = reg.tasks.insert(runnable.waker());
        reg.spawned += 1;
        if let Some(name) = name {
            reg.names.insert(runnable.metadata().id, name.into());
        }
        runnable.metadata().key.store(key, Ordering::Release);
        drop(reg);
        schedule(runnable);
    }

    pub(crate) fn deregister(&self, key: usize, id: TaskId) {
        let mut reg = self.registry();
        reg.tasks.try_remove(key);
        if !reg.names.is_empty() {
            reg.names.remove(&id);
        }
    }

    pub(crate) fn wake_registered(&self, key: usize) {
        let waker = self.registry().tasks.get(key).cloned();
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn push_remote(&self, runnable: Runnable) {
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
        let (spawned, alive) = {
            let reg = self.registry();
            (reg.spawned, reg.tasks.len())
        };
        let stalls = self
            .watchdog
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map_or(0, |w| w.stalls());
        let (blocking_threads, blocking_idle) = self.blocking.counts();
        RuntimeStats {
            workers: 1,
            tasks_spawned: spawned,
            tasks_alive: alive,
            polls: self.polls.load(Ordering::Relaxed),
            stalls,
            parks: self.parks.load(Ordering::Relaxed),
            remote_schedules: self.remote_schedules.load(Ordering::Relaxed),
            timers_pending: self.driver.timers_pending(),
            blocking_threads,
            blocking_idle,
        }
    }
}

/// Queues a task of an event-loop runtime: straight onto the local queue on
/// the owner thread, through the remote queue from anywhere else.
pub(crate) fn schedule(runnable: Runnable) {
    let back = context::with_local(move |local| match local {
        Some(l) if l.owns(&runnable) => {
            l.queue.borrow_mut().push_back(runnable);
            None
        }
        _ => Some(runnable),
    });
    if let Some(runnable) = back {
        let Scheduler::EventLoop(shared) = &runnable.metadata().sched;
        let shared = shared.clone();
        shared.push_remote(runnable);
    }
}

impl Local {
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    fn owns(&self, runnable: &Runnable) -> bool {
        let Scheduler::EventLoop(s) = &runnable.metadata().sched;
        Arc::ptr_eq(s, &self.shared)
    }

    /// Moves every remotely scheduled task to the back of the local queue.
    fn take_remote(&self) {
        if !self.shared.sleeper.has_pending() {
            return;
        }
        let mut remote = self.shared.remote.lock().unwrap_or_else(|e| e.into_inner());
        self.shared.sleeper.take_pending(remote.len());
        self.queue.borrow_mut().extend(remote.drain(..));
    }

    fn pop(&self) -> Option<Runnable> {
        let tick = self.tick.get().wrapping_add(1);
        self.tick.set(tick);
        if tick % REMOTE_INTERVAL == 0 {
            self.take_remote();
        }
        let next = self.queue.borrow_mut().pop_front();
        next.or_else(|| {
            self.take_remote();
            self.queue.borrow_mut().pop_front()
        })
    }

    /// Brackets one poll for the stall watchdog and the poll counter.
    fn poll_scope(&self, id: TaskId, location: &'static Location<'static>) -> PollScope<'_> {
        let polls = &self.shared.polls;
        polls.store(polls.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        if let Some(p) = &self.probe {
            p.begin(id, location);
        }
        PollScope(self.probe.as_deref())
    }
}

struct PollScope<'a>(Option<&'a Probe>);

impl Drop for PollScope<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.0 {
            p.end();
        }
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
    let interval = shared.event_interval;
    // Polls since the driver was last consulted.
    let mut since_io = 0u32;

    loop {
        if main.woken.swap(false, Ordering::SeqCst) {
            let _scope = local.poll_scope(TaskId::BLOCK_ON, location);
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
            since_io += 1;
        }

        while let Some(runnable) = local.pop() {
            let meta = runnable.metadata();
            let scope = local.poll_scope(meta.id, meta.location);
            runnable.run();
            drop(scope);
            since_io += 1;
            if since_io >= interval {
                break;
            }
        }

        if since_io >= interval {
            // Busy: give I/O and timers a turn without blocking.
            since_io = 0;
            shared.driver.park(Some(Duration::ZERO));
            continue;
        }
        if main.woken.load(Ordering::SeqCst) || !local.queue.borrow().is_empty() {
            continue;
        }

        if shared.sleeper.prepare(|| main.woken.load(Ordering::SeqCst)) {
            shared.parks.fetch_add(1, Ordering::Relaxed);
            shared.driver.park(None);
            shared.sleeper.woke();
        }
        since_io = 0;
    }
}

/// Cancels every unfinished task on the owner thread, then stops the
/// watchdog, the blocking pool and the driver. Idempotent.
pub(crate) fn shutdown(local: &Rc<Local>, blocking_timeout: Option<Duration>) {
    let shared = &local.shared;
    if shared.shut_down.swap(true, Ordering::SeqCst) {
        return;
    }
    {
        let _drive = context::drive_for_shutdown(local.clone());
        let wakers: Vec<Waker> = {
            let mut reg = shared.registry();
            reg.closed = true;
            reg.names.clear();
            reg.tasks.drain().collect()
        };
        // Each wake queues the task here (we drive the loop), unless it is
        // queued already.
        for w in wakers {
            w.wake();
        }
        // Dropping a runnable cancels its task; dropping a future may wake
        // other tasks, which land in the queues again: drain to quiescence.
        loop {
            local.take_remote();
            let next = local.queue.borrow_mut().pop_front();
            match next {
                Some(runnable) => drop(runnable),
                None => break,
            }
        }
    }
    let dog = shared
        .watchdog
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    drop(dog);
    shared.blocking.shutdown(blocking_timeout);
    shared.driver.shutdown();
}
