//! What the current thread is doing for motet, in two thread-locals.
//!
//! - `scheduler`: the runtime that `spawn`, timers and sockets use from this
//!   thread. Set by `block_on`, by `Handle::enter`, on blocking-pool
//!   threads, and on every scheduler thread.
//! - `core`: the scheduler core this thread is *driving* right now: an event
//!   loop (inside `block_on`, on a per-core thread, or while dropping its
//!   runtime) or a work-stealing worker. Only with an event loop here may
//!   `spawn_local` be used, and a wake-up on this thread goes straight onto
//!   the core's local queue. Any core here makes
//!   [`wait`](crate::wait::wait) refuse to block.
//!
//! The core is looked up at every wake-up (is the task this thread's?), so
//! it is kept apart from the scheduler, in a thread-local of its own that
//! is a plain pointer: no destructor, no `RefCell`, one load. The
//! [`DriveGuard`] that set it owns the core (an `Rc`) and puts the previous
//! pointer back before letting go of it; guards live in the frames of the
//! loops they bracket, so they end in the reverse order of their start, and
//! a pointer found in [`CORE`] always names a core some guard still owns.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use super::event_loop::Local;
use super::work_stealing::Core as Worker;
use super::Scheduler;
use crate::driver::Driver;

/// The scheduler core a thread drives, borrowed for a call of [`with_core`].
#[derive(Clone, Copy)]
pub(crate) enum CoreRef<'a> {
    Loop(&'a Local),
    Worker(&'a Worker),
}

/// [`CORE`]'s value: a pointer into the `Rc` a [`DriveGuard`] owns.
#[derive(Clone, Copy)]
enum Driven {
    None,
    Loop(*const Local),
    Worker(*const Worker),
}

struct Context {
    scheduler: RefCell<Option<Scheduler>>,
}

thread_local! {
    static CONTEXT: Context = const { Context { scheduler: RefCell::new(None) } };
    // Const-initialised, `Copy` and without a destructor: a plain load.
    static CORE: Cell<Driven> = const { Cell::new(Driven::None) };
}

/// The current thread's scheduler, if any.
pub(crate) fn scheduler() -> Option<Scheduler> {
    CONTEXT
        .try_with(|c| c.scheduler.borrow().clone())
        .ok()
        .flatten()
}

/// A spawn outside any runtime.
#[track_caller]
fn no_runtime() -> ! {
    panic!(
        "no motet runtime here: spawn from inside `Runtime::block_on` or a task, \
         or use `Handle::spawn`/`Handle::enter` from other threads"
    )
}

/// The current thread's scheduler.
///
/// # Panics
///
/// With a message naming the ways into a runtime.
#[track_caller]
pub(crate) fn scheduler_or_panic() -> Scheduler {
    match scheduler() {
        Some(s) => s,
        None => no_runtime(),
    }
}

/// Runs `f` with the current thread's scheduler, borrowed: a spawn then
/// touches the scheduler's reference count once (the task's own handle),
/// not three times, which matters when every worker spawns (they would
/// all bounce that one counter's cache line). `f` must not enter another
/// scheduler on this thread.
///
/// # Panics
///
/// Outside a runtime, with the same message as [`scheduler_or_panic`].
#[track_caller]
pub(crate) fn with_scheduler<R>(f: impl FnOnce(&Scheduler) -> R) -> R {
    let out = CONTEXT
        .try_with(|c| c.scheduler.borrow().as_ref().map(f))
        .ok()
        .flatten();
    match out {
        Some(out) => out,
        None => no_runtime(),
    }
}

/// The scheduler whose local tasks this thread runs, if it drives an event
/// loop.
pub(crate) fn local_scheduler() -> Option<Scheduler> {
    with_core(|core| match core {
        Some(CoreRef::Loop(l)) => Some(Scheduler::EventLoop(l.shared().clone())),
        _ => None,
    })
}

/// The index of the worker or core this thread drives, in its runtime.
pub(crate) fn worker_index() -> Option<usize> {
    with_core(|core| match core? {
        CoreRef::Worker(w) => Some(w.index()),
        CoreRef::Loop(l) => Some(l.shared().group().map_or(0, |(_, i)| i)),
    })
}

/// The current thread's driver, if any.
pub(crate) fn driver() -> Option<Arc<Driver>> {
    CONTEXT
        .try_with(|c| c.scheduler.borrow().as_ref().map(|s| s.driver().clone()))
        .ok()
        .flatten()
}

/// Whether this thread drives a scheduler core (so must never block).
pub(crate) fn is_driving() -> bool {
    !matches!(CORE.get(), Driven::None)
}

/// Runs `f` with the core this thread drives, if any.
#[inline]
pub(crate) fn with_core<R>(f: impl FnOnce(Option<CoreRef<'_>>) -> R) -> R {
    // SAFETY: a pointer in CORE points into the `Rc` owned by the newest
    // live DriveGuard on this thread, which lives in a frame below this
    // call (module docs), so it stays live throughout `f`: a guard that `f`
    // makes ends within `f`, putting this pointer back.
    let core = unsafe {
        match CORE.get() {
            Driven::None => None,
            Driven::Loop(l) => Some(CoreRef::Loop(&*l)),
            Driven::Worker(w) => Some(CoreRef::Worker(&*w)),
        }
    };
    f(core)
}

/// Why `block_on` refuses to run on a thread that drives a runtime.
pub(crate) const NESTED_RUNTIME: &str = "cannot start a motet runtime from inside another one on the \
     same thread: the outer scheduler would stall. `.await` the future instead, or run the blocking \
     part with `motet::task::spawn_blocking`";

/// Restores the previous scheduler when dropped.
pub(crate) struct EnterGuard {
    prev: Option<Scheduler>,
}

/// Makes `sched` this thread's current scheduler until the guard drops.
pub(crate) fn enter(sched: Scheduler) -> EnterGuard {
    let prev = CONTEXT.with(|c| c.scheduler.replace(Some(sched)));
    EnterGuard { prev }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let prev = self.prev.take();
        let _ = CONTEXT.try_with(|c| c.scheduler.replace(prev));
    }
}

/// A core, owned.
enum OwnedCore {
    Loop(Rc<Local>),
    Worker(Rc<Worker>),
}

/// Marks this thread as driving a core until dropped.
pub(crate) struct DriveGuard {
    _enter: EnterGuard,
    /// Dropped after [`CORE`] no longer points into it (fields drop after
    /// `drop` has run).
    _core: OwnedCore,
    prev: Driven,
}

impl Drop for DriveGuard {
    fn drop(&mut self) {
        CORE.set(self.prev);
    }
}

fn drive_core(core: OwnedCore, sched: Scheduler, nested_ok: bool) -> DriveGuard {
    let prev = CORE.get();
    assert!(
        nested_ok || matches!(prev, Driven::None),
        "{NESTED_RUNTIME}"
    );
    CORE.set(match &core {
        OwnedCore::Loop(l) => Driven::Loop(Rc::as_ptr(l)),
        OwnedCore::Worker(w) => Driven::Worker(Rc::as_ptr(w)),
    });
    DriveGuard {
        _enter: enter(sched),
        _core: core,
        prev,
    }
}

/// Enters `local`'s scheduler and marks this thread as driving it.
///
/// # Panics
///
/// If the thread already drives a core: `block_on` inside `block_on` would
/// stall the outer loop for as long as the inner one runs.
pub(crate) fn drive(local: Rc<Local>) -> DriveGuard {
    let sched = Scheduler::EventLoop(local.shared().clone());
    drive_core(OwnedCore::Loop(local), sched, false)
}

/// Like [`drive`], but allowed while this thread drives another core (a
/// runtime dropped from inside another runtime's task): the other core is
/// set aside until the guard drops.
pub(crate) fn drive_for_shutdown(local: Rc<Local>) -> DriveGuard {
    let sched = Scheduler::EventLoop(local.shared().clone());
    drive_core(OwnedCore::Loop(local), sched, true)
}

/// Marks this thread as the work-stealing worker `worker` until dropped.
pub(crate) fn drive_worker(worker: Rc<Worker>) -> DriveGuard {
    let sched = Scheduler::WorkStealing(worker.shared().clone());
    drive_core(OwnedCore::Worker(worker), sched, false)
}
