//! The work-stealing flavor: n workers, tasks migrate (Go's and tokio's shape).
//!
//! # Glossary
//!
//! - **worker**: one OS thread (`motet-worker-<i>`) running tasks.
//! - **local queue**: a worker's FIFO of runnable tasks (crossbeam-deque's
//!   `Worker`); other workers steal half of it at a time through its
//!   `Stealer`.
//! - **LIFO slot**: one task a worker runs next, ahead of its queue: the task
//!   just spawned, or woken, by the task that just ran. A spawn tree then runs
//!   depth first (few live tasks, each freed by the thread that allocated
//!   it), and message passing between two tasks stays on one core, hot in
//!   cache, with no other worker woken. Thieves take it only as a last
//!   resort, from a worker stuck in one poll (`lifo.rs`; Go's `runnext`).
//! - **injector**: the global queue, for tasks spawned or woken from outside
//!   the workers.
//! - **searching**: a worker with nothing local, looking for work to steal.
//! - **parked**: a worker asleep, on its condvar or inside the shared driver
//!   (see [`Parker`]); [`Idle`] decides whom to wake.
//!
//! # The worker loop
//!
//! ```text
//! loop {                                   // a turn: rare work first
//!     closing: stop
//!     take the inbox's wake-ups onto the pinned FIFO
//!     after a busy stretch: one task from the injector first (fairness)
//!     next task: own tasks (below), injector, search (steal), if allowed
//!     none: park (in the driver if its lock is free, else on the condvar)
//!     run it, then own tasks until a turn is due:
//!     loop {
//!         a turn is due every 32 polls; with some of them (every
//!             event_interval polls, spaced out while looks find nothing)
//!             first a look at the driver without blocking
//!         next: LIFO slot (at most 3 times in a row), then the pinned FIFO
//!             and the stealable queue, alternating which comes first
//!         none: a turn is due
//!     }
//! }
//! ```
//!
//! A poll that follows another on the same worker pays only for the inner
//! loop; the closing flag, the inbox, the injector and the search state
//! wait for the outer turns. One countdown (`pace.rs`) serves the turns,
//! the looks and the alternation (its low bit): one decrement and one test
//! a poll.
//!
//! # Where wake-ups go, and why
//!
//! Measured here: waking a parked thread on the other core costs about 20 µs
//! before it runs, a hop through a queue well under 1 µs. tokio's
//! multi-thread runtime loses to its own current_thread runtime on
//! message-passing workloads on this VM because of such wake-ups. So:
//!
//! - a task spawned or woken by a running task goes to the LIFO slot and
//!   wakes nobody;
//! - a task pushed onto a stealable queue (a LIFO task displaced, a yield)
//!   wakes one parked worker, as a searcher, only if the queue now holds
//!   more than that one task and no worker is searching already (the
//!   searcher will find it);
//! - a searcher that finds work and was the last searcher wakes one more;
//! - at most half the workers search at once (no thundering herd);
//! - a thief leaves a victim's lone queued task alone (the victim runs it
//!   next, in cache, on its own thread) unless the victim has stayed in one
//!   poll for a few microseconds; so pushing a lone task wakes nobody, and
//!   a parking worker's re-check ignores one (a worker stuck in a long poll
//!   right after queueing one task keeps it until then, or until a thief
//!   searching anyway takes it, as with its LIFO task). This matters most
//!   for green threads, which are placed for good at their first run: two
//!   green threads spawned one after the other (a ping-pong pair) otherwise
//!   start on two workers when the second displaces the first from the
//!   LIFO slot and a woken thief takes it, and then cross cores at every
//!   message (lab ring on `green`: 565-646 ns per hop before, 432-460
//!   after, same runs; skynet unchanged).
//!
//! The LIFO slot has a guard: after [`MAX_LIFO_POLLS`] consecutive LIFO
//! runs, the LIFO task goes to the back of the queue, so two tasks
//! ping-ponging through the slot cannot starve the rest of the queue.
//!
//! # Pinned tasks (green threads)
//!
//! A task whose metadata says `pinned` (a green thread, by default) may
//! start on any worker, but from its first poll on it lives on that worker,
//! its *home*: it is never stolen, because a coroutine resumed on another OS
//! thread could read a stale thread-local address (see `green`'s docs).
//! Each worker keeps a non-stealable FIFO of its pinned tasks, plus an
//! inbox (a mutex-protected queue) where other threads deliver wake-ups of
//! its pinned tasks, unparking it. A pinned task displaced from the LIFO slot
//! goes to the pinned FIFO, not the stealable queue. The worker alternates
//! between its pinned FIFO and its stealable queue, so neither starves.
//!
//! # Budget
//!
//! Each task poll runs with a cooperative budget (`coop.rs`, 128 resource
//! operations), so a task that always finds its resources ready yields.
//!
//! # Shutdown
//!
//! A pinned task must be dropped on its home worker too (dropping a green
//! thread unwinds its stack, running destructors that may touch
//! thread-locals). So the workers take part in shutdown:
//!
//! 1. The dropping thread sets the `closing` flag, closes the registry (new
//!    spawns are cancelled at once) and wakes every registered task: pinned
//!    ones land in their home's inbox, the rest in the injector. A task in
//!    the middle of a poll is queued again by its cell when its poll ends.
//! 2. It unparks every worker. A worker sees the flag at its next outer
//!    turn (a busy one within 32 polls) and from then on runs nothing: it
//!    drops every task it pops, from its LIFO slot, pinned FIFO, inbox,
//!    queue and the injector (dropping a runnable cancels its task, so its
//!    `JoinHandle` reports cancellation), until the registry is empty (a
//!    dropped future may wake other tasks, which come back through the
//!    queues), then exits.
//! 3. The dropping thread joins every worker; then the blocking pool and the
//!    driver stop. No thread is left behind.

use std::cell::Cell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_deque::{Injector, Steal, Stealer, Worker as Queue};
use crossbeam_utils::CachePadded;

use super::event_loop::Parts;
use super::home_spin::{self, HomeSpin};
use super::idle::Idle;
use super::lifo::LifoSlot;
use super::local_queue::LocalQueue;
use super::pace::Pace;
use super::parker::{DriverSlot, Parker};
use super::registry::Registry;
use super::stall::{PollScope, Probe};
use super::{context, RuntimeStats, Scheduler, WorkerStats};
use crate::blocking::BlockingPool;
use crate::driver::Driver;
use crate::task::{Runnable, FREE, UNHOMED};

/// Consecutive runs from the LIFO slot before it yields to the queue.
const MAX_LIFO_POLLS: u32 = 3;
/// How long a thief with nothing else to do waits for a victim to move on
/// before taking its LIFO task. A few microseconds: long against one poll of
/// a well-behaved task, short against a stall.
const LIFO_STEAL_WAIT: Duration = Duration::from_micros(5);

/// State shared by every worker and every handle.
pub(crate) struct Shared {
    driver: Arc<Driver>,
    injector: Injector<Runnable>,
    stealers: Box<[Stealer<Runnable>]>,
    /// Per worker: its LIFO slot (see `lifo.rs`).
    // Per-worker state that other workers read or write sits on cache
    // lines of its own: side by side, each worker's write to its own LIFO
    // slot (every spawn and wake) or counter moved the line from under the
    // other worker. (The poll counter is the stall probe's, padded too.)
    lifos: Box<[Arc<CachePadded<LifoSlot>>]>,
    parkers: Box<[CachePadded<Parker>]>,
    idle: Idle,
    /// Per worker: wake-ups of its pinned tasks from other threads.
    inboxes: Box<[Arc<CachePadded<Inbox>>]>,
    registry: Arc<Registry>,
    blocking: BlockingPool,
    stalls: Arc<AtomicU64>,
    /// Set when the runtime is dropped: workers drop tasks instead of
    /// running them (see "Shutdown").
    closing: AtomicBool,
    counters: Box<[CachePadded<Counters>]>,
    /// Per worker: its stall probe, which counts its polls too.
    probes: Box<[Arc<Probe>]>,
    remote_schedules: AtomicU64,
    event_interval: u32,
}

/// A worker's own task, and where it came from.
enum Own {
    /// From the pinned FIFO: pinned to this worker, which is its home.
    Pinned(Runnable),
    /// From the LIFO slot or the stealable queue: any task.
    Other(Runnable),
}

impl Own {
    fn into_task(self) -> Runnable {
        match self {
            Own::Pinned(task) | Own::Other(task) => task,
        }
    }
}

/// Wake-ups of one worker's pinned tasks, delivered by other threads.
#[derive(Default)]
struct Inbox {
    queue: Mutex<VecDeque<Runnable>>,
    /// `queue`'s length, readable without the lock.
    len: AtomicUsize,
}

impl Inbox {
    fn push(&self, task: Runnable) {
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(task);
        self.len.fetch_add(1, Ordering::SeqCst);
    }

    /// Moves every delivered task into `into`; false if there was none.
    /// The empty inbox's answer is inlined into the worker's loop, which
    /// asks before every task.
    #[inline]
    fn take_all(&self, into: &LocalQueue<Runnable>) -> bool {
        if self.len.load(Ordering::SeqCst) == 0 {
            return false;
        }
        self.take_all_now(into);
        true
    }

    #[inline(never)]
    fn take_all_now(&self, into: &LocalQueue<Runnable>) {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        self.len.fetch_sub(q.len(), Ordering::SeqCst);
        into.extend(&mut q);
    }

    fn is_empty(&self) -> bool {
        self.len.load(Ordering::SeqCst) == 0
    }
}

/// One worker's counters (written only by that worker).
#[derive(Default)]
struct Counters {
    steals: AtomicU64,
    parks: AtomicU64,
}

impl Counters {
    fn bump(counter: &AtomicU64) {
        // Single writer: a plain load and store, no read-modify-write.
        counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }
}

/// A worker's own state, reached through the thread's context.
pub(crate) struct Core {
    shared: Arc<Shared>,
    index: usize,
    queue: Queue<Runnable>,
    lifo_polls: Cell<u32>,
    /// Pinned tasks whose home is this worker (never stolen).
    pinned: LocalQueue<Runnable>,
    searching: Cell<bool>,
    /// The inbox delivered wake-ups since this worker last went idle.
    inbox_active: Cell<bool>,
    /// This worker's tasks woke a pinned task homed on another worker
    /// since it last went idle.
    conversing: Cell<bool>,
    /// How long to spin for the next one (see `home_spin`).
    home_spin: HomeSpin,
    /// `shared.probes[index]`, held here for the same reason as `lifo`
    /// and `inbox` below.
    probe: Arc<Probe>,
    /// This worker's LIFO slot and inbox (also in `shared`, for the other
    /// threads): held here too, so that the loop reaches them without an
    /// index and its bounds check.
    lifo: Arc<CachePadded<LifoSlot>>,
    inbox: Arc<CachePadded<Inbox>>,
    /// Which comes first on the next outer turn: the stealable queue
    /// (true) or the pinned FIFO. (The inner loop asks the pace's
    /// countdown instead, whose parity changes at every poll; an outer
    /// turn may come at every poll, at a fixed count.)
    queue_first: Cell<bool>,
    /// When this worker, busy, looks at the driver, and takes its turns.
    pace: Pace,
    rng: Cell<u64>,
}

impl DriverSlot for Driver {
    fn try_park(&self, before_block: &mut dyn FnMut() -> bool) -> bool {
        match self.try_lock() {
            Some(guard) => {
                if before_block() {
                    guard.park(None);
                }
                true
            }
            None => false,
        }
    }

    fn unpark(&self) {
        Driver::unpark(self);
    }
}

/// Starts the workers. Returns the shared state and their join handles.
pub(crate) fn start(
    workers: usize,
    parts: Parts,
    probes: &[Arc<Probe>],
) -> std::io::Result<(Arc<Shared>, Vec<thread::JoinHandle<()>>)> {
    let queues: Vec<Queue<Runnable>> = (0..workers).map(|_| Queue::new_fifo()).collect();
    let shared = Arc::new(Shared {
        driver: parts.driver,
        injector: Injector::new(),
        stealers: queues.iter().map(|q| q.stealer()).collect(),
        lifos: (0..workers).map(|_| Arc::default()).collect(),
        parkers: (0..workers).map(|_| CachePadded::default()).collect(),
        idle: Idle::new(workers),
        inboxes: (0..workers).map(|_| Arc::default()).collect(),
        registry: parts.registry,
        blocking: parts.blocking,
        stalls: parts.stalls,
        closing: AtomicBool::new(false),
        counters: (0..workers).map(|_| CachePadded::default()).collect(),
        probes: probes.into(),
        remote_schedules: AtomicU64::new(0),
        event_interval: parts.event_interval,
    });
    let mut threads = Vec::with_capacity(workers);
    for (index, queue) in queues.into_iter().enumerate() {
        let shared2 = shared.clone();
        let probe = probes[index].clone();
        let (lifo, inbox) = (shared.lifos[index].clone(), shared.inboxes[index].clone());
        let spawned = thread::Builder::new()
            .name(format!("motet-worker-{index}"))
            .spawn(move || {
                // A migratable green thread may move to this worker (the
                // overflow handler is in place by then: its first poll,
                // elsewhere, installed it).
                crate::green::ensure_altstack();
                let pace = Pace::new(shared2.event_interval);
                let core = Rc::new(Core {
                    shared: shared2,
                    index,
                    queue,
                    lifo_polls: Cell::new(0),
                    pinned: LocalQueue::default(),
                    searching: Cell::new(false),
                    inbox_active: Cell::new(false),
                    conversing: Cell::new(false),
                    home_spin: HomeSpin::new(),
                    probe,
                    lifo,
                    inbox,
                    queue_first: Cell::new(false),
                    pace,
                    rng: Cell::new(
                        0x9E37_79B9_7F4A_7C15
                            ^ (index as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9),
                    ),
                });
                core.run();
            });
        match spawned {
            Ok(t) => threads.push(t),
            Err(e) => {
                // Stop the ones already started before reporting.
                stop_workers(&shared, threads);
                return Err(e);
            }
        }
    }
    Ok((shared, threads))
}

impl Shared {
    pub(crate) fn driver(&self) -> &Arc<Driver> {
        &self.driver
    }

    pub(crate) fn blocking(&self) -> &BlockingPool {
        &self.blocking
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Number of workers.
    pub(crate) fn workers(&self) -> usize {
        self.counters.len()
    }

    /// Registers a new task and queues it: on a worker, in its LIFO slot
    /// (the previous occupant goes to the stealable queue).
    pub(crate) fn admit(&self, runnable: Runnable, name: Option<&str>) {
        // Each worker registers in its own shard (see `registry.rs`).
        let shard = context::worker_index().unwrap_or(0);
        match self.registry.admit(runnable, name, shard) {
            Ok(runnable) => Scheduler::schedule(runnable, false),
            Err(runnable) => drop(runnable), // shut down: cancelled
        }
    }

    pub(crate) fn schedule_remote(&self, runnable: Runnable) {
        self.remote_schedules.fetch_add(1, Ordering::Relaxed);
        match home_of(&runnable) {
            Some(home) => self.deliver_home(home, runnable),
            None => {
                self.injector.push(runnable);
                self.notify_parked();
            }
        }
    }

    /// Hands a pinned task to its home worker's inbox and wakes that worker.
    fn deliver_home(&self, home: usize, runnable: Runnable) {
        self.inboxes[home].push(runnable);
        self.parkers[home].unpark(Some(&*self.driver));
    }

    /// Wakes one parked worker if work was pushed and nobody is searching.
    fn notify_parked(&self) {
        if let Some(index) = self.idle.worker_to_notify() {
            self.parkers[index].unpark(Some(&*self.driver));
        }
    }

    /// Work an idle worker may take now: anything in the injector, or a
    /// worker's queue holding more than a lone task (which its own worker
    /// runs next; see [`stealable`]).
    fn has_visible_work(&self) -> bool {
        !self.injector.is_empty() || self.stealers.iter().any(stealable)
    }

    pub(crate) fn stats(&self) -> RuntimeStats {
        let (spawned, alive) = self.registry.counts();
        let (blocking_threads, blocking_idle) = self.blocking.counts();
        let per_worker: Vec<WorkerStats> = self
            .counters
            .iter()
            .zip(self.probes.iter())
            .map(|(c, probe)| WorkerStats {
                polls: probe.polls(),
                steals: c.steals.load(Ordering::Relaxed),
                parks: c.parks.load(Ordering::Relaxed),
            })
            .collect();
        RuntimeStats {
            workers: self.workers(),
            tasks_spawned: spawned,
            tasks_alive: alive,
            polls: per_worker.iter().map(|w| w.polls).sum(),
            stalls: self.stalls.load(Ordering::Relaxed),
            parks: per_worker.iter().map(|w| w.parks).sum(),
            steals: per_worker.iter().map(|w| w.steals).sum(),
            remote_schedules: self.remote_schedules.load(Ordering::Relaxed),
            timers_pending: self.driver.timers_pending(),
            blocking_threads,
            blocking_idle,
            per_worker,
        }
    }
}

impl Core {
    pub(crate) fn owns(&self, runnable: &Runnable) -> bool {
        matches!(&runnable.metadata().sched, Scheduler::WorkStealing(s) if self.runs(s))
    }

    /// Whether this is a worker of `shared`'s runtime.
    pub(crate) fn runs(&self, shared: &Arc<Shared>) -> bool {
        Arc::ptr_eq(shared, &self.shared)
    }

    /// The worker's index (0-based).
    pub(crate) fn index(&self) -> usize {
        self.index
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    pub(crate) fn schedule_local(&self, runnable: Runnable, yielded: bool) {
        if let Some(home) = home_of(&runnable) {
            if home != self.index {
                if crate::task::cell::in_poll() {
                    // A message to a green thread homed elsewhere: an
                    // answer may come back the same way (see `home_spin`).
                    self.conversing.set(true);
                }
                self.shared.deliver_home(home, runnable);
                return;
            }
        }
        if yielded {
            self.push_back(runnable);
            return;
        }
        if let Some(prev) = self.lifo.replace(runnable) {
            self.push_back(prev);
        }
    }

    /// Queues a task at the back: a pinned task on this worker's pinned
    /// FIFO, any other on the stealable queue (telling idle workers).
    #[inline]
    fn push_back(&self, task: Runnable) {
        if home_of(&task).is_some() {
            self.pinned.push(task);
        } else {
            self.queue.push(task);
            // A lone task is this worker's to run next: nobody to wake.
            if self.queue.len() >= 2 {
                self.shared.notify_parked();
            }
        }
    }

    fn run(self: &Rc<Self>) {
        let _drive = context::drive_worker(self.clone());
        // Each task's poll begins with a fresh budget (`poll`).
        crate::coop::across_polls(|| self.run_tasks());
        self.drop_tasks_until_none_left();
    }

    /// Runs tasks until the runtime closes: the outer loop of the module
    /// docs.
    fn run_tasks(&self) {
        // The last inner loop stopped for a turn, not for want of tasks.
        let mut busy = false;
        while !self.shared.closing.load(Ordering::Acquire) {
            if let Some(task) = self.next_task(busy).or_else(|| self.search()) {
                if self.searching.get() {
                    self.found_work();
                }
                self.run_task(task);
                busy = self.run_own_tasks();
                continue;
            }
            busy = false;
            // Idle. A worker whose pinned tasks were woken from other
            // threads since it last went idle spins for the next such
            // wake-up first (long only if it is conversing: see
            // `home_spin`), and learns how long they take to come.
            let conversing = self.conversing.replace(false);
            let spin_since = self.inbox_active.replace(false).then(Instant::now);
            if let Some(since) = spin_since {
                if self.spin_for_home_wakeups(since, conversing) {
                    continue;
                }
            }
            self.park();
            if let Some(since) = spin_since {
                if conversing && !self.inbox.is_empty() {
                    self.home_spin.waited(since.elapsed());
                }
            }
            // Ran dry: a fresh start for the spacing.
            self.pace.looked(true);
        }
    }

    /// The inner loop of the module docs: runs this worker's own tasks
    /// until a turn is due (true) or none is left (false).
    #[inline]
    fn run_own_tasks(&self) -> bool {
        loop {
            if self.pace.tick() {
                if self.pace.look_due() {
                    // Busy: give I/O and timers a turn if nobody sleeps in
                    // the driver (see `pace` for the spacing).
                    self.pace.looked(self.shared.driver.try_park_now());
                }
                return true;
            }
            match self.next_own_task(self.pace.left() % 2 == 1) {
                Some(Own::Pinned(task)) => self.run_pinned(task),
                Some(Own::Other(task)) => self.run_task(task),
                None => return false,
            }
        }
    }

    /// Shutdown step 2 (see the module docs): drop every task that reaches
    /// this worker, on this thread, until the runtime has no task left.
    fn drop_tasks_until_none_left(&self) {
        loop {
            loop {
                self.inbox.take_all(&self.pinned);
                let next = self.lifo.take().or_else(|| self.pinned.pop());
                let next = next
                    .or_else(|| self.queue.pop())
                    .or_else(|| steal_one(&self.shared.injector));
                match next {
                    Some(task) => drop(task), // cancels it
                    None => break,
                }
            }
            if self.shared.registry.counts().1 == 0 {
                return;
            }
            // Other workers are still dropping tasks, some of which may wake
            // tasks that come back here. Shutdown only: a short sleep is fine.
            thread::sleep(Duration::from_micros(200));
        }
    }

    /// The outer turn's task: after the inbox's wake-ups, and after one
    /// look at the injector if the worker has been `busy` with its own
    /// tasks (so they cannot starve it), this worker's own tasks, then a
    /// batch from the injector.
    fn next_task(&self, busy: bool) -> Option<Runnable> {
        if self.inbox.take_all(&self.pinned) {
            self.inbox_active.set(true);
        }
        if busy {
            if let Some(task) = steal_one(&self.shared.injector) {
                return Some(task);
            }
        }
        let queue_first = !self.queue_first.get();
        self.queue_first.set(queue_first);
        self.next_own_task(queue_first)
            .map(Own::into_task)
            .or_else(|| steal_batch(&self.shared.injector, &self.queue))
    }

    /// This worker's next own task: its LIFO task, unless that has run
    /// [`MAX_LIFO_POLLS`] times in a row (it goes to the back then), else
    /// the head of the pinned FIFO or of the stealable queue, `queue_first`
    /// saying which to try first (the caller alternates, so neither
    /// starves).
    #[inline]
    fn next_own_task(&self, queue_first: bool) -> Option<Own> {
        if let Some(task) = self.lifo.take() {
            if self.lifo_polls.get() < MAX_LIFO_POLLS {
                self.lifo_polls.set(self.lifo_polls.get() + 1);
                return Some(Own::Other(task));
            }
            // The guard: let the queues run before this task again.
            self.push_back(task);
        }
        self.lifo_polls.set(0);
        // An empty stealable queue is told by two loads; its `pop` is a
        // call.
        let stealable = || {
            if self.queue.is_empty() {
                None
            } else {
                self.queue.pop().map(Own::Other)
            }
        };
        let pinned = || self.pinned.pop().map(Own::Pinned);
        if queue_first {
            stealable().or_else(pinned)
        } else {
            pinned().or_else(stealable)
        }
    }

    /// Steals from the injector and the other workers, if allowed to search.
    fn search(&self) -> Option<Runnable> {
        if !self.searching.get() {
            if !self.shared.idle.start_searching() {
                return None;
            }
            self.searching.set(true);
        }
        let n = self.shared.stealers.len();
        let start = self.next_random() as usize % n;
        for i in 0..n {
            let victim = (start + i) % n;
            if victim == self.index || !stealable(&self.shared.stealers[victim]) {
                continue;
            }
            let stealer = &self.shared.stealers[victim];
            if let Some(task) = until_settled(|| stealer.steal_batch_and_pop(&self.queue)) {
                Counters::bump(&self.shared.counters[self.index].steals);
                return Some(task);
            }
        }
        steal_batch(&self.shared.injector, &self.queue).or_else(|| self.steal_from_stuck(start))
    }

    /// The last resort: a victim's lone queued task, else its LIFO task, if
    /// the victim has stayed in one poll for [`LIFO_STEAL_WAIT`] (see
    /// `lifo.rs`).
    fn steal_from_stuck(&self, start: usize) -> Option<Runnable> {
        let shared = &self.shared;
        let n = shared.lifos.len();
        for i in 0..n {
            let victim = (start + i) % n;
            if victim == self.index
                || (!shared.lifos[victim].is_occupied() && shared.stealers[victim].is_empty())
            {
                continue;
            }
            let polls = shared.probes[victim].polls();
            let since = Instant::now();
            while since.elapsed() < LIFO_STEAL_WAIT {
                if !self.inbox.is_empty() {
                    return None; // this worker's own tasks come first
                }
                std::hint::spin_loop();
            }
            if shared.probes[victim].polls() != polls {
                continue; // the victim moved on: it will run its LIFO task itself
            }
            let Some(task) =
                steal_one_from(&shared.stealers[victim]).or_else(|| shared.lifos[victim].take())
            else {
                continue;
            };
            if let Some(home) = home_of(&task) {
                if home != self.index {
                    shared.deliver_home(home, task);
                    continue;
                }
            }
            Counters::bump(&shared.counters[self.index].steals);
            return Some(task);
        }
        None
    }

    /// A searching worker found a task: it stops searching.
    fn found_work(&self) {
        self.searching.set(false);
        if self.shared.idle.stop_searching() && self.shared.has_visible_work() {
            // The last searcher found work and more is waiting: hand
            // the search over. (Work pushed while this worker still
            // searched woke nobody; this look sees it, as a parking
            // worker's re-check does. Without work in sight a wake-up
            // here would only put a futex call in front of this task: a
            // green thread delivered home through the inbox, say.)
            self.shared.notify_parked();
        }
    }

    /// Runs any task, and queues it again if it yielded.
    #[inline]
    fn run_task(&self, task: Runnable) {
        let home = task.metadata().home.load(Ordering::Relaxed);
        if home == UNHOMED {
            // First poll of a pinned task: this worker becomes its home.
            task.metadata().home.store(self.index, Ordering::Release);
        }
        if let Some(task) = self.poll(task) {
            if home != FREE {
                // It ran here, so this is its home: straight onto the
                // pinned FIFO, without `push_back`'s look at its home (a
                // green thread's yield: 15 instructions less).
                debug_assert_eq!(home_of(&task), Some(self.index));
                self.pinned.push(task);
            } else {
                self.push_back(task);
            }
        }
    }

    /// Runs a task from the pinned FIFO, homed here (no look at its home:
    /// 5 instructions less a poll).
    #[inline]
    fn run_pinned(&self, task: Runnable) {
        debug_assert_eq!(home_of(&task), Some(self.index));
        if let Some(task) = self.poll(task) {
            self.pinned.push(task);
        }
    }

    /// Polls a task once, inside a stall probe's scope and with a fresh
    /// budget; returns it if it yielded.
    #[inline]
    fn poll(&self, task: Runnable) -> Option<Runnable> {
        let meta = task.metadata();
        let scope = PollScope::begin(&self.probe, meta.id, meta.location);
        crate::coop::fresh_budget();
        let yielded = task.run();
        drop(scope);
        yielded
    }

    /// Before parking, on a worker whose pinned tasks were woken by other
    /// threads since it last went idle: spin for the next such wake-up,
    /// for as long as `home_spin` says if this worker's own tasks
    /// messaged green threads homed elsewhere meanwhile (`conversing`: an
    /// answer is likely to come back), else for [`home_spin::MIN`]. True
    /// if work showed up.
    ///
    /// Parking between two such messages would cost each one a futex wake
    /// and a sleep and wake-up of this thread (20 to 40 µs on the 2-core
    /// VM, 100-300 µs after a long idle, against well under a microsecond
    /// for the crossing itself). Only these workers spin, so an idle
    /// runtime, or one whose tasks wait only on I/O and timers, parks at
    /// once (spinning on every idle turn cost http-hello requests when the
    /// load generator shared the cores), and only conversing ones spin
    /// long (`home_spin` says why).
    fn spin_for_home_wakeups(&self, since: Instant, conversing: bool) -> bool {
        let shared = &self.shared;
        let inbox = &self.inbox;
        let budget = if conversing {
            self.home_spin.budget()
        } else {
            home_spin::MIN
        };
        loop {
            for _ in 0..64 {
                if !inbox.is_empty() {
                    if conversing {
                        self.home_spin.waited(since.elapsed());
                    }
                    return true;
                }
                std::hint::spin_loop();
            }
            if shared.has_visible_work() {
                return true;
            }
            if since.elapsed() >= budget || shared.closing.load(Ordering::Relaxed) {
                return false;
            }
        }
    }

    fn park(&self) {
        let shared = &self.shared;
        Counters::bump(&shared.counters[self.index].parks);
        let was_searching = self.searching.replace(false);
        shared.idle.park(self.index, was_searching);
        // The re-check that makes the notify fast path safe (see Idle).
        if shared.has_visible_work() && shared.idle.unpark_self(self.index) {
            return;
        }
        loop {
            shared.parkers[self.index].park(Some(&*shared.driver));
            if shared.closing.load(Ordering::Acquire) {
                return;
            }
            if !shared.idle.is_parked(self.index) {
                // A notifier woke us as a searcher.
                self.searching.set(true);
                return;
            }
            // Woken by I/O or a timer while parked in the driver (or
            // spuriously): tasks it woke are in our queues.
            let has_local = !self.queue.is_empty()
                || self.lifo.is_occupied()
                || !self.pinned.is_empty()
                || !self.inbox.is_empty();
            if has_local || shared.has_visible_work() {
                if !shared.idle.unpark_self(self.index) {
                    self.searching.set(true);
                }
                return;
            }
        }
    }

    fn next_random(&self) -> u64 {
        // xorshift64: victim choice only needs to spread, not to be strong.
        let mut x = self.rng.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.set(x);
        x
    }
}

/// Runs a steal until it succeeds or finds nothing (crossbeam's `Retry`
/// means a race with another thief: try again).
fn until_settled(mut steal: impl FnMut() -> Steal<Runnable>) -> Option<Runnable> {
    loop {
        match steal() {
            Steal::Success(t) => return Some(t),
            Steal::Empty => return None,
            Steal::Retry => {}
        }
    }
}

fn steal_one(injector: &Injector<Runnable>) -> Option<Runnable> {
    until_settled(|| injector.steal())
}

/// Whether a worker's queue may be stolen from without waiting: it holds
/// more than one task. A lone queued task is left to its worker, which is
/// about to run it (unless it is stuck in one poll: `steal_from_stuck`);
/// pushing one wakes nobody, and a parking worker's re-check ignores it,
/// so a worker never spins between a refused steal and a re-check.
fn stealable(stealer: &Stealer<Runnable>) -> bool {
    stealer.len() >= 2
}

fn steal_one_from(stealer: &Stealer<Runnable>) -> Option<Runnable> {
    until_settled(|| stealer.steal())
}

fn steal_batch(injector: &Injector<Runnable>, dest: &Queue<Runnable>) -> Option<Runnable> {
    until_settled(|| injector.steal_batch_and_pop(dest))
}

fn stop_workers(shared: &Shared, threads: Vec<thread::JoinHandle<()>>) {
    shared.closing.store(true, Ordering::SeqCst);
    for p in shared.parkers.iter() {
        p.unpark(Some(&*shared.driver));
    }
    for t in threads {
        let _ = t.join();
    }
}

/// Cancels every task, each on the right thread, and joins the workers (see
/// "Shutdown" in the module docs). The runtime then shuts the blocking pool
/// and the driver.
pub(crate) fn shutdown(shared: &Arc<Shared>, threads: Vec<thread::JoinHandle<()>>) {
    shared.closing.store(true, Ordering::SeqCst);
    {
        // Wake-ups from here take the remote path: pinned tasks to their
        // home's inbox, others to the injector.
        let _enter = context::enter(Scheduler::WorkStealing(shared.clone()));
        for w in shared.registry.close() {
            w.wake();
        }
    }
    stop_workers(shared, threads);
    // Nothing should be left; anything that is (say, a worker that failed
    // to start) is dropped here.
    while let Some(task) = steal_one(&shared.injector) {
        drop(task);
    }
    let rest = LocalQueue::default();
    for inbox in shared.inboxes.iter() {
        inbox.take_all(&rest);
    }
    drop(rest);
}

/// The home worker of a pinned task that has run, if any.
fn home_of(task: &Runnable) -> Option<usize> {
    match task.metadata().home.load(Ordering::Acquire) {
        UNHOMED.. => None, // free, or pinned but not polled yet
        home => Some(home),
    }
}
