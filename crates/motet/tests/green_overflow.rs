//! A green thread that overflows its stack hits its guard page, and the
//! process aborts with a message naming the green thread and its stack
//! size. Each case runs in a child process: this test binary re-executes
//! itself with `MOTET_OVERFLOW_CHILD` set, and the parent checks the
//! child's exit status and stderr.

use std::hint::black_box;
use std::process::Command;
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
    let (ok, stderr) = run_child(CASE);
    assert!(!ok, "the child should have died; stderr:\n{stderr}");
    assert!(
        stderr.contains("green thread 'deep-recursion'")
            && stderr.contains("overflowed its stack of 65536 bytes"),
        "stderr:\n{stderr}"
    );
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
