//! The parallel flavors: work stealing and per core.

use std::collections::HashSet;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use motet::runtime::{Handle, Runtime};
use motet::task::{self, JoinHandle};

fn stealing(n: usize) -> Runtime {
    Runtime::builder().work_stealing(n).build().unwrap()
}

fn per_core(n: usize) -> Runtime {
    Runtime::builder().per_core(n).build().unwrap()
}

/// A small deterministic PRNG so failures reproduce.
fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// Spawns a random tree of tasks totalling exactly `budget` tasks (this one
/// included); returns how many ran.
fn tree(seed: u64, budget: usize) -> JoinHandle<usize> {
    task::spawn(async move {
        let mut rng = seed | 1;
        let mut left = budget - 1;
        let mut kids = Vec::new();
        while left > 0 {
            let size = 1 + (xorshift(&mut rng) as usize % left.min(2_000));
            left -= size;
            kids.push(tree(xorshift(&mut rng), size));
            if xorshift(&mut rng) % 4 == 0 {
                task::yield_now().await;
            }
        }
        let mut ran = 1;
        for k in kids {
            ran += k.await.unwrap();
        }
        ran
    })
}

#[test]
fn hundred_thousand_tasks_with_random_nesting_are_all_accounted_for() {
    for rt in [stealing(2), stealing(4), per_core(2)] {
        let ran = rt.block_on(async { tree(42, 100_000).await.unwrap() });
        assert_eq!(ran, 100_000);
        let s = rt.stats();
        assert_eq!(s.tasks_spawned, 100_000);
        assert_eq!(s.tasks_alive, 0);
    }
}

#[test]
fn work_is_stolen_and_both_workers_run_tasks() {
    let rt = stealing(2);
    let threads = Arc::new(Mutex::new(HashSet::new()));
    let t2 = threads.clone();
    rt.block_on(async move {
        // One task spawns everything from one worker; the other worker
        // can only get work by stealing it.
        task::spawn(async move {
            let hs: Vec<_> = (0..2_000)
                .map(|_| {
                    let t = t2.clone();
                    task::spawn(async move {
                        t.lock().unwrap().insert(std::thread::current().id());
                        // Keep the spawning worker's queue deep for a while.
                        std::thread::sleep(Duration::from_micros(50));
                    })
                })
                .collect();
            for h in hs {
                h.await.unwrap();
            }
        })
        .await
        .unwrap();
    });
    let s = rt.stats();
    assert!(s.steals > 0, "no steals: {s:?}");
    assert_eq!(threads.lock().unwrap().len(), 2, "both workers ran tasks");
    assert_eq!(s.per_worker.len(), 2);
    assert!(s.per_worker.iter().all(|w| w.polls > 0), "{s:?}");
}

#[test]
fn no_task_is_lost_at_shutdown() {
    for rt in [stealing(2), per_core(2)] {
        let completed = Arc::new(AtomicUsize::new(0));
        let handles: Vec<JoinHandle<()>> = (0..2_000)
            .map(|i| {
                let completed = completed.clone();
                rt.spawn(async move {
                    if i % 2 == 0 {
                        // Never finishes.
                        std::future::pending::<()>().await;
                    }
                    task::yield_now().await;
                    completed.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        // Let some run; then drop the runtime mid-flight.
        std::thread::sleep(Duration::from_millis(20));
        drop(rt);
        let mut ok = 0;
        let mut cancelled = 0;
        for h in handles {
            match h.join() {
                Ok(()) => ok += 1,
                Err(e) => {
                    assert!(e.is_cancelled(), "{e}");
                    cancelled += 1;
                }
            }
        }
        assert_eq!(
            ok,
            completed.load(Ordering::SeqCst),
            "every Ok is a completed task"
        );
        assert_eq!(
            ok + cancelled,
            2_000,
            "every task completed or was observed cancelled"
        );
        assert!(cancelled >= 1_000, "the pending half must be cancelled");
    }
}

#[test]
fn a_stalled_worker_does_not_stall_its_queued_tasks() {
    let rt = Runtime::builder()
        .work_stealing(2)
        .stall_threshold(Some(Duration::from_millis(100)))
        .build()
        .unwrap();
    let done_before_spinner_ended = rt.block_on(async {
        task::spawn(async {
            let done = Arc::new(AtomicUsize::new(0));
            // 1,000 short tasks queued on this worker...
            for _ in 0..1_000 {
                let done = done.clone();
                drop(task::spawn(async move {
                    done.fetch_add(1, Ordering::SeqCst);
                }));
            }
            // ...while this task hogs the worker for 300 ms.
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(300) {
                std::hint::spin_loop();
            }
            done.load(Ordering::SeqCst)
        })
        .await
        .unwrap()
    });
    assert_eq!(
        done_before_spinner_ended, 1_000,
        "the other worker must steal and run them all"
    );
    assert!(rt.stats().stalls >= 1, "the spin is reported as a stall");
}

#[test]
fn per_core_tasks_never_migrate_and_may_be_local() {
    let rt = per_core(2);
    let results = rt.block_on(async {
        let hs: Vec<_> = (0..2)
            .map(|core| {
                Handle::current().spawn_on(core, async move {
                    assert_eq!(Handle::current_worker(), Some(core));
                    // The Send future hands the !Send work to a local task.
                    task::spawn_local(async move {
                        let me = std::thread::current().id();
                        let counter = Rc::new(std::cell::Cell::new(0));
                        let mut locals = Vec::new();
                        for _ in 0..100 {
                            let c = counter.clone();
                            locals.push(task::spawn_local(async move {
                                for _ in 0..10 {
                                    motet::time::sleep(Duration::from_micros(100)).await;
                                    task::yield_now().await;
                                }
                                c.set(c.get() + 1);
                                std::thread::current().id()
                            }));
                        }
                        for l in locals {
                            assert_eq!(l.await.unwrap(), me, "a task moved off its core");
                        }
                        (core, counter.get(), me)
                    })
                    .await
                    .unwrap()
                })
            })
            .collect();
        let mut out = Vec::new();
        for h in hs {
            out.push(h.await.unwrap());
        }
        out
    });
    assert_eq!(results.len(), 2);
    assert!(results.iter().all(|&(_, n, _)| n == 100));
    assert_ne!(results[0].2, results[1].2, "two cores, two threads");
}

#[test]
fn cross_core_messages_arrive() {
    let rt = per_core(2);
    let sum = rt.block_on(async {
        let (tx, rx) = motet::sync::oneshot::channel::<u64>();
        let consumer = Handle::current().spawn_on(0, async move { rx.await.unwrap() + 1 });
        let producer = Handle::current().spawn_on(1, async move {
            motet::time::sleep(Duration::from_millis(5)).await;
            tx.send(41).unwrap();
        });
        producer.await.unwrap();
        consumer.await.unwrap()
    });
    assert_eq!(sum, 42);
}

#[test]
fn reuseport_spreads_connections_over_the_loops() {
    const CONNS: usize = 200;
    let rt = per_core(2);
    let shards = motet::net::reuseport_listeners("127.0.0.1:0".parse().unwrap(), 2).unwrap();
    let addr = shards[0].local_addr().unwrap();
    let accepted: Arc<[AtomicUsize; 2]> = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let total = Arc::new(AtomicUsize::new(0));
    for (core, shard) in shards.into_iter().enumerate() {
        let (accepted, total) = (accepted.clone(), total.clone());
        drop(rt.handle().spawn_on(core, async move {
            let listener = motet::net::TcpListener::from_std(shard).unwrap();
            while total.load(Ordering::SeqCst) < CONNS {
                let Ok(Ok((stream, _))) =
                    motet::time::timeout(Duration::from_millis(50), listener.accept()).await
                else {
                    continue;
                };
                accepted[core].fetch_add(1, Ordering::SeqCst);
                total.fetch_add(1, Ordering::SeqCst);
                stream.write_all(b"x").await.unwrap();
            }
        }));
    }
    for _ in 0..CONNS {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        let mut b = [0u8; 1];
        std::io::Read::read_exact(&mut s, &mut b).unwrap();
    }
    let counts = [
        accepted[0].load(Ordering::SeqCst),
        accepted[1].load(Ordering::SeqCst),
    ];
    assert_eq!(counts[0] + counts[1], CONNS);
    // By flow hash: each loop gets a share (all on one has probability 2^-199).
    assert!(
        counts.iter().all(|&c| c > 0),
        "connections were not spread: {counts:?}"
    );
    let s = rt.stats();
    assert!(s.per_worker.iter().all(|w| w.polls > 0));
}

#[test]
fn blocking_work_from_a_core_leaves_the_loop_free() {
    let rt = per_core(1);
    let ticks = rt.block_on(async {
        Handle::current()
            .spawn_on(0, async {
                let heavy = task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(100)));
                // The loop keeps ticking while the pool works.
                let mut ticks = 0;
                while !heavy.is_finished() {
                    motet::time::sleep(Duration::from_millis(5)).await;
                    ticks += 1;
                }
                heavy.await.unwrap();
                ticks
            })
            .await
            .unwrap()
    });
    assert!(ticks >= 5, "the loop was blocked: {ticks} ticks");
}

#[test]
fn wait_is_refused_on_a_worker() {
    let rt = stealing(2);
    let err = rt.block_on(async {
        task::spawn(async {
            let h = task::spawn(async { 1 });
            h.join().unwrap()
        })
        .await
        .unwrap_err()
    });
    assert!(err.is_panic());
    assert!(err.to_string().contains(".await"), "{err}");
}

#[test]
fn timers_and_sockets_work_on_every_flavor() {
    for rt in [stealing(2), per_core(2)] {
        rt.block_on(async {
            let listener = motet::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = task::spawn(async move {
                let (s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 5];
                s.read_exact(&mut buf).await.unwrap();
                s.write_all(&buf).await.unwrap();
            });
            let c = motet::net::TcpStream::connect(addr).await.unwrap();
            c.write_all(b"hello").await.unwrap();
            let mut buf = [0u8; 5];
            motet::time::timeout(Duration::from_secs(5), c.read_exact(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(&buf, b"hello");
            server.await.unwrap();
            let start = Instant::now();
            motet::time::sleep(Duration::from_millis(10)).await;
            assert!(start.elapsed() >= Duration::from_millis(10));
        });
    }
}

#[test]
fn a_busy_task_yields_after_its_budget() {
    // A reader at end of stream: every read is ready at once (Ok(0)), so
    // without a budget the task would never give the loop back and the
    // other task would never run.
    let rt = Runtime::new().unwrap();
    let reads = rt.block_on(async {
        let (a, b) = motet::net::UnixStream::pair().unwrap();
        drop(a);
        // The first read waits for the driver to report the hang-up; from
        // then on every read is ready at once.
        assert_eq!(b.read(&mut [0u8; 16]).await.unwrap(), 0);
        let ran = Rc::new(std::cell::Cell::new(false));
        let r = ran.clone();
        let reader = task::spawn_local(async move {
            let mut buf = [0u8; 16];
            let mut reads = 0u64;
            while !r.get() {
                assert_eq!(b.read(&mut buf).await.unwrap(), 0);
                reads += 1;
                assert!(
                    reads < 10_000_000,
                    "the reader never yielded to the other task"
                );
            }
            reads
        });
        let r = ran.clone();
        task::spawn_local(async move { r.set(true) }).await.unwrap();
        reader.await.unwrap()
    });
    // It yielded after spending its budget, not before.
    assert!(reads >= 64, "yielded after only {reads} ready reads");
}

#[test]
fn a_stall_on_one_core_is_reported_and_the_other_core_keeps_running() {
    let rt = Runtime::builder()
        .per_core(2)
        .stall_threshold(Some(Duration::from_millis(50)))
        .build()
        .unwrap();
    let ticks = rt.block_on(async {
        let ticker = Handle::current().spawn_on(1, async {
            let mut ticks = 0u32;
            let until = Instant::now() + Duration::from_millis(250);
            while Instant::now() < until {
                motet::time::sleep(Duration::from_millis(5)).await;
                ticks += 1;
            }
            ticks
        });
        let hog = Handle::current().spawn_on(0, async {
            std::thread::sleep(Duration::from_millis(200)); // blocks core 0 only
        });
        hog.await.unwrap();
        ticker.await.unwrap()
    });
    assert!(
        ticks >= 10,
        "core 1 stalled along with core 0: {ticks} ticks"
    );
    assert!(
        rt.stats().stalls >= 1,
        "the stall on core 0 was not reported"
    );
}

#[test]
fn timers_set_from_outside_the_workers_always_fire() {
    // block_on's future runs on this thread, not a worker: each sleep's
    // timer is inserted while the idle workers are going to sleep in the
    // shared driver. A lost wake-up there would hang an iteration.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = stealing(2);
        for _ in 0..2_000 {
            rt.block_on(motet::time::sleep(Duration::from_micros(300)));
        }
        let _ = tx.send(());
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("a timer set from outside the workers never fired");
}
