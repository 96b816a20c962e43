//! The tokio peers, in the binary: `tokio-local` (the current_thread
//! runtime) and `tokio` (the multi-thread runtime, one worker per core).
//! Units spawned with `tokio::spawn`, one-shots from `tokio::sync::oneshot`:
//! the idioms the tokio peer figures were measured with.

use std::future::Future;
use std::io;
use std::net::TcpListener as StdListener;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::{Builder, Runtime};
use tokio::sync::{mpsc, oneshot, Mutex};
use tokio::task::{JoinError, JoinHandle};

use super::async_unit::AsyncModel;

/// A tokio runtime with its drivers on, as `#[tokio::main]` builds it:
/// current_thread when `MULTI` is false, multi-thread (one worker per core)
/// when true.
pub struct Tokio<const MULTI: bool> {
    rt: Runtime,
    workers: usize,
}

/// `tokio-local`.
pub type TokioLocal = Tokio<false>;
/// `tokio`.
pub type TokioMulti = Tokio<true>;

impl<const MULTI: bool> AsyncModel for Tokio<MULTI> {
    type JoinError = JoinError;
    type Handle<T: Send + 'static> = JoinHandle<T>;
    type RecvError = oneshot::error::RecvError;
    type Sender<T: Send + 'static> = oneshot::Sender<T>;
    type Receiver<T: Send + 'static> = oneshot::Receiver<T>;
    type Listener = TcpListener;
    type Stream = TcpStream;
    type Tx<T: Send + 'static> = mpsc::Sender<T>;
    type Rx<T: Send + 'static> = mpsc::Receiver<T>;
    type FanTx<T: Send + 'static> = mpsc::Sender<T>;
    type FanRx<T: Send + 'static> = Arc<Mutex<mpsc::Receiver<T>>>;
    const CHANNEL: &'static str = "tokio::sync::mpsc::channel(1)";
    const FAN_CHANNEL: &'static str =
        "tokio::sync::mpsc::channel(1024), its one receiver shared behind a tokio Mutex";

    fn start() -> io::Result<Self> {
        if MULTI {
            let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
            let rt = Builder::new_multi_thread()
                .worker_threads(workers)
                .enable_all()
                .build()?;
            Ok(Tokio { rt, workers })
        } else {
            let rt = Builder::new_current_thread().enable_all().build()?;
            Ok(Tokio { rt, workers: 1 })
        }
    }

    fn threads(&self) -> usize {
        self.workers
    }

    fn block_on<F: Future>(&self, fut: F) -> F::Output {
        self.rt.block_on(fut)
    }

    fn spawn<F>(fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        tokio::spawn(fut)
    }

    fn oneshot<T: Send + 'static>() -> (oneshot::Sender<T>, oneshot::Receiver<T>) {
        oneshot::channel()
    }

    fn send<T: Send + 'static>(tx: oneshot::Sender<T>, value: T) -> Result<(), T> {
        tx.send(value)
    }

    fn channel<T: Send + 'static>() -> (mpsc::Sender<T>, mpsc::Receiver<T>) {
        mpsc::channel(1)
    }

    async fn chan_send<T: Send + 'static>(tx: &mpsc::Sender<T>, value: T) -> bool {
        tx.send(value).await.is_ok()
    }

    async fn chan_recv<T: Send + 'static>(rx: &mut mpsc::Receiver<T>) -> Option<T> {
        rx.recv().await
    }

    /// tokio's mpsc is single-consumer: the consumers share its receiver
    /// behind a tokio `Mutex`, held while one of them waits.
    fn fan<T: Send + 'static>(
        cap: usize,
        consumers: usize,
    ) -> (mpsc::Sender<T>, Vec<Arc<Mutex<mpsc::Receiver<T>>>>) {
        let (tx, rx) = mpsc::channel(cap);
        let rx = Arc::new(Mutex::new(rx));
        (tx, vec![rx; consumers])
    }

    async fn fan_send<T: Send + 'static>(tx: &mpsc::Sender<T>, value: T) -> bool {
        tx.send(value).await.is_ok()
    }

    async fn fan_recv<T: Send + 'static>(rx: &mut Arc<Mutex<mpsc::Receiver<T>>>) -> Option<T> {
        rx.lock().await.recv().await
    }

    fn listener(listener: StdListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        TcpListener::from_std(listener)
    }

    async fn accept(listener: &TcpListener) -> io::Result<TcpStream> {
        let (stream, _peer) = listener.accept().await?;
        stream.set_nodelay(true)?;
        Ok(stream)
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
