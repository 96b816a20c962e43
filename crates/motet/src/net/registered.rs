//! One mio source registered with a driver: the plumbing every socket shares.
//!
//! [`Registered<S>`] owns a non-blocking mio socket and its driver
//! [`Registration`], and is the only place in `net` that talks to the driver.
//! The public types are thin: each holds one `Registered<_>` and says, per
//! operation, which [`Direction`] it waits on and which system call it makes.
//!
//! # Invariant
//!
//! The source stays registered for as long as it is open: [`Drop`] removes it
//! from the epoll set *before* the fields drop (the socket closes, then the
//! registration forgets its readiness record). Closing first would be wrong
//! if the descriptor had been duplicated: epoll tracks the open file, not the
//! number, so a closed-but-duplicated socket would keep delivering events to
//! a token the driver may already have given to another source.
//!
//! # Rejected alternative
//!
//! tokio's `PollEvented` holds the source in an `Option` so that it can be
//! taken out again (`into_std`). motet has no `into_std` yet; a plain field
//! keeps every accessor infallible. Add the `Option` when that conversion is
//! wanted.

use std::fmt;
use std::future::poll_fn;
use std::io::{self, IoSlice, Read, Write};
use std::task::{Context, Poll};

use crate::driver::io::{Direction, Registration};

/// A mio source plus its membership in the current runtime's driver.
pub(crate) struct Registered<S: mio::event::Source> {
    source: S,
    registration: Registration,
}

impl<S: mio::event::Source> Registered<S> {
    /// Registers `source` with the driver of the runtime this thread is in,
    /// for `interest`.
    ///
    /// # Panics
    ///
    /// Outside a motet runtime context (see [`Registration::new`]).
    pub(crate) fn new(mut source: S, interest: mio::Interest) -> io::Result<Self> {
        let registration = Registration::new(&mut source, interest)?;
        Ok(Registered {
            source,
            registration,
        })
    }

    /// The socket itself, for operations that never wait (addresses, options).
    pub(crate) fn get_ref(&self) -> &S {
        &self.source
    }

    /// Polls the non-blocking operation `f` until it stops saying
    /// `WouldBlock`, waiting for readiness in `dir` in between.
    pub(crate) fn poll_with<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        mut f: impl FnMut(&S) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.registration.poll_io(cx, dir, || f(&self.source))
    }

    /// The `async` form of [`poll_with`](Self::poll_with).
    pub(crate) async fn with<R>(
        &self,
        dir: Direction,
        mut f: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        self.registration.async_io(dir, || f(&self.source)).await
    }
}

impl<S: mio::event::Source + Connecting> Registered<S> {
    /// Waits until a non-blocking `connect` issued on the source has finished,
    /// and returns its outcome.
    ///
    /// Linux reports the end of a connect as writability (success) or as an
    /// error/hang-up event (failure, with the reason in `SO_ERROR`). The
    /// check after each wake is `take_error` then `peer_addr`: `peer_addr`
    /// failing with `NotConnected` and no error pending means the wake-up
    /// was spurious, and we wait again. If that happens twice within one
    /// poll, readiness is stuck on a final bit (hang-up) with no error left
    /// to report, so we return `NotConnected` instead of spinning.
    pub(crate) async fn connected(&self) -> io::Result<()> {
        poll_fn(|cx| {
            let mut attempts = 0u32;
            self.poll_with(cx, Direction::Write, |s| {
                attempts += 1;
                if let Some(e) = s.take_error()? {
                    return Err(e);
                }
                match s.check_peer() {
                    Err(e) if e.kind() == io::ErrorKind::NotConnected && attempts == 1 => {
                        Err(io::ErrorKind::WouldBlock.into())
                    }
                    res => res,
                }
            })
        })
        .await
    }
}

impl<S> Registered<S>
where
    S: mio::event::Source,
    for<'a> &'a S: Read + Write,
{
    /// Reads into `buf`, waiting for readability.
    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_with(cx, Direction::Read, |mut s| s.read(buf))
    }

    /// Reads into `bufs`, waiting for readability.
    pub(crate) fn poll_read_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [io::IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_with(cx, Direction::Read, |mut s| s.read_vectored(bufs))
    }

    /// Writes from `buf`, waiting for writability.
    pub(crate) fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_with(cx, Direction::Write, |mut s| s.write(buf))
    }

    /// Writes from `bufs`, waiting for writability.
    pub(crate) fn poll_write_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_with(cx, Direction::Write, |mut s| s.write_vectored(bufs))
    }

    /// Reads until `buf` is full; `UnexpectedEof` if the stream ends first.
    pub(crate) async fn read_exact(&self, mut buf: &mut [u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match poll_fn(|cx| self.poll_read(cx, buf)).await {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the stream ended before the buffer was filled",
                    ))
                }
                Ok(n) => buf = &mut buf[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Writes all of `buf`; `WriteZero` if the socket accepts nothing.
    pub(crate) async fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match poll_fn(|cx| self.poll_write(cx, buf)).await {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "the socket accepted no more bytes",
                    ))
                }
                Ok(n) => buf = &buf[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl<S: mio::event::Source> Drop for Registered<S> {
    fn drop(&mut self) {
        // Failure here means the epoll instance no longer knows the source
        // (nothing to undo) or is itself gone; either way the socket closes
        // right after, and there is no caller to report to.
        if let Err(e) = self.registration.deregister(&mut self.source) {
            tracing::debug!(error = %e, "motet net: deregistering a socket failed");
        }
    }
}

impl<S: mio::event::Source + fmt::Debug> fmt::Debug for Registered<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.source.fmt(f)
    }
}

/// The two checks that tell a finished non-blocking connect from one still
/// in progress; implemented by the stream sockets.
pub(crate) trait Connecting {
    /// Takes the pending socket error (`SO_ERROR`), if any.
    fn take_error(&self) -> io::Result<Option<io::Error>>;
    /// `Ok` once the socket has a peer; `NotConnected` while it has none.
    fn check_peer(&self) -> io::Result<()>;
}

impl Connecting for mio::net::TcpStream {
    fn take_error(&self) -> io::Result<Option<io::Error>> {
        mio::net::TcpStream::take_error(self)
    }
    fn check_peer(&self) -> io::Result<()> {
        self.peer_addr().map(drop)
    }
}

impl Connecting for mio::net::UnixStream {
    fn take_error(&self) -> io::Result<Option<io::Error>> {
        mio::net::UnixStream::take_error(self)
    }
    fn check_peer(&self) -> io::Result<()> {
        self.peer_addr().map(drop)
    }
}
