//! How a scheduler thread goes to sleep without losing a wake-up.
//!
//! A thread with nothing to run wants to block in the driver; another
//! thread that just queued work for it must then interrupt that block (an
//! eventfd write, about 20 µs of cross-core latency on this VM), but should
//! *not* pay for it when the sleeper is awake anyway.
//!
//! Protocol (Dekker's, with a `SeqCst` fence on each side):
//!
//! ```text
//! sleeper                               waker (any thread)
//! -------                               ------------------
//! sleeping = true                       queue work; pending += 1
//! fence(SeqCst)                         fence(SeqCst)
//! if pending == 0 (and no other flag):  if swap(sleeping, false) was true:
//!     block in the driver                   unpark the driver
//! sleeping = false
//! ```
//!
//! The two fences are ordered one way or the other in the single total
//! order of `SeqCst` fences. If the sleeper's comes first, the waker's swap
//! reads its `sleeping = true` and unparks; if the waker's comes first, the
//! sleeper's load reads the increment and does not block. Either way no
//! wake-up is lost. Model-checked below.
//!
//! Why fences rather than `SeqCst` on the accesses alone: the C11 argument
//! is the same, but loom models `SeqCst` *accesses* as `AcqRel` (it reports
//! false lost wake-ups for the access-only version) while it models
//! `SeqCst` fences exactly; with fences, the code that runs is the code
//! that is checked. On x86 the cost is one `mfence` when a loop goes to
//! sleep and one per cross-thread wake-up, both already on slow paths.

use crate::loom::atomic::{fence, AtomicBool, AtomicUsize, Ordering};

/// The sleep/notify state of one scheduler thread.
#[derive(Debug, Default)]
pub(crate) struct Sleeper {
    sleeping: AtomicBool,
    /// Work queued from other threads and not yet taken.
    pending: AtomicUsize,
}

impl Sleeper {
    /// Records `n` items queued by another thread. Call [`notify`](Self::notify) next.
    pub(crate) fn add_pending(&self, n: usize) {
        self.pending.fetch_add(n, Ordering::SeqCst);
    }

    /// Records `n` items taken by the owner.
    pub(crate) fn take_pending(&self, n: usize) {
        self.pending.fetch_sub(n, Ordering::SeqCst);
    }

    /// Whether remote work is queued (a cheap check without any lock).
    pub(crate) fn has_pending(&self) -> bool {
        self.pending.load(Ordering::Relaxed) != 0
    }

    /// True if the owner may be blocked and must be unparked. Call after
    /// publishing the work (`add_pending`, or a flag stored `SeqCst`).
    pub(crate) fn notify(&self) -> bool {
        fence(Ordering::SeqCst);
        self.sleeping.swap(false, Ordering::SeqCst)
    }

    /// Announces the intent to sleep; returns false if work arrived and the
    /// owner must not block. `other_work` is re-checked after announcing
    /// (for flags with their own `SeqCst` store before `notify`).
    pub(crate) fn prepare(&self, other_work: impl FnOnce() -> bool) -> bool {
        self.sleeping.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if self.pending.load(Ordering::SeqCst) != 0 || other_work() {
            self.sleeping.store(false, Ordering::SeqCst);
            return false;
        }
        true
    }

    /// The owner is awake again.
    pub(crate) fn woke(&self) {
        self.sleeping.store(false, Ordering::SeqCst);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::Sleeper;
    use loom::sync::atomic::{AtomicBool, Ordering};
    use loom::sync::Arc;

    /// Work queued concurrently with the owner going to sleep is never
    /// stranded: either the owner sees it, or the waker unparks the owner.
    #[test]
    fn no_lost_wakeup() {
        loom::model(|| {
            let s = Arc::new(Sleeper::default());
            let unparked = Arc::new(AtomicBool::new(false));
            let (s2, u2) = (s.clone(), unparked.clone());
            let waker = loom::thread::spawn(move || {
                s2.add_pending(1);
                if s2.notify() {
                    u2.store(true, Ordering::SeqCst);
                }
            });
            let blocks = s.prepare(|| false);
            waker.join().unwrap();
            if blocks {
                assert!(
                    unparked.load(Ordering::SeqCst),
                    "blocked with work queued and no unpark"
                );
            }
        });
    }

    /// The same with the other flag (the block_on future's waker).
    #[test]
    fn no_lost_wakeup_for_a_flag() {
        loom::model(|| {
            let s = Arc::new(Sleeper::default());
            let flag = Arc::new(AtomicBool::new(false));
            let unparked = Arc::new(AtomicBool::new(false));
            let (s2, f2, u2) = (s.clone(), flag.clone(), unparked.clone());
            let waker = loom::thread::spawn(move || {
                f2.store(true, Ordering::SeqCst);
                if s2.notify() {
                    u2.store(true, Ordering::SeqCst);
                }
            });
            let blocks = s.prepare(|| flag.load(Ordering::SeqCst));
            waker.join().unwrap();
            if blocks {
                assert!(
                    unparked.load(Ordering::SeqCst),
                    "blocked with the flag set and no unpark"
                );
            }
        });
    }

    /// Two wakers racing the owner: at least one unparks it if it blocks.
    #[test]
    fn two_wakers() {
        loom::model(|| {
            let s = Arc::new(Sleeper::default());
            let unparked = Arc::new(AtomicBool::new(false));
            let spawn = |s: Arc<Sleeper>, u: Arc<AtomicBool>| {
                loom::thread::spawn(move || {
                    s.add_pending(1);
                    if s.notify() {
                        u.store(true, Ordering::SeqCst);
                    }
                })
            };
            let a = spawn(s.clone(), unparked.clone());
            let b = spawn(s.clone(), unparked.clone());
            let blocks = s.prepare(|| false);
            a.join().unwrap();
            b.join().unwrap();
            if blocks {
                assert!(unparked.load(Ordering::SeqCst));
            }
        });
    }
}
