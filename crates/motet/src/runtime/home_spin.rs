//! How long an idle work-stealing worker spins for the next wake-up of a
//! green thread homed on it, before it parks.
//!
//! A pinned green thread cannot follow its waker to the waker's worker,
//! so green threads homed on different workers that message each other
//! cross cores at every message; a crossing that finds the home worker
//! parked also pays a futex wake and the sleep and wake-up of a thread
//! (microseconds to tens of microseconds, against a few hundred
//! nanoseconds for the crossing itself). A worker whose inbox delivered
//! such wake-ups since it last went idle therefore spins before parking.
//!
//! A fixed spin has two steady states. The lab's ring (1,000 green threads
//! passing a token) on 16 workers: each worker sees the token about every
//! 16 hops. While workers stay awake a hop costs well under a microsecond,
//! the gap is a few microseconds, and a 30 µs spin keeps them awake. Once
//! they park, every hop pays a wake-up, the gap grows past 30 µs, and
//! every worker keeps parking: measured on a 16-core machine, 3 to 5 µs
//! per hop, against 0.16 on one core. Which state a run settles in
//! depends on how it starts.
//!
//! So the spin follows the wait: each worker keeps a moving average of how
//! long it lately stayed idle before a home wake-up came, and spins for
//! twice that, at least [`MIN`], when that average is at most half of
//! [`MAX`]. A worker whose home wake-ups come further apart than that
//! spins only [`MIN`]: there parking costs little next to the wait. Go
//! has no such trade to make, since a goroutine moves to the processor
//! that readies it; a green thread started on one worker stays there
//! (see the thread-local hazard in `green`).
//!
//! Waits shorter than [`MIN`] are left out of the average: the shortest
//! spin covers them whatever the average says, and counting them would
//! pull it below the longer waits that do cost a park. The ring on two
//! workers shows both kinds: about ten waits of a few microseconds (the
//! token crossing back and forth where neighbours landed apart) for each
//! wait of 100-500 µs (the other worker's longest run of the ring). With
//! them counted, the average stayed at a fraction of the long waits, the
//! spin at 30-110 µs, and each lap parked once or more; a wake-up after
//! such an idle took 100-300 µs on the 2-core VM, and the ring ran at a
//! median of 336 ns per hop (187-868 over 12 runs) against 235 (172-442)
//! without the parks (BENCHMARKS.md, seventeenth session). [`MAX`] is 1 ms
//! for the same reason: a worker of that ring waits a lap at most, a few
//! hundred microseconds, and with a ceiling of 250 µs those waits parked.
//!
//! The worker follows this spin only after its own tasks messaged green
//! threads homed elsewhere since it last went idle (it is `conversing`:
//! an answer is likely to come back the same way), and records only
//! those waits. Green threads woken from elsewhere without talking back
//! (by I/O that another worker's look at the driver found, by OS
//! threads) get [`MIN`]: spinning up to the long spin for them cost 0.8
//! of a core at 2,500 to 10,000 such wake-ups a second, with no gain in
//! latency (`examples/wakeups_from_outside.rs`).

use std::cell::Cell;
use std::time::Duration;

/// The shortest spin: the whole spin where home wake-ups are rare, and
/// for a worker that is not conversing.
pub(crate) const MIN: Duration = Duration::from_micros(30);
/// The longest spin.
pub(crate) const MAX: Duration = Duration::from_micros(1000);

/// One worker's record of its idle waits for home wake-ups while it was
/// conversing.
pub(crate) struct HomeSpin {
    /// Moving average of the waits, each counted at most as `MAX` x 2.
    typical: Cell<Duration>,
}

impl HomeSpin {
    pub(crate) fn new() -> HomeSpin {
        HomeSpin {
            typical: Cell::new(Duration::ZERO),
        }
    }

    /// How long to spin now.
    pub(crate) fn budget(&self) -> Duration {
        let typical = self.typical.get();
        if typical > MAX / 2 {
            MIN
        } else {
            (typical * 2).max(MIN)
        }
    }

    /// Records one wait: the worker went idle and a home wake-up ended
    /// the idleness this long after (while it spun, or parked).
    pub(crate) fn waited(&self, wait: Duration) {
        if wait < MIN {
            return; // the shortest spin covers it (see the module docs)
        }
        // Weight 1/4 for the new wait; a very long one counts as 2 x MAX,
        // so a few waits within MAX / 2 after it bring the spin back.
        let wait = wait.min(MAX * 2);
        self.typical.set((self.typical.get() * 3 + wait) / 4);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    #[test]
    fn short_waits_keep_the_shortest_spin() {
        let s = HomeSpin::new();
        assert_eq!(s.budget(), MIN);
        for _ in 0..20 {
            s.waited(us(5));
        }
        assert_eq!(s.budget(), MIN);
    }

    #[test]
    fn waits_past_the_shortest_spin_lengthen_it_to_twice_the_wait() {
        let s = HomeSpin::new();
        for _ in 0..40 {
            s.waited(us(60));
        }
        let b = s.budget();
        assert!(b > us(110) && b <= us(120), "{b:?}");
        for _ in 0..40 {
            s.waited(us(400));
        }
        let b = s.budget();
        assert!(b > us(790) && b <= MAX, "{b:?}");
    }

    #[test]
    fn waits_within_the_shortest_spin_leave_a_longer_one_alone() {
        // The ring on two workers: many waits of a microsecond or two
        // between the long ones. The long ones set the spin.
        let s = HomeSpin::new();
        for _ in 0..20 {
            s.waited(us(300));
            for _ in 0..10 {
                s.waited(us(2));
            }
        }
        let b = s.budget();
        assert!(b > us(590) && b <= us(600), "{b:?}");
    }

    #[test]
    fn rare_wake_ups_spin_only_the_shortest() {
        let s = HomeSpin::new();
        for _ in 0..40 {
            s.waited(MAX);
        }
        assert_eq!(s.budget(), MIN);
        // One very long wait counts as 2 x MAX: a handful of waits within
        // MAX / 2 bring the longer spin back.
        s.waited(Duration::from_secs(1));
        assert_eq!(s.budget(), MIN);
        let waits = (1..)
            .find(|_| {
                s.waited(MAX / 5);
                s.budget() > MIN
            })
            .unwrap();
        assert!(waits <= 8, "{waits} waits");
    }
}
