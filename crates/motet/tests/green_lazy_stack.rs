//! A green thread takes its stack at its first run, not at spawn, where
//! guards cost no memory map (`MADV_GUARD_INSTALL`). So green threads
//! queued behind a busy loop hold no stack, and a burst of spawns that
//! finish one by one reuses the same few warm stacks.
//!
//! The stack pool is process-wide, so this file holds one test: its own
//! process, its own pool.

use motet::green;
use motet::runtime::Runtime;

#[test]
fn queued_green_threads_hold_no_stack_until_they_run() {
    const N: usize = 5_000;
    let rt = Runtime::builder().event_loop().build().unwrap();
    rt.block_on(async {
        // The first spawn maps the first chunk and learns how guards are made.
        green::spawn(|| ()).await.unwrap();
        let before = green::pool_stats();
        if !before.madvise_guards {
            println!(
                "skipped: this kernel has no MADV_GUARD_INSTALL, so stacks are taken at \
                 spawn (running out of maps must stay the spawner's error)"
            );
            return;
        }
        // None of these runs before this task awaits: on the event loop the
        // spawner keeps the thread until then.
        let handles: Vec<_> = (0..N)
            .map(|i| {
                green::Builder::new()
                    .stack_size(64 * 1024)
                    .spawn(move || i)
                    .unwrap()
            })
            .collect();
        let queued = green::pool_stats();
        assert_eq!(
            queued.chunks, before.chunks,
            "{N} spawned, none run: no stack may be taken yet ({before:?} -> {queued:?})"
        );
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        assert_eq!(sum, N * (N - 1) / 2);
        // They ran one after the other, each giving its stack back before the
        // next took one: one 64 KiB class chunk holds 511 slots, and 5,000
        // stacks taken at spawn would need 10 chunks.
        let after = green::pool_stats();
        assert!(
            after.chunks <= before.chunks + 1,
            "{N} green threads that ran one at a time mapped {} chunks",
            after.chunks - before.chunks
        );
    });
}
