//! A bias to one thread: a word that one thread updates again and again
//! (a channel's lock, a task cell's state) is updated by that thread with
//! plain loads and stores, no locked instruction, until another thread
//! takes the bias back.
//!
//! # Why
//!
//! Even uncontended, a locked read-modify-write costs 8.7-8.9 ns here in a
//! tight loop, and more right after a coroutine switch, with stores
//! pending; plain stores cost 1.0-1.4 ns. On an event loop every unit runs
//! on the loop's thread, so the words it touches need no exclusion from
//! other threads, only a way to get it back when another thread comes.
//! The JVM once biased its monitors the same way.
//!
//! - **Channel locks** (`chan/lock.rs`, through [`LockBias`]) bias to a
//!   thread after [`BIAS_AFTER`] acquisitions in a row by it, counted
//!   under the CAS lock. A pingpong on one event loop takes three locks a
//!   message; with them biased it ran 16-32% faster.
//! - **Task cells** (`task/cell.rs`) are biased when they are made, to the
//!   thread that will run them for good (an event loop's), and are never
//!   biased again once revoked. A round trip of a pingpong made six
//!   read-modify-writes of cell states (two waker clones, two wake-ups, two
//!   ends of polls); with them biased it runs about a quarter faster. A
//!   wake-up from another thread does not revoke a cell's bias: it travels
//!   to the owner as a message (`task/cell.rs`).
//!
//! # Protocol
//!
//! - `owner` is [`UNBIASED`], [`REVOKED`], or the owner thread's [`token`]
//!   (the address of a thread-local). A bias is set only while no other
//!   thread can touch the word (a lock's CAS holder biases the lock; a
//!   cell is biased before anyone else can see it), and once revoked it
//!   stays revoked, so a word shared between threads pays for one
//!   revocation at most.
//! - **Owner's section** ([`Bias::enter`]): `held = true` (a plain store),
//!   a compiler fence, then a plain load of `revoke`; false: the owner may
//!   update the word with plain loads and stores, then
//!   [`exit`](Bias::exit)s: `held = false` (release). True: `held =
//!   false`, and the shared path.
//! - **Shared path**: the word's own locked instructions (the CAS lock, a
//!   `fetch_update` of the cell state), once the bias is revoked. A thread
//!   other than the owner first revokes the bias if there is one (in
//!   [`Bias::run`] for a cell, in [`LockBias::after_cas_lock`] for a lock's
//!   CAS holder). The owner itself, turned away by a revocation, needs no
//!   wait: it writes plain stores only in its sections.
//! - **Revocation** ([`Bias::revoke`]): the first thread to raise `revoke`
//!   calls `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`, which makes
//!   every running thread of the process execute a full fence (a
//!   descheduled one had one when it was switched out), then waits until
//!   `held` reads false (acquire), then stores `owner = REVOKED` (release).
//!   Any other thread that finds `revoke` raised waits for `REVOKED`
//!   (acquire) before it uses the shared path.
//!
//! This is Dekker's handshake with the owner's half of the fence moved to
//! the revoker (an *asymmetric* fence, as in userspace RCU): either the
//! owner's `held = true` is visible once the barrier returns, and the
//! revoker waits for its exit, or the barrier came first, and the owner's
//! load of `revoke` sees true and backs off. What the owner wrote under the
//! bias reaches the shared path through `held`'s release and acquire (and
//! `owner`'s, for the threads that waited for the revoker), and what the
//! shared path writes reaches the owner through the locked instructions,
//! which the owner uses from then on.
//!
//! A barrier costs 100-150 ns here, and it interrupts every CPU that runs
//! a thread of the process; this is why a revoked word is never biased
//! again. The process must register for it once: 2-4 µs while it has one
//! thread, but with more the registration waits for an RCU grace period
//! (10-15 ms here), so nothing registers on the way: a runtime's `build`
//! does ([`prepare`]), before it starts threads of its own. Until then, and
//! always without `membarrier` (not Linux, or refused), nothing biases. A
//! first version registered from the first lock that would bias, and lost
//! the whole gain to that wait inside the lab's short runs.
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
//! asymmetry. Two model the channel lock, one [`Bias::run`] as a task
//! cell uses it, and the task cell's own models (`task/cell/loom_tests.rs`)
//! run each of its races again with the cell biased to the polling thread.
//! Each of four breakages fails models of both kinds: an owner that
//! ignores `revoke`, a revoker that does not wait for `held`, a revoker
//! without its fence, and a non-owner in [`Bias::run`] that does not
//! revoke. The stress tests
//! in `chan/lock.rs` and `task/cell/tests.rs` run the real thing on real
//! threads (the cell's with two revokers at once), and have caught each
//! of the four breakages in at least one run, but only by chance.

// Under loom the channels use loom's `Mutex`: only the models use the
// lock's half.
#![cfg_attr(loom, allow(dead_code))]

use crate::loom::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

/// `owner`: not biased (yet, for a lock).
pub(crate) const UNBIASED: usize = 0;
/// `owner`: biased once and revoked; the shared path from now on.
pub(crate) const REVOKED: usize = 1;
/// Acquisitions in a row by one thread before a lock biases to it.
/// Low, because a wrong guess is cheap: it costs one revocation (a
/// `membarrier`, 100-150 ns here) once per lock at most. With 1,024 the
/// lab's ring (1,000 channels, a few hundred locks each in a short run)
/// never biased; with 64 its `async-loop` went from 107 to 91 ns a hop.
pub(crate) const BIAS_AFTER: u32 = 64;

/// A word's bias to one thread (see the module docs).
pub(crate) struct Bias {
    /// The owner is in a section.
    held: AtomicBool,
    /// A revocation has begun: the owner must use the shared path.
    revoke: AtomicBool,
    /// [`UNBIASED`], [`REVOKED`], or the owner's token.
    owner: AtomicUsize,
}

impl Bias {
    /// A bias to `owner`: a thread's [`token`], or [`UNBIASED`]. Biasing
    /// needs [`available`]; without it, this is [`UNBIASED`].
    pub(crate) fn new(owner: usize) -> Bias {
        let owner = if owner > REVOKED && available() {
            owner
        } else {
            UNBIASED
        };
        Bias {
            held: AtomicBool::new(false),
            revoke: AtomicBool::new(false),
            owner: AtomicUsize::new(owner),
        }
    }

    /// For a word whose every update may use either path (a task cell's
    /// state): runs `plain`, the update as plain loads and stores, in an
    /// owner's section if this thread holds the bias, and returns what it
    /// returns; otherwise readies the shared path, revoking another
    /// thread's bias, and returns `None`. An unbiased or revoked word costs
    /// one load here. `plain` must not panic (a revoker would wait for its
    /// section forever).
    #[inline]
    pub(crate) fn run<R>(&self, plain: impl FnOnce() -> R) -> Option<R> {
        // Acquire: a revocation seen here is complete. The owner's case
        // first: a token is never UNBIASED or REVOKED, so one comparison
        // decides it.
        let owner = self.owner.load(Ordering::Acquire);
        if owner == token() {
            return self.section(plain);
        }
        if owner > REVOKED {
            self.revoke();
        }
        None
    }

    /// Runs `plain` in an owner's section if this thread holds the bias
    /// (and no revocation has begun); `None` otherwise, having done
    /// nothing: unlike [`run`](Self::run), it never revokes. `plain` must
    /// not panic.
    #[inline]
    pub(crate) fn run_if_owner<R>(&self, plain: impl FnOnce() -> R) -> Option<R> {
        if self.owner.load(Ordering::Relaxed) == token() {
            return self.section(plain);
        }
        None
    }

    /// An owner's section around `plain`, for a thread that has read its
    /// own token in `owner`; `None` if a revocation has begun.
    #[inline(always)]
    fn section<R>(&self, plain: impl FnOnce() -> R) -> Option<R> {
        if !self.enter_as_owner() {
            return None;
        }
        let r = plain();
        self.exit();
        Some(r)
    }

    /// Begins an owner's section: true if this thread owns the bias and no
    /// revocation has begun; it updates the word with plain loads and
    /// stores and then calls [`exit`](Self::exit). False: the shared path.
    /// (A token is never [`UNBIASED`] or [`REVOKED`], so one comparison
    /// decides.)
    #[inline]
    pub(crate) fn enter(&self) -> bool {
        self.owner.load(Ordering::Relaxed) == token() && self.enter_as_owner()
    }

    /// [`enter`](Self::enter) for a thread that has read its own token in
    /// `owner`: the handshake with a revoker.
    #[inline]
    fn enter_as_owner(&self) -> bool {
        self.held.store(true, Ordering::Relaxed);
        owner_fence();
        if !self.revoke.load(Ordering::Relaxed) {
            return true;
        }
        self.held.store(false, Ordering::Release);
        false
    }

    /// Ends an owner's section.
    #[inline]
    pub(crate) fn exit(&self) {
        self.held.store(false, Ordering::Release);
    }

    /// Whether the word is biased to a thread other than this one. A hint
    /// (the answer may be stale by the time it is used): a task cell uses
    /// it to send a wake-up to its owner instead of revoking the bias.
    #[inline]
    pub(crate) fn is_elsewhere(&self) -> bool {
        let owner = self.owner.load(Ordering::Relaxed);
        owner != token() && owner > REVOKED
    }

    /// Takes the bias back from its owner, for good. Called by threads
    /// other than the owner; of several at once, one revokes and the others
    /// wait until it is done.
    #[cold]
    #[inline(never)]
    pub(crate) fn revoke(&self) {
        if self.revoke.swap(true, Ordering::Relaxed) {
            spin_until(|| self.owner.load(Ordering::Acquire) == REVOKED);
            return;
        }
        fence_all();
        // The owner's section never blocks, but its thread may be
        // preempted in it.
        spin_until(|| !self.held.load(Ordering::Acquire));
        self.owner.store(REVOKED, Ordering::Release);
    }

    /// The owner's token, or [`UNBIASED`] or [`REVOKED`].
    pub(crate) fn owner(&self) -> usize {
        self.owner.load(Ordering::Relaxed)
    }
}

/// Spins, then yields, until `done`. (Under loom every round yields, or
/// the model spins forever.)
fn spin_until(done: impl Fn() -> bool) {
    let mut round = 0u32;
    while !done() {
        round += 1;
        if round < 100 && !cfg!(loom) {
            std::hint::spin_loop();
        } else {
            crate::loom::thread::yield_now();
        }
    }
}

/// A channel lock's bias: a [`Bias`] that the lock's CAS holder sets after
/// [`BIAS_AFTER`] acquisitions in a row by one thread.
pub(crate) struct LockBias {
    bias: Bias,
    /// The last CAS holder's token, and how many acquisitions in a row it
    /// has made (both only under the CAS lock).
    last: AtomicUsize,
    streak: AtomicU32,
}

impl LockBias {
    pub(crate) fn new() -> LockBias {
        LockBias {
            bias: Bias::new(UNBIASED),
            last: AtomicUsize::new(0),
            streak: AtomicU32::new(0),
        }
    }

    /// The owner's lock: true if this thread holds the lock now, through
    /// the bias; false: take the CAS lock, then call
    /// [`after_cas_lock`](Self::after_cas_lock).
    #[inline]
    pub(crate) fn try_lock(&self) -> bool {
        self.bias.enter()
    }

    /// The owner's unlock.
    #[inline]
    pub(crate) fn unlock(&self) {
        self.bias.exit();
    }

    /// Called with the CAS lock held: revokes another thread's bias, or
    /// counts this acquisition toward this thread's.
    #[inline]
    pub(crate) fn after_cas_lock(&self) {
        match self.bias.owner() {
            REVOKED => {}
            UNBIASED => self.count(),
            // Another thread's: ours would have taken `try_lock`, unless a
            // revocation is under way, which only a CAS holder runs.
            _ => self.bias.revoke(),
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
            // Under the CAS lock, which every other thread takes first.
            self.bias.owner.store(me, Ordering::Relaxed);
        }
    }

    /// The owner's token, or [`UNBIASED`] or [`REVOKED`] (tests).
    #[cfg(test)]
    pub(crate) fn owner(&self) -> usize {
        self.bias.owner()
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

/// Whether biases work here, registering as a runtime would; prints why a
/// test is skipped when they do not.
#[cfg(all(test, not(loom)))]
pub(crate) fn available_for_tests() -> bool {
    prepare();
    let ok = available();
    if !ok {
        eprintln!("skipped: no membarrier here, so nothing biases");
    }
    ok
}

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
                eprintln!("motet: membarrier refused after registration; aborting");
                std::process::abort();
            }
        }
    }
}

// Under loom: the asymmetric fence is made symmetric (module docs), and
// tokens are the model's thread numbers, set by the model; until then each
// model thread has a token of its own, never 0 or 1 (as a real one), from a
// counter outside the model.
#[cfg(loom)]
loom::thread_local! {
    static LOOM_TOKEN: std::cell::Cell<usize> = std::cell::Cell::new(
        LOOM_UNSET.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
    );
}

#[cfg(loom)]
static LOOM_UNSET: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1 << 16);

#[cfg(loom)]
pub(crate) fn token() -> usize {
    LOOM_TOKEN.with(|t| t.get())
}

/// Under loom: sets this model thread's token.
#[cfg(loom)]
pub(crate) fn set_token(token: usize) {
    LOOM_TOKEN.with(|t| t.set(token));
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
        bias: LockBias,
        count: UnsafeCell<u32>,
    }

    impl Model {
        fn new() -> Model {
            Model {
                cas: AtomicBool::new(false),
                bias: LockBias::new(),
                count: UnsafeCell::new(0),
            }
        }

        fn section(&self, me: usize) {
            set_token(me);
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
            m.bias.bias.owner.store(2, Ordering::Relaxed);
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

    /// A counter biased to thread 2, as a task cell's state is: the owner
    /// adds with a plain load and store in its sections, and another thread
    /// revokes and adds with `fetch_add` (through [`Bias::run`]). No addition is
    /// lost. (Two revokers at once make a model that loom cannot finish:
    /// both spin, and loom may alternate between them forever while the
    /// owner waits preempted in its section. The stress test in
    /// `task/cell/tests.rs` runs two on real threads.)
    #[test]
    fn a_shared_update_racing_the_owners_sections_is_not_lost() {
        loom::model(|| {
            set_token(2);
            let bias = Arc::new((Bias::new(2), AtomicUsize::new(0)));
            let add = |(bias, n): &(Bias, AtomicUsize)| {
                let plain = || n.store(n.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
                if bias.run(plain).is_none() {
                    n.fetch_add(1, Ordering::Relaxed);
                }
            };
            let b = bias.clone();
            let other = thread::spawn(move || {
                set_token(3);
                add(&b);
            });
            add(&bias);
            add(&bias);
            other.join().unwrap();
            assert_eq!(bias.1.load(Ordering::Relaxed), 3);
            assert_eq!(bias.0.owner(), REVOKED);
        });
    }
}
