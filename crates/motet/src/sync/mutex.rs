//! A mutual-exclusion lock for every kind of unit: `.await` it in a task,
//! [`lock_blocking`](Mutex::lock_blocking) it in a green thread (suspends)
//! or an OS thread (parks).
//!
//! # Design
//!
//! A [`Semaphore`] with one permit beside an `UnsafeCell<T>`. The guard
//! holds the permit; holding the permit is the exclusive right to touch the
//! value. So the lock inherits the semaphore's FIFO fairness (no locker
//! waits behind an unbounded stream of later ones) and its cancellation
//! safety (a dropped `lock()` future never keeps the lock, even if it had
//! been handed it before being dropped).
//!
//! The guard may be held across `.await` and across a green thread's
//! blocking calls: that is the point of this lock over `std::sync::Mutex`,
//! which would block the whole OS thread (and every task on it) while a
//! second locker waits. For short critical sections that never wait,
//! `std::sync::Mutex` is cheaper and fine from any unit.
//!
//! # No poisoning
//!
//! A panic while the guard is held unwinds through the guard's `Drop`,
//! which releases the lock; in motet such a panic ends the task or green
//! thread (its `JoinHandle` reports the panic). The next locker gets the
//! lock as usual and sees the value *as the panicking holder left it*,
//! possibly halfway through an update. We chose not to poison, because
//! poisoning turns one failure into a cascade of panics in every later
//! locker (the habit STYLE.md warns about) while the recovery every careful
//! caller writes anyway is `into_inner()`; code that must detect a torn
//! update should keep its own "consistent" flag in the value. The
//! alternative of std's poisoning was rejected for that reason.
//!
//! # Unsafe
//!
//! The value lives in an `UnsafeCell`; the only accesses are through a
//! guard (which holds the one permit) and through `&mut self` methods.
//! Each access carries its `// SAFETY:` argument.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use super::semaphore::{Permit, Semaphore, TryAcquireError};

/// An async-aware mutex, fair (FIFO), not poisoned by panics.
///
/// ```
/// use std::sync::Arc;
/// use motet::sync::Mutex;
///
/// let rt = motet::runtime::Runtime::builder().work_stealing(2).build().unwrap();
/// let count = Arc::new(Mutex::new(0));
/// rt.block_on(async {
///     let mut handles = Vec::new();
///     for _ in 0..10 {
///         let count = count.clone();
///         handles.push(motet::task::spawn(async move {
///             *count.lock().await += 1;
///         }));
///     }
///     for h in handles {
///         h.await.unwrap();
///     }
/// });
/// assert_eq!(*count.lock_blocking(), 10);
/// ```
pub struct Mutex<T: ?Sized> {
    sem: Semaphore,
    value: UnsafeCell<T>,
}

// SAFETY: the mutex hands out access to `T` to one holder at a time (the
// holder of the single permit), possibly on another thread, so it is Send
// and Sync exactly when `T` may move between threads: `T: Send`, as for
// `std::sync::Mutex`.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above: shared `&Mutex<T>` only gives exclusive access, one
// holder at a time.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

/// Exclusive access to a [`Mutex`]'s value; the lock is released when this
/// is dropped.
///
/// ```
/// let m = motet::sync::Mutex::new(vec![1]);
/// let mut g = m.try_lock().unwrap();
/// g.push(2);
/// drop(g);
/// assert_eq!(m.into_inner(), vec![1, 2]);
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    lock: &'a Mutex<T>,
    _permit: Permit<'a>,
    /// Send/Sync as `&mut T` (Sync only if `T: Sync`: `&guard` gives `&T`).
    _marker: PhantomData<&'a mut T>,
}

/// The lock could not be taken without waiting: it is held, or others
/// wait for it (returned by [`Mutex::try_lock`], [`RwLock::try_read`] and
/// [`RwLock::try_write`]).
///
/// [`RwLock::try_read`]: super::RwLock::try_read
/// [`RwLock::try_write`]: super::RwLock::try_write
///
/// ```
/// let m = motet::sync::Mutex::new(());
/// let _g = m.try_lock().unwrap();
/// assert!(m.try_lock().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TryLockError(());

impl fmt::Display for TryLockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the lock is held or waited for")
    }
}

impl TryLockError {
    pub(super) fn new() -> TryLockError {
        TryLockError(())
    }
}

impl std::error::Error for TryLockError {}

impl<T> Mutex<T> {
    /// A new unlocked mutex holding `value`.
    ///
    /// ```
    /// let m = motet::sync::Mutex::new(5);
    /// assert_eq!(*m.try_lock().unwrap(), 5);
    /// ```
    pub fn new(value: T) -> Mutex<T> {
        Mutex {
            sem: Semaphore::new(1),
            value: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex and returns the value.
    ///
    /// ```
    /// assert_eq!(motet::sync::Mutex::new("x").into_inner(), "x");
    /// ```
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Waits for the lock (FIFO among waiters). Cancel-safe: dropping the
    /// future never leaves the mutex locked.
    ///
    /// ```
    /// let rt = motet::runtime::Runtime::new().unwrap();
    /// let m = motet::sync::Mutex::new(1);
    /// rt.block_on(async {
    ///     *m.lock().await += 1;
    /// });
    /// assert_eq!(m.into_inner(), 2);
    /// ```
    pub async fn lock(&self) -> MutexGuard<'_, T> {
        let permit = self
            .sem
            .acquire()
            .await
            .expect("a mutex's semaphore is never closed");
        self.guard(permit)
    }

    /// Waits for the lock from outside async code: suspends a green
    /// thread, parks an OS thread.
    ///
    /// # Panics
    ///
    /// On an event-loop thread; see [`wait`](crate::wait::wait).
    ///
    /// ```
    /// let m = motet::sync::Mutex::new(1);
    /// *m.lock_blocking() += 1;
    /// assert_eq!(*m.lock_blocking(), 2);
    /// ```
    #[track_caller]
    // Inlined: a green thread suspends in the caller's frame (`wait`).
    #[inline(always)]
    pub fn lock_blocking(&self) -> MutexGuard<'_, T> {
        crate::wait::wait(self.lock())
    }

    /// Takes the lock if it is free and nobody is waiting for it.
    ///
    /// # Errors
    ///
    /// [`TryLockError`] when it is held or others are queued for it.
    ///
    /// ```
    /// let m = motet::sync::Mutex::new(0);
    /// let g = m.try_lock().unwrap();
    /// assert!(m.try_lock().is_err());
    /// drop(g);
    /// assert!(m.try_lock().is_ok());
    /// ```
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, TryLockError> {
        match self.sem.try_acquire() {
            Ok(permit) => Ok(self.guard(permit)),
            Err(TryAcquireError::NoPermits) => Err(TryLockError(())),
            Err(TryAcquireError::Closed) => unreachable!("a mutex's semaphore is never closed"),
        }
    }

    /// The value, through exclusive access to the mutex (no locking).
    ///
    /// ```
    /// let mut m = motet::sync::Mutex::new(1);
    /// *m.get_mut() = 2;
    /// assert_eq!(m.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    fn guard<'a>(&'a self, permit: Permit<'a>) -> MutexGuard<'a, T> {
        MutexGuard {
            lock: self,
            _permit: permit,
            _marker: PhantomData,
        }
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Mutex<T> {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Ok(g) => d.field("value", &&*g),
            Err(_) => d.field("value", &format_args!("<locked>")),
        };
        d.finish()
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds the mutex's only permit, so no other
        // guard exists and `&mut self` methods of the mutex cannot run
        // (they need the mutex borrowed mutably, and the guard borrows
        // it); the shared reference lives no longer than `&self`.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, this guard is the only access path, and
        // `&mut self` makes the reference unique for its lifetime.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// The guard must not be `Sync` for a `T` that is not (it hands out `&T`).
///
/// ```compile_fail
/// fn sync<S: Sync>() {}
/// sync::<motet::sync::MutexGuard<'static, std::cell::Cell<u8>>>();
/// ```
///
/// And the mutex is shareable for any `Send` value:
///
/// ```
/// fn sync<S: Sync + Send>() {}
/// sync::<motet::sync::Mutex<std::cell::Cell<u8>>>();
/// ```
#[cfg(doctest)]
pub struct GuardSyncChecks;
