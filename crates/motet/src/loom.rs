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

/// `UnsafeCell` with loom's closure API (`with`, `with_mut`), so that loom
/// can check every access to a cell shared through atomics (the channel's
/// ring); without loom it is std's cell behind the same two methods.
pub(crate) mod cell {
    #[cfg(loom)]
    pub(crate) use loom::cell::UnsafeCell;

    /// std's `UnsafeCell` with loom's closure API.
    #[cfg(not(loom))]
    #[derive(Debug)]
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    #[cfg(not(loom))]
    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> Self {
            UnsafeCell(std::cell::UnsafeCell::new(value))
        }

        /// Calls `f` with a shared pointer to the contents.
        #[inline(always)]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Calls `f` with a mutable pointer to the contents.
        #[inline(always)]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

/// `yield_now`, loom's under loom (a spin loop in a model must yield, or
/// loom never schedules the thread it waits for).
pub(crate) mod thread {
    #[cfg(loom)]
    pub(crate) use loom::thread::yield_now;
    #[cfg(not(loom))]
    pub(crate) use std::thread::yield_now;
}

/// For loom models: polls `f` to completion on this loom thread, blocking
/// on a loom `Notify` between polls, so that a lost wake-up shows up as a
/// deadlock that loom reports.
#[cfg(all(test, loom))]
pub(crate) fn block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    struct Flag(loom::sync::Notify);
    impl std::task::Wake for Flag {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.notify();
        }
    }
    let flag = std::sync::Arc::new(Flag(loom::sync::Notify::new()));
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        flag.0.wait();
    }
}
