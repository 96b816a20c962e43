//! The stall detector names a green thread that holds its thread without
//! suspending, because a green thread is a task. (Its own test binary: it
//! installs a global `tracing` subscriber, as `tests/stall.rs` does.)

#[path = "common/captured_log.rs"]
mod captured_log;

use std::time::{Duration, Instant};

use motet::runtime::Runtime;

#[test]
fn a_spinning_green_thread_is_reported_by_name() {
    let logs = captured_log::install();

    let rt = Runtime::builder()
        .event_loop()
        .stall_threshold(Some(Duration::from_millis(50)))
        .build()
        .unwrap();
    let stalls = rt.block_on(async {
        let before = motet::runtime::Handle::current().stats().stalls;
        let hog = motet::green::Builder::new()
            .name("green-hog")
            .spawn(|| {
                // Spins 300 ms without a motet blocking call: nothing
                // suspends it, so it holds the loop like a stuck task.
                let start = Instant::now();
                let mut n = 0u64;
                while start.elapsed() < Duration::from_millis(300) {
                    n = std::hint::black_box(n + 1);
                }
                n
            })
            .unwrap();
        assert!(hog.await.unwrap() > 0);
        motet::runtime::Handle::current().stats().stalls - before
    });
    assert_eq!(stalls, 1, "exactly one stalled poll");
    let text = logs.text();
    let line = text
        .lines()
        .find(|l| l.contains("without yielding"))
        .unwrap_or_else(|| panic!("no stall report in:\n{text}"));
    assert!(line.contains("green-hog"), "names the green thread: {line}");
    assert!(
        line.contains("tests/green_stall.rs"),
        "names the spawn location: {line}"
    );
    // The watchdog reports the end at its next look after it.
    let text = logs.text_once_it_has("finally yielded");
    assert!(
        text.contains("finally yielded"),
        "no report of the stall's end in:\n{text}"
    );
}
