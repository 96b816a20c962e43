//! The blocking forms of the sockets, for green threads and OS threads.
//!
//! Each is the async operation run through [`wait`]: on a green thread it
//! suspends the green thread while the socket is not ready; on a plain OS
//! thread it parks the thread; from an async task on an event-loop thread
//! it panics (that is the "blocking the event loop" bug; `.await` there).
//! There is no second implementation of any socket operation: the same
//! futures, the same readiness records, the same driver.
//!
//! | blocking form | async original |
//! |---|---|
//! | `impl Read`, `impl Write` for [`TcpStream`], [`UnixStream`] and `&` of each | [`TcpStream::read`], [`TcpStream::write`], ... |
//! | [`TcpListener::blocking_bind`] | [`TcpListener::bind`] |
//! | [`TcpListener::blocking_accept`], [`UnixListener::blocking_accept`] | `accept` |
//! | [`TcpStream::blocking_connect`], [`UnixStream::blocking_connect`] | `connect` |
//!
//! Names: `blocking_` as in [`blocking_recv`](crate::sync::oneshot::Receiver::blocking_recv)
//! and [`blocking_sleep`](crate::time::blocking_sleep); `Read` and `Write`
//! are the std traits themselves, so `BufReader`, `BufWriter`, `io::copy`
//! and `serde_json::from_reader` work unchanged. `flush` has nothing to do
//! (the kernel owns the buffer).
//!
//! **Method names collide**: the async `read`, `write`, `read_exact` and
//! `write_all` are inherent methods, and Rust picks an inherent method over
//! a trait method of the same name, so `stream.write_all(b"x")` in a green
//! thread is the *async* one (a future: the compiler reports the type
//! mismatch, or warns that the future is unused). Call the trait's form
//! explicitly, `Write::write_all(&mut stream, b"x")`, or wrap the stream
//! in `BufReader`/`BufWriter`, whose methods are the std ones.
//!
//! Rejected: a separate `motet::net::blocking::TcpStream` type. One socket
//! type serving both worlds is the point of DESIGN.md's layer 2; a stream
//! accepted by async code can be handed to a green thread and back.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;

use super::{TcpListener, TcpStream, UnixListener, UnixStream};
use crate::wait::wait;

impl TcpListener {
    /// [`bind`](Self::bind) for blocking code.
    ///
    /// # Panics
    ///
    /// Outside a runtime context.
    ///
    /// ```
    /// # let rt = motet::runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let h = motet::green::spawn(|| motet::net::TcpListener::blocking_bind("127.0.0.1:0"));
    /// assert!(h.await.unwrap()?.local_addr()?.port() != 0);
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    #[track_caller]
    pub fn blocking_bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        wait(TcpListener::bind(addr))
    }

    /// [`accept`](Self::accept) for blocking code: waits for a connection.
    ///
    /// ```
    /// use motet::net::{TcpListener, TcpStream};
    /// # let rt = motet::runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let addr = listener.local_addr()?;
    /// let server = motet::green::spawn(move || listener.blocking_accept().map(|(_, peer)| peer));
    /// let client = TcpStream::connect(addr).await?;
    /// assert_eq!(server.await.unwrap()?, client.local_addr()?);
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    #[track_caller]
    pub fn blocking_accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        wait(self.accept())
    }
}

impl TcpStream {
    /// [`connect`](Self::connect) for blocking code.
    ///
    /// ```
    /// use motet::net::{TcpListener, TcpStream};
    /// # let rt = motet::runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let addr = listener.local_addr()?;
    /// let client = motet::green::spawn(move || TcpStream::blocking_connect(addr));
    /// let (_server_side, _) = listener.accept().await?;
    /// assert_eq!(client.await.unwrap()?.peer_addr()?, addr);
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    #[track_caller]
    pub fn blocking_connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        wait(TcpStream::connect(addr))
    }
}

impl UnixListener {
    /// [`accept`](Self::accept) for blocking code: waits for a connection.
    ///
    /// ```
    /// use motet::net::{UnixListener, UnixStream};
    /// # let rt = motet::runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let path = std::env::temp_dir().join(format!("motet-doc-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let listener = UnixListener::bind(&path)?;
    /// let server = motet::green::spawn(move || listener.blocking_accept().map(|_| ()));
    /// let _client = UnixStream::connect(&path).await?;
    /// server.await.unwrap()?;
    /// std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    #[track_caller]
    pub fn blocking_accept(&self) -> io::Result<(UnixStream, std::os::unix::net::SocketAddr)> {
        wait(self.accept())
    }
}

impl UnixStream {
    /// [`connect`](Self::connect) for blocking code.
    ///
    /// ```
    /// use motet::net::{UnixListener, UnixStream};
    /// # let rt = motet::runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let path = std::env::temp_dir().join(format!("motet-doc2-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let listener = UnixListener::bind(&path)?;
    /// let p = path.clone();
    /// let client = motet::green::spawn(move || UnixStream::blocking_connect(&p).map(|_| ()));
    /// let _server_side = listener.accept().await?;
    /// client.await.unwrap()?;
    /// std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    #[track_caller]
    pub fn blocking_connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        wait(UnixStream::connect(path))
    }
}

/// `Read` and `Write` for a stream type and a shared reference to it,
/// through [`wait`] on the type's own `read`/`write` futures.
macro_rules! blocking_io {
    ($ty:ty) => {
        impl Read for &$ty {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                wait(<$ty>::read(self, buf))
            }
        }

        impl Write for &$ty {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                wait(<$ty>::write(self, buf))
            }

            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }

        impl Read for $ty {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                Read::read(&mut &*self, buf)
            }
        }

        impl Write for $ty {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                Write::write(&mut &*self, buf)
            }

            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
    };
}

blocking_io!(TcpStream);
blocking_io!(UnixStream);
