//! Synchronization for every kind of unit: async tasks, green threads and
//! OS threads share one set of primitives.
//!
//! | primitive | what it is | async | blocking (green or OS thread) |
//! |---|---|---|---|
//! | [`Semaphore`] | counting semaphore, FIFO, closable; the core the locks are built on | [`acquire`](Semaphore::acquire), [`acquire_many`](Semaphore::acquire_many), [`acquire_owned`](Semaphore::acquire_owned) | [`acquire_blocking`](Semaphore::acquire_blocking) |
//! | [`Mutex`] | mutual exclusion, FIFO, not poisoned | [`lock`](Mutex::lock) | [`lock_blocking`](Mutex::lock_blocking) |
//! | [`RwLock`] | many readers or one writer, arrival order (writers not starved) | [`read`](RwLock::read), [`write`](RwLock::write) | [`read_blocking`](RwLock::read_blocking), [`write_blocking`](RwLock::write_blocking) |
//! | [`WaitGroup`] | Go's `sync.WaitGroup` | [`wait`](WaitGroup::wait) | [`wait_blocking`](WaitGroup::wait_blocking) |
//! | [`OnceCell`] | set once; one initializer runs, the others wait | [`get_or_init`](OnceCell::get_or_init) | [`get_or_init_blocking`](OnceCell::get_or_init_blocking) |
//! | [`Notify`] | wake one (with a stored permit) or all | [`notified`](Notify::notified) | [`notified_blocking`](Notify::notified_blocking) |
//! | [`oneshot`] | a channel for one value | `.await` the receiver | [`blocking_recv`](oneshot::Receiver::blocking_recv) |
//!
//! Every `try_` form (`try_acquire`, `try_lock`, ...) never waits and works
//! anywhere, including on an event-loop thread.
//!
//! # One future per primitive, and `wait`
//!
//! Each primitive is written once, as a future that registers the polling
//! context's [`Waker`](std::task::Waker) and is woken when it can make
//! progress. A task `.await`s it. Every blocking form is literally
//! [`crate::wait::wait`] over that same future: `wait` suspends a green
//! thread (its task's poll returns `Pending`, and the waker reschedules it)
//! and parks an OS thread (the waker unparks it), and it refuses with a
//! panic on an event-loop thread, where blocking would stall every task on
//! the loop. So there is one implementation of the queueing, fairness and
//! cancellation logic per primitive, not three, and a green thread, a task
//! and an OS thread can contend for one lock at once.
//!
//! Each future calls the cooperative budget (`coop`) before reporting
//! `Ready`, so a task that keeps finding a lock free still yields now and
//! then.
//!
//! # Layering
//!
//! [`Semaphore`] is the core: a lock over a permit count and a FIFO queue.
//! [`Mutex`] is a semaphore with one permit beside the value; [`RwLock`]
//! is one with [`MAX_READERS`] permits (a reader takes one, a writer all);
//! [`OnceCell`] serializes its initializers with a one-permit semaphore.
//! So fairness (FIFO, a large request at the head is not starved) and
//! cancellation safety (a dropped acquire future never keeps or loses a
//! permit, even one granted to it before it was dropped) are argued and
//! model-checked (loom) once, in `semaphore.rs`, and inherited.
//! [`WaitGroup`] and [`Notify`] wait for events rather than for permits,
//! and keep their own small waiter lists.
//!
//! # Panics and poisoning
//!
//! None of these locks is poisoned. A panic while holding a guard unwinds
//! through the guard, which releases the lock; the panic ends that task or
//! green thread (its `JoinHandle` reports it), and the next locker sees the
//! value as it was left. See `mutex.rs` for why.
//!
//! # Rejected alternatives
//!
//! - Separate blocking and async implementations (a `std` lock for threads,
//!   an async one for tasks): they could not be shared between a thread
//!   and a task, and each would need its own fairness and cancellation
//!   argument.
//! - Lock-free waiter queues (intrusive lists with atomics): a few
//!   nanoseconds per uncontended operation would be saved, at the cost of
//!   `unsafe` pointer juggling; one short lock per primitive is what
//!   `chan` does too, and the loom models check it directly.

pub mod oneshot;

mod mutex;
mod notify;
mod once_cell;
mod rwlock;
mod semaphore;
mod wait_group;

pub use mutex::{Mutex, MutexGuard, TryLockError};
pub use notify::{Notified, Notify};
pub use once_cell::OnceCell;
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard, MAX_READERS};
pub use semaphore::{
    Acquire, AcquireError, AcquireOwned, OwnedPermit, Permit, Semaphore, TryAcquireError,
};
pub use wait_group::{WaitGroup, WaitGroupWait};
