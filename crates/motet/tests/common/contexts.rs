//! The contexts a unit can run in, one runtime of each flavor to run them,
//! and a runner that starts a unit (blocking or async body) in any of them.
//! Shared by the test binaries that check a primitive "from every context"
//! (`chan.rs`, `sync.rs`).

// Each test binary uses a subset of these.
#![allow(dead_code)]

use std::future::Future;
use std::thread;
use std::time::Duration;

use motet::chan::{self, Receiver, Sender};
use motet::runtime::{Handle, Runtime};

/// Runs `f` on its own thread; fails the test if it takes longer than
/// `secs` (the thread is left behind).
pub fn within<R: Send + 'static>(secs: u64, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = chan::bounded(1);
    thread::spawn(move || {
        let r = f();
        let _ = tx.send(r);
    });
    rx.recv_timeout(Duration::from_secs(secs))
        .expect("the test did not finish in time (deadlock or lost wake-up?)")
}

/// An event-loop runtime driven by a thread of its own until dropped.
pub struct Loop {
    pub handle: Handle,
    stop: Sender<()>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Loop {
    pub fn new() -> Loop {
        let (stop, stopped) = chan::bounded::<()>(0);
        let (htx, hrx) = chan::bounded(1);
        let thread = thread::spawn(move || {
            let rt = Runtime::builder().event_loop().build().unwrap();
            htx.send(rt.handle().clone()).unwrap();
            rt.block_on(async move {
                let _ = stopped.recv_async().await;
            });
        });
        let handle = hrx.recv_timeout(Duration::from_secs(10)).unwrap();
        Loop {
            handle,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        self.stop.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Where a unit runs. Adding a context is one variant here and one arm in
/// `go`.
#[derive(Debug, Clone, Copy)]
pub enum Ctx {
    Thread,
    EventLoopTask,
    GreenOnEventLoop,
    StealingTask,
    GreenOnStealing,
    PerCoreTask,
}

/// Every context.
pub const CONTEXTS: &[Ctx] = &[
    Ctx::Thread,
    Ctx::EventLoopTask,
    Ctx::GreenOnEventLoop,
    Ctx::StealingTask,
    Ctx::GreenOnStealing,
    Ctx::PerCoreTask,
];

/// One runtime of each flavor.
pub struct Runtimes {
    pub event_loop: Loop,
    pub stealing: Runtime,
    pub per_core: Runtime,
}

impl Runtimes {
    pub fn new() -> Runtimes {
        Runtimes {
            event_loop: Loop::new(),
            stealing: Runtime::builder().work_stealing(2).build().unwrap(),
            per_core: Runtime::builder().per_core(2).build().unwrap(),
        }
    }
}

/// Runs one unit in `ctx`: `blocking(env)` on a thread or green thread,
/// `run_async(env)` in a task. Its output arrives on the returned receiver.
pub fn go<E, R, B, A, Fut>(
    ctx: Ctx,
    rts: &Runtimes,
    env: E,
    blocking: B,
    run_async: A,
) -> Receiver<R>
where
    E: Send + 'static,
    R: Send + 'static,
    B: FnOnce(E) -> R + Send + 'static,
    A: FnOnce(E) -> Fut + Send + 'static,
    Fut: Future<Output = R> + Send + 'static,
{
    let (tx, rx) = chan::bounded(1);
    let as_task = |handle: &Handle, tx: Sender<R>, env: E| {
        drop(handle.spawn(async move {
            let out = run_async(env).await;
            let _ = tx.send_async(out).await;
        }));
    };
    match ctx {
        Ctx::Thread => {
            thread::spawn(move || {
                let _ = tx.send(blocking(env));
            });
        }
        Ctx::EventLoopTask => as_task(&rts.event_loop.handle, tx, env),
        Ctx::StealingTask => as_task(rts.stealing.handle(), tx, env),
        Ctx::PerCoreTask => as_task(rts.per_core.handle(), tx, env),
        Ctx::GreenOnEventLoop | Ctx::GreenOnStealing => {
            let handle = match ctx {
                Ctx::GreenOnEventLoop => &rts.event_loop.handle,
                _ => rts.stealing.handle(),
            };
            let _in_runtime = handle.enter();
            drop(motet::green::spawn(move || {
                let _ = tx.send(blocking(env));
            }));
        }
    }
    rx
}
