//! An HTTP "Hello, World!" server in nginx's style: one event loop per core
//! (`Builder::per_core`), each accepting on its own `SO_REUSEPORT` listener
//! and serving its connections itself; nothing crosses cores.
//!
//! ```sh
//! cargo run --release -p motet --example http_per_core -- 127.0.0.1:8080
//! wrk -t2 -c64 -d5s --latency http://127.0.0.1:8080/
//! ```

#[path = "common/http_hello.rs"]
mod http_hello;

use std::io;
use std::net::{SocketAddr, TcpListener as StdListener};

use motet::net::TcpListener;
use motet::runtime::Runtime;
use motet::task::{self, JoinHandle};

/// Starts one accept loop per core, on `shards[core]`.
pub fn start(rt: &Runtime, shards: Vec<StdListener>) -> Vec<JoinHandle<io::Result<()>>> {
    shards
        .into_iter()
        .enumerate()
        .map(|(core, shard)| {
            rt.handle().spawn_on(core, async move {
                // Adopted on its core, so it registers with that core's driver.
                let listener = TcpListener::from_std(shard)?;
                loop {
                    let (stream, _) = listener.accept().await?;
                    // task::spawn on a core stays on that core.
                    task::spawn(async move {
                        let _ = http_hello::serve_connection(stream).await;
                    })
                    .detach();
                }
            })
        })
        .collect()
}

#[allow(dead_code)] // the tests include this file for `start`
fn main() -> io::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into())
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let rt = Runtime::builder().per_core(0).build()?;
    let cores = rt.handle().workers();
    let shards = motet::net::reuseport_listeners(addr, cores)?;
    println!(
        "http_per_core: listening on http://{} with {cores} cores",
        shards[0].local_addr()?
    );
    for accept_loop in start(&rt, shards) {
        rt.block_on(accept_loop).map_err(io::Error::from)??;
    }
    Ok(())
}
