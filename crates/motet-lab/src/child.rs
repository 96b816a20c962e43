//! The re-exec protocol: every (model, workload, repeat) runs in a fresh
//! child process, so that memory figures start clean and a model that
//! crashes, aborts or hangs is reported as a failed run instead of taking the
//! lab down with it.
//!
//! The parent runs `current_exe() __child WORKLOAD MODEL N` with stdin closed
//! and both outputs piped. (Served workloads keep stdin open as their stop
//! signal and print a ready line first: see `served.rs`.) The child runs the workload once and prints one
//! JSON line, a [`Sample`], on stdout; anything else it prints is ignored.
//! The parent reads the last line that parses, and on failure reports the exit
//! status or signal and the last line of stderr. A child still running past
//! the timeout is killed.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpListener as StdListener;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::models::{ModelInfo, Runs, StopSignal};
use crate::served;
use crate::workloads::{Sample, WorkloadInfo};

/// The hidden subcommand a child runs.
pub const SUBCOMMAND: &str = "__child";

/// Set in a child's environment, makes it fail on purpose: `abort` (dies of
/// SIGABRT), `hang` (never ends), `panic`. The tests use it to check that
/// failures are reported, not fatal.
pub const FAULT_ENV: &str = "MOTET_LAB_FAULT";

/// Child side: runs the workload once in this process and prints its sample.
///
/// A served workload listens on 127.0.0.1:`port` (0: a free one) instead;
/// a port in use is an `AddrInUse` error whose message names it.
pub fn serve(
    model: &ModelInfo,
    workload: &WorkloadInfo,
    n: u64,
    port: Option<u16>,
) -> io::Result<()> {
    summarize_panics();
    match std::env::var(FAULT_ENV).as_deref() {
        Ok("abort") => std::process::abort(),
        Ok("hang") => loop {
            thread::park();
        },
        Ok("panic") => panic!("{FAULT_ENV}=panic"),
        _ => {}
    }
    let Runs::Lab { run, serve, .. } = model.runs else {
        return Err(io::Error::other(format!(
            "{} is an outside program, not run in a lab child",
            model.id
        )));
    };
    let sample = if workload.served {
        let port = port.unwrap_or(0);
        // SO_REUSEPORT, so that a per-core model can add one listener per
        // core on the same port (a port held by anyone without it still
        // fails with AddrInUse).
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let listener = reuseport(addr).map_err(|e| {
            let why = if e.kind() == io::ErrorKind::AddrInUse {
                format!("port {port} on 127.0.0.1 is already in use")
            } else {
                format!("cannot listen on 127.0.0.1:{port}: {e}")
            };
            io::Error::new(e.kind(), why)
        })?;
        let mut stdout = io::stdout().lock();
        writeln!(stdout, "{}{}", served::READY, listener.local_addr()?.port())?;
        stdout.flush()?;
        drop(stdout);
        // The parent closes our stdin when it has loaded us enough.
        let stop = StopSignal::new(|| {
            let mut sink = [0u8; 256];
            let mut stdin = io::stdin();
            while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
        });
        serve(workload.workload, listener, stop)?
    } else {
        run(workload.workload, n)?
    };
    let line = serde_json::to_string(&sample).map_err(io::Error::other)?;
    println!("{line}");
    Ok(())
}

/// Makes a panic's last stderr line a one-line summary, after whatever the
/// default hook prints (a backtrace, when `RUST_BACKTRACE` asks for one), so
/// that the parent's "last stderr line" names the panic.
fn summarize_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        let at = info
            .location()
            .map(|l| format!(" at {l}"))
            .unwrap_or_default();
        let thread = thread::current();
        let name = thread.name().unwrap_or("unnamed");
        eprintln!("panicked on thread '{name}'{at}: {message}");
    }));
}

/// Parent side: runs one child (or, for a served workload, a server and a
/// load) and reads back its sample, or says why not.
pub fn run(
    model: &ModelInfo,
    workload: &WorkloadInfo,
    n: u64,
    timeout: Duration,
    options: &served::Options,
) -> Result<Sample, String> {
    if workload.served {
        return served::run(model, workload, n, timeout, options);
    }
    model.available()?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the lab binary: {e}"))?;
    let mut child = Command::new(exe)
        .args([SUBCOMMAND, workload.id, model.id, &n.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start a child: {e}"))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let out = thread::spawn(move || last_line(stdout, |l| serde_json::from_str::<Sample>(l).ok()));
    let err = thread::spawn(move || last_line(stderr, |l| Some(l.to_owned())));

    let deadline = Instant::now() + timeout;
    // Poll with a backoff: prompt for short runs, near-idle for long ones.
    let mut pause = Duration::from_millis(1);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => {
                // It may have just exited; either way it is reaped below.
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => {
                thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            Err(e) => return Err(format!("cannot wait for the child: {e}")),
        }
    };
    let sample = out.join().unwrap_or(None);
    let last_err = err.join().unwrap_or(None);
    let why = match (status, sample) {
        (Some(status), Some(sample)) if status.success() => return Ok(sample),
        (None, _) => format!("timed out after {} s, killed", timeout.as_secs()),
        (Some(status), Some(_)) => describe(status),
        (Some(status), None) if status.success() => "exited 0 without a result line".into(),
        (Some(status), None) => describe(status),
    };
    Err(match last_err {
        Some(line) => format!("{why}; last stderr: {line}"),
        None => why,
    })
}

/// The last line of `from` that `keep` accepts (lines are trimmed, empty ones skipped).
fn last_line<T>(from: impl Read, keep: impl Fn(&str) -> Option<T>) -> Option<T> {
    let mut last = None;
    for line in BufReader::new(from).lines() {
        let Ok(line) = line else { break };
        let line = line.trim();
        if !line.is_empty() {
            if let Some(kept) = keep(line) {
                last = Some(kept);
            }
        }
    }
    last
}

/// "exit status 101" or "killed by signal 11 (SIGSEGV)".
pub fn describe(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    match status.signal() {
        Some(sig) => {
            let dumped = if status.core_dumped() {
                ", core dumped"
            } else {
                ""
            };
            format!("killed by signal {sig} ({}{dumped})", signal_name(sig))
        }
        None => format!("ended: {status}"),
    }
}

/// The names of the signals a failing model is likely to die of (Linux numbers).
fn signal_name(sig: i32) -> &'static str {
    match sig {
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        15 => "SIGTERM",
        24 => "SIGXCPU",
        25 => "SIGXFSZ",
        _ => "unknown signal",
    }
}

/// One listening socket on `addr` with `SO_REUSEPORT` set.
fn reuseport(addr: std::net::SocketAddr) -> io::Result<StdListener> {
    let mut shards = motet::net::reuseport_listeners(addr, 1)?;
    Ok(shards.remove(0))
}
