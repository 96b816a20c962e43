//! The parent's side of a served workload (http-hello): start the server,
//! check one answer, load it from this process, stop the server, and fold
//! the server's and the loader's figures into one [`Sample`].
//!
//! Protocol with a lab child (`__child http-hello MODEL N [--port P]`):
//!
//! 1. The child binds 127.0.0.1:P (P = 0: a free port), prints
//!    `ready port=PORT` on stdout, and serves. A port in use makes it exit 2
//!    with a message naming the port.
//! 2. The parent checks one `GET /`, then loads the port for N seconds.
//! 3. The parent closes the child's stdin: that is the stop signal. The
//!    child stops accepting, prints its JSON [`Sample`] (requests served,
//!    threads) and exits.
//!
//! An external model (nginx) is started by the parent instead, waited for
//! until its port accepts, loaded the same way, and stopped with SIGTERM.
//!
//! Every step has a deadline: the whole run is bounded by the smaller of
//! `--timeout` and N + [`SLACK`]; a server still running past it is killed.

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener as StdListener, TcpStream as StdStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use crate::child;
use crate::load::{self, Load, LoaderChoice};
use crate::models::{External, ModelInfo, Runs};
use crate::workloads::{Sample, WorkloadInfo};

/// Time allowed beyond the load itself: start, check, stop.
pub const SLACK: Duration = Duration::from_secs(10);
/// How long a server may take to start listening.
const START: Duration = Duration::from_secs(5);
/// How long a server may take to stop once asked.
const STOP: Duration = Duration::from_secs(3);
/// The line a lab child prints once it listens.
pub const READY: &str = "ready port=";

/// How served workloads are run.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Which load generator.
    pub loader: LoaderChoice,
    /// Serve on this port instead of a free one.
    pub port: Option<u16>,
}

/// Runs a served workload once on `model` and reads back its sample.
pub fn run(
    model: &ModelInfo,
    workload: &WorkloadInfo,
    n: u64,
    timeout: Duration,
    options: &Options,
) -> Result<Sample, String> {
    let deadline = Instant::now() + timeout.min(Duration::from_secs(n) + SLACK);
    match &model.runs {
        Runs::Lab { .. } => lab_child(model, workload, n, deadline, options),
        Runs::External(external) => {
            model.available()?;
            outside(external, n, deadline, options)
        }
    }
}

/// A lab child serving, loaded from here.
fn lab_child(
    model: &ModelInfo,
    workload: &WorkloadInfo,
    n: u64,
    deadline: Instant,
    options: &Options,
) -> Result<Sample, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the lab binary: {e}"))?;
    let mut command = Command::new(exe);
    command.args([child::SUBCOMMAND, workload.id, model.id, &n.to_string()]);
    if let Some(port) = options.port {
        command.args(["--port", &port.to_string()]);
    }
    let mut server = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start a child: {e}"))?;
    let stdin = server.stdin.take().expect("stdin is piped");
    let lines = read_lines(server.stdout.take().expect("stdout is piped"));
    let last_err = last_stderr_line(server.stderr.take().expect("stderr is piped"));

    let ready_by = deadline.min(Instant::now() + START);
    let port = loop {
        let left = ready_by.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                if let Some(port) = line.strip_prefix(READY) {
                    break port.trim().parse::<u16>().ok();
                }
            }
            Err(_) => break None,
        }
    };
    let loaded = match port {
        Some(port) => check_and_load(port, n, options.loader),
        None => Err(format!("the server did not say `{READY}N` in time")),
    };
    // The stop signal: the child's stdin ends.
    drop(stdin);
    let status = stop_by(&mut server, deadline.max(Instant::now() + STOP));
    let child_sample = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Sample>(&l).ok())
        .last();
    let last_err = last_err.join().unwrap_or(None);
    let failed = |why: String| match &last_err {
        Some(line) => format!("{why}; last stderr: {line}"),
        None => why,
    };
    let (port, load) = match (port, loaded) {
        (Some(port), Ok(load)) => (port, load),
        (_, Err(why)) => {
            return Err(failed(match status {
                Some(status) if !status.success() => {
                    format!("{why} (server: {})", child::describe(status))
                }
                _ => why,
            }))
        }
        (None, Ok(_)) => unreachable!("no load without a port"),
    };
    let served = match (status, child_sample) {
        (Some(status), Some(sample)) if status.success() => sample,
        (None, _) => return Err(failed("the server did not stop when asked, killed".into())),
        (Some(status), _) => return Err(failed(format!("the server {}", child::describe(status)))),
    };
    sample(&load, port, served.threads, served.extra)
}

/// An outside server (nginx) started here, loaded from here.
fn outside(
    external: &External,
    n: u64,
    deadline: Instant,
    options: &Options,
) -> Result<Sample, String> {
    let port = match options.port {
        Some(port) => port,
        // Free now; the server binds it a moment later.
        None => StdListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("cannot find a free port: {e}"))?
            .port(),
    };
    let mut started = (external.start)(port)?;
    let server = &mut started.child;
    let last_err = last_stderr_line(server.stderr.take().expect("stderr is piped"));
    let listening = wait_for_port(server, port, deadline.min(Instant::now() + START));
    let loaded = listening.and_then(|()| check_and_load(port, n, options.loader));
    // SIGTERM: nginx's master stops its workers and exits.
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .stderr(Stdio::null())
        .status();
    let stopped = stop_by(server, Instant::now() + STOP);
    (started.cleanup)();
    let last_err = last_err.join().unwrap_or(None);
    let load = loaded.map_err(|why| match (stopped, last_err) {
        (Some(status), Some(line)) if !status.success() => {
            format!(
                "{why} ({} {}; last stderr: {line})",
                external.program,
                child::describe(status)
            )
        }
        _ => why,
    })?;
    if stopped.is_none() {
        return Err(format!(
            "{} did not stop on SIGTERM, killed",
            external.program
        ));
    }
    sample(&load, port, started.threads, started.extra)
}

/// Waits until 127.0.0.1:port accepts a connection, or the server exits.
fn wait_for_port(server: &mut Child, port: u16, by: Instant) -> Result<(), String> {
    loop {
        if StdStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = server.try_wait() {
            return Err(format!(
                "the server {} before listening",
                child::describe(status)
            ));
        }
        if Instant::now() >= by {
            return Err(format!(
                "nothing listens on 127.0.0.1:{port} after {} s",
                START.as_secs()
            ));
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Checks one answer, then loads.
fn check_and_load(port: u16, seconds: u64, loader: LoaderChoice) -> Result<Load, String> {
    load::check(port)?;
    let load = load::load(loader, port, seconds)?;
    if load.requests == 0 {
        return Err(format!(
            "no request completed under load ({} errors)",
            load.errors
        ));
    }
    Ok(load)
}

/// Waits for `server` to exit until `by`, then kills it. `None` if it had to be killed.
fn stop_by(server: &mut Child, by: Instant) -> Option<std::process::ExitStatus> {
    loop {
        match server.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < by => thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = server.kill();
                let _ = server.wait();
                return None;
            }
        }
    }
}

/// The sample of a served run: the known answer is the non-2xx count.
fn sample(
    load: &Load,
    port: u16,
    threads: usize,
    mut extra: Map<String, Value>,
) -> Result<Sample, String> {
    extra.insert("req_per_s".into(), json!(load.req_per_s));
    extra.insert("p50_us".into(), json!(load.p50_us));
    extra.insert("p99_us".into(), json!(load.p99_us));
    extra.insert("non_2xx".into(), json!(load.non_2xx));
    extra.insert("errors".into(), json!(load.errors));
    extra.insert("loader".into(), json!(load.loader));
    extra.insert("port".into(), json!(port));
    extra.insert("requests".into(), json!(load.requests));
    Ok(Sample {
        result: load.non_2xx,
        elapsed_ns: load.elapsed.as_nanos() as u64,
        ops: load.requests,
        threads,
        extra,
    })
}

/// Every line of `from`, trimmed, as it comes.
fn read_lines(from: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { break };
            if tx.send(line.trim().to_string()).is_err() {
                break;
            }
        }
    });
    rx
}

/// The last non-empty line of `from`, once it ends.
fn last_stderr_line(from: impl Read + Send + 'static) -> LastLine {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let last = BufReader::new(from)
            .lines()
            .map_while(Result::ok)
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .last();
        let _ = tx.send(last);
    });
    LastLine(rx)
}

/// The last line of a stream, read on a thread of its own.
struct LastLine(mpsc::Receiver<Option<String>>);

impl LastLine {
    /// The line, once the stream has ended; waits a second at most (a
    /// grandchild may hold the stream open).
    fn join(self) -> Result<Option<String>, mpsc::RecvTimeoutError> {
        self.0.recv_timeout(Duration::from_secs(1))
    }
}
