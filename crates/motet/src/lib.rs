//! # motet
//!
//! A concurrency runtime in which every form of concurrency from the classic
//! taxonomy is a real, fast, first-class choice, over one I/O driver, one
//! way of waiting, and (as the project grows) one channel type and one
//! supervision model.
//!
//! The taxonomy has three axes, and in motet each is an API choice:
//!
//! | axis | how you choose it in motet |
//! |---|---|
//! | task switching (explicit / implicit) | the unit you spawn: an async task ([`task::spawn`]) switches only at `.await`; a green thread ([`green::spawn`]) switches at any blocking call; processes are coming |
//! | parallelism (none / parallel) | the runtime flavor: [`runtime::Builder::event_loop`] is one thread (Node); [`runtime::Builder::work_stealing`] is n workers that steal tasks (Go, tokio); [`runtime::Builder::per_core`] is one pinned loop per core, tasks never migrate (nginx) |
//! | memory (shared / separate) | tasks may share `Arc` state; processes (coming) own their state and only move messages |
//!
//! ## Quick start: an event loop, Node's model
//!
//! ```
//! use std::time::Duration;
//! use motet::runtime::Runtime;
//!
//! let rt = Runtime::builder().event_loop().build()?;
//! let total = rt.block_on(async {
//!     let mut handles = Vec::new();
//!     for i in 0..100u64 {
//!         handles.push(motet::task::spawn(async move {
//!             motet::time::sleep(Duration::from_millis(1)).await;
//!             i
//!         }));
//!     }
//!     let mut total = 0;
//!     for h in handles {
//!         total += h.await.expect("task failed");
//!     }
//!     total
//! });
//! assert_eq!(total, 4950);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! ## Map of the crate
//!
//! - [`runtime`]: the flavors (`Runtime`, `Builder`, `Handle`), stats, the
//!   stall detector, the cooperative budget.
//! - [`task`]: spawning, `JoinHandle`, `yield_now`, `spawn_blocking`.
//! - [`green`]: green threads (stackful coroutines, Go-style), which block
//!   by suspending; they are tasks underneath.
//! - [`wait()`]: waiting on any future from code that is not async.
//! - [`time`]: `sleep`, `timeout`, `interval`.
//! - [`net`]: TCP, UDP and Unix sockets with async I/O (`futures-io` traits)
//!   and `std::io` forms for blocking code; `reuseport_listeners` for
//!   per-core accept sharding.
//! - [`chan`]: channels with Go's semantics and `select` ([`select!`],
//!   [`select_async!`]), for OS threads, green threads and tasks alike.
//! - [`sync`]: `Semaphore`, `Mutex`, `RwLock`, `WaitGroup`, `OnceCell`,
//!   `Notify` and a one-shot channel, each usable with `.await` or blocking.
//!
//! `docs/ARCHITECTURE.md` in the repository explains the layers and the
//! decisions behind them.

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod bias;
mod blocking;
pub mod chan;
mod coop;
pub(crate) mod driver;
pub mod green;
mod loom;
pub mod net;
pub mod runtime;
pub mod sync;
mod sys;
pub mod task;
pub mod time;
pub mod wait;

pub use wait::wait;

/// The README's examples, compiled and run as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
