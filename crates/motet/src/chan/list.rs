//! The lock-free buffer of `unbounded` channels: a multi-producer
//! multi-consumer queue kept as a singly linked list of fixed-size
//! blocks, with the channel's close mark in the tail word. Like the ring
//! (`chan/ring.rs`), it knows nothing of waiting: who waits, and how a
//! waiter learns of a push or a pop made here, is `chan/state.rs`'s
//! business (the flag-and-fence handshake of the essay in `chan/mod.rs`).
//!
//! # Positions
//!
//! Every push gets a *position* from the tail, every pop one from the
//! head; both count up from 0 and never go back. Position `p` lies in
//! block `p / LAP` at index `p % LAP`. Indices `0..BLOCK` are slots
//! (`BLOCK = LAP - 1`); index `BLOCK` is not a slot but a *gate*: while
//! an end's position sits on it, the thread that claimed the block's last
//! slot is linking the next block, and every other thread at that end
//! waits for it to step the position on to index 0 of the next block.
//! The gate is what keeps an end's position and its block pointer in
//! step: the pointer changes only while the position is on the gate (or
//! once from null to the first block, before any claim: below), so a
//! thread that read the position, then the pointer, and then moved the
//! position on by a CAS, knows the pointer was that position's block.
//!
//! - `tail.pos` holds the next push's position shifted left by one, with
//!   [`CLOSED`] in bit 0; `tail.block` the block it lies in.
//! - `head.pos` holds the next pop's position shifted left by one, with
//!   [`AHEAD`] in bit 0 (the tail is known to have left the head's
//!   block, so a pop in it needs no look at the tail); `head.block` the
//!   block it lies in.
//!
//! **push** at `p` (not on a gate, not closed): CAS the tail from `p` to
//! `p + 1` (this claims the slot; a closed mark makes the CAS fail, so a
//! push claims a position before the close or not at all). If the slot
//! is its block's last, the pusher is now the gate keeper of the tail:
//! it stores the new block (allocated before the CAS) as `tail.block`,
//! steps the tail off the gate (an add, which keeps a close mark set
//! meanwhile), and links the block as `next` of the old one. Then it
//! writes the value and sets the slot's `written` flag (release).
//!
//! **pop** at `p` (not on a gate): unless `AHEAD` is set, read the tail:
//! the same position means empty. Else CAS the head from `p` to `p + 1`
//! (this claims the slot); for a block's last slot, wait for `next`,
//! store it as `head.block` and step the head off the gate. Wait for the
//! slot's `written` flag (the push claimed it and may still be writing:
//! a few instructions), read the value out, and count the read in the
//! block.
//!
//! # The first block
//!
//! A new list has no block: an idle channel holds none, and making one
//! allocates none. The first push finds a null `tail.block`, makes a
//! block and installs it with a CAS at the **head** first (a push that
//! loses the race frees its own and takes the winner's), then at the
//! tail (a CAS from null: every push that got here sets the same block,
//! and a tail that already has one keeps it). The order is what the pops
//! rely on: a pop dereferences `head.block` only after seeing the tail
//! past its position, that is after some push's claim, and every claim
//! comes after its pusher saw the block at the tail (or installed it),
//! hence after the head had it. A push whose position went stale while it
//! installed loses its claim CAS and never uses the pointer.
//!
//! # Reclamation
//!
//! A block is freed by the pop whose count of reads (`reads`, an add)
//! makes it `BLOCK`: every slot has been claimed and read, the last
//! slot's pop has already moved `head.block` past it, and the pusher of
//! the last slot linked `next` before writing that slot. No thread
//! dereferences a block except through a slot it has claimed and not yet
//! finished with (a pusher until its `written` store, a popper until its
//! count), and each such claim holds off the count that frees the block.
//! A thread that read a block pointer and then lost its CAS never
//! dereferences it. Neither `head.block` nor `tail.block` ever points to
//! a freed block. So a slow pop still reading slot 3 keeps its block
//! alive however far the others have gone; nothing is freed twice (one
//! add reaches `BLOCK`), and nothing leaks: [`Drop`] walks what is left
//! from the head, dropping values and freeing blocks.
//!
//! Every block is fresh from the allocator, and freed by the pop that
//! counts its last read, as in crossbeam. Recycling the emptied block
//! (kept as one spare for the next push that needs one) was tried and
//! removed: the recycled block's lines are hot in the consumer's cache, so
//! the producer pulls each back as it writes, and on one host that made
//! one producer and one consumer 2.2x slower than with fresh blocks (on
//! another it had made them 1.3x faster: the allocator's cross-thread
//! frees took an arena lock). Fresh blocks were level with or ahead of
//! crossbeam on both; BENCHMARKS.md has the figures.
//!
//! Both CAS loops retry only when another thread moved the same end, so
//! some thread always completes: lock-free, except for the waits on a
//! gate and on a claimed slot's `written`, which last the few
//! instructions between another thread's CAS and its next store (as in
//! the ring).

use std::marker::PhantomData;
use std::mem::MaybeUninit;

use crate::loom::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use crate::loom::cell::UnsafeCell;

use super::ring::{backoff, Padded, PushError};

/// Positions per block: `BLOCK` slots and the gate. Small under loom, so
/// that a model of a few pushes crosses a block boundary. 64 (63 slots):
/// with 32, one producer and one consumer thread measured 1.1 s for 10 x
/// 2M messages against 0.63 s with 64 and 0.56 s with 128, the consumer
/// switching out about 65,000 times (glibc's arena lock, taken by blocks
/// allocated on one thread and freed on the other while the list grew)
/// against 7,000-10,000 and 700. 128 would double what an idle channel
/// holds (the first block is allocated with the channel) for a smaller
/// gain.
const LAP: usize = if cfg!(loom) { 3 } else { 64 };

/// Slots per block.
const BLOCK: usize = LAP - 1;

/// Bit 0 of `tail.pos`: closed, no more pushes.
const CLOSED: usize = 1;

/// Bit 0 of `head.pos`: the tail was seen past the head's block, so every
/// slot of that block is claimed by a push. Cleared as the head steps
/// into the next block.
const AHEAD: usize = 1;

struct Slot<T> {
    /// Set (release) once the value is in.
    written: AtomicBool,
    value: UnsafeCell<MaybeUninit<T>>,
}

struct Block<T> {
    slots: [Slot<T>; BLOCK],
    /// The next block; linked by the pusher of this block's last slot
    /// before it writes that slot.
    next: AtomicPtr<Block<T>>,
    /// How many pops have finished reading a slot here; the one that
    /// makes it `BLOCK` frees the block.
    reads: AtomicUsize,
}

impl<T> Block<T> {
    /// A fresh block, built in place on the heap (a block of a large `T`
    /// would not fit on a stack).
    fn new() -> Box<Block<T>> {
        let mut b = Box::<Block<T>>::new_uninit();
        let p = b.as_mut_ptr();
        for i in 0..BLOCK {
            // SAFETY: `p` points to an allocation for a `Block<T>`; each
            // field is written once, through raw pointers (no reference
            // to uninitialised memory is made).
            unsafe {
                std::ptr::addr_of_mut!((*p).slots[i]).write(Slot {
                    written: AtomicBool::new(false),
                    value: UnsafeCell::new(MaybeUninit::uninit()),
                });
            }
        }
        // SAFETY: as above.
        unsafe {
            std::ptr::addr_of_mut!((*p).next).write(AtomicPtr::new(std::ptr::null_mut()));
            std::ptr::addr_of_mut!((*p).reads).write(AtomicUsize::new(0));
        }
        // SAFETY: every field was written above.
        unsafe { b.assume_init() }
    }
}

/// One end of the list: its position word and its block.
struct End<T> {
    pos: AtomicUsize,
    block: AtomicPtr<Block<T>>,
}

/// The list (see the module docs).
pub(crate) struct List<T> {
    head: Padded<End<T>>,
    tail: Padded<End<T>>,
    /// The list owns its blocks and the values in them.
    _owns: PhantomData<Box<Block<T>>>,
}

// SAFETY: a value is moved in by one thread and out by one other (each
// position is claimed by one push and one pop), never shared: `T: Send`
// is enough, as for any channel. Blocks are freed by whichever thread
// finishes with them last, which `Send` allows.
unsafe impl<T: Send> Send for List<T> {}
// SAFETY: as above; `&List` only moves values in and out whole.
unsafe impl<T: Send> Sync for List<T> {}

/// How many slots lie before position `pos` (the gates count for none).
#[inline]
fn slots_before(pos: usize) -> usize {
    pos / LAP * BLOCK + pos % LAP
}

impl<T> List<T> {
    /// An empty list. It holds no block until its first push: an idle
    /// channel costs no block (63 slots of `T`), and making one costs no
    /// allocation for it.
    pub(crate) fn new() -> List<T> {
        List {
            head: Padded(End {
                pos: AtomicUsize::new(0),
                block: AtomicPtr::new(std::ptr::null_mut()),
            }),
            tail: Padded(End {
                pos: AtomicUsize::new(0),
                block: AtomicPtr::new(std::ptr::null_mut()),
            }),
            _owns: PhantomData,
        }
    }

    /// The first block, for a push that found none at the tail: made and
    /// installed at the head first, then at the tail (see "The first
    /// block" in the module docs). Returns the head's block, which is the
    /// first block unless the list has moved on, in which case the
    /// caller's claim fails (its position is stale) and the pointer is not
    /// used.
    #[cold]
    #[inline(never)]
    fn first_block(&self) -> *mut Block<T> {
        let new = Box::into_raw(Block::new());
        let block = match self.head.0.block.compare_exchange(
            std::ptr::null_mut(),
            new,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => new,
            Err(current) => {
                // SAFETY: `new` came from `into_raw` just above, and the
                // failed CAS published it nowhere.
                drop(unsafe { Box::from_raw(new) });
                current
            }
        };
        // Whoever installed it, or a push that came later: the same block,
        // and a tail that already has one keeps it.
        let _ = self.tail.0.block.compare_exchange(
            std::ptr::null_mut(),
            block,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        block
    }

    /// Appends `value`, unless the list is closed (it is never full).
    #[inline]
    pub(crate) fn push(&self, value: T) -> Result<(), PushError<T>> {
        let tail = &self.tail.0;
        let mut spins = 0;
        let mut next_block: Option<Box<Block<T>>> = None;
        let mut word = tail.pos.load(Ordering::Acquire);
        loop {
            if word & CLOSED != 0 {
                return Err(PushError::Closed(value));
            }
            let pos = word >> 1;
            let index = pos % LAP;
            if index == BLOCK {
                // The gate: the last slot's pusher is linking a block.
                backoff(&mut spins);
                word = tail.pos.load(Ordering::Acquire);
                continue;
            }
            let last = index + 1 == BLOCK;
            if last && next_block.is_none() {
                // Allocated before the claim, so others wait on the gate
                // only for a few stores, not for the allocator.
                next_block = Some(Block::new());
            }
            let mut block = tail.block.load(Ordering::Acquire);
            if block.is_null() {
                block = self.first_block();
            }
            // SeqCst: half of the channel's handshake (the module docs of
            // `chan/state.rs`). Acquire on success as well: the claim must
            // come after the `block` load above in every thread's view.
            match tail.pos.compare_exchange_weak(
                word,
                word + 2,
                Ordering::SeqCst,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    if last {
                        let next = Box::into_raw(next_block.take().expect("allocated above"));
                        tail.block.store(next, Ordering::Release);
                        tail.pos.fetch_add(2, Ordering::Release);
                        // SAFETY: `block` is the block of `pos` (the gate
                        // argument in the module docs), and it is live: its
                        // slot at `pos` is claimed by this push and not yet
                        // written, so its `reads` cannot reach `BLOCK`.
                        unsafe { (*block).next.store(next, Ordering::Release) };
                    }
                    // SAFETY: as above, the block is live until the
                    // `written` store below.
                    let slot = unsafe { &(*block).slots[index] };
                    slot.value.with_mut(|p| {
                        // SAFETY: this push alone claimed the slot, and no
                        // pop reads it before `written` is set.
                        unsafe { (*p).write(value) };
                    });
                    slot.written.store(true, Ordering::Release);
                    return Ok(());
                }
                Err(w) => word = w,
            }
        }
    }

    /// Takes the oldest value, if there is one. A push that has claimed
    /// its slot and not yet written it is waited for (briefly), so a
    /// `None` means every push that got a position is popped.
    #[inline]
    pub(crate) fn pop(&self) -> Option<T> {
        let head = &self.head.0;
        let mut spins = 0;
        let mut word = head.pos.load(Ordering::Acquire);
        loop {
            let pos = word >> 1;
            let index = pos % LAP;
            if index == BLOCK {
                // The gate: the last slot's pop is moving to the next block.
                backoff(&mut spins);
                word = head.pos.load(Ordering::Acquire);
                continue;
            }
            let mut new = word + 2;
            if word & AHEAD == 0 {
                // SeqCst: half of the channel's handshake.
                let tail = self.tail.0.pos.load(Ordering::SeqCst) >> 1;
                if tail == pos {
                    return None;
                }
                if tail / LAP != pos / LAP {
                    new |= AHEAD;
                }
            }
            let block = head.block.load(Ordering::Acquire);
            // The tail is past `pos`: a push claimed a slot, and the first
            // block was at the head before any claim.
            debug_assert!(!block.is_null(), "a claimed slot without a block");
            match head
                .pos
                .compare_exchange_weak(word, new, Ordering::SeqCst, Ordering::Acquire)
            {
                Ok(_) => {
                    // SAFETY: `block` is the block of `pos` (the gate
                    // argument in the module docs), live until this pop
                    // counts its read below.
                    let b = unsafe { &*block };
                    if index + 1 == BLOCK {
                        let next = loop {
                            let n = b.next.load(Ordering::Acquire);
                            if !n.is_null() {
                                break n;
                            }
                            // The last pusher has stepped the tail off the
                            // gate and is about to link `next`.
                            backoff(&mut spins);
                        };
                        head.block.store(next, Ordering::Release);
                        head.pos.store((pos + 2) << 1, Ordering::Release);
                    }
                    let slot = &b.slots[index];
                    while !slot.written.load(Ordering::Acquire) {
                        backoff(&mut spins);
                    }
                    let value = slot.value.with(|p| {
                        // SAFETY: `written` (acquired) says the push at
                        // `pos` wrote the value, and the CAS made this the
                        // only pop at `pos`.
                        unsafe { (*p).assume_init_read() }
                    });
                    // After its add, a reader that is not the last never
                    // looks at the block again, though it is formally
                    // still inside `fetch_add(&self)` when the last one
                    // may free it: the same pattern as `Arc`'s drop
                    // (rust-lang/rust#55005), which std relies on too.
                    if b.reads.fetch_add(1, Ordering::AcqRel) + 1 == BLOCK {
                        // SAFETY: every slot of the block is read, and the
                        // acquiring add saw every other reader's count, so
                        // no thread touches the block again; no end points
                        // to it (the last slot's pop moved `head.block`
                        // before counting; `tail.block` moved before the
                        // last slot was written). It came from
                        // `Box::into_raw`, and only this add reached
                        // `BLOCK`.
                        drop(unsafe { Box::from_raw(block) });
                    }
                    return Some(value);
                }
                Err(w) => word = w,
            }
        }
    }

    /// How many values are in the list (a snapshot).
    pub(crate) fn len(&self) -> usize {
        let head = self.head.0.pos.load(Ordering::SeqCst) >> 1;
        let tail = self.tail.0.pos.load(Ordering::SeqCst) >> 1;
        slots_before(tail).saturating_sub(slots_before(head))
    }

    /// Whether a pop would find a value now (perhaps after waiting for a
    /// push that has claimed its slot), as [`pop`](Self::pop) decides.
    pub(crate) fn has_value(&self) -> bool {
        self.len() > 0
    }

    /// Marks the list closed: every later push fails. Pushes that got a
    /// position before the mark complete, and are popped as usual.
    pub(crate) fn close(&self) {
        self.tail.0.pos.fetch_or(CLOSED, Ordering::SeqCst);
    }
}

impl<T> Drop for List<T> {
    fn drop(&mut self) {
        // `&mut self`: every push and pop has returned, so no end is on a
        // gate, every position from head to tail holds a written value,
        // and the blocks from `head.block` on are linked and not freed.
        let mut pos = self.head.0.pos.load(Ordering::Relaxed) >> 1;
        let end = self.tail.0.pos.load(Ordering::Relaxed) >> 1;
        let mut block = self.head.0.block.load(Ordering::Relaxed);
        if block.is_null() {
            // Never pushed to: no block.
            return;
        }
        while pos != end {
            let index = pos % LAP;
            if index == BLOCK {
                // SAFETY: `block` is live (above), and linked.
                let next = unsafe { (*block).next.load(Ordering::Relaxed) };
                // SAFETY: no slot of it is read again; from `into_raw`.
                drop(unsafe { Box::from_raw(block) });
                block = next;
            } else {
                // SAFETY: `block` is live (above).
                let slot = unsafe { &(*block).slots[index] };
                slot.value.with_mut(|p| {
                    // SAFETY: positions `head..tail` hold values pushed and
                    // not popped, each dropped once here.
                    unsafe { (*p).assume_init_drop() };
                });
            }
            pos += 1;
        }
        // SAFETY: the tail's block, live and not yet freed (its reads are
        // fewer than `BLOCK`: the tail is inside it); from `into_raw`.
        drop(unsafe { Box::from_raw(block) });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize as StdAtomicUsize;
    use std::sync::Arc;

    #[test]
    fn fifo_across_blocks_and_closed() {
        let l = List::new();
        for round in 0..3 {
            let n = 5 * LAP + round;
            for i in 0..n {
                assert!(l.push(i).is_ok());
            }
            assert_eq!(l.len(), n);
            assert!(l.has_value());
            for i in 0..n {
                assert_eq!(l.pop(), Some(i));
            }
            assert_eq!(l.pop(), None);
            assert_eq!(l.len(), 0);
            assert!(!l.has_value());
        }
        l.push(7).ok();
        l.close();
        assert!(matches!(l.push(8), Err(PushError::Closed(8))));
        assert_eq!(l.pop(), Some(7));
        assert_eq!(l.pop(), None);
    }

    /// Counts its drops.
    struct Counted(Arc<StdAtomicUsize>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    #[test]
    fn drops_what_is_left_once() {
        for (pushed, popped) in [(0, 0), (3, 1), (BLOCK, BLOCK), (3 * LAP + 2, LAP + 1)] {
            let drops = Arc::new(StdAtomicUsize::new(0));
            let l = List::new();
            for _ in 0..pushed {
                assert!(l.push(Counted(drops.clone())).is_ok());
            }
            for _ in 0..popped {
                drop(l.pop().expect("pushed"));
            }
            assert_eq!(drops.load(std::sync::atomic::Ordering::Relaxed), popped);
            drop(l);
            assert_eq!(drops.load(std::sync::atomic::Ordering::Relaxed), pushed);
        }
    }

    #[test]
    fn close_racing_pushes_loses_nothing() {
        for _ in 0..200 {
            let l = Arc::new(List::new());
            let pushers: Vec<_> = (0..2)
                .map(|_| {
                    let l = l.clone();
                    std::thread::spawn(move || (0..100).take_while(|&i| l.push(i).is_ok()).count())
                })
                .collect();
            std::thread::yield_now();
            l.close();
            let pushed: usize = pushers.into_iter().map(|t| t.join().unwrap()).sum();
            let mut popped = 0;
            while l.pop().is_some() {
                popped += 1;
            }
            assert_eq!(popped, pushed);
            assert!(matches!(l.push(0), Err(PushError::Closed(0))));
        }
    }

    #[test]
    fn two_producers_two_consumers_keep_per_producer_order() {
        const N: usize = 100_000;
        let l = Arc::new(List::new());
        let producers: Vec<_> = (0..2)
            .map(|p| {
                let l = l.clone();
                std::thread::spawn(move || {
                    for i in 0..N {
                        assert!(l.push((p, i)).is_ok());
                    }
                })
            })
            .collect();
        let taken = Arc::new(StdAtomicUsize::new(0));
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let (l, taken) = (l.clone(), taken.clone());
                std::thread::spawn(move || {
                    let mut last = [None::<usize>; 2];
                    while taken.load(std::sync::atomic::Ordering::Relaxed) < 2 * N {
                        match l.pop() {
                            Some((p, i)) => {
                                assert!(last[p].is_none_or(|l| l < i), "order broken");
                                last[p] = Some(i);
                                taken.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            }
                            None => std::thread::yield_now(),
                        }
                    }
                })
            })
            .collect();
        for t in producers.into_iter().chain(consumers) {
            t.join().unwrap();
        }
        assert_eq!(l.pop(), None);
        assert_eq!(taken.load(std::sync::atomic::Ordering::Relaxed), 2 * N);
    }
}

/// Loom models of the list alone: loom's `UnsafeCell` checks that no slot
/// is written and read at once; the counts check that no value is lost or
/// doubled. Reclamation is checked less directly: with the free moved one
/// read early (tried once), these models abort on the allocator's
/// double-free check; the unit tests above also ran clean under valgrind
/// (no invalid access, no block lost). `LAP` is 3 under loom: two slots
/// per block.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;
    use loom::thread;

    /// Pushes `first` (if any) here, then races two pushers (1 and 2)
    /// against one pop, drains what is left, and returns every value in
    /// the order it came out.
    fn two_pushers_race_a_pop(l: Arc<List<i32>>, first: Option<i32>) -> Vec<i32> {
        if let Some(v) = first {
            l.push(v).ok();
        }
        let pushers: Vec<_> = [1, 2]
            .into_iter()
            .map(|v| {
                let l = l.clone();
                thread::spawn(move || assert!(l.push(v).is_ok()))
            })
            .collect();
        let mut got: Vec<i32> = l.pop().into_iter().collect();
        for t in pushers {
            t.join().unwrap();
        }
        while let Some(v) = l.pop() {
            got.push(v);
        }
        got
    }

    /// Two pushers race to make the first block of a new list while a
    /// popper looks: one block is installed (the loser's is freed), and
    /// the pop never meets a claimed slot without a block. (It fails if
    /// the head is never given the block; loom did not find the
    /// interleaving that installing at the tail first would break, so that
    /// order rests on the argument in the module docs.)
    #[test]
    fn first_pushes_race_to_make_the_first_block() {
        loom::model(|| {
            let mut got = two_pushers_race_a_pop(Arc::new(List::new()), None);
            got.sort_unstable();
            assert_eq!(got, [1, 2]);
        });
    }

    /// Two pushers cross from the first block into the second while a
    /// popper drains: every value comes out once, in per-pusher order.
    #[test]
    fn pushes_across_a_block_boundary() {
        loom::model(|| {
            let mut got = two_pushers_race_a_pop(Arc::new(List::new()), Some(0));
            assert_eq!(got[0], 0);
            got.sort_unstable();
            assert_eq!(got, [0, 1, 2]);
        });
    }

    /// Two poppers finish the first block (one frees it) while a pusher
    /// links the next: no block is touched after it is freed, none twice.
    #[test]
    fn concurrent_pops_free_blocks() {
        loom::model(|| {
            let l = Arc::new(List::new());
            l.push(1).ok();
            l.push(2).ok();
            let poppers: Vec<_> = (0..2)
                .map(|_| {
                    let l = l.clone();
                    thread::spawn(move || l.pop())
                })
                .collect();
            l.push(3).ok();
            let mut got: Vec<i32> = poppers
                .into_iter()
                .filter_map(|t| t.join().unwrap())
                .collect();
            got.extend(std::iter::from_fn(|| l.pop()));
            got.sort_unstable();
            assert_eq!(got, [1, 2, 3]);
        });
    }

    /// A popper empties and frees the first block while a pusher fills
    /// the second and links a third: no value is lost, none read twice,
    /// and no block is touched after it is freed (loom's cells check it).
    #[test]
    fn a_block_freed_while_the_next_ones_fill() {
        loom::model(|| {
            let l = Arc::new(List::new());
            l.push(1).ok();
            l.push(2).ok();
            let l2 = l.clone();
            let popper = thread::spawn(move || (0..5).filter_map(|_| l2.pop()).collect::<Vec<_>>());
            l.push(3).ok();
            l.push(4).ok();
            l.push(5).ok();
            let mut got = popper.join().unwrap();
            got.extend(std::iter::from_fn(|| l.pop()));
            assert_eq!(got, [1, 2, 3, 4, 5]);
        });
    }

    /// A push racing the close mark either lands (and is popped) or fails;
    /// the push that would link a new block too.
    #[test]
    fn push_racing_close() {
        loom::model(|| {
            let l = Arc::new(List::new());
            l.push(0).ok();
            let l2 = l.clone();
            let t = thread::spawn(move || l2.push(7).is_ok());
            l.close();
            let pushed = t.join().unwrap();
            assert_eq!(l.pop(), Some(0));
            assert_eq!(l.pop(), pushed.then_some(7));
            assert_eq!(l.pop(), None);
            assert!(matches!(l.push(8), Err(PushError::Closed(8))));
        });
    }
}
