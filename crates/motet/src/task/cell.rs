//! Task cells: the one allocation behind every task, and its state machine.
//!
//! A cell holds a header (the state word, the scheduling function, the
//! waker of whoever awaits the task, and the task's metadata) followed by
//! the future, which becomes the output once the future is ready. Three
//! kinds of owner point at a cell:
//!
//! - the [`Runnable`]: the right to poll the future. At most one exists at a
//!   time; a scheduler queues it, runs it, or drops it (which cancels the
//!   task);
//! - the [`Task`] handle: the right to take the output (`JoinHandle` wraps it);
//! - wakers, which make a new `Runnable` when the task is idle.
//!
//! # The state word
//!
//! ```text
//! bit 0  RUNNABLE   a Runnable exists: queued, or being polled
//! bit 1  WOKEN      woken while RUNNABLE: poll again before going idle
//! bit 2  COMPLETED  the future returned Ready; its output is in the cell
//! bit 3  CLOSED     no more polls: cancelled, or the output is gone
//! bit 4  HANDLE     the Task handle exists
//! bit 5  ABORTED    the handle asked for an end: the next run cancels
//! bits 6..          references: the Runnable and each waker
//! ```
//!
//! Transitions are atomic read-modify-writes on this word (a yield
//! excepted, and a biased cell's on its own thread: both below), so a
//! wake-up from any thread, a poll, a cancellation and a join agree on who
//! schedules, who drops the future, who drops the output and who frees the
//! cell. The cell is freed when no reference and no handle is left.
//!
//! # Few atomics per switch
//!
//! A locked read-modify-write costs 6-8 ns on this VM when stores are
//! pending, as they are right after a coroutine switch; `async-task`, which
//! motet used before, pays three per wake-up (the wake, the start of the
//! poll, its end). This cell pays two, and a yield none:
//!
//! - **A wake-up of an idle task** sets RUNNABLE and takes the new
//!   Runnable's reference in one operation, and queues it. The run that
//!   follows polls at once: the queue that handed the Runnable over (a
//!   thread's own queue, or a lock or a steal between threads) already
//!   orders the wake-up before the poll. Only a task woken again while
//!   queued (WOKEN set) has the run clear that bit first, so that the poll
//!   covers those wake-ups too.
//! - **The end of a poll** is one operation: WOKEN -> clear it and queue the
//!   task again; otherwise clear RUNNABLE and drop the Runnable's reference.
//! - **A yield**: the cell notices a wake-up that comes from inside the
//!   task's own poll, on the polling thread (a thread-local names the cell
//!   being polled). `Runnable::run` hands the task back, still RUNNABLE,
//!   without touching the state word, and the scheduler that ran it queues
//!   it at the back of its own queue: no look for the thread's scheduler
//!   either (that look, through the schedule function, was 44 of the
//!   about 340 instructions of a green switch on an event loop). This covers
//!   `task::yield_now`, the budget's forced yields and every green thread's
//!   `yield_now`.
//!
//! # Biased to the thread that runs it
//!
//! Even those two are locked instructions, 6-9 ns each here, and a
//! pingpong round trip on one event loop made six of them (two waker
//! clones, two wake-ups, two ends of polls). A task made on an event loop's
//! thread (or placed `Here` by a work-stealing worker) runs on that thread
//! only, so its cell is born *biased* to it (`bias.rs`): that thread
//! updates the state word with a plain load and store inside an owner's
//! section. Every update goes through [`Header::update`] or
//! [`Header::add`], which pick the path; an unbiased or revoked cell pays
//! one load for the choice.
//!
//! From another thread:
//!
//! - **A wake-up by value** (a channel's sender on an OS thread, the
//!   blocking pool finishing a call) leaves the word alone: the waker's
//!   reference travels to the owner as a *wake-up message*, a `Runnable`
//!   whose pointer carries [`WAKE_MESSAGE`], through the schedule function
//!   like any other (an event loop's remote queue). The owner runs it like
//!   a task, which applies the wake-up there; dropping it lets go of the
//!   reference only. A task polled when the message comes is polled again
//!   after it is applied, so no wake-up is lost. A task that has ended
//!   gets no message (its scheduler may have shut down): the waker's
//!   reference is let go of where it is, which revokes.
//! - **Anything else** (a waker cloned, woken by reference or dropped
//!   there, a handle joined or dropped there) revokes the bias, for good,
//!   with a `membarrier`: 0.3-0.85 µs here, most of it the interrupt of
//!   the loop's busy CPU, which is why wake-ups travel instead.
//!
//! Measured: pingpong `green-loop` and `async-loop` about a quarter faster
//! (BENCHMARKS.md, tenth session).
//!
//! # Rejected alternatives
//!
//! - *`async-task`* (which motet used before): sound and compact, but a
//!   wake-up costs three atomic operations and a yield as many.
//! - *A separate reference count*: a wake-up of an idle task both sets
//!   RUNNABLE and takes a reference for the new Runnable; in one word that
//!   is one operation.
//! - *Clearing WOKEN with an atomic operation at every run*: one more per
//!   poll, for the rare task woken again while queued. The run reads the
//!   word and clears WOKEN only when it is set.

use std::cell::Cell as StdCell;
use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::num::NonZeroUsize;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use crate::bias::Bias;
use crate::loom::atomic::{AtomicUsize, Ordering};
use crate::loom::cell::UnsafeCell;
use crate::loom::Mutex;

const RUNNABLE: usize = 1 << 0;
const WOKEN: usize = 1 << 1;
const COMPLETED: usize = 1 << 2;
const CLOSED: usize = 1 << 3;
const HANDLE: usize = 1 << 4;
const ABORTED: usize = 1 << 5;
const REF_SHIFT: u32 = 6;
const REF: usize = 1 << REF_SHIFT;

fn refs(state: usize) -> usize {
    state >> REF_SHIFT
}

/// Where a woken task goes: called with its `Runnable` and whether the task
/// was woken while it ran (a yield), which puts it behind the tasks already
/// queued rather than first.
pub(crate) type ScheduleFn<M> = fn(Runnable<M>, bool);

#[cfg(not(loom))]
std::thread_local! {
    /// The cell this thread is polling (its address), with [`YIELDED`] set
    /// once that poll has woken its own task. 0 outside any poll.
    static POLLING: StdCell<usize> = const { StdCell::new(0) };
}
#[cfg(loom)]
loom::thread_local! {
    static POLLING: StdCell<usize> = StdCell::new(0);
}

/// Tag in [`POLLING`]: the task woke itself (cells are at least 8-aligned).
const YIELDED: usize = 1;

/// Wakes the task whose poll runs on this thread, from inside that poll:
/// what `cx.waker().wake_by_ref()` does there (a yield: `run` hands the
/// task back to be queued at the back), without going through the waker.
/// False, doing nothing, outside a task's poll.
///
/// For code that knows its task is the one being polled: a green thread,
/// whose coroutine only its own task's poll resumes.
#[inline]
pub(crate) fn wake_polled_task() -> bool {
    POLLING.with(|p| {
        let polling = p.get();
        if polling != 0 {
            p.set(polling | YIELDED);
        }
        polling != 0
    })
}

/// Whether this thread is inside a task's poll: a wake-up made now comes
/// from a task (a message), not from the driver or a timer.
pub(crate) fn in_poll() -> bool {
    POLLING.with(|p| p.get() != 0)
}

#[repr(C)]
struct Header<M: 'static> {
    state: AtomicUsize,
    /// The state word's bias to the one thread that runs the task, if it
    /// was made on that thread for good (module docs).
    bias: Bias,
    vtable: &'static Vtable<M>,
    schedule: ScheduleFn<M>,
    /// The waker of the handle's last pending poll.
    awaiter: Mutex<Option<Waker>>,
    meta: M,
}

/// What depends on the future's type. Each function is called with a
/// pointer to a live cell of that type.
struct Vtable<M: 'static> {
    /// [`Runnable::run`] for a task (not a wake-up message): the whole run
    /// in one function per future type, so that the poll is inlined into
    /// it. The caller gives up the Runnable's reference.
    run: unsafe fn(NonNull<Header<M>>) -> Option<Runnable<M>>,
    /// Moves the output into `*out` (an `Option<F::Output>`). The caller
    /// holds the handle and has set CLOSED.
    take_output: unsafe fn(NonNull<Header<M>>, *mut ()),
    /// Drops the future or the output, whichever is there. The caller has
    /// exclusive access to the stage.
    drop_stage: unsafe fn(NonNull<Header<M>>),
    /// Frees the cell. Nothing refers to it any more.
    dealloc: unsafe fn(NonNull<Header<M>>),
}

enum Stage<F: Future> {
    Running(F),
    Finished(F::Output),
    Empty,
}

#[repr(C)]
struct TaskCell<F: Future, M: 'static> {
    header: Header<M>,
    stage: UnsafeCell<Stage<F>>,
}

impl<F: Future, M: 'static> TaskCell<F, M> {
    const VTABLE: Vtable<M> = Vtable {
        run: Self::run,
        take_output: Self::take_output,
        drop_stage: Self::drop_stage,
        dealloc: Self::dealloc,
    };

    /// # Safety
    ///
    /// `ptr` points to a live `TaskCell<F, M>`.
    unsafe fn stage<'a>(ptr: NonNull<Header<M>>) -> &'a UnsafeCell<Stage<F>> {
        // SAFETY: the header is the cell's first field (`repr(C)`), so the
        // pointer is the cell's, and by the caller's contract it is live.
        unsafe { &(*ptr.cast::<Self>().as_ptr()).stage }
    }

    /// See [`Runnable::run`].
    ///
    /// # Safety
    ///
    /// `ptr` points to a live `TaskCell<F, M>`, and the caller gives up a
    /// Runnable's reference to it (not a wake-up message's).
    unsafe fn run(ptr: NonNull<Header<M>>) -> Option<Runnable<M>> {
        // SAFETY: our reference keeps the cell live until we give it away.
        let header = unsafe { ptr.as_ref() };
        let state = header.state.load(Ordering::Acquire);
        if state & (WOKEN | CLOSED | ABORTED) != 0 && header.before_run(state) {
            return None;
        }

        let raw = RawWaker::new(ptr.as_ptr().cast(), Header::<M>::waker_vtable());
        // SAFETY: the vtable's functions expect a pointer to a live header;
        // the waker is borrowed (never dropped) and our reference outlives it.
        let waker = ManuallyDrop::new(unsafe { Waker::from_raw(raw) });
        let mut cx = Context::from_waker(&waker);
        let outer = POLLING.with(|p| p.replace(ptr.as_ptr() as usize));
        let unwinding = Unwinding { ptr, outer };
        // SAFETY: we hold the Runnable, the only party that touches a
        // running stage.
        let stage = unsafe { Self::stage(ptr) };
        let ready = stage.with_mut(|stage| {
            // SAFETY: as above: access to the stage is exclusive.
            let stage = unsafe { &mut *stage };
            let Stage::Running(future) = stage else {
                unreachable!("a task cell polled after its future finished")
            };
            // SAFETY: the future lives in the cell, which never moves, and
            // is dropped in place.
            let future = unsafe { Pin::new_unchecked(future) };
            match future.poll(&mut cx) {
                Poll::Pending => false,
                Poll::Ready(out) => {
                    // SAFETY: exclusive, as above.
                    unsafe { Self::clear(stage) };
                    *stage = Stage::Finished(out);
                    true
                }
            }
        });
        std::mem::forget(unwinding);
        let polled = POLLING.with(|p| p.replace(outer));

        if ready {
            Header::complete(ptr);
        } else if polled & YIELDED != 0 {
            // It woke itself: a yield. Still RUNNABLE, for the caller to
            // queue again.
            return Some(Runnable { ptr });
        } else {
            Header::end_poll(ptr);
        }
        None
    }

    unsafe fn take_output(ptr: NonNull<Header<M>>, out: *mut ()) {
        // SAFETY: the caller holds the handle and has set CLOSED, so no
        // one else touches the stage any more; `out` is the handle's
        // `Option<F::Output>`.
        unsafe {
            Self::stage(ptr).with_mut(|stage| {
                if let Stage::Finished(v) = std::mem::replace(&mut *stage, Stage::Empty) {
                    *out.cast::<Option<F::Output>>() = Some(v);
                }
            })
        }
    }

    unsafe fn drop_stage(ptr: NonNull<Header<M>>) {
        // SAFETY: the caller has exclusive access to the stage.
        unsafe { Self::stage(ptr).with_mut(|stage| Self::clear(stage)) }
    }

    /// Drops the future or output in place (a future is pinned: it must
    /// not move before its drop) and leaves the stage empty. A panic in a
    /// destructor is caught: the scheduler that dropped it goes on (the
    /// task's handle already knows how the task ended).
    ///
    /// # Safety
    ///
    /// The caller has exclusive access to `*stage`, a valid stage.
    unsafe fn clear(stage: *mut Stage<F>) {
        // SAFETY: by the caller's contract; the stage is overwritten next
        // without being dropped again, even if a destructor panicked (the
        // unwind has dropped the rest of it).
        let dropped = catch_unwind(AssertUnwindSafe(|| unsafe {
            std::ptr::drop_in_place(stage)
        }));
        // SAFETY: as above.
        unsafe { stage.write(Stage::Empty) };
        if dropped.is_err() {
            tracing::error!("motet: a task's future or output panicked while being dropped");
        }
    }

    unsafe fn dealloc(ptr: NonNull<Header<M>>) {
        // SAFETY: the cell was made by `Box::leak` in `spawn_unchecked`, and
        // nothing refers to it any more.
        drop(unsafe { Box::from_raw(ptr.cast::<Self>().as_ptr()) });
    }
}

/// Makes a task: a cell holding the future that `build` makes from the
/// task's metadata (as it will live in the cell). Returns its Runnable,
/// which the caller queues, and its handle. `owner`: the calling thread's
/// [`bias::token`](crate::bias::token) if the task will run on this
/// thread only, to bias the cell to it, else [`UNBIASED`](crate::bias::UNBIASED).
pub(crate) fn spawn<F, M, B>(
    meta: M,
    schedule: ScheduleFn<M>,
    owner: usize,
    build: B,
) -> (Runnable<M>, Task<F::Output, M>)
where
    B: FnOnce(&M) -> F,
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    M: Send + Sync + 'static,
{
    // SAFETY: the future and its output are `Send`.
    unsafe { spawn_unchecked(meta, schedule, owner, build) }
}

/// Like [`spawn`], for a future that need not be `Send`.
///
/// # Safety
///
/// If `F` or its output is not `Send`, `schedule` must deliver the
/// Runnable to the thread that called this (the only one that may run or
/// drop it), and the handle must take the output on that thread.
pub(crate) unsafe fn spawn_unchecked<F, M, B>(
    meta: M,
    schedule: ScheduleFn<M>,
    owner: usize,
    build: B,
) -> (Runnable<M>, Task<F::Output, M>)
where
    B: FnOnce(&M) -> F,
    F: Future + 'static,
    F::Output: 'static,
    M: Send + Sync + 'static,
{
    let mut cell = Box::new(TaskCell::<F, M> {
        header: Header {
            state: AtomicUsize::new(RUNNABLE | HANDLE | REF),
            bias: Bias::new(owner),
            vtable: &TaskCell::<F, M>::VTABLE,
            schedule,
            awaiter: Mutex::new(None),
            meta,
        },
        stage: UnsafeCell::new(Stage::Empty),
    });
    // Built after the box, so that the metadata has its final address.
    let future = build(&cell.header.meta);
    cell.stage = UnsafeCell::new(Stage::Running(future));
    let ptr = NonNull::from(Box::leak(cell)).cast::<Header<M>>();
    (
        Runnable { ptr },
        Task {
            ptr,
            _output: PhantomData,
        },
    )
}

/// The right to poll a task once: run it, or drop it to cancel the task.
///
/// Or, with [`WAKE_MESSAGE`] set in its pointer, a wake-up from another
/// thread on its way to the thread a biased cell belongs to (module docs):
/// it holds the waker's reference, and running it applies the wake-up.
/// Schedulers queue both alike.
pub(crate) struct Runnable<M: 'static> {
    ptr: NonNull<Header<M>>,
}

/// Tag in a Runnable's pointer (cells are at least 8-aligned): a wake-up
/// message.
const WAKE_MESSAGE: usize = 1;

// SAFETY: a Runnable of a `Send` future may go anywhere. One of a local
// task (`spawn_unchecked`) is handed between threads only by its scheduler,
// whose contract is to run or drop it on the task's own thread.
unsafe impl<M: Send + Sync + 'static> Send for Runnable<M> {}

impl<M: 'static> Runnable<M> {
    /// A wake-up message, made of a waker's reference.
    fn wake_message(cell: NonNull<Header<M>>) -> Runnable<M> {
        Runnable {
            ptr: cell.map_addr(|a| a | WAKE_MESSAGE),
        }
    }

    /// The cell, and whether this is a wake-up message.
    fn cell(&self) -> (NonNull<Header<M>>, bool) {
        let message = self.ptr.addr().get() & WAKE_MESSAGE != 0;
        // SAFETY: clearing the tag leaves the cell's address, not null.
        let cell = self
            .ptr
            .map_addr(|a| unsafe { NonZeroUsize::new_unchecked(a.get() & !WAKE_MESSAGE) });
        (cell, message)
    }

    fn header(&self) -> &Header<M> {
        // SAFETY: a Runnable holds a reference, so the cell is live.
        unsafe { self.cell().0.as_ref() }
    }

    /// The task's metadata.
    pub(crate) fn metadata(&self) -> &M {
        &self.header().meta
    }

    /// A waker for the task.
    pub(crate) fn waker(&self) -> Waker {
        // SAFETY: the cell is live (we hold a reference); the clone takes
        // the waker's own.
        unsafe { Waker::from_raw(Header::<M>::clone_waker(self.cell().0.as_ptr().cast())) }
    }

    /// Gives up the Runnable as a pointer, for [`from_raw`](Self::from_raw).
    pub(crate) fn into_raw(self) -> NonNull<()> {
        ManuallyDrop::new(self).ptr.cast()
    }

    /// # Safety
    ///
    /// `ptr` came from [`into_raw`](Self::into_raw), and is turned back
    /// once.
    pub(crate) unsafe fn from_raw(ptr: NonNull<()>) -> Runnable<M> {
        Runnable { ptr: ptr.cast() }
    }

    /// Polls the task once. It then waits for a wake-up, or is already
    /// queued again (woken meanwhile), or has finished, or it yielded: it
    /// woke itself from its own poll, and comes back here for the caller
    /// to queue at the back of its own queue (the scheduler that runs a
    /// task is the one it belongs to, so this skips the schedule function's
    /// look for the thread's scheduler).
    ///
    /// A wake-up message is applied instead, here on the cell's own thread.
    ///
    /// The run itself is the cell's vtable's, one function per future type
    /// with the poll inlined into it: a switch then crosses one function
    /// frame between the scheduler's loop and the future, not two (it took
    /// 19 instructions off a green yield on an event loop, then 230).
    #[must_use = "a task that yielded comes back, to be queued again"]
    #[inline]
    pub(crate) fn run(self) -> Option<Runnable<M>> {
        let (ptr, message) = ManuallyDrop::new(self).cell();
        if message {
            Header::apply_message(ptr);
            return None;
        }
        // SAFETY: our reference keeps the cell live, and we give it up to
        // the cell's own `run`.
        unsafe { (ptr.as_ref().vtable.run)(ptr) }
    }
}

/// Armed around a poll: if the future panics out of it (motet's task
/// futures catch their panics, so only a bare future can), the thread's
/// [`POLLING`] is restored and the task is cancelled, its future dropped.
struct Unwinding<M: 'static> {
    ptr: NonNull<Header<M>>,
    outer: usize,
}

impl<M: 'static> Drop for Unwinding<M> {
    fn drop(&mut self) {
        POLLING.with(|p| p.set(self.outer));
        Header::cancel(self.ptr);
    }
}

impl<M: 'static> Drop for Runnable<M> {
    /// Cancels the task: its future is dropped here. (A wake-up message
    /// lets go of its reference only.)
    fn drop(&mut self) {
        match self.cell() {
            (cell, true) => Header::drop_ref(cell),
            (cell, false) => Header::cancel(cell),
        }
    }
}

impl<M: 'static> Header<M> {
    const WAKER: RawWakerVTable = RawWakerVTable::new(
        Self::clone_waker,
        Self::wake,
        Self::wake_by_ref,
        Self::drop_waker,
    );

    fn waker_vtable() -> &'static RawWakerVTable {
        &Self::WAKER
    }

    /// One read-modify-write of the state word, as `fetch_update`: `f`
    /// maps the state to the next, or to `None` to leave it. In the owner's
    /// section of a biased cell, a plain load and store.
    #[inline]
    fn update(&self, mut f: impl FnMut(usize) -> Option<usize>) -> Result<usize, usize> {
        match self.bias.run(|| self.plain_update(&mut f)) {
            Some(updated) => updated,
            None => self
                .state
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, f),
        }
    }

    /// [`update`](Self::update)'s owner's path: a plain load and store.
    #[inline(always)]
    fn plain_update(&self, f: impl FnOnce(usize) -> Option<usize>) -> Result<usize, usize> {
        let state = self.state.load(Ordering::Acquire);
        let next = f(state).ok_or(state)?;
        self.state.store(next, Ordering::Release);
        Ok(state)
    }

    /// [`update`](Self::update) with a total `f`. Returns the state before
    /// and after.
    fn transition(&self, f: impl Fn(usize) -> usize) -> (usize, usize) {
        let prev = self.update(|s| Some(f(s))).unwrap_or_else(|s| s);
        (prev, f(prev))
    }

    /// Adds `delta` to the state word, wrapping (so that adding
    /// `REF.wrapping_neg()` takes a reference away), as `fetch_add`;
    /// returns the state before.
    #[inline]
    fn add(&self, delta: usize, order: Ordering) -> usize {
        let plain = || {
            let state = self.state.load(Ordering::Acquire);
            self.state
                .store(state.wrapping_add(delta), Ordering::Release);
            state
        };
        self.bias
            .run(plain)
            .unwrap_or_else(|| self.state.fetch_add(delta, order))
    }

    /// The Runnable's poll returned Pending: idle, dropping the Runnable's
    /// reference, or queued again if a wake-up came meanwhile (WOKEN).
    fn end_poll(ptr: NonNull<Self>) {
        // SAFETY: we hold the Runnable's reference.
        let header = unsafe { ptr.as_ref() };
        let (prev, new) = header.transition(|s| {
            if s & WOKEN != 0 {
                s & !WOKEN
            } else {
                (s & !RUNNABLE) - REF
            }
        });
        if prev & WOKEN != 0 {
            (header.schedule)(Runnable { ptr }, true);
        } else if refs(new) == 0 && new & HANDLE == 0 {
            Self::last_ref(ptr, new);
        }
    }

    /// The future returned Ready and its output is stored: publish it,
    /// tell the awaiter, let go of the Runnable's reference.
    fn complete(ptr: NonNull<Self>) {
        // SAFETY: we hold the Runnable's reference.
        let header = unsafe { ptr.as_ref() };
        let (_, new) = header.transition(|s| {
            let s = (s & !(RUNNABLE | WOKEN)) | COMPLETED;
            // With no handle, nobody will take the output.
            if s & HANDLE == 0 {
                s | CLOSED
            } else {
                s
            }
        });
        if new & HANDLE == 0 {
            // SAFETY: CLOSED with no handle: the stage is ours alone.
            unsafe { (header.vtable.drop_stage)(ptr) };
        } else {
            header.notify_awaiter();
        }
        Self::drop_ref(ptr);
    }

    /// What a run must do first when its task was woken while queued,
    /// closed or aborted; true if that ended the task (the run must not
    /// poll).
    #[cold]
    fn before_run(&self, state: usize) -> bool {
        if state & WOKEN != 0 {
            // Woken again while queued: this poll covers those wake-ups.
            self.transition(|s| s & !WOKEN);
        }
        if state & (CLOSED | ABORTED) != 0 {
            // Aborted, or scheduled only to drop an orphan's future (see
            // `last_ref`).
            Header::cancel(NonNull::from(self));
            return true;
        }
        false
    }

    /// The handle's abort: marks the task ABORTED and wakes it, in one
    /// update, so that its next run cancels it (on its own thread, as a
    /// poll would). A task that has finished is left alone. From another
    /// thread than a biased task's own, the update revokes the bias, as a
    /// join there does: an abort is rare, and ends the task.
    fn abort(ptr: NonNull<Self>) {
        // SAFETY: the caller holds the handle, so the cell is live.
        let header = unsafe { ptr.as_ref() };
        let woken = header.update(|s| Self::wake_step(s, false).map(|s| s | ABORTED));
        Self::wake_done(ptr, woken, false);
    }

    /// The Runnable is dropped, or was made only to drop an orphan: drop
    /// the future, close, tell the awaiter, let go of the reference.
    fn cancel(ptr: NonNull<Self>) {
        // SAFETY: we hold the Runnable's reference.
        let header = unsafe { ptr.as_ref() };
        // SAFETY: we hold the Runnable, so the stage is ours.
        unsafe { (header.vtable.drop_stage)(ptr) };
        let (_, new) = header.transition(|s| (s & !(RUNNABLE | WOKEN)) | CLOSED);
        if new & HANDLE != 0 {
            header.notify_awaiter();
        }
        Self::drop_ref(ptr);
    }

    fn notify_awaiter(&self) {
        let waker = self
            .awaiter
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn drop_ref(ptr: NonNull<Self>) {
        // SAFETY: the caller owns one reference, so the cell is live.
        let header = unsafe { ptr.as_ref() };
        let prev = header.add(REF.wrapping_neg(), Ordering::AcqRel);
        if refs(prev) == 1 && prev & HANDLE == 0 {
            Self::last_ref(ptr, prev - REF);
        }
    }

    /// Nothing refers to the cell any more (`state` has no reference and
    /// no handle). Free it, unless its future is still there: an idle task
    /// that no one can wake or join. Its future is then dropped by its
    /// scheduler, on the task's own thread, through a last Runnable that
    /// finds CLOSED.
    fn last_ref(ptr: NonNull<Self>, state: usize) {
        // SAFETY: the caller let go of the last reference, so no one else
        // can reach the cell: it is ours.
        let header = unsafe { ptr.as_ref() };
        if state & CLOSED != 0 {
            // SAFETY: as above.
            unsafe { (header.vtable.dealloc)(ptr) };
        } else {
            header
                .state
                .store(RUNNABLE | CLOSED | REF, Ordering::Release);
            (header.schedule)(Runnable { ptr }, false);
        }
    }

    /// Marks a wake-up from inside the task's own poll; true if it was one.
    fn woke_itself(ptr: *const ()) -> bool {
        POLLING.with(|p| {
            let polling = p.get();
            let mine = polling & !YIELDED == ptr as usize;
            if mine {
                p.set(polling | YIELDED);
            }
            mine
        })
    }

    /// Runs a wake-up message, on the cell's own thread: the wake-up with
    /// the message's reference.
    #[cold]
    #[inline(never)]
    fn apply_message(ptr: NonNull<Self>) {
        Self::wake_from_outside(ptr, true);
    }

    /// A wake-up from elsewhere. `owned`: the caller gives up a waker's
    /// reference, which becomes the new Runnable's if one is made.
    #[inline(always)]
    fn wake_from_outside(ptr: NonNull<Self>, owned: bool) {
        // SAFETY: the caller holds a waker, so the cell is live.
        let header = unsafe { ptr.as_ref() };
        // Finished: nothing to do. Idle: make it RUNNABLE, with a reference
        // for the Runnable (the waker's own, if it gives one up). Already
        // RUNNABLE: mark it WOKEN (if it is already, the same word is
        // stored, which still orders this wake-up before the poll's end).
        let woken = header.update(|s| Self::wake_step(s, owned));
        Self::wake_done(ptr, woken, owned);
    }

    /// A wake-up's change of the state word `s`, if any (see
    /// [`wake_from_outside`](Self::wake_from_outside)).
    #[inline(always)]
    fn wake_step(s: usize, owned: bool) -> Option<usize> {
        if s & (COMPLETED | CLOSED) != 0 {
            None
        } else if s & RUNNABLE != 0 {
            Some(s | WOKEN)
        } else if owned {
            Some(s | RUNNABLE)
        } else {
            Some((s | RUNNABLE) + REF)
        }
    }

    /// After [`wake_step`](Self::wake_step) was applied (`Ok`: the state
    /// before) or not (`Err`): queue the new Runnable, or let go of the
    /// waker's reference if it made none.
    #[inline(always)]
    fn wake_done(ptr: NonNull<Self>, woken: Result<usize, usize>, owned: bool) {
        // SAFETY: the caller holds a waker (or, aborting, the handle), so
        // the cell is live.
        let header = unsafe { ptr.as_ref() };
        match woken {
            Ok(prev) if prev & RUNNABLE == 0 => (header.schedule)(Runnable { ptr }, false),
            _ if owned => Self::drop_ref(ptr),
            _ => {}
        }
    }

    unsafe fn clone_waker(ptr: *const ()) -> RawWaker {
        // SAFETY: the waker being cloned holds a reference.
        let header = unsafe { &*ptr.cast::<Self>() };
        let prev = header.add(REF, Ordering::Relaxed);
        if prev > isize::MAX as usize {
            // Some billions of wakers leaked: count overflow ahead.
            std::process::abort();
        }
        RawWaker::new(ptr, Self::waker_vtable())
    }

    unsafe fn wake(ptr: *const ()) {
        // SAFETY: a waker's pointer is a live cell's header, never null.
        let p = unsafe { NonNull::new_unchecked(ptr.cast_mut()) }.cast::<Self>();
        // SAFETY: as above.
        let header = unsafe { p.as_ref() };
        if Self::woke_itself(ptr) {
            Self::drop_ref(p);
        } else if let Some(woken) = header
            .bias
            .run_if_owner(|| header.plain_update(|s| Self::wake_step(s, true)))
        {
            // The wake-ups between units of one thread: one look at the
            // bias, not the two of the ways below.
            Self::wake_done(p, woken, true);
        } else if header.bias.is_elsewhere()
            && header.state.load(Ordering::Acquire) & (COMPLETED | CLOSED) == 0
        {
            // Biased to another thread: the wake-up goes there, with the
            // waker's reference, rather than revoking the bias. (Not for a
            // task that has ended: its scheduler may have shut down, and
            // a message would wait in its queue for good.)
            (header.schedule)(Runnable::wake_message(p), false);
        } else {
            Self::wake_from_outside(p, true);
        }
    }

    unsafe fn wake_by_ref(ptr: *const ()) {
        if !Self::woke_itself(ptr) {
            // SAFETY: as in `wake`.
            let p = unsafe { NonNull::new_unchecked(ptr.cast_mut()) }.cast::<Self>();
            Self::wake_from_outside(p, false);
        }
    }

    unsafe fn drop_waker(ptr: *const ()) {
        // SAFETY: as in `wake`; the waker's reference is given up here.
        Self::drop_ref(unsafe { NonNull::new_unchecked(ptr.cast_mut()) }.cast());
    }
}

/// The right to a task's output.
pub(crate) struct Task<T, M: 'static> {
    ptr: NonNull<Header<M>>,
    _output: PhantomData<T>,
}

// SAFETY: the handle moves the output to whoever holds it, and shares only
// the (Sync) metadata.
unsafe impl<T: Send, M: Send + Sync + 'static> Send for Task<T, M> {}
// SAFETY: through `&Task` only the state word is read and updated (with
// its atomic operations, as any thread's wake-up does) and the metadata
// read.
unsafe impl<T, M: Send + Sync + 'static> Sync for Task<T, M> {}

// A handle is a pointer: moving it moves no output.
impl<T, M: 'static> Unpin for Task<T, M> {}

impl<T, M: 'static> Task<T, M> {
    fn header(&self) -> &Header<M> {
        // SAFETY: the HANDLE bit keeps the cell live.
        unsafe { self.ptr.as_ref() }
    }

    /// Cancels the task at its next run, on its own thread; nothing if it
    /// has finished (see [`Header::abort`]).
    pub(crate) fn abort(&self) {
        Header::abort(self.ptr);
    }

    /// Whether the task has finished: completed, or cancelled.
    pub(crate) fn is_finished(&self) -> bool {
        self.header().state.load(Ordering::Acquire) & (COMPLETED | CLOSED) != 0
    }

    /// The output once the task completes, or `None` if it was cancelled.
    /// Must not be polled again after it returned Ready.
    pub(crate) fn poll_output(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let header = self.header();
        let mut state = header.state.load(Ordering::Acquire);
        if state & (COMPLETED | CLOSED) == 0 {
            {
                let mut awaiter = header.awaiter.lock().unwrap_or_else(|e| e.into_inner());
                match &*awaiter {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *awaiter = Some(cx.waker().clone()),
                }
            }
            // Completion publishes the state before it takes the waker, so
            // either it sees ours or we see its state.
            state = header.state.load(Ordering::Acquire);
            if state & (COMPLETED | CLOSED) == 0 {
                return Poll::Pending;
            }
        }
        if state & CLOSED != 0 {
            return Poll::Ready(None);
        }
        header.transition(|s| s | CLOSED);
        let mut out: Option<T> = None;
        // SAFETY: COMPLETED with the handle alive: the output is there and
        // only we touch it; `out` has the output's type (the cell was made
        // with `T` as `F::Output`).
        unsafe { (header.vtable.take_output)(self.ptr, (&mut out as *mut Option<T>).cast()) };
        Poll::Ready(out)
    }
}

impl<T, M: 'static> Drop for Task<T, M> {
    /// Detaches the task: it runs on, and its output is dropped.
    fn drop(&mut self) {
        let header = self.header();
        loop {
            // Clear HANDLE, unless the output is there and ours: then drop
            // it first, while the HANDLE bit still keeps the cell alive.
            let detached =
                header.update(|s| (s & (COMPLETED | CLOSED) != COMPLETED).then_some(s & !HANDLE));
            match detached {
                Ok(prev) => {
                    if refs(prev) == 0 {
                        Header::last_ref(self.ptr, prev & !HANDLE);
                    }
                    return;
                }
                Err(_) => {
                    header.transition(|s| s | CLOSED);
                    // SAFETY: CLOSED is set and we hold the handle, so the
                    // stage is ours alone.
                    unsafe { (header.vtable.drop_stage)(self.ptr) };
                }
            }
        }
    }
}

#[cfg(test)]
mod test_support;

#[cfg(all(test, loom))]
mod loom_tests;

#[cfg(all(test, not(loom)))]
mod tests;
