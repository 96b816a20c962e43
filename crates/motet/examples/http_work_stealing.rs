//! An HTTP "Hello, World!" server in Go's and tokio's style: one listener,
//! one task per connection, tasks spread over the work-stealing workers
//! (`Builder::work_stealing`).
//!
//! ```sh
//! cargo run --release -p motet --example http_work_stealing -- 127.0.0.1:8080
//! wrk -t2 -c64 -d5s --latency http://127.0.0.1:8080/
//! ```

#[path = "common/http_hello.rs"]
mod http_hello;

use std::io;

use motet::net::TcpListener;
use motet::runtime::Runtime;
use motet::task;

/// Accepts forever, one task per connection.
pub async fn serve(listener: TcpListener) -> io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        task::spawn(async move {
            let _ = http_hello::serve_connection(stream).await;
        })
        .detach();
    }
}

#[allow(dead_code)] // the tests include this file for `serve`
fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let rt = Runtime::builder().work_stealing(0).build()?;
    rt.block_on(async {
        let listener = TcpListener::bind(&addr).await?;
        println!(
            "http_work_stealing: listening on http://{} with {} workers",
            listener.local_addr()?,
            motet::runtime::Handle::current().workers()
        );
        // The accept loop is a task too, so that it runs on the workers.
        task::spawn(serve(listener)).await?
    })
}
