//! ring: 1,000 units in a ring, each with its own channel. A token starts
//! as n (default 1,000,000) at unit 0; a unit that gets k > 0 sends k - 1
//! to the next; the one that gets 0 reports its index (n mod 1,000: 0 at
//! the default size) and leaves, which closes the ring down unit by unit.
//! n hops; ns per hop. Building the ring (channels and units) is timed
//! separately, as `build_ms`.
//!
//! The tour runs the defined 1,000,000 hops too. The timed part begins
//! with each unit's first run (a green thread's first page of stack, a
//! may coroutine's mapping) and a first lap: 2-3 ms for green threads
//! here, about 0.3 ms for async tasks. At 20,000 hops, the tour's size
//! until 2026-12-01, that came to 100-150 ns of every green thread's hop,
//! as much as the hops themselves, and put `green` behind `may`; at
//! 1,000,000 it is under 3%, as in the figures measured for Go, Erlang
//! and tokio (BENCHMARKS.md, seventeenth session).

use std::io;
use std::time::{Duration, Instant};

use serde_json::json;

use super::{Column, Sample, Workload, WorkloadInfo, CHANNEL_COLUMN};
use crate::models::async_unit::AsyncModel;
use crate::models::thread_unit::ThreadModel;

/// Units in the ring.
pub const UNITS: usize = 1_000;

/// The description of ring.
pub const INFO: WorkloadInfo = WorkloadInfo {
    workload: Workload::Ring,
    id: "ring",
    about: "a token passed n hops around a ring of 1,000 units",
    default_n: 1_000_000,
    tour_n: 1_000_000,
    served: false,
    op: "hop",
    check_n: |_| Ok(()),
    expected: |n| n % UNITS as u64,
    columns: &[
        Column {
            header: "build ms",
            field: "build_ms",
            divisor: 1.0,
            decimals: 2,
        },
        CHANNEL_COLUMN,
    ],
};

/// Runs ring with n hops; call inside the model's `block_on`.
pub async fn run<M: AsyncModel>(n: u64) -> io::Result<Sample> {
    let built = Instant::now();
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..UNITS).map(|_| M::channel::<u64>()).unzip();
    let first = txs[0].clone();
    let mut units = Vec::with_capacity(UNITS);
    for (i, mut rx) in rxs.into_iter().enumerate() {
        let next = txs[(i + 1) % UNITS].clone();
        units.push(M::spawn(async move {
            while let Some(k) = M::chan_recv(&mut rx).await {
                if k == 0 {
                    return Some(i as u64);
                }
                if !M::chan_send(&next, k - 1).await {
                    break;
                }
            }
            None
        }));
    }
    drop(txs);
    let build = built.elapsed();
    let start = Instant::now();
    assert!(M::chan_send(&first, n).await, "ring: unit 0 is gone");
    drop(first);
    let mut result = None;
    for unit in units {
        if let Some(i) = unit.await.expect("ring: a unit failed") {
            result = Some(i);
        }
    }
    sample(n, result, start.elapsed(), build, M::CHANNEL)
}

/// Runs ring with n hops on blocking units; call inside the model's `run`.
pub fn run_threads<M: ThreadModel>(n: u64) -> io::Result<Sample> {
    let built = Instant::now();
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..UNITS).map(|_| M::channel::<u64>()).unzip();
    let first = txs[0].clone();
    let mut units = Vec::with_capacity(UNITS);
    for (i, rx) in rxs.into_iter().enumerate() {
        let next = txs[(i + 1) % UNITS].clone();
        units.push(M::spawn(move || {
            while let Some(k) = M::recv(&rx) {
                if k == 0 {
                    return Some(i as u64);
                }
                if !M::send(&next, k - 1) {
                    break;
                }
            }
            None
        }));
    }
    drop(txs);
    let build = built.elapsed();
    let start = Instant::now();
    assert!(M::send(&first, n), "ring: unit 0 is gone");
    drop(first);
    let result = units.into_iter().filter_map(M::join).last();
    sample(n, result, start.elapsed(), build, M::CHANNEL)
}

fn sample(
    n: u64,
    result: Option<u64>,
    elapsed: Duration,
    build: Duration,
    channel: &str,
) -> io::Result<Sample> {
    let result = result.ok_or_else(|| io::Error::other("ring: no unit got 0"))?;
    let mut sample = Sample::over_channel(n, result, elapsed, channel);
    sample
        .extra
        .insert("build_ms".into(), json!(build.as_secs_f64() * 1e3));
    Ok(sample)
}
