//! A scheduler for testing cells alone: a shared FIFO that records each
//! schedule call, and metadata that counts the cell's frees.

use std::collections::VecDeque;
use std::future::Future;
use std::task::{Context, Poll, Waker};

use super::{spawn, Runnable, Task};
use crate::bias::UNBIASED;
use crate::loom::atomic::{AtomicUsize, Ordering};
use crate::loom::sync::{Arc, Mutex};

/// Every schedule call: the task, and whether it was a yield.
pub(super) type Queue = Arc<Mutex<VecDeque<(Runnable<Meta>, bool)>>>;

pub(super) struct Meta {
    pub(super) queue: Queue,
    /// Bumped when the cell is freed (its metadata is dropped).
    pub(super) freed: Arc<AtomicUsize>,
}

impl Drop for Meta {
    fn drop(&mut self) {
        self.freed.fetch_add(1, Ordering::SeqCst);
    }
}

/// A task output that counts its drops.
pub(super) struct Counted(pub(super) Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn schedule(runnable: Runnable<Meta>, yielded: bool) {
    let queue = runnable.metadata().queue.clone();
    queue.lock().unwrap().push_back((runnable, yielded));
}

/// A queue, a free counter, and a task of `future` on them (scheduled:
/// its Runnable is in the queue). The plain tests' helper; the loom
/// models build their tasks themselves.
#[cfg_attr(loom, allow(dead_code))]
pub(super) fn spawn_test<F>(future: F) -> (Queue, Arc<AtomicUsize>, Task<F::Output, Meta>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    spawn_biased(UNBIASED, future)
}

/// [`spawn_test`] with the cell biased to `owner` (a thread's token).
pub(super) fn spawn_biased<F>(
    owner: usize,
    future: F,
) -> (Queue, Arc<AtomicUsize>, Task<F::Output, Meta>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let queue: Queue = Arc::new(Mutex::new(VecDeque::new()));
    let freed = Arc::new(AtomicUsize::new(0));
    let meta = Meta {
        queue: queue.clone(),
        freed: freed.clone(),
    };
    let (runnable, task) = spawn(meta, schedule, owner, |_| future);
    schedule(runnable, false);
    (queue, freed, task)
}

/// Takes the next scheduled task, and whether it was a yield.
pub(super) fn pop(queue: &Queue) -> Option<(Runnable<Meta>, bool)> {
    queue.lock().unwrap().pop_front()
}

/// Runs `r` once; a task that yielded goes to the back of `queue`,
/// marked as a yield, as a scheduler queues it.
pub(super) fn run(queue: &Queue, r: Runnable<Meta>) {
    if let Some(r) = r.run() {
        queue.lock().unwrap().push_back((r, true));
    }
}

/// Runs scheduled tasks until none is left; returns how many ran.
pub(super) fn drain(queue: &Queue) -> usize {
    let mut ran = 0;
    while let Some((r, _)) = pop(queue) {
        run(queue, r);
        ran += 1;
    }
    ran
}

/// Polls the handle once with a waker that does nothing.
pub(super) fn poll_output<T>(task: &mut Task<T, Meta>) -> Poll<Option<T>> {
    task.poll_output(&mut Context::from_waker(Waker::noop()))
}
