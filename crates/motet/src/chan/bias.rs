//! A channel lock's bias to one thread: the thread that takes the lock
//! again and again locks and unlocks it with plain stores, no locked
//! instruction, until another thread takes the bias back.
//!
//! # Why
//!
//! Even uncontended, the lock's CAS is a locked instruction: 8.7-8.9 ns a
//! lock here in a tight loop, against 1.0-1.4 ns for plain stores. A
//! pingpong on one event loop takes three per message, and with them
//! replaced by plain stores (unsound, as an experiment) it ran 16-32%
//! faster. A channel used by one thread only (the common case on an event
//! loop, where every unit runs on the loop's thread) needs no exclusion
//! from other threads, so the lock *biases* itself to that thread, as the
//! JVM once did for monitors.
//!
//! # Protocol
//!
//! - `owner` is [`UNBIASED`], [`REVOKED`], or the owner thread's [`token`]
//!   (the address of a thread-local). It changes only under the CAS lock:
//!   the CAS holder sets its own token after [`BIAS_AFTER`] acquisitions
//!   in a row by the same thread (`last`, `streak`, also touched only
//!   under the CAS lock), and a CAS holder that finds another thread's
//!   token revokes it. A revoked lock stays a CAS lock for good, so a
//!   channel shared between threads pays for one revocation at most.
//! - **Owner's lock** ([`Bias::try_lock`]): `held = true` (a plain store),
//!   a compiler fence, then a plain load of `revoke`; false: the lock is
//!   held. True: `held = false`, and the CAS path. **Owner's unlock**:
//!   `held = false` (release).
//! - **Revocation** (under the CAS lock, in [`Bias::after_cas_lock`]):
//!   `revoke = true`, then `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`,
//!   which makes every running thread of the process execute a full fence
//!   (a descheduled one had one when it was switched out); then wait until
//!   `held` reads false (acquire); then `owner = REVOKED`.
//!
//! This is Dekker's handshake with the owner's half of the fence moved to
//! the revoker (an *asymmetric* fence, as in userspace RCU): either the
//! owner's `held = true` is visible once the barrier returns, and the
//! revoker waits for its unlock, or the barrier came first, and the
//! owner's load of `revoke` sees true and backs off. Data written under
//! the bias reaches the revoker through `held`'s release and acquire, and
//! the revoker's reaches the owner through the CAS lock, which the owner
//! takes from then on.
//!
//! A barrier costs 100-150 ns here. The process must register for it
//! once: 2-4 µs while it has one thread, but with more the registration
//! waits for an RCU grace period (10-15 ms here), so no channel operation
//! registers; a runtime's `build` does ([`prepare`]), before it starts
//! threads of its own. Until then, and always without `membarrier` (not
//! Linux, or refused), no lock biases. A first version registered from
//! the first lock that would bias, and lost the whole gain to that wait
//! inside the lab's short runs.
//!
//! The `mprotect` trick (taking a permission from a page makes the kernel
//! interrupt every CPU running the process to flush its TLB) was measured
//! too, 4-6 µs a barrier and no registration, and rejected: it fences only
//! where TLB shootdowns are interrupts, and recent Linux kernels can use
//! AMD's broadcast invalidation (`INVLPGB`) instead, which interrupts
//! nobody.
//!
//! # Checks
//!
//! The loom models below run this code with the asymmetric fence made
//! symmetric (a `SeqCst` fence on both sides: loom has no `membarrier`),
//! so they check the protocol (flags, the wait, the hand-over of the
//! data) in every interleaving, and the argument above covers the
//! asymmetry. Each of three breakages fails both models: an owner that
//! ignores `revoke`, a revoker that does not wait for `held`, and a
//! revoker without its fence. The stress tests in `chan/lock.rs` run the
//! real thing on real threads: they catch the first two; the third
//! leaves a window of a few instructions, which they do not reach.

// Under loom the channels use loom's `Mutex`; only the models use this.
#![cfg_attr(loom, allow(dead_code))]

use crate::loom::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

/// `owner`: not biased yet.
pub(crate) const UNBIASED: usize = 0;
/// `owner`: biased once and revoked; a CAS lock from now on.
pub(crate) const REVOKED: usize = 1;
/// Acquisitions in a row by one thread before the lock biases to it.
/// Low, because a wrong guess is cheap: it costs one revocation (a
/// `membarrier`, 100-150 ns here) once per lock at most. With 1,024 the
/// lab's ring (1,000 channels, a few hundred locks each in a short run)
/// never biased; with 64 its `async-loop` went from 107 to 91 ns a hop.
pub(crate) const BIAS_AFTER: u32 = 64;

/// One lock's bias (see the module docs).
pub(crate) struct Bias {
    /// The owner holds the lock through its bias.
    held: AtomicBool,
    /// A revocation has begun: the owner must use the CAS lock.
    revoke: AtomicBool,
    /// [`UNBIASED`], [`REVOKED`], or the owner's token.
    owner: AtomicUsize,
    /// The last CAS holder's token, and how many acquisitions in a row it
    /// has made (both only under the CAS lock).
    last: AtomicUsize,
    streak: AtomicU32,
}

impl Bias {
    pub(crate) fn new() -> Bias {
        Bias {
            held: AtomicBool::new(false),
            revoke: AtomicBool::new(false),
            owner: AtomicUsize::new(UNBIASED),
            last: AtomicUsize::new(0),
            streak: AtomicU32::new(0),
        }
    }

    /// The owner's lock: true if this thread holds the lock now, through
    /// the bias; false: take the CAS lock, then call
    /// [`after_cas_lock`](Self::after_cas_lock). The thread's token is read
    /// only if the lock is biased to somebody.
    #[inline]
    pub(crate) fn try_lock(&self) -> bool {
        let owner = self.owner.load(Ordering::Relaxed);
        if owner <= REVOKED || owner != token() {
            return false;
        }
        self.held.store(true, Ordering::Relaxed);
        owner_fence();
        if !self.revoke.load(Ordering::Relaxed) {
            return true;
        }
        self.held.store(false, Ordering::Release);
        false
    }

    /// The owner's unlock.
    #[inline]
    pub(crate) fn unlock(&self) {
        self.held.store(false, Ordering::Release);
    }

    /// Called with the CAS lock held: revokes another thread's bias, or
    /// counts this acquisition toward this thread's.
    #[inline]
    pub(crate) fn after_cas_lock(&self) {
        match self.owner.load(Ordering::Relaxed) {
            REVOKED => {}
            UNBIASED => self.count(),
            // Another thread's: ours would have taken `try_lock`, unless a
            // revocation is under way, which only a CAS holder runs.
            _ => self.revoke(),
        }
    }

    #[inline(never)]
    fn count(&self) {
        let me = token();
        if self.last.load(Ordering::Relaxed) != me {
            self.last.store(me, Ordering::Relaxed);
            self.streak.store(1, Ordering::Relaxed);
            return;
        }
        let streak = self.streak.load(Ordering::Relaxed) + 1;
        self.streak.store(streak, Ordering::Relaxed);
        if streak >= BIAS_AFTER && available() {
            self.owner.store(me, Ordering::Relaxed);
        }
    }

    #[cold]
    #[inline(never)]
    fn revoke(&self) {
        self.revoke.store(true, Ordering::Relaxed);
        fence_all();
        let mut round = 0u32;
        // The owner's critical section never blocks, but its thread may
        // be preempted in it.
        while self.held.load(Ordering::Acquire) {
            round += 1;
            // (Under loom every round yields, or the model spins forever.)
            if round < 100 && !cfg!(loom) {
                std::hint::spin_loop();
            } else {
                crate::loom::thread::yield_now();
            }
        }
        self.owner.store(REVOKED, Ordering::Relaxed);
    }

    /// The owner's token, or [`UNBIASED`] or [`REVOKED`] (tests).
    #[cfg(test)]
    pub(crate) fn owner(&self) -> usize {
        self.owner.load(Ordering::Relaxed)
    }
}

/// This thread's token: the address of a thread-local, never 0 or 1
/// ([`UNBIASED`], [`REVOKED`]), unique among live threads. A thread that
/// reuses a dead owner's address becomes the owner, which is sound: the
/// dead one holds nothing.
#[cfg(not(loom))]
#[inline]
pub(crate) fn token() -> usize {
    std::thread_local! {
        static TOKEN: u64 = const { 0 };
    }
    TOKEN.with(|t| t as *const u64 as usize)
}

/// The owner's half of the handshake: only the compiler is fenced; the
/// revoker's `membarrier` fences the CPU.
#[cfg(not(loom))]
#[inline(always)]
fn owner_fence() {
    std::sync::atomic::compiler_fence(Ordering::SeqCst);
}

/// Readies biasing: registers for `membarrier`. A runtime's `build` calls
/// it before it starts threads of its own.
#[cfg(not(loom))]
pub(crate) fn prepare() {
    membarrier::register();
}

#[cfg(not(loom))]
pub(crate) use membarrier::{available, fence_all};

/// The asymmetric fence (module docs).
#[cfg(not(loom))]
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
    pub(crate) fn available() -> bool {
        STATE.load(Ordering::Acquire) == READY
    }

    /// Registers the process for [`fence_all`], once (later calls return
    /// at once). It takes 2-4 µs while the process has one thread, and
    /// otherwise waits for an RCU grace period (10-15 ms here), so no
    /// channel operation calls it (module docs).
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
        // SAFETY: the membarrier system call takes integers and touches
        // no memory of ours.
        unsafe { libc::syscall(libc::SYS_membarrier, CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0 }
    }

    #[cfg(not(target_os = "linux"))]
    fn register_process() -> bool {
        false
    }

    /// Makes every running thread of this process execute a full memory
    /// fence before it returns. Called only once [`available`] said yes (a
    /// lock biases only then). A refusal means the registration is gone
    /// (a child after `fork` may not inherit it): register again and
    /// retry; if that fails too, no owner's store could be trusted, so it
    /// aborts with a message.
    pub(crate) fn fence_all() {
        #[cfg(target_os = "linux")]
        {
            // SAFETY: as in `register_process`.
            let fence =
                || unsafe { libc::syscall(libc::SYS_membarrier, CMD_PRIVATE_EXPEDITED, 0, 0) == 0 };
            let fenced = fence() || (register_process() && fence());
            if !fenced {
                eprintln!("motet::chan: membarrier refused after registration; aborting");
                std::process::abort();
            }
        }
    }
}

// Under loom: the asymmetric fence is made symmetric (module docs), and
// tokens are the model's thread numbers, set by the model.
#[cfg(loom)]
loom::thread_local! {
    static LOOM_TOKEN: std::cell::Cell<usize> = std::cell::Cell::new(0);
}

#[cfg(loom)]
pub(crate) fn token() -> usize {
    LOOM_TOKEN.with(|t| t.get())
}

#[cfg(loom)]
fn owner_fence() {
    crate::loom::atomic::fence(Ordering::SeqCst);
}

#[cfg(loom)]
pub(crate) fn available() -> bool {
    true
}

#[cfg(loom)]
pub(crate) fn fence_all() {
    crate::loom::atomic::fence(Ordering::SeqCst);
}

#[cfg(loom)]
pub(crate) fn prepare() {}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::cell::UnsafeCell;
    use loom::sync::Arc;
    use loom::thread;

    /// A CAS lock with a bias, as `chan/lock.rs` builds one, over a
    /// counter in a loom cell (which reports any two accesses that the
    /// lock fails to order).
    struct Model {
        cas: AtomicBool,
        bias: Bias,
        count: UnsafeCell<u32>,
    }

    impl Model {
        fn new() -> Model {
            Model {
                cas: AtomicBool::new(false),
                bias: Bias::new(),
                count: UnsafeCell::new(0),
            }
        }

        fn section(&self, me: usize) {
            LOOM_TOKEN.with(|t| t.set(me));
            let biased = self.bias.try_lock();
            if !biased {
                while self
                    .cas
                    .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                    .is_err()
                {
                    thread::yield_now();
                }
                self.bias.after_cas_lock();
            }
            // SAFETY (of the model): the lock under test is what makes
            // this exclusive; loom reports it if it is not.
            self.count.with_mut(|c| unsafe { *c += 1 });
            if biased {
                self.bias.unlock();
            } else {
                self.cas.store(false, Ordering::Release);
            }
        }
    }

    /// Thread 2 owns the bias and takes the lock twice; thread 3 takes it
    /// once, revoking the bias at any point of the owner's sections.
    #[test]
    fn a_revocation_racing_the_owner_keeps_exclusion() {
        loom::model(|| {
            let m = Arc::new(Model::new());
            m.bias.owner.store(2, Ordering::Relaxed);
            let m2 = m.clone();
            let other = thread::spawn(move || m2.section(3));
            m.section(2);
            m.section(2);
            other.join().unwrap();
            assert_eq!(m.bias.owner(), REVOKED);
            assert_eq!(m.count.with(|c| unsafe { *c }), 3);
        });
    }

    /// A lock biases after `BIAS_AFTER` acquisitions by one thread (made
    /// short here by starting the streak near its end), then another
    /// thread's acquisition revokes it, whichever comes first.
    #[test]
    fn biasing_and_revoking_race_safely() {
        loom::model(|| {
            let m = Arc::new(Model::new());
            m.bias.last.store(2, Ordering::Relaxed);
            m.bias.streak.store(BIAS_AFTER - 2, Ordering::Relaxed);
            let m2 = m.clone();
            let other = thread::spawn(move || m2.section(3));
            for _ in 0..3 {
                m.section(2);
            }
            other.join().unwrap();
            assert_eq!(m.count.with(|c| unsafe { *c }), 4);
        });
    }
}
