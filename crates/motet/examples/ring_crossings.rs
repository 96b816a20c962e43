//! Where a pinned green thread's messages go: a ring of 1,000 green threads
//! passing a token, on a work-stealing runtime with one worker per allowed
//! core, reporting per hop the time, the share of hops that crossed to
//! another worker, and the workers' parks.
//!
//! ```text
//! taskset -c 0-15 cargo run --release -p motet --example ring_crossings [pinned|here|migratable] [hops]
//! ```
//!
//! A green thread stays on the worker that first ran it (the default: see
//! the thread-local hazard in `motet::green`), so a ring whose members
//! were spread by stealing crosses workers wherever two neighbours landed
//! apart. `here` spawns them with `green::Builder::on_current_worker`, so
//! they all start on the root's worker and never cross (nor run in
//! parallel); `migratable` green threads follow their waker instead, as
//! goroutines do, and never cross either.

use std::time::Instant;

use motet::runtime::{Handle, Runtime};
use motet::{chan, green};

const UNITS: usize = 1_000;

/// The token: hops left, the worker of the last hop, crossings so far.
type Token = (u64, usize, u64);

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "pinned".into());
    if !["pinned", "here", "migratable"].contains(&mode.as_str()) {
        panic!("expected pinned, here or migratable, got {mode}");
    }
    let hops: u64 = args.next().map_or(1_000_000, |a| a.parse().expect("hops"));
    let rt = Runtime::builder()
        .work_stealing(0)
        .build()
        .expect("runtime");
    let before = rt.stats();
    let (elapsed, crossings) = rt
        .block_on({
            let mode = mode.clone();
            async move { green::spawn(move || ring(hops, &mode)).await }
        })
        .expect("the ring's root failed");
    let after = rt.stats();
    let per_hop = |n: u64| n as f64 / hops as f64;
    println!(
        "{mode} green threads on {} workers: {:.0} ns per hop, {:.3} crossings per hop, \
         {:.3} parks per hop",
        after.workers,
        per_hop(elapsed.as_nanos() as u64),
        per_hop(crossings),
        per_hop(after.parks - before.parks),
    );
}

/// Builds the ring, passes the token `hops` times; the time and crossings.
fn ring(hops: u64, mode: &str) -> (std::time::Duration, u64) {
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..UNITS).map(|_| chan::bounded::<Token>(1)).unzip();
    let first = txs[0].clone();
    let units: Vec<_> = rxs
        .into_iter()
        .enumerate()
        .map(|(i, rx)| {
            let next = txs[(i + 1) % UNITS].clone();
            let builder = match mode {
                // SAFETY: the unit holds nothing thread-bound across its
                // blocking calls (no thread-local borrows, no !Send values).
                "migratable" => unsafe { green::Builder::new().migratable() },
                "here" => green::Builder::new().on_current_worker(),
                _ => green::Builder::new(),
            };
            builder
                .spawn(move || {
                    while let Ok((left, last, crossings)) = rx.recv() {
                        let here = Handle::current_worker().expect("on a worker");
                        let crossings = crossings + u64::from(here != last);
                        if left == 0 {
                            return Some(crossings);
                        }
                        if next.send((left - 1, here, crossings)).is_err() {
                            break;
                        }
                    }
                    None
                })
                .expect("spawn")
        })
        .collect();
    drop(txs);
    let start = Instant::now();
    first.send((hops, usize::MAX, 0)).expect("unit 0 is gone");
    drop(first);
    let crossings = units
        .into_iter()
        .filter_map(|u| u.join().expect("a unit failed"))
        .last()
        .expect("no unit saw the token's last hop");
    (start.elapsed(), crossings)
}
