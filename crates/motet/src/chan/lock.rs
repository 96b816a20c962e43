//! The channel's lock: a spin-then-sleep mutex whose uncontended unlock
//! is one plain store.
//!
//! Why not `std::sync::Mutex`: its unlock is an atomic swap (it must learn
//! whether a thread sleeps on the futex), so every channel operation paid
//! two read-modify-writes, and between two threads the second one is a
//! second trip of the lock's cache line. The channel's critical sections
//! are a few dozen instructions that never block (wakers are woken after
//! unlocking), so a waiter nearly always finds the lock free within a few
//! spins; sleeping is for a lock holder that was preempted.
//!
//! # Protocol
//!
//! `state` is one of:
//!
//! - `0`: unlocked. Nobody sleeps on a lock while it is unlocked, except a
//!   sleeper that lost the race below (it wakes at its timeout).
//! - [`LOCKED`]: held; nobody asked to be woken.
//! - `LOCKED | SLEEPING`: held, and at least one thread sleeps on `wakeup`
//!   and asked the holder to wake it.
//!
//! - **lock**: CAS `0 -> LOCKED` (acquire). On failure: spin (bounded,
//!   [`SPINS`] rounds of `spin_loop`, none on one CPU), then yield
//!   ([`YIELDS`] times), then sleep: under `sleepers`, set `SLEEPING` (CAS
//!   from `LOCKED`) and wait on `wakeup` for at most [`SLEEP`]; then start
//!   over.
//! - **unlock**: if the state reads `LOCKED`, store `0` (release): no
//!   read-modify-write. Otherwise store `0`, then take `sleepers` and wake
//!   every sleeper; they race for the lock again.
//!
//! The race a plain-store unlock allows: the holder reads `LOCKED`, a
//! waiter then sets `SLEEPING`, the holder's store clears it, and nobody
//! wakes the waiter. That is why sleeps are bounded by [`SLEEP`]: the lost
//! wake-up costs that waiter at most one timeout, never progress, and the
//! window is two instructions wide. Making it exact needs a
//! read-modify-write (or a full fence) on every unlock, the cost this lock
//! exists to avoid.
//!
//! Not fair: a running thread can take the lock ahead of a sleeping one.
//! The channel's own queues (offers, interests) are what keeps waiting
//! operations in FIFO order; this lock only guards their critical
//! sections. No poisoning: a panic under the lock unlocks it (the
//! channel's state stays consistent, as the essay in `chan/mod.rs` says).
//!
//! # Biased to one thread
//!
//! A lock that one thread takes 64 times in a row biases itself to that
//! thread, which then locks and unlocks with plain stores, until another
//! thread takes the bias back (`bias.rs` has the protocol, its
//! measurements and its loom models).
//!
//! Under `--cfg loom` the lock is loom's `Mutex`, so the channel models
//! explore the channel's logic; this module's own ordering is small
//! enough to argue here (acquire on every successful CAS, release on every
//! unlock store) and is stress-tested in `tests`, the bias with it.

#[cfg(not(loom))]
pub(crate) use spin::{Lock, LockGuard};

#[cfg(loom)]
pub(crate) use model::{Lock, LockGuard};

#[cfg(not(loom))]
mod spin {
    use std::cell::UnsafeCell;
    use std::marker::PhantomData;
    use std::ops::{Deref, DerefMut};
    use std::sync::atomic::{AtomicU8, Ordering};
    use std::sync::{Condvar, Mutex};
    use std::time::Duration;

    use crate::bias::LockBias;

    /// Held.
    const LOCKED: u8 = 1;
    /// Someone sleeps on `wakeup`; only ever set together with `LOCKED`.
    const SLEEPING: u8 = 2;
    /// Busy-wait rounds before yielding.
    const SPINS: u32 = 100;
    /// `yield_now` rounds before sleeping.
    const YIELDS: u32 = 10;
    /// The longest sleep: bounds the cost of a lost wake-up (see above).
    const SLEEP: Duration = Duration::from_micros(500);

    /// A mutual-exclusion lock over a `T` (see the module docs).
    pub(crate) struct Lock<T> {
        state: AtomicU8,
        /// The bias to one thread (`bias.rs`).
        bias: LockBias,
        /// Guards the `SLEEPING` hand-shake with `wakeup`.
        sleepers: Mutex<()>,
        wakeup: Condvar,
        value: UnsafeCell<T>,
    }

    // SAFETY: the lock hands out `&mut T` to one thread at a time (the
    // `state` CAS is the exclusion), so sharing the lock moves `T` between
    // threads but never shares it: `T: Send` is enough, as for std's Mutex.
    unsafe impl<T: Send> Sync for Lock<T> {}
    // SAFETY: owning the lock is owning the `T`.
    unsafe impl<T: Send> Send for Lock<T> {}

    impl<T> Lock<T> {
        pub(crate) fn new(value: T) -> Lock<T> {
            Lock {
                state: AtomicU8::new(0),
                bias: LockBias::new(),
                sleepers: Mutex::new(()),
                wakeup: Condvar::new(),
                value: UnsafeCell::new(value),
            }
        }

        /// Locks, waiting as the module docs describe.
        #[inline]
        pub(crate) fn lock(&self) -> LockGuard<'_, T> {
            if self.bias.try_lock() {
                return LockGuard {
                    lock: self,
                    biased: true,
                    _not_send: PhantomData,
                };
            }
            if self
                .state
                .compare_exchange_weak(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                self.lock_contended();
            }
            self.bias.after_cas_lock();
            LockGuard {
                lock: self,
                biased: false,
                _not_send: PhantomData,
            }
        }

        #[cold]
        fn lock_contended(&self) {
            // On one CPU the holder cannot run while we spin: yield at once.
            let spins = if crate::wait::multi_cpu() { SPINS } else { 0 };
            let mut round = 0u32;
            loop {
                let s = self.state.load(Ordering::Relaxed);
                if s == 0 {
                    if self
                        .state
                        .compare_exchange_weak(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
                        .is_ok()
                    {
                        return;
                    }
                    continue;
                }
                round += 1;
                if round <= spins {
                    std::hint::spin_loop();
                } else if round <= spins + YIELDS {
                    std::thread::yield_now();
                } else {
                    self.sleep();
                    round = 0;
                }
            }
        }

        /// Asks the holder to wake us, and sleeps (at most `SLEEP`).
        #[cold]
        fn sleep(&self) {
            let guard = self.sleepers.lock().unwrap_or_else(|e| e.into_inner());
            let s = self.state.load(Ordering::Relaxed);
            let asked = s == LOCKED | SLEEPING
                || (s == LOCKED
                    && self
                        .state
                        .compare_exchange(
                            LOCKED,
                            LOCKED | SLEEPING,
                            Ordering::Relaxed,
                            Ordering::Relaxed,
                        )
                        .is_ok());
            if asked {
                // The holder's slow unlock takes `sleepers` before it
                // notifies, so it cannot notify between our flag and our
                // wait: the wait releases `sleepers` atomically.
                let _ = self.wakeup.wait_timeout(guard, SLEEP);
            }
        }

        #[inline]
        fn unlock(&self) {
            if self.state.load(Ordering::Relaxed) == LOCKED {
                self.state.store(0, Ordering::Release);
            } else {
                self.unlock_and_wake();
            }
        }

        #[cold]
        fn unlock_and_wake(&self) {
            self.state.store(0, Ordering::Release);
            let _guard = self.sleepers.lock().unwrap_or_else(|e| e.into_inner());
            self.wakeup.notify_all();
        }
    }

    /// Exclusive access to a [`Lock`]'s value; unlocks when dropped.
    pub(crate) struct LockGuard<'a, T> {
        lock: &'a Lock<T>,
        /// Held through the bias, not the CAS.
        biased: bool,
        /// Not `Send` or `Sync`, as std's guard: the `&mut T` stays on the
        /// locking thread.
        _not_send: PhantomData<*const ()>,
    }

    impl<T> Deref for LockGuard<'_, T> {
        type Target = T;

        #[inline]
        fn deref(&self) -> &T {
            // SAFETY: the guard exists only while this thread holds the
            // lock, so nobody else touches the value.
            unsafe { &*self.lock.value.get() }
        }
    }

    impl<T> DerefMut for LockGuard<'_, T> {
        #[inline]
        fn deref_mut(&mut self) -> &mut T {
            // SAFETY: as in `deref`, and `&mut self` makes this the only
            // borrow through the guard.
            unsafe { &mut *self.lock.value.get() }
        }
    }

    impl<T> Drop for LockGuard<'_, T> {
        #[inline]
        fn drop(&mut self) {
            if self.biased {
                self.lock.bias.unlock();
            } else {
                self.lock.unlock();
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;

        use super::Lock;
        use crate::bias::{self, available_for_tests as bias_available};

        /// Many threads (more than cores, so holders get preempted and
        /// waiters reach the sleep path) increment through the lock.
        #[test]
        fn excludes_under_contention() {
            let lock = Arc::new(Lock::new(0u64));
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    let lock = lock.clone();
                    std::thread::spawn(move || {
                        for _ in 0..20_000 {
                            let mut g = lock.lock();
                            let v = *g;
                            if v % 1000 == 0 {
                                std::thread::yield_now(); // hold it a while
                            }
                            *g = v + 1;
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            assert_eq!(*lock.lock(), 160_000);
        }

        /// The bias: taken after `BIAS_AFTER` acquisitions by one thread,
        /// then taken back the first time another thread locks.
        #[test]
        fn biases_to_a_lone_thread_and_is_revoked_by_another() {
            if !bias_available() {
                return;
            }
            let lock = Arc::new(Lock::new(0u64));
            for _ in 0..bias::BIAS_AFTER + 1 {
                *lock.lock() += 1;
            }
            assert_eq!(lock.bias.owner(), bias::token());
            let g = lock.lock();
            assert!(g.biased, "the owner's lock takes the bias");
            drop(g);
            let l2 = lock.clone();
            std::thread::spawn(move || *l2.lock() += 1).join().unwrap();
            assert_eq!(lock.bias.owner(), bias::REVOKED);
            let g = lock.lock();
            assert!(!g.biased, "a revoked lock is a CAS lock for good");
            assert_eq!(*g, u64::from(bias::BIAS_AFTER) + 2);
        }

        /// A revocation racing the owner's critical sections: the owner
        /// is inside one, or about to enter one, at every moment of the
        /// other thread's first lock. Each section raises a shared flag
        /// that no other section may find raised, and increments a plain
        /// counter; no overlap, no lost increment. Each round has a fresh
        /// lock, biased before the other thread starts.
        #[test]
        fn a_revocation_racing_the_owner_keeps_exclusion() {
            if !bias_available() {
                return;
            }
            fn section(lock: &Lock<u64>, inside: &AtomicBool) {
                let mut g = lock.lock();
                assert!(!inside.swap(true, Ordering::Relaxed), "two threads inside");
                let v = *g;
                for _ in 0..20 {
                    std::hint::spin_loop();
                }
                *g = v + 1;
                inside.store(false, Ordering::Relaxed);
            }
            for round in 0..200u32 {
                let lock = Arc::new(Lock::new(0u64));
                for _ in 0..bias::BIAS_AFTER {
                    *lock.lock() += 1;
                }
                let inside = Arc::new(AtomicBool::new(false));
                let go = Arc::new(std::sync::Barrier::new(2));
                let (l2, in2, go2) = (lock.clone(), inside.clone(), go.clone());
                let other = std::thread::spawn(move || {
                    go2.wait();
                    // Stagger the first lock against the owner's loop.
                    for _ in 0..round * 13 {
                        std::hint::spin_loop();
                    }
                    for _ in 0..200 {
                        section(&l2, &in2);
                    }
                });
                go.wait();
                for _ in 0..2_000 {
                    section(&lock, &inside);
                }
                other.join().unwrap();
                assert_eq!(*lock.lock(), u64::from(bias::BIAS_AFTER) + 2_200);
            }
        }

        #[test]
        fn a_panic_under_the_lock_unlocks_it() {
            let lock = Arc::new(Lock::new(1));
            let l2 = lock.clone();
            let r = std::thread::spawn(move || {
                let _g = l2.lock();
                panic!("boom");
            })
            .join();
            assert!(r.is_err());
            assert_eq!(*lock.lock(), 1);
        }
    }
}

/// Under loom: loom's `Mutex`, so the models check the channel's logic.
#[cfg(loom)]
mod model {
    pub(crate) use loom::sync::MutexGuard as LockGuard;

    pub(crate) struct Lock<T>(loom::sync::Mutex<T>);

    impl<T> Lock<T> {
        pub(crate) fn new(value: T) -> Lock<T> {
            Lock(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> LockGuard<'_, T> {
            self.0.lock().unwrap_or_else(|e| e.into_inner())
        }
    }
}
