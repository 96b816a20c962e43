//! The cell's transitions, one thread at a time (the races are in
//! `loom_tests`).

use std::future::poll_fn;
use std::marker::PhantomPinned;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

use super::test_support::{
    drain, poll_output, pop, run, spawn_biased, spawn_test, Counted, Meta, Queue,
};
use super::*;
use crate::bias::{self, available_for_tests as bias_available, REVOKED};

fn state<T>(task: &Task<T, super::test_support::Meta>) -> usize {
    task.header().state.load(Ordering::SeqCst)
}

/// The waker a future left in `slot`.
fn take_waker(slot: &Mutex<Option<Waker>>) -> Waker {
    slot.lock().unwrap().take().expect("a waker in the slot")
}

#[test]
fn a_task_runs_to_its_output_and_is_freed_once() {
    let (queue, freed, mut task) = spawn_test(async { 6 * 7 });
    assert!(!task.is_finished());
    assert_eq!(poll_output(&mut task), Poll::Pending);
    assert_eq!(drain(&queue), 1);
    assert!(task.is_finished());
    assert_eq!(freed.load(Ordering::SeqCst), 0, "the handle keeps the cell");
    assert_eq!(poll_output(&mut task), Poll::Ready(Some(42)));
    drop(task);
    assert_eq!(freed.load(Ordering::SeqCst), 1);
}

#[test]
fn a_yield_requeues_the_task_without_touching_the_state_word() {
    let mut polls = 0;
    let (queue, freed, task) = spawn_test(poll_fn(move |cx| {
        polls += 1;
        if polls <= 3 {
            cx.waker().wake_by_ref();
            Poll::Pending
        } else {
            Poll::Ready(polls)
        }
    }));
    let (r, yielded) = pop(&queue).unwrap();
    assert!(!yielded);
    run(&queue, r);
    // Still RUNNABLE, one reference (the Runnable's), nothing else set.
    assert_eq!(state(&task), RUNNABLE | HANDLE | REF);
    let (r, yielded) = pop(&queue).unwrap();
    assert!(yielded, "a wake-up from the task's own poll is a yield");
    run(&queue, r);
    assert_eq!(state(&task), RUNNABLE | HANDLE | REF);
    assert_eq!(drain(&queue), 2);
    let mut task = task;
    assert_eq!(poll_output(&mut task), Poll::Ready(Some(4)));
    drop(task);
    assert_eq!(freed.load(Ordering::SeqCst), 1);
}

#[test]
fn a_wake_by_value_from_its_own_poll_is_a_yield_too() {
    let mut first = true;
    let (queue, _freed, mut task) = spawn_test(poll_fn(move |cx| {
        if std::mem::take(&mut first) {
            // By value, as a resource that took a clone would wake it.
            #[allow(clippy::waker_clone_wake)]
            cx.waker().clone().wake();
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }));
    run(&queue, pop(&queue).unwrap().0);
    assert_eq!(
        state(&task),
        RUNNABLE | HANDLE | REF,
        "the clone's reference is gone"
    );
    assert!(pop(&queue).unwrap().1);
    assert_eq!(drain(&queue), 0);
    // The popped Runnable above was dropped: that cancelled the task.
    assert_eq!(poll_output(&mut task), Poll::Ready(None));
}

#[test]
fn a_wake_up_from_outside_schedules_an_idle_task_once() {
    let stored: Arc<Mutex<Option<Waker>>> = Arc::default();
    let s = stored.clone();
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let (queue, freed, mut task) = spawn_test(poll_fn(move |cx| {
        if d.load(Ordering::SeqCst) {
            return Poll::Ready(7);
        }
        *s.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }));
    assert_eq!(drain(&queue), 1);
    // Idle: no Runnable, the stored waker's reference only.
    assert_eq!(state(&task), HANDLE | REF);
    let waker = take_waker(&stored);
    waker.wake_by_ref();
    waker.wake_by_ref();
    let (r, yielded) = pop(&queue).unwrap();
    assert!(!yielded);
    assert!(
        pop(&queue).is_none(),
        "a second wake-up of a queued task queues nothing"
    );
    assert_eq!(state(&task), RUNNABLE | WOKEN | HANDLE | (2 * REF));
    done.store(true, Ordering::SeqCst);
    run(&queue, r);
    assert_eq!(poll_output(&mut task), Poll::Ready(Some(7)));
    drop(task);
    assert_eq!(
        freed.load(Ordering::SeqCst),
        0,
        "the waker still refers to the cell"
    );
    waker.wake(); // finished: does nothing
    assert!(pop(&queue).is_none());
    assert_eq!(freed.load(Ordering::SeqCst), 1);
}

#[test]
fn a_wake_up_from_another_thread_during_the_poll_polls_again() {
    let mut polls = 0;
    let (queue, _freed, mut task) = spawn_test(poll_fn(move |cx| {
        polls += 1;
        if polls == 1 {
            let w = cx.waker().clone();
            wake_on_another_thread(w);
            return Poll::Pending;
        }
        Poll::Ready(polls)
    }));
    run(&queue, pop(&queue).unwrap().0);
    // Woken while it ran, from elsewhere: queued again, WOKEN cleared.
    assert_eq!(state(&task), RUNNABLE | HANDLE | REF);
    let (r, yielded) = pop(&queue).unwrap();
    assert!(yielded, "woken while it ran: behind the queued tasks");
    run(&queue, r);
    assert_eq!(poll_output(&mut task), Poll::Ready(Some(2)));
}

/// Records where it is polled and checks, when dropped, that it has not
/// moved since: a pinned future is dropped in place. It leaves its waker in
/// `slot` and is ready at its `ready_at`-th poll (never, if 0).
struct Pinned {
    at: usize,
    polls: usize,
    ready_at: usize,
    slot: Arc<Mutex<Option<Waker>>>,
    dropped: Arc<AtomicUsize>,
    _pin: PhantomPinned,
}

impl Pinned {
    fn new(ready_at: usize) -> (Pinned, Arc<Mutex<Option<Waker>>>, Arc<AtomicUsize>) {
        let slot: Arc<Mutex<Option<Waker>>> = Arc::default();
        let dropped = Arc::new(AtomicUsize::new(0));
        let p = Pinned {
            at: 0,
            polls: 0,
            ready_at,
            slot: slot.clone(),
            dropped: dropped.clone(),
            _pin: PhantomPinned,
        };
        (p, slot, dropped)
    }
}

impl Future for Pinned {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: only plain fields are written; nothing is moved out.
        let this = unsafe { self.get_unchecked_mut() };
        this.at = this as *const Pinned as usize;
        this.polls += 1;
        if this.polls == this.ready_at {
            return Poll::Ready(());
        }
        *this.slot.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        if self.at != 0 {
            assert_eq!(
                self.at, self as *const Pinned as usize,
                "a pinned future moved"
            );
        }
        self.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn dropping_the_runnable_cancels_and_drops_the_future_in_place() {
    let (future, slot, dropped) = Pinned::new(0);
    let (queue, freed, mut task) = spawn_test(future);
    assert_eq!(drain(&queue), 1);
    take_waker(&slot).wake();
    drop(pop(&queue).unwrap()); // cancels
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    assert_eq!(poll_output(&mut task), Poll::Ready(None));
    assert!(task.is_finished());
    drop(task);
    assert_eq!(freed.load(Ordering::SeqCst), 1);
}

#[test]
fn an_abort_cancels_the_task_at_its_next_run_queued_or_idle() {
    // Queued, never run: the run cancels it unpolled.
    let (future, _slot, dropped) = Pinned::new(0);
    let (queue, freed, mut task) = spawn_test(future);
    task.abort();
    assert_eq!(drain(&queue), 1);
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    assert_eq!(poll_output(&mut task), Poll::Ready(None));
    drop(task);
    assert_eq!(freed.load(Ordering::SeqCst), 1);

    // Idle, its waker held elsewhere: the abort queues it, and the run
    // cancels it; the waker still holds the cell, and a wake-up now does
    // nothing.
    let (future, slot, dropped) = Pinned::new(0);
    let (queue, freed, mut task) = spawn_test(future);
    assert_eq!(drain(&queue), 1);
    task.abort();
    assert_eq!(dropped.load(Ordering::SeqCst), 0, "cancelled on its run");
    assert_eq!(drain(&queue), 1);
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    assert_eq!(poll_output(&mut task), Poll::Ready(None));
    drop(task);
    let waker = take_waker(&slot);
    waker.wake_by_ref();
    assert!(pop(&queue).is_none());
    assert_eq!(freed.load(Ordering::SeqCst), 0);
    drop(waker);
    assert_eq!(freed.load(Ordering::SeqCst), 1);
}

#[test]
fn an_abort_after_completion_leaves_the_output() {
    let (queue, freed, mut task) = spawn_test(async { 7 });
    assert_eq!(drain(&queue), 1);
    task.abort();
    assert!(pop(&queue).is_none(), "a finished task is not queued");
    assert_eq!(poll_output(&mut task), Poll::Ready(Some(7)));
    drop(task);
    assert_eq!(freed.load(Ordering::SeqCst), 1);
}

#[test]
fn a_future_is_dropped_in_place_when_it_completes() {
    let (future, slot, dropped) = Pinned::new(2);
    let (queue, _freed, mut task) = spawn_test(future);
    drain(&queue);
    take_waker(&slot).wake();
    assert_eq!(drain(&queue), 1);
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    assert_eq!(poll_output(&mut task), Poll::Ready(Some(())));
}

#[test]
fn a_panicking_destructor_is_caught_and_the_task_still_ends() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("boom in drop");
        }
    }
    let bomb = Bomb;
    let (queue, freed, mut task) = spawn_test(poll_fn(move |_cx| {
        let _keep = &bomb;
        Poll::<()>::Pending
    }));
    let (r, _) = pop(&queue).unwrap();
    drop(r); // cancels: the future's drop panics, and is caught
    assert_eq!(poll_output(&mut task), Poll::Ready(None));
    drop(task);
    assert_eq!(freed.load(Ordering::SeqCst), 1);
}

#[test]
fn a_detached_task_runs_on_and_its_output_is_dropped() {
    let outs = Arc::new(AtomicUsize::new(0));
    let o = outs.clone();
    let (queue, freed, task) = spawn_test(async move { Counted(o) });
    drop(task);
    assert_eq!(
        freed.load(Ordering::SeqCst),
        0,
        "the Runnable keeps the cell"
    );
    assert_eq!(drain(&queue), 1);
    assert_eq!(
        outs.load(Ordering::SeqCst),
        1,
        "no handle: the output is dropped"
    );
    assert_eq!(freed.load(Ordering::SeqCst), 1);

    // Detached after completing: the handle's drop drops the output.
    let outs = Arc::new(AtomicUsize::new(0));
    let o = outs.clone();
    let (queue, freed, task) = spawn_test(async move { Counted(o) });
    drain(&queue);
    assert_eq!(outs.load(Ordering::SeqCst), 0);
    drop(task);
    assert_eq!(outs.load(Ordering::SeqCst), 1);
    assert_eq!(freed.load(Ordering::SeqCst), 1);
}

#[test]
fn an_orphaned_task_has_its_future_dropped_by_its_scheduler() {
    let (future, slot, dropped) = Pinned::new(0);
    let (queue, freed, task) = spawn_test(future);
    drop(task);
    assert_eq!(drain(&queue), 1);
    // Idle, no handle: the stored waker is the last reference. Dropping
    // it leaves a task no one can wake or join, so it is queued once more,
    // closed, for its scheduler to drop its future.
    drop(slot.lock().unwrap().take());
    assert_eq!(dropped.load(Ordering::SeqCst), 0);
    let (r, _) = pop(&queue).unwrap();
    run(&queue, r);
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    assert_eq!(freed.load(Ordering::SeqCst), 1);
    assert!(pop(&queue).is_none());
}

#[test]
fn the_handle_is_woken_when_the_task_completes() {
    struct Flag(AtomicBool);
    impl std::task::Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let flag = Arc::new(Flag(AtomicBool::new(false)));
    let waker = Waker::from(flag.clone());
    let (queue, _freed, mut task) = spawn_test(async { 1 });
    assert_eq!(
        task.poll_output(&mut Context::from_waker(&waker)),
        Poll::Pending
    );
    assert!(!flag.0.load(Ordering::SeqCst));
    drain(&queue);
    assert!(flag.0.load(Ordering::SeqCst));
    assert_eq!(poll_output(&mut task), Poll::Ready(Some(1)));
}

#[test]
fn a_runnable_goes_through_raw_and_back() {
    let (queue, _freed, mut task) = spawn_test(async { 5 });
    let (r, _) = pop(&queue).unwrap();
    let waker = r.waker();
    let raw = r.into_raw();
    // SAFETY: `raw` came from `into_raw` just above, and comes back once.
    let r = unsafe { Runnable::<super::test_support::Meta>::from_raw(raw) };
    run(&queue, r);
    assert_eq!(poll_output(&mut task), Poll::Ready(Some(5)));
    drop(waker);
}

#[test]
fn a_panic_out_of_a_poll_cancels_the_task_and_leaves_the_thread_clean() {
    let (queue, freed, mut task) =
        spawn_test(poll_fn(|_cx| -> Poll<u32> { panic!("boom in poll") }));
    let (r, _) = pop(&queue).unwrap();
    assert!(std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| r.run())).is_err());
    assert_eq!(poll_output(&mut task), Poll::Ready(None));
    drop(task);
    assert_eq!(freed.load(Ordering::SeqCst), 1);

    // This thread polls nothing now: a wake-up here is from outside.
    let stored: Arc<Mutex<Option<Waker>>> = Arc::default();
    let s = stored.clone();
    let (queue, _freed, _task) = spawn_test(poll_fn(move |cx| -> Poll<()> {
        *s.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }));
    drain(&queue);
    take_waker(&stored).wake();
    assert!(pop(&queue).is_some(), "the wake-up queued the task");
}

/// A future that is ready once `done` is set, and otherwise leaves its
/// waker in the returned slot.
fn waiting(done: Arc<AtomicBool>) -> (impl Future<Output = u32>, Arc<Mutex<Option<Waker>>>) {
    let slot: Arc<Mutex<Option<Waker>>> = Arc::default();
    let s = slot.clone();
    let future = poll_fn(move |cx| {
        if done.load(Ordering::SeqCst) {
            return Poll::Ready(7);
        }
        *s.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    });
    (future, slot)
}

/// Wakes `waker` by value from a thread of its own, and waits for it.
fn wake_on_another_thread(waker: Waker) {
    std::thread::spawn(move || waker.wake()).join().unwrap();
}

/// What [`biased_idle`] returns: the flag that readies the task, the slot
/// with its waker, its queue, its free counter and its handle.
type Idle = (
    Arc<AtomicBool>,
    Arc<Mutex<Option<Waker>>>,
    Queue,
    Arc<AtomicUsize>,
    Task<u32, Meta>,
);

/// A task of [`waiting`] biased to this thread, run once (idle now, its
/// waker in the slot); `None` where nothing biases.
fn biased_idle() -> Option<Idle> {
    if !bias_available() {
        return None;
    }
    let done = Arc::new(AtomicBool::new(false));
    let (future, slot) = waiting(done.clone());
    let (queue, freed, task) = spawn_biased(bias::token(), future);
    assert_eq!(task.header().bias.owner(), bias::token());
    assert_eq!(drain(&queue), 1);
    Some((done, slot, queue, freed, task))
}

#[test]
fn a_biased_cell_keeps_its_bias_on_its_thread_and_loses_it_to_another() {
    let Some((done, slot, queue, freed, mut task)) = biased_idle() else {
        return;
    };
    let bias = || task.header().bias.owner();
    // Every transition of this thread's, in its sections.
    assert_eq!(state(&task), HANDLE | REF);
    let waker = take_waker(&slot);
    waker.wake_by_ref();
    waker.wake_by_ref();
    assert_eq!(state(&task), RUNNABLE | WOKEN | HANDLE | (2 * REF));
    assert_eq!(drain(&queue), 1);
    assert_eq!(state(&task), HANDLE | (2 * REF));
    assert_eq!(bias(), bias::token(), "its own thread keeps the bias");
    // A wake-up by value from another thread comes here as a message,
    // queued without touching the state word; running it applies it.
    let w = take_waker(&slot);
    wake_on_another_thread(w);
    assert_eq!(state(&task), HANDLE | (2 * REF));
    let (message, _) = pop(&queue).unwrap();
    assert!(message.cell().1);
    assert!(message.run().is_none());
    assert_eq!(state(&task), RUNNABLE | HANDLE | (2 * REF));
    assert_eq!(bias(), bias::token(), "a message leaves the bias alone");
    assert_eq!(drain(&queue), 1);
    // Any other update from another thread takes the bias back.
    drop(slot.lock().unwrap().take());
    std::thread::spawn(move || waker.wake_by_ref())
        .join()
        .unwrap();
    assert_eq!(bias(), REVOKED);
    assert_eq!(state(&task), RUNNABLE | HANDLE | REF);
    done.store(true, Ordering::SeqCst);
    assert_eq!(drain(&queue), 1);
    assert_eq!(poll_output(&mut task), Poll::Ready(Some(7)));
    drop(task);
    assert_eq!(freed.load(Ordering::SeqCst), 1);
}

#[test]
fn a_task_that_has_ended_gets_no_wake_message() {
    let Some((done, slot, queue, freed, mut task)) = biased_idle() else {
        return;
    };
    let waker = take_waker(&slot);
    done.store(true, Ordering::SeqCst);
    waker.wake_by_ref();
    assert_eq!(drain(&queue), 1);
    assert_eq!(poll_output(&mut task), Poll::Ready(Some(7)));
    // Its scheduler might be gone: the waker's reference is let go of
    // where it is, and nothing is queued.
    wake_on_another_thread(waker);
    assert!(pop(&queue).is_none());
    assert_eq!(freed.load(Ordering::SeqCst), 0, "the handle keeps the cell");
    drop(task);
    assert_eq!(freed.load(Ordering::SeqCst), 1);
}

#[test]
fn a_dropped_wake_message_lets_go_of_its_reference_only() {
    let Some((_done, slot, queue, freed, mut task)) = biased_idle() else {
        return;
    };
    let w = take_waker(&slot);
    wake_on_another_thread(w);
    // As a scheduler that shuts down drops what is queued: the task is not
    // cancelled, and its cell is freed once.
    drop(pop(&queue));
    assert_eq!(state(&task), HANDLE);
    assert_eq!(poll_output(&mut task), Poll::Pending);
    // Nothing can wake it now: dropping the handle queues it once more, to
    // drop its future.
    drop(task);
    assert_eq!(drain(&queue), 1);
    assert_eq!(freed.load(Ordering::SeqCst), 1);
}

/// The real revocation (`membarrier`) on real threads: the owner wakes and
/// polls its task in its sections while two other threads clone, wake and
/// drop wakers, revoking the bias (both at once, at times) at a different
/// point each round. An
/// update lost between the two would leave the reference count wrong: the
/// cell never freed, or freed twice.
#[test]
fn a_revocation_racing_the_owner_loses_no_update() {
    for round in 0..200 {
        let Some((done, slot, queue, freed, mut task)) = biased_idle() else {
            return;
        };
        let others = [0, 1].map(|i| {
            let waker = slot.lock().unwrap().clone().unwrap();
            std::thread::spawn(move || {
                for _ in 0..((round + 7 * i) % 20) * 50 {
                    std::hint::spin_loop();
                }
                for _ in 0..200 {
                    let w = waker.clone();
                    w.wake_by_ref();
                    drop(w);
                }
            })
        });
        for _ in 0..2_000 {
            let w = slot.lock().unwrap().clone().unwrap();
            w.wake_by_ref();
            drain(&queue);
        }
        for t in others {
            t.join().unwrap();
        }
        assert_eq!(task.header().bias.owner(), REVOKED);
        done.store(true, Ordering::SeqCst);
        take_waker(&slot).wake();
        drain(&queue);
        assert_eq!(poll_output(&mut task), Poll::Ready(Some(7)));
        drop(task);
        assert_eq!(freed.load(Ordering::SeqCst), 1, "round {round}");
    }
}
