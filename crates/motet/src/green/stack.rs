//! Green-thread stacks: a pool of guard-paged slots, committed on touch,
//! and the handler that names a green thread that overflows its stack.
//!
//! # Glossary
//!
//! - **slot**: one stack's address range, `[guard page][usable bytes]
//!   [colour page]`, lowest address first. The stack grows down from its
//!   *base* (corosensei's word), a little below the slot's top (its colour,
//!   below), towards the guard page (its *limit*).
//! - **chunk**: one `mmap` holding many slots side by side ([`CHUNK_BYTES`]
//!   of address space). Slots are carved from the newest chunk of their
//!   size class; a chunk is never unmapped.
//! - **size class**: the usable size, rounded up to whole pages. Each class
//!   has its own free lists, so a slot is only ever reused at its own size.
//! - **warm / cold**: a free slot whose pages are still resident from its
//!   last use is warm; one whose pages were handed back to the kernel with
//!   `MADV_DONTNEED` is cold.
//!
//! # Design
//!
//! A chunk is mapped `PROT_READ | PROT_WRITE` with `MAP_NORESERVE` (no swap
//! accounting: a million 256 KiB stacks reserve 256 GiB of *address space*
//! and commit only what they touch) and `MAP_STACK`, plus
//! `MADV_NOHUGEPAGE`, so that a stack touching its top page commits 4 KiB
//! and never a 2 MiB transparent huge page. Nothing is pre-touched: a fresh
//! slot costs no memory until its green thread runs, and an idle green
//! thread costs the pages its stack reached, one or two for the usual
//! shallow "wait on a socket" frame.
//!
//! **Colour.** Each slot's stack starts [`COLOR_STEP`] times its colour
//! bytes below the slot's top, the colour being the slot's index modulo
//! [`COLORS`], so that up to 1,984 bytes of its top page go unused. A
//! stack's hot lines (the frames a suspended green thread resumes into)
//! sit a few hundred bytes below its start; without colours they sat at
//! the same offsets in every slot's top page, so in the same few sets of
//! the L1 cache, which indexes by those offsets alone (the L2 by them and
//! a few bits of the physical page), and a thousand green threads taking
//! turns evicted each other's frames from a few sets while the rest of
//! the cache stood idle. With colours they spread over 32 line offsets
//! (the lab's ring of 1,000 green threads: 203-259 -> 168-217 ns per hop
//! on `green-loop`, BENCHMARKS.md). The
//! colour page keeps the usable size whole; it is address space, and its
//! memory is what the stack touches, as before. A slot spans an odd number
//! of pages (67 for the default size, with the colour page; one more
//! page when the count would be even): the TLB's sets index by page
//! number, and with an even stride the slots' top pages used only half of
//! them (66-page slots: the ring 8-10% slower than 67). The price: a
//! stack's top page holds 2,112 to 4,096 bytes of frames instead of
//! 4,096, so a green thread whose stack reaches past that commits its
//! second page sooner (skynet's peak resident memory: +2.4%).
//!
//! Each slot's lowest page is a guard. On Linux 6.13 and later it is made
//! with `madvise(MADV_GUARD_INSTALL)`, which marks the page table entries
//! so that any touch faults *without* splitting the mapping: a whole chunk
//! stays one memory map (one "VMA"), and the default `vm.max_map_count`
//! of 65,530 is no limit on live green threads (measured on Linux 6.18:
//! 1,000,000 live green threads on 16 KiB stacks added 5 memory maps to the
//! process, since adjacent chunks merge; 4.4 KiB resident each, stack page
//! and task included). On older kernels `madvise`
//! answers `EINVAL` and the guard is made with `mprotect(PROT_NONE)`
//! instead, which splits the mapping: two maps per slot, so about 32,000
//! stacks under the default map limit. Running out is an `io::Error` to the
//! spawner naming `vm.max_map_count`, never an abort.
//!
//! A thread keeps up to four free slots back from the pool ([`LOCAL_SLOTS`]),
//! so a green thread that starts and ends on one worker without blocking
//! (skynet's leaves) touches no shared lock: skynet `green` 689-693 ->
//! 651-654 ms in three alternating rounds.
//!
//! Guards are installed when a chunk is mapped, every slot's at once: one
//! `process_madvise(MADV_GUARD_INSTALL)` takes up to 1,024 pages, so a
//! chunk costs one or two system calls instead of one per slot (falls back
//! to a `madvise` per slot, then to `mprotect`). The kernel's work stays
//! per guard: 0.23-0.3 µs a slot on this VM (BENCHMARKS.md, eighteenth
//! session), which every green thread on a fresh slot pays beside its
//! page fault. `process_madvise` names
//! this process with `PIDFD_SELF_THREAD_GROUP` (Linux 6.14+; before it, a
//! pidfd opened for the call: three more system calls). A chunk is mapped
//! with the pool's lock released: mapping it and installing its guards
//! takes tens of microseconds, and while a spawner held the lock through
//! it, the other workers, starting green threads of their own, slept on
//! the lock and had to be woken (spawn-idle on `green`: 1,950-2,930
//! `futex` calls a run, 450-710 without; spawn 1,868 -> 1,693 ns per
//! green thread as medians of 20 alternating runs). Two threads that find
//! the pool empty at once map a chunk each; the older chunk's untouched
//! slots go onto the cold list.
//!
//! Freed slots go onto their class's free lists (LIFO, so the most
//! recently used, most likely cached, slot is reused first). A class keeps
//! free slots warm while there are fewer than twice what is worth keeping:
//! [`WARM_LIMIT`], or half as many as are in use, whichever is more. So
//! during a burst (many green threads live at once) a freed stack stays
//! resident for the next green thread to start: handing its pages back and
//! faulting them in again would cost two trips through the kernel per
//! green thread and lower no peak. When the warm list outgrows that, its
//! oldest slots are trimmed with `MADV_DONTNEED` (the guard survives it;
//! `tests/green_overflow.rs` overflows a trimmed, reused stack) down to
//! what is worth keeping, one range per run of adjacent slots, and go onto
//! the cold list, reused only when no warm one is left. The ranges go to
//! the kernel up to 1,024 per `process_madvise` call, which flushes the
//! TLBs once per call on a recent kernel (measured on 6.18), where a
//! `madvise` per range interrupted every other core running the process
//! once per range. On a work-stealing runtime slots come back out of
//! order and a trim made thousands of ranges: spawn-idle on `green` spent
//! 42% of its time in those interrupts (0.1% with the batches), and
//! skynet `green` made 13,483 `madvise` calls (now 207 `process_madvise`
//! calls); spawn-idle's whole run went from 7.1-9.5 to 3.4-3.8 µs per
//! green thread, skynet `green` from 482 to 412 ms. Each trim releases
//! at least `WARM_LIMIT` slots, so its system calls are amortized over as
//! many frees, and after a burst the pool keeps at most `2 * WARM_LIMIT`
//! free stacks resident. A steady spawn/exit churn never makes a system
//! call. Skynet on the event loop (1.1 million green threads, 111,111 of
//! them waiting at once) made 222,106 `madvise` calls before these two
//! changes (a guard per slot, a trim per free past 1,024 warm) and makes
//! 930 `madvise` and 882 `process_madvise` calls after (`strace -c`).
//!
//! Measured (release, `examples/green_numbers.rs`): spawn, run and join of
//! one green thread on a warm pooled stack, about 250 ns (an async task:
//! 150 ns). A green thread that starts on a fresh slot pays a first-touch
//! page fault for its top page (about 2 µs on this VM).
//!
//! # Stack overflow
//!
//! Touching a guard page raises `SIGSEGV`. A handler installed once (with
//! `SA_ONSTACK`: the faulting stack is exhausted, so the handler runs on
//! the thread's alternate signal stack, which [`ensure_altstack`] provides
//! on every thread that resumes a green thread) compares the fault address
//! with the guard of the green thread running on this thread (published in
//! a thread-local by the coroutine boundary around each resume). If it
//! matches, it writes "green thread 'name' (task N) overflowed its stack of
//! S bytes" to stderr with `write(2)` (async-signal-safe, no allocation)
//! and aborts. Any other fault is handed to the handler that was installed
//! before (std's, which reports overflows of OS thread stacks), or to the
//! default action.
//!
//! # Rejected alternatives
//!
//! - *One `mmap` per stack*: about 9 µs per spawn measured here, and with an
//!   `mprotect` guard two maps per stack.
//! - *Pre-touching or `MAP_POPULATE`*: commits the whole reserved size per
//!   green thread; the point is to pay only for what is touched.
//! - *Segmented or copied (growable) stacks, as Go has*: need compiler
//!   support (Go moves stacks and rewrites pointers into them); with Rust's
//!   references into the stack, a fixed reservation committed on touch is
//!   the only sound option.
//! - *`MADV_DONTNEED` on every free past a fixed warm bound* (the first
//!   version): a system call and a TLB shootdown per exit, and the next
//!   start on that slot page-faults its frames back in; in skynet that
//!   was a quarter of the run.
//!
//! All of the green-thread unsafe code outside the coroutine boundary is in
//! this file.

use std::cell::RefCell;
use std::ffi::c_void;
use std::io;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Mutex, Once};

use corosensei::stack::{Stack, StackPointer};

/// `madvise` advice that installs guard markers on a range (Linux 6.13+).
///
/// libc 0.2.191 does not have it yet; the value is the kernel's, from
/// `include/uapi/asm-generic/mman-common.h` (`#define MADV_GUARD_INSTALL
/// 102`), which every architecture shares. A kernel without it answers
/// `EINVAL`, and the pool falls back to `mprotect`. The overflow test
/// (`tests/green_overflow.rs`) checks that the guard really faults.
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// Address space per chunk: 32 MiB, i.e. 126 slots of 256 KiB. Large
/// enough that a million green threads need fewer than 10,000 maps even
/// with no merging, small enough that a program with ten green threads
/// reserves little.
const CHUNK_BYTES: usize = 32 << 20;

/// Free slots per size class always allowed to stay resident for cheap
/// reuse (more while many are in use: see [`Class::trim`]). Worst case it
/// keeps `WARM_LIMIT` deep stacks resident (256 MiB at 256 KiB each, if
/// every one was used to the bottom); typically a few pages each, about
/// 8 MiB.
const WARM_LIMIT: usize = 1024;

/// At most this many ranges per `process_madvise` call (the kernel's
/// `UIO_MAXIOV`).
const MAX_IOV: usize = 1024;

/// The system page size.
pub(crate) fn page_size() -> usize {
    static PAGE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *PAGE.get_or_init(|| {
        // SAFETY: sysconf has no preconditions.
        let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(p)
            .ok()
            .filter(|p| p.is_power_of_two())
            .unwrap_or(4096)
    })
}

/// The cache colours of stacks, and the step between two colours'
/// starting points (a cache line): see "Colour" in the module docs.
const COLORS: usize = 32;
const COLOR_STEP: usize = 64;

/// The address range of a slot of `size` usable bytes: its guard page,
/// the usable bytes and its colour page, rounded up to an odd number of
/// pages (see "Colour" in the module docs).
fn slot_len(size: usize) -> usize {
    let page = page_size();
    let pages = size / page + 2;
    (pages | 1) * page
}

/// Where the stack of the slot at `bottom`, of `size` usable bytes, starts:
/// its colour's steps below the slot's top.
fn stack_top(bottom: usize, size: usize) -> usize {
    let slot = slot_len(size);
    let color = (bottom / slot) % COLORS;
    bottom + slot - color * COLOR_STEP
}

/// Rounds a requested usable size to whole pages (at least corosensei's
/// minimum).
pub(crate) fn round_size(size: usize) -> usize {
    let page = page_size();
    let size = size.max(corosensei::stack::MIN_STACK_SIZE);
    size.checked_add(page - 1)
        .map(|s| s & !(page - 1))
        .unwrap_or(usize::MAX & !(page - 1))
}

/// How guard pages are made in this process (decided at the first chunk).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
enum GuardKind {
    Unknown,
    /// `madvise(MADV_GUARD_INSTALL)`: no mapping split.
    Madvise,
    /// `mprotect(PROT_NONE)`: two maps per slot.
    Mprotect,
}

struct Class {
    /// Usable bytes per slot (page multiple).
    size: usize,
    /// Free slots that may hold resident pages, oldest first: reuse takes
    /// the newest (most likely cached), trimming the oldest.
    warm: Vec<usize>,
    cold: Vec<usize>,
    /// Slots handed out and not yet given back.
    in_use: usize,
    /// The unused tail of the newest chunk: `[next, end)`.
    next: usize,
    end: usize,
}

impl Class {
    /// A class with no slots yet.
    fn new(size: usize) -> Class {
        Class {
            size,
            warm: Vec::new(),
            cold: Vec::new(),
            in_use: 0,
            next: 0,
            end: 0,
        }
    }

    /// The next slot of the newest chunk's unused tail, if any is left.
    fn carve(&mut self) -> Option<usize> {
        let slot = slot_len(self.size);
        let bottom = self.next;
        if self.end.saturating_sub(bottom) < slot {
            return None;
        }
        self.next += slot;
        Some(bottom)
    }

    /// Makes the chunk at `start`, `len` bytes of this class's slots, the
    /// one new slots are carved from, and takes its first slot. What is
    /// left of the previous chunk (another thread may have mapped one
    /// while this one was mapped) becomes free slots: never touched, so
    /// cold.
    fn adopt(&mut self, start: usize, len: usize) -> usize {
        while let Some(bottom) = self.carve() {
            self.cold.push(bottom);
        }
        self.next = start;
        self.end = start + len;
        self.in_use += 1;
        self.carve().expect("a chunk holds at least one slot")
    }

    /// The oldest warm slots to hand back to the kernel now, if the warm
    /// list has grown past twice what is worth keeping.
    ///
    /// Worth keeping: [`WARM_LIMIT`] slots, or half as many as are in use,
    /// whichever is more. So during a burst (many green threads live at
    /// once) freed stacks stay warm for the next spawns: trimming one and
    /// faulting its page back in at the next start would cost two kernel
    /// round trips per green thread and save no peak memory. Once the burst
    /// is over, the excess goes back in batches of at least `WARM_LIMIT`
    /// slots, so the system calls (one per run of adjacent slots) are
    /// amortized over many frees.
    fn trim(&mut self) -> Vec<usize> {
        let keep = WARM_LIMIT.max(self.in_use / 2);
        if self.warm.len() < 2 * keep {
            return Vec::new();
        }
        let excess = self.warm.len() - keep;
        self.warm.drain(..excess).collect()
    }
}

struct Pool {
    classes: Vec<Class>,
    /// Chunks mapped so far (for stats).
    chunks: usize,
}

impl Pool {
    /// The size class of `size` usable bytes, made if it is new.
    fn class(&mut self, size: usize) -> &mut Class {
        match self.classes.iter().position(|c| c.size == size) {
            Some(i) => &mut self.classes[i],
            None => {
                self.classes.push(Class::new(size));
                self.classes.last_mut().expect("just pushed")
            }
        }
    }
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    classes: Vec::new(),
    chunks: 0,
});

/// How guards are made (`GuardKind as u8`): written under the pool's lock
/// when a chunk is mapped, read without it by spawners.
static GUARD: AtomicU8 = AtomicU8::new(GuardKind::Unknown as u8);

fn guard_kind() -> GuardKind {
    match GUARD.load(Ordering::Relaxed) {
        k if k == GuardKind::Madvise as u8 => GuardKind::Madvise,
        k if k == GuardKind::Mprotect as u8 => GuardKind::Mprotect,
        _ => GuardKind::Unknown,
    }
}

fn pool() -> std::sync::MutexGuard<'static, Pool> {
    // The pool's lists stay valid whatever panicked while holding the lock.
    POOL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Counters of the stack pool, process-wide (see
/// [`pool_stats`](super::pool_stats)).
///
/// ```
/// let stats: motet::green::PoolStats = motet::green::pool_stats();
/// assert!(stats.warm + stats.cold <= stats.chunks * 32 * 1024 * 1024 / 8192);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Chunks (mappings of 32 MiB of address space each) reserved so far.
    pub chunks: usize,
    /// Free slots whose pages are still resident.
    pub warm: usize,
    /// Free slots whose pages were returned to the kernel.
    pub cold: usize,
    /// Whether guard pages are made with `MADV_GUARD_INSTALL` (else `mprotect`).
    pub madvise_guards: bool,
}

pub(crate) fn stats() -> PoolStats {
    let p = pool();
    PoolStats {
        chunks: p.chunks,
        warm: p.classes.iter().map(|c| c.warm.len()).sum(),
        cold: p.classes.iter().map(|c| c.cold.len()).sum(),
        madvise_guards: guard_kind() == GuardKind::Madvise,
    }
}

/// Whether a spawner must take its green thread's stack at once, rather
/// than leave it to the green thread's first run.
///
/// Taking it at the first run means a green thread that waits in a run
/// queue holds no stack, so a burst of spawns reuses warm stacks instead
/// of touching fresh ones. But taking a stack can fail, and that failure
/// belongs to the spawner (an `io::Error` naming `vm.max_map_count`).
/// With `MADV_GUARD_INSTALL` guards a new chunk costs one memory map, so
/// only exhausted address space can fail it, which is as fatal as any
/// failed allocation; with `mprotect` guards every slot costs two maps and
/// running out is an ordinary, expected error. So: lazily where guards
/// are made with `madvise`, at spawn otherwise (and until the first chunk
/// has told which).
pub(crate) fn take_at_spawn() -> bool {
    guard_kind() != GuardKind::Madvise
}

/// A stack slot taken from the pool; dropping it gives the slot back.
pub(crate) struct PooledStack {
    /// Lowest address of the slot (the guard page's start).
    bottom: usize,
    /// Usable bytes above the guard.
    size: usize,
    /// The slot's top (corosensei's `base`, read at every resume).
    top: StackPointer,
}

/// Free slots a thread keeps back from the pool: most green threads run to
/// completion on the worker that started them (skynet's leaves never
/// block), so their start and end then touch no shared lock. Few, so that
/// a worker's cached slots stranded out of the other workers' reach stay
/// negligible (32 measured slower: the other worker faulted in fresh
/// stacks instead). They count as in use for the pool's trimming, and go
/// back to the pool when the thread exits.
const LOCAL_SLOTS: usize = 4;

struct Local {
    /// (size class, slot bottom), newest last.
    slots: RefCell<Vec<(usize, usize)>>,
}

impl Drop for Local {
    fn drop(&mut self) {
        for (size, bottom) in self.slots.get_mut().drain(..) {
            give_back(size, bottom);
        }
    }
}

thread_local! {
    static LOCAL: Local = const { Local { slots: RefCell::new(Vec::new()) } };
}

impl PooledStack {
    /// Takes a slot of `size` usable bytes (already rounded by
    /// [`round_size`]): one this thread kept, else from the pool, reserving
    /// a new chunk if none is free.
    pub(crate) fn take(size: usize) -> io::Result<PooledStack> {
        debug_assert_eq!(size, round_size(size));
        let kept = LOCAL.try_with(|l| {
            let mut slots = l.slots.borrow_mut();
            let i = slots.iter().rposition(|&(s, _)| s == size)?;
            Some(slots.remove(i).1)
        });
        if let Ok(Some(bottom)) = kept {
            return Ok(PooledStack::new(bottom, size));
        }
        {
            let mut p = pool();
            let class = p.class(size);
            let free = class.warm.pop().or_else(|| class.cold.pop());
            if let Some(bottom) = free.or_else(|| class.carve()) {
                class.in_use += 1;
                return Ok(PooledStack::new(bottom, size));
            }
        }
        // Every slot is taken: map a new chunk, with the lock released (the
        // mapping and its guards take tens of microseconds, while other
        // threads go on taking and giving back slots).
        let (start, len, guard) = map_chunk(slot_len(size), guard_kind())?;
        GUARD.store(guard as u8, Ordering::Relaxed);
        let mut p = pool();
        p.chunks += 1;
        let bottom = p.class(size).adopt(start, len);
        Ok(PooledStack::new(bottom, size))
    }

    fn new(bottom: usize, size: usize) -> PooledStack {
        let top = StackPointer::new(stack_top(bottom, size)).expect("stack slot at address 0");
        PooledStack { bottom, size, top }
    }

    /// The guard page's address range.
    pub(crate) fn guard(&self) -> (usize, usize) {
        (self.bottom, self.bottom + page_size())
    }

    /// Where the stack starts (its highest address, exclusive).
    pub(crate) fn top(&self) -> usize {
        self.top.get()
    }
}

impl Drop for PooledStack {
    fn drop(&mut self) {
        let (size, bottom) = (self.size, self.bottom);
        let kept = LOCAL.try_with(|l| {
            let mut slots = l.slots.borrow_mut();
            let room = slots.len() < LOCAL_SLOTS;
            if room {
                slots.push((size, bottom));
            }
            room
        });
        if kept != Ok(true) {
            give_back(size, bottom);
        }
    }
}

/// Returns a free slot to the pool's warm list, trimming the list if it
/// has grown past what is worth keeping (see [`Class::trim`]).
fn give_back(size: usize, bottom: usize) {
    let mut p = pool();
    let Some(class) = p.classes.iter_mut().find(|c| c.size == size) else {
        return; // unreachable: every slot came from a class
    };
    class.in_use -= 1;
    class.warm.push(bottom);
    let mut trimmed = class.trim();
    if trimmed.is_empty() {
        return;
    }
    // The trimmed slots are on no list now: nobody can take them while
    // the lock is released for the system calls.
    drop(p);
    let released = release(&mut trimmed, size);
    let mut p = pool();
    if let Some(class) = p.classes.iter_mut().find(|c| c.size == size) {
        // A slot whose release failed stays warm rather than be lost.
        class.warm.extend_from_slice(&trimmed[released..]);
        class.cold.extend_from_slice(&trimmed[..released]);
    }
}

/// Hands the pages of free slots back to the kernel (`MADV_DONTNEED`),
/// one range per run of adjacent slots, up to [`MAX_IOV`] ranges per
/// `process_madvise` call: one TLB flush, so one round of interrupts to
/// the other cores, per call rather than per range (the module docs have
/// the figures). Kernels that refuse the advice there (before 6.13) take
/// a `madvise` per range. Sorts `slots` and returns how many of them,
/// from the front, were released.
fn release(slots: &mut [usize], size: usize) -> usize {
    let page = page_size();
    let slot = slot_len(size);
    slots.sort_unstable();
    // One range per run of adjacent slots, from the first slot's usable
    // bytes to the end of the last slot (its colour page included): the
    // guard pages between adjacent slots are inside the range, and keep
    // their guard (MADV_DONTNEED drops pages; it leaves guard markers and
    // `PROT_NONE` alone). A range of n slots is n * slot - page long.
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for &bottom in slots.iter() {
        match ranges.last_mut() {
            Some((start, len)) if *start + *len == bottom => *len += slot,
            _ => ranges.push((bottom + page, slot - page)),
        }
    }
    // SAFETY: the ranges cover free slots that this pool owns and no
    // coroutine references any more (each has finished or been unwound).
    // DONTNEED on a private anonymous mapping only drops its pages, which
    // read back as zeroes.
    let done = unsafe { advise_all(&ranges, libc::MADV_DONTNEED) };
    ranges[..done]
        .iter()
        .map(|&(_, len)| (len + page) / slot)
        .sum()
}

// SAFETY: the slot has a guard page at its bottom (installed when its chunk
// was mapped, and never removed: MADV_DONTNEED keeps guard markers), at
// least MIN_STACK_SIZE usable bytes (`round_size`; the colour only takes
// from the colour page above them), and `limit` is page aligned and `base`
// a multiple of COLOR_STEP below a page boundary, hence both
// STACK_ALIGNMENT aligned. The slot is owned by this value alone until it
// is dropped.
unsafe impl Stack for PooledStack {
    fn base(&self) -> StackPointer {
        self.top
    }

    fn limit(&self) -> StackPointer {
        StackPointer::new(self.bottom).expect("stack slot at address 0")
    }
}

/// Maps a chunk for slots of `slot` bytes and installs every slot's guard.
/// Returns the chunk's start, its usable length, and how guards are made.
fn map_chunk(slot: usize, mut guard: GuardKind) -> io::Result<(usize, usize, GuardKind)> {
    let page = page_size();
    let slots = (CHUNK_BYTES / slot).max(1);
    let len = slots * slot;
    // SAFETY: an anonymous private mapping at an address of the kernel's
    // choosing touches no existing memory.
    let addr = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK,
            -1,
            0,
        )
    };
    if addr == libc::MAP_FAILED {
        return Err(out_of_maps(io::Error::last_os_error(), guard));
    }
    let start = addr as usize;
    // Best effort: a kernel without THP answers EINVAL, which is fine.
    // SAFETY: the range is the mapping just made.
    unsafe { libc::madvise(addr, len, libc::MADV_NOHUGEPAGE) };
    let first = if guard == GuardKind::Mprotect {
        0
    } else {
        // SAFETY: every guard is a page of the mapping just made, used by no one.
        let done = unsafe { install_guards(start, slot, slots) };
        if done > 0 {
            guard = GuardKind::Madvise;
        }
        done
    };
    for i in first..slots {
        let g = (start + i * slot) as *mut c_void;
        if guard != GuardKind::Mprotect {
            // SAFETY: `g` is a page of the mapping just made, used by no one.
            let rc = unsafe { libc::madvise(g, page, MADV_GUARD_INSTALL) };
            if rc == 0 {
                guard = GuardKind::Madvise;
                continue;
            }
            let err = io::Error::last_os_error();
            if guard == GuardKind::Unknown && err.raw_os_error() == Some(libc::EINVAL) {
                guard = GuardKind::Mprotect;
            } else {
                unmap(start, len);
                return Err(out_of_maps(err, guard));
            }
        }
        // SAFETY: as above.
        if unsafe { libc::mprotect(g, page, libc::PROT_NONE) } != 0 {
            let err = io::Error::last_os_error();
            unmap(start, len);
            return Err(out_of_maps(err, guard));
        }
    }
    Ok((start, len, guard))
}

/// Installs the guards of `count` slots of `slot` bytes from `start` with
/// `process_madvise(MADV_GUARD_INSTALL)`, up to [`MAX_IOV`] pages per
/// call instead of one `madvise` each. Returns how many slots, from the
/// first, got their guard; the caller makes the rest one by one (also
/// where `process_madvise` or guard markers are missing: older kernels).
///
/// # Safety
///
/// The first page of each slot must be mapped memory that nothing uses.
unsafe fn install_guards(start: usize, slot: usize, count: usize) -> usize {
    let page = page_size();
    let guards: Vec<(usize, usize)> = (0..count).map(|i| (start + i * slot, page)).collect();
    // SAFETY: the caller vouches for every slot's first page.
    unsafe { advise(&guards, MADV_GUARD_INSTALL) }.unwrap_or(0)
}

/// Gives `advice` for each of `ranges` (start, length): batched with
/// [`advise`], and where a batch stops short (the kernel treats at most
/// 2 GiB a call), the range it stopped at with a `madvise` of its own.
/// Returns how many ranges, from the first, were advised.
///
/// # Safety
///
/// As for `madvise(start, length, advice)` on each range.
unsafe fn advise_all(ranges: &[(usize, usize)], advice: libc::c_int) -> usize {
    let mut done = 0;
    let mut batched = true;
    while done < ranges.len() {
        if batched {
            // SAFETY: the caller vouches for the ranges.
            match unsafe { advise(&ranges[done..], advice) } {
                Some(n) => done += n,
                // No batching on this kernel: one by one from here.
                None => batched = false,
            }
        }
        let Some(&(start, len)) = ranges.get(done) else {
            break;
        };
        // SAFETY: as above.
        if unsafe { libc::madvise(start as *mut c_void, len, advice) } != 0 {
            break;
        }
        done += 1;
    }
    done
}

/// `PIDFD_SELF_THREAD_GROUP` (Linux 6.14 and later): "the calling
/// process" to the pidfd system calls, with no descriptor to open, and
/// right across `fork`. libc 0.2.191 does not have it; the value is the
/// kernel's (`include/uapi/linux/pidfd.h`).
const PIDFD_SELF: libc::c_int = -10_001;

/// Whether the kernel takes [`PIDFD_SELF`] (until it answers `EBADF`).
static PIDFD_SELF_WORKS: AtomicBool = AtomicBool::new(true);

/// Gives `advice` for each of `ranges` (start, length), with
/// `process_madvise` on this process, up to [`MAX_IOV`] ranges per call.
/// Returns how many ranges, from the first, were advised (the kernel may
/// stop short: at an error, or after 2 GiB in one call), or `None` where
/// the first call failed: the kernel lacks `process_madvise` or refuses
/// the advice through it (before Linux 6.13, only a few kinds were
/// allowed), and the caller advises with `madvise`.
///
/// # Safety
///
/// As for `madvise(start, length, advice)` on each range.
unsafe fn advise(ranges: &[(usize, usize)], advice: libc::c_int) -> Option<usize> {
    if PIDFD_SELF_WORKS.load(Ordering::Relaxed) {
        // SAFETY: the caller vouches for the ranges.
        match unsafe { advise_via(PIDFD_SELF, ranges, advice) } {
            Err(e) if e.raw_os_error() == Some(libc::EBADF) => {
                PIDFD_SELF_WORKS.store(false, Ordering::Relaxed)
            }
            done => return done.ok(),
        }
    }
    // A kernel from before `PIDFD_SELF`: a descriptor of our own process,
    // opened for this call (one kept would name the parent after a fork).
    // SAFETY: pidfd_open on our own pid has no memory effects.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) };
    let pidfd = libc::c_int::try_from(pidfd).ok().filter(|&fd| fd >= 0)?;
    // SAFETY: the caller vouches for the ranges.
    let done = unsafe { advise_via(pidfd, ranges, advice) };
    // SAFETY: closing the descriptor opened above.
    unsafe { libc::close(pidfd) };
    done.ok()
}

/// [`advise`] through `pidfd`, which names this process. `Err` only if
/// the first call failed.
///
/// # Safety
///
/// As for `madvise(start, length, advice)` on each range.
unsafe fn advise_via(
    pidfd: libc::c_int,
    ranges: &[(usize, usize)],
    advice: libc::c_int,
) -> io::Result<usize> {
    let mut done = 0;
    let mut iov = Vec::with_capacity(MAX_IOV.min(ranges.len()));
    while done < ranges.len() {
        let batch = &ranges[done..ranges.len().min(done + MAX_IOV)];
        iov.clear();
        iov.extend(batch.iter().map(|&(start, len)| libc::iovec {
            iov_base: start as *mut c_void,
            iov_len: len,
        }));
        // SAFETY: `iov` holds `batch.len()` valid entries, ranges the
        // caller vouches for; pidfd names our own process.
        let advised = unsafe {
            libc::syscall(
                libc::SYS_process_madvise,
                pidfd,
                iov.as_ptr(),
                iov.len(),
                advice,
                0,
            )
        };
        if advised < 0 && done == 0 {
            return Err(io::Error::last_os_error());
        }
        // A short count means the kernel stopped at some entry; those
        // before it are done (whole ranges, in order).
        let mut bytes = usize::try_from(advised).unwrap_or(0);
        let whole = batch
            .iter()
            .take_while(|&&(_, len)| {
                let fits = len <= bytes;
                bytes = bytes.saturating_sub(len);
                fits
            })
            .count();
        done += whole;
        if whole < batch.len() {
            break;
        }
    }
    Ok(done)
}

fn unmap(start: usize, len: usize) {
    // SAFETY: [start, start + len) is a chunk this module mapped and handed
    // no slot of to anyone yet.
    unsafe { libc::munmap(start as *mut c_void, len) };
}

/// The spawner's error when stacks cannot be reserved.
fn out_of_maps(err: io::Error, guard: GuardKind) -> io::Error {
    let max = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let how = if guard == GuardKind::Mprotect {
        "guard pages are made with mprotect on this kernel (older than Linux 6.13), \
         so each green thread's stack costs two memory maps"
    } else {
        "each chunk of green-thread stacks costs one memory map"
    };
    io::Error::new(
        io::ErrorKind::OutOfMemory,
        format!(
            "motet: cannot reserve a green-thread stack: {err}; {how}, and the process may hold \
             at most vm.max_map_count ({max}) maps: raise it (sysctl -w vm.max_map_count=N), \
             use smaller stacks, or run fewer green threads at once"
        ),
    )
}

/// How many bytes below the top of the running green thread's stack have
/// ever been written (the first non-zero word from the bottom). Exact for a
/// fresh slot; for a reused one it is the deepest use of any green thread
/// that ran on it.
pub(crate) fn high_water(r: &Running) -> usize {
    let top = r.top;
    let mut addr = r.guard_hi;
    while addr < top {
        // SAFETY: [guard_hi, top) is the usable range of the stack the
        // calling green thread runs on, mapped readable; untouched pages
        // read as zero (the kernel's shared zero page: nothing is
        // committed). Volatile, because it is memory the compiler sees as
        // unrelated to this read.
        let word = unsafe { ptr::read_volatile(addr as *const usize) };
        if word != 0 {
            return top - addr;
        }
        addr += std::mem::size_of::<usize>();
    }
    0
}

/// What the overflow handler needs to know about the green thread running
/// on this thread. Lives inside the green thread's (pinned) task future.
pub(crate) struct Running {
    pub(crate) guard_lo: usize,
    pub(crate) guard_hi: usize,
    /// Where the stack starts (see [`PooledStack::top`]).
    pub(crate) top: usize,
    pub(crate) stack_size: usize,
    pub(crate) task_id: u64,
    /// The name's bytes, or empty.
    pub(crate) name: Option<Box<str>>,
}

/// Makes this thread ready to resume green threads: installs the SIGSEGV
/// handler (once per process) and gives the thread an alternate signal
/// stack if it has none. The coroutine boundary calls it once per thread.
pub(crate) fn prepare_thread() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(install_handler);
    ensure_altstack();
}

/// The handler that was installed before ours, to chain to.
static mut PREVIOUS: Option<libc::sigaction> = None;

fn install_handler() {
    // SAFETY: a zeroed sigaction is a valid "no handler" value; we fill in
    // the fields sigaction(2) reads. PREVIOUS is written here, before our
    // handler (its only reader) can run, and under `Once`.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_segv as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        libc::sigemptyset(&mut action.sa_mask);
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGSEGV, &action, &mut old) == 0 {
            *ptr::addr_of_mut!(PREVIOUS) = Some(old);
        }
    }
}

/// Gives this thread an alternate signal stack if it has none (std gives
/// one to the threads it starts; threads made otherwise may lack it), so
/// that the overflow handler can run on it.
pub(crate) fn ensure_altstack() {
    // SAFETY: sigaltstack with a null new stack only reads the current one.
    unsafe {
        let mut cur: libc::stack_t = std::mem::zeroed();
        if libc::sigaltstack(ptr::null(), &mut cur) != 0 || cur.ss_flags & libc::SS_DISABLE == 0 {
            return;
        }
    }
    let size = 64 * 1024;
    // SAFETY: a fresh anonymous mapping; it is leaked on purpose (the thread
    // may take a signal on it until it exits, and a few threads resume
    // green threads).
    unsafe {
        let mem = libc::mmap(
            ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if mem == libc::MAP_FAILED {
            return;
        }
        let st = libc::stack_t {
            ss_sp: mem,
            ss_flags: 0,
            ss_size: size,
        };
        libc::sigaltstack(&st, ptr::null_mut());
    }
}

extern "C" fn on_segv(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    let running = super::coroutine::running();
    if !running.is_null() {
        // SAFETY: `running` is non-null only while the coroutine boundary
        // resumes the green thread whose `Running` it points to, which lives
        // in that green thread's pinned task future for the whole resume.
        let r = unsafe { &*running };
        if addr >= r.guard_lo && addr < r.guard_hi {
            report_overflow(r);
            // SAFETY: abort is async-signal-safe.
            unsafe { libc::abort() };
        }
    }
    // Not ours: chain to the previous handler, or restore the default
    // action and return, so that the fault repeats and takes it.
    // SAFETY: PREVIOUS was written before this handler was installed.
    let prev = unsafe { *ptr::addr_of!(PREVIOUS) };
    // SAFETY: calling the previously installed handler the way the kernel
    // would, with the arguments we were given; or resetting to SIG_DFL.
    unsafe {
        match prev {
            Some(p)
                if p.sa_flags & libc::SA_SIGINFO != 0
                    && p.sa_sigaction != libc::SIG_DFL
                    && p.sa_sigaction != libc::SIG_IGN =>
            {
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut c_void) =
                    std::mem::transmute(p.sa_sigaction);
                f(sig, info, ctx);
            }
            Some(p) if p.sa_sigaction != libc::SIG_DFL && p.sa_sigaction != libc::SIG_IGN => {
                let f: extern "C" fn(libc::c_int) = std::mem::transmute(p.sa_sigaction);
                f(sig);
            }
            _ => {
                let mut dfl: libc::sigaction = std::mem::zeroed();
                dfl.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(sig, &dfl, ptr::null_mut());
            }
        }
    }
}

/// Writes the overflow report with async-signal-safe calls only.
fn report_overflow(r: &Running) {
    let mut buf = [0u8; 512];
    let mut w = SigWriter {
        buf: &mut buf,
        len: 0,
    };
    w.put(b"\nmotet: green thread ");
    match &r.name {
        Some(n) => {
            w.put(b"'");
            w.put(n.as_bytes());
            w.put(b"' ");
        }
        None => w.put(b"(unnamed) "),
    }
    w.put(b"(task ");
    w.num(r.task_id as usize);
    w.put(b") overflowed its stack of ");
    w.num(r.stack_size);
    w.put(b" bytes; give it a larger one with motet::green::Builder::stack_size. Aborting.\n");
    let len = w.len;
    // SAFETY: write(2) on fd 2 from a buffer we own; async-signal-safe.
    unsafe { libc::write(2, buf.as_ptr().cast(), len) };
}

struct SigWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl SigWriter<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let room = self.buf.len() - self.len;
        let n = bytes.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }

    fn num(&mut self, mut v: usize) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.put(&digits[i..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacks_of_neighbouring_slots_start_at_different_cache_lines_and_keep_their_size() {
        let page = page_size();
        let size = round_size(64 * 1024);
        let slot = slot_len(size);
        let base = 1 << 30; // any slot-aligned chunk start; nothing is touched
        let mut lines = std::collections::HashSet::new();
        for i in 0..COLORS {
            let bottom = base / slot * slot + i * slot;
            let top = stack_top(bottom, size);
            // The usable bytes are whole, and the start stays in the slot.
            assert!(top - (bottom + page) >= size);
            assert!(top <= bottom + slot);
            assert_eq!(top % 16, 0, "the stack must start 16-byte aligned");
            lines.insert(top % page / COLOR_STEP);
        }
        assert_eq!(
            lines.len(),
            COLORS,
            "every colour starts on a line of its own"
        );
    }

    /// A private anonymous mapping of `len` bytes, unmapped on drop.
    struct Mapping(usize, usize);

    impl Mapping {
        fn new(len: usize) -> Mapping {
            // SAFETY: a fresh anonymous mapping touches no existing memory.
            let addr = unsafe {
                libc::mmap(
                    ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                    -1,
                    0,
                )
            };
            assert_ne!(addr, libc::MAP_FAILED, "{}", io::Error::last_os_error());
            Mapping(addr as usize, len)
        }

        fn write(&self, at: usize, byte: u8) {
            assert!(at < self.1);
            // SAFETY: inside the mapping, which is readable and writable.
            unsafe { ((self.0 + at) as *mut u8).write_volatile(byte) }
        }

        fn read(&self, at: usize) -> u8 {
            assert!(at < self.1);
            // SAFETY: as in `write`.
            unsafe { ((self.0 + at) as *const u8).read_volatile() }
        }
    }

    impl Drop for Mapping {
        fn drop(&mut self) {
            unmap(self.0, self.1);
        }
    }

    #[test]
    fn release_drops_the_pages_of_exactly_the_given_slots_in_any_order() {
        let size = round_size(16 * 1024);
        let slot = slot_len(size);
        let page = page_size();
        let map = Mapping::new(10 * slot);
        // Mark every page of every slot.
        for at in (0..10 * slot).step_by(page) {
            map.write(at, 7);
        }
        // Out of order, with a run of three, a run of two and lone slots.
        let freed = [8, 2, 4, 3, 0, 7, 9];
        let mut slots: Vec<usize> = freed.iter().map(|i| map.0 + i * slot).collect();
        assert_eq!(release(&mut slots, size), freed.len());
        for i in 0..10 {
            // Above the slot's guard page: the usable bytes and the colour page.
            for at in (i * slot + page..(i + 1) * slot).step_by(page) {
                let want = if freed.contains(&i) { 0 } else { 7 };
                assert_eq!(map.read(at), want, "slot {i}, byte {at}");
            }
            // A slot's first page (its guard's place) is dropped only
            // inside a run: one call covers adjacent slots whole.
            let inside_a_run = i > 0 && freed.contains(&i) && freed.contains(&(i - 1));
            let want = if inside_a_run { 0 } else { 7 };
            assert_eq!(map.read(i * slot), want, "slot {i}'s first page");
        }
    }

    #[test]
    fn release_takes_a_run_longer_than_one_call_may_advise() {
        // The kernel advises at most 2 GiB per process_madvise call: a run
        // of slots longer than that is finished with a madvise of its own.
        let size = round_size(1 << 20);
        let slot = slot_len(size);
        let count = (3usize << 30).div_ceil(slot);
        let map = Mapping::new(count * slot);
        let page = page_size();
        let probes = [1, count / 2, count - 1];
        for &i in &probes {
            map.write(i * slot + page, 7);
            map.write((i + 1) * slot - 1, 7);
        }
        let mut slots: Vec<usize> = (0..count).rev().map(|i| map.0 + i * slot).collect();
        assert_eq!(release(&mut slots, size), count);
        for &i in &probes {
            assert_eq!(map.read(i * slot + page), 0, "slot {i}'s first usable page");
            assert_eq!(map.read((i + 1) * slot - 1), 0, "slot {i}'s last byte");
        }
    }

    #[test]
    fn advice_reaches_the_kernel_without_pidfd_self_too() {
        // Kernels before 6.14 answer PIDFD_SELF with EBADF, and `advise`
        // opens a descriptor of its own instead: take that path here too.
        // (Other tests advising meanwhile take it as well, which is as
        // right.)
        let page = page_size();
        let map = Mapping::new(4 * page);
        for with_self in [false, true] {
            for at in (0..4 * page).step_by(page) {
                map.write(at, 7);
            }
            PIDFD_SELF_WORKS.store(with_self, Ordering::Relaxed);
            let ranges = [(map.0, page), (map.0 + 2 * page, 2 * page)];
            // SAFETY: the ranges are in a mapping of this test's own.
            let done = unsafe { advise(&ranges, libc::MADV_DONTNEED) };
            assert_eq!(done, Some(2), "with PIDFD_SELF: {with_self}");
            for (i, want) in [0, 7, 0, 0].into_iter().enumerate() {
                assert_eq!(
                    map.read(i * page),
                    want,
                    "page {i}, PIDFD_SELF: {with_self}"
                );
            }
        }
    }

    #[test]
    fn a_chunk_mapped_meanwhile_leaves_the_rest_of_the_previous_one_free() {
        let size = round_size(16 * 1024);
        let slot = slot_len(size);
        let mut class = Class::new(size);
        // No address is touched: the class only does arithmetic on them.
        let (a, b) = (1 << 30, 1 << 31);
        assert_eq!(class.carve(), None, "a new class has no chunk");
        assert_eq!(class.adopt(a, 4 * slot), a);
        assert_eq!(class.carve(), Some(a + slot));
        // Two threads found no slot and mapped a chunk each: the second
        // adopted leaves the first's last two slots free (and cold).
        assert_eq!(class.adopt(b, 4 * slot), b);
        let mut cold = class.cold.clone();
        cold.sort_unstable();
        assert_eq!(cold, [a + 2 * slot, a + 3 * slot]);
        for i in 1..4 {
            assert_eq!(class.carve(), Some(b + i * slot));
        }
        assert_eq!(class.carve(), None);
    }

    #[test]
    fn slots_span_an_odd_number_of_pages() {
        let page = page_size();
        for size in [16 << 10, 64 << 10, 256 << 10, 260 << 10, 1 << 20] {
            let size = round_size(size);
            let pages = slot_len(size) / page;
            assert_eq!(slot_len(size) % page, 0);
            assert_eq!(pages % 2, 1, "{size}: {pages} pages");
            // Guard page, usable bytes, colour page: nothing less.
            assert!(slot_len(size) >= size + 2 * page);
        }
    }
}
