//! Timers: ordering, cancellation, intervals and timeouts, through a runtime.

#[path = "common/busy.rs"]
mod busy;
#[path = "common/contexts.rs"]
mod contexts;

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::time::{Duration, Instant};

use motet::runtime::Runtime;
use motet::task;
use motet::time::{self, MissedTickBehavior};

use busy::keep_busy;
use contexts::within;

fn rt() -> Runtime {
    Runtime::builder().event_loop().build().unwrap()
}

/// A small deterministic PRNG (xorshift64*), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[test]
fn hundred_thousand_timers_fire_in_deadline_order_and_none_is_lost() {
    const N: usize = 100_000;
    let rt = rt();
    // Set once every task is spawned, so that all of them are registered
    // before the first deadline (1 s of margin for 100,000 first polls in a
    // debug build).
    let base: Rc<std::cell::Cell<Option<Instant>>> = Rc::default();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    // Deadlines spread over 1.5 s at 1 ms granularity, so many share a tick
    // and many ticks have several timers.
    let offsets: Vec<u64> = (0..N).map(|_| rng.next() % 1_500).collect();
    let fired = Rc::new(RefCell::new(Vec::with_capacity(N)));
    rt.block_on(async {
        let mut hs = Vec::with_capacity(N);
        for (i, &ms) in offsets.iter().enumerate() {
            let fired = fired.clone();
            let base = base.clone();
            hs.push(task::spawn_local(async move {
                let deadline = base.get().unwrap() + Duration::from_millis(ms);
                assert!(
                    Instant::now() < deadline,
                    "timer {i} registered after its deadline: test margin too small"
                );
                time::sleep_until(deadline).await;
                assert!(Instant::now() >= deadline, "timer {i} fired early");
                fired.borrow_mut().push((ms, i));
            }));
        }
        base.set(Some(Instant::now() + Duration::from_secs(1)));
        for h in hs {
            h.await.unwrap();
        }
    });
    let fired = fired.borrow();
    assert_eq!(fired.len(), N, "every timer fires exactly once");
    let mut seen = vec![false; N];
    for &(_, i) in fired.iter() {
        assert!(!seen[i], "timer {i} fired twice");
        seen[i] = true;
    }
    // Tasks woken by timers run in the order the timers fired: deadlines
    // never go backwards.
    for w in fired.windows(2) {
        assert!(
            w[0].0 <= w[1].0,
            "timer with deadline +{}ms ran after one with +{}ms",
            w[0].0,
            w[1].0
        );
    }
    assert_eq!(rt.stats().timers_pending, 0);
}

#[test]
fn dropped_sleeps_are_removed_from_the_driver() {
    let rt = rt();
    rt.block_on(async {
        let mut sleeps: Vec<_> = (0..1_000)
            .map(|i| Box::pin(time::sleep(Duration::from_secs(60 + i))))
            .collect();
        // Poll each once so it registers.
        std::future::poll_fn(|cx| {
            for s in &mut sleeps {
                assert!(s.as_mut().poll(cx).is_pending());
            }
            std::task::Poll::Ready(())
        })
        .await;
        assert_eq!(
            motet::runtime::Handle::current().stats().timers_pending,
            1_000
        );
        drop(sleeps);
        assert_eq!(motet::runtime::Handle::current().stats().timers_pending, 0);
    });
}

#[test]
fn timeout_returns_elapsed_and_drops_the_future() {
    let rt = rt();
    rt.block_on(async {
        let (tx, rx) = motet::sync::oneshot::channel::<()>();
        let res = time::timeout(Duration::from_millis(10), rx).await;
        assert_eq!(res.unwrap_err().to_string(), "deadline has elapsed");
        // The receiver was dropped with the timed-out future.
        assert_eq!(tx.send(()), Err(()));
        // A future that finishes in time wins.
        let ok = time::timeout(Duration::from_secs(5), async {
            time::sleep(Duration::from_millis(1)).await;
            9
        })
        .await;
        assert_eq!(ok, Ok(9));
    });
}

#[test]
fn far_future_sleep_does_not_fire_and_can_be_reset() {
    let rt = rt();
    rt.block_on(async {
        let mut s = Box::pin(time::sleep(Duration::from_secs(10 * 365 * 86_400)));
        let res = time::timeout(Duration::from_millis(20), s.as_mut()).await;
        assert!(res.is_err(), "a ten-year sleep fired");
        s.as_mut()
            .get_mut()
            .reset(Instant::now() + Duration::from_millis(5));
        time::timeout(Duration::from_secs(5), s)
            .await
            .expect("reset sleep never fired");
    });
}

#[test]
fn interval_keeps_its_schedule() {
    let rt = rt();
    rt.block_on(async {
        let start = Instant::now();
        let mut iv = time::interval(Duration::from_millis(5));
        let mut ticks = Vec::new();
        for _ in 0..5 {
            ticks.push(iv.tick().await);
        }
        // Scheduled times are exact multiples of the period from the start.
        for (k, t) in ticks.iter().enumerate() {
            let expected = ticks[0] + Duration::from_millis(5) * k as u32;
            assert_eq!(*t, expected);
        }
        assert!(start.elapsed() >= Duration::from_millis(20));
    });
}

#[test]
fn interval_missed_ticks() {
    let rt = rt();
    rt.block_on(async {
        // Burst: after a 30 ms stall with a 10 ms period, the missed ticks
        // come back to back, keeping the schedule.
        let mut iv = time::interval(Duration::from_millis(10));
        let t0 = iv.tick().await;
        std::thread::sleep(Duration::from_millis(35));
        let burst: Vec<Instant> = [iv.tick().await, iv.tick().await, iv.tick().await].into();
        assert_eq!(
            burst,
            [
                t0 + Duration::from_millis(10),
                t0 + Duration::from_millis(20),
                t0 + Duration::from_millis(30)
            ]
        );

        // Skip: one tick now, then back on the original grid.
        let mut iv = time::interval(Duration::from_millis(10));
        iv.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let t0 = iv.tick().await;
        std::thread::sleep(Duration::from_millis(35));
        let late = iv.tick().await;
        assert_eq!(late, t0 + Duration::from_millis(10));
        let next = iv.tick().await;
        assert_eq!(
            next,
            t0 + Duration::from_millis(40),
            "skip resumes on the grid"
        );

        // Delay: one tick now, the next a full period after it.
        let mut iv = time::interval(Duration::from_millis(10));
        iv.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let t0 = iv.tick().await;
        std::thread::sleep(Duration::from_millis(35));
        let late = iv.tick().await;
        assert_eq!(late, t0 + Duration::from_millis(10));
        let before = Instant::now();
        let next = iv.tick().await;
        assert!(
            next >= before + Duration::from_millis(9),
            "delay shifts the schedule"
        );
    });
}

#[test]
fn sleep_outside_a_runtime_panics_clearly() {
    let res = std::panic::catch_unwind(|| motet::wait(time::sleep(Duration::from_millis(1))));
    let msg = *res.unwrap_err().downcast::<&str>().unwrap();
    assert!(msg.contains("needs a runtime"), "{msg}");
}

#[test]
fn sleep_from_an_entered_os_thread_wakes_it() {
    let rt = rt();
    let handle = rt.handle().clone();
    let t = std::thread::spawn(move || {
        let _g = handle.enter();
        let start = Instant::now();
        motet::wait(time::sleep(Duration::from_millis(30)));
        start.elapsed()
    });
    // The loop must notice a timer inserted from another thread while it
    // sleeps in epoll with no deadline.
    rt.block_on(async {
        while !t.is_finished() {
            time::sleep(Duration::from_millis(200)).await;
        }
    });
    assert!(t.join().unwrap() >= Duration::from_millis(30));
}

fn timer_fires_while_busy(rt: Runtime) {
    rt.block_on(async {
        let (stop, busy) = keep_busy(4);
        // Long enough that the busy looks, spaced out because they find
        // nothing, come many times before the timer is due.
        let sleeper = motet::task::spawn(async {
            let start = Instant::now();
            motet::time::sleep(Duration::from_millis(20)).await;
            start.elapsed()
        });
        let slept = sleeper.await.unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut yields = 0;
        for h in busy {
            yields += h.await.unwrap();
        }
        assert!(slept >= Duration::from_millis(20), "fired early: {slept:?}");
        assert!(yields > 1000, "the busy tasks barely ran ({yields} yields)");
    });
}

#[test]
fn a_timer_fires_on_an_event_loop_that_never_runs_dry() {
    // Bounded by a thread, not a timer: the code under test fires timers.
    within(60, || timer_fires_while_busy(rt()));
}

#[test]
fn a_timer_fires_on_workers_that_never_run_dry() {
    within(60, || {
        timer_fires_while_busy(Runtime::builder().work_stealing(2).build().unwrap())
    });
}
