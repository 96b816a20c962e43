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
//! The registry also answers `tasks_alive` and keeps the names of the few
//! tasks that have one (for the stall detector) so that unnamed tasks pay
//! nothing for names.
//!
//! Locks: one mutex per shard, held for a slab insert or remove; wakers are
//! woken after it is released. A work-stealing runtime has a shard per
//! worker, and a task is registered in its spawner's shard (its key names
//! the shard), so two workers spawning and finishing tasks mostly take
//! different locks: with one mutex, skynet on two workers spent a tenth of
//! its time registering and deregistering, some of it waiting for the
//! other worker (`green` 651-682 -> 620-628 ms, `async-steal` 697-759 ->
//! 653-665 ms in three alternating rounds on a quiet VM; an earlier try on
//! a busy one showed nothing either way). Event loops have one shard.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::task::Waker;

use slab::Slab;

use crate::task::{Runnable, TaskId};

pub(crate) struct Registry {
    shards: Box<[Mutex<Inner>]>,
}

/// A key's low bits name its shard; the rest is the slab key in it.
const SHARD_BITS: u32 = 6;
const MAX_SHARDS: usize = 1 << SHARD_BITS;

#[derive(Default)]
struct Inner {
    tasks: Slab<Waker>,
    names: HashMap<TaskId, Box<str>>,
    spawned: u64,
    closed: bool,
}

impl Registry {
    /// A registry of `shards` shards (at least one, at most 64).
    pub(crate) fn new(shards: usize) -> Registry {
        Registry {
            shards: (0..shards.clamp(1, MAX_SHARDS))
                .map(|_| Mutex::default())
                .collect(),
        }
    }

    fn lock(&self, shard: usize) -> MutexGuard<'_, Inner> {
        // Plain data that stays consistent across a panic.
        self.shards[shard].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// (shard, slab key) of a registry key.
    fn split(key: usize) -> (usize, usize) {
        (key & (MAX_SHARDS - 1), key >> SHARD_BITS)
    }

    /// Registers a new task in shard `shard` (modulo the shard count).
    /// Gives it back if the registry is closed: the caller drops it, which
    /// cancels it.
    pub(crate) fn admit(
        &self,
        runnable: Runnable,
        name: Option<&str>,
        shard: usize,
    ) -> Result<Runnable, Runnable> {
        let shard = shard % self.shards.len();
        let mut inner = self.lock(shard);
        if inner.closed {
            return Err(runnable);
        }
        let key = (inner.tasks.insert(runnable.waker()) << SHARD_BITS) | shard;
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
        let (shard, key) = Self::split(key);
        let mut inner = self.lock(shard);
        inner.tasks.try_remove(key);
        if !inner.names.is_empty() {
            inner.names.remove(&id);
        }
    }

    /// Closes the registry and returns the wakers of every live task. Each
    /// shard closes under its own lock: a spawn racing with this is either
    /// registered before its shard closes (its waker is returned) or
    /// refused.
    pub(crate) fn close(&self) -> Vec<Waker> {
        let mut all = Vec::new();
        for shard in 0..self.shards.len() {
            let mut inner = self.lock(shard);
            inner.closed = true;
            inner.names.clear();
            all.extend(inner.tasks.drain());
        }
        all
    }

    /// (tasks spawned so far, tasks alive now)
    pub(crate) fn counts(&self) -> (u64, usize) {
        (0..self.shards.len()).fold((0, 0), |(spawned, alive), shard| {
            let inner = self.lock(shard);
            (spawned + inner.spawned, alive + inner.tasks.len())
        })
    }

    /// The task's name, if it was given one.
    pub(crate) fn name_of(&self, id: TaskId) -> Option<String> {
        (0..self.shards.len())
            .find_map(|shard| self.lock(shard).names.get(&id).map(|n| n.to_string()))
    }
}
