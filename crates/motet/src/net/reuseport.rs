//! Listeners that share one port, for per-core accept sharding.
//!
//! nginx's `reuseport`: each event loop owns its own listening socket on the
//! same address, all with `SO_REUSEPORT` set, and the kernel spreads
//! incoming connections over them by a hash of each connection's addresses.
//! No loop ever accepts for another, and no lock or wake-up is shared.

use std::io;
use std::net::{SocketAddr, TcpListener as StdListener};

use socket2::{Domain, Protocol, Socket, Type};

/// The listen backlog of each shard: enough for bursts of connects
/// (the kernel caps it at `net.core.somaxconn`).
const BACKLOG: i32 = 1024;

/// Binds `n` listening sockets to `addr`, all with `SO_REUSEPORT`, so that
/// the kernel shards incoming connections across them. If `addr`'s port is
/// 0, the first bind picks a free port and the others share it.
///
/// The sockets are plain `std` listeners (non-blocking already): hand one to
/// each core and turn it into a [`TcpListener`](super::TcpListener) there
/// with `TcpListener::from_std`, so that it registers with that core's
/// driver.
///
/// # Errors
///
/// The bind's own error: `AddrInUse` when another process holds the port
/// without `SO_REUSEPORT`, `PermissionDenied` for a privileged port.
///
/// ```
/// let shards = motet::net::reuseport_listeners("127.0.0.1:0".parse().unwrap(), 2).unwrap();
/// let port = shards[0].local_addr().unwrap().port();
/// assert!(shards.iter().all(|l| l.local_addr().unwrap().port() == port));
/// ```
pub fn reuseport_listeners(addr: SocketAddr, n: usize) -> io::Result<Vec<StdListener>> {
    let mut shards = Vec::with_capacity(n);
    let mut addr = addr;
    for _ in 0..n {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_reuse_address(true)?;
        socket.set_reuse_port(true)?;
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        socket.listen(BACKLOG)?;
        let listener: StdListener = socket.into();
        // The others bind the port the first one got.
        addr = listener.local_addr()?;
        shards.push(listener);
    }
    Ok(shards)
}
