//! http-hello: an HTTP/1.1 keep-alive server on 127.0.0.1 that answers
//! `GET /` with `200 OK`, `Content-Type: text/plain`, `Content-Length: 13`
//! and `Hello, World!`; any other path gets `404`, a request that does not
//! parse gets `400` and the connection is closed.
//!
//! Unlike the other workloads it is *served*: the child process only runs
//! the server ([`serve`], one task per connection, written once over
//! [`AsyncModel`]); the parent checks one response and then loads it from
//! outside with `wrk` or the built-in loader (`load.rs`), so that the load
//! generator never shares a process, an allocator or a runtime with the
//! server. n is the load's duration in seconds; the known answer is the
//! number of non-2xx responses under load: 0.
//!
//! A connection's requests are parsed with `httparse` from one buffer: every
//! complete request in it is answered (pipelining), the answers go out in
//! one write, and a request cut in half by a read waits for the rest.

use std::future::{poll_fn, Future};
use std::io;
use std::net::TcpListener as StdListener;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Poll;

use serde_json::{json, Map};

use super::{Column, Sample, Workload, WorkloadInfo};
use crate::models::async_unit::AsyncModel;
use crate::models::StopSignal;

/// The description of http-hello.
pub const INFO: WorkloadInfo = WorkloadInfo {
    workload: Workload::HttpHello,
    id: "http-hello",
    about: "HTTP/1.1 keep-alive `GET /` -> `Hello, World!`, loaded from outside for n seconds",
    default_n: 5,
    tour_n: 2,
    served: true,
    op: "request (1e9 / req/s)",
    check_n,
    expected: |_| 0,
    columns: &[
        Column {
            header: "req/s",
            field: "req_per_s",
            divisor: 1.0,
            decimals: 0,
        },
        Column {
            header: "p50 us",
            field: "p50_us",
            divisor: 1.0,
            decimals: 0,
        },
        Column {
            header: "p99 us",
            field: "p99_us",
            divisor: 1.0,
            decimals: 0,
        },
        Column {
            header: "non-2xx",
            field: "non_2xx",
            divisor: 1.0,
            decimals: 0,
        },
        Column {
            header: "loader",
            field: "loader",
            divisor: 1.0,
            decimals: 0,
        },
    ],
};

/// The longest load allowed, in seconds: a run must stay well bounded.
pub const MAX_SECONDS: u64 = 60;

fn check_n(n: u64) -> Result<(), String> {
    if (1..=MAX_SECONDS).contains(&n) {
        Ok(())
    } else {
        Err(format!(
            "http-hello's n is the load's duration in seconds, 1 to {MAX_SECONDS}; got {n}"
        ))
    }
}

/// The body every `GET /` gets.
pub const BODY: &str = "Hello, World!";

const OK: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
const NOT_FOUND: &[u8] =
    b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nNot Found";
const BAD_REQUEST: &[u8] = b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 11\r\nConnection: close\r\n\r\nBad Request";

/// A connection's read buffer; a request's head must fit in it.
const BUFFER: usize = 8 * 1024;
/// Headers parsed per request; more is a bad request.
const MAX_HEADERS: usize = 32;

/// Serves http-hello on `listeners` (one accept loop per listener, spawned
/// on shard i, all sharing one port) until `stop` fires; call inside the
/// model's `block_on`. The sample holds the number of requests answered.
pub async fn serve<M: AsyncModel>(
    listeners: Vec<StdListener>,
    stop: StopSignal,
) -> io::Result<Sample> {
    let answered = Arc::new(AtomicU64::new(0));
    let connections = Arc::new(AtomicU64::new(0));
    let mut stops = Vec::with_capacity(listeners.len());
    let mut loops = Vec::with_capacity(listeners.len());
    for (shard, listener) in listeners.into_iter().enumerate() {
        let (stop_tx, stop_rx) = M::oneshot::<()>();
        stops.push(stop_tx);
        let (answered, connections) = (answered.clone(), connections.clone());
        loops.push(M::spawn_on_shard(
            shard,
            accept_loop::<M>(listener, stop_rx, answered, connections),
        ));
    }
    stop.then(move || {
        for tx in stops {
            // A loop that already ended has nobody to tell.
            let _ = M::send(tx, ());
        }
    });
    for l in loops {
        l.await
            .map_err(|e| io::Error::other(format!("accept loop failed: {e:?}")))??;
    }
    let mut extra = Map::new();
    extra.insert("served".into(), json!(answered.load(Ordering::Relaxed)));
    extra.insert(
        "connections".into(),
        json!(connections.load(Ordering::Relaxed)),
    );
    Ok(Sample {
        extra,
        ..Sample::default()
    })
}

/// Accepts on one listener, one unit per connection, until `stop`.
async fn accept_loop<M: AsyncModel>(
    listener: StdListener,
    stop: M::Receiver<()>,
    answered: Arc<AtomicU64>,
    connections: Arc<AtomicU64>,
) -> io::Result<()> {
    // Adopted here, so that it registers with the driver of the thread (or
    // core) this loop runs on.
    let listener = M::listener(listener)?;
    let mut stop = pin!(stop);
    loop {
        let accepted = {
            let mut accept = pin!(M::accept(&listener));
            // Stop wins over a connection that is ready at the same time.
            poll_fn(|cx| {
                if stop.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
                accept.as_mut().poll(cx).map(Some)
            })
            .await
        };
        match accepted {
            None => return Ok(()),
            Some(Ok(stream)) => {
                connections.fetch_add(1, Ordering::Relaxed);
                let answered = Arc::clone(&answered);
                // Detached: the runtime drops what is left of it at shutdown.
                drop(M::spawn(async move {
                    // A connection that fails (reset by the loader at the
                    // end of its run) concerns no one but itself.
                    let _ = connection::<M>(stream, &answered).await;
                }));
            }
            Some(Err(e)) if per_connection(&e) => continue,
            Some(Err(e)) => return Err(e),
        }
    }
}

/// Accept errors that concern only the connection at hand.
fn per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

/// What to do after answering what is in the buffer.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    /// Read more.
    Read,
    /// Write the answers, then close.
    Close,
}

/// Answers every complete request in `input`, appending the responses to
/// `out`; returns how many bytes of `input` were consumed and what next.
fn answer(input: &[u8], out: &mut Vec<u8>, answered: &mut u64) -> (usize, Next) {
    let mut used = 0;
    loop {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        let head = match request.parse(&input[used..]) {
            Ok(httparse::Status::Complete(head)) => head,
            Ok(httparse::Status::Partial) => return (used, Next::Read),
            Err(_) => {
                out.extend_from_slice(BAD_REQUEST);
                return (used, Next::Close);
            }
        };
        let mut close = request.version == Some(0);
        let mut body = 0usize;
        for header in request.headers.iter() {
            let value = header.value;
            if header.name.eq_ignore_ascii_case("content-length") {
                match std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.trim().parse().ok())
                {
                    Some(len) => body = len,
                    None => {
                        out.extend_from_slice(BAD_REQUEST);
                        return (used, Next::Close);
                    }
                }
            } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
                // Chunked request bodies are not needed here: refuse them.
                out.extend_from_slice(BAD_REQUEST);
                return (used, Next::Close);
            } else if header.name.eq_ignore_ascii_case("connection") {
                close = value.eq_ignore_ascii_case(b"close");
            }
        }
        if body > BUFFER {
            out.extend_from_slice(BAD_REQUEST);
            return (used, Next::Close);
        }
        if input.len() - used - head < body {
            // The body is not all here yet: answer once it is.
            return (used, Next::Read);
        }
        used += head + body;
        *answered += 1;
        let hello = request.method == Some("GET") && request.path == Some("/");
        out.extend_from_slice(if hello { OK } else { NOT_FOUND });
        if close {
            return (used, Next::Close);
        }
    }
}

/// Serves one connection until the peer closes it or sends a bad request.
async fn connection<M: AsyncModel>(mut stream: M::Stream, total: &AtomicU64) -> io::Result<()> {
    let mut buf = vec![0u8; BUFFER];
    let (mut start, mut end) = (0, 0);
    let mut out = Vec::with_capacity(1024);
    loop {
        let n = M::read(&mut stream, &mut buf[end..]).await?;
        if n == 0 {
            return Ok(());
        }
        end += n;
        let mut answered = 0;
        let (used, next) = answer(&buf[start..end], &mut out, &mut answered);
        start += used;
        if answered > 0 {
            total.fetch_add(answered, Ordering::Relaxed);
        }
        if !out.is_empty() {
            M::write_all(&mut stream, &out).await?;
            out.clear();
        }
        if next == Next::Close {
            return Ok(());
        }
        if start == end {
            (start, end) = (0, 0);
        } else if end == buf.len() {
            if start == 0 {
                // A request head longer than the whole buffer.
                return M::write_all(&mut stream, BAD_REQUEST).await;
            }
            buf.copy_within(start..end, 0);
            (start, end) = (0, end - start);
        }
    }
}

/// A response as a client reads it.
#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    /// Its status code.
    pub status: u16,
    /// Its `Content-Type`, if any.
    pub content_type: Option<String>,
    /// Its `Content-Length`, if any.
    pub content_length: Option<usize>,
    /// Its body (as long as `Content-Length` says; empty without one).
    pub body: Vec<u8>,
    /// The server will close the connection after it (`Connection: close`).
    pub close: bool,
}

/// Parses one response from the start of `input`: `Ok(None)` if it is not
/// all there yet, else the response and the bytes it took.
pub fn parse_response(input: &[u8]) -> Result<Option<(Response, usize)>, String> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let head = match response.parse(input) {
        Ok(httparse::Status::Complete(head)) => head,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(format!("the response does not parse: {e}")),
    };
    let mut content_type = None;
    let mut content_length = None;
    let mut close = false;
    for header in response.headers.iter() {
        let value = String::from_utf8_lossy(header.value).trim().to_string();
        if header.name.eq_ignore_ascii_case("content-type") {
            content_type = Some(value);
        } else if header.name.eq_ignore_ascii_case("content-length") {
            let len = value
                .parse()
                .map_err(|_| format!("bad Content-Length {value:?}"))?;
            content_length = Some(len);
        } else if header.name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    let length = content_length.unwrap_or(0);
    if input.len() - head < length {
        return Ok(None);
    }
    let response = Response {
        status: response.code.unwrap_or(0),
        content_type,
        content_length,
        body: input[head..head + length].to_vec(),
        close,
    };
    Ok(Some((response, head + length)))
}

/// Checks a response to `GET /` against the workload's definition.
pub fn check(response: &Response) -> Result<(), String> {
    if response.status != 200 {
        return Err(format!("status {} (expected 200)", response.status));
    }
    let content_type = response.content_type.as_deref().unwrap_or("(none)");
    if !content_type.starts_with("text/plain") {
        return Err(format!("Content-Type {content_type} (expected text/plain)"));
    }
    if response.content_length != Some(BODY.len()) {
        return Err(format!(
            "Content-Length {:?} (expected {})",
            response.content_length,
            BODY.len()
        ));
    }
    if response.body != BODY.as_bytes() {
        return Err(format!(
            "body {:?} (expected {BODY:?})",
            String::from_utf8_lossy(&response.body)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(input: &[u8]) -> (usize, Next, u64, String) {
        let mut out = Vec::new();
        let mut n = 0;
        let (used, next) = answer(input, &mut out, &mut n);
        (used, next, n, String::from_utf8(out).unwrap())
    }

    #[test]
    fn pipelined_requests_get_one_answer_each() {
        let two = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n";
        let (used, next, n, out) = answers(two);
        assert_eq!((used, next, n), (two.len(), Next::Read, 2));
        let ok = out.find("200 OK").unwrap();
        let missing = out.find("404 Not Found").unwrap();
        assert!(ok < missing, "{out}");
    }

    #[test]
    fn a_partial_request_waits_for_the_rest() {
        let whole = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let cut = [&whole[..], &whole[..10]].concat();
        let (used, next, n, _) = answers(&cut);
        assert_eq!((used, next, n), (whole.len(), Next::Read, 1));
        // A body announced by Content-Length is waited for too.
        let posted = b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nab";
        assert_eq!(answers(posted).0, 0);
    }

    #[test]
    fn bad_requests_get_400_and_close() {
        let (_, next, n, out) =
            answers(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n\x01\x02 nonsense\r\n\r\n");
        assert_eq!((next, n), (Next::Close, 1));
        assert!(out.ends_with("Bad Request"), "{out}");
        let (_, next, _, _) = answers(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
        assert_eq!(next, Next::Close);
    }

    #[test]
    fn the_answer_passes_the_check() {
        let (response, used) = parse_response(OK).unwrap().unwrap();
        assert_eq!(used, OK.len());
        check(&response).unwrap();
        let (missing, _) = parse_response(NOT_FOUND).unwrap().unwrap();
        assert!(check(&missing).unwrap_err().contains("404"));
        assert_eq!(parse_response(&OK[..OK.len() - 1]).unwrap(), None);
    }
}
