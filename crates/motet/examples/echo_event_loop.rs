//! A TCP echo server in Node's style: one event loop on one thread, one task
//! per connection, every wait an `.await`.
//!
//! ```text
//! cargo run -p motet --example echo_event_loop            # 127.0.0.1:7000
//! cargo run -p motet --example echo_event_loop 0.0.0.0:9000
//! ```
//!
//! Try it with `nc 127.0.0.1 7000`: each line comes back.
//!
//! The accept loop is the one task that owns the listener (only one task may
//! wait to accept on a listener at a time); each connection gets its own
//! task, so a slow client holds up nobody but itself.

use std::io;
use std::time::Duration;

use motet::net::{TcpListener, TcpStream};

/// Accepts connections forever, echoing each on its own task.
///
/// Returns only if accepting fails for a reason that will not pass, such as
/// the runtime shutting down. Errors that concern one connection (aborted
/// before it was accepted) are skipped; running out of file descriptors
/// backs off briefly instead of spinning.
pub async fn serve(listener: TcpListener) -> io::Result<()> {
    loop {
        match listener.accept().await {
            Ok((stream, _peer)) => {
                motet::task::spawn(async move {
                    if let Err(e) = echo(&stream).await {
                        eprintln!("echo: connection ended with an error: {e}");
                    }
                })
                .detach();
            }
            Err(e) if is_per_connection(&e) => continue,
            Err(e) if is_out_of_descriptors(&e) => {
                eprintln!("echo: accept: {e}; backing off");
                motet::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Copies everything read from `stream` back to it until the peer stops
/// sending, then shuts down our sending half so the peer sees the end.
/// Returns the number of bytes echoed.
pub async fn echo(stream: &TcpStream) -> io::Result<u64> {
    let mut buf = vec![0; 16 * 1024];
    let mut total = 0;
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            stream.shutdown(std::net::Shutdown::Write)?;
            return Ok(total);
        }
        stream.write_all(&buf[..n]).await?;
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

fn is_out_of_descriptors(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7000".to_string());
    let rt = motet::runtime::Runtime::builder().event_loop().build()?;
    rt.block_on(async {
        let listener = TcpListener::bind(addr.as_str()).await?;
        println!("echo server listening on {}", listener.local_addr()?);
        serve(listener).await
    })
}
