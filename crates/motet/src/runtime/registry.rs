//! Every live task of one scheduler, so that shutdown can reach the ones
//! nobody will wake.
//!
//! A task parked on a waker that nobody will ever wake would otherwise
//! outlive its runtime, and a `spawn_local` task must be dropped on its own
//! thread. So each scheduler registers every task it admits (its waker, in a
//! slab) and each task's future takes itself out when it is dropped. At
//! shutdown the scheduler closes the registry (new tasks are then cancelled
//! at once), wakes every registered task onto its own queues, and drops
//! them there.
//!
//! The registry also answers `tasks_alive`, lets `JoinHandle::abort` wake a
//! task, and keeps the names of the few tasks that have one (for the stall
//! detector) so that unnamed tasks pay nothing for names.
//!
//! Lock: one mutex, held for a slab insert or remove; wakers are woken after
//! it is released.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::task::Waker;

use slab::Slab;

use crate::task::{Runnable, TaskId};

#[derive(Default)]
pub(crate) struct Registry {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    tasks: Slab<Waker>,
    names: HashMap<TaskId, Box<str>>,
    spawned: u64,
    closed: bool,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Plain data that stays consistent across a panic.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a new task. Gives it back if the registry is closed: the
    /// caller drops it, which cancels it.
    pub(crate) fn admit(
        &self,
        runnable: Runnable,
        name: Option<&str>,
    ) -> Result<Runnable, Runnable> {
        let mut inner = self.lock();
        if inner.closed {
            return Err(runnable);
        }
        let key = inner.tasks.insert(runnable.waker());
        inner.spawned += 1;
        if let Some(name) = name {
            inner.names.insert(runnable.metadata().id, name.into());
        }
        runnable
            .metadata()
            .key
            .store(key, std::sync::atomic::Ordering::Release);
        Ok(runnable)
    }

    /// Forgets a task whose future has been dropped.
    pub(crate) fn deregister(&self, key: usize, id: TaskId) {
        let mut inner = self.lock();
        inner.tasks.try_remove(key);
        if !inner.names.is_empty() {
            inner.names.remove(&id);
        }
    }

    /// Wakes the task in slot `key`, if it is still registered.
    pub(crate) fn wake(&self, key: usize) {
        let waker = self.lock().tasks.get(key).cloned();
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Closes the registry and returns the wakers of every live task.
    pub(crate) fn close(&self) -> Vec<Waker> {
        let mut inner = self.lock();
        inner.closed = true;
        inner.names.clear();
        inner.tasks.drain().collect()
    }

    /// (tasks spawned so far, tasks alive now)
    pub(crate) fn counts(&self) -> (u64, usize) {
        let inner = self.lock();
        (inner.spawned, inner.tasks.len())
    }

    /// The task's name, if it was given one.
    pub(crate) fn name_of(&self, id: TaskId) -> Option<String> {
        self.lock().names.get(&id).map(|n| n.to_string())
    }
}
