//! The workloads: what each one measures, its default size, its known answer,
//! and the figures it adds to the common ones.
//!
//! A workload is described once here, in [`WORKLOADS`], and implemented once
//! per family of models: `run`, generic over the async family's
//! `AsyncModel` (called from `models::async_unit`), and `run_threads`,
//! generic over the blocking-unit family's `ThreadModel` (called from
//! `models::thread_unit`), side by side in the workload's module.
//!
//! To add a workload: add a variant to [`Workload`], write its module (an
//! `INFO` constant and its generic functions), list its `INFO` in
//! [`WORKLOADS`], add its match arms in `models::async_unit::run` and
//! `models::thread_unit::run`, and to the families' `ALL` lists.
//!
//! A *served* workload ([`WorkloadInfo::served`], today http-hello) is not
//! timed inside the child: the child only serves, and the parent loads it
//! from outside (see `served.rs`).

pub mod fanout;
pub mod http_hello;
pub mod pingpong;
pub mod ring;
pub mod skynet;
pub mod spawn_idle;
pub mod switch;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Which workload; the key that model families match on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// A 10-ary tree of units, each inner one summing its children.
    Skynet,
    /// Many units parked on their own one-shot channel: cost in memory and spawn time.
    SpawnIdle,
    /// Two units sending a number back and forth.
    Pingpong,
    /// Two green threads (or coroutines) yielding to each other.
    Switch,
    /// A token passed around a ring of units.
    Ring,
    /// One producer, several consumers on one channel.
    Fanout,
    /// An HTTP/1.1 keep-alive server answering `GET /`, loaded from outside.
    HttpHello,
}

/// A figure of a workload's own, shown as a column of the comparison table.
pub struct Column {
    /// Column header, with its unit.
    pub header: &'static str,
    /// The JSON field it reads.
    pub field: &'static str,
    /// The field is divided by this before it is shown.
    pub divisor: f64,
    /// Decimals shown.
    pub decimals: usize,
}

/// The description of one workload.
pub struct WorkloadInfo {
    /// Which workload.
    pub workload: Workload,
    /// Its id on the command line and in JSON.
    pub id: &'static str,
    /// One line on what it measures.
    pub about: &'static str,
    /// Its size when none is given.
    pub default_n: u64,
    /// Its size in the tour (smaller where the default takes long).
    pub tour_n: u64,
    /// Served: the child serves and the parent measures it with a load
    /// generator, instead of the child timing the workload itself.
    pub served: bool,
    /// What one "op" of `ns_per_op` is.
    pub op: &'static str,
    /// Checks a size; the error says what is allowed.
    pub check_n: fn(u64) -> Result<(), String>,
    /// The known answer at size n.
    pub expected: fn(u64) -> u64,
    /// Its own figures, as table columns.
    pub columns: &'static [Column],
}

/// Every workload, in the order of the tour.
pub const WORKLOADS: &[WorkloadInfo] = &[
    skynet::INFO,
    spawn_idle::INFO,
    pingpong::INFO,
    switch::INFO,
    ring::INFO,
    fanout::INFO,
    http_hello::INFO,
];

/// The column that names the channel a model used.
pub const CHANNEL_COLUMN: Column = Column {
    header: "channel",
    field: "channel",
    divisor: 1.0,
    decimals: 0,
};

/// The workload with this id.
pub fn find(id: &str) -> Option<&'static WorkloadInfo> {
    WORKLOADS.iter().find(|w| w.id == id)
}

/// The ids of every workload.
pub fn ids() -> Vec<&'static str> {
    WORKLOADS.iter().map(|w| w.id).collect()
}

/// What one run of one workload on one model produced (one child process).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Sample {
    /// The workload's answer, checked by the parent against the known one.
    pub result: u64,
    /// Wall time of the timed part, in nanoseconds.
    pub elapsed_ns: u64,
    /// How many ops the timed part did (for `ns_per_op`).
    pub ops: u64,
    /// OS threads the model ran units on.
    pub threads: usize,
    /// The workload's own figures.
    pub extra: Map<String, Value>,
}

impl Sample {
    /// A channel workload's sample: `ops` operations timed over `elapsed`,
    /// with the channel the model used in a `channel` column.
    pub fn over_channel(
        ops: u64,
        result: u64,
        elapsed: std::time::Duration,
        channel: &str,
    ) -> Sample {
        let mut extra = Map::new();
        extra.insert("channel".into(), json!(channel));
        Sample {
            result,
            elapsed_ns: elapsed.as_nanos() as u64,
            ops,
            threads: 0,
            extra,
        }
    }
}

/// n(n-1)/2: the sum of 0..n, the known answer of the summing workloads.
pub fn sum_below(n: u64) -> u64 {
    (u128::from(n) * u128::from(n.saturating_sub(1)) / 2) as u64
}
