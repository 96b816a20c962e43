//! How often a busy scheduler thread looks at the I/O driver.
//!
//! A thread whose run queue never empties still has to collect ready
//! sockets and due timers: every `event_interval` polls (default 61, as
//! tokio's) it takes a look that cannot block, an `epoll_wait` system
//! call. On a loop with no I/O to find that call is pure cost: about 6 ns
//! of every green-thread switch here (the switch took 43 ns instead of 49
//! with the looks spaced 100,000 polls apart, in an experiment).
//!
//! So the spacing adapts: a look that wakes nothing doubles it, up to
//! [`MAX_SHIFT`] doublings (16 x the interval, 976 polls by default); a
//! look that wakes anything sets it back to the interval. A server whose
//! looks keep finding sockets looks every `event_interval` polls, as
//! before; a loop busy with work that needs no I/O looks 16 times less
//! often, and a socket that turns ready there waits at most 16 intervals
//! of polls, not one. Go goes further: a busy Go scheduler polls the
//! network only when a processor runs dry, or from `sysmon` every 10 ms.

use std::cell::Cell;

/// At most this many doublings of the interval.
pub(crate) const MAX_SHIFT: u32 = 4;

/// One scheduler thread's spacing of its looks at the driver.
pub(crate) struct Pace {
    interval: u32,
    shift: Cell<u32>,
    /// Polls left before the next look (counted down: one decrement and
    /// one test a poll).
    left: Cell<u32>,
}

impl Pace {
    pub(crate) fn new(interval: u32) -> Pace {
        let interval = interval.max(1);
        Pace {
            interval,
            shift: Cell::new(0),
            left: Cell::new(interval),
        }
    }

    /// Counts a poll; true when it is time to look at the driver.
    #[inline]
    pub(crate) fn tick(&self) -> bool {
        let left = self.left.get() - 1;
        if left == 0 {
            self.restart();
            true
        } else {
            self.left.set(left);
            false
        }
    }

    /// Polls left before the next look.
    #[inline]
    pub(crate) fn left(&self) -> u32 {
        self.left.get()
    }

    /// Records what a look found: anything sets the spacing back to the
    /// interval, nothing doubles it (up to the cap).
    pub(crate) fn looked(&self, woke: bool) {
        let shift = if woke {
            0
        } else {
            (self.shift.get() + 1).min(MAX_SHIFT)
        };
        self.shift.set(shift);
        self.restart();
    }

    /// Counts the spacing afresh. Out of line, or the compiler computes
    /// it on every tick to save a branch.
    #[cold]
    #[inline(never)]
    fn restart(&self) {
        self.left.set(self.interval << self.shift.get());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Polls until the pace says to look; returns how many it took.
    fn polls_to_look(p: &Pace) -> u32 {
        (1..).find(|_| p.tick()).unwrap()
    }

    #[test]
    fn looks_that_find_nothing_space_out_up_to_the_cap() {
        let p = Pace::new(61);
        assert_eq!(polls_to_look(&p), 61);
        let mut seen = Vec::new();
        for _ in 0..6 {
            p.looked(false);
            seen.push(polls_to_look(&p));
        }
        assert_eq!(seen, [122, 244, 488, 976, 976, 976]);
    }

    #[test]
    fn a_look_that_finds_something_resets_the_spacing() {
        let p = Pace::new(61);
        for _ in 0..3 {
            p.looked(false);
        }
        assert_eq!(polls_to_look(&p), 488);
        p.looked(true);
        assert_eq!(polls_to_look(&p), 61);
    }

    #[test]
    fn an_interval_of_one_looks_at_every_poll_while_it_finds_work() {
        let p = Pace::new(1);
        assert!(p.tick());
        p.looked(true);
        assert!(p.tick());
        p.looked(false);
        assert!(!p.tick());
        assert!(p.tick());
    }
}
