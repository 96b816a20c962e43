//! Async tasks: the explicit-switching unit.
//!
//! A task is a future handed to a runtime, which polls it until it finishes.
//! It switches only where it says `.await`, so between two awaits it owns its
//! thread; that is the "explicit" end of the taxonomy's switching axis.
//!
//! ```
//! use motet::runtime::Runtime;
//!
//! let rt = Runtime::builder().event_loop().build().unwrap();
//! let sum = rt.block_on(async {
//!     let handles: Vec<_> = (0..10u64).map(|i| motet::task::spawn(async move { i * i })).collect();
//!     let mut sum = 0;
//!     for h in handles {
//!         sum += h.await.unwrap();
//!     }
//!     sum
//! });
//! assert_eq!(sum, 285);
//! ```
//!
//! # Design
//!
//! A task is one allocation, its cell (`cell.rs`): a state word that
//! holds the task's flags and reference count, the future, then its output.
//! The cell is also where a task that wakes itself from inside its own poll
//! (a yield) is told apart from a wake-up from elsewhere, so that yielding
//! costs no atomic operation. Each task carries its metadata (`TaskMeta`):
//! its id, its spawn location, the scheduler it belongs to, and its slot in
//! that scheduler's registry of live tasks.
//!
//! The registry exists for shutdown: a task parked on a waker that nobody
//! will ever wake would otherwise outlive its runtime, and a `spawn_local`
//! task must be dropped on its own thread. When a runtime drops, it wakes
//! every registered task and drops each one on the runtime's thread, so every
//! unfinished task is cancelled there and its `JoinHandle` reports
//! [`JoinError::is_cancelled`].
//!
//! A panic while polling a task is caught at the task's boundary: the task
//! ends, its `JoinHandle` yields [`JoinError::is_panic`], and the runtime and
//! every other task go on.

pub(crate) mod cell;
mod join;

use std::future::Future;
use std::num::NonZeroU64;
use std::panic::{AssertUnwindSafe, Location};
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};

pub use self::join::{JoinError, JoinHandle};
use crate::runtime::{context, Scheduler};

/// A task as its scheduler holds it: run it to poll the task once.
pub(crate) type Runnable = cell::Runnable<TaskMeta>;

/// Identifies a task within the process. Ids are never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(NonZeroU64);

impl TaskId {
    /// The id of the future passed to `block_on`, which is polled like a task.
    pub(crate) const BLOCK_ON: TaskId = TaskId(NonZeroU64::MIN);

    fn next() -> TaskId {
        static NEXT: AtomicU64 = AtomicU64::new(2);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        TaskId(NonZeroU64::new(id).expect("task id counter wrapped"))
    }

    pub(crate) fn from_u64(id: u64) -> Option<TaskId> {
        NonZeroU64::new(id).map(TaskId)
    }

    /// The id as a number (for logs and metrics).
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl std::fmt::Display for TaskId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Not in any registry (yet, or ever: blocking-pool tasks).
pub(crate) const UNREGISTERED: usize = usize::MAX;

/// What every task cell carries besides its future.
pub(crate) struct TaskMeta {
    pub(crate) id: TaskId,
    pub(crate) location: &'static Location<'static>,
    pub(crate) sched: Scheduler,
    /// The task's slot in its scheduler's registry, written once before the
    /// task is first scheduled and read when its future is dropped.
    pub(crate) key: AtomicUsize,
    /// Where a multi-threaded scheduler may poll (and drop) the task:
    /// [`FREE`] anywhere, moving between workers; [`UNHOMED`] on the
    /// worker that polls it first, which becomes its home; any other value
    /// is that home's index, where the task must stay (never stolen). A
    /// green thread is pinned so (see `green`'s docs on the thread-local
    /// hazard); the event loop has one thread and ignores this. Set before
    /// the task is first queued (the index too, for [`Placement::Here`]),
    /// and from [`UNHOMED`] to an index once. One word for both questions,
    /// pinned and where, because a worker asks both at every poll.
    pub(crate) home: AtomicUsize,
}

/// Not pinned: the task may run on any worker.
pub(crate) const FREE: usize = usize::MAX;
/// Pinned, and not polled yet: it may still start on any worker.
pub(crate) const UNHOMED: usize = usize::MAX - 1;

/// Where a spawned task may run.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Placement {
    /// On any scheduler thread, moving between them (async tasks,
    /// migratable green threads).
    Free,
    /// On the scheduler thread that first polls it (green threads).
    Pinned,
    /// Pinned, and on the worker that spawns it from the start, when the
    /// spawner is a worker of the task's runtime; else as `Pinned`.
    Here,
}

pin_project_lite::pin_project! {
    /// A user future as a task runs it: panics are caught, and dropping it
    /// (completion or cancellation, an abort's included) takes the task
    /// out of the registry.
    pub(crate) struct TaskFuture<F> {
        #[pin]
        future: F,
        meta: MetaRef,
    }

    impl<F> PinnedDrop for TaskFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            let meta = this.meta.get();
            let key = meta.key.load(Ordering::Acquire);
            if key != UNREGISTERED {
                meta.sched.deregister(key, meta.id);
            }
        }
    }
}

impl<F> TaskFuture<F> {
    fn new(meta: &TaskMeta, future: F) -> TaskFuture<F> {
        TaskFuture {
            future,
            meta: MetaRef::new(meta),
        }
    }
}

impl<F: Future> Future for TaskFuture<F> {
    type Output = Result<F::Output, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let future = this.future;
        match std::panic::catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            // The id is read here, not before the poll: nothing to keep
            // across it on the common path.
            Err(payload) => Poll::Ready(Err(JoinError::panic(this.meta.get().id, payload))),
        }
    }
}

/// A pointer to a task's own metadata, standing for `&'task TaskMeta`.
///
/// A task's future is `'static`, so it cannot hold a reference to the
/// metadata in the task's own cell; it holds this instead. Holders must keep
/// the task alive for as long as they use it, as its future (which lives
/// inside the cell) does.
#[derive(Clone, Copy)]
pub(crate) struct MetaRef(NonNull<TaskMeta>);

// SAFETY: the pointer stands for a shared reference to `TaskMeta`, which is
// `Sync` (ids, a `&'static Location`, an `Arc`-based scheduler handle and
// atomics), so it may be sent to and shared between threads.
unsafe impl Send for MetaRef {}
// SAFETY: as above.
unsafe impl Sync for MetaRef {}

impl MetaRef {
    pub(crate) fn new(meta: &TaskMeta) -> MetaRef {
        MetaRef(NonNull::from(meta))
    }

    pub(crate) fn get(&self) -> &TaskMeta {
        // SAFETY: by the holder's contract (see the type's docs) the task is
        // alive, and the cell keeps the metadata in its header,
        // which is destroyed only after the future has been dropped and the
        // last reference has gone.
        unsafe { self.0.as_ref() }
    }
}

/// Spawns `future` on `sched` as a `Send` task.
#[track_caller]
pub(crate) fn spawn_on<F>(sched: &Scheduler, name: Option<&str>, future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    spawn_with(sched, name, Placement::Free, Location::caller(), |_| future)
}

/// Spawns the future that `make` builds from the task's metadata (a green
/// thread wants its task id), with the given placement and location.
pub(crate) fn spawn_with<F, M>(
    sched: &Scheduler,
    name: Option<&str>,
    placement: Placement,
    location: &'static Location<'static>,
    make: M,
) -> JoinHandle<F::Output>
where
    M: FnOnce(&TaskMeta) -> F,
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let sched = sched.spawn_target();
    let mut meta = TaskMeta::new(Scheduler::clone(&sched), location);
    if placement != Placement::Free {
        meta.home = AtomicUsize::new(UNHOMED);
    }
    let id = meta.id;
    let owner = sched.bias_owner(placement);
    let (runnable, task) = cell::spawn(meta, Scheduler::schedule, owner, |meta| {
        TaskFuture::new(meta, make(meta))
    });
    if placement == Placement::Here {
        Scheduler::home_on_current_worker(&runnable);
    }
    sched.admit(runnable, name);
    JoinHandle::new(task, id)
}

/// Spawns `future` on `sched` as a task that never leaves this thread.
/// The caller has checked that this thread runs `sched`'s local tasks.
#[track_caller]
pub(crate) fn spawn_local_on<F>(
    sched: &Scheduler,
    name: Option<&str>,
    future: F,
) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let meta = TaskMeta::new(sched.clone(), Location::caller());
    let id = meta.id;
    let owner = sched.bias_owner(Placement::Here);
    // SAFETY: `Scheduler::schedule` delivers a task of `sched`'s to this
    // thread, its only one: the caller checked that this thread runs
    // `sched`'s loop, whose tasks it alone polls and drops (a wake-up from
    // elsewhere goes through the loop's remote queue). The handle's output
    // type is the future's, which need not be `Send`: then neither is the
    // handle, so it stays here too.
    let (runnable, task) = unsafe {
        cell::spawn_unchecked(meta, Scheduler::schedule, owner, |meta| {
            TaskFuture::new(meta, future)
        })
    };
    sched.admit(runnable, name);
    JoinHandle::new(task, id)
}

impl TaskMeta {
    pub(crate) fn new(sched: Scheduler, location: &'static Location<'static>) -> TaskMeta {
        TaskMeta {
            id: TaskId::next(),
            location,
            sched,
            key: AtomicUsize::new(UNREGISTERED),
            home: AtomicUsize::new(FREE),
        }
    }
}

/// Spawns a `Send` task on the current runtime and returns its handle.
///
/// The task starts running soon, whether or not the handle is kept;
/// dropping the handle detaches the task.
///
/// # Panics
///
/// Outside a runtime context (not inside `block_on`, a task, a blocking-pool
/// thread, or `Handle::enter`).
///
/// ```
/// # let rt = motet::runtime::Runtime::builder().event_loop().build().unwrap();
/// # rt.block_on(async {
/// let h = motet::task::spawn(async { 6 * 7 });
/// assert_eq!(h.await.unwrap(), 42);
/// # });
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Builder::new().spawn(future)
}

/// Spawns a task that stays on the current thread, so it need not be `Send`
/// (it may hold `Rc`s and `RefCell`s across `.await`).
///
/// # Panics
///
/// Unless called on a thread that is running an event loop (inside
/// `block_on`, or a task it runs).
///
/// ```
/// use std::rc::Rc;
/// # let rt = motet::runtime::Runtime::builder().event_loop().build().unwrap();
/// # rt.block_on(async {
/// let shared = Rc::new(5);
/// let s = shared.clone();
/// let h = motet::task::spawn_local(async move { *s + 1 });
/// assert_eq!(h.await.unwrap(), 6);
/// # });
/// ```
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    Builder::new().spawn_local(future)
}

/// Runs the blocking function `f` on the runtime's blocking pool and returns
/// an awaitable handle to its result. Use it for work that would otherwise
/// stall an event loop: blocking system calls, C libraries, long
/// computations.
///
/// The pool starts threads on demand up to its limit
/// ([`Builder::max_blocking_threads`](crate::runtime::Builder::max_blocking_threads));
/// beyond it, calls queue. Idle threads retire after the keep-alive time.
/// Aborting the handle cancels `f` only if it has not started.
///
/// # Panics
///
/// Outside a runtime context.
///
/// ```
/// # let rt = motet::runtime::Runtime::builder().event_loop().build().unwrap();
/// # rt.block_on(async {
/// let h = motet::task::spawn_blocking(|| std::fs::metadata("/").is_ok());
/// assert!(h.await.unwrap());
/// # });
/// ```
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let location = Location::caller();
    context::with_scheduler(|sched| sched.blocking().spawn(&sched.spawn_target(), f, location))
}

/// Yields to the scheduler: the task goes to the back of its run queue, so
/// every task that was already runnable gets a turn first.
///
/// ```
/// # let rt = motet::runtime::Runtime::builder().event_loop().build().unwrap();
/// # rt.block_on(async {
/// motet::task::yield_now().await;
/// # });
/// ```
pub async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}

/// Spawns tasks with options: a name (shown by the stall detector).
///
/// ```
/// # let rt = motet::runtime::Runtime::builder().event_loop().build().unwrap();
/// # rt.block_on(async {
/// let h = motet::task::Builder::new().name("worker-1").spawn(async { 1 });
/// assert_eq!(h.await.unwrap(), 1);
/// # });
/// ```
#[derive(Debug, Default)]
pub struct Builder<'a> {
    name: Option<&'a str>,
}

impl<'a> Builder<'a> {
    /// A builder with no options set.
    pub fn new() -> Builder<'a> {
        Builder { name: None }
    }

    /// Names the task.
    pub fn name(self, name: &'a str) -> Builder<'a> {
        Builder { name: Some(name) }
    }

    /// Like [`crate::task::spawn`], with this builder's options.
    #[track_caller]
    pub fn spawn<F>(self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let location = Location::caller();
        context::with_scheduler(|sched| {
            spawn_with(sched, self.name, Placement::Free, location, |_| future)
        })
    }

    /// Like [`crate::task::spawn_local`], with this builder's options.
    #[track_caller]
    pub fn spawn_local<F>(self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let sched = context::local_scheduler().unwrap_or_else(|| {
            panic!(
                "motet::task::spawn_local must be called on a thread that runs an event loop \
                 (inside Runtime::block_on or one of its tasks); use motet::task::spawn for Send futures"
            )
        });
        spawn_local_on(&sched, self.name, future)
    }
}
