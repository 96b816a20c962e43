//! Parking one scheduler thread: on its own condition variable, or inside
//! the shared I/O driver.
//!
//! In a multi-threaded flavor the workers share one driver, and the first
//! idle worker to get the driver's poll lock blocks in `epoll_wait` (so that
//! I/O and timers are watched while everyone sleeps); the others block on a
//! condition variable. Waking a worker must therefore know where it sleeps.
//!
//! State machine (one atomic word):
//!
//! ```text
//!            park()                        unpark()
//! EMPTY ----------------> PARKED_CONDVAR --------> NOTIFIED --(park returns)--> EMPTY
//!   |                     PARKED_DRIVER  --------> NOTIFIED
//!   +--- unpark() ------> NOTIFIED  (the next park returns at once)
//! ```
//!
//! - `unpark` swaps in `NOTIFIED` and acts on what it replaced: nothing for
//!   `EMPTY`/`NOTIFIED`, a condvar notify (after taking the mutex, so the
//!   sleeper is surely waiting) for `PARKED_CONDVAR`, a driver unpark (an
//!   eventfd write; a write before `epoll_wait` makes it return at once) for
//!   `PARKED_DRIVER`.
//! - A park that finds `NOTIFIED` consumes it and returns: no wake-up is
//!   lost whatever the interleaving. Model-checked below.
//! - A park in the driver may also return because of I/O or a timer; the
//!   caller then looks for work and parks again if there is none.

use crate::loom::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::loom::{Condvar, Mutex};

const EMPTY: usize = 0;
const PARKED_CONDVAR: usize = 1;
const PARKED_DRIVER: usize = 2;
const NOTIFIED: usize = 3;

/// What a parker needs from the shared driver.
pub(crate) trait DriverSlot {
    /// If the driver's poll lock is free, takes it, calls `before_block`,
    /// and blocks in the driver unless that returned false; returns whether
    /// the lock was taken.
    fn try_park(&self, before_block: &mut dyn FnMut() -> bool) -> bool;
    /// Makes a thread blocked in the driver return.
    fn unpark(&self);
}

/// One worker's parking spot.
#[derive(Default)]
pub(crate) struct Parker {
    state: AtomicUsize,
    lock: Mutex<()>,
    cvar: Condvar,
}

impl Parker {
    /// Blocks until [`unpark`](Self::unpark) (or, when parked in the driver,
    /// until I/O or a timer needs attention). Returns at once if an unpark
    /// came first.
    pub(crate) fn park(&self, driver: Option<&dyn DriverSlot>) {
        if self
            .state
            .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
            .is_ok()
        {
            return;
        }
        if let Some(driver) = driver {
            // Block in the driver only if no unpark slipped in (else the
            // CAS fails on NOTIFIED and we return without blocking).
            let mut announce = || {
                self.state
                    .compare_exchange(EMPTY, PARKED_DRIVER, SeqCst, SeqCst)
                    .is_ok()
            };
            if driver.try_park(&mut announce) {
                // Woken by unpark (NOTIFIED), by I/O or a timer (still
                // PARKED_DRIVER), or never blocked (NOTIFIED): all end EMPTY.
                // An unpark landing after the wake is absorbed here, which
                // is what it asked for: this thread is awake and about to
                // look for work.
                self.state.store(EMPTY, SeqCst);
                return;
            }
        }
        let mut guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        if self
            .state
            .compare_exchange(EMPTY, PARKED_CONDVAR, SeqCst, SeqCst)
            .is_err()
        {
            // NOTIFIED arrived in between.
            self.state.store(EMPTY, SeqCst);
            return;
        }
        loop {
            guard = self.cvar.wait(guard).unwrap_or_else(|e| e.into_inner());
            if self
                .state
                .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
                .is_ok()
            {
                return;
            }
            // Spurious wake-up: wait again.
        }
    }

    /// Wakes the parked thread, or makes its next park return at once.
    pub(crate) fn unpark(&self, driver: Option<&dyn DriverSlot>) {
        match self.state.swap(NOTIFIED, SeqCst) {
            PARKED_CONDVAR => {
                // Taking the lock orders us after the sleeper's wait began.
                drop(self.lock.lock().unwrap_or_else(|e| e.into_inner()));
                self.cvar.notify_one();
            }
            PARKED_DRIVER => {
                if let Some(d) = driver {
                    d.unpark();
                }
            }
            _ => {}
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::atomic::AtomicBool;
    use loom::sync::Arc;

    /// An unpark racing a park on the condvar path is never lost.
    #[test]
    fn unpark_is_never_lost_on_the_condvar() {
        loom::model(|| {
            let p = Arc::new(Parker::default());
            let p2 = p.clone();
            let t = loom::thread::spawn(move || p2.unpark(None));
            p.park(None); // must return
            t.join().unwrap();
        });
    }

    /// A stand-in driver: "blocking" in it waits on a flag that unpark sets.
    struct FakeDriver {
        busy: Mutex<bool>,
        woken: AtomicBool,
        cvar: Condvar,
        lock: Mutex<()>,
    }

    impl DriverSlot for FakeDriver {
        fn try_park(&self, before_block: &mut dyn FnMut() -> bool) -> bool {
            {
                let mut busy = self.busy.lock().unwrap();
                if *busy {
                    return false;
                }
                *busy = true;
            }
            if before_block() {
                let mut g = self.lock.lock().unwrap();
                while !self.woken.swap(false, SeqCst) {
                    g = self.cvar.wait(g).unwrap();
                }
            }
            *self.busy.lock().unwrap() = false;
            true
        }
        fn unpark(&self) {
            let _g = self.lock.lock().unwrap();
            self.woken.store(true, SeqCst);
            self.cvar.notify_one();
        }
    }

    /// The same through the driver path.
    #[test]
    fn unpark_is_never_lost_in_the_driver() {
        loom::model(|| {
            let d = Arc::new(FakeDriver {
                busy: Mutex::new(false),
                woken: AtomicBool::new(false),
                cvar: Condvar::new(),
                lock: Mutex::new(()),
            });
            let p = Arc::new(Parker::default());
            let (p2, d2) = (p.clone(), d.clone());
            let t = loom::thread::spawn(move || p2.unpark(Some(&*d2)));
            p.park(Some(&*d));
            t.join().unwrap();
        });
    }
}
