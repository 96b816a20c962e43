//! Networking: TCP, UDP and Unix-domain sockets for motet tasks.
//!
//! # What is here
//!
//! | type | what it is |
//! |---|---|
//! | [`TcpListener`] | accepts TCP connections |
//! | [`TcpStream`] | one TCP connection |
//! | [`UdpSocket`] | sends and receives UDP datagrams |
//! | [`UnixListener`] | accepts connections on a filesystem path |
//! | [`UnixStream`] | one Unix-domain stream connection (or half of a [`pair`](UnixStream::pair)) |
//!
//! Each is a non-blocking OS socket (mio's, underneath) registered with a
//! motet driver. Every operation that may wait is an `async fn` on `&self`;
//! the stream types also implement [`futures_io::AsyncRead`] and
//! [`futures_io::AsyncWrite`], for the type itself and for a shared
//! reference to it, so the wider futures ecosystem (`futures_lite::io::copy`,
//! `AsyncReadExt::read_to_end`, codecs) works on them, and one task can read
//! a stream while another writes it without splitting it into halves.
//!
//! ```
//! use motet::net::{TcpListener, TcpStream};
//!
//! # fn main() -> std::io::Result<()> {
//! let rt = motet::runtime::Runtime::builder().event_loop().build()?;
//! rt.block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     motet::task::spawn(async move {
//!         // One task per connection, echoing what it reads.
//!         while let Ok((stream, _)) = listener.accept().await {
//!             motet::task::spawn(async move {
//!                 let mut buf = [0; 1024];
//!                 while let Ok(n @ 1..) = stream.read(&mut buf).await {
//!                     if stream.write_all(&buf[..n]).await.is_err() {
//!                         break;
//!                     }
//!                 }
//!             })
//!             .detach();
//!         }
//!     })
//!     .detach();
//!     let client = TcpStream::connect(addr).await?;
//!     client.write_all(b"hello").await?;
//!     let mut back = [0; 5];
//!     client.read_exact(&mut back).await?;
//!     assert_eq!(&back, b"hello");
//!     Ok(())
//! })
//! # }
//! ```
//!
//! # A socket belongs to the driver it was created under
//!
//! Creating a socket (`bind`, `connect`, `accept`, `pair`, `from_std`)
//! registers it with the driver of the runtime the calling thread is in:
//! inside `Runtime::block_on`, inside a task, or after `Handle::enter()`.
//! Outside any runtime the constructor panics with a message saying so (a
//! socket that silently never became ready would be worse). The sockets work
//! on every flavor: on `event_loop` and `per_core` the driver is the loop's
//! own (on `per_core`, the core that created or accepted the socket), on
//! `work_stealing` the one driver the workers share. A task anywhere may use
//! any socket; its waker is called from whichever thread runs the socket's
//! driver. The types are `Send + Sync` for that reason.
//!
//! # The readiness protocol
//!
//! Nothing here waits by blocking a thread. Each operation makes its
//! non-blocking system call; when the kernel answers `WouldBlock`, the
//! operation clears the source's readiness and stores the task's waker, and
//! the driver wakes it on the next epoll edge, after which the call is
//! retried. The race between `WouldBlock` and a new edge, and why closed and
//! error bits are never cleared, are explained in `driver::io`; this module
//! only says which direction each operation waits on. The plumbing (register,
//! retry, deregister) lives once, in the private `Registered<S>` wrapper that
//! every type here holds.
//!
//! The readiness record keeps **one waker per direction**. One reader and
//! one writer may wait on the same socket at once (that is what the `&T`
//! impls are for), but two tasks reading the same stream, or two tasks
//! calling [`TcpListener::accept`] on one listener concurrently, is a bug
//! today: the second waiter replaces the first, which is then never woken.
//! Serve a listener from one accepting task and hand connections out.
//!
//! # When the runtime shuts down under a live socket
//!
//! A socket may outlive the runtime it was created in (it is just a value).
//! When that runtime is dropped, its driver marks every registration dead
//! and wakes every waiter; from then on every operation that would wait
//! (reads, writes, accepts, connects, receives) fails with an `io::Error`
//! saying the runtime that owns the source has shut down, even when called
//! from a second runtime. Operations that never wait (`local_addr`,
//! `set_nodelay`, `shutdown`) keep working on the file descriptor.
//! Dropping such a socket is fine anywhere: it deregisters from the dead
//! driver's epoll instance, which lives until its last socket is gone, and
//! closes its descriptor.
//!
//! # Blocking forms, for green threads and OS threads
//!
//! The stream types implement `std::io::Read` and `std::io::Write` (for the
//! type and for a shared reference to it), and the listeners and streams
//! have `blocking_accept`/`blocking_connect` (and
//! [`TcpListener::blocking_bind`]). Each runs the same future through the
//! context-aware [`wait`](crate::wait()) (DESIGN.md, layer 2): a green
//! thread suspends, an OS thread parks, an async task on an event loop is
//! refused. Because every method takes `&self`, `impl Read for &TcpStream`
//! forwards to the same future, and a green thread may read a stream while
//! another writes it. See `net/blocking.rs`.
//!
//! # Rejected alternatives
//!
//! - **Plumbing per type**, each socket holding a registration and writing
//!   its own poll loop: five copies of the same retry protocol, each free to
//!   drift. One generic wrapper holds it instead.
//! - **`&mut self` I/O with `split()` into owned read and write halves**
//!   (tokio's shape): the halves exist only to work around `&mut`. With
//!   `&self` methods and `&T` trait impls, concurrent reading and writing is
//!   just two borrows, and the blocking forms above get the same shape.
//! - **Registering lazily on first use**, so that a socket could be created
//!   outside a runtime: the driver it lands on would then depend on which
//!   thread first touched it, and a mistake would surface far from its cause.
//!   Registration at creation makes the owner explicit.
//! - **Our own resolver**: names go through std's `ToSocketAddrs`, which
//!   blocks the calling thread. Pass a `SocketAddr` or an IP literal on an
//!   event loop that must never stall; an offloaded resolver can come with
//!   the blocking-work pool without changing any signature.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

mod blocking;
mod registered;
mod reuseport;
mod tcp;
mod udp;
mod unix;

pub use reuseport::reuseport_listeners;
pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixStream};

/// Resolves `addr` with std's resolver.
fn resolve<A: ToSocketAddrs>(addr: A) -> io::Result<Vec<SocketAddr>> {
    Ok(addr.to_socket_addrs()?.collect())
}

/// The error for an address that resolved to nothing.
fn no_addresses() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "the address resolved to no socket addresses",
    )
}

/// Calls `f` on each address `addr` resolves to until one succeeds;
/// otherwise returns the last error.
fn each_addr<A: ToSocketAddrs, T>(
    addr: A,
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for a in resolve(addr)? {
        match f(a) {
            Ok(t) => return Ok(t),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(no_addresses))
}

/// Implements `futures_io::AsyncRead` and `AsyncWrite` for a stream type and
/// for a shared reference to it, forwarding to its `io: Registered<_>` field.
/// `poll_flush` has nothing to do (the kernel owns the buffer);
/// `poll_close` shuts down the writing half.
macro_rules! stream_traits {
    ($ty:ty) => {
        $crate::net::stream_traits!(@for $ty);
        $crate::net::stream_traits!(@for &$ty);
    };
    (@for $t:ty) => {
        impl futures_io::AsyncRead for $t {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.io.poll_read(cx, buf)
            }

            fn poll_read_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.io.poll_read_vectored(cx, bufs)
            }
        }

        impl futures_io::AsyncWrite for $t {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.io.poll_write(cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.io.poll_write_vectored(cx, bufs)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(self.io.get_ref().shutdown(std::net::Shutdown::Write))
            }
        }
    };
}
use stream_traits;

// Every socket may be shared between tasks on any thread.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<TcpListener>();
    assert_send_sync::<TcpStream>();
    assert_send_sync::<UdpSocket>();
    assert_send_sync::<UnixListener>();
    assert_send_sync::<UnixStream>();
};
