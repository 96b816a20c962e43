//! What a wake-up from another thread costs an event loop's task whose cell
//! is biased to the loop's thread (see `bias.rs` in the crate), against one
//! whose cell is not.
//!
//! ```text
//! cargo run --release -p motet --example wake_from_afar
//! ```
//!
//! 10,000 tasks on an event loop each wait on a channel of their own; an
//! OS thread sends one message to each, in two rounds, timing its sends.
//! Every send wakes a waiting task from afar. *Biased*: the tasks were
//! spawned on the loop's thread, so their cells are biased to it, and each
//! wake-up travels to the loop as a message (no revocation). *Unbiased*:
//! the same tasks spawned through a `Handle` from another thread, whose
//! cells are plain (a locked operation per wake-up). Prints ns per send for
//! each, as the median of 15 runs (each on a fresh runtime, the two kinds
//! alternating) and the min.

use std::time::{Duration, Instant};

use motet::chan;
use motet::runtime::Runtime;

const TASKS: usize = 10_000;
const RUNS: usize = 15;

/// One run: ns per send, over both rounds.
fn run(biased: bool) -> f64 {
    let rt = Runtime::builder().event_loop().build().unwrap();
    let handle = rt.handle().clone();
    rt.block_on(async move {
        let (got_tx, got_rx) = chan::unbounded::<()>();
        let mut senders = Vec::with_capacity(TASKS);
        let mut tasks = Vec::with_capacity(TASKS);
        for _ in 0..TASKS {
            let (tx, rx) = chan::bounded::<u32>(1);
            senders.push(tx);
            let got = got_tx.clone();
            tasks.push(async move {
                while rx.recv_async().await.is_ok() {
                    got.send_async(()).await.unwrap();
                }
            });
        }
        if biased {
            tasks.into_iter().for_each(|t| drop(motet::task::spawn(t)));
        } else {
            std::thread::spawn(move || {
                tasks.into_iter().for_each(|t| drop(handle.spawn(t)));
            })
            .join()
            .unwrap();
        }
        let feeder = std::thread::spawn(move || {
            let mut elapsed = Duration::ZERO;
            for round in 0..2 {
                // Long enough for every task to be waiting in `recv`.
                std::thread::sleep(Duration::from_millis(50));
                let start = Instant::now();
                for tx in &senders {
                    tx.send(round).unwrap();
                }
                elapsed += start.elapsed();
            }
            elapsed.as_nanos() as f64 / (2 * TASKS) as f64
        });
        for _ in 0..2 * TASKS {
            got_rx.recv_async().await.unwrap();
        }
        motet::task::spawn_blocking(move || feeder.join().unwrap())
            .await
            .unwrap()
    })
}

fn main() {
    let (mut biased, mut unbiased) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        biased.push(run(true));
        unbiased.push(run(false));
    }
    for (name, mut ns) in [("biased", biased), ("unbiased", unbiased)] {
        ns.sort_by(f64::total_cmp);
        println!(
            "{name:>8}: {:6.1} ns per wake-up from afar (median of {RUNS}; min {:.1})",
            ns[RUNS / 2],
            ns[0],
        );
    }
}
