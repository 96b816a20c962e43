//! A TCP echo server as plain blocking code, Go's style: one green thread
//! per connection, `std::io` traits, no `async` anywhere in the server.
//!
//! ```text
//! cargo run -p motet --example echo_green            # 127.0.0.1:7001
//! cargo run -p motet --example echo_green 0.0.0.0:9001
//! ```
//!
//! Try it with `nc 127.0.0.1 7001`: each line comes back.
//!
//! Every call that would block (`blocking_accept`, `read`, `write_all`)
//! suspends only its own green thread; the event loop underneath runs the
//! others meanwhile. Compare `echo_event_loop.rs`, the same server with
//! explicit `.await`s.

use std::io::{self, Read, Write};
use std::time::Duration;

use motet::net::{TcpListener, TcpStream};

/// Accepts connections forever, echoing each on its own green thread.
///
/// Returns only if accepting fails for a reason that will not pass, such as
/// the runtime shutting down. Per-connection accept errors are skipped;
/// running out of file descriptors backs off briefly instead of spinning.
pub fn serve(listener: TcpListener) -> io::Result<()> {
    loop {
        match listener.blocking_accept() {
            Ok((stream, _peer)) => {
                motet::green::Builder::new()
                    .name("echo-conn")
                    .stack_size(64 * 1024)
                    .spawn(move || {
                        if let Err(e) = echo(stream) {
                            eprintln!("echo: connection ended with an error: {e}");
                        }
                    })?
                    .detach();
            }
            Err(e) if is_per_connection(&e) => continue,
            Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                eprintln!("echo: accept: {e}; backing off");
                motet::time::blocking_sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Copies everything read from `stream` back to it until the peer stops
/// sending, then shuts down our sending half. Returns the bytes echoed.
pub fn echo(mut stream: TcpStream) -> io::Result<u64> {
    let mut buf = vec![0; 16 * 1024];
    let mut total = 0;
    loop {
        // The std traits' methods, spelled out: the inherent `read` and
        // `write_all` are the async ones.
        let n = Read::read(&mut stream, &mut buf)?;
        if n == 0 {
            stream.shutdown(std::net::Shutdown::Write)?;
            return Ok(total);
        }
        Write::write_all(&mut stream, &buf[..n])?;
        total += n as u64;
    }
}

fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7001".to_string());
    let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    rt.block_on(async {
        let server = motet::green::spawn(move || {
            let listener = TcpListener::blocking_bind(addr.as_str())?;
            println!("echo server listening on {}", listener.local_addr()?);
            serve(listener)
        });
        server.await.map_err(io::Error::from)?
    })
}
