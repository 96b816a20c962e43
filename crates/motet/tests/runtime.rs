//! The event-loop runtime: spawning, joining, aborting, panics, shutdown.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[path = "common/look_spacings.rs"]
mod look_spacings;

use look_spacings::with_look_spacings;
use motet::runtime::Runtime;
use motet::sync::oneshot;
use motet::task::{self, JoinHandle};

fn rt() -> Runtime {
    Runtime::builder().event_loop().build().expect("runtime")
}

#[test]
fn spawn_and_await_many() {
    let rt = rt();
    let sum = rt.block_on(async {
        let handles: Vec<JoinHandle<u64>> = (0..10_000u64)
            .map(|i| task::spawn(async move { i }))
            .collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        sum
    });
    assert_eq!(sum, 10_000 * 9_999 / 2);
    let stats = rt.stats();
    assert_eq!(stats.tasks_spawned, 10_000);
    assert_eq!(stats.tasks_alive, 0);
}

#[test]
fn nested_spawns_sum_like_skynet() {
    fn node(num: u64, size: u64) -> JoinHandle<u64> {
        task::spawn_local(async move {
            if size == 1 {
                return num;
            }
            let kids: Vec<_> = (0..10)
                .map(|i| node(num + i * (size / 10), size / 10))
                .collect();
            let mut sum = 0;
            for k in kids {
                sum += k.await.unwrap();
            }
            sum
        })
    }
    let rt = rt();
    assert_eq!(
        rt.block_on(async { node(0, 10_000).await.unwrap() }),
        10_000 * 9_999 / 2
    );
}

#[test]
fn spawn_local_holds_non_send_state() {
    let rt = rt();
    let log = Rc::new(RefCell::new(Vec::new()));
    rt.block_on(async {
        let mut hs = Vec::new();
        for i in 0..10 {
            let log = log.clone();
            hs.push(task::spawn_local(async move {
                task::yield_now().await;
                log.borrow_mut().push(i);
            }));
        }
        for h in hs {
            h.await.unwrap();
        }
    });
    assert_eq!(*log.borrow(), (0..10).collect::<Vec<_>>());
}

#[test]
fn yield_now_lets_every_ready_task_run_first() {
    let rt = rt();
    let order = Rc::new(RefCell::new(Vec::new()));
    rt.block_on(async {
        let o = order.clone();
        let a = task::spawn_local(async move {
            o.borrow_mut().push("a1");
            task::yield_now().await;
            o.borrow_mut().push("a2");
        });
        let o = order.clone();
        let b = task::spawn_local(async move {
            o.borrow_mut().push("b1");
        });
        a.await.unwrap();
        b.await.unwrap();
    });
    assert_eq!(*order.borrow(), ["a1", "b1", "a2"]);
}

#[test]
fn panic_ends_only_that_task() {
    let rt = rt();
    rt.block_on(async {
        let bad = task::spawn(async { panic!("deliberate") });
        let good = task::spawn(async { 7 });
        let err = bad.await.unwrap_err();
        assert!(err.is_panic());
        assert!(!err.is_cancelled());
        assert!(err.to_string().contains("deliberate"), "{err}");
        let payload = err.into_panic();
        assert_eq!(*payload.downcast_ref::<&str>().unwrap(), "deliberate");
        assert_eq!(good.await.unwrap(), 7);
        // The loop still runs new work afterwards.
        assert_eq!(task::spawn(async { 8 }).await.unwrap(), 8);
    });
}

#[test]
fn abort_cancels_a_pending_task_and_drops_its_future() {
    struct DropFlag(Arc<AtomicUsize>);
    impl Drop for DropFlag {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let rt = rt();
    let dropped = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let flag = DropFlag(dropped.clone());
        let h = task::spawn(async move {
            let _f = flag;
            std::future::pending::<()>().await;
        });
        task::yield_now().await; // let it start and park
        assert!(!h.is_finished());
        h.abort();
        let err = h.await.unwrap_err();
        assert!(err.is_cancelled(), "{err:?}");
    });
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        1,
        "the aborted future must be dropped"
    );
    assert_eq!(rt.stats().tasks_alive, 0);
}

#[test]
fn abort_after_completion_still_yields_the_output() {
    let rt = rt();
    rt.block_on(async {
        let h = task::spawn(async { 5 });
        task::yield_now().await;
        task::yield_now().await;
        assert!(h.is_finished());
        h.abort();
        assert_eq!(h.await.unwrap(), 5);
    });
}

#[test]
fn dropping_a_handle_detaches_the_task() {
    let rt = rt();
    let (tx, rx) = oneshot::channel();
    rt.block_on(async move {
        drop(task::spawn(async move {
            task::yield_now().await;
            tx.send("ran anyway").unwrap();
        }));
        assert_eq!(rx.await.unwrap(), "ran anyway");
    });
}

#[test]
fn unfinished_tasks_resume_at_the_next_block_on() {
    let rt = rt();
    let (tx, rx) = oneshot::channel::<u32>();
    let h = rt.spawn(async move { rx.await.unwrap() + 1 });
    rt.block_on(task::yield_now()); // the task runs and parks on `rx`
                                    // block_on returned with the task parked; it is still alive.
    assert_eq!(rt.stats().tasks_alive, 1);
    tx.send(41).unwrap();
    assert_eq!(rt.block_on(h).unwrap(), 42);
}

#[test]
fn dropping_the_runtime_cancels_unfinished_tasks() {
    let rt = rt();
    let dropped = Rc::new(Cell::new(0));
    let started = Rc::new(Cell::new(0));
    let (_tx, rx) = oneshot::channel::<()>();
    let rx = Rc::new(RefCell::new(Some(rx)));
    let handles: Vec<JoinHandle<()>> = rt.block_on(async {
        let mut hs = Vec::new();
        for _ in 0..100 {
            let d = dropped.clone();
            let started = started.clone();
            struct OnDrop(Rc<Cell<u32>>);
            impl Drop for OnDrop {
                fn drop(&mut self) {
                    self.0.set(self.0.get() + 1);
                }
            }
            hs.push(task::spawn_local(async move {
                let _g = OnDrop(d);
                started.set(started.get() + 1);
                std::future::pending::<()>().await;
            }));
        }
        // One task waits on a channel whose sender outlives the runtime.
        let rx = rx.borrow_mut().take().unwrap();
        hs.push(task::spawn_local(async move {
            let _ = rx.await;
        }));
        // Let every task with a guard start (and create it).
        while started.get() < 100 {
            task::yield_now().await;
        }
        hs
    });
    assert_eq!(rt.stats().tasks_alive, 101);
    drop(rt);
    assert_eq!(
        dropped.get(),
        100,
        "every unfinished future is dropped at shutdown"
    );
    // Each handle now reports cancellation, from any thread.
    for h in handles {
        assert!(h.join().unwrap_err().is_cancelled());
    }
}

#[test]
fn spawn_after_shutdown_is_cancelled() {
    let rt = rt();
    let handle = rt.handle().clone();
    drop(rt);
    let h = handle.spawn(async { 1 });
    assert!(h.join().unwrap_err().is_cancelled());
}

#[test]
fn a_remote_spawn_runs_while_local_tasks_keep_the_loop_busy() {
    // Every few polls, counted on the countdown to the driver's next look,
    // and at every look: with the default spacing of looks, and with the
    // closest, whose countdown never reaches the remote queue's interval.
    remote_spawn_runs_while_busy(|| Runtime::builder().event_loop());
}

#[test]
fn a_remote_spawn_runs_while_local_tasks_keep_the_only_worker_busy() {
    // The injector's turn, on the worker's outer turns (every 32 polls of
    // its own tasks, and at every look at the driver), whatever the
    // spacing of its looks.
    remote_spawn_runs_while_busy(|| Runtime::builder().work_stealing(1));
}

/// Runs [`remote_spawn_busy_case`] on runtimes from `builder`, with the
/// default spacing of looks at the driver and with the closest.
fn remote_spawn_runs_while_busy(builder: impl Fn() -> motet::runtime::Builder) {
    with_look_spacings(builder).for_each(remote_spawn_busy_case);
}

fn remote_spawn_busy_case(rt: Runtime) {
    // Two tasks that yield to each other keep the local queue from ever
    // running dry; a task spawned from another thread must still get its
    // turn, not wait for them to finish.
    let handle = rt.handle().clone();
    let flag = Arc::new(AtomicUsize::new(0));
    let seen = rt.block_on(async {
        // Bounded in time, not in yields, so that a slow start of the
        // other thread on a loaded machine does not fail the test.
        let busy = |flag: Arc<AtomicUsize>| {
            task::spawn(async move {
                let give_up = std::time::Instant::now() + Duration::from_secs(10);
                while std::time::Instant::now() < give_up {
                    if flag.load(Ordering::Relaxed) == 1 {
                        return true;
                    }
                    task::yield_now().await;
                }
                false
            })
        };
        let (a, b) = (busy(flag.clone()), busy(flag.clone()));
        let f = flag.clone();
        std::thread::spawn(move || {
            handle
                .spawn(async move { f.store(1, Ordering::Relaxed) })
                .join()
                .unwrap();
        });
        (a.await.unwrap(), b.await.unwrap())
    });
    assert_eq!(seen, (true, true), "the remote task ran while they yielded");
}

#[test]
fn spawn_from_other_threads_and_join_from_them() {
    let rt = rt();
    let handle = rt.handle().clone();
    let results = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let handle = handle.clone();
            let results = results.clone();
            std::thread::spawn(move || {
                let hs: Vec<_> = (0..250u64)
                    .map(|i| handle.spawn(async move { t * 1000 + i }))
                    .collect();
                let sum: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
                results.lock().unwrap().push(sum);
            })
        })
        .collect();
    rt.block_on(async {
        // Run until every OS thread has got all its results.
        while results.lock().unwrap().len() < 4 {
            motet::time::sleep(Duration::from_millis(1)).await;
        }
    });
    for t in threads {
        t.join().unwrap();
    }
    let total: u64 = results.lock().unwrap().iter().sum();
    let expected: u64 = (0..4u64)
        .map(|t| (0..250u64).map(|i| t * 1000 + i).sum::<u64>())
        .sum();
    assert_eq!(total, expected);
    assert!(rt.stats().remote_schedules >= 1000);
}

#[test]
fn wait_refuses_to_block_an_event_loop() {
    let rt = rt();
    let err = rt.block_on(async {
        task::spawn_local(async {
            let h = task::spawn(async { 1 });
            h.join().unwrap() // blocking inside the loop: must panic, not hang
        })
        .await
        .unwrap_err()
    });
    let msg = err.to_string();
    assert!(
        msg.contains(".await") && msg.contains("spawn_blocking"),
        "{msg}"
    );
}

#[test]
fn block_on_inside_block_on_is_refused() {
    let rt = rt();
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async {
            let inner = Runtime::new().unwrap();
            inner.block_on(async {});
        })
    }));
    let payload = res.unwrap_err();
    let msg = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap();
    assert!(msg.contains("inside another one"), "{msg}");
    // The outer runtime is still usable.
    assert_eq!(
        rt.block_on(async { task::spawn(async { 3 }).await.unwrap() }),
        3
    );
}

#[test]
fn a_runtime_dropped_inside_another_leaves_the_outer_loop_in_charge() {
    let rt = rt();
    let out = rt.block_on(async {
        let inner = Runtime::new().unwrap();
        // Spawned from here, so queued on the inner loop, which never ran:
        // the drop below cancels it, driving the inner loop on this thread
        // for the while.
        let queued = inner.handle().spawn(async { 1 });
        drop(inner);
        assert!(queued.await.unwrap_err().is_cancelled());
        // The outer loop is this thread's again: a local task runs here,
        // and blocking on a join inside one is still refused.
        let here = std::thread::current().id();
        let ran_on = task::spawn_local(async { std::thread::current().id() })
            .await
            .unwrap();
        assert_eq!(ran_on, here);
        let refused = task::spawn_local(async { task::spawn(async { 2 }).join().unwrap() })
            .await
            .unwrap_err();
        assert!(refused.is_panic(), "{refused}");
        task::spawn(async { 3 }).await.unwrap()
    });
    assert_eq!(out, 3);
}

#[test]
fn block_on_on_a_worker_thread_is_refused_for_every_flavor() {
    let outer = Runtime::builder().work_stealing(2).build().unwrap();
    for flavor in 0..3 {
        let err = outer
            .block_on(outer.spawn(async move {
                let builder = match flavor {
                    0 => Runtime::builder().event_loop(),
                    1 => Runtime::builder().work_stealing(1),
                    _ => Runtime::builder().per_core(1),
                };
                let inner = builder.build().unwrap();
                inner.block_on(async {})
            }))
            .unwrap_err();
        assert!(err.is_panic(), "{err}");
        assert!(
            err.to_string().contains("inside another one"),
            "flavor {flavor}: {err}"
        );
    }
}

#[test]
fn spawn_outside_a_runtime_panics_clearly() {
    let res = std::panic::catch_unwind(|| drop(task::spawn(async {})));
    let msg = *res.unwrap_err().downcast::<&str>().unwrap();
    assert!(msg.contains("no motet runtime"), "{msg}");
}

#[test]
fn handle_enter_gives_a_context() {
    let rt = rt();
    let handle = rt.handle().clone();
    let h = std::thread::spawn(move || {
        let _g = handle.enter();
        task::spawn(async { 11 })
    })
    .join()
    .unwrap();
    assert_eq!(rt.block_on(h).unwrap(), 11);
}

#[test]
fn spawn_blocking_runs_off_the_loop() {
    let rt = rt();
    let loop_thread = std::thread::current().id();
    rt.block_on(async move {
        let h = task::spawn_blocking(move || {
            assert_ne!(std::thread::current().id(), loop_thread);
            std::thread::sleep(Duration::from_millis(20));
            // Pool threads are in the runtime's context: they may spawn.
            task::spawn(async { 2 }).join().unwrap() * 21
        });
        assert_eq!(h.await.unwrap(), 42);
        let p = task::spawn_blocking(|| panic!("in the pool"))
            .await
            .unwrap_err();
        assert!(p.is_panic());
    });
}

#[test]
fn blocking_pool_is_bounded_and_threads_retire() {
    let rt = Runtime::builder()
        .event_loop()
        .max_blocking_threads(2)
        .blocking_keep_alive(Duration::from_millis(50))
        .build()
        .unwrap();
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let hs: Vec<_> = (0..8)
            .map(|_| {
                let (running, peak) = (running.clone(), peak.clone());
                task::spawn_blocking(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(10));
                    running.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
    });
    assert_eq!(
        peak.load(Ordering::SeqCst),
        2,
        "never more than max_blocking_threads at once"
    );
    assert!(rt.stats().blocking_threads <= 2);
    // Idle threads retire after the keep-alive (bounded wait, not a timing assertion).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while rt.stats().blocking_threads > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "idle blocking threads never retired"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn queued_blocking_calls_are_cancelled_at_shutdown() {
    let rt = Runtime::builder()
        .event_loop()
        .max_blocking_threads(1)
        .build()
        .unwrap();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let first = rt.handle().spawn_blocking(move || {
        started_tx.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        1
    });
    started_rx.recv().unwrap();
    let queued = rt.handle().spawn_blocking(|| 2);
    drop(rt); // waits for `first`, cancels `queued`
    assert_eq!(first.join().unwrap(), 1);
    assert!(queued.join().unwrap_err().is_cancelled());
}

#[test]
fn join_from_an_os_thread_parks_until_done() {
    let rt = rt();
    let (tx, rx) = oneshot::channel::<u8>();
    let h = rt.handle().spawn(async move { rx.await.unwrap() * 2 });
    let waiter = std::thread::spawn(move || h.join().unwrap());
    rt.block_on(async move {
        motet::time::sleep(Duration::from_millis(5)).await;
        tx.send(21).unwrap();
        motet::time::sleep(Duration::from_millis(5)).await;
    });
    assert_eq!(waiter.join().unwrap(), 42);
}

#[test]
fn block_on_future_woken_from_another_thread() {
    let rt = rt();
    let (tx, rx) = oneshot::channel();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        tx.send(5).unwrap();
    });
    // The loop sleeps in epoll with nothing to do; the send must unpark it.
    assert_eq!(rt.block_on(rx).unwrap(), 5);
}

#[test]
fn oneshot_reports_a_dropped_sender() {
    let rt = rt();
    rt.block_on(async {
        let (tx, rx) = oneshot::channel::<u8>();
        task::spawn(async move { drop(tx) }).await.unwrap();
        assert_eq!(rx.await, Err(oneshot::RecvError));
    });
}
