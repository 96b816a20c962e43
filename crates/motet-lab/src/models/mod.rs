//! The models: one concurrency form each, placed on the taxonomy's three axes.
//!
//! [`MODELS`] is the registry. A model is a name, its axes, and the function
//! that runs one workload on it in the current process. Models of the async
//! family implement [`async_unit::AsyncModel`] and register
//! `async_unit::run::<TheirType>`; adding one is that impl plus one entry
//! here. A new family (green threads, OS threads, processes) brings its own
//! trait and runner module beside `async_unit`, and registers the same way.

pub mod async_loop;
pub mod async_unit;
pub mod tokio_local;

use std::fmt;
use std::io;

use crate::workloads::{Sample, Workload};

/// Shared or separate memory between units.
// `Separate` has no model yet: the process models will use it.
#[allow(dead_code)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Memory {
    /// Units may share state (`Arc`, `Rc`).
    Shared,
    /// Units own their state and only move messages.
    Separate,
}

/// Who decides when a unit gives up its thread.
// `Implicit` has no model yet: the green-thread and OS models will use it.
#[allow(dead_code)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Switching {
    /// Every switch is visible in the code (`.await`).
    Explicit,
    /// Any blocking call may switch.
    Implicit,
}

/// A model's place on the taxonomy's three axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Axes {
    /// Memory: shared or separate.
    pub memory: Memory,
    /// Parallelism: whether units run on many cores at once.
    pub parallel: bool,
    /// Task switching: explicit or implicit.
    pub switching: Switching,
}

impl Axes {
    /// The three axes as the words `models` prints: memory, parallel, switching.
    pub fn words(&self) -> [&'static str; 3] {
        [
            match self.memory {
                Memory::Shared => "shared",
                Memory::Separate => "separate",
            },
            if self.parallel { "yes" } else { "no" },
            match self.switching {
                Switching::Explicit => "explicit",
                Switching::Implicit => "implicit",
            },
        ]
    }
}

impl fmt::Display for Axes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [memory, parallel, switching] = self.words();
        write!(f, "{memory}  {parallel}  {switching}")
    }
}

/// The axes of a single-threaded async event loop (Node, Twisted, tokio's current_thread).
const ASYNC_ONE_THREAD: Axes = Axes {
    memory: Memory::Shared,
    parallel: false,
    switching: Switching::Explicit,
};

/// One model of the registry.
pub struct ModelInfo {
    /// Its id on the command line and in JSON.
    pub id: &'static str,
    /// Its place on the axes.
    pub axes: Axes,
    /// Runs one workload at size n in this process.
    pub run: fn(Workload, u64) -> io::Result<Sample>,
}

/// Every model, in the order of the tables.
pub const MODELS: &[ModelInfo] = &[
    ModelInfo {
        id: "async-loop",
        axes: ASYNC_ONE_THREAD,
        run: async_unit::run::<async_loop::AsyncLoop>,
    },
    ModelInfo {
        id: "tokio-local",
        axes: ASYNC_ONE_THREAD,
        run: async_unit::run::<tokio_local::TokioLocal>,
    },
];

/// The model the tables compare every other one with.
pub const BASELINE: &str = "tokio-local";

/// The model with this id.
pub fn find(id: &str) -> Option<&'static ModelInfo> {
    MODELS.iter().find(|m| m.id == id)
}

/// The ids of every model.
pub fn ids() -> Vec<&'static str> {
    MODELS.iter().map(|m| m.id).collect()
}
