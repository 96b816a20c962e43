//! switch: two green threads (or coroutines) that yield to each other, n
//! times each (default 1,000,000): 2n yields, each one switch from one
//! unit to the other through the scheduler. ns per switch. The answer is
//! the number of yields, 2n.
//!
//! In the same child, a bare corosensei coroutine is resumed and suspended
//! n times: `raw_switch_ns` is one resume-and-suspend pair (the two stack
//! switches a green yield also makes: out to the scheduler, in to the
//! other unit), and `vs_raw` is the model's ns per switch over it.
//! `framed_switch_ns` is the same pair with one helper frame on each side
//! (the resume and the suspend each inside a function that returns after
//! the switch): what the CPU's return-address predictor charges when the
//! frames around a switch do not match (motet's green threads suspend in
//! their caller's frame to avoid it; see "The cost of a switch" in
//! `motet::green`).
//!
//! Async models do not run it: an async task has no stack to switch.

use std::hint::black_box;
use std::io;
use std::time::Instant;

use corosensei::{Coroutine, CoroutineResult, Yielder};
use serde_json::{json, Map};

use super::{Column, Sample, Workload, WorkloadInfo};
use crate::models::thread_unit::ThreadModel;

/// The description of switch.
pub const INFO: WorkloadInfo = WorkloadInfo {
    workload: Workload::Switch,
    id: "switch",
    about: "two green threads or coroutines yield to each other n times each",
    default_n: 1_000_000,
    tour_n: 1_000_000,
    served: false,
    op: "switch (one yield)",
    check_n: |_| Ok(()),
    expected: |n| 2 * n,
    columns: &[
        Column {
            header: "raw corosensei ns",
            field: "raw_switch_ns",
            divisor: 1.0,
            decimals: 1,
        },
        Column {
            header: "raw, a frame each side",
            field: "framed_switch_ns",
            divisor: 1.0,
            decimals: 1,
        },
        Column {
            header: "vs raw",
            field: "vs_raw",
            divisor: 1.0,
            decimals: 1,
        },
    ],
};

/// Runs switch with n yields per unit; call inside the model's `run`.
pub fn run_threads<M: ThreadModel>(n: u64) -> io::Result<Sample> {
    let raw_ns = switch_pair_ns::<false>(n);
    let framed_ns = switch_pair_ns::<true>(n);
    let start = Instant::now();
    let yielder = move || {
        for _ in 0..n {
            M::yield_now();
        }
        n
    };
    let a = M::spawn(yielder);
    let b = M::spawn(yielder);
    let result = M::join(a) + M::join(b);
    let elapsed = start.elapsed();
    let ops = 2 * n;
    let per_switch = elapsed.as_nanos() as f64 / ops as f64;
    let mut extra = Map::new();
    extra.insert("raw_switch_ns".into(), json!(raw_ns));
    extra.insert("framed_switch_ns".into(), json!(framed_ns));
    extra.insert("vs_raw".into(), json!(per_switch / raw_ns));
    Ok(Sample {
        result,
        elapsed_ns: elapsed.as_nanos() as u64,
        ops,
        threads: 0,
        extra,
    })
}

/// ns per resume-and-suspend of a bare corosensei coroutine, over n of
/// them; `FRAMED`: each switch made inside a helper function that returns
/// after it, on both sides.
fn switch_pair_ns<const FRAMED: bool>(n: u64) -> f64 {
    #[inline(never)]
    fn suspend_in_helper(yielder: &Yielder<(), u64>, i: u64) {
        yielder.suspend(black_box(i));
    }
    #[inline(never)]
    fn resume_in_helper(co: &mut Coroutine<(), u64, ()>) -> CoroutineResult<u64, ()> {
        co.resume(())
    }
    let mut coroutine = Coroutine::new(move |yielder: &Yielder<(), u64>, ()| {
        for i in 0..n {
            if FRAMED {
                suspend_in_helper(yielder, i);
            } else {
                yielder.suspend(black_box(i));
            }
        }
    });
    let start = Instant::now();
    let mut resumed = 0u64;
    loop {
        let step = if FRAMED {
            resume_in_helper(&mut coroutine)
        } else {
            coroutine.resume(())
        };
        let CoroutineResult::Yield(i) = step else {
            break;
        };
        black_box(i);
        resumed += 1;
    }
    let elapsed = start.elapsed();
    elapsed.as_nanos() as f64 / resumed.max(1) as f64
}
