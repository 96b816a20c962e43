//! The "Hello, World!" HTTP/1.1 keep-alive handler shared by the HTTP
//! examples: `GET /` -> 200 `text/plain` `Hello, World!`, other paths 404,
//! a malformed request 400 and close. Pipelined requests are answered in
//! order, with one write per batch.

use std::io;

use motet::net::TcpStream;

const OK: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
const NOT_FOUND: &[u8] = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
const BAD_REQUEST: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// Serves one connection until the client closes it.
pub async fn serve_connection(stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = vec![0u8; 8192];
    let mut filled = 0;
    let mut out = Vec::with_capacity(1024);
    loop {
        if filled == buf.len() {
            stream.write_all(BAD_REQUEST).await?; // request head too large
            return Ok(());
        }
        let n = stream.read(&mut buf[filled..]).await?;
        if n == 0 {
            return Ok(());
        }
        filled += n;
        let mut used = 0;
        let mut close = false;
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(&buf[used..filled]) {
                Ok(httparse::Status::Complete(len)) => {
                    used += len;
                    let hello = req.method == Some("GET") && req.path == Some("/");
                    out.extend_from_slice(if hello { OK } else { NOT_FOUND });
                }
                Ok(httparse::Status::Partial) => break,
                Err(_) => {
                    out.extend_from_slice(BAD_REQUEST);
                    close = true;
                    break;
                }
            }
        }
        buf.copy_within(used..filled, 0);
        filled -= used;
        stream.write_all(&out).await?;
        out.clear();
        if close {
            return Ok(());
        }
    }
}
