//! Runtimes: which threads run the units, and how.
//!
//! A runtime is one *flavor* of scheduler (the taxonomy's parallelism axis)
//! plus what every flavor has: an I/O driver with its timer wheel, a
//! blocking pool, and the stall watchdog. The units (async tasks now) are
//! the same on every flavor: the user picks parallelism with one builder
//! call and changes nothing else.
//!
//! | flavor | threads | tasks | driver | famous as | built by |
//! |---|---|---|---|---|---|
//! | event loop | the one calling `block_on` | stay on it; `!Send` allowed | its own | Node, epoll loops | [`Builder::event_loop`] |
//! | work stealing | n workers | migrate between workers | one, shared | Go, tokio | [`Builder::work_stealing`] |
//! | per core | n loops, one per core, pinned | never migrate; `!Send` allowed | one per core | nginx | [`Builder::per_core`] |
//!
//! ```
//! use motet::runtime::Runtime;
//!
//! for rt in [
//!     Runtime::builder().event_loop().build()?,
//!     Runtime::builder().work_stealing(2).build()?,
//!     Runtime::builder().per_core(2).build()?,
//! ] {
//!     let out = rt.block_on(async {
//!         let h = motet::task::spawn(async { "hello" });
//!         h.await.unwrap()
//!     });
//!     assert_eq!(out, "hello");
//! }
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # `block_on`
//!
//! On the event loop, `block_on` *is* the loop: the calling thread runs every
//! task while it waits. On the parallel flavors the future runs on the
//! calling thread, which parks while it waits, and the tasks run on the
//! runtime's own threads (as with tokio's multi-thread runtime).
//!
//! # Unfinished tasks
//!
//! On the event loop, tasks that have not finished when `block_on` returns
//! stay in the runtime and resume at the next `block_on`; on the parallel
//! flavors they simply keep running on the runtime's threads. When the
//! runtime is dropped, every unfinished task is cancelled (its future is
//! dropped, on its own thread for `!Send` tasks) and its `JoinHandle` yields a
//! cancelled [`JoinError`]. Tasks spawned through a [`Handle`] after that are
//! cancelled at once. Then the blocking pool is shut down (queued calls are
//! cancelled; calls already running are waited for) and the drivers are
//! closed (sockets still alive report an error on their next operation).
//! No motet thread outlives its runtime's drop.
//!
//! [`JoinError`]: crate::task::JoinError

pub(crate) mod context;
pub(crate) mod event_loop;
mod home_spin;
mod idle;
mod lifo;
mod local_queue;
mod pace;
mod parker;
pub(crate) mod per_core;
mod registry;
mod sleeper;
mod stall;
pub(crate) mod work_stealing;

use std::borrow::Cow;
use std::future::Future;
use std::marker::PhantomData;
use std::rc::Rc;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use self::context::CoreRef;
use self::event_loop::Parts;
use self::registry::Registry;
use self::stall::{Probe, Watchdog};
use crate::blocking::BlockingPool;
use crate::driver::Driver;
use crate::task::{self, JoinHandle, Placement, Runnable};

/// The scheduler a task belongs to, or a handle reaches: one variant per
/// flavor. (A per-core runtime's tasks belong to one of its cores'
/// `EventLoop`s; `PerCore` is only ever a handle's.)
#[derive(Clone)]
pub(crate) enum Scheduler {
    EventLoop(Arc<event_loop::Shared>),
    WorkStealing(Arc<work_stealing::Shared>),
    PerCore(Arc<per_core::Group>),
}

impl Scheduler {
    /// The owner to bias a new task's cell to (`bias.rs`): this thread's
    /// token if a task of this scheduler's, spawned here with `placement`,
    /// will run on this thread only (a task of this thread's event loop, a
    /// per-core runtime's core included, or one placed `Here` by a worker of
    /// this work-stealing runtime); otherwise unbiased.
    pub(crate) fn bias_owner(&self, placement: Placement) -> usize {
        let stays = match self {
            Scheduler::WorkStealing(_) if placement != Placement::Here => false,
            _ => context::with_core(|core| match (core, self) {
                (Some(CoreRef::Loop(l)), Scheduler::EventLoop(s)) => l.runs(s),
                (Some(CoreRef::Worker(w)), Scheduler::WorkStealing(s)) => w.runs(s),
                _ => false,
            }),
        };
        if stays {
            crate::bias::token()
        } else {
            crate::bias::UNBIASED
        }
    }

    /// Homes a pinned task on the worker this thread runs, if it is a
    /// worker of the task's work-stealing runtime, before the task is
    /// first queued; elsewhere does nothing (an event loop's tasks share
    /// its one thread; a per-core runtime's stay on their core).
    pub(crate) fn home_on_current_worker(runnable: &Runnable) {
        context::with_core(|core| {
            if let Some(CoreRef::Worker(w)) = core {
                if w.owns(runnable) {
                    runnable
                        .metadata()
                        .home
                        .store(w.index(), std::sync::atomic::Ordering::Release);
                }
            }
        });
    }

    /// Queues `runnable` on the scheduler its metadata names: straight onto
    /// the local queues when this thread drives that scheduler (no atomics
    /// beyond the queue's own), through its remote path from anywhere else.
    /// `yielded`: the task woke itself (`yield_now`), so it goes to the back,
    /// never to a LIFO slot.
    pub(crate) fn schedule(runnable: Runnable, yielded: bool) {
        let back = context::with_core(move |core| match core {
            Some(CoreRef::Loop(l)) if l.owns(&runnable) => {
                l.push_local(runnable);
                None
            }
            Some(CoreRef::Worker(w)) if w.owns(&runnable) => {
                w.schedule_local(runnable, yielded);
                None
            }
            _ => Some(runnable),
        });
        if let Some(runnable) = back {
            Self::schedule_remote(runnable);
        }
    }

    /// `schedule` from a thread that does not drive the task's scheduler.
    /// Out of line: the local case above is the one every message between
    /// units on one thread takes.
    #[cold]
    #[inline(never)]
    fn schedule_remote(runnable: Runnable) {
        match runnable.metadata().sched.clone() {
            Scheduler::EventLoop(s) => s.push_remote(runnable),
            Scheduler::WorkStealing(s) => s.schedule_remote(runnable),
            Scheduler::PerCore(_) => unreachable!("tasks belong to a core, not to the group"),
        }
    }

    /// The scheduler a new task spawned through this one belongs to: this
    /// one, except that a per-core runtime picks one of its cores.
    pub(crate) fn spawn_target(&self) -> Cow<'_, Scheduler> {
        match self {
            Scheduler::PerCore(group) => Cow::Owned(group.next_core()),
            other => Cow::Borrowed(other),
        }
    }

    /// Registers a new task and schedules it, or cancels it if the runtime
    /// has shut down.
    pub(crate) fn admit(&self, runnable: Runnable, name: Option<&str>) {
        match self {
            Scheduler::EventLoop(s) => s.admit(runnable, name),
            Scheduler::WorkStealing(s) => s.admit(runnable, name),
            Scheduler::PerCore(_) => unreachable!("spawn_target picks a core first"),
        }
    }

    fn registry(&self) -> &Registry {
        match self {
            Scheduler::EventLoop(s) => s.registry(),
            Scheduler::WorkStealing(s) => s.registry(),
            Scheduler::PerCore(_) => unreachable!("tasks belong to a core, not to the group"),
        }
    }

    /// Forgets a task whose future has been dropped.
    pub(crate) fn deregister(&self, key: usize, id: task::TaskId) {
        self.registry().deregister(key, id);
    }

    pub(crate) fn driver(&self) -> &Arc<Driver> {
        match self {
            Scheduler::EventLoop(s) => s.driver(),
            Scheduler::WorkStealing(s) => s.driver(),
            // Sockets made outside the cores (in block_on's future) use core
            // 0's driver; any driver can wake any thread.
            Scheduler::PerCore(g) => g.first().driver(),
        }
    }

    pub(crate) fn blocking(&self) -> &BlockingPool {
        match self {
            Scheduler::EventLoop(s) => s.blocking(),
            Scheduler::WorkStealing(s) => s.blocking(),
            Scheduler::PerCore(g) => g.first().blocking(),
        }
    }

    /// The per-core runtime this scheduler is, or is a core of.
    fn group(&self) -> Option<Arc<per_core::Group>> {
        match self {
            Scheduler::PerCore(g) => Some(g.clone()),
            Scheduler::EventLoop(s) => s.group().map(|(g, _)| g),
            Scheduler::WorkStealing(_) => None,
        }
    }

    fn stats(&self) -> RuntimeStats {
        match self {
            Scheduler::EventLoop(s) => match s.group() {
                Some((g, _)) => g.stats(),
                None => s.stats(),
            },
            Scheduler::WorkStealing(s) => s.stats(),
            Scheduler::PerCore(g) => g.stats(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    EventLoop,
    WorkStealing(usize),
    PerCore(usize),
}

/// Configures and builds a [`Runtime`].
///
/// ```
/// use std::time::Duration;
/// let rt = motet::runtime::Runtime::builder()
///     .work_stealing(2)
///     .stall_threshold(Some(Duration::from_millis(50)))
///     .max_blocking_threads(16)
///     .build()
///     .unwrap();
/// # drop(rt);
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    flavor: Flavor,
    stall_threshold: Option<Duration>,
    max_blocking_threads: usize,
    blocking_keep_alive: Duration,
    event_interval: u32,
    pin_cores: bool,
}

impl Default for Builder {
    fn default() -> Builder {
        Builder {
            flavor: Flavor::EventLoop,
            stall_threshold: Some(Duration::from_millis(100)),
            max_blocking_threads: 512,
            blocking_keep_alive: Duration::from_secs(10),
            event_interval: 61,
            pin_cores: true,
        }
    }
}

/// The cores available to this process (at least 1).
fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl Builder {
    /// A builder with the defaults: event-loop flavor, stall threshold
    /// 100 ms, up to 512 blocking threads retiring after 10 s idle.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// The single-threaded event loop (Node's model): every task runs on the
    /// thread that calls [`Runtime::block_on`], `!Send` tasks included.
    pub fn event_loop(mut self) -> Builder {
        self.flavor = Flavor::EventLoop;
        self
    }

    /// The work-stealing scheduler (Go's and tokio's model) with `workers`
    /// threads; 0 means one per available core. Tasks must be `Send`; they
    /// migrate to whichever worker is free.
    pub fn work_stealing(mut self, workers: usize) -> Builder {
        self.flavor = Flavor::WorkStealing(if workers == 0 {
            available_cores()
        } else {
            workers
        });
        self
    }

    /// One event loop per core (nginx's model), `cores` of them; 0 means one
    /// per available core. Tasks never migrate; `!Send` tasks are allowed
    /// (spawn a `Send` future on a core with [`Handle::spawn_on`], then use
    /// `task::spawn_local` inside it).
    pub fn per_core(mut self, cores: usize) -> Builder {
        self.flavor = Flavor::PerCore(if cores == 0 { available_cores() } else { cores });
        self
    }

    /// Whether per-core threads are pinned to a CPU each (default true; a
    /// pin the OS refuses is skipped silently).
    pub fn pin_cores(mut self, pin: bool) -> Builder {
        self.pin_cores = pin;
        self
    }

    /// Report any single poll of a task that runs longer than this (see
    /// [`RuntimeStats::stalls`]); `None` turns the watchdog thread off.
    /// Default 100 ms.
    pub fn stall_threshold(mut self, threshold: Option<Duration>) -> Builder {
        self.stall_threshold = threshold;
        self
    }

    /// The most threads the blocking pool starts (at least 1). Default 512.
    pub fn max_blocking_threads(mut self, n: usize) -> Builder {
        self.max_blocking_threads = n.max(1);
        self
    }

    /// How long an idle blocking thread waits for work before it exits.
    /// Default 10 s.
    pub fn blocking_keep_alive(mut self, keep_alive: Duration) -> Builder {
        self.blocking_keep_alive = keep_alive;
        self
    }

    /// How many tasks a scheduler thread runs between two looks at the I/O
    /// driver when tasks keep it busy (at least 1). Default 61: often enough
    /// that sockets are not starved by a busy loop, rarely enough that the
    /// `epoll_wait` system call stays a small share of each task's cost.
    /// While looks wake nothing the spacing doubles, up to 16 times this
    /// interval; a look that wakes a task sets it back.
    pub fn event_interval(mut self, n: u32) -> Builder {
        self.event_interval = n.max(1);
        self
    }

    /// What every scheduler is made of; `threads`: how many threads spawn
    /// tasks on it at once (one registry shard each).
    fn parts(
        &self,
        blocking: &BlockingPool,
        stalls: &Arc<AtomicU64>,
        threads: usize,
    ) -> std::io::Result<(Parts, Arc<Registry>)> {
        let registry = Arc::new(Registry::new(threads));
        let parts = Parts {
            driver: Arc::new(Driver::new()?),
            blocking: blocking.clone(),
            registry: registry.clone(),
            stalls: stalls.clone(),
            event_interval: self.event_interval,
        };
        Ok((parts, registry))
    }

    /// One probe per scheduler thread; the watchdog reads them only if
    /// there is a stall threshold.
    fn probes(&self, n: usize) -> Vec<Arc<Probe>> {
        (0..n).map(|_| Arc::new(Probe::default())).collect()
    }

    fn watchdog(
        &self,
        probes: &[Arc<Probe>],
        registries: Vec<Arc<Registry>>,
        stalls: Arc<AtomicU64>,
    ) -> std::io::Result<Option<Watchdog>> {
        match self.stall_threshold {
            None => Ok(None),
            Some(t) => Watchdog::start(t, probes.to_vec(), registries, stalls).map(Some),
        }
    }

    /// Creates the runtime: its driver(s), its threads (workers or cores),
    /// and the stall watchdog thread unless disabled. Blocking threads start
    /// on demand.
    pub fn build(&self) -> std::io::Result<Runtime> {
        // Before any thread of ours starts: readying biases (channel locks,
        // task cells) is cheapest while the process has one thread.
        crate::bias::prepare();
        let blocking = BlockingPool::new(self.max_blocking_threads, self.blocking_keep_alive);
        let stalls = Arc::new(AtomicU64::new(0));
        let (sched, kind, registries, probes) = match self.flavor {
            Flavor::EventLoop => {
                let (parts, registry) = self.parts(&blocking, &stalls, 1)?;
                let probes = self.probes(1);
                let (shared, local) = event_loop::Shared::new(parts, probes[0].clone());
                (
                    Scheduler::EventLoop(shared),
                    Kind::EventLoop(local),
                    vec![registry],
                    probes,
                )
            }
            Flavor::WorkStealing(n) => {
                let (parts, registry) = self.parts(&blocking, &stalls, n)?;
                let probes = self.probes(n);
                let (shared, threads) = work_stealing::start(n, parts, &probes)?;
                (
                    Scheduler::WorkStealing(shared),
                    Kind::WorkStealing(threads),
                    vec![registry],
                    probes,
                )
            }
            Flavor::PerCore(n) => {
                let probes = self.probes(n);
                let mut registries = Vec::with_capacity(n);
                let (group, threads) = per_core::start(
                    n,
                    |_| {
                        let (parts, registry) = self.parts(&blocking, &stalls, 1)?;
                        registries.push(registry);
                        Ok(parts)
                    },
                    &probes,
                    self.pin_cores,
                )?;
                (
                    Scheduler::PerCore(group),
                    Kind::PerCore(threads),
                    registries,
                    probes,
                )
            }
        };
        let watchdog = self.watchdog(&probes, registries, stalls)?;
        Ok(Runtime {
            handle: Handle { sched },
            kind: Some(kind),
            watchdog,
            blocking,
            _not_send: PhantomData,
        })
    }
}

enum Kind {
    EventLoop(Rc<event_loop::Local>),
    WorkStealing(Vec<std::thread::JoinHandle<()>>),
    PerCore(Vec<per_core::CoreThread>),
}

/// A motet runtime. It stays on the thread that built it (an event loop owns
/// tasks that may not be `Send`); use [`Handle`] to reach it from other
/// threads.
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<motet::runtime::Runtime>();
/// ```
pub struct Runtime {
    handle: Handle,
    /// `None` once shut down.
    kind: Option<Kind>,
    watchdog: Option<Watchdog>,
    blocking: BlockingPool,
    _not_send: PhantomData<*const ()>,
}

impl Runtime {
    /// A [`Builder`].
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// A runtime with the default configuration (the event loop).
    pub fn new() -> std::io::Result<Runtime> {
        Builder::new().build()
    }

    /// Runs `future` to completion, running the runtime's tasks meanwhile
    /// (see the [module docs](self) for where it runs on each flavor).
    ///
    /// A panic in `future` itself propagates to the caller (a panic in a
    /// spawned task does not: it reaches that task's `JoinHandle`).
    ///
    /// # Panics
    ///
    /// If called from a thread that drives a runtime already (a task, or
    /// another `block_on` on an event loop).
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        match (&self.kind, &self.handle.sched) {
            (Some(Kind::EventLoop(local)), _) => event_loop::block_on(local, future),
            // The parallel flavors run it on this thread, which parks while
            // it waits; spawns from it go to the runtime's threads.
            (Some(_), sched) => {
                assert!(!context::is_driving(), "{}", context::NESTED_RUNTIME);
                let _enter = context::enter(sched.clone());
                crate::wait::park_on(future)
            }
            _ => unreachable!("a live runtime has a kind matching its scheduler"),
        }
    }

    /// Spawns a `Send` task (see [`task::spawn`]).
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Spawns a task that stays on this event loop's thread (see
    /// [`task::spawn_local`]); it starts at the next `block_on`.
    ///
    /// # Panics
    ///
    /// On the parallel flavors: use [`Handle::spawn_on`] with a `Send` future
    /// that calls `task::spawn_local` on the core (per core), or `Send` tasks
    /// (work stealing).
    #[track_caller]
    pub fn spawn_local<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        assert!(
            matches!(self.kind, Some(Kind::EventLoop(_))),
            "Runtime::spawn_local needs an event-loop runtime; on per_core, spawn a Send future \
             with Handle::spawn_on and call task::spawn_local inside it"
        );
        task::spawn_local_on(&self.handle.sched, None, future)
    }

    /// A handle that reaches this runtime from any thread.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Counters describing what the runtime has done.
    pub fn stats(&self) -> RuntimeStats {
        self.handle.stats()
    }

    /// Drops the runtime, waiting at most `timeout` for blocking-pool calls
    /// still running (they are left to finish on their own past it).
    pub fn shutdown_timeout(mut self, timeout: Duration) {
        self.shutdown(Some(timeout));
    }

    fn shutdown(&mut self, blocking_timeout: Option<Duration>) {
        let Some(kind) = self.kind.take() else { return };
        // No stall reports about tasks being torn down.
        drop(self.watchdog.take());
        match (kind, &self.handle.sched) {
            (Kind::EventLoop(local), Scheduler::EventLoop(shared)) => {
                event_loop::cancel_all(&local);
                self.blocking.shutdown(blocking_timeout);
                shared.driver().shutdown();
            }
            (Kind::WorkStealing(threads), Scheduler::WorkStealing(shared)) => {
                work_stealing::shutdown(shared, threads);
                self.blocking.shutdown(blocking_timeout);
                shared.driver().shutdown();
            }
            (Kind::PerCore(threads), Scheduler::PerCore(_)) => {
                // Each core cancels its tasks and closes its driver.
                per_core::stop(threads);
                self.blocking.shutdown(blocking_timeout);
            }
            _ => unreachable!("a runtime's kind matches its scheduler"),
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown(None);
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("flavor", &self.handle.flavor())
            .finish()
    }
}

/// A cloneable, `Send + Sync` reference to a runtime, for spawning onto it
/// from other threads.
///
/// ```
/// let rt = motet::runtime::Runtime::new().unwrap();
/// let handle = rt.handle().clone();
/// let h = std::thread::spawn(move || handle.spawn(async { 1 + 1 })).join().unwrap();
/// assert_eq!(rt.block_on(h).unwrap(), 2);
/// ```
#[derive(Clone)]
pub struct Handle {
    pub(crate) sched: Scheduler,
}

impl Handle {
    /// The handle of the runtime this thread is in, if any.
    pub fn try_current() -> Option<Handle> {
        context::scheduler().map(|sched| Handle { sched })
    }

    /// The handle of the runtime this thread is in.
    ///
    /// # Panics
    ///
    /// Outside a runtime context.
    #[track_caller]
    pub fn current() -> Handle {
        Handle {
            sched: context::scheduler_or_panic(),
        }
    }

    /// Spawns a `Send` task on the runtime (on a per-core runtime: on the
    /// calling core if called from one, else round-robin).
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        task::spawn_on(&self.sched, None, future)
    }

    /// Spawns a `Send` task on core `core` of a per-core runtime; it never
    /// leaves that core, and may `task::spawn_local` further tasks there.
    ///
    /// # Panics
    ///
    /// If the runtime is not per-core, or has no such core.
    ///
    /// ```
    /// let rt = motet::runtime::Runtime::builder().per_core(2).build().unwrap();
    /// let h = rt.handle().spawn_on(1, async { motet::runtime::Handle::current_worker() });
    /// assert_eq!(rt.block_on(h).unwrap(), Some(1));
    /// ```
    #[track_caller]
    pub fn spawn_on<F>(&self, core: usize, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let group = self
            .sched
            .group()
            .expect("Handle::spawn_on needs a per-core runtime");
        task::spawn_on(&group.core(core), None, future)
    }

    /// The number of scheduler threads: 1 for an event loop, the workers or
    /// cores of the parallel flavors.
    pub fn workers(&self) -> usize {
        match &self.sched {
            Scheduler::EventLoop(s) => s.group().map_or(1, |(g, _)| g.len()),
            Scheduler::WorkStealing(s) => s.workers(),
            Scheduler::PerCore(g) => g.len(),
        }
    }

    fn flavor(&self) -> Flavor {
        match &self.sched {
            Scheduler::EventLoop(s) => match s.group() {
                Some((g, _)) => Flavor::PerCore(g.len()),
                None => Flavor::EventLoop,
            },
            Scheduler::WorkStealing(s) => Flavor::WorkStealing(s.workers()),
            Scheduler::PerCore(g) => Flavor::PerCore(g.len()),
        }
    }

    /// The index of the worker (work stealing) or core (per core) running
    /// the caller, or `Some(0)` on an event loop; `None` off the runtime's
    /// threads.
    pub fn current_worker() -> Option<usize> {
        context::worker_index()
    }

    /// Runs `f` on the runtime's blocking pool (see [`task::spawn_blocking`]).
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.sched.blocking().spawn(
            &self.sched.spawn_target(),
            f,
            std::panic::Location::caller(),
        )
    }

    /// Makes this runtime the current one on this thread until the guard
    /// drops, so that `spawn`, timers and sockets can be used here.
    pub fn enter(&self) -> EnterGuard<'_> {
        EnterGuard {
            _inner: context::enter(self.sched.clone()),
            _handle: PhantomData,
        }
    }

    /// Counters describing what the runtime has done.
    pub fn stats(&self) -> RuntimeStats {
        self.sched.stats()
    }
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle").finish_non_exhaustive()
    }
}

/// Returned by [`Handle::enter`]; leaves the runtime's context when dropped.
#[must_use = "the context is left as soon as the guard is dropped"]
pub struct EnterGuard<'a> {
    _inner: context::EnterGuard,
    _handle: PhantomData<&'a Handle>,
}

impl std::fmt::Debug for EnterGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnterGuard")
    }
}

/// A snapshot of a runtime's counters.
///
/// ```
/// let rt = motet::runtime::Runtime::new().unwrap();
/// rt.block_on(async { motet::task::spawn(async {}).await.unwrap() });
/// let stats = rt.stats();
/// assert_eq!(stats.tasks_spawned, 1);
/// assert_eq!(stats.tasks_alive, 0);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuntimeStats {
    /// Scheduler threads (1 for the event loop).
    pub workers: usize,
    /// Tasks spawned so far (blocking-pool calls not included).
    pub tasks_spawned: u64,
    /// Tasks spawned and not yet finished or cancelled.
    pub tasks_alive: usize,
    /// Task polls so far (the event loop's `block_on` future included).
    pub polls: u64,
    /// Polls that ran longer than the stall threshold.
    pub stalls: u64,
    /// Times a scheduler thread blocked waiting for work.
    pub parks: u64,
    /// Successful steals of a batch of tasks from another worker.
    pub steals: u64,
    /// Wake-ups that came from outside the scheduler's threads (a queue hop
    /// plus, if the target slept, a wake-up system call).
    pub remote_schedules: u64,
    /// Timers pending in the driver(s).
    pub timers_pending: usize,
    /// Blocking-pool threads alive.
    pub blocking_threads: usize,
    /// Idle blocking-pool threads.
    pub blocking_idle: usize,
    /// The same counters per scheduler thread (worker or core), in order.
    pub per_worker: Vec<WorkerStats>,
}

/// One scheduler thread's counters (see [`RuntimeStats::per_worker`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerStats {
    /// Task polls on this thread.
    pub polls: u64,
    /// Batches stolen by this thread.
    pub steals: u64,
    /// Times this thread blocked waiting for work.
    pub parks: u64,
}
