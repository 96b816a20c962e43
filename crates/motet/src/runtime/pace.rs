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
//!
//! The same countdown paces a thread's other turns (its remote queue, the
//! work-stealing worker's inbox and injector): it fires at least every
//! [`TURN`] polls, and at each firing the thread takes its turn and asks
//! whether the look is due too. One decrement and one test a poll serve
//! both.

use std::cell::Cell;

/// At most this many doublings of the interval.
pub(crate) const MAX_SHIFT: u32 = 4;

/// Polls between two turns at most.
pub(crate) const TURN: u32 = 32;

/// One scheduler thread's spacing of its turns and of its looks at the
/// driver.
pub(crate) struct Pace {
    interval: u32,
    shift: Cell<u32>,
    /// Polls left before the next turn (counted down: one decrement and
    /// one test a poll).
    left: Cell<u32>,
    /// Polls from the next turn to the next look.
    beyond: Cell<u32>,
}

impl Pace {
    pub(crate) fn new(interval: u32) -> Pace {
        let pace = Pace {
            interval: interval.max(1),
            shift: Cell::new(0),
            left: Cell::new(0),
            beyond: Cell::new(0),
        };
        pace.restart();
        pace
    }

    /// Counts a poll; true when a turn is due (then [`look_due`] says
    /// whether a look is due with it).
    ///
    /// [`look_due`]: Pace::look_due
    #[inline]
    pub(crate) fn tick(&self) -> bool {
        let left = self.left.get() - 1;
        self.left.set(left);
        left == 0
    }

    /// Polls left before the next turn: its parity changes at every poll
    /// between two turns.
    #[inline]
    pub(crate) fn left(&self) -> u32 {
        self.left.get()
    }

    /// At a turn: true if it is time to look at the driver (the caller
    /// looks, then tells [`looked`](Pace::looked) what it found); else
    /// counts the polls to the next turn.
    #[cold]
    #[inline(never)]
    pub(crate) fn look_due(&self) -> bool {
        let beyond = self.beyond.get();
        if beyond == 0 {
            return true;
        }
        let next = beyond.min(TURN);
        self.left.set(next);
        self.beyond.set(beyond - next);
        false
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

    /// Counts the spacing afresh.
    fn restart(&self) {
        let polls = self.interval << self.shift.get();
        let next = polls.min(TURN);
        self.left.set(next);
        self.beyond.set(polls - next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Polls until the pace says to look; returns how many it took.
    fn polls_to_look(p: &Pace) -> u32 {
        (1..).find(|_| p.tick() && p.look_due()).unwrap()
    }

    /// Polls until the next turn; returns how many it took.
    fn polls_to_turn(p: &Pace) -> u32 {
        (1..).find(|_| p.tick()).unwrap()
    }

    #[test]
    fn turns_come_every_32_polls_at_most_and_at_every_look() {
        let p = Pace::new(61);
        assert_eq!(polls_to_turn(&p), 32);
        assert!(!p.look_due());
        assert_eq!(polls_to_turn(&p), 29);
        assert!(p.look_due());
        p.looked(false); // 122 polls to the next look
        let turns: Vec<u32> = (0..4)
            .map(|_| {
                let polls = polls_to_turn(&p);
                let _ = p.look_due();
                polls
            })
            .collect();
        assert_eq!(turns, [32, 32, 32, 26]);
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
        assert!(p.tick() && p.look_due());
        p.looked(true);
        assert!(p.tick() && p.look_due());
        p.looked(false);
        assert!(!p.tick());
        assert!(p.tick() && p.look_due());
    }
}
