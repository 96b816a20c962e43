//! What the current thread is doing for motet, in one thread-local.
//!
//! - `scheduler`: the runtime that `spawn`, timers and sockets use from this
//!   thread. Set by `block_on`, by `Handle::enter`, and on blocking-pool
//!   threads.
//! - `local`: the event loop this thread is *driving* right now (inside
//!   `block_on`, or dropping its runtime). Only then may `spawn_local` be
//!   used, and only then does a wake-up push straight onto the loop's local
//!   queue. It doubles as the "this is an event-loop thread" flag that makes
//!   [`wait`](crate::wait::wait) refuse to block.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use super::event_loop::Local;
use super::Scheduler;
use crate::driver::Driver;

struct Context {
    scheduler: RefCell<Option<Scheduler>>,
    local: RefCell<Option<Rc<Local>>>,
}

thread_local! {
    static CONTEXT: Context = const {
        Context { scheduler: RefCell::new(None), local: RefCell::new(None) }
    };
}

/// The current thread's scheduler, if any.
pub(crate) fn scheduler() -> Option<Scheduler> {
    CONTEXT
        .try_with(|c| c.scheduler.borrow().clone())
        .ok()
        .flatten()
}

/// The current thread's scheduler.
///
/// # Panics
///
/// With a message naming the ways into a runtime.
#[track_caller]
pub(crate) fn scheduler_or_panic() -> Scheduler {
    scheduler().unwrap_or_else(|| {
        panic!(
            "no motet runtime here: spawn from inside `Runtime::block_on` or a task, \
             or use `Handle::spawn`/`Handle::enter` from other threads"
        )
    })
}

/// The scheduler whose local tasks this thread runs, if it is driving one.
pub(crate) fn local_scheduler() -> Option<Scheduler> {
    CONTEXT
        .try_with(|c| {
            c.local
                .borrow()
                .as_ref()
                .map(|l| Scheduler::EventLoop(l.shared().clone()))
        })
        .ok()
        .flatten()
}

/// The current thread's driver, if any.
pub(crate) fn driver() -> Option<Arc<Driver>> {
    CONTEXT
        .try_with(|c| c.scheduler.borrow().as_ref().map(|s| s.driver().clone()))
        .ok()
        .flatten()
}

/// Whether this thread is driving an event loop (so must never block).
pub(crate) fn is_driving() -> bool {
    CONTEXT
        .try_with(|c| c.local.borrow().is_some())
        .unwrap_or(false)
}

/// Runs `f` with the event loop this thread drives, if any.
pub(crate) fn with_local<R>(f: impl FnOnce(Option<&Local>) -> R) -> R {
    let mut f = Some(f);
    CONTEXT
        .try_with(|c| (f.take().unwrap())(c.local.borrow().as_deref()))
        .unwrap_or_else(|_| (f.take().unwrap())(None))
}

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

/// Marks this thread as driving `local` until dropped.
pub(crate) struct DriveGuard {
    _enter: EnterGuard,
    prev_local: Option<Rc<Local>>,
}

/// Enters `local`'s scheduler and marks this thread as driving it.
///
/// # Panics
///
/// If the thread already drives an event loop: `block_on` inside `block_on`
/// would stall the outer loop for as long as the inner one runs.
pub(crate) fn drive(local: Rc<Local>) -> DriveGuard {
    CONTEXT.with(|c| {
        let mut slot = c.local.borrow_mut();
        assert!(
            slot.is_none(),
            "cannot start a motet runtime from inside another one on the same thread: \
             the outer event loop would stall. `.await` the future instead, or run the \
             blocking part with `motet::task::spawn_blocking`"
        );
        let enter = enter(Scheduler::EventLoop(local.shared().clone()));
        *slot = Some(local);
        DriveGuard {
            _enter: enter,
            prev_local: None,
        }
    })
}

impl Drop for DriveGuard {
    fn drop(&mut self) {
        let prev = self.prev_local.take();
        let _ = CONTEXT.try_with(|c| *c.local.borrow_mut() = prev);
    }
}

/// Like [`drive`], but allowed while this thread drives another loop (a
/// runtime dropped from inside another runtime's task): the other loop is
/// set aside until the guard drops.
pub(crate) fn drive_for_shutdown(local: Rc<Local>) -> DriveGuard {
    CONTEXT.with(|c| {
        let enter = enter(Scheduler::EventLoop(local.shared().clone()));
        let prev_local = c.local.borrow_mut().replace(local);
        DriveGuard {
            _enter: enter,
            prev_local,
        }
    })
}
