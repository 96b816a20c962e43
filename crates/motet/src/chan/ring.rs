//! The lock-free buffer of `bounded(cap)` channels with `cap >= 2`: a
//! bounded multi-producer multi-consumer array queue (Dmitry Vyukov's
//! design: one sequence stamp per slot, CAS on head and tail), with the
//! channel's close mark in the tail word. With the list of unbounded
//! channels (`chan/list.rs`), the only module of the channel with
//! `unsafe`; everything it promises is in the stamp protocol below. Who
//! waits, and how a waiter learns of a push or a pop made here, is
//! `chan/state.rs`'s business (the flag-and-fence handshake of the essay
//! in `chan/mod.rs`).
//!
//! # Positions and stamps
//!
//! A *position* names a slot and a lap: `lap * LAP + index`, where `LAP`
//! is `cap` rounded up to a power of two and `index < cap`. Advancing a
//! position steps the index, or wraps to index 0 of the next lap. `head`
//! is the position of the next pop; `tail` holds the position of the next
//! push, shifted left by one, with [`CLOSED`] in bit 0.
//!
//! Each slot has a `stamp`, which says what the slot waits for:
//!
//! | stamp | the slot |
//! |---|---|
//! | `p` | is empty, and waits for the push at position `p` |
//! | `p + 1` | holds the value pushed at `p`, and waits for the pop at `p` |
//!
//! - **push** at tail position `p`: if the slot's stamp is `p`, CAS the
//!   tail from `p` to the next position (this claims the slot), write the
//!   value, store stamp `p + 1` (release: publishes the value).
//! - **pop** at head position `p`: if the stamp is `p + 1`, CAS the head
//!   to the next position (claims it), read the value out, store stamp
//!   `p + LAP` (release: the slot is free for the push one lap later).
//!
//! A stamp one lap behind (`p + 1 - LAP` at a push) means the slot still
//! holds last lap's value: the ring is full, unless its pop has claimed it
//! and not yet released it (then the head has moved on, and the push waits
//! a moment for the release). Likewise a stamp `p` at a pop means empty,
//! unless a push has claimed it (the tail has moved on). Those waits last
//! the few instructions between another thread's CAS and its stamp store,
//! so they spin, then yield; they are what makes every push that got a
//! position before [`close`](Ring::close) visible to the receivers that
//! drain the channel after it.
//!
//! Both CAS loops retry only when another thread moved the same end, so
//! some thread always completes: lock-free, not wait-free.

use std::mem::MaybeUninit;

use crate::loom::atomic::{AtomicUsize, Ordering};
use crate::loom::cell::UnsafeCell;

/// Bit 0 of the tail word: closed, no more pushes.
const CLOSED: usize = 1;

/// Aligns its contents to 128 bytes, so two of them never share a cache
/// line (nor an adjacent-line prefetch pair): the head, the tail and the
/// channel's `busy` flag each get their own.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

struct Slot<T> {
    stamp: AtomicUsize,
    value: UnsafeCell<MaybeUninit<T>>,
}

/// Why a push failed; the value comes back.
pub(crate) enum PushError<T> {
    Full(T),
    Closed(T),
}

/// The ring (see the module docs).
pub(crate) struct Ring<T> {
    /// Position of the next pop.
    head: Padded<AtomicUsize>,
    /// Position of the next push, shifted left by one; bit 0 is [`CLOSED`].
    tail: Padded<AtomicUsize>,
    slots: Box<[Slot<T>]>,
    /// `slots.len().next_power_of_two()`.
    lap: usize,
}

// SAFETY: a value is moved in by one thread and out by one other (the
// stamp protocol gives each slot to one owner at a time), never shared:
// `T: Send` is enough, as for any channel.
unsafe impl<T: Send> Send for Ring<T> {}
// SAFETY: as above; `&Ring` only moves values in and out whole.
unsafe impl<T: Send> Sync for Ring<T> {}

impl<T> Ring<T> {
    /// A ring of `cap` slots (`cap >= 1`).
    pub(crate) fn new(cap: usize) -> Ring<T> {
        assert!(cap >= 1, "a ring needs a slot");
        let slots = (0..cap)
            .map(|i| Slot {
                stamp: AtomicUsize::new(i),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect();
        Ring {
            head: Padded(AtomicUsize::new(0)),
            tail: Padded(AtomicUsize::new(0)),
            slots,
            lap: cap.next_power_of_two(),
        }
    }

    #[inline]
    fn slot(&self, pos: usize) -> &Slot<T> {
        &self.slots[pos & (self.lap - 1)]
    }

    /// The position after `pos`.
    #[inline]
    fn next(&self, pos: usize) -> usize {
        if (pos & (self.lap - 1)) + 1 < self.slots.len() {
            pos + 1
        } else {
            (pos & !(self.lap - 1)).wrapping_add(self.lap)
        }
    }

    /// Appends `value`, unless the ring is full or closed.
    #[inline]
    pub(crate) fn push(&self, value: T) -> Result<(), PushError<T>> {
        let mut spins = 0;
        let mut word = self.tail.0.load(Ordering::Relaxed);
        loop {
            if word & CLOSED != 0 {
                return Err(PushError::Closed(value));
            }
            let pos = word >> 1;
            let slot = self.slot(pos);
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == pos {
                let next = self.next(pos) << 1;
                // SeqCst: half of the channel's handshake (the module docs).
                match self.tail.0.compare_exchange_weak(
                    word,
                    next,
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        slot.value.with_mut(|p| {
                            // SAFETY: the CAS moved the tail past `pos`, so
                            // no other push can write this slot in this
                            // lap, and stamp `pos` (acquired above) says
                            // the pop one lap ago has finished reading it;
                            // no pop reads it until the stamp below.
                            unsafe { (*p).write(value) };
                        });
                        slot.stamp.store(pos.wrapping_add(1), Ordering::Release);
                        return Ok(());
                    }
                    Err(w) => {
                        word = w;
                        continue;
                    }
                }
            } else if stamp.wrapping_add(self.lap) == pos.wrapping_add(1) {
                // Last lap's value is still here: full, unless its pop has
                // claimed it (moved the head) and is reading it out.
                if self.head.0.load(Ordering::SeqCst).wrapping_add(self.lap) == pos {
                    return Err(PushError::Full(value));
                }
                backoff(&mut spins);
            } else {
                // Another push took `pos`; try the new tail.
                backoff(&mut spins);
            }
            word = self.tail.0.load(Ordering::Relaxed);
        }
    }

    /// Takes the oldest value, if there is one. A push that has claimed
    /// its slot and not yet published it is waited for (briefly), so a
    /// `None` means every push that got a position is popped.
    #[inline]
    pub(crate) fn pop(&self) -> Option<T> {
        let mut spins = 0;
        let mut pos = self.head.0.load(Ordering::Relaxed);
        loop {
            let slot = self.slot(pos);
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == pos.wrapping_add(1) {
                let next = self.next(pos);
                // SeqCst: half of the channel's handshake (the module docs).
                match self.head.0.compare_exchange_weak(
                    pos,
                    next,
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        let value = slot.value.with(|p| {
                            // SAFETY: stamp `pos + 1` (acquired above) says
                            // the push at `pos` wrote the value, and the
                            // CAS made this the only pop at `pos`; no push
                            // touches the slot until the stamp below.
                            unsafe { (*p).assume_init_read() }
                        });
                        slot.stamp
                            .store(pos.wrapping_add(self.lap), Ordering::Release);
                        return Some(value);
                    }
                    Err(p) => {
                        pos = p;
                        continue;
                    }
                }
            } else if stamp == pos {
                // Nothing pushed here this lap: empty, unless a push has
                // claimed the slot (moved the tail) and is writing it.
                if self.tail.0.load(Ordering::SeqCst) >> 1 == pos {
                    return None;
                }
                backoff(&mut spins);
            } else {
                // Another pop took `pos`; try the new head.
                backoff(&mut spins);
            }
            pos = self.head.0.load(Ordering::Relaxed);
        }
    }

    /// Whether a pop would find a value now (perhaps after waiting for a
    /// push that has claimed its slot), as [`pop`](Self::pop) decides.
    pub(crate) fn has_value(&self) -> bool {
        loop {
            let pos = self.head.0.load(Ordering::Relaxed);
            let stamp = self.slot(pos).stamp.load(Ordering::Acquire);
            if stamp == pos.wrapping_add(1) {
                return true;
            }
            if stamp == pos {
                return self.tail.0.load(Ordering::SeqCst) >> 1 != pos;
            }
            crate::loom::thread::yield_now();
        }
    }

    /// Whether a push would find room now (perhaps after waiting for a
    /// pop that has claimed its slot), as [`push`](Self::push) decides;
    /// closed or not.
    pub(crate) fn has_room(&self) -> bool {
        loop {
            let pos = self.tail.0.load(Ordering::Relaxed) >> 1;
            let stamp = self.slot(pos).stamp.load(Ordering::Acquire);
            if stamp == pos {
                return true;
            }
            if stamp.wrapping_add(self.lap) == pos.wrapping_add(1) {
                return self.head.0.load(Ordering::SeqCst).wrapping_add(self.lap) != pos;
            }
            crate::loom::thread::yield_now();
        }
    }

    /// How many values are in the ring (a snapshot).
    pub(crate) fn len(&self) -> usize {
        let cap = self.slots.len();
        loop {
            let tail = self.tail.0.load(Ordering::Acquire) >> 1;
            let head = self.head.0.load(Ordering::Acquire);
            if self.tail.0.load(Ordering::Acquire) >> 1 != tail {
                continue;
            }
            let (hi, ti) = (head & (self.lap - 1), tail & (self.lap - 1));
            return if ti > hi {
                ti - hi
            } else if ti < hi {
                cap - hi + ti
            } else if head == tail {
                0
            } else {
                cap
            };
        }
    }

    /// Marks the ring closed: every later push fails. Pushes that got a
    /// position before the mark complete, and are popped as usual.
    pub(crate) fn close(&self) {
        self.tail.0.fetch_or(CLOSED, Ordering::SeqCst);
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        // `&mut self`: every push and pop has returned, so every position
        // from head to tail holds a published value.
        let mut pos = self.head.0.load(Ordering::Relaxed);
        let end = self.tail.0.load(Ordering::Relaxed) >> 1;
        while pos != end {
            self.slot(pos).value.with_mut(|p| {
                // SAFETY: positions `head..tail` hold values pushed and not
                // popped, each dropped once here.
                unsafe { (*p).assume_init_drop() };
            });
            pos = self.next(pos);
        }
    }
}

/// Waits a little for another thread to finish its step: spins, growing,
/// then yields. (The list, `chan/list.rs`, waits the same way.)
#[inline]
pub(super) fn backoff(spins: &mut u32) {
    if cfg!(loom) || *spins >= 6 {
        crate::loom::thread::yield_now();
    } else {
        for _ in 0..1u32 << *spins {
            std::hint::spin_loop();
        }
        *spins += 1;
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn fifo_wraps_and_reports_full_and_closed() {
        let r = Ring::new(3);
        for round in 0..5 {
            for i in 0..3 {
                assert!(r.push(round * 10 + i).is_ok());
            }
            assert!(matches!(r.push(99), Err(PushError::Full(99))));
            assert_eq!(r.len(), 3);
            assert!(!r.has_room() && r.has_value());
            for i in 0..3 {
                assert_eq!(r.pop(), Some(round * 10 + i));
            }
            assert_eq!(r.pop(), None);
            assert_eq!(r.len(), 0);
            assert!(r.has_room() && !r.has_value());
        }
        r.push(7).ok();
        r.close();
        assert!(matches!(r.push(8), Err(PushError::Closed(8))));
        assert_eq!(r.pop(), Some(7));
        assert_eq!(r.pop(), None);
    }

    #[test]
    fn drops_what_is_left() {
        let v = std::sync::Arc::new(());
        let r = Ring::new(4);
        for _ in 0..3 {
            assert!(r.push(v.clone()).is_ok());
        }
        drop(r.pop());
        drop(r);
        assert_eq!(std::sync::Arc::strong_count(&v), 1);
    }

    #[test]
    fn two_producers_two_consumers_keep_per_producer_order() {
        use std::sync::Arc;
        const N: usize = 50_000;
        let r = Arc::new(Ring::new(8));
        let producers: Vec<_> = (0..2)
            .map(|p| {
                let r = r.clone();
                std::thread::spawn(move || {
                    for i in 0..N {
                        let mut v = (p, i);
                        while let Err(PushError::Full(back)) = r.push(v) {
                            v = back;
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let r = r.clone();
                std::thread::spawn(move || {
                    let mut last = [None::<usize>; 2];
                    let mut got = 0;
                    while got < N {
                        match r.pop() {
                            Some((p, i)) => {
                                assert!(last[p].is_none_or(|l| l < i), "order broken");
                                last[p] = Some(i);
                                got += 1;
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
        assert_eq!(r.pop(), None);
    }
}

/// Loom models of the ring alone: loom's `UnsafeCell` checks that no slot
/// is written and read at once, across laps.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;
    use loom::thread;

    /// Two pushers and a popper on two slots, wrapping to a second lap:
    /// every value comes out once, each pusher's in order.
    #[test]
    fn pushes_and_pops_across_laps() {
        loom::model(|| {
            let r = Arc::new(Ring::new(2));
            r.push(0).ok();
            let pushers: Vec<_> = [1, 2]
                .into_iter()
                .map(|v| {
                    let r = r.clone();
                    thread::spawn(move || r.push(v).is_ok())
                })
                .collect();
            let mut got = Vec::new();
            for _ in 0..2 {
                if let Some(v) = r.pop() {
                    got.push(v);
                }
            }
            let pushed: Vec<bool> = pushers.into_iter().map(|t| t.join().unwrap()).collect();
            while let Some(v) = r.pop() {
                got.push(v);
            }
            assert_eq!(got[0], 0);
            let want = 1 + pushed.iter().filter(|&&p| p).count();
            assert_eq!(got.len(), want, "{got:?} {pushed:?}");
        });
    }

    /// A push racing the close mark either lands (and is popped) or fails.
    #[test]
    fn push_racing_close() {
        loom::model(|| {
            let r = Arc::new(Ring::new(2));
            let r2 = r.clone();
            let t = thread::spawn(move || r2.push(7).is_ok());
            r.close();
            let pushed = t.join().unwrap();
            assert_eq!(r.pop(), pushed.then_some(7));
            assert!(matches!(r.push(8), Err(PushError::Closed(8))));
        });
    }
}
