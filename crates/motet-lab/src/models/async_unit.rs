//! The async family of models: units are async tasks, switching is explicit
//! (every switch is an `.await`).
//!
//! [`AsyncModel`] is the small vocabulary the workloads need from a runtime:
//! start it, run a future to completion on it, spawn a unit, make a one-shot
//! channel. Workloads are written once, generic over it, and monomorphized per
//! model, so each model runs its own native types with no boxing or dynamic
//! dispatch in the measured code.
//!
//! `spawn` asks for `Send` futures because tokio's `spawn` does; a
//! single-threaded model may ignore that. Errors are the runtime's own types
//! (only `Debug` is asked of them), so handles and receivers are awaited as
//! they are, with no wrapper future around them.
//!
//! The served workloads (http-hello) also need the runtime's TCP sockets:
//! adopt a listening std socket, accept, read, write. Those futures are
//! `Send` for the same reason `spawn` asks for it.

use std::fmt::Debug;
use std::future::Future;
use std::io;
use std::net::TcpListener as StdListener;

use super::StopSignal;
use crate::workloads::{fanout, http_hello, pingpong, ring, skynet, spawn_idle, Sample, Workload};

/// Every workload an async model can run: all but switch, which yields
/// between green threads or coroutines.
pub const ALL: &[Workload] = &[
    Workload::Skynet,
    Workload::SpawnIdle,
    Workload::Pingpong,
    Workload::Ring,
    Workload::Fanout,
    Workload::HttpHello,
];

/// A runtime that runs async units, as the workloads see it.
pub trait AsyncModel: Sized + 'static {
    /// Why awaiting a unit's handle may fail (the unit panicked or was cancelled).
    type JoinError: Debug;
    /// The handle to a spawned unit; resolves to its output.
    type Handle<T: Send + 'static>: Future<Output = Result<T, Self::JoinError>> + Send + 'static;
    /// Why a one-shot receive may fail (the sender was dropped).
    type RecvError: Debug;
    /// The sending half of a one-shot channel.
    type Sender<T: Send + 'static>: Send + 'static;
    /// The receiving half of a one-shot channel.
    type Receiver<T: Send + 'static>: Future<Output = Result<T, Self::RecvError>> + Send + 'static;
    /// A listening TCP socket of this runtime.
    type Listener: Send + Sync + 'static;
    /// A connected TCP stream of this runtime.
    type Stream: Send + 'static;
    /// The sending half of a stream channel (pingpong, ring).
    type Tx<T: Send + 'static>: Clone + Send + Sync + 'static;
    /// The receiving half of a stream channel.
    type Rx<T: Send + 'static>: Send + 'static;
    /// The producer's side of the fanout channel.
    type FanTx<T: Send + 'static>: Send + Sync + 'static;
    /// One consumer's side of the fanout channel.
    type FanRx<T: Send + 'static>: Send + 'static;

    /// The workloads this model runs.
    const WORKLOADS: &'static [Workload] = ALL;
    /// The stream channel, in words (reported with pingpong and ring).
    const CHANNEL: &'static str;
    /// The fanout channel, in words.
    const FAN_CHANNEL: &'static str;

    /// Builds the runtime.
    fn start() -> io::Result<Self>;
    /// OS threads that run units.
    fn threads(&self) -> usize;
    /// Runs `fut` to completion on this runtime, on the calling thread.
    fn block_on<F: Future>(&self, fut: F) -> F::Output;
    /// Spawns a unit; called from inside [`AsyncModel::block_on`].
    fn spawn<F>(fut: F) -> Self::Handle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;
    /// A new one-shot channel.
    fn oneshot<T: Send + 'static>() -> (Self::Sender<T>, Self::Receiver<T>);
    /// Sends on a one-shot channel; gives the value back if the receiver is gone.
    fn send<T: Send + 'static>(tx: Self::Sender<T>, value: T) -> Result<(), T>;

    /// A new stream channel, of the model's natural capacity.
    fn channel<T: Send + 'static>() -> (Self::Tx<T>, Self::Rx<T>);
    /// Sends; false if the receiver is gone.
    fn chan_send<T: Send + 'static>(
        tx: &Self::Tx<T>,
        value: T,
    ) -> impl Future<Output = bool> + Send + '_;
    /// Receives; `None` once every sender is gone.
    fn chan_recv<T: Send + 'static>(
        rx: &mut Self::Rx<T>,
    ) -> impl Future<Output = Option<T>> + Send + '_;
    /// The fanout channel of capacity `cap`, with `consumers` receiving ends.
    fn fan<T: Send + 'static>(
        cap: usize,
        consumers: usize,
    ) -> (Self::FanTx<T>, Vec<Self::FanRx<T>>);
    /// Sends one message; false if every consumer is gone.
    fn fan_send<T: Send + 'static>(
        tx: &Self::FanTx<T>,
        value: T,
    ) -> impl Future<Output = bool> + Send + '_;
    /// Receives; `None` once the producer is gone and the channel drained.
    fn fan_recv<T: Send + 'static>(
        rx: &mut Self::FanRx<T>,
    ) -> impl Future<Output = Option<T>> + Send + '_;

    /// Adopts a bound, listening std socket; called inside [`AsyncModel::block_on`].
    fn listener(listener: StdListener) -> io::Result<Self::Listener>;
    /// Waits for the next connection, and sets `TCP_NODELAY` on it.
    fn accept(
        listener: &Self::Listener,
    ) -> impl Future<Output = io::Result<Self::Stream>> + Send + '_;

    /// How many accept loops a server of this model runs, each on its own
    /// listener sharing the port (`SO_REUSEPORT`): one per core for a
    /// per-core model (nginx's `reuseport`), one for the others.
    fn shards(&self) -> usize {
        1
    }

    /// Spawns the accept loop of shard `shard`; called inside
    /// [`AsyncModel::block_on`]. Per-core models put it on core `shard`.
    fn spawn_on_shard<F>(_shard: usize, fut: F) -> Self::Handle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Self::spawn(fut)
    }
    /// Reads some bytes into `buf`; 0 at the end of the stream.
    fn read<'a>(
        stream: &'a mut Self::Stream,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a;
    /// Writes all of `buf`.
    fn write_all<'a>(
        stream: &'a mut Self::Stream,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a;
}

/// Runs one workload at size `n` on a fresh runtime of model `M`.
pub fn run<M: AsyncModel>(workload: Workload, n: u64) -> io::Result<Sample> {
    let rt = M::start()?;
    let mut sample = match workload {
        Workload::Skynet => rt.block_on(as_unit::<M, _>(skynet::run::<M>(n)))?,
        Workload::SpawnIdle => rt.block_on(as_unit::<M, _>(spawn_idle::run::<M>(n)))?,
        Workload::Pingpong => rt.block_on(as_unit::<M, _>(pingpong::run::<M>(n)))?,
        Workload::Ring => rt.block_on(as_unit::<M, _>(ring::run::<M>(n)))?,
        Workload::Fanout => rt.block_on(as_unit::<M, _>(fanout::run::<M>(n)))?,
        Workload::Switch => {
            return Err(io::Error::other(
                "switch yields between blocking units: async models do not run it",
            ))
        }
        Workload::HttpHello => {
            return Err(io::Error::other(
                "http-hello is served: run it with `serve`",
            ))
        }
    };
    sample.threads = rt.threads();
    Ok(sample)
}

/// Runs a workload's root as a unit of the model, like every unit it
/// spawns, rather than on `block_on`'s thread: on the parallel flavors that
/// thread is not one of the runtime's, and on the per-core flavor its spawns
/// would be spread round-robin over the cores, so that units which talk to
/// each other would pay a cross-core wake-up per message. From a unit, a
/// per-core model's spawns stay on its core, as they do in nginx-style code.
async fn as_unit<M: AsyncModel, F>(root: F) -> io::Result<Sample>
where
    F: std::future::Future<Output = io::Result<Sample>> + Send + 'static,
{
    M::spawn(root)
        .await
        .map_err(|e| io::Error::other(format!("the workload's root unit failed: {e:?}")))?
}

/// Serves one served workload on `listener` on a fresh runtime of model `M`
/// until `stop` fires.
pub fn serve<M: AsyncModel>(
    workload: Workload,
    listener: StdListener,
    stop: StopSignal,
) -> io::Result<Sample> {
    let rt = M::start()?;
    let mut listeners = vec![listener];
    if rt.shards() > 1 {
        // The child bound the first with SO_REUSEPORT; the rest share its port.
        let addr = listeners[0].local_addr()?;
        listeners.extend(motet::net::reuseport_listeners(addr, rt.shards() - 1)?);
    }
    let mut sample = match workload {
        Workload::HttpHello => rt.block_on(http_hello::serve::<M>(listeners, stop))?,
        _ => return Err(io::Error::other("only served workloads are served")),
    };
    sample.threads = rt.threads();
    Ok(sample)
}
