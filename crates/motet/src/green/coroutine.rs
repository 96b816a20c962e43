//! The coroutine boundary: a green thread as a future, and how code on a
//! green thread's stack suspends back to the poll that resumed it.
//!
//! # The protocol
//!
//! ```text
//!  scheduler thread stack                 green thread stack (PooledStack)
//!  ----------------------                 --------------------------------
//!  Runnable::run
//!   TaskFuture::poll (catch_unwind)
//!    GreenThread::poll(cx)
//!     BOUNDARY.current = &shared
//!     co.resume(()) ───────────────────▶  body: f()  ...  motet::wait(fut)
//!                                           suspend_on: fut.poll(shared.waker)
//!                                             Ready  -> return the value
//!                                             Pending:
//!     ◀──────────────────────────────────── yielder.suspend(())
//!     BOUNDARY.current = previous
//!     return Pending
//!  ... the waker fires, the task is polled again, resume() returns into
//!  suspend_on, which polls `fut` again with the new cx.
//! ```
//!
//! `shared` is a field of the green thread's task future, which is pinned
//! inside its task cell, so its address is stable for the task's life. The
//! poll that resumes the coroutine publishes it in the thread-local
//! [`BOUNDARY`]`.current` for exactly the duration of the resume. Code on
//! the green thread reads it only while it runs, i.e. inside that resume:
//! that is the whole safety argument for the raw pointer, and why it is
//! cleared (restored) as soon as `resume` returns.
//!
//! The waker the green thread's waits poll with is its task's own, copied
//! into `shared` by the first poll: only the task cell polls a green
//! thread, always with the waker of that same cell (checked in debug
//! builds), so the copy is the poll's waker at every resume. A resume then
//! hands nothing over but the stack switch itself (handing over each
//! poll's `Context` cost 9 instructions a switch).
//!
//! Panics are caught at the bottom of the coroutine (never unwound across
//! the stack switch) and re-raised on the scheduler's stack with
//! `resume_unwind`, where the task's own `catch_unwind` turns them into a
//! [`JoinError`](crate::task::JoinError) like any task's panic.
//!
//! Code on a green thread reads our thread-local only through
//! [`current`], which is `#[inline(never)]`, so no address of it computed
//! before a suspension is used after it, even if a green thread is
//! resumed on another OS thread (see the hazard in the
//! [module docs](super)). [`set_current`] runs only on the scheduler's
//! side of the boundary (the poll that resumes, and the drop), a single
//! call on one OS thread, so it may be inlined (measured:
//! 23 instructions less per switch, and 8% off pingpong `green-loop`).

use std::any::Any;
use std::cell::Cell;
use std::future::Future;
use std::marker::PhantomPinned;
use std::mem::ManuallyDrop;
use std::panic::{self, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::ptr;
use std::task::{Context, Poll, RawWaker, Waker};

use corosensei::{Coroutine, CoroutineResult, Yielder};

use super::stack::{self, PooledStack, Running};

type Payload = Box<dyn Any + Send + 'static>;
type Co<T> = Coroutine<(), (), Result<T, Payload>, PooledStack>;

/// What the code on a green thread shares with the poll that resumes it.
pub(crate) struct Shared {
    /// The task's waker (see the module docs), set by the first poll: a
    /// copy that holds no reference of its own (the task outlives its
    /// future, which holds this), so it is never dropped.
    waker: ManuallyDrop<Waker>,
    /// The coroutine's yielder (it lives at the bottom of the coroutine's
    /// own stack), set by the body when it starts.
    yielder: Cell<*const Yielder<(), ()>>,
    /// The guard range, size and name, for the overflow handler.
    running: Running,
}

/// This OS thread's side of the coroutine boundary: one thread-local, so a
/// resume costs one thread-local access going in and one coming out.
struct Boundary {
    /// The green thread this OS thread is resuming right now, if any.
    current: Cell<*const Shared>,
    /// Whether this thread is ready to resume green threads (the overflow
    /// handler and an alternate signal stack: [`stack::prepare_thread`]).
    prepared: Cell<bool>,
}

thread_local! {
    // Const-initialised and without a destructor: a plain thread-local
    // load, which the overflow handler may do from a signal handler.
    static BOUNDARY: Boundary = const {
        Boundary {
            current: Cell::new(ptr::null()),
            prepared: Cell::new(false),
        }
    };
}

#[inline(never)]
fn current() -> *const Shared {
    BOUNDARY
        .try_with(|b| b.current.get())
        .unwrap_or(ptr::null())
}

/// Publishes `s` as the green thread this thread is resuming (null: none);
/// returns the previous one, to be put back when the resume returns.
/// Scheduler side only (see the module docs); the thread is prepared
/// already (see [`prepare`]).
#[inline]
fn set_current(s: *const Shared) -> *const Shared {
    BOUNDARY.with(|b| b.current.replace(s))
}

/// Makes this thread ready to resume green threads, once (see
/// [`stack::prepare_thread`]). A green thread's first poll calls it, so the
/// thread that starts a green thread is ready for it, and the overflow
/// handler is installed before any green thread runs anywhere; a thread
/// that may resume green threads started elsewhere (a work-stealing
/// worker, where a migratable green thread may move) gives itself an
/// alternate signal stack when it starts ([`stack::ensure_altstack`]). Not
/// on every resume: the test cost 3 instructions a switch.
fn prepare() {
    BOUNDARY.with(|b| {
        if !b.prepared.get() {
            b.prepared.set(true);
            stack::prepare_thread();
        }
    })
}

/// The stack facts of the green thread this thread is resuming, if any:
/// for the overflow handler, which runs on this thread.
pub(crate) fn running() -> *const Running {
    let s = current();
    if s.is_null() {
        return ptr::null();
    }
    // SAFETY: BOUNDARY.current is non-null only during the resume of the
    // green thread whose pinned `Shared` it points to; only the field's
    // address is taken.
    unsafe { ptr::addr_of!((*s).running) }
}

/// Whether the calling code runs on a green thread.
pub(crate) fn in_green_thread() -> bool {
    !current().is_null()
}

/// The green thread the calling code runs on, as read by [`current_green`]:
/// what the waits below need, so that a blocking call reads the
/// thread-local once, not once to choose its path and again to wait. It
/// points to the green thread's own pinned `Shared`, the same on every
/// resume: valid on that green thread for its whole life.
#[derive(Clone, Copy)]
pub(crate) struct Green(*const Shared);

/// The green thread the calling code runs on, if any.
#[inline(always)]
pub(crate) fn current_green() -> Option<Green> {
    let s = current();
    (!s.is_null()).then_some(Green(s))
}

/// The green thread's stack, for measurements.
pub(crate) fn with_running<R>(f: impl FnOnce(Option<&Running>) -> R) -> R {
    // SAFETY: `running()` is non-null only during the resume of the green
    // thread whose pinned `Shared` holds it (see the module docs), and this
    // runs inside that resume.
    f(unsafe { running().as_ref() })
}

/// Where a green thread is in its life.
enum Stage<F, T> {
    /// Spawned, never run: the closure, and its stack only where the stack
    /// had to be taken at spawn (see [`stack::take_at_spawn`]). Holding no
    /// stack here is what lets a burst of spawns (skynet's million leaves)
    /// reuse the few warm stacks that finished green threads give back,
    /// instead of faulting in a fresh page for every green thread queued.
    Fresh(F, Option<PooledStack>),
    /// Started: the coroutine, suspended whenever this future is not being
    /// polled.
    Running(Co<T>),
    /// Returned (its stack is back in the pool).
    Finished,
}

pin_project_lite::pin_project! {
    /// A green thread as its task runs it: the first poll takes a stack
    /// and starts the coroutine; each poll resumes it until it suspends
    /// (`Pending`) or returns (`Ready`).
    pub(crate) struct GreenThread<F, T> {
        stage: Stage<F, T>,
        shared: Shared,
        #[pin]
        _pinned: PhantomPinned,
    }

    impl<F, T> PinnedDrop for GreenThread<F, T> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Stage::Running(co) = std::mem::replace(this.stage, Stage::Finished) {
                // Dropping a suspended coroutine unwinds its stack (running
                // its destructors) here. Code in those destructors is not
                // resumed through `poll`, so it must not find some other
                // green thread in BOUNDARY.current and suspend *that* one.
                let prev = set_current(ptr::null());
                drop(co);
                set_current(prev);
            }
        }
    }
}

// SAFETY: the closure and its result are `Send` (checked by `new`'s
// bounds). What else a suspended green thread's stack holds may not be
// `Send`: it is moved between OS threads only if its task is polled on
// another thread than before. The event loop never does that (every poll
// and drop of a task happens on the owner thread); a multi-threaded
// scheduler must not either unless the task is unpinned, which only the
// `unsafe` builder option `Builder::migratable` allows, on the caller's
// promise (see its `# Safety`).
unsafe impl<F: Send, T: Send> Send for GreenThread<F, T> {}

impl<F, T> GreenThread<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    /// A green thread that will run `f` on a stack of `stack_size` usable
    /// bytes (rounded), not started yet. `stack` is the stack if the
    /// spawner had to take it already.
    pub(crate) fn new(
        f: F,
        stack_size: usize,
        stack: Option<PooledStack>,
        task_id: u64,
        name: Option<Box<str>>,
    ) -> GreenThread<F, T> {
        GreenThread {
            stage: Stage::Fresh(f, stack),
            shared: Shared {
                waker: ManuallyDrop::new(Waker::noop().clone()),
                yielder: Cell::new(ptr::null()),
                running: Running {
                    guard_lo: 0,
                    guard_hi: 0,
                    top: 0,
                    stack_size,
                    task_id,
                    name,
                },
            },
            _pinned: PhantomPinned,
        }
    }
}

/// Takes the green thread's stack (unless it came with one) and builds its
/// coroutine; nothing runs yet.
///
/// # Panics
///
/// If no stack can be had (address space or memory maps exhausted): the
/// green thread then ends with that error as its panic, which its handle
/// reports. Only where guards cost no map (see `stack::take_at_spawn`), so
/// running out of maps stays the spawner's error elsewhere.
fn start<F, T>(f: F, stack: Option<PooledStack>, running: &mut Running) -> Co<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    let stack = match stack {
        Some(s) => s,
        None => PooledStack::take(running.stack_size)
            .unwrap_or_else(|e| panic!("motet::green: cannot start a green thread: {e}")),
    };
    (running.guard_lo, running.guard_hi) = stack.guard();
    running.top = stack.top();
    Coroutine::with_stack(stack, move |yielder: &Yielder<(), ()>, ()| {
        let shared = current();
        // SAFETY: every resume comes from `poll`, which has set
        // BOUNDARY.current to this green thread's pinned `Shared`.
        unsafe { (*shared).yielder.set(yielder) };
        // Panics stop here, on the green thread's own stack; `poll`
        // re-raises them on the scheduler's.
        panic::catch_unwind(AssertUnwindSafe(f))
    })
}

/// The first poll's step: starts a fresh green thread (see [`start`]),
/// keeping a copy of its task's waker (see the module docs).
///
/// # Panics
///
/// If the green thread has finished: its task must not be polled again.
#[cold]
fn begin<F, T>(stage: &mut Stage<F, T>, shared: &mut Shared, waker: &Waker)
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    match std::mem::replace(stage, Stage::Finished) {
        Stage::Fresh(f, stack) => {
            prepare();
            *stage = Stage::Running(start(f, stack, &mut shared.running));
            let raw = RawWaker::new(waker.data(), waker.vtable());
            // SAFETY: `waker` is the task cell's own, whose functions need
            // only that its data point to the live cell. The copy is used
            // only by code on this green thread, which runs only inside a
            // poll of this task, so while the cell is alive; it is never
            // dropped (the copy owns no reference of its own).
            shared.waker = ManuallyDrop::new(unsafe { Waker::from_raw(raw) });
        }
        _ => panic!("a green thread's task was polled after it finished"),
    }
}

impl<F: FnOnce() -> T + 'static, T: 'static> Future for GreenThread<F, T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let this = self.project();
        let shared: &mut Shared = this.shared;
        if !matches!(this.stage, Stage::Running(_)) {
            begin(this.stage, shared, cx.waker());
        }
        let Stage::Running(co) = this.stage else {
            unreachable!("`begin` leaves the green thread running")
        };
        debug_assert!(
            cx.waker().will_wake(&shared.waker),
            "a green thread polled with another waker than its task's"
        );
        let prev = set_current(shared);
        let result = co.resume(());
        set_current(prev);
        match result {
            CoroutineResult::Yield(()) => Poll::Pending,
            CoroutineResult::Return(res) => {
                // Give the stack back to the pool now, not when the task
                // cell is freed.
                *this.stage = Stage::Finished;
                match res {
                    Ok(v) => Poll::Ready(v),
                    Err(payload) => panic::resume_unwind(payload),
                }
            }
        }
    }
}

/// Suspends the green thread until its task is polled again.
///
/// This and every function on the way from a public blocking API down to
/// it are `#[inline(always)]`: the green thread must suspend in its
/// caller's frame ("The cost of a switch" in the [module docs](super)).
#[inline(always)]
fn suspend(shared: *const Shared) {
    // SAFETY: `shared` came from BOUNDARY.current during this resume; the
    // yielder it holds lives at the bottom of this very coroutine's stack,
    // and we are running on that stack, inside the coroutine.
    let yielder = unsafe { &*(*shared).yielder.get() };
    yielder.suspend(());
}

/// `wait`'s green-thread case (`green`: the caller, from
/// [`current_green`]): polls `future` with the green thread's task
/// context, suspending the coroutine while it is pending.
///
/// The switching budget: a wait that is ready at once does not switch, so
/// a green thread that keeps finding ready resources would never let
/// another unit run. Each such wait charges an [`OP`](crate::coop::OP) to
/// the task poll's cooperative budget (`coop.rs`); once it is spent the
/// green thread yields (wakes itself and suspends), going to the back of
/// the run queue, and resumes with a fresh budget.
///
#[inline(always)]
pub(crate) fn suspend_on<F: Future>(green: Green, future: F) -> F::Output {
    suspend_on_with(green, future, crate::coop::OP)
}

/// [`suspend_on`] for a future that charges the budget itself (a channel
/// operation's): a ready wait adds no charge of its own.
#[inline(always)]
pub(crate) fn suspend_on_charged<F: Future>(green: Green, future: F) -> F::Output {
    suspend_on_with(green, future, 0)
}

/// [`suspend_on`], charging `units` for a wait that is ready at once
/// (forced inline: each caller's `units` is a constant).
#[inline(always)]
fn suspend_on_with<F: Future>(green: Green, future: F, units: u16) -> F::Output {
    let mut future = pin!(future);
    // This green thread's own `Shared`, pinned in its task: the same on
    // every resume, whichever OS thread resumes it (a migratable green
    // thread may move), so it is read once; the `Context` in it is read on
    // every turn, since each resume brings its own.
    let shared = green.0;
    loop {
        // SAFETY: `shared` is BOUNDARY.current of every resume of this
        // green thread, its pinned `Shared`, alive while the green thread
        // runs. The reference does not outlive this turn of the loop (no
        // suspension happens while it is alive).
        let poll = unsafe {
            let mut cx = Context::from_waker(&(*shared).waker);
            future.as_mut().poll(&mut cx)
        };
        match poll {
            Poll::Ready(v) => {
                if units > 0 && crate::coop::charge(units) {
                    yield_from(shared);
                }
                return v;
            }
            Poll::Pending => suspend(shared),
        }
    }
}

/// Yields the calling green thread: its task goes to the back of its run
/// queue, and the coroutine suspends until it is polled again. False (and
/// nothing happens) off a green thread.
///
/// The task wakes itself and suspends, with no future in between: the
/// cheapest switch the task system allows.
#[inline(always)]
pub(crate) fn yield_now() -> bool {
    let shared = current();
    if shared.is_null() {
        return false;
    }
    yield_from(shared);
    true
}

#[inline(always)]
fn yield_from(shared: *const Shared) {
    // The poll resuming this coroutine is its own task's (a green thread is
    // always its task's whole future), so the task marks itself woken there
    // without a call through the waker; the waker only if no task poll
    // runs, which cannot happen.
    if !crate::task::cell::wake_polled_task() {
        // SAFETY: `shared` came from BOUNDARY.current during this resume
        // (see `suspend_on`).
        unsafe { (*shared).waker.wake_by_ref() };
    }
    suspend(shared);
}
