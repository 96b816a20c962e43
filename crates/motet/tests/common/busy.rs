//! Tasks that keep a runtime's threads from ever running dry: they yield
//! until told to stop, so the threads see timers and sockets only through
//! their busy looks at the driver.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use motet::task::JoinHandle;

/// Spawns `n` tasks on the current runtime that yield until `stop` is
/// set; each handle gives how many times its task yielded.
pub fn keep_busy(n: usize) -> (Arc<AtomicBool>, Vec<JoinHandle<u64>>) {
    let stop = Arc::new(AtomicBool::new(false));
    let handles = (0..n)
        .map(|_| {
            let stop = stop.clone();
            motet::task::spawn(async move {
                let mut yields = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    motet::task::yield_now().await;
                    yields += 1;
                }
                yields
            })
        })
        .collect();
    (stop, handles)
}
