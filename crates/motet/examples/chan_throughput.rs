//! Channel throughput: motet::chan against crossbeam-channel and flume.
//!
//! `cargo run --release -p motet --example chan_throughput`
//!
//! Prints ns per message for: bounded(1024) and unbounded with one
//! producer and one consumer on two OS threads, and the same channels with
//! send-then-receive on one thread (no contention).
//!
//! Each row runs the three crates in turn, 9 rounds. On a shared VM two
//! threads handing a cache line back and forth run at speeds that differ
//! by 3x from one run to the next, for every crate alike; a ratio taken
//! within one round (the three crates back to back) is steady where
//! separate bests are not. So the row prints each crate's median, and the
//! median and worst of the per-round ratios motet / best other.

use std::thread;
use std::time::Instant;

const N: u64 = 2_000_000;
const ROUNDS: usize = 9;

/// The operations the benchmark needs, over each crate's channel.
trait Chan: Sized + Send + 'static {
    type Tx: Send + 'static;
    type Rx: Send + 'static;
    fn make(cap: Option<usize>) -> (Self::Tx, Self::Rx);
    fn send(tx: &Self::Tx, v: u64);
    fn recv(rx: &Self::Rx) -> u64;
}

struct Motet;
struct Crossbeam;
struct Flume;

impl Chan for Motet {
    type Tx = motet::chan::Sender<u64>;
    type Rx = motet::chan::Receiver<u64>;
    fn make(cap: Option<usize>) -> (Self::Tx, Self::Rx) {
        match cap {
            Some(c) => motet::chan::bounded(c),
            None => motet::chan::unbounded(),
        }
    }
    fn send(tx: &Self::Tx, v: u64) {
        tx.send(v).unwrap()
    }
    fn recv(rx: &Self::Rx) -> u64 {
        rx.recv().unwrap()
    }
}

impl Chan for Crossbeam {
    type Tx = crossbeam_channel::Sender<u64>;
    type Rx = crossbeam_channel::Receiver<u64>;
    fn make(cap: Option<usize>) -> (Self::Tx, Self::Rx) {
        match cap {
            Some(c) => crossbeam_channel::bounded(c),
            None => crossbeam_channel::unbounded(),
        }
    }
    fn send(tx: &Self::Tx, v: u64) {
        tx.send(v).unwrap()
    }
    fn recv(rx: &Self::Rx) -> u64 {
        rx.recv().unwrap()
    }
}

impl Chan for Flume {
    type Tx = flume::Sender<u64>;
    type Rx = flume::Receiver<u64>;
    fn make(cap: Option<usize>) -> (Self::Tx, Self::Rx) {
        match cap {
            Some(c) => flume::bounded(c),
            None => flume::unbounded(),
        }
    }
    fn send(tx: &Self::Tx, v: u64) {
        tx.send(v).unwrap()
    }
    fn recv(rx: &Self::Rx) -> u64 {
        rx.recv().unwrap()
    }
}

/// One producer thread, one consumer thread: ns per message.
fn spsc<C: Chan>(cap: Option<usize>) -> f64 {
    let (tx, rx) = C::make(cap);
    let start = Instant::now();
    let p = thread::spawn(move || {
        for i in 0..N {
            C::send(&tx, i);
        }
    });
    let mut sum = 0u64;
    for _ in 0..N {
        sum = sum.wrapping_add(C::recv(&rx));
    }
    p.join().unwrap();
    assert_eq!(sum, N * (N - 1) / 2);
    start.elapsed().as_nanos() as f64 / N as f64
}

/// Send then receive on one thread: ns per message (a pair of operations).
fn same_thread<C: Chan>(cap: Option<usize>) -> f64 {
    let (tx, rx) = C::make(cap);
    let start = Instant::now();
    let mut sum = 0u64;
    for i in 0..N {
        C::send(&tx, i);
        sum = sum.wrapping_add(C::recv(&rx));
    }
    assert_eq!(sum, N * (N - 1) / 2);
    start.elapsed().as_nanos() as f64 / N as f64
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn row(
    name: &str,
    f: fn(Option<usize>) -> f64,
    g: fn(Option<usize>) -> f64,
    h: fn(Option<usize>) -> f64,
    cap: Option<usize>,
) {
    let (mut ms, mut cs, mut fls, mut ratios) = (vec![], vec![], vec![], vec![]);
    for _ in 0..ROUNDS {
        let (m, c, fl) = (f(cap), g(cap), h(cap));
        ratios.push(m / c.min(fl));
        ms.push(m);
        cs.push(c);
        fls.push(fl);
    }
    let worst = ratios.iter().copied().fold(0.0, f64::max);
    println!(
        "{name:<28} {:>9.1} {:>11.1} {:>8.1}   {:>5.2}x ({worst:.2}x)",
        median(ms),
        median(cs),
        median(fls),
        median(ratios),
    );
}

/// One case of one crate, 10 runs (see `main`).
fn only<C: Chan>(case: &str) {
    let cap = if case.contains("unbounded") {
        None
    } else {
        Some(1024)
    };
    for _ in 0..10 {
        if case.contains("spsc") {
            spsc::<C>(cap);
        } else {
            same_thread::<C>(cap);
        }
    }
}

fn main() {
    // For profiling: just motet (or just crossbeam, to compare), one case,
    // 10 runs. The variable's value picks it: `same` (send-then-receive on
    // one thread) or `spsc` (two threads), with `unbounded` anywhere in it
    // for the unbounded channel.
    if let Some(v) = std::env::var_os("ONLY_MOTET") {
        only::<Motet>(&v.to_string_lossy());
        return;
    }
    if let Some(v) = std::env::var_os("ONLY_CROSSBEAM") {
        only::<Crossbeam>(&v.to_string_lossy());
        return;
    }
    println!(
        "{:<28} {:>9} {:>11} {:>8}   motet / best other, median (worst)",
        "ns/msg (median of 9 rounds)", "motet", "crossbeam", "flume"
    );
    row(
        "bounded(1024), 2 threads",
        spsc::<Motet>,
        spsc::<Crossbeam>,
        spsc::<Flume>,
        Some(1024),
    );
    row(
        "unbounded, 2 threads",
        spsc::<Motet>,
        spsc::<Crossbeam>,
        spsc::<Flume>,
        None,
    );
    row(
        "bounded(1024), same thread",
        same_thread::<Motet>,
        same_thread::<Crossbeam>,
        same_thread::<Flume>,
        Some(1024),
    );
    row(
        "unbounded, same thread",
        same_thread::<Motet>,
        same_thread::<Crossbeam>,
        same_thread::<Flume>,
        None,
    );
}
