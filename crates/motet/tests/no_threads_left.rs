//! Dropping a runtime of any flavor leaves no motet thread behind: workers,
//! cores, the watchdog and the blocking pool are all joined. (Its own test
//! binary, so that no other test's runtime is alive while threads are
//! counted.)

use std::time::Duration;

use motet::runtime::Runtime;

fn motet_threads() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_string())
        .filter(|name| name.starts_with("motet-"))
        .collect()
}

#[test]
fn every_flavor_joins_all_its_threads_on_drop() {
    for builder in [
        Runtime::builder().event_loop(),
        Runtime::builder().work_stealing(3),
        Runtime::builder().per_core(2),
    ] {
        let rt = builder.build().unwrap();
        rt.block_on(async {
            motet::task::spawn(async {}).await.unwrap();
            // Start a blocking-pool thread and a timer too.
            motet::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(5)))
                .await
                .unwrap();
            motet::time::sleep(Duration::from_millis(1)).await;
        });
        assert!(
            !motet_threads().is_empty(),
            "the runtime runs threads while alive"
        );
        drop(rt);
        assert_eq!(
            motet_threads(),
            Vec::<String>::new(),
            "threads left after drop"
        );
    }
}
