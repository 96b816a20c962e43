//! What an idle worker's spin costs when its green threads are woken from
//! outside: 8 green threads on a work-stealing runtime wait on channels of
//! their own, and an OS thread sends to them in turn, one message every
//! `period` microseconds, for 2 s. Prints the process's CPU use (in cores,
//! the sender included) and the latency from each send to its receipt.
//!
//! ```text
//! cargo run --release -p motet --example wakeups_from_outside [period-us]
//! ```
//!
//! Such wake-ups come without an answer expected from the woken green
//! threads, so their home workers spin only briefly before parking (see
//! `runtime/home_spin.rs` in the crate); green threads that message each
//! other across workers spin longer (`ring_crossings`).

use std::time::{Duration, Instant};

use motet::runtime::Runtime;
use motet::{chan, green};

const GREEN_THREADS: usize = 8;

/// User plus system CPU time of this process, in seconds.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes the struct it is given, a zeroed one here.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn main() {
    let period_us: u64 = std::env::args()
        .nth(1)
        .map_or(200, |a| a.parse().expect("period in microseconds"));
    let rt = Runtime::builder()
        .work_stealing(0)
        .build()
        .expect("runtime");
    let _in_runtime = rt.handle().enter();
    let (latency_tx, latency_rx) = std::sync::mpsc::channel::<Duration>();
    let senders: Vec<_> = (0..GREEN_THREADS)
        .map(|_| {
            let (tx, rx) = chan::bounded::<Instant>(16);
            let latency_tx = latency_tx.clone();
            // Detached: each ends when its channel closes, at the end.
            drop(green::spawn(move || {
                while let Ok(sent) = rx.recv() {
                    let _ = latency_tx.send(sent.elapsed());
                }
            }));
            tx
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100)); // all started and waiting

    let (cpu_start, start) = (cpu_seconds(), Instant::now());
    let mut sent = 0u32;
    while start.elapsed() < Duration::from_secs(2) {
        let due = start + Duration::from_micros(period_us) * sent;
        while Instant::now() < due {
            std::thread::sleep(Duration::from_micros(20));
        }
        senders[sent as usize % GREEN_THREADS]
            .send(Instant::now())
            .expect("a green thread is gone");
        sent += 1;
    }
    let cores = (cpu_seconds() - cpu_start) / start.elapsed().as_secs_f64();
    drop(senders);
    drop(latency_tx);
    let mut latencies: Vec<u128> = latency_rx.iter().map(|d| d.as_micros()).collect();
    latencies.sort_unstable();
    let pct = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)];
    println!(
        "one wake-up every {period_us} µs from an OS thread: {sent} sent, {cores:.2} cores of CPU, \
         latency p50 {} µs, p90 {} µs, p99 {} µs",
        pct(50),
        pct(90),
        pct(99),
    );
}
