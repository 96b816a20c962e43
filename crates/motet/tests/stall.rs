//! The stall detector reports a task that does not yield, by name, through
//! `tracing`, and counts it. (Its own test binary: it installs a global
//! subscriber, because the watchdog thread logs from outside any test's
//! thread-local scope.)

#[path = "common/captured_log.rs"]
mod captured_log;

use std::time::Duration;

use motet::runtime::Runtime;
use motet::task;

#[test]
fn a_non_yielding_task_is_reported_and_counted() {
    let logs = captured_log::install();

    let rt = Runtime::builder()
        .event_loop()
        .stall_threshold(Some(Duration::from_millis(50)))
        .build()
        .unwrap();
    let (ran, stalls) = rt.block_on(async {
        // Well-behaved tasks: many short polls, never reported.
        let quick: Vec<_> = (0..1_000)
            .map(|_| task::spawn(async { task::yield_now().await }))
            .collect();
        for h in quick {
            h.await.unwrap();
        }
        let before = motet::runtime::Handle::current().stats().stalls;
        // A task that hogs the loop for 300 ms without an await.
        let hog = task::Builder::new().name("the-hog").spawn(async {
            std::thread::sleep(Duration::from_millis(300));
            "done"
        });
        let out = hog.await.unwrap();
        (
            out,
            motet::runtime::Handle::current().stats().stalls - before,
        )
    });
    assert_eq!(ran, "done");
    assert_eq!(stalls, 1, "exactly one stalled poll");
    assert_eq!(rt.stats().stalls, 1);

    let text = logs.text();
    let line = text
        .lines()
        .find(|l| l.contains("without yielding"))
        .unwrap_or_else(|| panic!("no stall report in:\n{text}"));
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("the-hog"), "names the task: {line}");
    assert!(
        line.contains("tests/stall.rs"),
        "names the spawn location: {line}"
    );
    assert!(line.contains("task.id="), "names the task id: {line}");
    // The watchdog reports the end at its next look after it.
    let text = logs.text_once_it_has("finally yielded");
    let end = text
        .lines()
        .find(|l| l.contains("finally yielded"))
        .unwrap_or_else(|| panic!("no report of the stall's end in:\n{text}"));
    // It was reported at a look that saw it running for the threshold.
    let at_least: u64 = end
        .split("poll_ms_at_least=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|ms| ms.parse().ok())
        .unwrap_or_else(|| panic!("no duration in: {end}"));
    assert!(at_least >= 50, "{end}");
}
