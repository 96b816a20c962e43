//! A hierarchical timing wheel: the data structure behind every timer the
//! I/O driver owns.
//!
//! The driver keeps one [`Wheel`] behind a mutex. Before it blocks in
//! `epoll_wait` it asks [`Wheel::next_expiration`] how long it may sleep;
//! after every wait it calls [`Wheel::advance`] with the current tick, which
//! hands back the wakers of every timer that has come due. The wheel itself
//! knows nothing about clocks: it counts abstract ticks, and the driver
//! decides what a tick is (one millisecond since the driver started).
//!
//! # Glossary
//!
//! * **tick** – the unit of time, a `u64` count of milliseconds since the
//!   driver started. Deadlines and `now` are ticks.
//! * **level** – one of six rings of 64 slots. Level 0 is the finest; each
//!   level's slots are 64 times wider than the level below.
//! * **slot** – one bucket of a level: an intrusive doubly-linked list of the
//!   timers whose deadlines fall in that slot's tick range, plus one bit in
//!   the level's occupancy bitmap that is set exactly when the list is
//!   non-empty.
//! * **elapsed** – the tick the wheel has advanced to. Every timer whose
//!   deadline is `<= elapsed` has fired, except timers inserted *after* the
//!   wheel reached `elapsed` with a deadline already in the past ("overdue"
//!   timers), which fire at the next `advance`.
//! * **cascade** – when time reaches the start of an occupied slot on a
//!   level above 0, that slot's timers are re-filed relative to the new
//!   `elapsed`; each of them lands on a strictly lower level, and the ones
//!   that reach level 0 fire when time reaches their exact tick.
//! * **overflow** – a single extra list for timers beyond the wheel's reach
//!   (see "Far-future timers").
//!
//! # Levels and resolution
//!
//! Six levels of 64 slots. A timer is filed on the level given by the
//! highest bit in which its deadline differs from `elapsed`: if the two
//! differ only in bits `6k..6k+6` (and below) it goes to level `k`, in slot
//! `(deadline >> 6k) & 63`. So level `k` always describes the aligned block
//! of `64^(k+1)` ticks that contains `elapsed`, and its slot `s` holds the
//! deadlines in `[block start + s * 64^k, block start + (s + 1) * 64^k)`.
//!
//! | level | slot width          | span of the level (64 slots) |
//! |-------|---------------------|------------------------------|
//! | 0     | 1 ms                | 64 ms                        |
//! | 1     | 64 ms               | 4.096 s                      |
//! | 2     | 4.096 s             | 262.144 s (about 4.4 min)    |
//! | 3     | 262.144 s           | about 4.66 h                 |
//! | 4     | about 4.66 h        | about 12.4 days              |
//! | 5     | about 12.4 days     | 64^6 ms, about 795 days (2.2 years) |
//!
//! Level 0 is exact: a timer there fires at the first `advance` whose `now`
//! reaches its deadline, and `next_expiration` reports its deadline exactly.
//! A timer on level `k > 0` is not yet resolved below 64^k ticks; when time
//! reaches the start of its slot it cascades down, and it still fires at its
//! exact deadline. Deadlines are never rounded: the wheel stores each
//! timer's true deadline and only uses the levels to decide when to look at
//! it again.
//!
//! # Far-future timers
//!
//! Because level 5 describes the aligned block of 64^6 ticks that contains
//! `elapsed`, a deadline in a *later* block (`deadline >> 36 != elapsed >>
//! 36`) cannot be filed on any level. Such timers are parked on the
//! **overflow list**, which behaves like a seventh level with one slot: it is
//! "due for cascade" at the start of the next 64^6-tick block. When time
//! reaches that point (and every level is empty, which is then necessarily
//! the case, because everything on the levels lies before it) the overflow
//! list is re-filed relative to the new `elapsed`. Timers whose deadline now
//! falls in the current block go onto the levels; the rest go back onto the
//! overflow list. So the guaranteed horizon of the levels is the end of the
//! current 2.2-year block, which can be as little as one tick away; anything
//! further simply waits in overflow, and still fires at its true deadline.
//!
//! A single `advance` that jumps across several blocks does not visit each
//! block: when it processes the overflow list it moves `elapsed` straight to
//! the start of the block containing `now` (never past any level timer,
//! since the levels are empty then). Overflow timers whose deadline was
//! skipped are re-filed as overdue and fire within that same call, in
//! deadline order with everything else.
//!
//! # Complexity
//!
//! Entries live in a [`slab::Slab`]; slot lists are intrusive, linked by
//! `u32` slab index, so no operation allocates once the slab (and the
//! internal fired buffer) have grown to their high-water marks.
//!
//! * `insert` – O(1): a `leading_zeros`, a slab insert, a list push.
//! * `remove`, `set_waker` – O(1): a slab lookup checked against the key's
//!   generation, then an unlink (and a bit clear if the slot empties).
//! * `next_expiration` – O(levels): the first non-empty level's occupancy
//!   bitmap gives its first occupied slot with one `trailing_zeros`.
//! * `advance` – O(levels + timers moved + f log f) for `f` timers fired:
//!   it jumps from one occupied slot to the next through the bitmaps and
//!   never steps tick by tick, so a jump of hours or years over an empty or
//!   sparse wheel costs a handful of bitmap scans. Each timer is moved at
//!   most once per level on its way down (at most 5 cascades), plus one
//!   overflow re-file per `advance` call that crosses a 64^6 boundary while
//!   it is parked there. The fired timers are sorted by (deadline, insertion
//!   sequence) before their wakers are handed out.
//! * `len`, `is_empty`, `elapsed` – O(1).
//!
//! # Invariants
//!
//! Checked by `check_invariants` (a debug-assertion-only walk the tests call
//! after random operations):
//!
//! 1. **Placement.** Every pending entry sits in exactly the list that
//!    `list_for(entry.deadline)` names for the current `elapsed`: overdue
//!    entries (deadline < elapsed) in level 0's slot `elapsed & 63`,
//!    in-block entries on the level of the highest differing bit, later
//!    blocks in overflow. Since `elapsed` only grows, and `advance` visits
//!    every occupied slot that time passes, this stays true without ever
//!    touching untouched slots.
//! 2. **Nothing behind the cursor.** On level 0 no slot below `elapsed & 63`
//!    is occupied; on a level `k > 0` no slot at or below elapsed's level-k
//!    digit is occupied. (Follows from 1, checked separately on the bitmaps.)
//! 3. **Bitmaps.** Bit `s` of level `k`'s bitmap is set iff slot `s` of that
//!    level has a non-empty list.
//! 4. **Lists.** Each list is a well-formed doubly-linked chain (`prev` of
//!    the head is NIL, `prev` of each later entry is its predecessor), each
//!    entry records the list it is on, and the lists together hold every
//!    slab entry exactly once.
//! 5. **Keys.** Every entry's generation (its insertion sequence number) is
//!    below the next one to be issued, so each is unique for the wheel's
//!    lifetime; a key matches an entry only if index and generation agree.
//! 6. **Overdue floor.** `overdue_floor` is at most the deadline of every
//!    pending overdue entry, so `next_expiration` never overshoots one.
//!
//! # Keys and generations
//!
//! A [`TimerKey`] is a slab index plus a generation. The generation is the
//! entry's insertion sequence number, drawn from a `u64` counter that only
//! grows, so it is unique over the wheel's lifetime and can never wrap in
//! practice. When an entry fires or is removed its slab slot is freed; a
//! later timer may reuse the index but gets a new generation, so an old key
//! no longer matches and `remove`/`set_waker` through it do nothing. The
//! same sequence number breaks ties between equal deadlines, so ties fire in
//! insertion order.
//!
//! # Rejected alternatives
//!
//! * **Binary heap of deadlines.** O(log n) insert and pop, and no cheap
//!   cancel: removing an arbitrary timer needs either an O(n) search or an
//!   index-tracking heap, and lazy deletion leaves cancelled timers occupying
//!   memory until their deadline passes (a 30 s timeout cancelled after 1 ms
//!   lingers for 30 s). Timeouts are overwhelmingly cancelled before they
//!   fire, so O(1) cancel matters more than anything else here.
//! * **A flat array with one slot per millisecond.** O(1) everything, but
//!   the array must span the longest deadline (a day is 86.4 million slots),
//!   and finding the next expiration or advancing over an idle stretch means
//!   scanning slot after slot.
//! * **A single-level wheel with rounds** (timers hashed by `deadline mod
//!   N`, each carrying a count of remaining revolutions). Cheap insert and
//!   cancel, but every advance past a slot must inspect every timer in it,
//!   including the ones with many rounds to go; the next expiration cannot be
//!   found without scanning timers; and a long jump must walk every slot of
//!   every revolution or rescan everything.
//!
//! The hierarchy keeps the O(1) insert and cancel of a wheel while bounding
//! the work per timer by the number of levels, and the occupancy bitmaps let
//! both `next_expiration` and `advance` skip empty time in O(levels).

use std::fmt;
use std::mem;
use std::task::Waker;

use slab::Slab;

/// Number of levels in the hierarchy.
const LEVELS: usize = 6;
/// log2 of the number of slots per level.
const SLOT_BITS: u32 = 6;
/// Slots per level.
const SLOTS: usize = 1 << SLOT_BITS;
/// Mask selecting a slot number out of a shifted tick.
const SLOT_MASK: u64 = (SLOTS as u64) - 1;
/// Bits of tick covered by all levels together: 64^6 ticks.
const WHEEL_BITS: u32 = SLOT_BITS * LEVELS as u32;
/// Mask of the tick bits inside one top-level block of 64^6 ticks.
const BLOCK_MASK: u64 = (1u64 << WHEEL_BITS) - 1;
/// Number of slot lists on the levels; list `k * SLOTS + s` is slot `s` of
/// level `k`.
const LEVEL_LISTS: usize = LEVELS * SLOTS;
/// List id of the overflow list for timers beyond the current top block.
const OVERFLOW: usize = LEVEL_LISTS;
/// Total number of lists (levels plus overflow).
const LISTS: usize = LEVEL_LISTS + 1;
/// The "no entry" link value; slab indices must stay below it.
const NIL: u32 = u32::MAX;

/// Handle to a registered timer: its slab index plus the generation it was
/// given, so a key whose timer has fired or been removed never affects a
/// later timer that reuses the same slab index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimerKey {
    /// Index of the entry in the wheel's slab.
    index: u32,
    /// Insertion sequence number of the entry this key was issued for.
    generation: u64,
}

/// One pending timer, stored in the slab and linked into exactly one list.
struct Entry {
    /// The true deadline, in ticks; never rounded.
    deadline: u64,
    /// Insertion sequence number: the generation in the key and the
    /// tie-breaker among equal deadlines.
    seq: u64,
    /// The waker handed out when the timer fires.
    waker: Waker,
    /// Previous entry in the same list, or `NIL` for the head.
    prev: u32,
    /// Next entry in the same list, or `NIL` for the tail.
    next: u32,
    /// Id of the list the entry is on (`0..LISTS`).
    list: u16,
}

/// Work counters used by tests to bound the cost of `advance`.
#[cfg(test)]
#[derive(Clone, Copy, Debug, Default)]
struct Stats {
    /// Occupied lists visited by `advance` (one per cascade or expiry).
    events: u64,
    /// Entries re-filed from a higher level or from overflow.
    refiled: u64,
}

/// A hierarchical timing wheel of six levels of 64 slots (see the module
/// documentation for the design).
pub(crate) struct Wheel {
    /// All pending timers.
    entries: Slab<Entry>,
    /// Head of each list (`NIL` when empty): level slots, then overflow.
    heads: [u32; LISTS],
    /// Per-level occupancy bitmaps: bit `s` set iff slot `s` is non-empty.
    occupied: [u64; LEVELS],
    /// The tick the wheel has advanced to.
    elapsed: u64,
    /// The next insertion sequence number (generation) to hand out.
    next_seq: u64,
    /// A lower bound on the deadlines of overdue timers (inserted with a
    /// deadline below `elapsed`); `u64::MAX` when there are none.
    overdue_floor: u64,
    /// Reused buffer of (deadline, seq, waker) for timers fired by one
    /// `advance`, kept to avoid reallocating on every call.
    due: Vec<(u64, u64, Waker)>,
    /// Work counters for tests.
    #[cfg(test)]
    stats: Stats,
}

impl Wheel {
    /// Creates an empty wheel at tick 0.
    pub(crate) fn new() -> Wheel {
        Wheel {
            entries: Slab::new(),
            heads: [NIL; LISTS],
            occupied: [0; LEVELS],
            elapsed: 0,
            next_seq: 0,
            overdue_floor: u64::MAX,
            due: Vec::new(),
            #[cfg(test)]
            stats: Stats::default(),
        }
    }

    /// The tick the wheel has advanced to.
    // Only the tests need it so far; kept as part of the wheel's API.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// Number of pending timers.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no timer is pending.
    // Only the tests need it so far; kept as part of the wheel's API.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Registers a timer. A deadline <= elapsed() fires at the next advance().
    ///
    /// Panics if `u32::MAX - 1` timers are already pending.
    pub(crate) fn insert(&mut self, deadline: u64, waker: Waker) -> TimerKey {
        let seq = self.next_seq;
        self.next_seq += 1;
        let vacant = self.entries.vacant_entry();
        let index = match u32::try_from(vacant.key()) {
            Ok(index) if index != NIL => index,
            _ => panic!("timer wheel: too many pending timers"),
        };
        vacant.insert(Entry {
            deadline,
            seq,
            waker,
            prev: NIL,
            next: NIL,
            list: 0,
        });
        if deadline < self.elapsed {
            self.overdue_floor = self.overdue_floor.min(deadline);
        }
        let list = self.list_for(deadline);
        self.link(index, list);
        TimerKey {
            index,
            generation: seq,
        }
    }

    /// Replaces the waker unless `will_wake` says it is the same. false if the timer already fired or was removed.
    pub(crate) fn set_waker(&mut self, key: TimerKey, waker: &Waker) -> bool {
        match self.entries.get_mut(key.index as usize) {
            Some(entry) if entry.seq == key.generation => {
                if !entry.waker.will_wake(waker) {
                    entry.waker = waker.clone();
                }
                true
            }
            _ => false,
        }
    }

    /// Cancels. true if it was still pending; a stale or fired key is harmless and returns false.
    ///
    /// The timer's waker is dropped here, while the caller holds whatever
    /// lock guards the wheel.
    pub(crate) fn remove(&mut self, key: TimerKey) -> bool {
        match self.entries.get(key.index as usize) {
            Some(entry) if entry.seq == key.generation => {
                self.unlink(key.index);
                self.entries.remove(key.index as usize);
                true
            }
            _ => false,
        }
    }

    /// None if no timer is pending; otherwise a tick no later than the earliest pending deadline,
    /// and as close to it as cheaply possible (exact for timers in the lowest level; for a higher level
    /// the tick at which its slot must be cascaded is fine). Must be O(levels), not O(timers).
    ///
    /// A result `<= elapsed()` means a timer is already due (an overdue
    /// insert): the driver should not block. For overdue timers the result is
    /// a lower bound on their deadlines that may be stale-low after some of
    /// them were removed.
    pub(crate) fn next_expiration(&self) -> Option<u64> {
        let (_, tick) = self.next_event()?;
        // Only level 0's current slot starts at `elapsed`; it is where
        // overdue timers wait, so report the lowest overdue deadline too.
        Some(if tick == self.elapsed {
            tick.min(self.overdue_floor)
        } else {
            tick
        })
    }

    /// Moves time to `now` (never backwards: a smaller `now` is a no-op apart from firing due timers),
    /// pushes the wakers of every timer with deadline <= now onto `fired`, in nondecreasing deadline
    /// order (ties in insertion order), cascading higher levels down as needed. A jump of hours or years
    /// must cost O(levels + timers moved), never one step per tick (use a per-level occupancy bitmap).
    ///
    /// The wakers are only collected, not woken, so the caller can release
    /// the wheel's lock before waking them.
    pub(crate) fn advance(&mut self, now: u64, fired: &mut Vec<Waker>) {
        let now = now.max(self.elapsed);
        while let Some((list, tick)) = self.next_event() {
            if tick > now {
                break;
            }
            #[cfg(test)]
            {
                self.stats.events += 1;
            }
            if list == OVERFLOW {
                // Every level is empty (their slots all lie before `tick`),
                // so nothing is skipped by jumping straight to the block
                // holding `now`; overflow timers already behind that point
                // are re-filed as overdue and fire in this call.
                self.elapsed = tick.max(now & !BLOCK_MASK);
                self.refile(list);
            } else {
                self.elapsed = tick;
                if list < SLOTS {
                    self.expire(list);
                } else {
                    self.refile(list);
                }
            }
        }
        self.elapsed = now;
        // Level 0's slot at `now` was just expired (if it held anything), so
        // no overdue timer is left.
        self.overdue_floor = u64::MAX;
        let mut due = mem::take(&mut self.due);
        due.sort_unstable_by_key(|&(deadline, seq, _)| (deadline, seq));
        fired.extend(due.drain(..).map(|(_, _, waker)| waker));
        self.due = due;
    }

    /// The list a timer with `deadline` belongs on, given the current
    /// `elapsed`: level 0's current slot for overdue deadlines, the level of
    /// the highest bit in which the deadline differs from `elapsed`
    /// otherwise, or overflow when that bit is beyond the top level.
    fn list_for(&self, deadline: u64) -> usize {
        let deadline = deadline.max(self.elapsed);
        let diff = deadline ^ self.elapsed;
        if diff >> WHEEL_BITS != 0 {
            return OVERFLOW;
        }
        // `| SLOT_MASK` makes every difference below 64 land on level 0.
        let level = ((63 - (diff | SLOT_MASK).leading_zeros()) / SLOT_BITS) as usize;
        let slot = ((deadline >> (level as u32 * SLOT_BITS)) & SLOT_MASK) as usize;
        level * SLOTS + slot
    }

    /// The earliest list that needs attention and the tick at which it does:
    /// the first occupied slot of the lowest non-empty level (its start
    /// tick), or else the overflow list (the start of the next top block).
    fn next_event(&self) -> Option<(usize, u64)> {
        for (level, &bits) in self.occupied.iter().enumerate() {
            if bits != 0 {
                // No bit below elapsed's digit is set (invariant 2), so the
                // lowest set bit is the next slot in time.
                let slot = u64::from(bits.trailing_zeros());
                let shift = level as u32 * SLOT_BITS;
                let level_block = (1u64 << (shift + SLOT_BITS)) - 1;
                let tick = (self.elapsed & !level_block) | (slot << shift);
                return Some((level * SLOTS + slot as usize, tick));
            }
        }
        if self.heads[OVERFLOW] != NIL {
            // Overflow entries lie in a later block, so `elapsed` is not in
            // the last block and this cannot overflow.
            let tick = (self.elapsed | BLOCK_MASK).saturating_add(1);
            return Some((OVERFLOW, tick));
        }
        None
    }

    /// Pushes entry `index` onto the front of `list`, setting the occupancy
    /// bit if the list was empty.
    fn link(&mut self, index: u32, list: usize) {
        let head = self.heads[list];
        let entry = &mut self.entries[index as usize];
        entry.prev = NIL;
        entry.next = head;
        entry.list = list as u16;
        if head != NIL {
            self.entries[head as usize].prev = index;
        } else if list < LEVEL_LISTS {
            self.occupied[list / SLOTS] |= 1 << (list % SLOTS);
        }
        self.heads[list] = index;
    }

    /// Unlinks entry `index` from its list, clearing the occupancy bit (and
    /// the overdue floor, for level 0's current slot) if the list empties.
    fn unlink(&mut self, index: u32) {
        let (prev, next, list) = {
            let entry = &self.entries[index as usize];
            (entry.prev, entry.next, entry.list as usize)
        };
        if next != NIL {
            self.entries[next as usize].prev = prev;
        }
        if prev != NIL {
            self.entries[prev as usize].next = next;
        } else {
            self.heads[list] = next;
            if next == NIL && list < LEVEL_LISTS {
                self.occupied[list / SLOTS] &= !(1 << (list % SLOTS));
                if list == (self.elapsed & SLOT_MASK) as usize {
                    self.overdue_floor = u64::MAX;
                }
            }
        }
    }

    /// Detaches the whole of `list`, clearing its occupancy bit, and returns
    /// the former head. The chain's `next` links stay intact for walking.
    fn take_list(&mut self, list: usize) -> u32 {
        if list < LEVEL_LISTS {
            self.occupied[list / SLOTS] &= !(1 << (list % SLOTS));
        }
        mem::replace(&mut self.heads[list], NIL)
    }

    /// Fires every entry of level-0 list `list`: frees their slab slots and
    /// queues (deadline, seq, waker) on the `due` buffer.
    fn expire(&mut self, list: usize) {
        let mut index = self.take_list(list);
        while index != NIL {
            let entry = self.entries.remove(index as usize);
            debug_assert!(entry.deadline <= self.elapsed, "fired a timer early");
            index = entry.next;
            self.due.push((entry.deadline, entry.seq, entry.waker));
        }
    }

    /// Cascades `list`: re-files each of its entries relative to the current
    /// `elapsed` (onto a lower level, level 0's current slot if overdue, or
    /// back onto overflow).
    fn refile(&mut self, list: usize) {
        let mut index = self.take_list(list);
        while index != NIL {
            let (next, deadline) = {
                let entry = &self.entries[index as usize];
                (entry.next, entry.deadline)
            };
            let target = self.list_for(deadline);
            debug_assert!(target < list || list == OVERFLOW, "cascade must go down");
            self.link(index, target);
            #[cfg(test)]
            {
                self.stats.refiled += 1;
            }
            index = next;
        }
    }

    /// Walks every list and checks the invariants listed in the module
    /// documentation with `debug_assert!`s. O(timers + lists); a no-op in
    /// builds without debug assertions.
    #[cfg_attr(not(test), allow(dead_code))]
    fn check_invariants(&self) {
        if !cfg!(debug_assertions) {
            return;
        }
        let mut seen = 0usize;
        for list in 0..LISTS {
            let head = self.heads[list];
            if list < LEVEL_LISTS {
                let bit = (self.occupied[list / SLOTS] >> (list % SLOTS)) & 1 == 1;
                debug_assert_eq!(bit, head != NIL, "bitmap disagrees with list {list}");
            }
            let mut prev = NIL;
            let mut index = head;
            while index != NIL {
                let entry = &self.entries[index as usize];
                debug_assert_eq!(entry.prev, prev, "broken back link in list {list}");
                debug_assert_eq!(entry.list as usize, list, "entry records wrong list");
                debug_assert_eq!(
                    self.list_for(entry.deadline),
                    list,
                    "entry with deadline {} misfiled at elapsed {}",
                    entry.deadline,
                    self.elapsed
                );
                debug_assert!(entry.seq < self.next_seq, "generation from the future");
                if entry.deadline < self.elapsed {
                    debug_assert!(
                        self.overdue_floor <= entry.deadline,
                        "overdue floor too high"
                    );
                }
                seen += 1;
                debug_assert!(seen <= self.entries.len(), "cycle in list {list}");
                prev = index;
                index = entry.next;
            }
        }
        debug_assert_eq!(seen, self.entries.len(), "entries missing from the lists");
        for (level, &bits) in self.occupied.iter().enumerate() {
            let digit = (self.elapsed >> (level as u32 * SLOT_BITS)) & SLOT_MASK;
            // Slots strictly below the digit, plus the digit itself above level 0.
            let behind = if level == 0 {
                (1u64 << digit) - 1
            } else {
                u64::MAX >> (63 - digit)
            };
            debug_assert_eq!(
                bits & behind,
                0,
                "occupied slot behind the cursor on level {level}"
            );
        }
    }
}

impl fmt::Debug for Wheel {
    /// Summarises the wheel: elapsed tick, pending count, next expiration.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wheel")
            .field("elapsed", &self.elapsed)
            .field("len", &self.len())
            .field("next_expiration", &self.next_expiration())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};
    use std::task::Wake;

    /// Milliseconds in a (365-day) year.
    const YEAR: u64 = 365 * 24 * 3600 * 1000;

    /// A waker that appends its id to a shared log when woken.
    struct Recorder {
        /// Id logged on wake.
        id: usize,
        /// The shared log.
        log: Arc<Mutex<Vec<usize>>>,
    }

    impl Wake for Recorder {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            self.log.lock().unwrap().push(self.id);
        }
    }

    /// Shared wake log plus helpers to make wakers and drive the wheel.
    #[derive(Default)]
    struct Log(Arc<Mutex<Vec<usize>>>);

    impl Log {
        /// A waker that logs `id`.
        fn waker(&self, id: usize) -> Waker {
            Waker::from(Arc::new(Recorder {
                id,
                log: self.0.clone(),
            }))
        }

        /// Advances `wheel` to `now`, wakes what fired in order, and returns
        /// the ids logged.
        fn advance(&self, wheel: &mut Wheel, now: u64) -> Vec<usize> {
            let mut fired = Vec::new();
            wheel.advance(now, &mut fired);
            for waker in fired {
                waker.wake();
            }
            mem::take(&mut *self.0.lock().unwrap())
        }
    }

    /// xorshift64: a tiny deterministic PRNG for the randomized tests.
    struct XorShift(u64);

    impl XorShift {
        /// Next raw 64-bit value.
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        /// Uniform-ish value in `0..n` (0 when `n == 0`).
        fn below(&mut self, n: u64) -> u64 {
            if n == 0 {
                0
            } else {
                self.next() % n
            }
        }

        /// An offset drawn from a heavy-tailed mix of ranges, so timers land
        /// on every level and some beyond the wheel.
        fn offset(&mut self) -> u64 {
            match self.below(100) {
                0..=34 => self.below(64),
                35..=59 => self.below(4_096),
                60..=79 => self.below(1_000_000),
                80..=94 => self.below(1 << 33),
                _ => self.below(3 << WHEEL_BITS),
            }
        }
    }

    #[test]
    fn new_wheel_is_empty() {
        let mut wheel = Wheel::new();
        assert_eq!(wheel.elapsed(), 0);
        assert_eq!(wheel.len(), 0);
        assert!(wheel.is_empty());
        assert_eq!(wheel.next_expiration(), None);
        wheel.check_invariants();
        let log = Log::default();
        assert!(log.advance(&mut wheel, 1_000).is_empty());
        assert_eq!(wheel.elapsed(), 1_000);
        assert_eq!(
            format!("{wheel:?}"),
            "Wheel { elapsed: 1000, len: 0, next_expiration: None, .. }"
        );
    }

    #[test]
    fn hundred_thousand_random_timers_fire_once_in_order() {
        const TOTAL: usize = 100_000;
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let log = Log::default();
        let mut wheel = Wheel::new();
        // (deadline, id): ids are assigned in insertion order, so this is
        // exactly the order the wheel must fire in.
        let mut pending: BTreeMap<(u64, usize), ()> = BTreeMap::new();
        let mut deadlines: Vec<u64> = Vec::with_capacity(TOTAL);
        let mut fire_count = vec![0u32; TOTAL];
        let mut last: Option<(u64, usize)> = None;
        let mut steps = 0u64;
        while deadlines.len() < TOTAL || !wheel.is_empty() {
            steps += 1;
            if deadlines.len() < TOTAL {
                let batch = rng.below(100) as usize;
                for _ in 0..batch.min(TOTAL - deadlines.len()) {
                    let id = deadlines.len();
                    let deadline = wheel.elapsed() + rng.offset();
                    wheel.insert(deadline, log.waker(id));
                    pending.insert((deadline, id), ());
                    deadlines.push(deadline);
                }
            }
            if let Some(&(earliest, _)) = pending.keys().next() {
                assert!(wheel.next_expiration().unwrap() <= earliest);
            }
            let before = wheel.elapsed();
            let now = match rng.below(100) {
                0..=2 => before - rng.below(before + 1), // backwards: no-op
                3..=49 => before + rng.below(64),
                50..=74 => before + rng.below(5_000),
                75..=89 => before + rng.below(2_000_000),
                90..=96 => before + rng.below(1 << 34),
                _ => before + rng.below(1 << 38),
            };
            let now = if deadlines.len() == TOTAL && rng.below(2) == 0 {
                // Drain like a driver would: sleep until the next expiration.
                wheel.next_expiration().unwrap_or(now).max(now)
            } else {
                now
            };
            let reached = now.max(before);
            let got = log.advance(&mut wheel, now);
            let mut expected = Vec::new();
            while let Some((&(deadline, id), ())) = pending.first_key_value() {
                if deadline > reached {
                    break;
                }
                pending.remove(&(deadline, id));
                expected.push(id);
            }
            assert_eq!(
                got, expected,
                "wrong timers fired advancing {before} -> {now}"
            );
            assert_eq!(wheel.elapsed(), reached);
            assert_eq!(wheel.len(), pending.len());
            for id in got {
                fire_count[id] += 1;
                assert!(deadlines[id] <= reached, "timer {id} fired early");
                if let Some(prev) = last {
                    assert!(prev < (deadlines[id], id), "stream out of order");
                }
                last = Some((deadlines[id], id));
            }
            if steps % 64 == 0 {
                wheel.check_invariants();
            }
        }
        assert!(
            fire_count.iter().all(|&n| n == 1),
            "some timer fired not exactly once"
        );
        assert_eq!(wheel.next_expiration(), None);
        wheel.check_invariants();
    }

    #[test]
    fn ties_fire_in_insertion_order_on_every_level() {
        let log = Log::default();
        let mut wheel = Wheel::new();
        // Same pattern near (level 0), mid-range (level 2) and beyond the wheel.
        let bases = [10, 100_000, 5 << WHEEL_BITS];
        let mut expected = Vec::new();
        let mut id = 0;
        for base in bases {
            for delta in [5, 3, 5, 3, 4, 3] {
                wheel.insert(base + delta, log.waker(id));
                id += 1;
            }
        }
        for (i, _) in bases.iter().enumerate() {
            let first = i * 6;
            expected.extend([1, 3, 5, 4, 0, 2].map(|k| first + k));
        }
        let got = log.advance(&mut wheel, u64::MAX);
        assert_eq!(got, expected);
        assert!(wheel.is_empty());
    }

    #[test]
    fn removed_timer_never_fires_and_stale_keys_are_harmless() {
        let log = Log::default();
        let mut wheel = Wheel::new();
        let a = wheel.insert(50, log.waker(0));
        let b = wheel.insert(50_000, log.waker(1));
        let c = wheel.insert(70, log.waker(2));
        assert_eq!(wheel.len(), 3);
        assert!(wheel.remove(a));
        assert!(!wheel.remove(a), "second remove of the same key");
        assert!(wheel.remove(b));
        assert_eq!(wheel.len(), 1);
        wheel.check_invariants();
        assert_eq!(log.advance(&mut wheel, 100_000), vec![2]);
        assert!(!wheel.remove(c), "remove after firing");
        assert!(!wheel.set_waker(c, &log.waker(9)), "set_waker after firing");

        // Slab slot reuse: the new timer gets a's index but not its key.
        let d = wheel.insert(100_010, log.waker(3));
        assert!([a.index, b.index, c.index].contains(&d.index));
        let stale = TimerKey {
            index: d.index,
            generation: a.generation,
        };
        for old in [a, b, c, stale] {
            assert_ne!(old, d);
            assert!(!wheel.remove(old));
            assert!(!wheel.set_waker(old, &log.waker(9)));
        }
        assert_eq!(wheel.len(), 1);
        assert_eq!(log.advance(&mut wheel, 100_010), vec![3]);
        assert!(wheel.is_empty());
    }

    #[test]
    fn stale_key_with_reused_index_does_not_cancel() {
        let log = Log::default();
        let mut wheel = Wheel::new();
        let old = wheel.insert(10, log.waker(0));
        assert!(wheel.remove(old));
        let new = wheel.insert(20, log.waker(1));
        assert_eq!(new.index, old.index, "slab reuses the freed index");
        assert_ne!(new.generation, old.generation);
        assert!(!wheel.remove(old));
        assert_eq!(wheel.len(), 1);
        assert_eq!(log.advance(&mut wheel, 20), vec![1]);
    }

    #[test]
    fn set_waker_replaces_the_waker() {
        let log = Log::default();
        let mut wheel = Wheel::new();
        let key = wheel.insert(300, log.waker(1));
        assert!(wheel.set_waker(key, &log.waker(2)));
        // A waker that will_wake the current one is kept (same Arc).
        let three = log.waker(3);
        assert!(wheel.set_waker(key, &three));
        assert!(wheel.set_waker(key, &three.clone()));
        assert_eq!(log.advance(&mut wheel, 299), Vec::<usize>::new());
        assert_eq!(log.advance(&mut wheel, 300), vec![3]);
        assert!(!wheel.set_waker(key, &log.waker(4)));
    }

    #[test]
    fn overdue_deadline_fires_on_next_advance() {
        let log = Log::default();
        let mut wheel = Wheel::new();
        assert!(log.advance(&mut wheel, 1_000).is_empty());
        wheel.insert(1_000, log.waker(0));
        wheel.insert(500, log.waker(1));
        wheel.insert(0, log.waker(2));
        wheel.insert(1_001, log.waker(3));
        wheel.check_invariants();
        assert_eq!(wheel.next_expiration(), Some(0));
        // A smaller `now` does not move time but fires what is due.
        assert_eq!(log.advance(&mut wheel, 10), vec![2, 1, 0]);
        assert_eq!(wheel.elapsed(), 1_000);
        assert_eq!(wheel.next_expiration(), Some(1_001));
        // Same tick again: nothing more.
        wheel.insert(999, log.waker(4));
        assert_eq!(wheel.next_expiration(), Some(999));
        assert_eq!(log.advance(&mut wheel, 1_000), vec![4]);
        assert_eq!(log.advance(&mut wheel, 1_001), vec![3]);
        // An overdue timer that is removed leaves no stale floor behind.
        let key = wheel.insert(5, log.waker(5));
        assert!(wheel.remove(key));
        assert_eq!(wheel.next_expiration(), None);
        wheel.insert(1_001, log.waker(6));
        assert_eq!(wheel.next_expiration(), Some(1_001));
        assert_eq!(log.advance(&mut wheel, 0), vec![6]);
    }

    #[test]
    fn five_year_timer_fires_exactly_at_its_deadline() {
        let log = Log::default();
        let mut wheel = Wheel::new();
        let deadline = 5 * YEAR + 7;
        wheel.insert(deadline, log.waker(0));
        let mut rng = XorShift(42);
        let mut stops = [
            2 * YEAR,
            BLOCK_MASK,
            BLOCK_MASK + 1,
            BLOCK_MASK + 2,
            deadline - YEAR,
            2 << WHEEL_BITS,
            deadline - 1_000_000,
            deadline - 64,
        ];
        stops.sort_unstable();
        assert!(stops[stops.len() - 1] < deadline);
        let mut now = 0;
        for stop in stops {
            // A few random big jumps before each planned stop.
            while now + (1 << 30) < stop {
                now += rng.below(stop - now);
                assert!(
                    log.advance(&mut wheel, now).is_empty(),
                    "fired early at {now}"
                );
                assert!(wheel.next_expiration().unwrap() <= deadline);
                wheel.check_invariants();
            }
            now = stop;
            assert!(
                log.advance(&mut wheel, now).is_empty(),
                "fired early at {now}"
            );
            assert!(wheel.next_expiration().unwrap() <= deadline);
            wheel.check_invariants();
        }
        assert!(log.advance(&mut wheel, deadline - 1).is_empty());
        assert_eq!(wheel.next_expiration(), Some(deadline));
        assert_eq!(log.advance(&mut wheel, deadline), vec![0]);
        assert!(wheel.is_empty());
    }

    #[test]
    fn far_timer_fires_on_time_in_a_single_huge_jump() {
        let log = Log::default();
        let mut wheel = Wheel::new();
        wheel.insert(5 * YEAR + 7, log.waker(0));
        wheel.insert(5 * YEAR + 6, log.waker(1));
        wheel.insert(u64::MAX, log.waker(2));
        assert_eq!(wheel.next_expiration(), Some(BLOCK_MASK + 1));
        assert!(log.advance(&mut wheel, 5 * YEAR + 5).is_empty());
        assert_eq!(log.advance(&mut wheel, 5 * YEAR + 7), vec![1, 0]);
        // 2^28 top-level blocks lie ahead; crossing them must not cost one
        // step per block.
        wheel.stats = Stats::default();
        assert!(log.advance(&mut wheel, u64::MAX - 1).is_empty());
        assert!(wheel.stats.events <= LEVELS as u64 + 1, "{:?}", wheel.stats);
        assert_eq!(wheel.next_expiration(), Some(u64::MAX));
        assert_eq!(log.advance(&mut wheel, u64::MAX), vec![2]);
        wheel.check_invariants();
    }

    #[test]
    fn near_timer_across_top_block_boundary_uses_overflow() {
        let log = Log::default();
        let mut wheel = Wheel::new();
        let start = BLOCK_MASK - 10;
        assert!(log.advance(&mut wheel, start).is_empty());
        let deadline = start + 20;
        let key = wheel.insert(deadline, log.waker(0));
        assert_eq!(wheel.entries[key.index as usize].list as usize, OVERFLOW);
        wheel.check_invariants();
        assert_eq!(wheel.next_expiration(), Some(BLOCK_MASK + 1));
        assert!(log.advance(&mut wheel, BLOCK_MASK + 1).is_empty());
        assert_eq!(wheel.next_expiration(), Some(deadline));
        assert!(log.advance(&mut wheel, deadline - 1).is_empty());
        assert_eq!(log.advance(&mut wheel, deadline), vec![0]);
    }

    #[test]
    fn next_expiration_matches_a_reference_model() {
        let mut rng = XorShift(0xDEAD_BEEF_1234_5678);
        let log = Log::default();
        let mut wheel = Wheel::new();
        // Reference: (deadline, id) of pending timers; ids in insertion order.
        let mut model: BTreeMap<(u64, usize), ()> = BTreeMap::new();
        // Every key ever issued, with its deadline, including dead ones.
        let mut keys: Vec<(TimerKey, u64)> = Vec::new();
        let mut overdue_since_advance = false;
        for _ in 0..40_000 {
            let op = rng.below(100);
            if op < 40 && model.len() < 300 {
                let id = keys.len();
                let e = wheel.elapsed();
                let deadline = if rng.below(20) == 0 {
                    overdue_since_advance |= e > 0;
                    e - rng.below(e.min(1_000) + 1)
                } else {
                    e + rng.offset()
                };
                let key = wheel.insert(deadline, log.waker(id));
                keys.push((key, deadline));
                model.insert((deadline, id), ());
            } else if op < 65 && !keys.is_empty() {
                let id = rng.below(keys.len() as u64) as usize;
                let (key, deadline) = keys[id];
                let live = model.remove(&(deadline, id)).is_some();
                assert_eq!(wheel.remove(key), live);
            } else if op < 72 && !keys.is_empty() {
                let id = rng.below(keys.len() as u64) as usize;
                let (key, deadline) = keys[id];
                let live = model.contains_key(&(deadline, id));
                assert_eq!(wheel.set_waker(key, &log.waker(id)), live);
            } else {
                let e = wheel.elapsed();
                let now = match rng.below(4) {
                    0 => wheel.next_expiration().unwrap_or(e),
                    1 => e + rng.below(64),
                    2 => e + rng.below(100_000),
                    _ => e + rng.offset(),
                };
                let reached = now.max(e);
                let got = log.advance(&mut wheel, now);
                let mut expected = Vec::new();
                while let Some((&(deadline, id), ())) = model.first_key_value() {
                    if deadline > reached {
                        break;
                    }
                    model.remove(&(deadline, id));
                    expected.push(id);
                }
                assert_eq!(got, expected);
                overdue_since_advance = false;
            }

            assert_eq!(wheel.len(), model.len());
            assert_eq!(wheel.is_empty(), model.is_empty());
            let next = wheel.next_expiration();
            match model.keys().next() {
                None => assert_eq!(next, None),
                Some(&(earliest, _)) => {
                    let next = next.expect("pending timers but no expiration");
                    assert!(next <= earliest, "next {next} after earliest {earliest}");
                    let e = wheel.elapsed();
                    let in_level0 = earliest >= e && earliest >> SLOT_BITS == e >> SLOT_BITS;
                    if in_level0 && !overdue_since_advance {
                        assert_eq!(next, earliest, "level-0 expiration not exact");
                    }
                }
            }
            wheel.check_invariants();
        }
    }

    #[test]
    fn ten_year_jump_costs_a_few_cascades() {
        let log = Log::default();
        let mut wheel = Wheel::new();
        let deadlines = [1, 3_600_000, 3 * YEAR, 9 * YEAR + 12_345, 20 * YEAR];
        for (id, &deadline) in deadlines.iter().enumerate() {
            wheel.insert(deadline, log.waker(id));
        }
        wheel.stats = Stats::default();
        assert_eq!(log.advance(&mut wheel, 10 * YEAR), vec![0, 1, 2, 3]);
        assert_eq!(wheel.len(), 1);
        // Each timer is moved at most once per level plus one overflow
        // re-file, and fires once; 3.15e11 ticks were skipped.
        let bound = (deadlines.len() * (LEVELS + 1)) as u64;
        assert!(wheel.stats.events <= bound, "{:?}", wheel.stats);
        assert!(wheel.stats.refiled <= bound, "{:?}", wheel.stats);
        wheel.check_invariants();

        // An empty wheel does no work at all for a ten-year jump.
        let mut empty = Wheel::new();
        empty.advance(10 * YEAR, &mut Vec::new());
        assert_eq!(empty.stats.events, 0);
        assert_eq!(empty.elapsed(), 10 * YEAR);

        // A sparse wheel advanced in many big steps stays cheap too.
        wheel.stats = Stats::default();
        let mut now = wheel.elapsed();
        let mut fired = Vec::new();
        while now < 20 * YEAR {
            now += YEAR / 3;
            fired.extend(log.advance(&mut wheel, now));
        }
        assert!(wheel.is_empty());
        assert_eq!(fired, vec![4]);
        assert!(wheel.stats.events <= 40, "{:?}", wheel.stats);
    }
}
