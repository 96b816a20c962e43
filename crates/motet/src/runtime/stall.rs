//! The stall detector: explicit switching's known failure, made visible.
//!
//! An async task switches only at `.await`; one that computes, or makes a
//! blocking system call, between two awaits holds its thread and stalls
//! every task queued behind it. motet reports any single poll that runs
//! longer than a threshold (default 100 ms) through `tracing` (a `WARN`
//! event with the task's id, name and spawn location) and counts it in
//! [`RuntimeStats::stalls`](super::RuntimeStats::stalls).
//!
//! # Design: a watchdog thread, like Go's sysmon
//!
//! Each scheduler thread owns a [`Probe`]. Around every poll it writes the
//! task's id and spawn location and bumps a sequence number (odd while a
//! poll runs): three relaxed stores and a compiler fence, no clock read, no
//! read-modify-write. One watchdog thread per runtime wakes every quarter
//! threshold and reads each probe like a seqlock; a probe seen odd with the
//! same sequence for at least the threshold is a stall. It is reported
//! *while it happens*, so a task stuck in an infinite loop is named too;
//! when the poll finally returns, the watchdog's next look sees the
//! sequence move on and logs how long it took (to within its period). The
//! scheduler thread's side stays the stores above: no test for "was I
//! reported" at the end of every poll.
//!
//! Rejected: timing every poll with `Instant::now()` on the scheduler
//! thread. It costs a clock read per poll (~20 ns, a tenth of a small
//! task's whole cost here) and cannot see a poll that never returns.
//!
//! The watchdog thread is named `motet-watchdog`; it exits when its runtime
//! is dropped, or never starts if the threshold is `None`.

use std::panic::Location;
use std::sync::atomic::{fence, AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::registry::Registry;
use crate::task::TaskId;

/// One scheduler thread's "what am I polling" record, and its poll
/// counter. Its thread writes it at every poll, so it sits on cache lines
/// of its own (128 bytes: a line and its prefetched pair), lest another
/// thread's probe or counter share them.
#[derive(Default)]
#[repr(align(128))]
pub(crate) struct Probe {
    /// Odd while a poll is in progress; bumped at each begin and end.
    seq: AtomicU64,
    task: AtomicU64,
    location: AtomicPtr<Location<'static>>,
}

impl Probe {
    /// A poll of task `id`, spawned at `location`, starts. Owner thread only.
    #[inline]
    pub(crate) fn begin(&self, id: TaskId, location: &'static Location<'static>) {
        let seq = self.seq.load(Ordering::Relaxed);
        self.task.store(id.as_u64(), Ordering::Relaxed);
        self.location
            .store(location as *const _ as *mut _, Ordering::Relaxed);
        self.seq.store(seq + 1, Ordering::Release);
    }

    /// Polls begun on this probe's thread: every poll bumps the sequence
    /// twice, so the probe is the thread's poll counter too. Any thread.
    pub(crate) fn polls(&self) -> u64 {
        self.seq.load(Ordering::Relaxed).div_ceil(2)
    }

    /// The poll ended. Owner thread only.
    #[inline]
    pub(crate) fn end(&self) {
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq + 1, Ordering::Release);
        // Keep the next begin's stores after this one (seqlock writer side).
        fence(Ordering::Release);
    }

    /// A consistent (seq, task, location) triple, or None if a poll
    /// boundary raced with the read.
    fn read(&self) -> Option<(u64, u64, &'static Location<'static>)> {
        let s1 = self.seq.load(Ordering::Acquire);
        let task = self.task.load(Ordering::Relaxed);
        let loc = self.location.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        let s2 = self.seq.load(Ordering::Relaxed);
        if s1 != s2 || loc.is_null() {
            return None;
        }
        // SAFETY: `location` only ever holds pointers made from
        // `&'static Location<'static>` in `begin`, which are valid forever.
        let loc = unsafe { &*loc };
        Some((s1, task, loc))
    }
}

/// Brackets one poll on a scheduler thread. Every scheduler thread has a
/// probe, watched or not: writing to one nobody reads costs the same few
/// stores, and saves every poll two tests for a probe's presence.
pub(crate) struct PollScope<'a>(&'a Probe);

impl<'a> PollScope<'a> {
    #[inline]
    pub(crate) fn begin(
        probe: &'a Probe,
        id: TaskId,
        location: &'static Location<'static>,
    ) -> PollScope<'a> {
        probe.begin(id, location);
        PollScope(probe)
    }
}

impl Drop for PollScope<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0.end();
    }
}

/// The watchdog thread. Dropping it stops and joins the thread.
pub(crate) struct Watchdog {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Watchdog {
    /// Starts watching `probes`, counting stalls in `stalls` and naming
    /// tasks from `registries`.
    pub(crate) fn start(
        threshold: Duration,
        probes: Vec<Arc<Probe>>,
        registries: Vec<Arc<Registry>>,
        stalls: Arc<AtomicU64>,
    ) -> std::io::Result<Watchdog> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let stop2 = stop.clone();
        let name_of = move |id: TaskId| registries.iter().find_map(|r| r.name_of(id));
        let thread = thread::Builder::new()
            .name("motet-watchdog".into())
            .spawn(move || watch(threshold, &probes, &name_of, &stop2, &stalls))?;
        Ok(Watchdog {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        let (lock, cvar) = &*self.stop;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cvar.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What the watchdog last read of one probe.
struct Seen {
    seq: u64,
    task: u64,
    /// When this sequence was first read.
    since: Instant,
    /// When it was last read, still the same.
    last: Instant,
    reported: bool,
}

impl Seen {
    fn new(seq: u64, task: u64, now: Instant) -> Seen {
        Seen {
            seq,
            task,
            since: now,
            last: now,
            reported: false,
        }
    }
}

fn watch(
    threshold: Duration,
    probes: &[Arc<Probe>],
    name_of: &dyn Fn(TaskId) -> Option<String>,
    stop: &(Mutex<bool>, Condvar),
    stalls: &AtomicU64,
) {
    let period = (threshold / 4).max(Duration::from_millis(1));
    let mut seen: Vec<Seen> = probes
        .iter()
        .map(|_| Seen::new(0, 0, Instant::now()))
        .collect();
    let (lock, cvar) = stop;
    let mut stopped = lock.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let (guard, _) = cvar
            .wait_timeout(stopped, period)
            .unwrap_or_else(|e| e.into_inner());
        stopped = guard;
        if *stopped {
            return;
        }
        let now = Instant::now();
        for (probe, seen) in probes.iter().zip(seen.iter_mut()) {
            let Some((seq, task, location)) = probe.read() else {
                continue;
            };
            if seq != seen.seq {
                if seen.reported {
                    // It ended between the last look and this one.
                    tracing::warn!(
                        task.id = seen.task,
                        poll_ms_at_least = (seen.last - seen.since).as_millis() as u64,
                        "motet: the stalled task finally yielded"
                    );
                }
                *seen = Seen::new(seq, task, now);
                continue;
            }
            seen.last = now;
            let running = now - seen.since;
            if seq % 2 == 1 && !seen.reported && running >= threshold {
                seen.reported = true;
                stalls.fetch_add(1, Ordering::Relaxed);
                let name = TaskId::from_u64(task).and_then(name_of);
                tracing::warn!(
                    task.id = task,
                    task.name = name.as_deref().unwrap_or(""),
                    spawned_at = %location,
                    running_ms = running.as_millis() as u64,
                    threshold_ms = threshold.as_millis() as u64,
                    "motet: a task has been running without yielding for longer than the stall \
                     threshold, blocking every other task on its thread; add .await points, or \
                     move the work to spawn_blocking"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_counts_begun_polls_and_reads_back_the_one_under_way() {
        let probe = Probe::default();
        assert_eq!(probe.polls(), 0);
        assert!(probe.read().is_none(), "nothing polled yet");
        let here = Location::caller();
        for id in [TaskId::BLOCK_ON, TaskId::BLOCK_ON] {
            let scope = PollScope::begin(&probe, id, here);
            let (seq, task, location) = probe.read().expect("a poll under way");
            assert_eq!(seq % 2, 1, "odd while a poll runs");
            assert_eq!(task, id.as_u64());
            assert_eq!(location, here);
            drop(scope);
        }
        assert_eq!(probe.polls(), 2);
        let _scope = PollScope::begin(&probe, TaskId::BLOCK_ON, here);
        assert_eq!(probe.polls(), 3, "a poll counts from its start");
    }
}
