//! spawn-idle: n units (default 100,000), each parked on its own one-shot
//! channel. Measures what an idle unit costs: resident bytes per unit
//! (including its channel and the parent's handles) and spawn time per unit.
//!
//! Protocol: read VmRSS once the runtime exists; spawn every unit, each with
//! its own channel; each unit counts itself ready on one shared counter and
//! then awaits its receive; the unit that brings the count to zero sends the
//! one "all ready" notification. Then read VmRSS again. Last, unit i is sent i
//! and every unit is joined; the answer is the sum of what they received.
//!
//! Beside VmRSS, the same two moments read VmPTE, the kernel's page tables
//! for the process, which VmRSS leaves out: `page_table_bytes_per_unit`.
//! Units that live in one heap cost next to nothing there; a green thread
//! whose stack top lies in a 2 MiB stretch of address space of its own
//! (or shares one with a few others) costs part of a page-table page.
//!
//! After the run, the same child times first touches of fresh pages
//! (`fresh_page_ns`): the floor of a spawn for any unit that needs a page
//! of its own, as a green thread's stack does, on this machine. And the
//! same with one thread per core touching pages at once, interleaved
//! (`fresh_page_all_cores_ns`, wall time per page): the floor for a model
//! that starts its units on every core, whose page faults overlap only as
//! far as the kernel (and a VM's host) lets them.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use serde_json::{json, Map};

use super::{Column, Sample, Workload, WorkloadInfo};
use crate::mem;
use crate::models::async_unit::AsyncModel;
use crate::models::thread_unit::ThreadModel;

/// The description of spawn-idle.
pub const INFO: WorkloadInfo = WorkloadInfo {
    workload: Workload::SpawnIdle,
    id: "spawn-idle",
    about: "n units parked on their own one-shot channel: bytes and spawn time per unit",
    default_n: 100_000,
    tour_n: 100_000,
    served: false,
    op: "unit spawned, woken and joined",
    check_n: |_| Ok(()),
    expected: super::sum_below,
    columns: &[
        Column {
            header: "bytes/unit",
            field: "bytes_per_unit",
            divisor: 1.0,
            decimals: 0,
        },
        Column {
            header: "page tables B/unit",
            field: "page_table_bytes_per_unit",
            divisor: 1.0,
            decimals: 0,
        },
        Column {
            header: "spawn ns/unit",
            field: "spawn_ns_per_unit",
            divisor: 1.0,
            decimals: 0,
        },
        Column {
            header: "fresh page ns",
            field: "fresh_page_ns",
            divisor: 1.0,
            decimals: 0,
        },
        Column {
            header: "fresh page ns, all cores",
            field: "fresh_page_all_cores_ns",
            divisor: 1.0,
            decimals: 0,
        },
    ],
};

/// The shared "ready" signal: a countdown and the one notification it
/// ends with (`S`, the sending half of the model's one-shot channel).
struct Ready<S> {
    left: AtomicU64,
    all: Mutex<Option<S>>,
}

impl<S> Ready<S> {
    fn new(n: u64, all: S) -> Arc<Ready<S>> {
        Arc::new(Ready {
            left: AtomicU64::new(n),
            all: Mutex::new(Some(all)),
        })
    }

    /// Counts one unit ready; the last one sends the notification with `send`.
    fn arrive(&self, send: impl FnOnce(S)) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            let all = self
                .all
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(all) = all {
                send(all);
            }
        }
    }
}

/// Runs spawn-idle with n units; call inside the model's `block_on`.
pub async fn run<M: AsyncModel>(n: u64) -> io::Result<Sample> {
    let count = usize::try_from(n).map_err(io::Error::other)?;
    let before = Memory::now()?;
    let start = Instant::now();

    let (all_tx, all_rx) = M::oneshot::<()>();
    let ready = Ready::new(n, all_tx);
    let mut senders = Vec::with_capacity(count);
    let mut handles = Vec::with_capacity(count);
    for _ in 0..n {
        let (tx, rx) = M::oneshot::<u64>();
        let ready = Arc::clone(&ready);
        handles.push(M::spawn(async move {
            // The parent is waiting on the receiver, so it is still there.
            ready.arrive(|all| {
                let _ = M::send(all, ());
            });
            drop(ready);
            rx.await.expect("spawn-idle: the parent dropped a sender")
        }));
        senders.push(tx);
    }
    all_rx
        .await
        .expect("spawn-idle: the ready notification was dropped");
    let spawned = start.elapsed();
    let ready = Memory::now()?;

    for (i, tx) in (0..n).zip(senders) {
        if M::send(tx, i).is_err() {
            panic!("spawn-idle: unit {i} is gone before its receive");
        }
    }
    let mut result = 0;
    for handle in handles {
        result += handle.await.expect("spawn-idle: a unit failed");
    }
    finish(n, result, start, spawned, before, ready)
}

/// Runs spawn-idle with n blocking units; call inside the model's `run`.
/// Each unit blocks on its own one-shot receive.
pub fn run_threads<M: ThreadModel>(n: u64) -> io::Result<Sample> {
    let count = usize::try_from(n).map_err(io::Error::other)?;
    let before = Memory::now()?;
    let start = Instant::now();

    let (all_tx, all_rx) = M::oneshot::<()>();
    let ready = Ready::new(n, all_tx);
    let mut senders = Vec::with_capacity(count);
    let mut handles = Vec::with_capacity(count);
    for _ in 0..n {
        let (tx, rx) = M::oneshot::<u64>();
        let ready = Arc::clone(&ready);
        handles.push(M::spawn(move || {
            // The parent is waiting on the receiver, so it is still there.
            ready.arrive(|all| {
                let _ = M::send_once(all, ());
            });
            drop(ready);
            M::recv_once(rx).expect("spawn-idle: the parent dropped a sender")
        }));
        senders.push(tx);
    }
    M::recv_once(all_rx).expect("spawn-idle: the ready notification was dropped");
    let spawned = start.elapsed();
    let ready = Memory::now()?;

    for (i, tx) in (0..n).zip(senders) {
        if M::send_once(tx, i).is_err() {
            panic!("spawn-idle: unit {i} is gone before its receive");
        }
    }
    let result = handles.into_iter().map(M::join).sum();
    finish(n, result, start, spawned, before, ready)
}

/// The process's resident memory and page tables, in KiB.
struct Memory {
    rss_kb: u64,
    page_tables_kb: u64,
}

impl Memory {
    fn now() -> io::Result<Memory> {
        Ok(Memory {
            rss_kb: mem::rss_kb()?,
            page_tables_kb: mem::page_tables_kb()?,
        })
    }
}

/// Bytes per unit of a growth from `before` to `after` KiB.
fn per_unit(before: u64, after: u64, n: u64) -> i64 {
    let delta_bytes = (after as i64 - before as i64) * 1024;
    (delta_bytes as f64 / n as f64).round() as i64
}

/// The sample, once every unit is joined.
fn finish(
    n: u64,
    result: u64,
    start: Instant,
    spawned: std::time::Duration,
    before: Memory,
    ready: Memory,
) -> io::Result<Sample> {
    let elapsed = start.elapsed();
    let mut extra = Map::new();
    extra.insert("rss_before_kb".into(), json!(before.rss_kb));
    extra.insert("rss_ready_kb".into(), json!(ready.rss_kb));
    extra.insert(
        "bytes_per_unit".into(),
        json!(per_unit(before.rss_kb, ready.rss_kb, n)),
    );
    extra.insert(
        "page_table_bytes_per_unit".into(),
        json!(per_unit(before.page_tables_kb, ready.page_tables_kb, n)),
    );
    extra.insert(
        "spawn_ns_per_unit".into(),
        json!(spawned.as_nanos() as u64 / n),
    );
    extra.insert("fresh_page_ns".into(), json!(fresh_page_ns(1)));
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    extra.insert(
        "fresh_page_all_cores_ns".into(),
        json!(fresh_page_ns(cores)),
    );
    Ok(Sample {
        result,
        elapsed_ns: elapsed.as_nanos() as u64,
        ops: n,
        threads: 0,
        extra,
    })
}

/// Wall-time ns per fresh page faulted in by `threads` threads at once:
/// the first write to 4,096 pages of a zeroed 64 MiB allocation, one page
/// in four, thread k taking pages k, k + threads, ... (as workers starting
/// green threads on adjacent stack slots do). Above glibc's largest mmap
/// threshold (32 MiB), so it is always mapped fresh (never recycled heap
/// memory), and freeing it leaves the allocator's thresholds as they were.
fn fresh_page_ns(threads: usize) -> u64 {
    const PAGE: usize = 4096;
    const TOUCHED: usize = 4096;
    const STRIDE: usize = 4;
    let mut memory = vec![0u8; PAGE * TOUCHED * STRIDE];
    let mut shares: Vec<Vec<&mut [u8]>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, stretch) in memory.chunks_mut(PAGE * STRIDE).enumerate() {
        shares[i % threads].push(stretch);
    }
    let touch = |share: Vec<&mut [u8]>| {
        for stretch in share {
            stretch[0] = 1;
        }
    };
    let start = Instant::now();
    std::thread::scope(|scope| {
        let mut shares = shares.into_iter();
        let own = shares.next().expect("one share at least");
        for share in shares {
            scope.spawn(move || touch(share));
        }
        touch(own);
    });
    let elapsed = start.elapsed();
    std::hint::black_box(&memory);
    elapsed.as_nanos() as u64 / TOUCHED as u64
}
