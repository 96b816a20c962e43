//! The blocking-unit family of models: units are closures of ordinary,
//! blocking code, run as green threads, coroutines or OS threads; switching
//! is implicit (any blocking call may switch).
//!
//! [`ThreadModel`] is the vocabulary the workloads need from such a model:
//! start it, run a root closure on it, spawn a unit and join it (blocking),
//! one-shot channels and stream channels with blocking send and receive,
//! a yield, and a many-consumer channel for fanout. Workloads are written
//! once, generic over it (`run_threads` in each workload module), and
//! monomorphized per model, as the async family is over
//! [`AsyncModel`](super::async_unit::AsyncModel).
//!
//! Not every model runs every workload: [`ThreadModel::WORKLOADS`] lists
//! the ones it does (OS threads, for one, run only fanout: a million of
//! them would not fit), and the lab refuses the others before starting a
//! child.

use std::io;
use std::net::TcpListener as StdListener;

use super::StopSignal;
use crate::workloads::{fanout, pingpong, ring, skynet, spawn_idle, switch, Sample, Workload};

/// A model whose units are blocking closures, as the workloads see it.
pub trait ThreadModel: Sized + 'static {
    /// The handle to a spawned unit; [`ThreadModel::join`] waits for it.
    type Handle<T: Send + 'static>: Send + 'static;
    /// The sending half of a one-shot channel.
    type OnceTx<T: Send + 'static>: Send + 'static;
    /// The receiving half of a one-shot channel.
    type OnceRx<T: Send + 'static>: Send + 'static;
    /// The sending half of a stream channel (pingpong, ring).
    type Tx<T: Send + 'static>: Clone + Send + 'static;
    /// The receiving half of a stream channel.
    type Rx<T: Send + 'static>: Send + 'static;
    /// The producer's side of the fanout channel.
    type FanTx<T: Send + 'static>: Send + 'static;
    /// One consumer's side of the fanout channel.
    type FanRx<T: Send + 'static>: Send + 'static;

    /// The workloads this model runs.
    const WORKLOADS: &'static [Workload];
    /// The stream channel, in words (reported with pingpong and ring).
    const CHANNEL: &'static str;
    /// The fanout channel, in words.
    const FAN_CHANNEL: &'static str;

    /// Builds the runtime.
    fn start() -> io::Result<Self>;
    /// OS threads that run units.
    fn threads(&self) -> usize;
    /// Runs `root` as a unit of this model and waits for its result, from
    /// the calling (plain) thread.
    fn run<T: Send + 'static>(&self, root: impl FnOnce() -> T + Send + 'static) -> T;
    /// Spawns a unit; called from inside [`ThreadModel::run`].
    fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Self::Handle<T>;
    /// Waits for a unit and takes its result; panics if it failed.
    fn join<T: Send + 'static>(handle: Self::Handle<T>) -> T;
    /// A new one-shot channel.
    fn oneshot<T: Send + 'static>() -> (Self::OnceTx<T>, Self::OnceRx<T>);
    /// Sends on a one-shot channel; gives the value back if the receiver is gone.
    fn send_once<T: Send + 'static>(tx: Self::OnceTx<T>, value: T) -> Result<(), T>;
    /// Blocks until the one-shot value arrives; `None` if the sender was dropped.
    fn recv_once<T: Send + 'static>(rx: Self::OnceRx<T>) -> Option<T>;
    /// A new stream channel, of the model's natural capacity.
    fn channel<T: Send + 'static>() -> (Self::Tx<T>, Self::Rx<T>);
    /// Blocking send; false if every receiver is gone.
    fn send<T: Send + 'static>(tx: &Self::Tx<T>, value: T) -> bool;
    /// Blocking receive; `None` once every sender is gone.
    fn recv<T: Send + 'static>(rx: &Self::Rx<T>) -> Option<T>;
    /// Gives the thread to another unit that is ready to run.
    fn yield_now();
    /// The fanout channel of capacity `cap`, with `consumers` receiving ends.
    fn fan<T: Send + 'static>(
        cap: usize,
        consumers: usize,
    ) -> (Self::FanTx<T>, Vec<Self::FanRx<T>>);
    /// Blocking send of the `seq`-th message; false if every consumer is gone.
    fn fan_send<T: Send + 'static>(tx: &Self::FanTx<T>, seq: u64, value: T) -> bool;
    /// Blocking receive; `None` once the producer is gone and the channel drained.
    fn fan_recv<T: Send + 'static>(rx: &Self::FanRx<T>) -> Option<T>;
}

/// Every workload a blocking-unit model can run (the served one, http-hello, excepted).
pub const ALL: &[Workload] = &[
    Workload::Skynet,
    Workload::SpawnIdle,
    Workload::Pingpong,
    Workload::Switch,
    Workload::Ring,
    Workload::Fanout,
];

/// Runs one workload at size `n` on a fresh runtime of model `M`.
pub fn run<M: ThreadModel>(workload: Workload, n: u64) -> io::Result<Sample> {
    if !M::WORKLOADS.contains(&workload) {
        return Err(io::Error::other(format!(
            "this model does not run {workload:?}"
        )));
    }
    let rt = M::start()?;
    let mut sample = match workload {
        Workload::Skynet => rt.run(move || skynet::run_threads::<M>(n))?,
        Workload::SpawnIdle => rt.run(move || spawn_idle::run_threads::<M>(n))?,
        Workload::Pingpong => rt.run(move || pingpong::run_threads::<M>(n))?,
        Workload::Switch => rt.run(move || switch::run_threads::<M>(n))?,
        Workload::Ring => rt.run(move || ring::run_threads::<M>(n))?,
        Workload::Fanout => rt.run(move || fanout::run_threads::<M>(n))?,
        Workload::HttpHello => return Err(io::Error::other("blocking-unit models do not serve")),
    };
    if sample.threads == 0 {
        sample.threads = rt.threads();
    }
    Ok(sample)
}

/// Blocking-unit models serve nothing yet: the lab never calls this, since
/// none lists http-hello in its workloads.
pub fn serve<M: ThreadModel>(
    _workload: Workload,
    _listener: StdListener,
    _stop: StopSignal,
) -> io::Result<Sample> {
    Err(io::Error::other(
        "blocking-unit models do not serve http-hello yet",
    ))
}
