//! Which workers of a multi-threaded flavor sleep, how many search for work,
//! and whom to wake when work appears.
//!
//! # The problem
//!
//! Waking a parked worker costs the waker a system call and the wakee about
//! 20 µs on this VM before it runs; a hop through a queue costs well under a
//! microsecond. So a scheduler must wake a worker only when one is needed,
//! and never wake several for one piece of work (a thundering herd), yet it
//! must never leave work queued while every worker sleeps.
//!
//! # The protocol
//!
//! One atomic word counts the *unparked* workers and, among them, the
//! *searching* ones (looking for work to steal). A mutex-protected list holds
//! the parked workers' indices.
//!
//! - **Work appears** (a push onto a stealable queue or the injector): after
//!   the push and a `SeqCst` fence, wake one parked worker, as a searcher,
//!   only if nobody is searching and some worker is parked. A searcher
//!   already awake will find the work; waking more would be the herd.
//! - **A worker starts searching** only while fewer than half the workers
//!   search (bounded spinning).
//! - **A searcher finds work**: it stops searching, and if it was the last
//!   searcher and, after a `SeqCst` fence, more work is in sight, it wakes
//!   another worker to take over the search. The look is the parking
//!   re-check's, for the same reason: a producer that saw this worker
//!   still searching woke nobody. Without work in sight the wake-up would
//!   only put a system call in front of the task just found (a green
//!   thread delivered home through its worker's inbox, say); work pushed
//!   later finds nobody searching and wakes a worker itself.
//! - **A worker parks**: it records itself as parked (unparked - 1, and
//!   searching - 1 if it searched), then, after a `SeqCst` fence, checks every
//!   queue once more; if it sees work it takes itself off the list again.
//!   This re-check is what makes the fast path above safe: a producer that
//!   saw the worker still unparked (and so woke nobody) pushed before the
//!   worker's fence, so the worker's re-check sees the push (Dekker's
//!   argument, with fences on both sides). Model-checked below.
//!
//! Layout of the state word: `unparked << 16 | searching`.

use crate::loom::atomic::{fence, AtomicUsize, Ordering::SeqCst};
use crate::loom::Mutex;

const SEARCH_ONE: usize = 1;
const UNPARK_ONE: usize = 1 << 16;
const SEARCH_MASK: usize = UNPARK_ONE - 1;

/// The idle bookkeeping of one multi-threaded scheduler.
pub(crate) struct Idle {
    state: AtomicUsize,
    sleepers: Mutex<Vec<usize>>,
    workers: usize,
}

fn searching(state: usize) -> usize {
    state & SEARCH_MASK
}

fn unparked(state: usize) -> usize {
    state >> 16
}

impl Idle {
    /// All `workers` start unparked and not searching.
    pub(crate) fn new(workers: usize) -> Idle {
        assert!(workers < SEARCH_MASK, "too many workers");
        Idle {
            state: AtomicUsize::new(workers * UNPARK_ONE),
            sleepers: Mutex::new(Vec::with_capacity(workers)),
            workers,
        }
    }

    /// After pushing work: the worker to wake (it is counted unparked and
    /// searching from now on), or `None` if none should be woken.
    pub(crate) fn worker_to_notify(&self) -> Option<usize> {
        fence(SeqCst);
        let s = self.state.load(SeqCst);
        if searching(s) != 0 || unparked(s) >= self.workers {
            return None;
        }
        let mut sleepers = self.sleepers.lock().unwrap_or_else(|e| e.into_inner());
        let s = self.state.load(SeqCst);
        if searching(s) != 0 || unparked(s) >= self.workers {
            return None;
        }
        let index = sleepers.pop()?;
        self.state.fetch_add(UNPARK_ONE + SEARCH_ONE, SeqCst);
        Some(index)
    }

    /// Becomes a searcher if fewer than half the workers are searching.
    pub(crate) fn start_searching(&self) -> bool {
        let s = self.state.load(SeqCst);
        if 2 * searching(s) >= self.workers {
            return false;
        }
        self.state.fetch_add(SEARCH_ONE, SeqCst);
        true
    }

    /// Stops searching; true if this was the last searcher (the caller
    /// then looks for work once more and, if it sees any, wakes another;
    /// see the module docs).
    pub(crate) fn stop_searching(&self) -> bool {
        let last = searching(self.state.fetch_sub(SEARCH_ONE, SeqCst)) == 1;
        if last {
            fence(SeqCst);
        }
        last
    }

    /// Records `index` as parked. The caller must then re-check every queue
    /// (after the fence this issues) before actually sleeping.
    pub(crate) fn park(&self, index: usize, was_searching: bool) {
        let mut sleepers = self.sleepers.lock().unwrap_or_else(|e| e.into_inner());
        let dec = UNPARK_ONE + if was_searching { SEARCH_ONE } else { 0 };
        self.state.fetch_sub(dec, SeqCst);
        sleepers.push(index);
        drop(sleepers);
        fence(SeqCst);
    }

    /// Takes `index` off the parked list if it is still there (it saw work
    /// itself): true. False if a notifier took it off already, in which case
    /// it was made a searcher.
    pub(crate) fn unpark_self(&self, index: usize) -> bool {
        let mut sleepers = self.sleepers.lock().unwrap_or_else(|e| e.into_inner());
        match sleepers.iter().position(|&i| i == index) {
            Some(pos) => {
                sleepers.swap_remove(pos);
                self.state.fetch_add(UNPARK_ONE, SeqCst);
                true
            }
            None => false,
        }
    }

    /// Whether `index` is still on the parked list (not yet notified).
    pub(crate) fn is_parked(&self, index: usize) -> bool {
        self.sleepers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&index)
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::loom::atomic::AtomicUsize;
    use loom::sync::Arc;

    /// One worker going idle while a producer pushes work: either the worker's
    /// re-check sees the work, or the producer wakes the worker.
    #[test]
    fn work_is_never_stranded() {
        loom::model(|| {
            let idle = Arc::new(Idle::new(1));
            let queue = Arc::new(AtomicUsize::new(0));
            let (i2, q2) = (idle.clone(), queue.clone());
            let producer = loom::thread::spawn(move || {
                q2.fetch_add(1, SeqCst); // push
                i2.worker_to_notify()
            });
            // The worker found nothing, parks, and re-checks.
            idle.park(0, false);
            let saw_work = queue.load(SeqCst) != 0;
            let took_self_off = saw_work && idle.unpark_self(0);
            let notified = producer.join().unwrap();
            if !saw_work {
                assert_eq!(
                    notified,
                    Some(0),
                    "work queued, worker asleep, nobody woken"
                );
            }
            if took_self_off {
                assert!(!idle.is_parked(0));
            }
        });
    }

    /// Two workers, worker 1 parked and worker 0 searching, and a producer
    /// thread that pushes work (a count in the returned queue) and asks
    /// whom to wake (its thread's result).
    fn a_push_while_one_searches() -> (
        Arc<Idle>,
        Arc<AtomicUsize>,
        loom::thread::JoinHandle<Option<usize>>,
    ) {
        let idle = Arc::new(Idle::new(2));
        idle.park(1, false); // worker 1 is asleep
        assert!(idle.start_searching()); // worker 0 searches
        let queue = Arc::new(AtomicUsize::new(0));
        let (i2, q2) = (idle.clone(), queue.clone());
        let producer = loom::thread::spawn(move || {
            q2.fetch_add(1, SeqCst);
            i2.worker_to_notify()
        });
        (idle, queue, producer)
    }

    /// Worker 0 parks as the last searcher: the work is still found.
    #[test]
    fn last_searcher_rechecks() {
        loom::model(|| {
            let (idle, queue, producer) = a_push_while_one_searches();
            // Worker 0 found nothing, stops searching and parks.
            idle.park(0, true);
            let saw_work = queue.load(SeqCst) != 0;
            let notified = producer.join().unwrap();
            assert!(
                saw_work || notified.is_some(),
                "work queued and every worker asleep"
            );
        });
    }

    #[test]
    fn last_searcher_that_finds_work_sees_the_rest_or_someone_is_woken() {
        loom::model(|| {
            let (idle, queue, producer) = a_push_while_one_searches();
            // Worker 0 found a task of its own (its inbox): it stops
            // searching and hands the search over only if it sees work.
            let handed_over = idle.stop_searching() && queue.load(SeqCst) != 0;
            let handed_over = handed_over && idle.worker_to_notify().is_some();
            let notified = producer.join().unwrap();
            assert!(
                handed_over || notified.is_some(),
                "work queued, its only searcher gone, nobody woken"
            );
            assert!(
                !(handed_over && notified.is_some()),
                "one push woke two workers"
            );
        });
    }
}
