//! The per-core flavor: one event loop per core, tasks never migrate
//! (nginx's model: one event loop per CPU thread, async I/O inside each).
//!
//! # Design
//!
//! A per-core runtime of n cores is n complete event loops (`event_loop.rs`),
//! each on its own thread (`motet-core-<i>`), pinned to one allowed CPU
//! where the OS allows it, each with its **own driver** (epoll instance and
//! timer wheel). Nothing is shared on the hot path: a task spawned on a core
//! lives and dies there, and `!Send` tasks (`spawn_local`) are as natural as
//! on a single loop. What the cores share: the blocking pool (heavy work
//! goes there, so the other loops pick up the slack) and the stall
//! watchdog.
//!
//! - `Handle::spawn` from outside the cores spreads tasks round-robin;
//!   `task::spawn` on a core spawns on that same core; `Handle::spawn_on`
//!   picks the core.
//! - Cross-core messages are ordinary wake-ups: a waker of a task on core A
//!   woken on core B pushes onto A's remote queue and, if A sleeps, writes
//!   A's eventfd. One-shots and `motet::chan` carry values across.
//! - Accepts are sharded by the kernel: each core binds its own listener on
//!   the same port with `SO_REUSEPORT` (see
//!   [`reuseport_listeners`](crate::net::reuseport_listeners)), and the
//!   kernel spreads incoming connections over them by flow hash.
//!
//! # Shutdown
//!
//! Dropping the runtime sends each core its stop signal; each core's loop
//! returns, cancels every unfinished task on its own thread (so `!Send`
//! tasks are dropped where they live), and shuts its driver. The dropping
//! thread joins every core, then shuts the blocking pool.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;

use super::event_loop::{self, Parts};
use super::stall::Probe;
use super::{RuntimeStats, Scheduler};
use crate::sync::oneshot;

/// The cores of one per-core runtime.
pub(crate) struct Group {
    cores: Vec<Arc<event_loop::Shared>>,
    next: AtomicUsize,
}

/// A running core: its thread and its stop signal.
pub(crate) struct CoreThread {
    thread: thread::JoinHandle<()>,
    stop: oneshot::Sender<()>,
}

/// Starts `n` cores; `parts(i)` builds core i's parts (its own driver).
pub(crate) fn start(
    n: usize,
    mut parts: impl FnMut(usize) -> std::io::Result<Parts>,
    probes: &[Arc<Probe>],
    pin: bool,
) -> std::io::Result<(Arc<Group>, Vec<CoreThread>)> {
    let cpus = if pin {
        crate::sys::allowed_cpus().unwrap_or_default()
    } else {
        Vec::new()
    };
    let (ready_tx, ready_rx) = mpsc::channel();
    let mut threads = Vec::with_capacity(n);
    for index in 0..n {
        let parts = match parts(index) {
            Ok(p) => p,
            Err(e) => {
                stop(threads);
                return Err(e);
            }
        };
        let probe = probes[index].clone();
        let cpu = (!cpus.is_empty()).then(|| cpus[index % cpus.len()]);
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let ready = ready_tx.clone();
        let spawned = thread::Builder::new().name(format!("motet-core-{index}")).spawn(move || {
            if let Some(cpu) = cpu {
                if let Err(e) = crate::sys::pin_current_thread(cpu) {
                    tracing::debug!(core = index, cpu, error = %e, "motet: could not pin a core thread");
                }
            }
            let (shared, local) = event_loop::Shared::new(parts, probe);
            let _ = ready.send((index, shared));
            let _ = event_loop::block_on(&local, stop_rx);
            event_loop::cancel_all(&local);
            local.shared().driver().shutdown();
        });
        match spawned {
            Ok(thread) => threads.push(CoreThread {
                thread,
                stop: stop_tx,
            }),
            Err(e) => {
                stop(threads);
                return Err(e);
            }
        }
    }
    drop(ready_tx);
    let mut cores: Vec<Option<Arc<event_loop::Shared>>> = vec![None; n];
    for (index, shared) in ready_rx.iter().take(n) {
        cores[index] = Some(shared);
    }
    let cores: Vec<_> = cores
        .into_iter()
        .map(|c| c.expect("every core reports in"))
        .collect();
    let group = Arc::new(Group {
        cores,
        next: AtomicUsize::new(0),
    });
    for (index, core) in group.cores.iter().enumerate() {
        core.join_group(Arc::downgrade(&group), index);
    }
    Ok((group, threads))
}

/// Stops and joins every core (each cancels its own tasks first).
pub(crate) fn stop(threads: Vec<CoreThread>) {
    // A core whose loop already ended has dropped its receiver: the send
    // fails, which is fine.
    let handles: Vec<_> = threads
        .into_iter()
        .map(|c| {
            let _ = c.stop.send(());
            c.thread
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
}

impl Group {
    /// Number of cores.
    pub(crate) fn len(&self) -> usize {
        self.cores.len()
    }

    /// Core `index`'s scheduler.
    ///
    /// # Panics
    ///
    /// If there is no such core.
    pub(crate) fn core(&self, index: usize) -> Scheduler {
        let core = self.cores.get(index).unwrap_or_else(|| {
            panic!(
                "spawn_on({index}): this per-core runtime has {} cores",
                self.cores.len()
            )
        });
        Scheduler::EventLoop(core.clone())
    }

    /// The next core in round-robin order.
    pub(crate) fn next_core(&self) -> Scheduler {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.cores.len();
        Scheduler::EventLoop(self.cores[i].clone())
    }

    pub(crate) fn first(&self) -> &Arc<event_loop::Shared> {
        &self.cores[0]
    }

    pub(crate) fn stats(&self) -> RuntimeStats {
        let mut total = RuntimeStats {
            workers: self.cores.len(),
            ..RuntimeStats::default()
        };
        for core in &self.cores {
            let s = core.stats();
            total.tasks_spawned += s.tasks_spawned;
            total.tasks_alive += s.tasks_alive;
            total.polls += s.polls;
            total.parks += s.parks;
            total.remote_schedules += s.remote_schedules;
            total.timers_pending += s.timers_pending;
            total.stalls = s.stalls; // one shared counter
            total.blocking_threads = s.blocking_threads; // one shared pool
            total.blocking_idle = s.blocking_idle;
            total.per_worker.extend(s.per_worker);
        }
        total
    }
}
