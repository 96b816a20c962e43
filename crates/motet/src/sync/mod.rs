//! Synchronization for every kind of unit.
//!
//! For now: [`oneshot`], a single-value channel that works from async tasks
//! (`.await`) and from OS threads ([`oneshot::Receiver::blocking_recv`]).
//! The general channels are [`crate::chan`] (Go's semantics and
//! `select`); the locks (Mutex, RwLock, Semaphore, ...) come with the
//! green-threads work; like this one, each is written once, as a future,
//! and waited on through [`wait`](crate::wait::wait) outside async code.

pub mod oneshot;
