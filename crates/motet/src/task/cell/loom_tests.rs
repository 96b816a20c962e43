//! Loom models of the cell's races: a wake-up or an abort from another thread against
//! the poll's end, against a yield, and a join, a detach or a waker's drop
//! against completion and cancellation. Each model checks that no wake-up
//! is lost and that the cell is freed exactly once, and runs twice: with
//! the cell unbiased, and biased to the thread that polls it (`bias.rs`),
//! where the other thread's first step revokes the bias at any point of
//! the owner's.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p motet --lib --release -- loom_tests`

use std::future::poll_fn;
use std::task::{Poll, Waker};

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;

use super::test_support::{drain, poll_output, pop, spawn_biased, Counted, Meta, Queue};
use super::Task;
use crate::bias::{self, UNBIASED};
use crate::loom::block_on;

/// Runs `model` in loom twice: with its cells unbiased, then biased to the
/// model's main thread (the one that polls). The biased runs are bounded to
/// three preemptions: the revocation's spins multiply the interleavings,
/// and unbounded, one model ran past ten minutes.
fn unbiased_and_biased(model: impl Fn(bool) + Copy + Send + Sync + 'static) {
    loom::model(move || model(false));
    let mut biased = loom::model::Builder::new();
    biased.preemption_bound = Some(3);
    biased.check(move || model(true));
}

/// A task of `future` (scheduled: its Runnable is in the queue), biased to
/// this thread if `biased`.
fn spawn_test<F>(biased: bool, future: F) -> (Queue, Arc<AtomicUsize>, Task<F::Output, Meta>)
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let owner = if biased {
        bias::set_token(2);
        2
    } else {
        UNBIASED
    };
    spawn_biased(owner, future)
}

/// A future that is ready once `flag` is set, and otherwise leaves its
/// waker in `slot`; with `yield_first`, its first poll yields.
fn flag_future(
    flag: Arc<AtomicBool>,
    slot: Arc<Mutex<Option<Waker>>>,
    yield_first: bool,
) -> impl std::future::Future<Output = u32> + Send + 'static {
    let mut first = yield_first;
    poll_fn(move |cx| {
        if std::mem::take(&mut first) {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if flag.load(Ordering::Acquire) {
            return Poll::Ready(9);
        }
        *slot.lock().unwrap() = Some(cx.waker().clone());
        // Checked again after the waker is in place, as a real resource
        // would (under its lock).
        if flag.load(Ordering::Acquire) {
            return Poll::Ready(9);
        }
        Poll::Pending
    })
}

/// Sets the flag, then wakes whatever waker is in the slot.
fn setter(flag: Arc<AtomicBool>, slot: Arc<Mutex<Option<Waker>>>) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        flag.store(true, Ordering::Release);
        let w = slot.lock().unwrap().take();
        if let Some(w) = w {
            w.wake();
        }
    })
}

/// Checks that the task ended with its output (no wake-up lost), then
/// drops the handle and the wakers left in `slots`: the cell is freed once.
fn ended_and_freed(
    mut task: Task<u32, Meta>,
    slots: &[Arc<Mutex<Option<Waker>>>],
    freed: &AtomicUsize,
) {
    assert_eq!(
        poll_output(&mut task),
        Poll::Ready(Some(9)),
        "a wake-up was lost"
    );
    drop(task);
    for s in slots {
        drop(s.lock().unwrap().take());
    }
    assert_eq!(freed.load(Ordering::SeqCst), 1);
}

fn no_lost_wake_up(yield_first: bool) {
    unbiased_and_biased(move |biased| {
        let flag = Arc::new(AtomicBool::new(false));
        let slot: Arc<Mutex<Option<Waker>>> = Arc::default();
        let (queue, freed, task) =
            spawn_test(biased, flag_future(flag.clone(), slot.clone(), yield_first));
        let t = setter(flag, slot.clone());
        // Polls racing the setter (with a yield first, two of them), then
        // whatever the setter scheduled.
        drain(&queue);
        t.join().unwrap();
        drain(&queue);
        ended_and_freed(task, &[slot], &freed);
    });
}

#[test]
fn a_wake_up_racing_the_end_of_a_poll_is_not_lost() {
    no_lost_wake_up(false);
}

#[test]
fn a_wake_up_racing_a_yield_is_not_lost() {
    no_lost_wake_up(true);
}

#[test]
fn a_join_from_another_thread_gets_the_output() {
    unbiased_and_biased(|biased| {
        let (queue, freed, task) = spawn_test(biased, async { 3u32 });
        let t = thread::spawn(move || {
            let mut task = task;
            block_on(poll_fn(|cx| task.poll_output(cx)))
        });
        drain(&queue);
        assert_eq!(t.join().unwrap(), Some(3));
        assert_eq!(freed.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn a_join_from_another_thread_sees_a_cancellation() {
    unbiased_and_biased(|biased| {
        let (queue, freed, task) = spawn_test(biased, std::future::pending::<u32>());
        let t = thread::spawn(move || {
            let mut task = task;
            block_on(poll_fn(|cx| task.poll_output(cx)))
        });
        drop(pop(&queue));
        assert_eq!(t.join().unwrap(), None);
        assert_eq!(freed.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn an_abort_from_another_thread_cancels_the_task_wherever_it_is() {
    // The abort may land before the first run, during the poll (which
    // parks the task's waker) or once the task is idle: the task ends
    // cancelled all the same, its future dropped once, on this thread.
    unbiased_and_biased(|biased| {
        let flag = Arc::new(AtomicBool::new(false));
        let slot: Arc<Mutex<Option<Waker>>> = Arc::default();
        let drops = Arc::new(AtomicUsize::new(0));
        let counted = Counted(drops.clone());
        let future = flag_future(flag, slot.clone(), false);
        let (queue, freed, task) = spawn_test(biased, async move {
            let _held = counted;
            future.await
        });
        let task = Arc::new(task);
        let t = {
            let task = task.clone();
            thread::spawn(move || task.abort())
        };
        drain(&queue);
        t.join().unwrap();
        drain(&queue);
        assert_eq!(drops.load(Ordering::SeqCst), 1, "cancelled once");
        let Ok(mut task) = Arc::try_unwrap(task) else {
            panic!("the other thread let go of the handle");
        };
        assert_eq!(poll_output(&mut task), Poll::Ready(None));
        drop(task);
        drop(slot.lock().unwrap().take());
        assert_eq!(freed.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn a_detach_racing_completion_drops_the_output_once() {
    unbiased_and_biased(|biased| {
        let outs = Arc::new(AtomicUsize::new(0));
        let o = outs.clone();
        let (queue, freed, task) = spawn_test(biased, async move { Counted(o) });
        let t = thread::spawn(move || drop(task));
        drain(&queue);
        t.join().unwrap();
        assert_eq!(outs.load(Ordering::SeqCst), 1);
        assert_eq!(freed.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn a_waker_dropped_elsewhere_racing_completion_frees_once() {
    unbiased_and_biased(|biased| {
        let flag = Arc::new(AtomicBool::new(false));
        let slot: Arc<Mutex<Option<Waker>>> = Arc::default();
        let (queue, freed, mut task) =
            spawn_test(biased, flag_future(flag.clone(), slot.clone(), false));
        drain(&queue); // parks its waker in the slot
        let w = slot.lock().unwrap().take().unwrap();
        let t = thread::spawn(move || {
            w.wake_by_ref();
            drop(w);
        });
        flag.store(true, Ordering::Release);
        // The wake-up may or may not have queued the task yet.
        drain(&queue);
        t.join().unwrap();
        drain(&queue);
        let out = poll_output(&mut task);
        // Ready unless the wake-up came before the flag was set and its
        // poll found it unset: then the task waits (nothing will wake it).
        if let Poll::Ready(v) = out {
            assert_eq!(v, Some(9));
        }
        drop(task);
        drop(slot.lock().unwrap().take());
        // Freed once, or (still waiting, no waker, no handle) queued once
        // more to drop its future.
        drain(&queue);
        assert_eq!(freed.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn a_wake_up_of_a_queued_task_is_not_lost() {
    // This thread wakes the idle task (queueing it); the other thread's
    // wake-up may find it queued (it marks it WOKEN), polling, or idle again.
    unbiased_and_biased(|biased| {
        let flags = [
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        ];
        let slots: [Arc<Mutex<Option<Waker>>>; 2] = [Arc::default(), Arc::default()];
        let (f, s) = (flags.clone(), slots.clone());
        let (queue, freed, task) = spawn_test(
            biased,
            poll_fn(move |cx| {
                for s in &s {
                    *s.lock().unwrap() = Some(cx.waker().clone());
                }
                if f.iter().all(|f| f.load(Ordering::Acquire)) {
                    Poll::Ready(9)
                } else {
                    Poll::Pending
                }
            }),
        );
        drain(&queue); // idle, its waker in both slots
        let t = setter(flags[1].clone(), slots[1].clone());
        flags[0].store(true, Ordering::Release);
        let w = slots[0].lock().unwrap().take();
        w.unwrap().wake();
        drain(&queue);
        t.join().unwrap();
        drain(&queue);
        ended_and_freed(task, &slots, &freed);
    });
}
