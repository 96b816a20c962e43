//! http-hello: the served workload, its child protocol and its peer.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

const LAB: &str = env!("CARGO_BIN_EXE_motet-lab");

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `bench http-hello ... --json` and parses its one line.
fn bench_one(args: &[&str]) -> Value {
    let out = Command::new(LAB)
        .args(["bench", "http-hello", "--repeat", "1", "--json"])
        .args(args)
        .output()
        .expect("the lab runs");
    assert!(out.status.success(), "bench failed: {}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    serde_json::from_str(lines[0]).expect("one JSON object")
}

fn assert_loaded(line: &Value, model: &str, loader: &str) {
    assert_eq!(line["workload"], "http-hello", "{line}");
    assert_eq!(line["model"], model, "{line}");
    assert_eq!(line["ok"], true, "{line}");
    assert_eq!(line["n"], 1, "{line}");
    assert_eq!(line["loader"], loader, "{line}");
    assert_eq!(line["non_2xx"], 0, "{line}");
    let rate = line["req_per_s"].as_f64().unwrap_or(0.0);
    assert!(rate > 0.0, "{line}");
    let (p50, p99) = (line["p50_us"].as_f64(), line["p99_us"].as_f64());
    assert!(
        p50.is_some_and(|p50| p50 > 0.0 && Some(p50) <= p99),
        "{line}"
    );
    assert!(line["port"].as_u64().is_some_and(|p| p > 0), "{line}");
    let ns_per_op = line["ns_per_op"].as_f64().unwrap_or(0.0);
    assert!((ns_per_op - 1e9 / rate).abs() / ns_per_op < 1e-6, "{line}");
    let ms = line["ms"].as_f64().unwrap_or(0.0);
    assert!((900.0..3000.0).contains(&ms), "{line}");
}

#[test]
fn async_loop_with_the_builtin_loader() {
    let line = bench_one(&["--model", "async-loop", "--n", "1", "--loader", "builtin"]);
    assert_loaded(&line, "async-loop", "builtin");
    assert_eq!(line["threads"], 1, "{line}");
}

/// Reads one whole response (headers, then Content-Length bytes of body).
fn read_response(from: &mut BufReader<&TcpStream>) -> (String, String) {
    let mut head = String::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        assert!(
            from.read_line(&mut line).unwrap() > 0,
            "closed mid-response"
        );
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap();
        }
        let end = line == "\r\n";
        head.push_str(&line);
        if end {
            break;
        }
    }
    let mut body = vec![0; length];
    from.read_exact(&mut body).unwrap();
    (head, String::from_utf8(body).unwrap())
}

#[test]
fn the_server_answers_raw_requests_and_stops_when_stdin_closes() {
    let mut server = Command::new(LAB)
        .args(["__child", "http-hello", "async-loop", "1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(server.stdout.take().unwrap());
    let mut ready = String::new();
    out.read_line(&mut ready).unwrap();
    let port: u16 = ready
        .trim()
        .strip_prefix("ready port=")
        .unwrap_or_else(|| panic!("not a ready line: {ready:?}"))
        .parse()
        .unwrap();

    // Two pipelined requests in one write: two responses, in order.
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    (&stream)
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /elsewhere HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut reader = BufReader::new(&stream);
    let (head, body) = read_response(&mut reader);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("Content-Type: text/plain\r\n"), "{head}");
    assert!(head.contains("Content-Length: 13\r\n"), "{head}");
    assert_eq!(body, "Hello, World!");
    let (head, _) = read_response(&mut reader);
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    // A request split across two writes is answered once it is whole.
    (&stream).write_all(b"GET / HT").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    (&stream).write_all(b"TP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let (head, body) = read_response(&mut reader);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert_eq!(body, "Hello, World!");

    // A bad request: 400, then the server closes the connection.
    let bad = TcpStream::connect(("127.0.0.1", port)).unwrap();
    bad.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    (&bad).write_all(b"NOT HTTP AT ALL\r\n\r\n").unwrap();
    let mut reader = BufReader::new(&bad);
    let (head, _) = read_response(&mut reader);
    assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "{rest:?}");

    // Closing stdin stops it: one JSON line, exit 0.
    drop(server.stdin.take());
    let mut json = String::new();
    out.read_line(&mut json).unwrap();
    let sample: Value = serde_json::from_str(&json).unwrap();
    // Three requests parsed and answered; the bad one is not counted.
    assert_eq!(sample["extra"]["served"], 3, "{sample}");
    assert!(server.wait().unwrap().success());
}

#[test]
fn a_port_in_use_exits_2_naming_it() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = Command::new(LAB)
        .args(["bench", "http-hello", "--model", "async-loop", "--n", "1"])
        .args(["--port", &port])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&port) && err.contains("in use"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    // The child refuses it the same way (the probe above can be raced).
    let out = Command::new(LAB)
        .args(["__child", "http-hello", "async-loop", "1", "--port", &port])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains(&port), "{}", stderr(&out));
}

#[test]
fn nginx_is_a_peer_for_http_hello_only() {
    let out = Command::new(LAB)
        .args(["bench", "skynet", "--model", "nginx", "--n", "10"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("http-hello"), "{}", stderr(&out));

    if Command::new("nginx").arg("-v").output().is_err() {
        let line = bench_one(&["--model", "nginx", "--n", "1"]);
        assert_eq!(line["ok"], false, "{line}");
        assert!(line["error"]
            .as_str()
            .unwrap_or("")
            .contains("nginx not installed"));
        eprintln!("skipping: nginx not installed");
        return;
    }
    let line = bench_one(&["--model", "nginx", "--n", "1", "--loader", "builtin"]);
    assert_loaded(&line, "nginx", "builtin");
    let config = line["config"].as_str().unwrap_or_default();
    assert!(config.contains("worker_processes 2;"), "{line}");
}
