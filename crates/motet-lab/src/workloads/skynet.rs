//! skynet: a 10-ary tree of units down to n leaves (default 1,000,000, so
//! 1,111,111 units in all). Leaf i returns i; each inner unit spawns its ten
//! children and sums their results. Timed from spawning the root until its
//! result arrives; the peak RSS of that span is reported too.

use std::future::Future;
use std::io;
use std::time::Instant;

use serde_json::{json, Map};

use super::{Column, Sample, Workload, WorkloadInfo};
use crate::mem;
use crate::models::async_unit::AsyncModel;
use crate::models::thread_unit::ThreadModel;

/// The description of skynet.
pub const INFO: WorkloadInfo = WorkloadInfo {
    workload: Workload::Skynet,
    id: "skynet",
    about: "10-ary tree of units down to n leaves; each inner unit sums its children",
    default_n: 1_000_000,
    tour_n: 1_000_000,
    served: false,
    op: "unit spawned and joined",
    check_n,
    expected: super::sum_below,
    columns: &[Column {
        header: "peak RSS (MiB)",
        field: "peak_rss_kb",
        divisor: 1024.0,
        decimals: 1,
    }],
};

/// n must be a power of ten (the tree is 10-ary).
fn check_n(n: u64) -> Result<(), String> {
    let mut m = n;
    while m >= 10 && m % 10 == 0 {
        m /= 10;
    }
    if m == 1 {
        Ok(())
    } else {
        Err(format!(
            "skynet needs n to be a power of 10 (1, 10, 100, ...), got {n}"
        ))
    }
}

/// Units in a tree with n leaves: n + n/10 + ... + 1.
fn units(n: u64) -> u64 {
    let mut total = 0;
    let mut level = n;
    while level >= 1 {
        total += level;
        level /= 10;
    }
    total
}

/// One unit of the tree: the leaves numbered `first..first + size`.
///
/// Not an `async fn`: spelling out `+ Send` in the return type is what lets
/// the compiler check a future that spawns copies of itself, with no boxing.
/// (An `async fn` here fails with "cannot satisfy `impl Future: Send`".)
#[allow(clippy::manual_async_fn)]
fn unit<M: AsyncModel>(first: u64, size: u64) -> impl Future<Output = u64> + Send {
    async move {
        if size == 1 {
            return first;
        }
        let step = size / 10;
        let children: [M::Handle<u64>; 10] =
            std::array::from_fn(|i| M::spawn(unit::<M>(first + i as u64 * step, step)));
        let mut sum = 0;
        for child in children {
            sum += child.await.expect("skynet: a child unit failed");
        }
        sum
    }
}

/// Runs skynet with n leaves; call inside the model's `block_on`.
pub async fn run<M: AsyncModel>(n: u64) -> io::Result<Sample> {
    let extra = peak_reset();
    let start = Instant::now();
    let result = M::spawn(unit::<M>(0, n))
        .await
        .expect("skynet: the root unit failed");
    finish(n, result, start, extra)
}

/// One blocking unit of the tree: the leaves numbered `first..first + size`.
fn thread_unit<M: ThreadModel>(first: u64, size: u64) -> u64 {
    if size == 1 {
        return first;
    }
    let step = size / 10;
    let children: [M::Handle<u64>; 10] = std::array::from_fn(|i| {
        let first = first + i as u64 * step;
        M::spawn(move || thread_unit::<M>(first, step))
    });
    children.into_iter().map(M::join).sum()
}

/// Runs skynet with n leaves on blocking units; call inside the model's `run`.
pub fn run_threads<M: ThreadModel>(n: u64) -> io::Result<Sample> {
    let extra = peak_reset();
    let start = Instant::now();
    let result = M::join(M::spawn(move || thread_unit::<M>(0, n)));
    finish(n, result, start, extra)
}

/// Resets the peak RSS, noting whether that worked.
fn peak_reset() -> Map<String, serde_json::Value> {
    let mut extra = Map::new();
    let reset = mem::reset_peak();
    extra.insert("hwm_reset".into(), json!(reset.is_ok()));
    if let Err(e) = reset {
        extra.insert("hwm_reset_error".into(), json!(e.to_string()));
    }
    extra
}

/// The sample, once the root's result has arrived.
fn finish(
    n: u64,
    result: u64,
    start: Instant,
    mut extra: Map<String, serde_json::Value>,
) -> io::Result<Sample> {
    let elapsed = start.elapsed();
    extra.insert("peak_rss_kb".into(), json!(mem::peak_rss_kb()?));
    extra.insert("units".into(), json!(units(n)));
    Ok(Sample {
        result,
        elapsed_ns: elapsed.as_nanos() as u64,
        ops: units(n),
        threads: 0,
        extra,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        for ok in [1, 10, 100, 1_000_000] {
            assert!(check_n(ok).is_ok(), "{ok}");
        }
        for bad in [0, 2, 20, 110, 999_999] {
            assert!(check_n(bad).is_err(), "{bad}");
        }
        assert_eq!(units(1_000_000), 1_111_111);
        assert_eq!(super::super::sum_below(1_000_000), 499_999_500_000);
    }
}
