//! The one place that picks real or model-checked synchronization.
//!
//! Built with `RUSTFLAGS="--cfg loom"`, the types here are loom's, whose
//! every interleaving a loom test explores; otherwise they are std's. Code
//! whose correctness depends on an ordering argument takes its atomics and
//! locks from here, and keeps its loom model next to it in a
//! `mod loom_tests` (CI runs them).

#[cfg(loom)]
pub(crate) use loom::sync::{atomic, Condvar, Mutex};
#[cfg(not(loom))]
pub(crate) use std::sync::{atomic, Condvar, Mutex};

/// Shared pointers and locks, std's or loom's (the channel's and the sync
/// primitives' state lives behind these, so their loom models run the real
/// code). The channel's own lock is `chan/lock.rs`, which is loom's `Mutex`
/// under loom.
pub(crate) mod sync {
    #[cfg(loom)]
    pub(crate) use loom::sync::{Arc, Mutex, MutexGuard};
    #[cfg(not(loom))]
    pub(crate) use std::sync::{Arc, Mutex, MutexGuard};
}
