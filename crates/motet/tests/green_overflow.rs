//! A green thread that overflows its stack hits its guard page, and the
//! process aborts with a message naming the green thread and its stack
//! size. Each case runs in a child process: this test binary re-executes
//! itself with `MOTET_OVERFLOW_CHILD` set, and the parent checks the
//! child's exit status and stderr.

use std::hint::black_box;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const CHILD: &str = "MOTET_OVERFLOW_CHILD";

/// Recurses with 1 KiB frames until the stack runs out.
#[allow(unconditional_recursion)] // on purpose: it ends at the guard page
fn recurse(depth: u64) -> u64 {
    let frame = black_box([depth as u8; 1024]);
    black_box(recurse(depth + 1)) + u64::from(frame[0])
}

fn run_child(case: &str) -> (bool, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([case, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, case)
        .output()
        .expect("re-executing the test binary");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `case` in a child, which must die reporting that green thread
/// `name` overflowed its stack of `stack` bytes.
fn assert_overflow_reported(case: &str, name: &str, stack: usize) {
    let (ok, stderr) = run_child(case);
    assert!(!ok, "the child should have died; stderr:\n{stderr}");
    assert!(
        stderr.contains(&format!("green thread '{name}'"))
            && stderr.contains(&format!("overflowed its stack of {stack} bytes")),
        "stderr:\n{stderr}"
    );
}

fn is_child(case: &str) -> bool {
    std::env::var(CHILD).as_deref() == Ok(case)
}

#[test]
fn a_green_thread_overflow_names_the_thread_and_its_stack_size() {
    const CASE: &str = "a_green_thread_overflow_names_the_thread_and_its_stack_size";
    if is_child(CASE) {
        let rt = motet::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let h = motet::green::Builder::new()
                .name("deep-recursion")
                .stack_size(64 * 1024)
                .spawn(|| recurse(0))
                .unwrap();
            let _ = motet::time::timeout(Duration::from_secs(30), h).await;
        });
        unreachable!("the overflow should have aborted the process");
    }
    assert_overflow_reported(CASE, "deep-recursion", 64 * 1024);
}

#[test]
fn an_os_thread_overflow_still_gets_std_s_report() {
    // motet's SIGSEGV handler hands faults that are not a green thread's
    // guard page to the handler installed before it (std's).
    const CASE: &str = "an_os_thread_overflow_still_gets_std_s_report";
    if is_child(CASE) {
        let rt = motet::runtime::Runtime::new().unwrap();
        // Install motet's handler by running a green thread first.
        rt.block_on(async { motet::green::spawn(|| ()).await.unwrap() });
        let t = std::thread::Builder::new()
            .name("os-deep".into())
            .stack_size(128 * 1024)
            .spawn(|| recurse(0))
            .unwrap();
        let _ = t.join();
        unreachable!("the overflow should have aborted the process");
    }
    let (ok, stderr) = run_child(CASE);
    assert!(!ok, "the child should have died; stderr:\n{stderr}");
    assert!(!stderr.contains("motet: green thread"), "stderr:\n{stderr}");
    assert!(stderr.contains("os-deep"), "stderr:\n{stderr}");
}

#[test]
fn a_stack_trimmed_and_reused_keeps_its_guard() {
    // Freed stacks past what the pool keeps warm are handed back to the
    // kernel (MADV_DONTNEED over runs of adjacent slots, guards included);
    // a green thread that later runs on such a cold slot must still hit a
    // guard page when it overflows, not run into its neighbour's stack.
    const CASE: &str = "a_stack_trimmed_and_reused_keeps_its_guard";
    const N: usize = 4096;
    const STACK: usize = 16 * 1024;
    if is_child(CASE) {
        let rt = motet::runtime::Runtime::builder()
            .event_loop()
            .build()
            .unwrap();
        rt.block_on(async {
            // A burst of N live green threads fills the pool; its end trims
            // most of it. A second burst then takes every warm slot, so the
            // next green thread gets a cold one.
            let live = |n: usize| {
                let started = Arc::new(AtomicUsize::new(0));
                let mut held = Vec::new();
                for _ in 0..n {
                    let (tx, rx) = motet::sync::oneshot::channel::<()>();
                    let started = started.clone();
                    let h = motet::green::Builder::new()
                        .stack_size(STACK)
                        .spawn(move || {
                            started.fetch_add(1, Ordering::Relaxed);
                            rx.blocking_recv().unwrap()
                        })
                        .unwrap();
                    held.push((tx, h));
                }
                (started, held)
            };
            // Every one runs to its wait, and so holds its stack.
            let all_started = |started: Arc<AtomicUsize>, n: usize| async move {
                while started.load(Ordering::Relaxed) < n {
                    motet::task::yield_now().await;
                }
            };
            let (started, first) = live(N);
            all_started(started, N).await;
            for (tx, h) in first {
                tx.send(()).unwrap();
                h.await.unwrap();
            }
            // Every warm slot, and the few this thread keeps back from the
            // pool (not in its counts), and some cold ones.
            let n = motet::green::pool_stats().warm + 64;
            let (started, _second) = live(n);
            all_started(started, n).await;
            let stats = motet::green::pool_stats();
            assert!(
                stats.warm == 0 && stats.cold > 0,
                "the next stack will be a cold one: {stats:?}"
            );
            let h = motet::green::Builder::new()
                .name("deep-on-cold")
                .stack_size(STACK)
                .spawn(|| recurse(0))
                .unwrap();
            let _ = motet::time::timeout(Duration::from_secs(30), h).await;
        });
        unreachable!("the overflow should have aborted the process");
    }
    assert_overflow_reported(CASE, "deep-on-cold", STACK);
}
