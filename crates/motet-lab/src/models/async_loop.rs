//! async-loop: motet's `event_loop` flavor. One thread, units are
//! `spawn_local` tasks, one-shots from `motet::sync::oneshot`.

use std::future::Future;
use std::io;
use std::net::TcpListener as StdListener;

use motet::net::{TcpListener, TcpStream};
use motet::runtime::Runtime;
use motet::sync::oneshot;
use motet::task::{JoinError, JoinHandle};

use super::async_unit::AsyncModel;

/// A motet runtime of the event-loop flavor.
pub struct AsyncLoop {
    rt: Runtime,
}

impl AsyncModel for AsyncLoop {
    type JoinError = JoinError;
    type Handle<T: Send + 'static> = JoinHandle<T>;
    type RecvError = oneshot::RecvError;
    type Sender<T: Send + 'static> = oneshot::Sender<T>;
    type Receiver<T: Send + 'static> = oneshot::Receiver<T>;
    type Listener = TcpListener;
    type Stream = TcpStream;

    fn start() -> io::Result<Self> {
        let rt = Runtime::builder().event_loop().build()?;
        Ok(AsyncLoop { rt })
    }

    fn threads(&self) -> usize {
        1
    }

    fn block_on<F: Future>(&self, fut: F) -> F::Output {
        self.rt.block_on(fut)
    }

    fn spawn<F>(fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        motet::task::spawn_local(fut)
    }

    fn oneshot<T: Send + 'static>() -> (oneshot::Sender<T>, oneshot::Receiver<T>) {
        oneshot::channel()
    }

    fn send<T: Send + 'static>(tx: oneshot::Sender<T>, value: T) -> Result<(), T> {
        tx.send(value)
    }

    fn listener(listener: StdListener) -> io::Result<TcpListener> {
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
