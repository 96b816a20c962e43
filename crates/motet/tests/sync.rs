//! motet::sync from every context (OS threads, green threads on the event
//! loop and on work stealing, async tasks on every flavor), and under
//! cancellation.
//!
//! No timing assertions; every wait is bounded (`within`, `recv_timeout`),
//! so a bug fails the test instead of hanging it.

#[path = "common/contexts.rs"]
mod contexts;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use motet::chan::Receiver;
use motet::runtime::Runtime;
use motet::sync::{Mutex, Notify, OnceCell, RwLock, Semaphore, WaitGroup};

use contexts::{go, within, Runtimes, CONTEXTS};

fn collect<R>(rxs: Vec<Receiver<R>>) -> Vec<R> {
    rxs.into_iter()
        .map(|rx| {
            rx.recv_timeout(Duration::from_secs(60))
                .expect("a unit did not finish (deadlock, lost wake-up, or it panicked)")
        })
        .collect()
}

/// A tiny deterministic generator (xorshift), for "random" points.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn mutex_counter_from_every_context_is_exact() {
    within(120, || {
        let rts = Runtimes::new();
        let count = Arc::new(Mutex::new(0u64));
        let (units, per_unit) = (10usize, 1000u64);
        let rxs = (0..units)
            .map(|i| {
                go(
                    CONTEXTS[i % CONTEXTS.len()],
                    &rts,
                    count.clone(),
                    move |c| {
                        for k in 0..per_unit {
                            let mut g = c.lock_blocking();
                            let v = *g;
                            if k % 64 == 0 {
                                // Switch while holding the lock.
                                motet::green::yield_now();
                            }
                            *g = v + 1;
                        }
                    },
                    move |c| async move {
                        for k in 0..per_unit {
                            let mut g = c.lock().await;
                            let v = *g;
                            if k % 64 == 0 {
                                motet::task::yield_now().await;
                            }
                            *g = v + 1;
                        }
                    },
                )
            })
            .collect();
        collect(rxs);
        assert_eq!(*count.try_lock().unwrap(), units as u64 * per_unit);
    });
}

/// Counts holders and records the most seen at once.
#[derive(Default)]
struct Occupancy {
    now: AtomicUsize,
    max: AtomicUsize,
}

impl Occupancy {
    fn enter(&self) {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(n, Ordering::SeqCst);
    }
    fn leave(&self) {
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
}

#[test]
fn semaphore_never_exceeds_its_permits() {
    within(120, || {
        let rts = Runtimes::new();
        let sem = Arc::new(Semaphore::new(3));
        let occ = Arc::new(Occupancy::default());
        let rxs = (0..12usize)
            .map(|i| {
                go(
                    CONTEXTS[i % CONTEXTS.len()],
                    &rts,
                    (sem.clone(), occ.clone(), i),
                    |(sem, occ, i)| {
                        for k in 0..300 {
                            let n = if (i + k) % 5 == 0 { 2 } else { 1 };
                            let p = sem.acquire_many_blocking(n).unwrap();
                            for _ in 0..n {
                                occ.enter();
                            }
                            motet::green::yield_now();
                            for _ in 0..n {
                                occ.leave();
                            }
                            drop(p);
                        }
                    },
                    |(sem, occ, i)| async move {
                        for k in 0..300 {
                            let n = if (i + k) % 5 == 0 { 2 } else { 1 };
                            let p = sem.acquire_many(n).await.unwrap();
                            for _ in 0..n {
                                occ.enter();
                            }
                            motet::task::yield_now().await;
                            for _ in 0..n {
                                occ.leave();
                            }
                            drop(p);
                        }
                    },
                )
            })
            .collect();
        collect(rxs);
        assert!(
            occ.max.load(Ordering::SeqCst) <= 3,
            "more holders than permits"
        );
        assert_eq!(sem.available_permits(), 3);
    });
}

#[test]
fn semaphore_close_fails_waiters_in_every_context() {
    within(60, || {
        let rts = Runtimes::new();
        let sem = Arc::new(Semaphore::new(0));
        let rxs: Vec<_> = CONTEXTS
            .iter()
            .map(|&ctx| {
                go(
                    ctx,
                    &rts,
                    sem.clone(),
                    |s| s.acquire_blocking().is_err(),
                    |s| async move { s.acquire().await.is_err() },
                )
            })
            .collect();
        // Close only once everybody is (very likely) queued; either way
        // every acquire must fail.
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && format!("{sem:?}").contains("waiters: 0") {
            thread::sleep(Duration::from_millis(1));
        }
        sem.close();
        assert!(collect(rxs).into_iter().all(|failed| failed));
    });
}

#[test]
fn rwlock_readers_overlap_in_every_context() {
    within(60, || {
        let rts = Runtimes::new();
        let lock = Arc::new(RwLock::new(7));
        // This reader holds the lock while every context reads: each read
        // can only finish by sharing it.
        let held = lock.try_read().unwrap();
        let rxs: Vec<_> = CONTEXTS
            .iter()
            .map(|&ctx| {
                go(
                    ctx,
                    &rts,
                    lock.clone(),
                    |l| *l.read_blocking(),
                    |l| async move { *l.read().await },
                )
            })
            .collect();
        assert!(collect(rxs).into_iter().all(|v| v == 7));
        drop(held);
    });
}

#[test]
fn rwlock_writers_are_exclusive() {
    within(120, || {
        let rts = Runtimes::new();
        let lock = Arc::new(RwLock::new(0u64));
        let readers = Arc::new(Occupancy::default());
        let writers = Arc::new(Occupancy::default());
        let rxs = (0..12usize)
            .map(|i| {
                go(
                    CONTEXTS[i % CONTEXTS.len()],
                    &rts,
                    (lock.clone(), readers.clone(), writers.clone(), i),
                    |(l, r, w, i)| {
                        for k in 0..300 {
                            if (i + k) % 3 == 0 {
                                let mut g = l.write_blocking();
                                w.enter();
                                assert_eq!(r.now.load(Ordering::SeqCst), 0);
                                *g += 1;
                                motet::green::yield_now();
                                w.leave();
                            } else {
                                let _g = l.read_blocking();
                                r.enter();
                                assert_eq!(w.now.load(Ordering::SeqCst), 0);
                                motet::green::yield_now();
                                r.leave();
                            }
                        }
                    },
                    |(l, r, w, i)| async move {
                        for k in 0..300 {
                            if (i + k) % 3 == 0 {
                                let mut g = l.write().await;
                                w.enter();
                                assert_eq!(r.now.load(Ordering::SeqCst), 0);
                                *g += 1;
                                motet::task::yield_now().await;
                                w.leave();
                            } else {
                                let _g = l.read().await;
                                r.enter();
                                assert_eq!(w.now.load(Ordering::SeqCst), 0);
                                motet::task::yield_now().await;
                                r.leave();
                            }
                        }
                    },
                )
            })
            .collect();
        collect(rxs);
        assert_eq!(writers.max.load(Ordering::SeqCst), 1);
        let writes = (0..12usize)
            .map(|i| (0..300).filter(|k| (i + k) % 3 == 0).count() as u64)
            .sum::<u64>();
        assert_eq!(*lock.try_read().unwrap(), writes);
    });
}

#[test]
fn wait_group_waits_for_all_in_every_context() {
    within(60, || {
        let rts = Runtimes::new();
        let wg = WaitGroup::new();
        let finished = Arc::new(AtomicUsize::new(0));
        let workers = 12usize;
        wg.add(workers as isize);
        // Waiters first, so that they really wait.
        let waiters: Vec<_> = CONTEXTS
            .iter()
            .map(|&ctx| {
                go(
                    ctx,
                    &rts,
                    (wg.clone(), finished.clone()),
                    |(wg, f)| {
                        wg.wait_blocking();
                        f.load(Ordering::SeqCst)
                    },
                    |(wg, f)| async move {
                        wg.wait().await;
                        f.load(Ordering::SeqCst)
                    },
                )
            })
            .collect();
        let done: Vec<_> = (0..workers)
            .map(|i| {
                go(
                    CONTEXTS[i % CONTEXTS.len()],
                    &rts,
                    (wg.clone(), finished.clone()),
                    |(wg, f)| {
                        motet::green::yield_now();
                        f.fetch_add(1, Ordering::SeqCst);
                        wg.done();
                    },
                    |(wg, f)| async move {
                        motet::task::yield_now().await;
                        f.fetch_add(1, Ordering::SeqCst);
                        wg.done();
                    },
                )
            })
            .collect();
        collect(done);
        assert!(collect(waiters).into_iter().all(|n| n == workers));
    });
}

#[test]
#[should_panic(expected = "negative WaitGroup counter")]
fn wait_group_negative_counter_panics() {
    let wg = WaitGroup::new();
    wg.add(1);
    wg.done();
    wg.done();
}

#[test]
fn once_cell_initializes_once_under_a_race() {
    within(60, || {
        let rts = Runtimes::new();
        for _round in 0..20 {
            let cell = Arc::new(OnceCell::new());
            let inits = Arc::new(AtomicUsize::new(0));
            let rxs = (0..12usize)
                .map(|i| {
                    go(
                        CONTEXTS[i % CONTEXTS.len()],
                        &rts,
                        (cell.clone(), inits.clone(), i),
                        |(c, n, i)| {
                            *c.get_or_init_blocking(|| {
                                n.fetch_add(1, Ordering::SeqCst);
                                motet::green::yield_now();
                                i
                            })
                        },
                        |(c, n, i)| async move {
                            *c.get_or_init(|| async {
                                n.fetch_add(1, Ordering::SeqCst);
                                motet::task::yield_now().await;
                                i
                            })
                            .await
                        },
                    )
                })
                .collect();
            let got = collect(rxs);
            assert_eq!(
                inits.load(Ordering::SeqCst),
                1,
                "more than one initializer ran"
            );
            assert!(got.iter().all(|&v| v == got[0]));
            assert_eq!(cell.get(), Some(&got[0]));
        }
    });
}

#[test]
fn once_cell_cancelled_or_panicking_initializer_lets_the_next_try() {
    within(60, || {
        let rt = Runtime::builder().work_stealing(2).build().unwrap();
        let cell = Arc::new(OnceCell::<u32>::new());
        rt.block_on(async {
            // Cancelled mid-initialization.
            let slow = motet::time::timeout(
                Duration::from_millis(5),
                cell.get_or_init(|| async {
                    motet::time::sleep(Duration::from_secs(3600)).await;
                    1
                }),
            )
            .await;
            assert!(slow.is_err());
            assert!(cell.get().is_none());
            // Panicking initializer, in a task of its own.
            let c = cell.clone();
            let h = motet::task::spawn(async move {
                *c.get_or_init(|| async { panic!("init failed") }).await
            });
            assert!(h.await.is_err());
            assert!(cell.get().is_none());
            assert_eq!(*cell.get_or_init(|| async { 3 }).await, 3);
        });
    });
}

#[test]
fn notify_one_wakes_a_waiter_in_every_context() {
    within(60, || {
        let rts = Runtimes::new();
        for &ctx in CONTEXTS {
            // One Notify per waiter; the notification may come before or
            // after the wait (the stored permit covers "before").
            let n = Arc::new(Notify::new());
            let rx = go(
                ctx,
                &rts,
                n.clone(),
                |n| n.notified_blocking(),
                |n| async move { n.notified().await },
            );
            n.notify_one();
            collect(vec![rx]);
        }
    });
}

#[test]
fn notify_waiters_wakes_everyone_waiting() {
    within(60, || {
        let rts = Runtimes::new();
        let n = Arc::new(Notify::new());
        let rxs: Vec<_> = CONTEXTS
            .iter()
            .map(|&ctx| {
                go(
                    ctx,
                    &rts,
                    n.clone(),
                    |n| n.notified_blocking(),
                    |n| async move { n.notified().await },
                )
            })
            .collect();
        while n.waiters() < CONTEXTS.len() {
            thread::sleep(Duration::from_millis(1));
        }
        n.notify_waiters();
        collect(rxs);
    });
}

/// Acquires under tiny random timeouts in every context; at the end every
/// permit is back and nobody is stuck (a full acquire completes).
#[test]
fn cancelled_acquires_never_leak_permits() {
    within(120, || {
        let rts = Runtimes::new();
        let sem = Arc::new(Semaphore::new(2));
        let mutex = Arc::new(Mutex::new(0u64));
        let rxs = (0..12usize)
            .map(|i| {
                go(
                    CONTEXTS[i % CONTEXTS.len()],
                    &rts,
                    (sem.clone(), mutex.clone(), i),
                    |(sem, m, i)| {
                        let mut rng = Rng(i as u64 * 7919 + 1);
                        for _ in 0..300 {
                            let us = rng.next() % 200;
                            let deadline = Instant::now() + Duration::from_micros(us);
                            let n = 1 + (rng.next() % 2) as usize;
                            if let Some(p) = motet::wait::wait_until(sem.acquire_many(n), deadline)
                            {
                                let _p = p.unwrap();
                                motet::green::yield_now();
                            }
                            if let Some(mut g) = motet::wait::wait_until(m.lock(), deadline) {
                                *g += 1;
                            }
                        }
                    },
                    |(sem, m, i)| async move {
                        let mut rng = Rng(i as u64 * 7919 + 1);
                        for _ in 0..300 {
                            let d = Duration::from_micros(rng.next() % 200);
                            let n = 1 + (rng.next() % 2) as usize;
                            if let Ok(p) = motet::time::timeout(d, sem.acquire_many(n)).await {
                                let _p = p.unwrap();
                                motet::task::yield_now().await;
                            }
                            if let Ok(mut g) = motet::time::timeout(d, m.lock()).await {
                                *g += 1;
                            }
                        }
                    },
                )
            })
            .collect();
        collect(rxs);
        assert_eq!(sem.available_permits(), 2, "permits leaked");
        assert!(format!("{sem:?}").contains("waiters: 0"), "{sem:?}");
        // Nobody stuck: everything can still be taken.
        let all = motet::wait(sem.acquire_many(2)).unwrap();
        drop(all);
        assert!(mutex.try_lock().is_ok(), "the mutex was left locked");
    });
}

#[test]
fn blocking_form_on_an_event_loop_thread_is_refused() {
    let rt = Runtime::builder().event_loop().build().unwrap();
    let m = Arc::new(Mutex::new(()));
    let held = m.try_lock().unwrap();
    let m2 = m.clone();
    let r = rt.block_on(async move {
        motet::task::spawn(async move {
            let _g = m2.lock_blocking();
        })
        .await
    });
    drop(held);
    assert!(
        r.is_err(),
        "lock_blocking in a task on an event loop must panic"
    );
}

#[test]
fn mutex_is_released_when_a_holder_panics() {
    within(30, || {
        let rt = Runtime::builder().work_stealing(2).build().unwrap();
        let m = Arc::new(Mutex::new(1));
        rt.block_on(async {
            let m2 = m.clone();
            let h = motet::task::spawn(async move {
                let mut g = m2.lock().await;
                *g = 2;
                panic!("holder fails");
            });
            assert!(h.await.is_err());
            // Not poisoned: the next locker sees what the holder left.
            assert_eq!(*m.lock().await, 2);
        });
    });
}
