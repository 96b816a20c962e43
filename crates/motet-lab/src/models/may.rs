//! The `may` peer, in the binary: stackful coroutines spawned with
//! `may::go!` on may's own work-stealing scheduler (one worker per core
//! the process may run on: two here, as the peer figures were measured),
//! channels from `may::sync::mpsc` (unbounded: may has no bounded
//! channel), one-shots as one-message mpsc channels,
//! `may::coroutine::yield_now`.
//!
//! may reserves a stack per coroutine with a guard page made by
//! `mprotect`, so past about 32,700 live coroutines it hits Linux's map
//! limit and dies (skynet, spawn-idle at full size): the lab's child
//! process reports that as a failed run.

use std::io;

use may::coroutine::JoinHandle;
use may::sync::{mpmc, mpsc};

use super::thread_unit::ThreadModel;
use crate::workloads::Workload;

/// may's worker threads: one per core this process may run on (its
/// affinity mask, so `taskset` sets it), as motet's and tokio's parallel
/// models choose theirs.
fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// may, configured once per process.
pub struct May;

impl ThreadModel for May {
    type Handle<T: Send + 'static> = JoinHandle<T>;
    type OnceTx<T: Send + 'static> = mpsc::Sender<T>;
    type OnceRx<T: Send + 'static> = mpsc::Receiver<T>;
    type Tx<T: Send + 'static> = mpsc::Sender<T>;
    type Rx<T: Send + 'static> = mpsc::Receiver<T>;
    type FanTx<T: Send + 'static> = mpmc::Sender<T>;
    type FanRx<T: Send + 'static> = mpmc::Receiver<T>;

    // Not fanout: may's only many-consumer channel (mpmc) is unbounded,
    // so it would not be the workload's bounded(1024) channel.
    const WORKLOADS: &'static [Workload] = &[
        Workload::Skynet,
        Workload::SpawnIdle,
        Workload::Pingpong,
        Workload::Switch,
        Workload::Ring,
    ];
    const CHANNEL: &'static str = "may::sync::mpsc (unbounded)";
    const FAN_CHANNEL: &'static str = "may::sync::mpmc (unbounded)";

    fn start() -> io::Result<Self> {
        may::config().set_workers(workers());
        // A panicking coroutine (may panics when it cannot map a stack)
        // ends the run at once: past the map limit may otherwise limps on,
        // or hangs once an allocation fails, until the lab's timeout.
        // Only the first panic reports (several coroutines fail at once
        // past the limit): the others wait on the lock until the abort.
        static FIRST: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _first = FIRST.lock();
            report(info);
            std::process::abort();
        }));
        Ok(May)
    }

    fn threads(&self) -> usize {
        workers()
    }

    fn run<T: Send + 'static>(&self, root: impl FnOnce() -> T + Send + 'static) -> T {
        may::go!(root).join().expect("the root coroutine failed")
    }

    fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> JoinHandle<T> {
        may::go!(f)
    }

    fn join<T: Send + 'static>(handle: JoinHandle<T>) -> T {
        handle.join().expect("a coroutine failed")
    }

    fn oneshot<T: Send + 'static>() -> (mpsc::Sender<T>, mpsc::Receiver<T>) {
        mpsc::channel()
    }

    fn send_once<T: Send + 'static>(tx: mpsc::Sender<T>, value: T) -> Result<(), T> {
        tx.send(value).map_err(|e| e.0)
    }

    fn recv_once<T: Send + 'static>(rx: mpsc::Receiver<T>) -> Option<T> {
        rx.recv().ok()
    }

    fn channel<T: Send + 'static>() -> (mpsc::Sender<T>, mpsc::Receiver<T>) {
        mpsc::channel()
    }

    fn send<T: Send + 'static>(tx: &mpsc::Sender<T>, value: T) -> bool {
        tx.send(value).is_ok()
    }

    fn recv<T: Send + 'static>(rx: &mpsc::Receiver<T>) -> Option<T> {
        rx.recv().ok()
    }

    fn yield_now() {
        may::coroutine::yield_now();
    }

    fn fan<T: Send + 'static>(
        _cap: usize,
        consumers: usize,
    ) -> (mpmc::Sender<T>, Vec<mpmc::Receiver<T>>) {
        let (tx, rx) = mpmc::channel();
        (tx, vec![rx; consumers])
    }

    fn fan_send<T: Send + 'static>(tx: &mpmc::Sender<T>, _seq: u64, value: T) -> bool {
        tx.send(value).is_ok()
    }

    fn fan_recv<T: Send + 'static>(rx: &mpmc::Receiver<T>) -> Option<T> {
        rx.recv().ok()
    }
}
