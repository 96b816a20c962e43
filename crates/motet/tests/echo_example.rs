//! Runs the `echo_event_loop` example's server against real clients.

use std::io;
use std::net::Shutdown;
use std::time::Duration;

use motet::net::{TcpListener, TcpStream};

#[path = "../examples/echo_event_loop.rs"]
#[allow(dead_code)] // the example's `main`
mod echo;

#[test]
fn example_server_echoes_many_clients() {
    let rt = motet::runtime::Runtime::builder()
        .event_loop()
        .build()
        .unwrap();
    rt.block_on(async {
        motet::time::timeout(Duration::from_secs(60), async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = motet::task::spawn(echo::serve(listener));

            let clients: Vec<_> = (0..20u32)
                .map(|i| {
                    motet::task::spawn(async move {
                        let stream = TcpStream::connect(addr).await?;
                        // Several exchanges per connection, then one large write.
                        for round in 0..5u32 {
                            let line = format!("client {i} round {round}\n");
                            stream.write_all(line.as_bytes()).await?;
                            let mut back = vec![0; line.len()];
                            stream.read_exact(&mut back).await?;
                            assert_eq!(back, line.as_bytes());
                        }
                        let big: Vec<u8> = (0..100_000u32).map(|j| (j ^ i) as u8).collect();
                        stream.write_all(&big).await?;
                        stream.shutdown(Shutdown::Write)?;
                        let mut back = Vec::new();
                        let mut buf = [0; 8192];
                        loop {
                            match stream.read(&mut buf).await? {
                                0 => break,
                                n => back.extend_from_slice(&buf[..n]),
                            }
                        }
                        io::Result::Ok(back == big)
                    })
                })
                .collect();
            for c in clients {
                assert!(
                    c.await.unwrap().unwrap(),
                    "a client got back different bytes"
                );
            }
            assert!(!server.is_finished(), "the server keeps serving");
            server.abort();
        })
        .await
        .expect("echo example test timed out");
    });
}
