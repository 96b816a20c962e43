//! A cell written once, with initializers that may wait (async or
//! blocking).
//!
//! # Design
//!
//! A `std::sync::OnceLock<T>` holds the value (so reading a set cell is
//! one atomic load, and this file needs no `unsafe`), and a
//! [`Semaphore`] with one permit serializes the initializers. An
//! initializer takes the permit, looks again (someone before it may have
//! set the value), runs its function if the cell is still empty, stores
//! the value and gives the permit back. Concurrent initializers therefore
//! run one at a time, in arrival order, and all but the first find the cell
//! set and return without running theirs.
//!
//! The permit is released by `Drop`, so an initializer that is cancelled
//! (its future dropped) or that panics leaves the cell empty and lets the
//! next waiting initializer run its own function. The std `OnceLock` alone
//! cannot do this across an `.await`: its initializer would block the OS
//! thread (and every task on it) of every other initializer.
//!
//! [`set`](OnceCell::set) does not wait for a running initializer: if it
//! stores first, the initializer's value is dropped when it finishes and
//! the initializer returns the value `set` stored.

use std::fmt;
use std::future::Future;
use std::sync::OnceLock;

use super::semaphore::Semaphore;

/// A cell that is initialized at most once, from async tasks, green threads
/// or OS threads.
///
/// ```
/// use motet::sync::OnceCell;
/// static CONFIG: OnceCell<String> = OnceCell::const_new();
///
/// let rt = motet::runtime::Runtime::new().unwrap();
/// let v = rt.block_on(CONFIG.get_or_init(|| async { "loaded".to_string() }));
/// assert_eq!(v, "loaded");
/// assert_eq!(CONFIG.get().map(String::as_str), Some("loaded"));
/// ```
pub struct OnceCell<T> {
    value: OnceLock<T>,
    init: Semaphore,
}

impl<T> OnceCell<T> {
    /// An empty cell.
    ///
    /// ```
    /// let c = motet::sync::OnceCell::<u8>::new();
    /// assert!(c.get().is_none());
    /// ```
    pub fn new() -> OnceCell<T> {
        OnceCell {
            value: OnceLock::new(),
            init: Semaphore::new(1),
        }
    }

    /// An empty cell, in a `const` context (for statics).
    ///
    /// ```
    /// static C: motet::sync::OnceCell<u8> = motet::sync::OnceCell::const_new();
    /// assert!(C.get().is_none());
    /// ```
    #[cfg(not(loom))]
    pub const fn const_new() -> OnceCell<T> {
        OnceCell {
            value: OnceLock::new(),
            init: Semaphore::const_new(1),
        }
    }

    /// The value, if set.
    ///
    /// ```
    /// let c = motet::sync::OnceCell::new();
    /// c.set(1).unwrap();
    /// assert_eq!(c.get(), Some(&1));
    /// ```
    pub fn get(&self) -> Option<&T> {
        self.value.get()
    }

    /// Stores `value` if the cell is empty.
    ///
    /// # Errors
    ///
    /// Hands `value` back if the cell was already set.
    ///
    /// ```
    /// let c = motet::sync::OnceCell::new();
    /// assert_eq!(c.set(1), Ok(()));
    /// assert_eq!(c.set(2), Err(2));
    /// ```
    pub fn set(&self, value: T) -> Result<(), T> {
        self.value.set(value)
    }

    /// The value, initializing it with `init().await` if the cell is empty.
    /// Of concurrent callers, one runs its `init` and the others wait for
    /// it; if it is cancelled or panics, the next one runs its own.
    ///
    /// ```
    /// let rt = motet::runtime::Runtime::new().unwrap();
    /// let c = motet::sync::OnceCell::new();
    /// rt.block_on(async {
    ///     assert_eq!(*c.get_or_init(|| async { 1 }).await, 1);
    ///     assert_eq!(*c.get_or_init(|| async { 2 }).await, 1);
    /// });
    /// ```
    pub async fn get_or_init<F, Fut>(&self, init: F) -> &T
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        if let Some(v) = self.value.get() {
            return v;
        }
        let _permit = self
            .init
            .acquire()
            .await
            .expect("a OnceCell's semaphore is never closed");
        if let Some(v) = self.value.get() {
            return v;
        }
        let value = init().await;
        self.store(value)
    }

    /// [`get_or_init`](Self::get_or_init) with a blocking initializer,
    /// from outside async code: a green thread waiting for another
    /// initializer suspends, an OS thread parks. `init` runs on the calling
    /// unit and may itself block through motet.
    ///
    /// # Panics
    ///
    /// On an event-loop thread, when it has to wait; see
    /// [`wait`](crate::wait::wait).
    ///
    /// ```
    /// let c = motet::sync::OnceCell::new();
    /// assert_eq!(*c.get_or_init_blocking(|| 7), 7);
    /// assert_eq!(*c.get_or_init_blocking(|| 8), 7);
    /// ```
    #[track_caller]
    pub fn get_or_init_blocking<F: FnOnce() -> T>(&self, init: F) -> &T {
        if let Some(v) = self.value.get() {
            return v;
        }
        let _permit =
            crate::wait::wait(self.init.acquire()).expect("a OnceCell's semaphore is never closed");
        if let Some(v) = self.value.get() {
            return v;
        }
        self.store(init())
    }

    /// Stores an initializer's value unless `set` got there first.
    fn store(&self, value: T) -> &T {
        let _ = self.value.set(value);
        self.value.get().expect("the cell was just set")
    }

    /// Consumes the cell and returns its value, if set.
    ///
    /// ```
    /// let c = motet::sync::OnceCell::new();
    /// c.set("v").unwrap();
    /// assert_eq!(c.into_inner(), Some("v"));
    /// ```
    pub fn into_inner(self) -> Option<T> {
        self.value.into_inner()
    }
}

impl<T> Default for OnceCell<T> {
    fn default() -> OnceCell<T> {
        OnceCell::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceCell<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnceCell")
            .field("value", &self.value.get())
            .finish()
    }
}
