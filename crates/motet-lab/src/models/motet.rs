//! motet's async models, one per runtime flavor, sharing one implementation:
//!
//! - `async-loop`: the `event_loop` flavor; units are `spawn_local` tasks.
//! - `async-steal`: the `work_stealing` flavor, one worker per core; units
//!   are `spawn`ed tasks that migrate.
//! - `async-core`: the `per_core` flavor, one pinned loop per core; units
//!   stay on the core that spawned them, and a server runs one accept loop
//!   per core on its own `SO_REUSEPORT` listener (nginx's model).
//!
//! One-shots are `motet::sync::oneshot` on all three.

use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::net::TcpListener as StdListener;

use motet::net::{TcpListener, TcpStream};
use motet::runtime::{Builder, Handle, Runtime};
use motet::sync::oneshot;
use motet::task::{JoinError, JoinHandle};

use super::async_unit::AsyncModel;

/// The capacity of motet's stream channel (pingpong, ring) in every motet
/// model, async and green: 1, the same as tokio's `mpsc::channel(1)`.
/// Measured against 0 (a rendezvous, Go's unbuffered channel) on pingpong,
/// 500,000 round trips, medians of 3 on the 2-core VM, ns per round trip
/// for capacity 1 / 0: async-loop 340 / 416, async-steal 352 / 268,
/// green-loop 509 / 429, green 355 / 529: no clear winner within the
/// noise, so 1, which matches tokio's.
pub const CHAN_CAP: usize = 1;
/// That channel, in words.
pub const CHANNEL: &str = "motet::chan::bounded(1)";

/// What distinguishes one motet flavor's model from another.
pub trait Flavor: 'static {
    /// The runtime builder, flavor chosen.
    fn builder() -> Builder;
    /// Spawns a unit from inside the runtime.
    fn spawn<F>(fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;
    /// Whether servers shard their accepts per core.
    const PER_CORE: bool = false;
}

/// `async-loop`.
pub struct Loop;
/// `async-steal`.
pub struct Steal;
/// `async-core`.
pub struct Core;

impl Flavor for Loop {
    fn builder() -> Builder {
        Runtime::builder().event_loop()
    }
    fn spawn<F>(fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        motet::task::spawn_local(fut)
    }
}

impl Flavor for Steal {
    fn builder() -> Builder {
        Runtime::builder().work_stealing(0)
    }
    fn spawn<F>(fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        motet::task::spawn(fut)
    }
}

impl Flavor for Core {
    fn builder() -> Builder {
        Runtime::builder().per_core(0)
    }
    fn spawn<F>(fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        // On a core: stays on that core. From block_on's thread: round-robin.
        motet::task::spawn(fut)
    }
    const PER_CORE: bool = true;
}

/// A motet runtime of flavor `K`.
pub struct Motet<K: Flavor> {
    rt: Runtime,
    _flavor: PhantomData<K>,
}

impl<K: Flavor> AsyncModel for Motet<K> {
    type JoinError = JoinError;
    type Handle<T: Send + 'static> = JoinHandle<T>;
    type RecvError = oneshot::RecvError;
    type Sender<T: Send + 'static> = oneshot::Sender<T>;
    type Receiver<T: Send + 'static> = oneshot::Receiver<T>;
    type Listener = TcpListener;
    type Stream = TcpStream;
    type Tx<T: Send + 'static> = motet::chan::Sender<T>;
    type Rx<T: Send + 'static> = motet::chan::Receiver<T>;
    type FanTx<T: Send + 'static> = motet::chan::Sender<T>;
    type FanRx<T: Send + 'static> = motet::chan::Receiver<T>;
    const CHANNEL: &'static str = CHANNEL;
    const FAN_CHANNEL: &'static str = "motet::chan::bounded(1024), send_async/recv_async";

    fn start() -> io::Result<Self> {
        Ok(Motet {
            rt: K::builder().build()?,
            _flavor: PhantomData,
        })
    }

    fn threads(&self) -> usize {
        self.rt.handle().workers()
    }

    fn block_on<F: Future>(&self, fut: F) -> F::Output {
        self.rt.block_on(fut)
    }

    fn spawn<F>(fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        K::spawn(fut)
    }

    fn oneshot<T: Send + 'static>() -> (oneshot::Sender<T>, oneshot::Receiver<T>) {
        oneshot::channel()
    }

    fn send<T: Send + 'static>(tx: oneshot::Sender<T>, value: T) -> Result<(), T> {
        tx.send(value)
    }

    fn channel<T: Send + 'static>() -> (motet::chan::Sender<T>, motet::chan::Receiver<T>) {
        motet::chan::bounded(CHAN_CAP)
    }

    async fn chan_send<T: Send + 'static>(tx: &motet::chan::Sender<T>, value: T) -> bool {
        tx.send_async(value).await.is_ok()
    }

    async fn chan_recv<T: Send + 'static>(rx: &mut motet::chan::Receiver<T>) -> Option<T> {
        rx.recv_async().await.ok()
    }

    fn fan<T: Send + 'static>(
        cap: usize,
        consumers: usize,
    ) -> (motet::chan::Sender<T>, Vec<motet::chan::Receiver<T>>) {
        let (tx, rx) = motet::chan::bounded(cap);
        (tx, vec![rx; consumers])
    }

    async fn fan_send<T: Send + 'static>(tx: &motet::chan::Sender<T>, value: T) -> bool {
        tx.send_async(value).await.is_ok()
    }

    async fn fan_recv<T: Send + 'static>(rx: &mut motet::chan::Receiver<T>) -> Option<T> {
        rx.recv_async().await.ok()
    }

    fn listener(listener: StdListener) -> io::Result<TcpListener> {
        TcpListener::from_std(listener)
    }

    async fn accept(listener: &TcpListener) -> io::Result<TcpStream> {
        let (stream, _peer) = listener.accept().await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    fn shards(&self) -> usize {
        if K::PER_CORE {
            self.rt.handle().workers()
        } else {
            1
        }
    }

    fn spawn_on_shard<F>(shard: usize, fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        if K::PER_CORE {
            Handle::current().spawn_on(shard, fut)
        } else {
            K::spawn(fut)
        }
    }

    fn read<'a>(
        stream: &'a mut TcpStream,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        stream.read(buf)
    }

    fn write_all<'a>(
        stream: &'a mut TcpStream,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        stream.write_all(buf)
    }
}
