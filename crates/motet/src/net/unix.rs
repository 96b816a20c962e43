//! Unix-domain streams: [`UnixListener`] and [`UnixStream`].
//!
//! They behave like their TCP counterparts, addressed by filesystem path
//! instead of IP and port. Two differences matter:
//!
//! - Binding creates the socket file, and dropping the listener does **not**
//!   remove it: the path belongs to the caller, who removes it (std and the
//!   kernel behave the same way; removing it automatically would race with a
//!   successor that has already bound the same path).
//! - A non-blocking `connect` on Linux never returns "in progress": it
//!   succeeds at once, or fails at once, and a listener whose backlog is full
//!   refuses it with `EAGAIN`, which [`UnixStream::connect`] returns as an
//!   error of kind `WouldBlock` (there is no readiness to wait for before the
//!   connection exists; the caller decides whether to retry later).

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;

use super::registered::Registered;
use crate::driver::io::Direction;

/// A Unix-domain socket listening for connections on a path.
///
/// # Examples
///
/// ```
/// use motet::net::{UnixListener, UnixStream};
///
/// # fn main() -> std::io::Result<()> {
/// let path = std::env::temp_dir().join(format!("motet-doc-listener-{}.sock", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let rt = motet::runtime::Runtime::builder().event_loop().build()?;
/// let result = rt.block_on(async {
///     let listener = UnixListener::bind(&path)?;
///     let client = UnixStream::connect(&path).await?;
///     let (server, _) = listener.accept().await?;
///     client.write_all(b"over a path").await?;
///     let mut buf = [0; 11];
///     server.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"over a path");
///     Ok(())
/// });
/// std::fs::remove_file(&path)?;
/// result
/// # }
/// ```
pub struct UnixListener {
    io: Registered<mio::net::UnixListener>,
}

impl UnixListener {
    /// Creates the socket file at `path` and listens on it.
    ///
    /// Fails with `AddrInUse` if the file exists (even a stale one left by
    /// an earlier process: remove it first).
    ///
    /// # Panics
    ///
    /// Outside a motet runtime context.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let path = std::env::temp_dir().join(format!("motet-doc-bind-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let _listener = motet::net::UnixListener::bind(&path)?;
    ///     assert!(path.exists());
    ///     std::fs::remove_file(&path)
    /// })
    /// # }
    /// ```
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        UnixListener::new(mio::net::UnixListener::bind(path)?)
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
    /// let path = std::env::temp_dir().join(format!("motet-doc-lstd-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let std_listener = std::os::unix::net::UnixListener::bind(&path)?;
    ///     let listener = motet::net::UnixListener::from_std(std_listener)?;
    ///     assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    ///     std::fs::remove_file(&path)
    /// })
    /// # }
    /// ```
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        UnixListener::new(mio::net::UnixListener::from_std(listener))
    }

    fn new(listener: mio::net::UnixListener) -> io::Result<UnixListener> {
        Ok(UnixListener {
            io: Registered::new(listener, mio::Interest::READABLE)?,
        })
    }

    /// Waits for a connection; returns it with the peer's address (usually
    /// unnamed: clients rarely bind a path).
    ///
    /// # Examples
    ///
    /// ```
    /// # use motet::net::{UnixListener, UnixStream};
    /// # fn main() -> std::io::Result<()> {
    /// let path = std::env::temp_dir().join(format!("motet-doc-accept-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// let result = rt.block_on(async {
    ///     let listener = UnixListener::bind(&path)?;
    ///     let _client = UnixStream::connect(&path).await?;
    ///     let (_server, peer) = listener.accept().await?;
    ///     assert!(peer.is_unnamed());
    ///     Ok(())
    /// });
    /// std::fs::remove_file(&path)?;
    /// result
    /// # }
    /// ```
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (stream, addr) = self.io.with(Direction::Read, |l| l.accept()).await?;
        Ok((UnixStream::new(stream)?, addr))
    }

    /// The address (path) this listener is bound to.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let path = std::env::temp_dir().join(format!("motet-doc-laddr-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let listener = motet::net::UnixListener::bind(&path)?;
    ///     assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    ///     std::fs::remove_file(&path)
    /// })
    /// # }
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Takes the socket's pending error (`SO_ERROR`), clearing it.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let path = std::env::temp_dir().join(format!("motet-doc-lerr-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let listener = motet::net::UnixListener::bind(&path)?;
    ///     assert!(listener.take_error()?.is_none());
    ///     std::fs::remove_file(&path)
    /// })
    /// # }
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.fmt(f)
    }
}

impl AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

impl AsFd for UnixListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

/// A connected Unix-domain stream.
///
/// Like [`TcpStream`](crate::net::TcpStream): `async fn`s on `&self`, and
/// `AsyncRead`/`AsyncWrite` for both `UnixStream` and `&UnixStream`, so one
/// task may read while another writes.
///
/// # Examples
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// let rt = motet::runtime::Runtime::builder().event_loop().build()?;
/// rt.block_on(async {
///     let (a, b) = motet::net::UnixStream::pair()?;
///     a.write_all(b"across").await?;
///     let mut buf = [0; 6];
///     b.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"across");
///     Ok(())
/// })
/// # }
/// ```
pub struct UnixStream {
    io: Registered<mio::net::UnixStream>,
}

impl UnixStream {
    /// Connects to the listener at `path`.
    ///
    /// Fails with `NotFound` when no file exists there, `ConnectionRefused`
    /// when nothing listens on it, and `WouldBlock` when its backlog is full
    /// (see the module docs).
    ///
    /// # Panics
    ///
    /// When polled outside a motet runtime context.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let missing = std::env::temp_dir().join("motet-doc-no-such.sock");
    ///     let err = motet::net::UnixStream::connect(&missing).await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        let stream = UnixStream::new(mio::net::UnixStream::connect(path)?)?;
        stream.io.connected().await?;
        Ok(stream)
    }

    /// Creates a connected pair of anonymous streams (`socketpair(2)`).
    ///
    /// # Panics
    ///
    /// Outside a motet runtime context.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let (a, b) = motet::net::UnixStream::pair()?;
    ///     drop(a);
    ///     assert_eq!(b.read(&mut [0; 4]).await?, 0); // the other end closed
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((UnixStream::new(a)?, UnixStream::new(b)?))
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
    /// let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let (a, b) = std::os::unix::net::UnixStream::pair()?;
    ///     let (a, b) = (motet::net::UnixStream::from_std(a)?, motet::net::UnixStream::from_std(b)?);
    ///     a.write_all(b"!").await?;
    ///     assert_eq!(b.read(&mut [0; 1]).await?, 1);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        UnixStream::new(mio::net::UnixStream::from_std(stream))
    }

    fn new(stream: mio::net::UnixStream) -> io::Result<UnixStream> {
        let interest = mio::Interest::READABLE | mio::Interest::WRITABLE;
        Ok(UnixStream {
            io: Registered::new(stream, interest)?,
        })
    }

    /// Reads some bytes into `buf`, waiting until at least one is available;
    /// `Ok(0)` at end of stream.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let (a, b) = motet::net::UnixStream::pair()?;
    ///     a.write_all(b"abc").await?;
    ///     let mut buf = [0; 8];
    ///     let n = b.read(&mut buf).await?;
    ///     assert_eq!(&buf[..n], &b"abc"[..n]);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.io.poll_read(cx, buf)).await
    }

    /// Reads exactly `buf.len()` bytes; `UnexpectedEof` if the stream ends
    /// first.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let (a, b) = motet::net::UnixStream::pair()?;
    ///     a.write_all(b"ab").await?;
    ///     drop(a);
    ///     let err = b.read_exact(&mut [0; 3]).await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn read_exact(&self, buf: &mut [u8]) -> io::Result<()> {
        self.io.read_exact(buf).await
    }

    /// Writes some bytes of `buf`, waiting until the socket accepts at least
    /// one; returns how many it took.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let (a, _b) = motet::net::UnixStream::pair()?;
    ///     assert_eq!(a.write(b"xyz").await?, 3);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.io.poll_write(cx, buf)).await
    }

    /// Writes all of `buf`, waiting as often as needed.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let (a, _b) = motet::net::UnixStream::pair()?;
    ///     a.write_all(&[1; 100]).await
    /// })
    /// # }
    /// ```
    pub async fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        self.io.write_all(buf).await
    }

    /// Shuts down the reading half, the writing half, or both.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let (a, b) = motet::net::UnixStream::pair()?;
    ///     a.shutdown(std::net::Shutdown::Write)?;
    ///     assert_eq!(b.read(&mut [0; 4]).await?, 0);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// The local address of this end (unnamed unless it was bound).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let (a, _b) = motet::net::UnixStream::pair()?;
    ///     assert!(a.local_addr()?.is_unnamed());
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The address of the peer (the listener's path for a connected client).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let (a, _b) = motet::net::UnixStream::pair()?;
    ///     assert!(a.peer_addr()?.is_unnamed());
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Takes the socket's pending error (`SO_ERROR`), clearing it.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let (a, _b) = motet::net::UnixStream::pair()?;
    ///     assert!(a.take_error()?.is_none());
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }
}

super::stream_traits!(UnixStream);

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.fmt(f)
    }
}

impl AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

impl AsFd for UnixStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}
