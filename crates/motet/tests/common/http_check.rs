//! Checks an HTTP "Hello, World!" example server over plain std sockets:
//! keep-alive, pipelining, 404, 400.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

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

pub fn check(addr: SocketAddr) {
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
