//! Runs the `echo_green` example's server (blocking code on green threads)
//! against clients that are green threads too, using `BufReader`.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::Shutdown;
use std::sync::Arc;
use std::time::Duration;

use motet::net::{TcpListener, TcpStream};

#[path = "../examples/echo_green.rs"]
#[allow(dead_code)] // the example's `main`
mod echo;

#[test]
fn example_server_echoes_many_green_clients() {
    let rt = motet::runtime::Runtime::builder()
        .event_loop()
        .build()
        .unwrap();
    rt.block_on(async {
        motet::time::timeout(Duration::from_secs(60), async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = motet::green::spawn(move || echo::serve(listener));

            let clients: Vec<_> = (0..20u32)
                .map(|i| {
                    motet::green::spawn(move || -> io::Result<bool> {
                        let stream = Arc::new(TcpStream::blocking_connect(addr)?);
                        let mut reader = BufReader::new(&*stream);
                        for round in 0..5u32 {
                            let line = format!("client {i} round {round}\n");
                            Write::write_all(&mut &*stream, line.as_bytes())?;
                            let mut back = String::new();
                            reader.read_line(&mut back)?;
                            assert_eq!(back, line);
                        }
                        let big: Vec<u8> = (0..100_000u32).map(|j| (j ^ i) as u8).collect();
                        // Write and read at once, from two green threads sharing
                        // the stream (one reader, one writer), or a large echo
                        // could fill both socket buffers.
                        let writer = {
                            let (big, stream) = (big.clone(), stream.clone());
                            motet::green::spawn(move || -> io::Result<()> {
                                Write::write_all(&mut &*stream, &big)?;
                                stream.shutdown(Shutdown::Write)
                            })
                        };
                        let mut back = Vec::new();
                        reader.read_to_end(&mut back)?;
                        writer.join().map_err(io::Error::from)??;
                        Ok(back == big)
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
        .expect("echo_green example test timed out");
    });
}
