//! On one CPU, waiting OS threads do not spin (the thread that would end
//! the wait cannot run meanwhile): they park, and the channel's lock
//! yields at once. These tests run those paths in a child process pinned
//! to one CPU (this test binary re-executes itself with `MOTET_ONE_CPU`
//! set) and check that every message still arrives exactly once, in each
//! producer's order.

use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use motet::chan;

const CHILD: &str = "MOTET_ONE_CPU";

/// In the parent: runs `case` in a child and asserts it passed. In the
/// child: pins this thread (and so every thread it starts) to one CPU and
/// returns true, and the caller runs the case.
fn in_a_one_cpu_child(case: &str) -> bool {
    if std::env::var(CHILD).as_deref() != Ok(case) {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([case, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD, case)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("re-executing the test binary");
        // A lost wake-up would hang the child: bound it (generously; the
        // cases take about a second).
        let deadline = Instant::now() + Duration::from_secs(120);
        while child.try_wait().expect("waiting for the child").is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("the child hung: a lost wake-up on one CPU?");
            }
            thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().expect("the child's output");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "the child failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        return false;
    }
    let cpu = (0..libc::CPU_SETSIZE as usize)
        .find(|&cpu| {
            // SAFETY: `cpu_set_t` is plain old data; all-zero is empty.
            let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
            // SAFETY: pid 0 is this thread; `set` is valid for writes.
            let rc = unsafe {
                libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set)
            };
            assert_eq!(rc, 0, "sched_getaffinity");
            // SAFETY: `cpu` < CPU_SETSIZE.
            unsafe { libc::CPU_ISSET(cpu, &set) }
        })
        .expect("no allowed CPU");
    // SAFETY: as above, all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` < CPU_SETSIZE.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: pid 0 is this thread; `set` is valid for reads.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    assert_eq!(rc, 0, "sched_setaffinity");
    assert_eq!(thread::available_parallelism().unwrap().get(), 1);
    true
}

/// `producers` threads each send `per` numbers (tagged with the producer)
/// into `tx`; `consumers` threads receive until the channel disconnects.
/// Asserts every message arrived once and each producer's in order.
fn exchange(tx: chan::Sender<(usize, u64)>, rx: chan::Receiver<(usize, u64)>) {
    const PRODUCERS: usize = 4;
    const CONSUMERS: usize = 4;
    const PER: u64 = 20_000;
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let tx = tx.clone();
            thread::spawn(move || (0..PER).for_each(|i| tx.send((p, i)).unwrap()))
        })
        .collect();
    drop(tx);
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let rx = rx.clone();
            thread::spawn(move || {
                let mut last = [None::<u64>; PRODUCERS];
                let mut got = 0u64;
                while let Ok((p, i)) = rx.recv() {
                    assert!(last[p].is_none_or(|l| l < i), "producer {p} out of order");
                    last[p] = Some(i);
                    got += 1;
                }
                got
            })
        })
        .collect();
    drop(rx);
    producers.into_iter().for_each(|p| p.join().unwrap());
    let got: u64 = consumers.into_iter().map(|c| c.join().unwrap()).sum();
    assert_eq!(got, PRODUCERS as u64 * PER);
}

#[test]
fn bounded_channels_deliver_everything_on_one_cpu() {
    if in_a_one_cpu_child("bounded_channels_deliver_everything_on_one_cpu") {
        for cap in [0, 1, 16] {
            let (tx, rx) = chan::bounded(cap);
            exchange(tx, rx);
        }
    }
}

#[test]
fn unbounded_channels_deliver_everything_on_one_cpu() {
    if in_a_one_cpu_child("unbounded_channels_deliver_everything_on_one_cpu") {
        let (tx, rx) = chan::unbounded();
        exchange(tx, rx);
    }
}
