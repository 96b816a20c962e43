//! UDP: [`UdpSocket`].
//!
//! A datagram socket waits like the stream sockets (receives on
//! [`Direction::Read`], sends on [`Direction::Write`]), but each call moves
//! one whole datagram: a receive into a buffer shorter than the datagram
//! truncates it (the rest is lost, as with `recv(2)`), and a send either
//! takes the whole datagram or fails.

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use super::registered::Registered;
use crate::driver::io::Direction;

/// A UDP socket.
///
/// Unconnected, it sends to and receives from any address
/// ([`send_to`](UdpSocket::send_to), [`recv_from`](UdpSocket::recv_from));
/// after [`connect`](UdpSocket::connect) it talks to one peer
/// ([`send`](UdpSocket::send), [`recv`](UdpSocket::recv)) and the kernel
/// drops datagrams from anyone else. One task may receive while another
/// sends.
///
/// # Examples
///
/// ```
/// use motet::net::UdpSocket;
///
/// # fn main() -> std::io::Result<()> {
/// let rt = motet::runtime::Runtime::builder().event_loop().build()?;
/// rt.block_on(async {
///     let a = UdpSocket::bind("127.0.0.1:0").await?;
///     let b = UdpSocket::bind("127.0.0.1:0").await?;
///     a.send_to(b"ping", b.local_addr()?).await?;
///     let mut buf = [0; 16];
///     let (n, from) = b.recv_from(&mut buf).await?;
///     assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr()?));
///     Ok(())
/// })
/// # }
/// ```
pub struct UdpSocket {
    io: Registered<mio::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds a socket to `addr` (the first resolved address that binds;
    /// otherwise the last error).
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
    ///     let socket = motet::net::UdpSocket::bind("127.0.0.1:0").await?;
    ///     assert_ne!(socket.local_addr()?.port(), 0);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        super::each_addr(addr, |a| UdpSocket::new(mio::net::UdpSocket::bind(a)?))
    }

    /// Wraps a socket made with std, switching it to non-blocking mode.
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
    ///     let std_socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
    ///     let socket = motet::net::UdpSocket::from_std(std_socket)?;
    ///     assert!(socket.local_addr()?.ip().is_loopback());
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        UdpSocket::new(mio::net::UdpSocket::from_std(socket))
    }

    fn new(socket: mio::net::UdpSocket) -> io::Result<UdpSocket> {
        let interest = mio::Interest::READABLE | mio::Interest::WRITABLE;
        Ok(UdpSocket {
            io: Registered::new(socket, interest)?,
        })
    }

    /// Sets the default peer: [`send`](Self::send) goes there and only its
    /// datagrams are received. Tries each resolved address until one works.
    ///
    /// # Examples
    ///
    /// ```
    /// # use motet::net::UdpSocket;
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     a.connect(b.local_addr()?).await?;
    ///     assert_eq!(a.peer_addr()?, b.local_addr()?);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        super::each_addr(addr, |a| self.io.get_ref().connect(a))
    }

    /// Sends one datagram to `target` (its first resolved address); returns
    /// the bytes sent.
    ///
    /// # Examples
    ///
    /// ```
    /// # use motet::net::UdpSocket;
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     assert_eq!(a.send_to(b"hey", b.local_addr()?).await?, 3);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], target: A) -> io::Result<usize> {
        let target = super::resolve(target)?
            .into_iter()
            .next()
            .ok_or_else(super::no_addresses)?;
        self.io
            .with(Direction::Write, |s| s.send_to(buf, target))
            .await
    }

    /// Receives one datagram into `buf`; returns its length (truncated to
    /// `buf.len()`) and sender.
    ///
    /// # Examples
    ///
    /// ```
    /// # use motet::net::UdpSocket;
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     a.send_to(b"data", b.local_addr()?).await?;
    ///     let mut buf = [0; 64];
    ///     let (n, from) = b.recv_from(&mut buf).await?;
    ///     assert_eq!((n, from), (4, a.local_addr()?));
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.with(Direction::Read, |s| s.recv_from(buf)).await
    }

    /// Like [`recv_from`](Self::recv_from), but leaves the datagram queued.
    ///
    /// # Examples
    ///
    /// ```
    /// # use motet::net::UdpSocket;
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     a.send_to(b"again", b.local_addr()?).await?;
    ///     let mut buf = [0; 64];
    ///     let (n, _) = b.peek_from(&mut buf).await?;
    ///     assert_eq!(b.recv_from(&mut buf).await?.0, n);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.with(Direction::Read, |s| s.peek_from(buf)).await
    }

    /// Sends one datagram to the connected peer.
    ///
    /// # Examples
    ///
    /// ```
    /// # use motet::net::UdpSocket;
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     a.connect(b.local_addr()?).await?;
    ///     assert_eq!(a.send(b"to b").await?, 4);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.with(Direction::Write, |s| s.send(buf)).await
    }

    /// Receives one datagram from the connected peer.
    ///
    /// # Examples
    ///
    /// ```
    /// # use motet::net::UdpSocket;
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     a.connect(b.local_addr()?).await?;
    ///     b.connect(a.local_addr()?).await?;
    ///     a.send(b"hi").await?;
    ///     let mut buf = [0; 8];
    ///     let n = b.recv(&mut buf).await?;
    ///     assert_eq!(&buf[..n], b"hi");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.with(Direction::Read, |s| s.recv(buf)).await
    }

    /// The address this socket is bound to.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let socket = motet::net::UdpSocket::bind("127.0.0.1:0").await?;
    ///     assert!(socket.local_addr()?.ip().is_loopback());
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The connected peer's address; `NotConnected` before
    /// [`connect`](Self::connect).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let socket = motet::net::UdpSocket::bind("127.0.0.1:0").await?;
    ///     let err = socket.peer_addr().unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::NotConnected);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Whether `SO_BROADCAST` is set.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let socket = motet::net::UdpSocket::bind("127.0.0.1:0").await?;
    ///     assert!(!socket.broadcast()?);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn broadcast(&self) -> io::Result<bool> {
        self.io.get_ref().broadcast()
    }

    /// Sets `SO_BROADCAST`, which allows sending to a broadcast address.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let socket = motet::net::UdpSocket::bind("127.0.0.1:0").await?;
    ///     socket.set_broadcast(true)?;
    ///     assert!(socket.broadcast()?);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_broadcast(on)
    }

    /// The IP time-to-live of this socket's datagrams (`IP_TTL`).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let socket = motet::net::UdpSocket::bind("127.0.0.1:0").await?;
    ///     socket.set_ttl(5)?;
    ///     assert_eq!(socket.ttl()?, 5);
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
    ///     let socket = motet::net::UdpSocket::bind("127.0.0.1:0").await?;
    ///     socket.set_ttl(64)
    /// })
    /// # }
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }

    /// Takes the socket's pending error (`SO_ERROR`), clearing it; e.g. an
    /// ICMP "port unreachable" reported for an earlier send on a connected
    /// socket.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    /// rt.block_on(async {
    ///     let socket = motet::net::UdpSocket::bind("127.0.0.1:0").await?;
    ///     assert!(socket.take_error()?.is_none());
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.fmt(f)
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}
