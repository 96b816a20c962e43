//! TCP: [`TcpListener`] and [`TcpStream`].
//!
//! Both wrap mio's non-blocking sockets in [`Registered`]; every method that
//! may wait is an `async fn` on `&self` that names the direction it waits on
//! and the system call it retries. Connection setup is the only part with
//! logic of its own: a non-blocking `connect` returns at once, and the
//! outcome arrives later as a readiness event (see
//! [`Registered::connected`]).
//!
//! Name resolution goes through std's resolver, which blocks the calling
//! thread; pass a [`SocketAddr`] (or an IP literal) on an event loop that
//! must never stall. A blocking-work pool will take resolution off the loop
//! later without changing these signatures.

use std::fmt;
use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use super::registered::Registered;
use crate::driver::io::Direction;

/// A TCP socket listening for connections.
///
/// Created by [`bind`](TcpListener::bind) or [`from_std`](TcpListener::from_std)
/// inside a motet runtime; each [`accept`](TcpListener::accept) yields a
/// connected [`TcpStream`].
///
/// # Examples
///
/// ```
/// use motet::net::{TcpListener, TcpStream};
///
/// # fn main() -> std::io::Result<()> {
/// let rt = motet::runtime::Runtime::builder().event_loop().build()?;
/// rt.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let addr = listener.local_addr()?;
///     let client = motet::task::spawn(async move { TcpStream::connect(addr).await });
///     let (_server_side, peer) = listener.accept().await?;
///     let client = client.await.expect("client task panicked")?;
///     assert_eq!(peer, client.local_addr()?);
///     Ok(())
/// })
/// # }
/// ```
pub struct TcpListener {
    io: Registered<mio::net::TcpListener>,
}

impl TcpListener {
    /// Binds a listener to `addr` and starts listening.
    ///
    /// `addr` is resolved with std's (blocking) resolver and each address is
    /// tried in turn; the first that binds wins, otherwise the last error is
    /// returned, e.g. `AddrInUse`. The socket has `SO_REUSEADDR` set (so a
    /// restarted server can rebind while old connections sit in
    /// `TIME_WAIT`) and a backlog of 128, as std's.
    ///
    /// # Panics
    ///
    /// When polled outside a motet runtime context.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let listener = motet::net::TcpListener::bind("127.0.0.1:0").await?;
    ///     let taken = listener.local_addr()?;
    ///     let err = motet::net::TcpListener::bind(taken).await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        super::each_addr(addr, |a| TcpListener::new(mio::net::TcpListener::bind(a)?))
    }

    /// Wraps a listener made with std, switching it to non-blocking mode.
    ///
    /// # Panics
    ///
    /// Outside a motet runtime context.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    ///     let listener = motet::net::TcpListener::from_std(std_listener)?;
    ///     assert!(listener.local_addr()?.port() != 0);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        TcpListener::new(mio::net::TcpListener::from_std(listener))
    }

    fn new(listener: mio::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            io: Registered::new(listener, mio::Interest::READABLE)?,
        })
    }

    /// Waits for a connection and returns it with the peer's address.
    ///
    /// The new stream is registered with the driver of the runtime thread
    /// that polls this call (on the per-core flavor: that core's loop).
    /// Errors from `accept(2)` are returned as they are; some concern only
    /// the connection at hand (`ConnectionAborted`) and some are pressure on
    /// the process (`EMFILE`: out of descriptors), which a server should
    /// back off from rather than retry at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use motet::net::{TcpListener, TcpStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let addr = listener.local_addr()?;
    ///     let client = motet::task::spawn(async move {
    ///         let stream = TcpStream::connect(addr).await?;
    ///         stream.write_all(b"hi").await
    ///     });
    ///     let (stream, _peer) = listener.accept().await?;
    ///     let mut buf = [0; 2];
    ///     stream.read_exact(&mut buf).await?;
    ///     assert_eq!(&buf, b"hi");
    ///     client.await.expect("client task panicked")
    /// })
    /// # }
    /// ```
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, addr) = self.io.with(Direction::Read, |l| l.accept()).await?;
        Ok((TcpStream::new(stream)?, addr))
    }

    /// The address this listener is bound to (with the real port when bound
    /// to port 0).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let listener = motet::net::TcpListener::bind("127.0.0.1:0").await?;
    ///     let addr = listener.local_addr()?;
    ///     assert!(addr.ip().is_loopback() && addr.port() != 0);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The IP time-to-live of accepted connections' packets (`IP_TTL`).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let listener = motet::net::TcpListener::bind("127.0.0.1:0").await?;
    ///     listener.set_ttl(42)?;
    ///     assert_eq!(listener.ttl()?, 42);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }

    /// Sets `IP_TTL`; see [`ttl`](Self::ttl).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let listener = motet::net::TcpListener::bind("127.0.0.1:0").await?;
    ///     listener.set_ttl(100)
    /// })
    /// # }
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.fmt(f)
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

/// A connected TCP stream.
///
/// Every operation takes `&self`, and [`futures_io::AsyncRead`] and
/// [`futures_io::AsyncWrite`] are implemented for both `TcpStream` and
/// `&TcpStream`, so one task may read while another writes the same stream
/// (share it by reference or in an `Arc`). One reader and one writer at a
/// time: see the module docs of [`net`](crate::net) for why two concurrent
/// readers are a bug.
///
/// # Examples
///
/// ```
/// use motet::net::{TcpListener, TcpStream};
///
/// # fn main() -> std::io::Result<()> {
/// let rt = motet::runtime::Runtime::builder().event_loop().build()?;
/// rt.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let addr = listener.local_addr()?;
///     let server = motet::task::spawn(async move {
///         let (stream, _) = listener.accept().await?;
///         let mut buf = [0; 5];
///         stream.read_exact(&mut buf).await?;
///         stream.write_all(&buf).await // echo
///     });
///     let stream = TcpStream::connect(addr).await?;
///     stream.write_all(b"hello").await?;
///     let mut back = [0; 5];
///     stream.read_exact(&mut back).await?;
///     assert_eq!(&back, b"hello");
///     server.await.expect("server task panicked")
/// })
/// # }
/// ```
pub struct TcpStream {
    io: Registered<mio::net::TcpStream>,
}

impl TcpStream {
    /// Opens a connection to `addr`.
    ///
    /// Each resolved address is tried in turn until one connects; otherwise
    /// the last error is returned (`ConnectionRefused` when nothing listens
    /// there). Resolution uses std's blocking resolver.
    ///
    /// # Panics
    ///
    /// When polled outside a motet runtime context.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let listener = motet::net::TcpListener::bind("127.0.0.1:0").await?;
    ///     let stream = motet::net::TcpStream::connect(listener.local_addr()?).await?;
    ///     assert_eq!(stream.peer_addr()?, listener.local_addr()?);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        let addrs = super::resolve(addr)?;
        let mut last = None;
        for a in addrs {
            match TcpStream::connect_addr(a).await {
                Ok(stream) => return Ok(stream),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(super::no_addresses))
    }

    async fn connect_addr(addr: SocketAddr) -> io::Result<TcpStream> {
        let stream = TcpStream::new(mio::net::TcpStream::connect(addr)?)?;
        stream.io.connected().await?;
        Ok(stream)
    }

    /// Wraps a connected stream made with std, switching it to non-blocking
    /// mode.
    ///
    /// # Panics
    ///
    /// Outside a motet runtime context.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    ///     let std_stream = std::net::TcpStream::connect(listener.local_addr()?)?;
    ///     let stream = motet::net::TcpStream::from_std(std_stream)?;
    ///     assert_eq!(stream.peer_addr()?, listener.local_addr()?);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        TcpStream::new(mio::net::TcpStream::from_std(stream))
    }

    fn new(stream: mio::net::TcpStream) -> io::Result<TcpStream> {
        let interest = mio::Interest::READABLE | mio::Interest::WRITABLE;
        Ok(TcpStream {
            io: Registered::new(stream, interest)?,
        })
    }

    /// Reads some bytes into `buf`, waiting until at least one is available.
    ///
    /// Returns the count read; `Ok(0)` means the peer has shut down its
    /// writing half (end of stream) or `buf` is empty. A connection the peer
    /// reset fails with `ConnectionReset`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use motet::net::{TcpListener, TcpStream};
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (server, _) = listener.accept().await?;
    ///     client.write_all(b"ping").await?;
    ///     client.shutdown(std::net::Shutdown::Write)?;
    ///     let mut got = Vec::new();
    ///     let mut buf = [0; 16];
    ///     loop {
    ///         match server.read(&mut buf).await? {
    ///             0 => break, // end of stream
    ///             n => got.extend_from_slice(&buf[..n]),
    ///         }
    ///     }
    ///     assert_eq!(got, b"ping");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.io.poll_read(cx, buf)).await
    }

    /// Reads exactly `buf.len()` bytes; `UnexpectedEof` if the stream ends
    /// first (the bytes read so far are then in `buf` but uncounted).
    ///
    /// # Examples
    ///
    /// ```
    /// # use motet::net::{TcpListener, TcpStream};
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (server, _) = listener.accept().await?;
    ///     client.write_all(&[7; 1000]).await?;
    ///     let mut buf = [0; 1000];
    ///     server.read_exact(&mut buf).await?;
    ///     assert!(buf.iter().all(|&b| b == 7));
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn read_exact(&self, buf: &mut [u8]) -> io::Result<()> {
        self.io.read_exact(buf).await
    }

    /// Reads into `buf` without removing the bytes from the socket's queue,
    /// waiting until at least one is available.
    ///
    /// # Examples
    ///
    /// ```
    /// # use motet::net::{TcpListener, TcpStream};
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (server, _) = listener.accept().await?;
    ///     client.write_all(b"x").await?;
    ///     let mut buf = [0; 1];
    ///     assert_eq!(server.peek(&mut buf).await?, 1);
    ///     assert_eq!(server.read(&mut buf).await?, 1); // still there
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.with(Direction::Read, |s| s.peek(buf)).await
    }

    /// Writes some bytes of `buf`, waiting until the socket accepts at least
    /// one; returns how many it took.
    ///
    /// # Examples
    ///
    /// ```
    /// # use motet::net::{TcpListener, TcpStream};
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let n = client.write(b"hello").await?;
    ///     assert!(n > 0 && n <= 5);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.io.poll_write(cx, buf)).await
    }

    /// Writes from several buffers in one system call (`writev`); returns
    /// how many bytes the socket took, in order across `bufs`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use motet::net::{TcpListener, TcpStream};
    /// use std::io::IoSlice;
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (server, _) = listener.accept().await?;
    ///     let n = client.write_vectored(&[IoSlice::new(b"ab"), IoSlice::new(b"cd")]).await?;
    ///     let mut buf = vec![0; n];
    ///     server.read_exact(&mut buf).await?;
    ///     assert_eq!(buf, &b"abcd"[..n]);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        poll_fn(|cx| self.io.poll_write_vectored(cx, bufs)).await
    }

    /// Writes all of `buf`, waiting as often as needed.
    ///
    /// # Examples
    ///
    /// ```
    /// # use motet::net::{TcpListener, TcpStream};
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     client.write_all(b"all of it").await
    /// })
    /// # }
    /// ```
    pub async fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        self.io.write_all(buf).await
    }

    /// Shuts down the reading half, the writing half, or both.
    ///
    /// `Shutdown::Write` sends FIN: the peer's reads return `Ok(0)` once it
    /// has read everything sent before. The socket stays open until dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// # use motet::net::{TcpListener, TcpStream};
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (server, _) = listener.accept().await?;
    ///     client.shutdown(std::net::Shutdown::Write)?;
    ///     assert_eq!(server.read(&mut [0; 8]).await?, 0);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// The local address of this end.
    ///
    /// # Examples
    ///
    /// ```
    /// # use motet::net::{TcpListener, TcpStream};
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (_server, peer) = listener.accept().await?;
    ///     assert_eq!(client.local_addr()?, peer);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The address of the peer.
    ///
    /// # Examples
    ///
    /// ```
    /// # use motet::net::{TcpListener, TcpStream};
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     assert_eq!(client.peer_addr()?, listener.local_addr()?);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Sets `TCP_NODELAY`: when true, small writes go out at once instead of
    /// waiting (Nagle's algorithm) to be merged with later ones.
    ///
    /// # Examples
    ///
    /// ```
    /// # use motet::net::{TcpListener, TcpStream};
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     client.set_nodelay(true)?;
    ///     assert!(client.nodelay()?);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get_ref().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set; see [`set_nodelay`](Self::set_nodelay).
    ///
    /// # Examples
    ///
    /// ```
    /// # use motet::net::{TcpListener, TcpStream};
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     assert!(!client.nodelay()?); // the system default
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get_ref().nodelay()
    }

    /// The IP time-to-live of this stream's packets (`IP_TTL`).
    ///
    /// # Examples
    ///
    /// ```
    /// # use motet::net::{TcpListener, TcpStream};
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     client.set_ttl(9)?;
    ///     assert_eq!(client.ttl()?, 9);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }

    /// Sets `IP_TTL`; see [`ttl`](Self::ttl).
    ///
    /// # Examples
    ///
    /// ```
    /// # use motet::net::{TcpListener, TcpStream};
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     client.set_ttl(64)
    /// })
    /// # }
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }

    /// Takes the socket's pending error (`SO_ERROR`), clearing it.
    ///
    /// # Examples
    ///
    /// ```
    /// # use motet::net::{TcpListener, TcpStream};
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     assert!(client.take_error()?.is_none());
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }
}

super::stream_traits!(TcpStream);

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.fmt(f)
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}
