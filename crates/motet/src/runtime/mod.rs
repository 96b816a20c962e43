//! Runtimes: which threads run the units, and how.
//!
//! A runtime is one *flavor* of scheduler (the taxonomy's parallelism axis)
//! plus what every flavor shares: an I/O driver with its timer wheel, a
//! blocking pool, and the stall watchdog.
//!
//! | flavor | threads | built by | status |
//! |---|---|---|---|
//! | event loop (Node, epoll loops) | the one calling `block_on` | [`Builder::event_loop`] | built |
//! | work stealing (Go, tokio) | n workers, tasks migrate | `Builder::work_stealing(n)` | next |
//! | per core (nginx) | n loops, tasks never migrate | `Builder::per_core(n)` | next |
//!
//! ```
//! use motet::runtime::Runtime;
//!
//! let rt = Runtime::builder().event_loop().build()?;
//! let out = rt.block_on(async {
//!     let h = motet::task::spawn(async { "hello" });
//!     h.await.unwrap()
//! });
//! assert_eq!(out, "hello");
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Unfinished tasks
//!
//! When `block_on` returns, tasks that have not finished stay in the runtime
//! and resume at the next `block_on` on the same runtime. When the runtime is
//! dropped, every unfinished task is cancelled: its future is dropped on the
//! runtime's thread and its `JoinHandle` yields a cancelled [`JoinError`].
//! Tasks spawned through a [`Handle`] after that are cancelled at once.
//! Then the blocking pool is shut down (queued calls are cancelled; calls
//! already running are waited for) and the driver is closed (sockets still
//! alive report an error on their next operation).
//!
//! [`JoinError`]: crate::task::JoinError

pub(crate) mod context;
pub(crate) mod event_loop;
mod sleeper;
mod stall;

use std::future::Future;
use std::marker::PhantomData;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use crate::blocking::BlockingPool;
use crate::driver::Driver;
use crate::task::{self, JoinHandle, Runnable};

/// The scheduler a task belongs to: one variant per flavor.
#[derive(Clone)]
pub(crate) enum Scheduler {
    EventLoop(Arc<event_loop::Shared>),
}

impl Scheduler {
    /// Queues `runnable` on the scheduler its metadata names.
    pub(crate) fn schedule(runnable: Runnable) {
        match &runnable.metadata().sched {
            Scheduler::EventLoop(_) => event_loop::schedule(runnable),
        }
    }

    /// Registers a new task and schedules it, or cancels it if the runtime
    /// has shut down.
    pub(crate) fn admit(&self, runnable: Runnable, name: Option<&str>) {
        match self {
            Scheduler::EventLoop(s) => s.admit(runnable, name),
        }
    }

    /// Forgets a task whose future has been dropped.
    pub(crate) fn deregister(&self, key: usize, id: task::TaskId) {
        match self {
            Scheduler::EventLoop(s) => s.deregister(key, id),
        }
    }

    /// Wakes the registered task in slot `key` (used by abort).
    pub(crate) fn wake_registered(&self, key: usize) {
        match self {
            Scheduler::EventLoop(s) => s.wake_registered(key),
        }
    }

    pub(crate) fn driver(&self) -> &Arc<Driver> {
        match self {
            Scheduler::EventLoop(s) => s.driver(),
        }
    }

    pub(crate) fn blocking(&self) -> &BlockingPool {
        match self {
            Scheduler::EventLoop(s) => s.blocking(),
        }
    }

    fn stats(&self) -> RuntimeStats {
        match self {
            Scheduler::EventLoop(s) => s.stats(),
        }
    }
}

/// Configures and builds a [`Runtime`].
///
/// ```
/// use std::time::Duration;
/// let rt = motet::runtime::Runtime::builder()
///     .event_loop()
///     .stall_threshold(Some(Duration::from_millis(50)))
///     .max_blocking_threads(16)
///     .build()
///     .unwrap();
/// # drop(rt);
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    pub(crate) stall_threshold: Option<Duration>,
    pub(crate) max_blocking_threads: usize,
    pub(crate) blocking_keep_alive: Duration,
    pub(crate) event_interval: u32,
}

impl Default for Builder {
    fn default() -> Builder {
        Builder {
            stall_threshold: Some(Duration::from_millis(100)),
            max_blocking_threads: 512,
            blocking_keep_alive: Duration::from_secs(10),
            event_interval: 61,
        }
    }
}

impl Builder {
    /// A builder with the defaults: event-loop flavor, stall threshold
    /// 100 ms, up to 512 blocking threads retiring after 10 s idle.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// The single-threaded event loop (Node's model): every task runs on the
    /// thread that calls [`Runtime::block_on`], `!Send` tasks included.
    pub fn event_loop(self) -> Builder {
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

    /// How many tasks run between two looks at the I/O driver when tasks
    /// keep the loop busy (at least 1). Default 61: often enough that
    /// sockets are not starved by a busy loop, rarely enough that the
    /// `epoll_wait` system call stays a small share of each task's cost.
    pub fn event_interval(mut self, n: u32) -> Builder {
        self.event_interval = n.max(1);
        self
    }

    /// Creates the runtime: its driver (an epoll instance), and the stall
    /// watchdog thread unless disabled. Blocking threads start on demand.
    pub fn build(&self) -> std::io::Result<Runtime> {
        let (shared, local) = event_loop::Shared::new(self)?;
        Ok(Runtime {
            handle: Handle {
                sched: Scheduler::EventLoop(shared),
            },
            local,
            _not_send: PhantomData,
        })
    }
}

/// A motet runtime. It stays on the thread that built it (it owns tasks that
/// may not be `Send`); use [`Handle`] to reach it from other threads.
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<motet::runtime::Runtime>();
/// ```
pub struct Runtime {
    handle: Handle,
    local: Rc<event_loop::Local>,
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

    /// Runs `future` to completion on this thread, running the runtime's
    /// tasks while it waits. Tasks left unfinished stay in the runtime (see
    /// the [module docs](self)).
    ///
    /// A panic in `future` itself propagates to the caller (a panic in a
    /// spawned task does not: it reaches that task's `JoinHandle`).
    ///
    /// # Panics
    ///
    /// If called from inside another runtime's `block_on` on this thread.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        event_loop::block_on(&self.local, future)
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

    /// Spawns a task that stays on this runtime's thread (see
    /// [`task::spawn_local`]); it starts at the next `block_on`.
    #[track_caller]
    pub fn spawn_local<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
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
    pub fn shutdown_timeout(self, timeout: Duration) {
        event_loop::shutdown(&self.local, Some(timeout));
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        event_loop::shutdown(&self.local, None);
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("flavor", &"event_loop")
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

    /// Spawns a `Send` task on the runtime.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        task::spawn_on(&self.sched, None, future)
    }

    /// Runs `f` on the runtime's blocking pool (see [`task::spawn_blocking`]).
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.sched
            .blocking()
            .spawn(&self.sched, f, std::panic::Location::caller())
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
    /// Task polls so far (the `block_on` future included).
    pub polls: u64,
    /// Polls that ran longer than the stall threshold.
    pub stalls: u64,
    /// Times a scheduler thread blocked in the driver waiting for work.
    pub parks: u64,
    /// Wake-ups that came from another thread (a queue hop plus, if the
    /// loop was asleep, an eventfd write).
    pub remote_schedules: u64,
    /// Timers pending in the driver.
    pub timers_pending: usize,
    /// Blocking-pool threads alive, and how many of them are idle.
    pub blocking_threads: usize,
    /// Idle blocking-pool threads.
    pub blocking_idle: usize,
}
