//! A readers-writer lock for every kind of unit.
//!
//! # Design
//!
//! A [`Semaphore`] with [`MAX_READERS`] permits beside an `UnsafeCell<T>`:
//! a reader takes one permit, a writer takes all of them. Holding one
//! permit is the right to read; holding all is the right to write.
//!
//! # Writers are not starved
//!
//! The semaphore is strictly FIFO and a large request at the head of its
//! queue blocks every later request. So once a writer waits, readers that
//! arrive after it queue behind it, and it gets the lock as soon as the
//! readers already inside leave; the readers behind it then enter together
//! after it. This is "writer-preferring" in the sense that matters (a
//! writer never waits for readers that came after it) without a reader
//! ever being starved either: everybody is served in arrival order, and
//! consecutive readers share the lock.
//!
//! Rejected: reader-preferring (readers enter whenever no writer *holds*
//! the lock), which starves writers under a steady read load; and a
//! separate writer flag with its own wait list, which is what the FIFO
//! semaphore already gives for free.
//!
//! # No poisoning
//!
//! As for [`Mutex`](super::Mutex): a panic while a guard is held releases
//! the lock during unwinding, and the next locker sees the value as it was
//! left.
//!
//! # Unsafe
//!
//! The value lives in an `UnsafeCell`; guards are the only shared access
//! path, and each access carries its `// SAFETY:` argument.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use super::mutex::TryLockError;
use super::semaphore::{Permit, Semaphore};

/// How many readers may hold the lock at once (far more than can exist
/// in practice; a writer takes this many permits).
pub const MAX_READERS: usize = u32::MAX as usize >> 3;

/// An async-aware readers-writer lock: many readers or one writer, served
/// in arrival order (so writers are never starved).
///
/// ```
/// let rt = motet::runtime::Runtime::new().unwrap();
/// let lock = motet::sync::RwLock::new(5);
/// rt.block_on(async {
///     {
///         let r1 = lock.read().await;
///         let r2 = lock.read().await;
///         assert_eq!(*r1 + *r2, 10);
///     }
///     *lock.write().await += 1;
/// });
/// assert_eq!(lock.into_inner(), 6);
/// ```
pub struct RwLock<T: ?Sized> {
    sem: Semaphore,
    value: UnsafeCell<T>,
}

// SAFETY: a writer gets `&mut T` (possibly on another thread: `T: Send`);
// readers on several threads share `&T` at once (`T: Sync`). These are
// std's `RwLock` bounds.
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

/// Shared read access; released when dropped.
///
/// ```
/// let l = motet::sync::RwLock::new(1);
/// let r = l.try_read().unwrap();
/// assert_eq!(*r, 1);
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    _permit: Permit<'a>,
    /// Send/Sync as `&T`.
    _marker: PhantomData<&'a T>,
}

/// Exclusive write access; released when dropped.
///
/// ```
/// let l = motet::sync::RwLock::new(1);
/// *l.try_write().unwrap() = 2;
/// assert_eq!(*l.try_read().unwrap(), 2);
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    _permit: Permit<'a>,
    /// Send/Sync as `&mut T`.
    _marker: PhantomData<&'a mut T>,
}

const NEVER_CLOSED: &str = "an RwLock's semaphore is never closed";

impl<T> RwLock<T> {
    /// A new unlocked lock holding `value`.
    ///
    /// ```
    /// let l = motet::sync::RwLock::new(vec![1]);
    /// assert_eq!(l.try_read().unwrap().len(), 1);
    /// ```
    pub fn new(value: T) -> RwLock<T> {
        RwLock {
            sem: Semaphore::new(MAX_READERS),
            value: UnsafeCell::new(value),
        }
    }

    /// Consumes the lock and returns the value.
    ///
    /// ```
    /// assert_eq!(motet::sync::RwLock::new(3).into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Waits for shared read access (behind any writer that came first).
    /// Cancel-safe.
    ///
    /// ```
    /// let rt = motet::runtime::Runtime::new().unwrap();
    /// let l = motet::sync::RwLock::new(1);
    /// assert_eq!(rt.block_on(async { *l.read().await }), 1);
    /// ```
    pub async fn read(&self) -> RwLockReadGuard<'_, T> {
        let permit = self.sem.acquire().await.expect(NEVER_CLOSED);
        self.read_guard(permit)
    }

    /// Waits for exclusive write access. Cancel-safe.
    ///
    /// ```
    /// let rt = motet::runtime::Runtime::new().unwrap();
    /// let l = motet::sync::RwLock::new(1);
    /// rt.block_on(async { *l.write().await = 7 });
    /// assert_eq!(l.into_inner(), 7);
    /// ```
    pub async fn write(&self) -> RwLockWriteGuard<'_, T> {
        let permit = self
            .sem
            .acquire_many(MAX_READERS)
            .await
            .expect(NEVER_CLOSED);
        self.write_guard(permit)
    }

    /// [`read`](Self::read) from outside async code: suspends a green
    /// thread, parks an OS thread.
    ///
    /// # Panics
    ///
    /// On an event-loop thread; see [`wait`](crate::wait::wait).
    ///
    /// ```
    /// let l = motet::sync::RwLock::new(1);
    /// assert_eq!(*l.read_blocking(), 1);
    /// ```
    #[track_caller]
    // Inlined: a green thread suspends in the caller's frame (`wait`).
    #[inline(always)]
    pub fn read_blocking(&self) -> RwLockReadGuard<'_, T> {
        crate::wait::wait(self.read())
    }

    /// [`write`](Self::write) from outside async code.
    ///
    /// # Panics
    ///
    /// On an event-loop thread; see [`wait`](crate::wait::wait).
    ///
    /// ```
    /// let l = motet::sync::RwLock::new(1);
    /// *l.write_blocking() += 1;
    /// assert_eq!(*l.read_blocking(), 2);
    /// ```
    #[track_caller]
    // Inlined: a green thread suspends in the caller's frame (`wait`).
    #[inline(always)]
    pub fn write_blocking(&self) -> RwLockWriteGuard<'_, T> {
        crate::wait::wait(self.write())
    }

    /// Read access if it is free now and no one waits ahead.
    ///
    /// # Errors
    ///
    /// [`TryLockError`] when a writer holds or waits for the lock.
    ///
    /// ```
    /// let l = motet::sync::RwLock::new(0);
    /// let _a = l.try_read().unwrap();
    /// assert!(l.try_read().is_ok());
    /// ```
    pub fn try_read(&self) -> Result<RwLockReadGuard<'_, T>, TryLockError> {
        self.sem
            .try_acquire()
            .map(|p| self.read_guard(p))
            .map_err(|_| TryLockError::new())
    }

    /// Write access if the lock is free now and no one waits ahead.
    ///
    /// # Errors
    ///
    /// [`TryLockError`] when anyone holds or waits for the lock.
    ///
    /// ```
    /// let l = motet::sync::RwLock::new(0);
    /// let r = l.try_read().unwrap();
    /// assert!(l.try_write().is_err());
    /// drop(r);
    /// assert!(l.try_write().is_ok());
    /// ```
    pub fn try_write(&self) -> Result<RwLockWriteGuard<'_, T>, TryLockError> {
        self.sem
            .try_acquire_many(MAX_READERS)
            .map(|p| self.write_guard(p))
            .map_err(|_| TryLockError::new())
    }

    /// The value, through exclusive access to the lock (no locking).
    ///
    /// ```
    /// let mut l = motet::sync::RwLock::new(1);
    /// *l.get_mut() += 1;
    /// assert_eq!(l.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    fn read_guard<'a>(&'a self, permit: Permit<'a>) -> RwLockReadGuard<'a, T> {
        RwLockReadGuard {
            lock: self,
            _permit: permit,
            _marker: PhantomData,
        }
    }

    fn write_guard<'a>(&'a self, permit: Permit<'a>) -> RwLockWriteGuard<'a, T> {
        RwLockWriteGuard {
            lock: self,
            _permit: permit,
            _marker: PhantomData,
        }
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> RwLock<T> {
        RwLock::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Ok(g) => d.field("value", &&*g),
            Err(_) => d.field("value", &format_args!("<locked>")),
        };
        d.finish()
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds one permit, so no writer (which needs all
        // of them) holds the lock while it lives, and `get_mut` cannot run
        // while the lock is borrowed; only shared references exist.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds every permit: no other guard exists.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds every permit, and `&mut self` makes this
        // the only reference derived from it.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Waker};

    #[test]
    fn a_waiting_writer_blocks_later_readers() {
        let l = RwLock::new(0);
        let r1 = l.try_read().unwrap();
        let mut w = pin!(l.write());
        let mut cx = Context::from_waker(Waker::noop());
        assert!(w.as_mut().poll(&mut cx).is_pending());
        assert!(l.try_read().is_err(), "a reader jumped a waiting writer");
        drop(r1);
        assert!(w.as_mut().poll(&mut cx).is_ready());
    }
}
