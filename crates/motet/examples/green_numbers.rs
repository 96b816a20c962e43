//! Measures what the green-thread docs quote: spawn cost with pooled
//! stacks, resident bytes per idle green thread, how many can be live at
//! once, and how much stack typical code needs.
//!
//! ```text
//! cargo run --release -p motet --example green_numbers [live-count] [stack-bytes]
//! ```
//!
//! Defaults: 1,000,000 live green threads on 16 KiB stacks.

use std::io::{BufRead, BufReader, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use motet::net::{TcpListener, TcpStream};
use motet::runtime::Runtime;
use motet::sync::oneshot;
use motet::{green, task};

fn rss() -> usize {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let l = s.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    l.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<usize>()
        .unwrap()
        * 1024
}

fn maps() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .count()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let live: usize = args.next().map_or(1_000_000, |a| a.parse().unwrap());
    let stack: usize = args.next().map_or(16 * 1024, |a| a.parse().unwrap());
    let rt = Runtime::builder().event_loop().build().unwrap();
    rt.block_on(async move {
        // 1. Spawn + run + join with pooled stacks: warm the pool, then time.
        const SPAWNS: usize = 100_000;
        for round in 0..3 {
            let start = Instant::now();
            let hs: Vec<_> = (0..SPAWNS).map(|i| green::spawn(move || i)).collect();
            for h in hs {
                h.await.unwrap();
            }
            let ns = start.elapsed().as_nanos() / SPAWNS as u128;
            println!("round {round}: spawn+run+join {ns} ns per green thread (100k at a time)");
        }
        let start = Instant::now();
        for i in 0..SPAWNS {
            green::spawn(move || i).await.unwrap();
        }
        let ns = start.elapsed().as_nanos() / SPAWNS as u128;
        println!("one at a time (warm stack reused): spawn+run+join {ns} ns per green thread");
        let start = Instant::now();
        for i in 0..SPAWNS {
            task::spawn(async move { i }).await.unwrap();
        }
        let ns = start.elapsed().as_nanos() / SPAWNS as u128;
        println!("  (an async task, same loop: {ns} ns)");

        // 2. Stack needs.
        let echo_depth = {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = green::Builder::new()
                .stack_size(1 << 20)
                .spawn(move || {
                    let (s, _) = listener.blocking_accept().unwrap();
                    let mut r = BufReader::new(&s);
                    let mut line = String::new();
                    while r.read_line(&mut line).unwrap() > 0 {
                        Write::write_all(&mut &s, line.as_bytes()).unwrap();
                        line.clear();
                    }
                    green::stack_high_water().unwrap()
                })
                .unwrap();
            let c = TcpStream::connect(addr).await.unwrap();
            for _ in 0..10 {
                c.write_all(b"hello\n").await.unwrap();
                let mut b = [0; 6];
                c.read_exact(&mut b).await.unwrap();
            }
            c.shutdown(std::net::Shutdown::Write).unwrap();
            server.await.unwrap()
        };
        println!("stack used by a BufReader echo handler: {echo_depth} bytes (fresh 1 MiB stack)");
        std::env::set_var("RUST_BACKTRACE", "1");
        let panic_depth = green::Builder::new()
            .stack_size(2 << 20)
            .spawn(|| {
                let r = std::panic::catch_unwind(|| panic!("measuring the panic hook's stack"));
                assert!(r.is_err());
                green::stack_high_water().unwrap()
            })
            .unwrap()
            .await
            .unwrap();
        std::env::remove_var("RUST_BACKTRACE");
        println!("stack used by a panic with RUST_BACKTRACE=1: {panic_depth} bytes");

        // 3. Many live green threads, each suspended on a one-shot. Each
        // counts itself started before it blocks (its stack is taken at
        // its first run, so a green thread not yet run holds none).
        let started = Arc::new(AtomicUsize::new(0));
        let before = rss();
        let maps_before = maps();
        let start = Instant::now();
        let mut txs = Vec::with_capacity(live);
        let mut hs = Vec::with_capacity(live);
        for _ in 0..live {
            let (tx, rx) = oneshot::channel::<u8>();
            txs.push(tx);
            let started = started.clone();
            match green::Builder::new().stack_size(stack).spawn(move || {
                started.fetch_add(1, Ordering::Relaxed);
                rx.blocking_recv().unwrap()
            }) {
                Ok(h) => hs.push(h),
                Err(e) => {
                    println!("spawn {} failed: {e}", hs.len());
                    break;
                }
            }
        }
        let n = hs.len();
        while started.load(Ordering::Relaxed) < n {
            task::yield_now().await;
        }
        let spawned = start.elapsed();
        let grew = rss().saturating_sub(before);
        println!(
            "{n} live green threads ({stack} B stacks): spawned and suspended in {spawned:?}, \
             RSS +{} MiB = {} bytes each, memory maps +{}, pool {:?}",
            grew >> 20,
            grew / n.max(1),
            maps().saturating_sub(maps_before),
            green::pool_stats()
        );
        let start = Instant::now();
        for tx in txs {
            let _ = tx.send(1);
        }
        let mut sum = 0usize;
        for h in hs {
            sum += h.await.unwrap() as usize;
        }
        assert_eq!(sum, n);
        println!("woken and joined in {:?}", start.elapsed());
        motet::time::sleep(Duration::from_millis(1)).await;
        println!("pool after: {:?}", green::pool_stats());
    });
}
