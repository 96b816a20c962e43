//! Loading a served workload from the parent: the one-request check, then
//! `wrk -t2 -c64 -dNs --latency` when `wrk` is on `PATH`, or the built-in
//! loader (2 threads x 32 keep-alive connections, each thread a tokio
//! current_thread runtime, one request in flight per connection), which
//! records every request's latency in a [`Histogram`].

use std::io::{Read, Write};
use std::net::TcpStream as StdStream;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use clap::ValueEnum;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::workloads::http_hello::{self, parse_response};

/// Which load generator to use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LoaderChoice {
    /// `wrk` if it is on `PATH`, else the built-in one.
    #[default]
    Auto,
    /// `wrk`; a run fails if it is not installed.
    Wrk,
    /// The built-in loader.
    Builtin,
}

/// Load threads and connections, as `wrk -t2 -c64`.
const THREADS: usize = 2;
const CONNECTIONS_PER_THREAD: usize = 32;
/// A request that takes longer than this counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// What one load produced.
#[derive(Clone, Debug, PartialEq)]
pub struct Load {
    /// "wrk" or "builtin".
    pub loader: &'static str,
    /// Requests answered (any status).
    pub requests: u64,
    /// How long the load ran.
    pub elapsed: Duration,
    /// Requests per second.
    pub req_per_s: f64,
    /// Median latency, microseconds.
    pub p50_us: f64,
    /// 99th-percentile latency, microseconds.
    pub p99_us: f64,
    /// Responses whose status was not 2xx (or 3xx, for wrk).
    pub non_2xx: u64,
    /// Connection errors, read/write errors and timeouts.
    pub errors: u64,
}

/// The request every client sends.
fn request(port: u16) -> String {
    format!("GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n")
}

/// Sends one `GET /` on a fresh connection and checks the answer against
/// the workload's definition.
pub fn check(port: u16) -> Result<(), String> {
    let mut stream = StdStream::connect(("127.0.0.1", port))
        .map_err(|e| format!("check: cannot connect to 127.0.0.1:{port}: {e}"))?;
    let io = |e: std::io::Error| format!("check: {e}");
    stream.set_read_timeout(Some(REQUEST_TIMEOUT)).map_err(io)?;
    stream
        .set_write_timeout(Some(REQUEST_TIMEOUT))
        .map_err(io)?;
    stream.write_all(request(port).as_bytes()).map_err(io)?;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some((response, _)) = parse_response(&got).map_err(|e| format!("check: {e}"))? {
            return http_hello::check(&response).map_err(|e| format!("check: {e}"));
        }
        let n = stream.read(&mut buf).map_err(io)?;
        if n == 0 {
            return Err("check: the server closed the connection before answering".into());
        }
        got.extend_from_slice(&buf[..n]);
    }
}

/// Loads 127.0.0.1:port for `seconds` with the chosen loader.
pub fn load(choice: LoaderChoice, port: u16, seconds: u64) -> Result<Load, String> {
    let wrk = match choice {
        LoaderChoice::Auto => crate::models::on_path("wrk"),
        LoaderChoice::Wrk if crate::models::on_path("wrk") => true,
        LoaderChoice::Wrk => return Err("wrk not installed".into()),
        LoaderChoice::Builtin => false,
    };
    if wrk {
        wrk_load(port, seconds)
    } else {
        builtin(port, seconds)
    }
}

/// Runs `wrk` and reads its report; kills it if it overruns.
fn wrk_load(port: u16, seconds: u64) -> Result<Load, String> {
    let mut child = Command::new("wrk")
        .args(["-t2", "-c64", &format!("-d{seconds}s"), "--latency"])
        .args(["--timeout", "2s"])
        .arg(format!("http://127.0.0.1:{port}/"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start wrk: {e}"))?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let out = thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + Duration::from_secs(seconds + 5);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("wrk overran its duration by 5 s, killed".into());
            }
            Ok(None) => thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("cannot wait for wrk: {e}")),
        }
    };
    let text = out.join().unwrap_or_default();
    let err = err.join().unwrap_or_default();
    if !status.success() {
        return Err(format!("wrk failed ({status}): {}", err.trim()));
    }
    parse_wrk(&text)
}

/// A wrk duration such as `383.00us`, `1.23ms`, `2.00s` or `1.00m`, in microseconds.
fn wrk_time_us(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match unit {
        "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" => 60e6,
        "h" => 3600e6,
        _ => return None,
    };
    Some(number * scale)
}

/// Reads wrk's `--latency` report.
fn parse_wrk(text: &str) -> Result<Load, String> {
    let missing = |what: &str| format!("wrk's output has no {what}: {text}");
    let mut load = Load {
        loader: "wrk",
        requests: 0,
        elapsed: Duration::ZERO,
        req_per_s: f64::NAN,
        p50_us: f64::NAN,
        p99_us: f64::NAN,
        non_2xx: 0,
        errors: 0,
    };
    let mut seen_total = false;
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["50%", time] => load.p50_us = wrk_time_us(time).ok_or_else(|| missing("p50"))?,
            ["99%", time] => load.p99_us = wrk_time_us(time).ok_or_else(|| missing("p99"))?,
            ["Requests/sec:", rate] => {
                load.req_per_s = rate.parse().map_err(|_| missing("Requests/sec"))?
            }
            ["Non-2xx", "or", "3xx", "responses:", count] => {
                load.non_2xx = count.parse().map_err(|_| missing("Non-2xx count"))?
            }
            ["Socket", "errors:", rest @ ..] => {
                // connect 0, read 0, write 0, timeout 0
                load.errors = rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum();
            }
            [count, "requests", "in", time, ..] => {
                load.requests = count.parse().map_err(|_| missing("request count"))?;
                let us = wrk_time_us(time.trim_end_matches(',')).ok_or_else(|| missing("time"))?;
                load.elapsed = Duration::from_secs_f64(us / 1e6);
                seen_total = true;
            }
            _ => {}
        }
    }
    if !seen_total || load.req_per_s.is_nan() {
        return Err(missing("request total"));
    }
    // wrk rounds its duration to 10 ms; its rate is exact. Derive the
    // duration from the rate so that ns/op is exactly 1e9 / req/s.
    if load.req_per_s > 0.0 && load.requests > 0 {
        load.elapsed = Duration::from_secs_f64(load.requests as f64 / load.req_per_s);
    }
    Ok(load)
}

/// The built-in loader: [`THREADS`] threads, each a tokio current_thread
/// runtime driving [`CONNECTIONS_PER_THREAD`] keep-alive connections.
fn builtin(port: u16, seconds: u64) -> Result<Load, String> {
    let start = Instant::now();
    let end = start + Duration::from_secs(seconds);
    let threads: Vec<_> = (0..THREADS)
        .map(|_| thread::spawn(move || load_thread(port, end)))
        .collect();
    let mut total = Tally::default();
    for thread in threads {
        let tally = thread
            .join()
            .map_err(|_| "a load thread panicked".to_string())??;
        total.merge(&tally);
    }
    let elapsed = start.elapsed();
    let requests = total.latency.count();
    Ok(Load {
        loader: "builtin",
        requests,
        elapsed,
        req_per_s: requests as f64 / elapsed.as_secs_f64(),
        p50_us: total.latency.quantile(0.50) as f64 / 1e3,
        p99_us: total.latency.quantile(0.99) as f64 / 1e3,
        non_2xx: total.non_2xx,
        errors: total.errors,
    })
}

/// What some connections measured.
#[derive(Default)]
struct Tally {
    latency: Histogram,
    non_2xx: u64,
    errors: u64,
}

impl Tally {
    fn merge(&mut self, other: &Tally) {
        self.latency.merge(&other.latency);
        self.non_2xx += other.non_2xx;
        self.errors += other.errors;
    }
}

/// One load thread: its connections until `end`.
fn load_thread(port: u16, end: Instant) -> Result<Tally, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a load runtime: {e}"))?;
    rt.block_on(async move {
        let connections: Vec<_> = (0..CONNECTIONS_PER_THREAD)
            .map(|_| tokio::spawn(connection(port, end)))
            .collect();
        let mut tally = Tally::default();
        for connection in connections {
            let one = connection
                .await
                .map_err(|e| format!("a load task failed: {e}"))?;
            tally.merge(&one);
        }
        Ok(tally)
    })
}

/// One keep-alive connection sending `GET /` until `end`, one request in
/// flight; reconnects when the server closes it after a response (nginx
/// does every 1,000 requests). An error or a timeout ends the connection and
/// counts once.
async fn connection(port: u16, end: Instant) -> Tally {
    let mut tally = Tally::default();
    let deadline = tokio::time::Instant::from_std(end + REQUEST_TIMEOUT);
    match tokio::time::timeout_at(deadline, requests(port, end, &mut tally)).await {
        Ok(Ok(())) => {}
        Ok(Err(_)) | Err(_) => tally.errors += 1,
    }
    tally
}

/// The request loop of [`connection`].
async fn requests(port: u16, end: Instant, tally: &mut Tally) -> std::io::Result<()> {
    let request = request(port);
    let mut buf = vec![0u8; 4096];
    while Instant::now() < end {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        stream.set_nodelay(true)?;
        let mut filled = 0;
        while Instant::now() < end {
            let sent = Instant::now();
            stream.write_all(request.as_bytes()).await?;
            let (response, used) = loop {
                match parse_response(&buf[..filled]) {
                    Ok(Some(done)) => break done,
                    Ok(None) if filled == buf.len() => {
                        return Err(std::io::Error::other("response too long"))
                    }
                    Ok(None) => {}
                    Err(e) => return Err(std::io::Error::other(e)),
                }
                let n = stream.read(&mut buf[filled..]).await?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                filled += n;
            };
            tally.latency.record(sent.elapsed().as_nanos() as u64);
            if !(200..300).contains(&response.status) {
                tally.non_2xx += 1;
            }
            if response.close {
                break;
            }
            buf.copy_within(used..filled, 0);
            filled -= used;
        }
    }
    Ok(())
}

/// Sub-buckets per power of two: values are kept to within 1/32 (about 3%).
const SUB_BITS: u32 = 5;
const SUB: usize = 1 << SUB_BITS;
/// Buckets for every u64: values below 2*SUB exactly, then SUB per octave.
const BUCKETS: usize = (65 - SUB_BITS as usize) * SUB;

/// A latency histogram in the manner of HDR histograms: logarithmic
/// octaves, each split into [`SUB`] linear buckets, so every value is kept
/// to a fixed relative precision in a fixed, small table (15 KiB).
#[derive(Clone, Debug)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            total: 0,
        }
    }
}

impl Histogram {
    /// The bucket of `value`.
    fn index(value: u64) -> usize {
        if value < 2 * SUB as u64 {
            return value as usize;
        }
        let top_bit = 63 - value.leading_zeros();
        let shift = top_bit - SUB_BITS;
        // (value >> shift) is in SUB..2*SUB.
        shift as usize * SUB + (value >> shift) as usize
    }

    /// The middle of bucket `index`'s range of values.
    fn value(index: usize) -> u64 {
        if index < 2 * SUB {
            return index as u64;
        }
        let shift = (index / SUB - 1) as u32;
        let low = ((index % SUB + SUB) as u64) << shift;
        low + ((1u64 << shift) >> 1)
    }

    /// Counts one value.
    pub fn record(&mut self, value: u64) {
        self.counts[Self::index(value)] += 1;
        self.total += 1;
    }

    /// Adds another histogram's counts to this one.
    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
    }

    /// Values counted.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The value at quantile `q` (0..=1), within the bucket precision; 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (index, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Self::value(index);
            }
        }
        Self::value(BUCKETS - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_precise() {
        let mut last = 0;
        for v in (0..100_000u64).chain([u64::MAX / 2, u64::MAX]) {
            let i = Histogram::index(v);
            assert!(i >= last && i < BUCKETS, "{v} -> {i}");
            last = i;
            let back = Histogram::value(i) as f64;
            assert!(
                (back - v as f64).abs() <= v as f64 / SUB as f64,
                "{v} -> {back}"
            );
        }
    }

    #[test]
    fn quantiles() {
        let mut h = Histogram::default();
        assert_eq!(h.quantile(0.5), 0);
        for v in 1..=1000u64 {
            h.record(v * 1000);
        }
        let p50 = h.quantile(0.5) as f64;
        let p99 = h.quantile(0.99) as f64;
        assert!((p50 - 500_000.0).abs() < 500_000.0 / 30.0, "{p50}");
        assert!((p99 - 990_000.0).abs() < 990_000.0 / 30.0, "{p99}");
        let mut twice = h.clone();
        twice.merge(&h);
        assert_eq!(twice.count(), 2000);
        assert_eq!(twice.quantile(0.5), h.quantile(0.5));
    }

    #[test]
    fn reads_wrk_output() {
        let text = "Running 5s test @ http://127.0.0.1:8080/
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   435.62us  200.01us  12.00ms   90.00%
    Req/Sec    70.12k     3.10k   80.00k    70.00%
  Latency Distribution
     50%  383.00us
     75%  450.00us
     90%  600.00us
     99%    1.23ms
  701234 requests in 5.00s, 60.18MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 12
Requests/sec: 140246.80
Transfer/sec:     12.04MB
";
        let load = parse_wrk(text).unwrap();
        assert_eq!(load.requests, 701_234);
        let ns_per_op = load.elapsed.as_nanos() as f64 / load.requests as f64;
        assert!(
            (ns_per_op - 1e9 / load.req_per_s).abs() < 1e-3,
            "{ns_per_op}"
        );
        assert_eq!(load.req_per_s, 140_246.80);
        assert_eq!(load.p50_us, 383.0);
        assert_eq!(load.p99_us, 1230.0);
        assert_eq!(load.non_2xx, 12);
        assert_eq!(load.errors, 3);
        assert!(parse_wrk("nothing").is_err());
    }
}
