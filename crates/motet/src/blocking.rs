//! The blocking pool: threads for work that must not run on an event loop.
//!
//! A call handed to [`spawn_blocking`](crate::task::spawn_blocking) becomes
//! an ordinary task cell (so its handle is the same [`JoinHandle`], with the
//! same panic and cancellation behaviour) whose schedule function pushes it
//! onto this pool's queue instead of a run queue. It is polled exactly once,
//! on a pool thread, and runs the function to the end.
//!
//! # Threads
//!
//! - Started on demand: a call that finds no idle thread starts one, up to
//!   `max_threads`; past that, calls wait in the queue (FIFO).
//! - An idle thread waits `keep_alive` for work, then exits; so a burst of
//!   blocking calls does not leave hundreds of threads behind.
//! - Pool threads are named `motet-blocking` and are inside their runtime's
//!   context, so they may spawn tasks and use timers and sockets.
//!
//! # Shutdown
//!
//! Queued calls that have not started are cancelled (their handles report
//! it). Calls already running cannot be interrupted; the runtime's drop waits
//! for them (or up to `Runtime::shutdown_timeout`'s limit).

use std::collections::VecDeque;
use std::panic::Location;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use crate::bias::UNBIASED;
use crate::runtime::{context, Scheduler};
use crate::task::{JoinError, JoinHandle, Runnable, TaskMeta};

/// A runtime's blocking pool (cloning shares it: a per-core runtime's cores
/// share one).
#[derive(Clone)]
pub(crate) struct BlockingPool {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    /// Signals queued work or shutdown to idle threads.
    work: Condvar,
    /// Signals a thread's exit to a shutdown waiting for it.
    exited: Condvar,
    max_threads: usize,
    keep_alive: Duration,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Runnable>,
    threads: usize,
    idle: usize,
    /// Idle threads already signalled for queued work.
    notified: usize,
    shutdown: bool,
    /// Join handles of the threads started; finished ones are pruned when a
    /// new thread starts, the rest joined at shutdown.
    handles: Vec<thread::JoinHandle<()>>,
}

impl BlockingPool {
    pub(crate) fn new(max_threads: usize, keep_alive: Duration) -> BlockingPool {
        BlockingPool {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                work: Condvar::new(),
                exited: Condvar::new(),
                max_threads,
                keep_alive,
            }),
        }
    }

    /// Queues `f` and returns its handle.
    pub(crate) fn spawn<F, R>(
        &self,
        sched: &Scheduler,
        f: F,
        location: &'static Location<'static>,
    ) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let meta = TaskMeta::new(sched.clone(), location);
        let id = meta.id;
        let (runnable, task) = crate::task::cell::spawn(meta, schedule, UNBIASED, move |_| {
            async move {
                // (An abort before the call starts cancels it: its task
                // cell drops it unrun.)
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
                    .map_err(|p| JoinError::panic(id, p))
            }
        });
        self.inner.push(runnable, sched);
        JoinHandle::new(task, id)
    }

    /// (threads alive, of which idle)
    pub(crate) fn counts(&self) -> (usize, usize) {
        let st = self.inner.lock();
        (st.threads, st.idle)
    }

    /// Cancels queued calls and waits for running ones to finish, up to
    /// `timeout` if given.
    pub(crate) fn shutdown(&self, timeout: Option<Duration>) {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut st = self.inner.lock();
        st.shutdown = true;
        let queued: Vec<Runnable> = st.queue.drain(..).collect();
        self.inner.work.notify_all();
        drop(st);
        // Dropping a runnable cancels its call; do it without the lock.
        drop(queued);
        let mut st = self.inner.lock();
        while st.threads > 0 {
            st = match deadline {
                None => self
                    .inner
                    .exited
                    .wait(st)
                    .unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        tracing::warn!(
                            running = st.threads,
                            "motet: shutdown left blocking calls running"
                        );
                        break;
                    }
                    self.inner
                        .exited
                        .wait_timeout(st, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
        let all_done = st.threads == 0;
        let handles = std::mem::take(&mut st.handles);
        drop(st);
        // Every thread has left its loop (or, past a timeout, the finished
        // ones have): joining them means none outlives the runtime's drop.
        for h in handles {
            if all_done || h.is_finished() {
                let _ = h.join();
            }
        }
    }
}

/// A blocking call's schedule function. Its future never waits and no
/// waker of it is kept (it is not in the registry), so the cell has no
/// reason to call this; were it called, the runnable would go back to the
/// pool its runtime shares.
fn schedule(runnable: Runnable, _yielded: bool) {
    let sched = runnable.metadata().sched.clone();
    sched.blocking().inner.push(runnable, &sched);
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(self: &Arc<Self>, runnable: Runnable, sched: &Scheduler) {
        let mut st = self.lock();
        if st.shutdown {
            drop(st);
            drop(runnable); // cancelled
            return;
        }
        st.queue.push_back(runnable);
        if st.idle > st.notified {
            st.notified += 1;
            self.work.notify_one();
        } else if st.threads < self.max_threads {
            st.threads += 1;
            drop(st);
            let inner = self.clone();
            let sched = sched.clone();
            let spawned = thread::Builder::new()
                .name("motet-blocking".into())
                .spawn(move || inner.run(sched));
            match spawned {
                Ok(handle) => {
                    let mut st = self.lock();
                    st.handles.retain(|h| !h.is_finished());
                    st.handles.push(handle);
                }
                Err(e) => {
                    // The call stays queued for the threads that exist, if any.
                    tracing::error!(error = %e, "motet: could not start a blocking-pool thread");
                    let mut st = self.lock();
                    st.threads -= 1;
                    if st.threads == 0 {
                        let stranded: Vec<Runnable> = st.queue.drain(..).collect();
                        drop(st);
                        drop(stranded); // cancelled: nothing could ever run them
                    }
                }
            }
        }
    }

    fn run(self: Arc<Self>, sched: Scheduler) {
        let _enter = context::enter(sched);
        let mut st = self.lock();
        loop {
            if let Some(runnable) = st.queue.pop_front() {
                drop(st);
                if let Some(runnable) = runnable.run() {
                    schedule(runnable, true);
                }
                st = self.lock();
                continue;
            }
            if st.shutdown {
                break;
            }
            st.idle += 1;
            let (guard, timeout) = self
                .work
                .wait_timeout(st, self.keep_alive)
                .unwrap_or_else(|e| e.into_inner());
            st = guard;
            st.idle -= 1;
            if st.notified > 0 {
                st.notified -= 1;
            } else if timeout.timed_out() && st.queue.is_empty() {
                break;
            }
        }
        st.threads -= 1;
        self.exited.notify_all();
    }
}
