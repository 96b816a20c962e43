//! The models: one concurrency form each, placed on the taxonomy's three axes.
//!
//! [`MODELS`] is the registry. A model is a name, its axes, and the function
//! that runs one workload on it in the current process. Models of the async
//! family implement [`async_unit::AsyncModel`] and register
//! `async_unit::run::<TheirType>`; adding one is that impl plus one entry
//! here: the one impl gives the model every workload, served ones
//! (http-hello) included. The blocking-unit family (green threads, may's
//! coroutines, OS threads) implements [`thread_unit::ThreadModel`] and
//! registers `thread_unit::run::<TheirType>` the same way. Each family's
//! trait lists the workloads its model runs (`WORKLOADS`); the lab
//! refuses the others (exit 2 from `bench`, skipped by the tour).
//!
//! An *external* model ([`Runs::External`], today nginx) is an outside
//! server program that the parent starts for the served workloads only.

pub mod async_unit;
pub mod green;
pub mod may;
pub mod motet;
pub mod nginx;
pub mod os_thread;
pub mod thread_unit;
pub mod tokio;

use std::fmt;
use std::io;
use std::net::TcpListener as StdListener;
use std::process::Child;
use std::thread;

use serde_json::{Map, Value};

use crate::workloads::{Sample, Workload, WorkloadInfo, WORKLOADS};

/// Shared or separate memory between units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Memory {
    /// Units may share state (`Arc`, `Rc`).
    Shared,
    /// Units own their state and only move messages.
    Separate,
}

/// Who decides when a unit gives up its thread.
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

/// The axes of a multi-threaded async runtime (tokio multi-thread, motet's
/// work-stealing and per-core flavors, nginx's loops in one process).
const ASYNC_PARALLEL: Axes = Axes {
    memory: Memory::Shared,
    parallel: true,
    switching: Switching::Explicit,
};

/// An in-binary async model: runs workloads and serves served ones.
const fn async_model<M: async_unit::AsyncModel>(id: &'static str, axes: Axes) -> ModelInfo {
    ModelInfo {
        id,
        axes,
        runs: Runs::Lab {
            run: async_unit::run::<M>,
            serve: async_unit::serve::<M>,
            workloads: M::WORKLOADS,
        },
    }
}

/// The axes of threads (green, coroutines or OS) sharing memory, run in parallel.
const THREADS_PARALLEL: Axes = Axes {
    memory: Memory::Shared,
    parallel: true,
    switching: Switching::Implicit,
};

/// The axes of green threads on one OS thread (Go with GOMAXPROCS=1).
const THREADS_ONE_THREAD: Axes = Axes {
    memory: Memory::Shared,
    parallel: false,
    switching: Switching::Implicit,
};

/// An in-binary blocking-unit model.
const fn thread_model<M: thread_unit::ThreadModel>(id: &'static str, axes: Axes) -> ModelInfo {
    ModelInfo {
        id,
        axes,
        runs: Runs::Lab {
            run: thread_unit::run::<M>,
            serve: thread_unit::serve::<M>,
            workloads: M::WORKLOADS,
        },
    }
}

/// How a served workload learns, in the child, that the parent wants it
/// to stop (in the lab: the parent closed the child's stdin).
pub struct StopSignal {
    wait: Box<dyn FnOnce() + Send>,
}

impl StopSignal {
    /// A signal that fires when `wait`, which blocks, returns.
    pub fn new(wait: impl FnOnce() + Send + 'static) -> StopSignal {
        StopSignal {
            wait: Box::new(wait),
        }
    }

    /// Calls `then` once the signal fires, on a thread of its own.
    pub fn then(self, then: impl FnOnce() + Send + 'static) {
        let wait = self.wait;
        thread::Builder::new()
            .name("motet-lab-stop".into())
            .spawn(move || {
                wait();
                then();
            })
            .expect("cannot start the stop-signal thread");
    }
}

/// An outside server the parent started (see [`External`]).
pub struct Started {
    /// The server's process; the parent stops it with SIGTERM.
    pub child: Child,
    /// OS threads (or single-threaded worker processes) serving.
    pub threads: usize,
    /// Figures and facts to report (its exact configuration, for one).
    pub extra: Map<String, Value>,
    /// Cleans up once the server is stopped (its temporary directory).
    pub cleanup: Box<dyn FnOnce() + Send>,
}

/// An outside server program, started by the parent for the served
/// workloads only.
pub struct External {
    /// The program looked for on `PATH`.
    pub program: &'static str,
    /// Starts it serving http-hello on 127.0.0.1:port (the port is free).
    pub start: fn(u16) -> Result<Started, String>,
}

/// Where and how a model runs.
pub enum Runs {
    /// In a child process of the lab binary: every workload.
    Lab {
        /// Runs one workload at size n in this process.
        run: fn(Workload, u64) -> io::Result<Sample>,
        /// Serves one served workload on a listening socket until the stop signal.
        serve: fn(Workload, StdListener, StopSignal) -> io::Result<Sample>,
        /// The workloads it runs.
        workloads: &'static [Workload],
    },
    /// An outside program: served workloads only.
    External(External),
}

/// One model of the registry.
pub struct ModelInfo {
    /// Its id on the command line and in JSON.
    pub id: &'static str,
    /// Its place on the axes.
    pub axes: Axes,
    /// Where and how it runs.
    pub runs: Runs,
}

impl ModelInfo {
    /// Whether it can run `workload` at all.
    pub fn runs(&self, workload: &WorkloadInfo) -> bool {
        match self.runs {
            Runs::Lab { workloads, .. } => workloads.contains(&workload.workload),
            Runs::External(_) => workload.served,
        }
    }

    /// The ids of the workloads it runs, for error messages.
    pub fn workload_ids(&self) -> Vec<&'static str> {
        WORKLOADS
            .iter()
            .filter(|w| self.runs(w))
            .map(|w| w.id)
            .collect()
    }

    /// `Err(why)` when what it needs is not on this machine.
    pub fn available(&self) -> Result<(), String> {
        match &self.runs {
            Runs::Lab { .. } => Ok(()),
            Runs::External(external) if on_path(external.program) => Ok(()),
            Runs::External(external) => Err(format!("{} not installed", external.program)),
        }
    }
}

/// Whether an executable named `program` is on `PATH`.
pub fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| {
        std::fs::metadata(dir.join(program))
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// nginx: one master process and worker processes, each worker one event
/// loop. Memory is `separate` (the workers are OS processes that share no
/// address space), `parallel` (a worker per core), `explicit` switching
/// (inside a worker every switch is a return to its epoll loop). This is the
/// "one event loop per CPU" combination of DESIGN.md, with processes.
const PROCESSES_OF_EVENT_LOOPS: Axes = Axes {
    memory: Memory::Separate,
    parallel: true,
    switching: Switching::Explicit,
};

/// Every model, in the order of the tables.
pub const MODELS: &[ModelInfo] = &[
    async_model::<motet::Motet<motet::Loop>>("async-loop", ASYNC_ONE_THREAD),
    async_model::<motet::Motet<motet::Steal>>("async-steal", ASYNC_PARALLEL),
    async_model::<motet::Motet<motet::Core>>("async-core", ASYNC_PARALLEL),
    async_model::<tokio::TokioLocal>("tokio-local", ASYNC_ONE_THREAD),
    async_model::<tokio::TokioMulti>("tokio", ASYNC_PARALLEL),
    thread_model::<green::Green<green::Loop>>("green-loop", THREADS_ONE_THREAD),
    thread_model::<green::Green<green::Steal>>("green", THREADS_PARALLEL),
    thread_model::<may::May>("may", THREADS_PARALLEL),
    thread_model::<os_thread::Crossbeam>("thread-crossbeam", THREADS_PARALLEL),
    thread_model::<os_thread::Flume>("thread-flume", THREADS_PARALLEL),
    thread_model::<os_thread::Std>("thread-std", THREADS_PARALLEL),
    thread_model::<os_thread::MotetChan>("thread-motet", THREADS_PARALLEL),
    ModelInfo {
        id: "nginx",
        axes: PROCESSES_OF_EVENT_LOOPS,
        runs: Runs::External(External {
            program: "nginx",
            start: nginx::start,
        }),
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
