//! Green threads: spawning and joining from every kind of unit, panics,
//! suspension instead of blocking, the blocking APIs (sleep, sockets, the
//! blocking pool), the switching budget, thread-locals, and 100,000 live
//! green threads. Every wait is bounded by a timeout.

use std::cell::Cell;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "common/look_spacings.rs"]
mod look_spacings;

use look_spacings::with_look_spacings;
use motet::net::{TcpListener, TcpStream};
use motet::runtime::Runtime;
use motet::sync::oneshot;
use motet::{green, task, time};

const LIMIT: Duration = Duration::from_secs(60);

fn rt() -> Runtime {
    Runtime::builder().event_loop().build().unwrap()
}

/// Runs `f` as the `block_on` future, failing the test if it takes longer
/// than [`LIMIT`].
fn run<F: std::future::Future>(f: F) -> F::Output {
    rt().block_on(async {
        time::timeout(LIMIT, f)
            .await
            .expect("test timed out: something blocked or never woke")
    })
}

#[test]
fn spawn_and_join_from_async() {
    let out = run(async {
        let h = green::spawn(|| 40 + 2);
        h.await.unwrap()
    });
    assert_eq!(out, 42);
}

#[test]
fn join_from_an_os_thread() {
    let rt = rt();
    let handle = rt.handle().clone();
    let waiter = std::thread::spawn(move || {
        let _enter = handle.enter();
        let h = green::spawn(|| {
            time::blocking_sleep(Duration::from_millis(2));
            "from green"
        });
        h.join().unwrap()
    });
    rt.block_on(async {
        let deadline = Instant::now() + LIMIT;
        while !waiter.is_finished() {
            assert!(Instant::now() < deadline, "timed out");
            time::sleep(Duration::from_millis(1)).await;
        }
    });
    assert_eq!(waiter.join().unwrap(), "from green");
}

#[test]
fn join_from_another_green_thread_and_a_task() {
    let out = run(async {
        let outer = green::spawn(|| {
            let inner = green::spawn(|| {
                green::yield_now();
                5
            });
            let t = task::spawn(async { 6 });
            inner.join().unwrap() * t.join().unwrap()
        });
        outer.await.unwrap()
    });
    assert_eq!(out, 30);
}

#[test]
fn a_panic_ends_that_green_thread_only() {
    run(async {
        let bystander = green::spawn(|| {
            green::yield_now();
            "alive"
        });
        let h = green::Builder::new()
            .name("doomed")
            .spawn(|| -> u32 {
                green::yield_now();
                panic!("boom in a green thread")
            })
            .unwrap();
        let err = h.await.unwrap_err();
        assert!(err.is_panic());
        assert!(err.to_string().contains("boom in a green thread"), "{err}");
        assert_eq!(bystander.await.unwrap(), "alive");
        // The loop still runs green threads afterwards.
        assert_eq!(green::spawn(|| 1).await.unwrap(), 1);
    });
}

#[test]
fn wait_suspends_so_two_green_threads_interleave_on_one_loop() {
    // Ping-pong through one-shot channels: each green thread "blocks" in
    // blocking_recv while the other runs. Were wait parking the OS thread,
    // the loop (the only thread) would deadlock and the timeout would fire.
    let log = run(async {
        let log = Arc::new(Mutex::new(Vec::new()));
        let (ab_tx, ab_rx): (Vec<_>, Vec<_>) = (0..3).map(|_| oneshot::channel::<u32>()).unzip();
        let (ba_tx, ba_rx): (Vec<_>, Vec<_>) = (0..3).map(|_| oneshot::channel::<u32>()).unzip();
        let l = log.clone();
        let a = green::spawn(move || {
            for ((tx, rx), i) in ab_tx.into_iter().zip(ba_rx).zip(1..) {
                l.lock().unwrap().push(format!("a sends {i}"));
                tx.send(i).unwrap();
                let back = rx.blocking_recv().unwrap();
                l.lock().unwrap().push(format!("a got {back}"));
            }
        });
        let l = log.clone();
        let b = green::spawn(move || {
            for (rx, tx) in ab_rx.into_iter().zip(ba_tx) {
                let v = rx.blocking_recv().unwrap();
                l.lock().unwrap().push(format!("b got {v}"));
                tx.send(v * 10).unwrap();
            }
        });
        a.await.unwrap();
        b.await.unwrap();
        let v = log.lock().unwrap().clone();
        v
    });
    assert_eq!(
        log,
        [
            "a sends 1",
            "b got 1",
            "a got 10",
            "a sends 2",
            "b got 2",
            "a got 20",
            "a sends 3",
            "b got 3",
            "a got 30"
        ]
    );
}

#[test]
fn blocking_sleep_suspends_for_at_least_the_duration() {
    run(async {
        let done = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..10)
            .map(|_| {
                let done = done.clone();
                green::spawn(move || {
                    let start = Instant::now();
                    time::blocking_sleep(Duration::from_millis(20));
                    done.fetch_add(1, Ordering::SeqCst);
                    start.elapsed()
                })
            })
            .collect();
        for h in handles {
            assert!(h.await.unwrap() >= Duration::from_millis(20));
        }
        assert_eq!(done.load(Ordering::SeqCst), 10);
    });
}

#[test]
fn std_io_over_tcp_with_bufreader_from_green_threads() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Server: one green thread per connection, plain std::io code.
        let server = green::spawn(move || {
            let mut served = Vec::new();
            for _ in 0..4 {
                let (stream, _) = listener.blocking_accept().unwrap();
                served.push(green::spawn(move || -> std::io::Result<usize> {
                    let mut lines = 0;
                    let mut reader = BufReader::new(&stream);
                    let mut line = String::new();
                    while reader.read_line(&mut line)? > 0 {
                        Write::write_all(&mut &stream, line.to_uppercase().as_bytes())?;
                        line.clear();
                        lines += 1;
                    }
                    Ok(lines)
                }));
            }
            served
                .into_iter()
                .map(|h| h.join().unwrap().unwrap())
                .sum::<usize>()
        });
        let clients: Vec<_> = (0..4)
            .map(|i| {
                green::spawn(move || -> std::io::Result<String> {
                    let mut stream = TcpStream::blocking_connect(addr)?;
                    for round in 0..10 {
                        Write::write_all(&mut stream, format!("c{i} r{round}\n").as_bytes())?;
                    }
                    stream.shutdown(std::net::Shutdown::Write)?;
                    let mut all = String::new();
                    Read::read_to_string(&mut stream, &mut all)?;
                    Ok(all)
                })
            })
            .collect();
        for (i, c) in clients.into_iter().enumerate() {
            let all = c.await.unwrap().unwrap();
            let want: String = (0..10).map(|r| format!("C{i} R{r}\n")).collect();
            assert_eq!(all, want);
        }
        assert_eq!(server.await.unwrap(), 40);
    });
}

#[test]
fn serde_json_reads_and_writes_a_green_threads_socket_unchanged() {
    // serde_json knows nothing of motet: it calls `Read::read` and
    // `Write::write` (through std's buffers, hundreds of times for this
    // 690 KB request), which suspend the green thread. Both peers share
    // one event loop; the server waits for the connection and the request,
    // the client for the reply, so a call that blocked the OS thread would
    // stop the peer it waits for.
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = green::spawn(move || -> std::io::Result<()> {
            let (stream, _) = listener.blocking_accept()?;
            let request: serde_json::Value = serde_json::from_reader(BufReader::new(&stream))?;
            let numbers = request["numbers"].as_array().expect("an array");
            let sum: u64 = numbers.iter().filter_map(serde_json::Value::as_u64).sum();
            let reply = serde_json::json!({ "count": numbers.len(), "sum": sum });
            let mut out = BufWriter::new(&stream);
            serde_json::to_writer(&mut out, &reply)?;
            out.flush()
        });
        let client = green::spawn(move || -> std::io::Result<serde_json::Value> {
            let stream = TcpStream::blocking_connect(addr)?;
            let numbers: Vec<u64> = (1..=100_000).collect();
            let mut out = BufWriter::new(&stream);
            serde_json::to_writer(&mut out, &serde_json::json!({ "numbers": numbers }))?;
            out.flush()?;
            drop(out);
            stream.shutdown(std::net::Shutdown::Write)?;
            Ok(serde_json::from_reader(BufReader::new(&stream))?)
        });
        let reply = client.await.unwrap().unwrap();
        assert_eq!(reply["count"], 100_000);
        assert_eq!(reply["sum"], 5_000_050_000u64);
        server.await.unwrap().unwrap();
    });
}

#[test]
fn blocking_runs_on_the_pool_while_others_run() {
    run(async {
        let ticks = Arc::new(AtomicUsize::new(0));
        let t = ticks.clone();
        let ticker = green::spawn(move || {
            for _ in 0..5 {
                t.fetch_add(1, Ordering::SeqCst);
                time::blocking_sleep(Duration::from_millis(2));
            }
        });
        let h = green::spawn(|| {
            let here = std::thread::current().id();
            let there = green::blocking(move || {
                std::thread::sleep(Duration::from_millis(30));
                std::thread::current().id()
            });
            assert_ne!(here, there, "ran on the blocking pool");
            "done"
        });
        assert_eq!(h.await.unwrap(), "done");
        ticker.await.unwrap();
        assert_eq!(ticks.load(Ordering::SeqCst), 5);
        // A panic in the blocking call is re-raised in the green thread.
        let p = green::spawn(|| green::blocking(|| panic!("pool boom")));
        let err = p.await.unwrap_err();
        assert!(err.to_string().contains("pool boom"), "{err}");
    });
}

#[test]
fn the_budget_lets_others_run_past_an_always_ready_green_thread() {
    let (iterations, other_ran) = run(async {
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        let spinner = green::spawn(move || {
            // Every wait is ready at once: without the budget this green
            // thread would never suspend, and the setter could never run.
            let mut n = 0u64;
            while !f.load(Ordering::SeqCst) && n < 10_000_000 {
                motet::wait(std::future::ready(()));
                n += 1;
            }
            n
        });
        let setter = green::spawn(move || flag.store(true, Ordering::SeqCst));
        let n = spinner.await.unwrap();
        setter.await.unwrap();
        (n, n < 10_000_000)
    });
    assert!(other_ran, "the spinner never yielded ({iterations} waits)");
    assert!(iterations >= 1);
}

thread_local! {
    static MARK: Cell<usize> = const { Cell::new(0) };
}

#[test]
fn thread_locals_stay_correct_across_suspensions() {
    // Pinned (the default): every resume happens on the loop's thread, so
    // a thread-local read before and after many suspensions is the same
    // variable.
    run(async {
        MARK.with(|m| m.set(7));
        let loop_thread = std::thread::current().id();
        let handles: Vec<_> = (0..8)
            .map(|i| {
                green::spawn(move || {
                    for round in 0..200 {
                        let before = MARK.with(|m| m.get());
                        MARK.with(|m| m.set(before + 1));
                        if round % 2 == 0 {
                            green::yield_now();
                        } else {
                            time::blocking_sleep(Duration::from_micros(10 * i));
                        }
                        assert_eq!(std::thread::current().id(), loop_thread);
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
        assert_eq!(MARK.with(|m| m.get()), 7 + 8 * 200);
    });
}

#[test]
fn abort_unwinds_a_suspended_green_thread() {
    struct Flag(Arc<AtomicBool>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    run(async {
        let dropped = Arc::new(AtomicBool::new(false));
        let d = dropped.clone();
        let (_tx, rx) = oneshot::channel::<()>();
        let h = green::spawn(move || {
            let _flag = Flag(d);
            let _ = rx.blocking_recv(); // never sent
        });
        task::yield_now().await;
        task::yield_now().await;
        h.abort();
        assert!(h.await.unwrap_err().is_cancelled());
        assert!(dropped.load(Ordering::SeqCst), "the stack was unwound");
    });
}

#[test]
fn a_green_thread_cancelled_before_its_first_run_drops_its_closure_and_never_runs() {
    // A green thread takes its stack at its first run; until then it is
    // only its closure, which abort and shutdown must drop all the same.
    struct Flag(Arc<AtomicBool>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let ran = Arc::new(AtomicBool::new(false));
    let (aborted_dropped, unstarted_dropped) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let rt = rt();
    let unstarted = rt.block_on(async {
        // On the event loop nothing else runs until this task awaits.
        let (flag, r) = (Flag(aborted_dropped.clone()), ran.clone());
        let aborted = green::spawn(move || {
            let _flag = flag;
            r.store(true, Ordering::SeqCst);
        });
        aborted.abort();
        assert!(aborted.await.unwrap_err().is_cancelled());
        assert!(
            aborted_dropped.load(Ordering::SeqCst),
            "abort dropped the closure"
        );
        // Spawned from a task that never yields again: left unstarted when
        // block_on returns, cancelled when the runtime drops.
        let (flag, r) = (Flag(unstarted_dropped.clone()), ran.clone());
        // (In an Option: an async block yielding a handle reads like a
        // missing `.await`.)
        Some(green::spawn(move || {
            let _flag = flag;
            r.store(true, Ordering::SeqCst);
        }))
    });
    let unstarted = unstarted.unwrap();
    drop(rt);
    assert!(
        unstarted_dropped.load(Ordering::SeqCst),
        "shutdown dropped the closure"
    );
    assert!(unstarted.join().unwrap_err().is_cancelled());
    assert!(!ran.load(Ordering::SeqCst), "neither green thread ever ran");
}

#[test]
fn runtime_drop_cancels_suspended_green_threads() {
    let dropped = Arc::new(AtomicBool::new(false));
    let rt = rt();
    let h = {
        struct Flag(Arc<AtomicBool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let d = dropped.clone();
        rt.block_on(async move {
            let h = green::spawn(move || {
                let _flag = Flag(d);
                time::blocking_sleep(Duration::from_secs(3600));
            });
            task::yield_now().await;
            Some(h)
        })
        .unwrap()
    };
    drop(rt);
    assert!(dropped.load(Ordering::SeqCst));
    assert!(h.join().unwrap_err().is_cancelled());
}

#[test]
fn names_and_stack_sizes_and_migratable() {
    run(async {
        let small = green::Builder::new()
            .name("small")
            .stack_size(16 * 1024)
            .spawn(|| green::stack_high_water().unwrap())
            .unwrap();
        assert!(small.await.unwrap() < 16 * 1024);
        // SAFETY: the closure holds nothing but Send values and no thread-local.
        let m = unsafe { green::Builder::new().migratable() }
            .spawn(|| {
                green::yield_now();
                3
            })
            .unwrap();
        assert_eq!(m.await.unwrap(), 3);
        assert!(!green::is_green_thread());
        assert!(green::spawn(green::is_green_thread).await.unwrap());
    });
}

#[test]
fn stacks_are_reused() {
    run(async {
        for _ in 0..3 {
            let hs: Vec<_> = (0..100).map(|_| green::spawn(green::yield_now)).collect();
            for h in hs {
                h.await.unwrap();
            }
        }
        // (Other tests share the process-wide pool, so only loosely.)
        let stats = green::pool_stats();
        assert!(stats.warm > 0, "{stats:?}");
        assert!(
            stats.madvise_guards,
            "this kernel has MADV_GUARD_INSTALL: {stats:?}"
        );
        println!("pool after reuse: {stats:?}");
    });
}

fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kb: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

#[test]
fn a_hundred_thousand_live_green_threads() {
    const N: usize = 100_000;
    let rt = rt();
    rt.block_on(async {
        time::timeout(Duration::from_secs(300), async {
            let before = rss_bytes();
            let started = Instant::now();
            // Counted by each green thread as it starts: a green thread
            // that has not run yet holds no stack, and would make the
            // figure below meaningless.
            let running = Arc::new(AtomicUsize::new(0));
            let mut senders = Vec::with_capacity(N);
            let mut handles = Vec::with_capacity(N);
            for i in 0..N {
                let (tx, rx) = oneshot::channel::<usize>();
                senders.push(tx);
                let running = running.clone();
                handles.push(
                    green::Builder::new()
                        .stack_size(16 * 1024)
                        .spawn(move || {
                            running.fetch_add(1, Ordering::Relaxed);
                            rx.blocking_recv().unwrap() + i
                        })
                        .unwrap(),
                );
            }
            let spawned = started.elapsed();
            // Let every green thread run to its suspension point: on this
            // one thread, each counts itself and suspends in one poll.
            while running.load(Ordering::Relaxed) < N {
                task::yield_now().await;
            }
            let live = rss_bytes().saturating_sub(before);
            let per = live / N;
            let stats = Handle::current().stats();
            println!(
                "{N} live green threads: spawned in {spawned:?}, RSS +{} MiB, {per} bytes each; \
                 tasks alive {}; pool {:?}",
                live >> 20,
                stats.tasks_alive,
                green::pool_stats()
            );
            assert!(stats.tasks_alive >= N);
            // At most two stack pages per idle green thread, plus its task
            // and channel (under 1 KiB). A release build touches one page
            // (4.4 KiB in all); this debug build's larger frames reach a
            // second one in some of the stacks' colours (about 6.3 KiB).
            assert!(per <= 2 * 4096 + 1024, "{per} bytes per idle green thread");
            for tx in senders {
                tx.send(1).unwrap();
            }
            let mut sum = 0;
            for h in handles {
                sum += h.await.unwrap();
            }
            assert_eq!(sum, N + N * (N - 1) / 2);
        })
        .await
        .expect("timed out");
    });
}

use motet::runtime::Handle;

/// A work-stealing runtime with one worker, with the default spacing of
/// looks at the driver and with the closest (a look, and so an outer turn
/// of the worker, at every poll).
fn one_worker_runtimes() -> impl Iterator<Item = Runtime> {
    with_look_spacings(|| Runtime::builder().work_stealing(1))
}

/// Yields until `done` says so (true) or 10 s have passed (false).
fn yield_until(done: impl Fn() -> bool) -> bool {
    let give_up = Instant::now() + Duration::from_secs(10);
    while Instant::now() < give_up {
        if done() {
            return true;
        }
        green::yield_now();
    }
    false
}

#[test]
fn a_green_thread_woken_from_another_thread_runs_while_others_keep_its_worker_busy() {
    // Its wake-up lands in its home worker's inbox, which the worker takes
    // on its outer turns, not only when it runs out of tasks.
    for rt in one_worker_runtimes() {
        let flag = Arc::new(AtomicBool::new(false));
        let seen = rt.block_on(async {
            let (tx, rx) = oneshot::channel::<()>();
            let f = flag.clone();
            let woken = green::spawn(move || {
                rx.blocking_recv().unwrap();
                f.store(true, Ordering::Relaxed);
            });
            let busy = |f: Arc<AtomicBool>| {
                green::spawn(move || yield_until(|| f.load(Ordering::Relaxed)))
            };
            let (a, b) = (busy(flag.clone()), busy(flag.clone()));
            // From an OS thread: the remote path, once the waiter waits.
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                tx.send(()).unwrap();
            });
            let seen = (a.await.unwrap(), b.await.unwrap());
            woken.await.unwrap();
            seen
        });
        assert_eq!(
            seen,
            (true, true),
            "the woken green thread ran while the others yielded"
        );
    }
}

#[test]
fn green_threads_and_async_tasks_that_always_yield_share_one_worker() {
    // A worker alternates between its pinned FIFO (green threads) and its
    // stealable queue (async tasks), so neither kind starves the other,
    // whatever the spacing of its turns.
    for rt in one_worker_runtimes() {
        let (green_polls, task_polls) =
            (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (g, t) = (green_polls.clone(), task_polls.clone());
        let seen = rt.block_on(async move {
            let green_side = green::spawn(move || {
                yield_until(|| {
                    g.fetch_add(1, Ordering::Relaxed) >= 1_000 && t.load(Ordering::Relaxed) >= 1_000
                })
            });
            let (g, t) = (green_polls.clone(), task_polls.clone());
            let task_side = task::spawn(async move {
                let give_up = Instant::now() + Duration::from_secs(10);
                while Instant::now() < give_up {
                    let mine = t.fetch_add(1, Ordering::Relaxed);
                    if mine >= 1_000 && g.load(Ordering::Relaxed) >= 1_000 {
                        return true;
                    }
                    task::yield_now().await;
                }
                false
            });
            (green_side.await.unwrap(), task_side.await.unwrap())
        });
        assert_eq!(
            seen,
            (true, true),
            "each side saw the other run 1,000 times while it ran"
        );
    }
}

#[test]
fn green_threads_stay_on_their_worker_under_work_stealing() {
    // Pinned by default: a green thread resumes on the OS thread it started
    // on, however often it suspends and however busy the workers are (so a
    // thread-local address cached across a suspension stays right).
    let rt = Runtime::builder().work_stealing(2).build().unwrap();
    let moved = rt.block_on(async {
        // Background load so both workers are busy and steal.
        let noise: Vec<_> = (0..2_000)
            .map(|_| motet::task::spawn(async { motet::task::yield_now().await }))
            .collect();
        let greens: Vec<_> = (0..200)
            .map(|_| {
                motet::green::spawn(move || {
                    let home = std::thread::current().id();
                    let mut moved = 0;
                    for round in 0..50 {
                        if round % 2 == 0 {
                            motet::green::yield_now();
                        } else {
                            motet::time::blocking_sleep(Duration::from_micros(50));
                        }
                        if std::thread::current().id() != home {
                            moved += 1;
                        }
                    }
                    moved
                })
            })
            .collect();
        for n in noise {
            n.await.unwrap();
        }
        let mut moved = 0;
        for g in greens {
            moved += g.await.unwrap();
        }
        moved
    });
    assert_eq!(moved, 0, "a pinned green thread resumed on another worker");
}

#[test]
fn green_threads_spawned_on_the_current_worker_start_and_stay_there() {
    // The spawner keeps its worker busy without suspending, so the other
    // worker, idle, steals what it can. First a control group (default
    // placement): spin until one of it starts on the other worker, which
    // shows the other worker stealing. Then a group spawned with
    // `on_current_worker`, under the same pressure: every one starts and
    // resumes on the spawner's worker.
    let rt = Runtime::builder().work_stealing(2).build().unwrap();
    let (spawner, control_stolen, here) = rt.block_on(async {
        green::spawn(|| {
            let spawner = Handle::current_worker().expect("on a worker");
            let elsewhere = Arc::new(AtomicUsize::new(0));
            let control: Vec<_> = (0..100)
                .map(|_| {
                    let elsewhere = elsewhere.clone();
                    green::spawn(move || {
                        if Handle::current_worker() != Some(spawner) {
                            elsewhere.fetch_add(1, Ordering::SeqCst);
                        }
                    })
                })
                .collect();
            let deadline = Instant::now() + Duration::from_secs(30);
            while elsewhere.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
                std::hint::spin_loop();
            }
            let control_stolen = elsewhere.load(Ordering::SeqCst);
            let here: Vec<_> = (0..100)
                .map(|_| {
                    green::Builder::new()
                        .on_current_worker()
                        .spawn(|| {
                            let first = Handle::current_worker();
                            green::yield_now();
                            time::blocking_sleep(Duration::from_micros(50));
                            (first, Handle::current_worker())
                        })
                        .unwrap()
                })
                .collect();
            let until = Instant::now() + Duration::from_millis(30);
            while Instant::now() < until {
                std::hint::spin_loop();
            }
            for h in control {
                h.join().unwrap();
            }
            let here: Vec<_> = here.into_iter().map(|h| h.join().unwrap()).collect();
            (spawner, control_stolen, here)
        })
        .await
        .unwrap()
    });
    assert!(
        control_stolen > 0,
        "control: the idle worker never took a default-placed green thread"
    );
    for (first, later) in here {
        assert_eq!(first, Some(spawner), "started on another worker");
        assert_eq!(later, Some(spawner), "resumed on another worker");
    }
}

#[test]
fn blocking_timeouts_suspend_a_green_thread() {
    // recv_timeout inside a green thread uses the driver's timer and
    // suspends, so another green thread on the same loop keeps running.
    let rt = rt();
    rt.block_on(async {
        let (tx, rx) = motet::chan::bounded::<u32>(0);
        let ticker = motet::green::spawn(|| {
            let mut ticks = 0;
            for _ in 0..5 {
                motet::time::blocking_sleep(Duration::from_millis(2));
                ticks += 1;
            }
            ticks
        });
        let waiter = motet::green::spawn(move || {
            let timed_out = rx.recv_timeout(Duration::from_millis(30));
            let got = rx.recv_timeout(Duration::from_secs(5));
            (timed_out, got)
        });
        assert_eq!(
            ticker.await.unwrap(),
            5,
            "the ticker ran while the other waited"
        );
        motet::time::sleep(Duration::from_millis(40)).await;
        tx.send_async(7).await.unwrap();
        let (timed_out, got) = waiter.await.unwrap();
        assert_eq!(timed_out, Err(motet::chan::RecvTimeoutError::Timeout));
        assert_eq!(got, Ok(7));
    });
}
