//! Behaviour of `motet::net` on a real kernel: echo at scale, the errors
//! the OS reports (address in use, refused, reset, end of stream), UDP,
//! Unix-domain streams, futures-io interop, and a socket outliving its
//! runtime.
//!
//! Every wait is bounded by `motet::time::timeout`, so a lost wake-up fails
//! the test with a message instead of hanging it. No test asserts timing.

#[path = "common/busy.rs"]
mod busy;

use std::future::Future;
use std::io::{self, ErrorKind};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::Duration;

use futures_lite::io::{AsyncReadExt, AsyncWriteExt};
use motet::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};
use motet::runtime::Runtime;
use motet::task::spawn;

/// Bound on any single test's waiting: generous, since it only turns a hang
/// into a failure.
const LIMIT: Duration = Duration::from_secs(60);

fn runtime() -> Runtime {
    Runtime::builder()
        .event_loop()
        .build()
        .expect("building an event-loop runtime")
}

/// Runs `f` on a fresh event loop, failing if it takes longer than `LIMIT`.
fn run<F: Future>(f: F) -> F::Output {
    runtime().block_on(async {
        motet::time::timeout(LIMIT, f)
            .await
            .expect("test timed out: a socket operation never completed")
    })
}

/// A connected (client, server-side) TCP pair over loopback.
async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, peer) = listener.accept().await.unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    (client, server)
}

/// Reads until end of stream with the inherent `read`.
async fn read_to_eof(stream: &TcpStream) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0; 4096];
    loop {
        match stream.read(&mut buf).await? {
            0 => return Ok(out),
            n => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// Raises the soft descriptor limit to at least `need` (up to the hard
/// limit), or fails with a message saying what to change.
fn ensure_fd_limit(need: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the valid, exclusively borrowed struct.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    assert_eq!(rc, 0, "getrlimit failed: {}", io::Error::last_os_error());
    if lim.rlim_cur >= need {
        return;
    }
    let raised = libc::rlimit {
        rlim_cur: need.min(lim.rlim_max),
        rlim_max: lim.rlim_max,
    };
    // SAFETY: setrlimit only reads the valid struct it is given.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) };
    assert_eq!(rc, 0, "setrlimit failed: {}", io::Error::last_os_error());
    assert!(
        raised.rlim_cur >= need,
        "this test needs {need} file descriptors but the hard limit is {}; raise it (ulimit -Hn)",
        lim.rlim_max
    );
}

/// Distinct content per connection, a few KB long, so that echoes exercise
/// partial reads and a mix-up between connections cannot go unnoticed.
fn payload(i: usize) -> Vec<u8> {
    let len = 2_000 + (i * 37) % 6_000;
    (0..len)
        .map(|j| (i.wrapping_mul(31) ^ j.wrapping_mul(7)) as u8)
        .collect()
}

#[test]
fn tcp_echo_thousand_concurrent_connections() {
    const N: usize = 1_000;
    // N client ends + N server ends + listener + epoll + eventfd + stdio.
    ensure_fd_limit(2 * N as u64 + 64);

    let (echoed, total_bytes) = run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        // mio listens with std's backlog of 128. All N clients connect
        // before the server task first runs, so the accept queue would
        // overflow and the kernel would retry dropped handshakes a second
        // later: correct but slow. Re-listening raises the backlog in place.
        // SAFETY: listen(2) on a descriptor we own; no memory is passed.
        let rc = unsafe { libc::listen(listener.as_raw_fd(), 4096) };
        assert_eq!(rc, 0, "listen failed: {}", io::Error::last_os_error());
        let addr = listener.local_addr().unwrap();

        let server = spawn(async move {
            for _ in 0..N {
                let (stream, _) = listener.accept().await?;
                spawn(async move {
                    // A small buffer, so each echo takes several reads.
                    let mut buf = [0; 1500];
                    loop {
                        let n = stream.read(&mut buf).await?;
                        if n == 0 {
                            return io::Result::Ok(());
                        }
                        stream.write_all(&buf[..n]).await?;
                    }
                })
                .detach();
            }
            io::Result::Ok(())
        });

        let clients: Vec<_> = (0..N)
            .map(|i| {
                spawn(async move {
                    let stream = TcpStream::connect(addr).await?;
                    let sent = payload(i);
                    stream.write_all(&sent).await?;
                    stream.shutdown(Shutdown::Write)?;
                    let back = read_to_eof(&stream).await?;
                    io::Result::Ok((i, sent, back))
                })
            })
            .collect();

        let mut echoed = 0;
        let mut total = 0;
        for c in clients {
            let (i, sent, back) = c
                .await
                .expect("client task failed")
                .expect("client I/O failed");
            assert_eq!(back.len(), sent.len(), "connection {i}: echo length");
            assert!(
                back == sent,
                "connection {i}: echoed bytes differ from the payload"
            );
            echoed += 1;
            total += sent.len();
        }
        server
            .await
            .expect("server task failed")
            .expect("accept failed");
        (echoed, total)
    });
    assert_eq!(echoed, N);
    assert!(total_bytes > N * 2_000);
}

#[test]
fn bind_to_a_port_in_use_is_addr_in_use() {
    run(async {
        let first = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let err = TcpListener::bind(first.local_addr().unwrap())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
    });
}

#[test]
fn connect_to_a_closed_port_is_refused() {
    run(async {
        // Take a free port, then free it: nothing listens there now.
        let addr = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        let err = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    });
}

#[test]
fn connect_tries_every_address_and_reports_the_last_error() {
    run(async {
        let closed = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        let open = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addrs = [closed, open.local_addr().unwrap()];
        let stream = TcpStream::connect(&addrs[..]).await.unwrap();
        assert_eq!(stream.peer_addr().unwrap(), addrs[1]);

        let err = TcpStream::connect(&[closed, closed][..]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
        let none: &[SocketAddr] = &[];
        assert_eq!(
            TcpStream::connect(none).await.unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    });
}

/// Makes dropping `stream` send RST instead of FIN (`SO_LINGER` 0).
fn set_linger_zero(stream: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt reads `size_of::<linger>()` bytes from a valid
    // `linger` on a descriptor the stream owns.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(
        rc,
        0,
        "setsockopt(SO_LINGER) failed: {}",
        io::Error::last_os_error()
    );
}

/// What Linux does: the RST makes the next `read` fail with ECONNRESET
/// (reported once, then cleared), after which the socket reads as ended
/// (`Ok(0)`) and writes fail with EPIPE (`BrokenPipe`). Nothing panics.
#[test]
fn reset_by_peer_is_connection_reset() {
    run(async {
        let (client, server) = tcp_pair().await;
        set_linger_zero(&server);
        drop(server);

        let err = client.read(&mut [0; 16]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
        assert_eq!(client.read(&mut [0; 16]).await.unwrap(), 0);
        let err = client.write(b"after reset").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe, "{err}");
    });
}

/// The write side sees the reset too: a write racing the RST either fails
/// with ECONNRESET itself or succeeds into the dead socket, and then the
/// next write fails (EPIPE). Unread data at the resetting end does not
/// matter for the peer.
#[test]
fn reset_by_peer_fails_writes() {
    run(async {
        let (client, server) = tcp_pair().await;
        set_linger_zero(&server);
        drop(server);
        // Wait until the RST has arrived: the read reports it.
        let err = client.read(&mut [0; 1]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset);
        let err = client.write_all(&[0; 64 * 1024]).await.unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::BrokenPipe | ErrorKind::ConnectionReset
            ),
            "unexpected write error after reset: {err:?}"
        );
    });
}

#[test]
fn read_returns_zero_at_end_of_stream() {
    run(async {
        let (client, server) = tcp_pair().await;
        server.write_all(b"last words").await.unwrap();
        server.shutdown(Shutdown::Write).unwrap();

        let mut buf = [0; 10];
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"last words");
        assert_eq!(client.read(&mut buf).await.unwrap(), 0);
        assert_eq!(
            client.read(&mut buf).await.unwrap(),
            0,
            "end of stream is sticky"
        );
        // The other direction is still open.
        client.write_all(b"reply").await.unwrap();
        let mut reply = [0; 5];
        server.read_exact(&mut reply).await.unwrap();
        assert_eq!(&reply, b"reply");

        let err = client.read_exact(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
    });
}

#[test]
fn peek_leaves_data_queued() {
    run(async {
        let (client, server) = tcp_pair().await;
        client.write_all(b"peekaboo").await.unwrap();
        let mut buf = [0; 8];
        let mut seen = 0;
        while seen < 8 {
            seen = server.peek(&mut buf).await.unwrap();
        }
        assert_eq!(&buf, b"peekaboo");
        let mut again = [0; 8];
        server.read_exact(&mut again).await.unwrap();
        assert_eq!(&again, b"peekaboo");
    });
}

#[test]
fn stream_options_and_addresses() {
    run(async {
        let (client, server) = tcp_pair().await;
        assert_eq!(client.peer_addr().unwrap(), server.local_addr().unwrap());
        assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
        client.set_nodelay(true).unwrap();
        assert!(client.nodelay().unwrap());
        client.set_ttl(17).unwrap();
        assert_eq!(client.ttl().unwrap(), 17);
        assert!(client.take_error().unwrap().is_none());
        let debug = format!("{client:?}");
        assert!(debug.contains("TcpStream"), "{debug}");
    });
}

#[test]
fn from_std_sockets_work() {
    run(async {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_listener.local_addr().unwrap();
        let listener = TcpListener::from_std(std_listener).unwrap();
        let std_client = std::net::TcpStream::connect(addr).unwrap();
        let client = TcpStream::from_std(std_client).unwrap();
        let (server, _) = listener.accept().await.unwrap();
        client.write_all(b"std").await.unwrap();
        let mut buf = [0; 3];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"std");
    });
}

#[test]
fn vectored_write_sends_buffers_in_order() {
    run(async {
        let (client, server) = tcp_pair().await;
        let bufs = [
            io::IoSlice::new(b"one "),
            io::IoSlice::new(b"two "),
            io::IoSlice::new(b"three"),
        ];
        let n = client.write_vectored(&bufs).await.unwrap();
        assert_eq!(n, 13, "loopback takes 13 bytes at once");
        let mut got = [0; 13];
        server.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"one two three");
    });
}

#[test]
fn udp_send_to_and_recv_from() {
    run(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());

        // The receiver waits first, so the receive really blocks on readiness.
        let receiver = spawn(async move {
            let mut buf = [0; 64];
            let (n, from) = b.recv_from(&mut buf).await?;
            b.send_to(&buf[..n], from).await?;
            io::Result::Ok((buf[..n].to_vec(), from))
        });
        motet::task::yield_now().await;
        assert_eq!(a.send_to(b"round trip", b_addr).await.unwrap(), 10);
        let mut buf = [0; 64];
        let (n, from) = a.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"round trip"[..], b_addr));
        let (got, from) = receiver.await.unwrap().unwrap();
        assert_eq!((got.as_slice(), from), (&b"round trip"[..], a_addr));
    });
}

#[test]
fn udp_connected_send_and_recv() {
    run(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        assert_eq!(a.peer_addr().unwrap_err().kind(), ErrorKind::NotConnected);
        a.connect(b.local_addr().unwrap()).await.unwrap();
        b.connect(a.local_addr().unwrap()).await.unwrap();
        assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());

        for msg in [&b"first"[..], b"second", b""] {
            assert_eq!(a.send(msg).await.unwrap(), msg.len());
            let mut buf = [0; 16];
            let n = b.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], msg);
        }
        // A datagram longer than the buffer is truncated, not split.
        a.send(&[9; 32]).await.unwrap();
        a.send(b"next").await.unwrap();
        let mut small = [0; 8];
        assert_eq!(b.recv(&mut small).await.unwrap(), 8);
        assert_eq!(b.recv(&mut small).await.unwrap(), 4);
        assert_eq!(&small[..4], b"next");
    });
}

/// A unique socket path in the temp dir, removed when dropped.
struct TempPath(PathBuf);

impl TempPath {
    fn new(tag: &str) -> TempPath {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("motet-net-{tag}-{}-{n}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        TempPath(path)
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn unix_stream_echo_over_a_path() {
    let path = TempPath::new("echo");
    run(async {
        let listener = UnixListener::bind(&path.0).unwrap();
        assert_eq!(
            listener.local_addr().unwrap().as_pathname(),
            Some(path.0.as_path())
        );
        let server = spawn(async move {
            let mut served = 0;
            for _ in 0..3 {
                let (stream, _) = listener.accept().await?;
                spawn(async move { futures_lite::io::copy(&stream, &mut &stream).await }).detach();
                served += 1;
            }
            io::Result::Ok(served)
        });

        let mut clients = Vec::new();
        for i in 0..3u8 {
            let path = path.0.clone();
            clients.push(spawn(async move {
                let stream = UnixStream::connect(&path).await?;
                assert_eq!(stream.peer_addr()?.as_pathname(), Some(path.as_path()));
                let sent = vec![i; 10_000];
                stream.write_all(&sent).await?;
                let mut back = vec![0; sent.len()];
                stream.read_exact(&mut back).await?;
                io::Result::Ok(back == sent)
            }));
        }
        for c in clients {
            assert!(c.await.unwrap().unwrap(), "unix echo differs");
        }
        assert_eq!(server.await.unwrap().unwrap(), 3);
    });
    assert!(
        path.0.exists(),
        "dropping a listener leaves its path for the caller"
    );
}

#[test]
fn unix_connect_errors() {
    let path = TempPath::new("errors");
    run(async {
        let err = UnixStream::connect(&path.0).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        let listener = UnixListener::bind(&path.0).unwrap();
        let err = UnixListener::bind(&path.0).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
        drop(listener);
        // The file remains, but nothing listens behind it.
        let err = UnixStream::connect(&path.0).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    });
}

#[test]
fn unix_stream_pair() {
    run(async {
        let (a, b) = UnixStream::pair().unwrap();
        assert!(a.local_addr().unwrap().is_unnamed());
        // Bigger than the socket buffer: the writer must wait for the reader.
        let big: Vec<u8> = (0..1_000_000u32).map(|i| i as u8).collect();
        let expected = big.clone();
        let writer = spawn(async move {
            a.write_all(&big).await?;
            a.shutdown(Shutdown::Write)
        });
        let mut got = Vec::new();
        (&b).read_to_end(&mut got).await.unwrap();
        writer.await.unwrap().unwrap();
        assert!(got == expected, "pair transfer differs");
    });
}

#[test]
fn futures_io_copy_and_read_to_end_over_tcp() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // The server echoes with futures-io's copy, reading and writing the
        // same stream through two shared references.
        let server = spawn(async move {
            let (stream, _) = listener.accept().await?;
            let n = futures_lite::io::copy(&stream, &mut &stream).await?;
            (&stream).close().await?;
            io::Result::Ok(n)
        });

        let mut client = TcpStream::connect(addr).await.unwrap();
        let sent: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        // Write from one task while this one reads, through `&TcpStream`.
        let client_ref = &client;
        let write = async {
            let mut w = client_ref;
            // Spelled out: the inherent `write_all` would win otherwise.
            AsyncWriteExt::write_all(&mut w, &sent).await?;
            w.close().await
        };
        let read = async {
            let mut got = Vec::new();
            let mut r = client_ref;
            r.read_to_end(&mut got).await?;
            io::Result::Ok(got)
        };
        let (wrote, got) = futures_lite::future::zip(write, read).await;
        wrote.unwrap();
        assert!(got.unwrap() == sent, "copied bytes differ");
        assert_eq!(server.await.unwrap().unwrap(), sent.len() as u64);

        // The owned impls work too, and read 0 at the end.
        let mut buf = [0; 4];
        assert_eq!(AsyncReadExt::read(&mut client, &mut buf).await.unwrap(), 0);
    });
}

#[test]
fn reading_and_writing_from_two_tasks() {
    run(async {
        let (client, server) = tcp_pair().await;
        let client = std::sync::Arc::new(client);
        let reader = {
            let client = client.clone();
            spawn(async move { read_to_eof(&client).await })
        };
        let writer = {
            let client = client.clone();
            spawn(async move {
                for i in 0..100u8 {
                    client.write_all(&[i; 1000]).await?;
                }
                client.shutdown(Shutdown::Write)
            })
        };
        // The server echoes and then closes.
        let mut buf = [0; 4096];
        loop {
            let n = server.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            server.write_all(&buf[..n]).await.unwrap();
        }
        drop(server);
        writer.await.unwrap().unwrap();
        let got = reader.await.unwrap().unwrap();
        let expected: Vec<u8> = (0..100u8).flat_map(|i| [i; 1000]).collect();
        assert!(got == expected, "echo through two tasks differs");
    });
}

/// A socket created in one runtime and used after that runtime is dropped
/// fails with an `io::Error` naming the shutdown, from a second runtime:
/// no hang, no panic. Dropping it afterwards is fine too.
#[test]
fn socket_outliving_its_runtime_fails_cleanly() {
    let first = runtime();
    let (client, server, listener) = first.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (client, server, listener)
    });
    drop(first);

    let second = runtime();
    second.block_on(async {
        let mut buf = [0; 8];
        let read = motet::time::timeout(LIMIT, client.read(&mut buf))
            .await
            .expect("read hung");
        let err = read.unwrap_err();
        assert!(err.to_string().contains("shut down"), "{err}");
        let err = motet::time::timeout(LIMIT, client.write_all(b"x"))
            .await
            .expect("write hung")
            .unwrap_err();
        assert!(err.to_string().contains("shut down"), "{err}");
        let err = motet::time::timeout(LIMIT, listener.accept())
            .await
            .expect("accept hung")
            .unwrap_err();
        assert!(err.to_string().contains("shut down"), "{err}");
        // Operations that never wait still work on the descriptor.
        assert_eq!(client.peer_addr().unwrap(), server.local_addr().unwrap());
        // New sockets belong to the new runtime and work.
        let (a, b) = tcp_pair().await;
        a.write_all(b"fresh").await.unwrap();
        let mut got = [0; 5];
        b.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"fresh");
    });
    drop((client, server, listener));
}

#[test]
#[should_panic(expected = "needs a runtime")]
fn creating_a_socket_outside_a_runtime_panics_clearly() {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let _ = TcpListener::from_std(std_listener);
}

#[test]
fn sockets_are_send_and_sync() {
    fn check<T: Send + Sync + std::fmt::Debug + AsRawFd>() {}
    check::<TcpListener>();
    check::<TcpStream>();
    check::<UdpSocket>();
    check::<UnixListener>();
    check::<UnixStream>();
}

#[test]
fn a_busy_event_loop_still_serves_a_socket() {
    use std::io::{Read, Write};
    use std::sync::atomic::Ordering;
    run(async {
        // The loop never runs dry: it sees the socket only through its busy
        // looks at the driver.
        let (stop, busy) = busy::keep_busy(4);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // The client is a plain OS thread, so nothing on the loop wakes
        // for it but the socket.
        let client = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            let mut c = std::net::TcpStream::connect(addr).unwrap();
            c.write_all(b"hello").unwrap();
            let mut back = [0u8; 5];
            c.read_exact(&mut back).unwrap();
            back
        });
        let (s, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).await.unwrap();
        s.write_all(&buf).await.unwrap();
        stop.store(true, Ordering::Relaxed);
        for h in busy {
            h.await.unwrap();
        }
        assert_eq!(&client.join().unwrap(), b"hello");
    });
}
