//! The HTTP examples answer correctly: keep-alive, pipelining, 404, 400.

#[path = "../examples/http_per_core.rs"]
#[allow(dead_code)]
mod per_core;
#[path = "../examples/http_work_stealing.rs"]
#[allow(dead_code)]
mod work_stealing;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use motet::runtime::Runtime;

const HELLO: &str =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

fn exchange(addr: SocketAddr, request: &[u8], expect_len: usize) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request).unwrap();
    let mut got = vec![0u8; expect_len];
    s.read_exact(&mut got).unwrap();
    String::from_utf8(got).unwrap()
}

fn check(addr: SocketAddr) {
    // Keep-alive: many requests on one connection, two of them pipelined.
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for _ in 0..10 {
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut got = vec![0u8; HELLO.len()];
        s.read_exact(&mut got).unwrap();
        assert_eq!(String::from_utf8(got).unwrap(), HELLO);
    }
    let two = exchange(
        addr,
        b"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n",
        2 * HELLO.len(),
    );
    assert_eq!(two, format!("{HELLO}{HELLO}"));
    let not_found = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(
        exchange(addr, b"GET /nope HTTP/1.1\r\n\r\n", not_found.len()),
        not_found
    );
    let bad = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    assert_eq!(exchange(addr, b"\x00\x01garbage\r\n\r\n", bad.len()), bad);
}

#[test]
fn per_core_example_serves_hello() {
    let rt = Runtime::builder().per_core(2).build().unwrap();
    let shards = motet::net::reuseport_listeners("127.0.0.1:0".parse().unwrap(), 2).unwrap();
    let addr = shards[0].local_addr().unwrap();
    let loops = per_core::start(&rt, shards);
    // Several connections, so both cores' listeners get some.
    for _ in 0..8 {
        check(addr);
    }
    for l in &loops {
        assert!(!l.is_finished(), "an accept loop died");
    }
}

#[test]
fn work_stealing_example_serves_hello() {
    let rt = Runtime::builder().work_stealing(2).build().unwrap();
    let addr = rt.block_on(async {
        let listener = motet::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        motet::task::spawn(work_stealing::serve(listener)).detach();
        addr
    });
    for _ in 0..8 {
        check(addr);
    }
}
