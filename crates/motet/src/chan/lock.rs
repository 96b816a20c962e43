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
//! Even uncontended, the CAS is a locked instruction: 8.7-8.9 ns a lock
//! here in a tight loop, against 1.0-1.4 ns for plain stores. A pingpong
//! on one event loop takes three per message, and with them replaced by
//! plain stores (unsound, as an experiment) it ran 16-32% faster. A
//! channel used by one thread only (the common case on an event loop,
//! where every unit runs on the loop's thread) needs no exclusion from
//! other threads, so the lock *biases* itself to that thread, as the JVM
//! once did for monitors, and takes the bias back the first time another
//! thread wants it:
//!
//! - `bias` is [`UNBIASED`], [`REVOKED`], or the owner thread's token
//!   (the address of a thread-local). It changes only under the CAS lock:
//!   the CAS holder sets its own token after [`BIAS_AFTER`] acquisitions
//!   in a row by the same thread (`last`, `streak`, also touched only
//!   under the CAS lock), and a CAS holder that finds another thread's
//!   token revokes it. A revoked lock stays a CAS lock for good, so a
//!   channel shared between threads pays for one revocation at most.
//! - **Owner's lock**: `held = true` (a plain store), a compiler fence,
//!   then a plain load of `revoke`; false: the lock is held, no
//!   read-modify-write. True: `held = false`, and the CAS path. **Owner's
//!   unlock**: `held = false` (release).
//! - **Revocation** (under the CAS lock): `revoke = true`, then
//!   `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`, which makes every
//!   running thread of the process execute a full fence (a descheduled
//!   one had one when it was switched out); then wait until `held` reads
//!   false (acquire); then `bias = REVOKED`.
//!
//! This is Dekker's handshake with the owner's half of the fence moved to
//! the revoker (an *asymmetric* fence, as in userspace RCU): either the
//! owner's `held = true` is visible once the barrier returns, and the
//! revoker waits for its unlock, or the barrier came first, and the
//! owner's load of `revoke` sees true and backs off. A barrier costs
//! 100-150 ns here. The process must register for it once: 2-4 µs while
//! it has one thread, but with more the registration waits for an RCU
//! grace period (10-15 ms here), so no channel operation registers; a
//! runtime's `build` does, before it starts threads of its own (paying
//! the wait once where the process had threads already). Until then, and
//! always without `membarrier` (not Linux, or refused), no lock biases.
//!
//! The `mprotect` trick (taking a permission from a page makes the kernel
//! interrupt every CPU running the process to flush its TLB) was measured
//! too, 4-6 µs a barrier and no registration, and rejected: it fences
//! only where TLB shootdowns are interrupts, and recent Linux kernels can
//! use AMD's broadcast invalidation (`INVLPGB`) instead, which interrupts
//! nobody. The stress tests below catch a revocation that does
//! not wait for the owner, or an owner that ignores `revoke`; a missing
//! fence opens a window of a few instructions, which they do not reach
//! (checked: removing it passed them), so that part rests on the
//! argument above.
//!
//! Under `--cfg loom` the lock is loom's `Mutex`, so the channel models
//! explore the channel's logic; this module's own ordering is small
//! enough to argue here (acquire on every successful CAS, release on every
//! unlock store, the handshake above) and is stress-tested in `tests`.

#[cfg(not(loom))]
pub(crate) use spin::{prepare, Lock, LockGuard};

#[cfg(loom)]
pub(crate) use model::{prepare, Lock, LockGuard};

#[cfg(not(loom))]
mod spin {
    use std::cell::UnsafeCell;
    use std::marker::PhantomData;
    use std::ops::{Deref, DerefMut};
    use std::sync::atomic::{
        compiler_fence, AtomicBool, AtomicU32, AtomicU8, AtomicUsize, Ordering,
    };
    use std::sync::{Condvar, Mutex};
    use std::time::Duration;

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
    /// `bias`: not biased yet.
    const UNBIASED: usize = 0;
    /// `bias`: biased once and revoked; a CAS lock from now on.
    const REVOKED: usize = 1;
    /// Acquisitions in a row by one thread before the lock biases to it.
    /// Low, because a wrong guess is cheap: it costs one revocation (a
    /// `membarrier`, 100-150 ns here) once per lock at most. With 1,024 the
    /// lab's ring (1,000 channels, a few hundred locks each in a short run)
    /// never biased; with 64 its `async-loop` went from 107 to 91 ns a hop.
    const BIAS_AFTER: u32 = 64;

    /// A mutual-exclusion lock over a `T` (see the module docs).
    pub(crate) struct Lock<T> {
        state: AtomicU8,
        /// The owner holds the lock through its bias.
        held: AtomicBool,
        /// A revocation has begun: the owner must use the CAS lock.
        revoke: AtomicBool,
        /// [`UNBIASED`], [`REVOKED`], or the owner's token.
        bias: AtomicUsize,
        /// The last CAS holder's token, and how many acquisitions in a row
        /// it has made (both only under the CAS lock).
        last: AtomicUsize,
        streak: AtomicU32,
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
                held: AtomicBool::new(false),
                revoke: AtomicBool::new(false),
                bias: AtomicUsize::new(UNBIASED),
                last: AtomicUsize::new(0),
                streak: AtomicU32::new(0),
                sleepers: Mutex::new(()),
                wakeup: Condvar::new(),
                value: UnsafeCell::new(value),
            }
        }

        /// Locks, waiting as the module docs describe.
        #[inline]
        pub(crate) fn lock(&self) -> LockGuard<'_, T> {
            let me = token();
            if self.bias.load(Ordering::Relaxed) == me {
                self.held.store(true, Ordering::Relaxed);
                // The owner's half of the handshake: the revoker's
                // `membarrier` is the fence between this store and load.
                compiler_fence(Ordering::SeqCst);
                if !self.revoke.load(Ordering::Relaxed) {
                    return LockGuard {
                        lock: self,
                        biased: true,
                        _not_send: PhantomData,
                    };
                }
                self.held.store(false, Ordering::Release);
            }
            if self
                .state
                .compare_exchange_weak(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                self.lock_contended();
            }
            if self.bias.load(Ordering::Relaxed) != REVOKED {
                self.count_toward_bias(me);
            }
            LockGuard {
                lock: self,
                biased: false,
                _not_send: PhantomData,
            }
        }

        /// Under the CAS lock, on a lock not revoked: revoke another
        /// thread's bias, or count this acquisition toward our own.
        #[inline(never)]
        fn count_toward_bias(&self, me: usize) {
            let bias = self.bias.load(Ordering::Relaxed);
            if bias != UNBIASED {
                // Another thread's (ours would have taken the fast path,
                // unless a revocation is under way, which only a CAS
                // holder runs, and we hold the CAS lock).
                self.revoke_bias();
                return;
            }
            if self.last.load(Ordering::Relaxed) != me {
                self.last.store(me, Ordering::Relaxed);
                self.streak.store(1, Ordering::Relaxed);
                return;
            }
            let streak = self.streak.load(Ordering::Relaxed) + 1;
            self.streak.store(streak, Ordering::Relaxed);
            if streak >= BIAS_AFTER && me > REVOKED && membarrier::available() {
                self.bias.store(me, Ordering::Relaxed);
            }
        }

        /// Takes the bias back (module docs), under the CAS lock.
        #[cold]
        #[inline(never)]
        fn revoke_bias(&self) {
            self.revoke.store(true, Ordering::Relaxed);
            membarrier::fence_all();
            let mut round = 0u32;
            // The owner's critical section never blocks, but its thread
            // may be preempted in it.
            while self.held.load(Ordering::Acquire) {
                round += 1;
                if round < SPINS {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
            self.bias.store(REVOKED, Ordering::Relaxed);
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
                self.lock.held.store(false, Ordering::Release);
            } else {
                self.lock.unlock();
            }
        }
    }

    /// Readies biasing (see `membarrier::register`): a runtime's `build`
    /// calls it before it starts threads of its own.
    pub(crate) fn prepare() {
        membarrier::register();
    }

    /// This thread's token: the address of a thread-local, never 0 or 1
    /// (`UNBIASED`, `REVOKED`), unique among live threads. A thread that
    /// reuses a dead owner's address becomes the owner, which is sound:
    /// the dead one holds nothing.
    #[inline]
    fn token() -> usize {
        std::thread_local! {
            static TOKEN: u64 = const { 0 };
        }
        TOKEN.with(|t| t as *const u64 as usize)
    }

    /// The asymmetric fence (module docs).
    mod membarrier {
        use std::sync::atomic::{AtomicU8, Ordering};

        /// Where registration stands.
        static STATE: AtomicU8 = AtomicU8::new(NOT_TRIED);
        const NOT_TRIED: u8 = 0;
        const REGISTERING: u8 = 1;
        const READY: u8 = 2;
        const UNAVAILABLE: u8 = 3;

        #[cfg(target_os = "linux")]
        const CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
        #[cfg(target_os = "linux")]
        const CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

        /// Whether [`fence_all`] works in this process: [`register`] has
        /// succeeded.
        #[inline]
        pub(super) fn available() -> bool {
            STATE.load(Ordering::Acquire) == READY
        }

        /// Registers the process for [`fence_all`], once (later calls
        /// return at once). It takes 2-4 µs while the process has one
        /// thread, and otherwise waits for an RCU grace period (10-15 ms
        /// here), so no channel operation calls it: a runtime's `build`
        /// does, before it starts threads of its own, and where that is
        /// late, pays the wait once. Until it has run, no lock biases.
        pub(super) fn register() {
            if STATE
                .compare_exchange(NOT_TRIED, REGISTERING, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                let s = if register_process() {
                    READY
                } else {
                    UNAVAILABLE
                };
                STATE.store(s, Ordering::Release);
            }
        }

        #[cfg(target_os = "linux")]
        fn register_process() -> bool {
            // SAFETY: the membarrier system call takes two integers and
            // touches no memory of ours.
            unsafe {
                libc::syscall(libc::SYS_membarrier, CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0
            }
        }

        #[cfg(not(target_os = "linux"))]
        fn register_process() -> bool {
            false
        }

        /// Makes every running thread of this process execute a full
        /// memory fence before it returns. Called only once [`available`]
        /// said yes (a lock biases only then). A refusal means the
        /// registration is gone (a child after `fork` may not inherit it):
        /// register again and retry; if that fails too, no owner's store
        /// could be trusted, so it aborts with a message.
        pub(super) fn fence_all() {
            #[cfg(target_os = "linux")]
            {
                // SAFETY: as in `register_process`.
                let fence = || unsafe {
                    libc::syscall(libc::SYS_membarrier, CMD_PRIVATE_EXPEDITED, 0, 0) == 0
                };
                let fenced = fence() || (register_process() && fence());
                if !fenced {
                    eprintln!("motet::chan: membarrier refused after registration; aborting");
                    std::process::abort();
                }
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::Lock;

        /// Whether locks can bias here (registering, as a runtime would).
        fn bias_available() -> bool {
            super::prepare();
            let ok = super::membarrier::available();
            if !ok {
                eprintln!("skipped: no membarrier here, so locks never bias");
            }
            ok
        }
        use std::sync::atomic::Ordering;
        use std::sync::Arc;

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
            for _ in 0..super::BIAS_AFTER + 1 {
                *lock.lock() += 1;
            }
            assert_eq!(lock.bias.load(Ordering::Relaxed), super::token());
            let g = lock.lock();
            assert!(g.biased, "the owner's lock takes the bias");
            drop(g);
            let l2 = lock.clone();
            std::thread::spawn(move || *l2.lock() += 1).join().unwrap();
            assert_eq!(lock.bias.load(Ordering::Relaxed), super::REVOKED);
            let g = lock.lock();
            assert!(!g.biased, "a revoked lock is a CAS lock for good");
            assert_eq!(*g, u64::from(super::BIAS_AFTER) + 2);
        }

        /// A revocation racing the owner's critical sections: the owner
        /// is inside one, or about to enter one, at every moment of the
        /// other thread's first lock. Each section raises a shared flag
        /// that no other section may find raised, and increments a plain
        /// counter; no overlap, no lost increment. Each round has a fresh
        /// lock, biased before the other thread starts.
        #[test]
        fn a_revocation_racing_the_owner_keeps_exclusion() {
            use std::sync::atomic::AtomicBool;
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
                for _ in 0..super::BIAS_AFTER {
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
                assert_eq!(*lock.lock(), u64::from(super::BIAS_AFTER) + 2_200);
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

    /// Nothing to ready: loom's lock does not bias.
    pub(crate) fn prepare() {}

    impl<T> Lock<T> {
        pub(crate) fn new(value: T) -> Lock<T> {
            Lock(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> LockGuard<'_, T> {
            self.0.lock().unwrap_or_else(|e| e.into_inner())
        }
    }
}
