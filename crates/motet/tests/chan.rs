//! motet::chan across contexts, under cancellation, and with select.
//!
//! No timing assertions; every wait is bounded (`within`), so a bug fails
//! the test instead of hanging it.

#[path = "common/contexts.rs"]
mod contexts;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use motet::chan::{self, Receiver, Sender};
use motet::runtime::Runtime;

use contexts::{go, within, Ctx, Loop, Runtimes, CONTEXTS};

/// A unit's program, in both shapes: blocking (threads, green threads) and
/// async (tasks).
trait Unit: Send + 'static {
    type Out: Send + 'static;
    fn blocking(self) -> Self::Out;
    fn run_async(self) -> impl std::future::Future<Output = Self::Out> + Send;
}

/// Starts `unit` in `ctx`; its output arrives on the returned receiver.
fn run<U: Unit>(ctx: Ctx, rts: &Runtimes, unit: U) -> Receiver<U::Out> {
    go(ctx, rts, unit, |u| u.blocking(), |u| u.run_async())
}

struct Producer {
    tx: Sender<(usize, u64)>,
    id: usize,
    n: u64,
}

impl Unit for Producer {
    type Out = ();
    fn blocking(self) {
        for i in 0..self.n {
            self.tx.send((self.id, i)).unwrap();
        }
    }
    async fn run_async(self) {
        for i in 0..self.n {
            self.tx.send_async((self.id, i)).await.unwrap();
        }
    }
}

struct Consumer {
    rx: Receiver<(usize, u64)>,
}

impl Unit for Consumer {
    type Out = Vec<(usize, u64)>;
    fn blocking(self) -> Self::Out {
        let mut got = Vec::new();
        while let Ok(m) = self.rx.recv() {
            got.push(m);
        }
        got
    }
    async fn run_async(self) -> Self::Out {
        let mut got = Vec::new();
        while let Ok(m) = self.rx.recv_async().await {
            got.push(m);
        }
        got
    }
}

fn check_exactly_once_in_order(results: Vec<Vec<(usize, u64)>>, producers: usize, n: u64) {
    let mut seen = HashSet::new();
    for got in &results {
        let mut last: HashMap<usize, u64> = HashMap::new();
        for &(p, i) in got {
            assert!(seen.insert((p, i)), "({p}, {i}) received twice");
            if let Some(&prev) = last.get(&p) {
                assert!(i > prev, "producer {p}: {i} after {prev}");
            }
            last.insert(p, i);
        }
    }
    assert_eq!(seen.len() as u64, producers as u64 * n, "messages lost");
}

#[test]
fn every_pair_of_contexts_many_producers_many_consumers() {
    within(120, || {
        let rts = Runtimes::new();
        for &pc in CONTEXTS {
            for &cc in CONTEXTS {
                for cap in [Some(0), Some(1), Some(16), None] {
                    let (tx, rx) = match cap {
                        Some(c) => chan::bounded(c),
                        None => chan::unbounded(),
                    };
                    let (producers, consumers, n) = (4, 3, 500);
                    let done: Vec<_> = (0..producers)
                        .map(|id| {
                            let tx = tx.clone();
                            run(pc, &rts, Producer { tx, id, n })
                        })
                        .collect();
                    drop(tx);
                    let outs: Vec<_> = (0..consumers)
                        .map(|_| run(cc, &rts, Consumer { rx: rx.clone() }))
                        .collect();
                    drop(rx);
                    for d in done {
                        d.recv_timeout(Duration::from_secs(30))
                            .unwrap_or_else(|e| panic!("{pc:?}->{cc:?} cap {cap:?}: producer {e}"));
                    }
                    let results = outs
                        .into_iter()
                        .map(|o| o.recv_timeout(Duration::from_secs(30)).unwrap())
                        .collect();
                    check_exactly_once_in_order(results, producers, n);
                }
            }
        }
    });
}

/// A message that records in `lost` if it is dropped without having been
/// received (or handed back to its sender).
struct Msg {
    id: u64,
    accounted: bool,
    lost: Arc<Mutex<Vec<u64>>>,
}

impl Drop for Msg {
    fn drop(&mut self) {
        if !self.accounted {
            self.lost.lock().unwrap().push(self.id);
        }
    }
}

struct Ledger {
    lost: Arc<Mutex<Vec<u64>>>,
    /// Sends that did not report success (cancelled or timed out).
    unsure: Mutex<HashSet<u64>>,
    received: Mutex<HashSet<u64>>,
}

impl Ledger {
    fn receive(&self, mut m: Msg) {
        m.accounted = true;
        assert!(self.received.lock().unwrap().insert(m.id), "{} twice", m.id);
    }
}

/// Producers and consumers on threads and tasks give up at random
/// moments (timeouts drop or cancel their futures; selects lose arms):
/// every message whose send succeeded is received exactly once, and a
/// message is dropped unreceived only if its send did not succeed.
#[test]
fn cancelled_sends_receives_and_selects_lose_nothing() {
    within(120, || {
        let lp = Arc::new(Loop::new());
        for cap in [0usize, 2] {
            let (tx, rx) = chan::bounded::<Msg>(cap);
            let (tx2, rx2) = chan::bounded::<Msg>(cap);
            let ledger = Arc::new(Ledger {
                lost: Arc::new(Mutex::new(Vec::new())),
                unsure: Mutex::new(HashSet::new()),
                received: Mutex::new(HashSet::new()),
            });
            let per = 300u64;
            let mut waits = Vec::new();
            for p in 0..4u64 {
                let (tx, tx2, ledger) = (tx.clone(), tx2.clone(), ledger.clone());
                let (dtx, drx) = chan::bounded::<()>(1);
                waits.push(drx);
                let msg = {
                    let lost = ledger.lost.clone();
                    move |i: u64| Msg {
                        id: p * 1_000_000 + i,
                        accounted: false,
                        lost: lost.clone(),
                    }
                };
                if p % 2 == 0 {
                    thread::spawn(move || {
                        for i in 0..per {
                            let m = msg(i);
                            let id = m.id;
                            let timeout = Duration::from_micros(50 * (i % 7));
                            if i % 3 == 0 {
                                // A select of two sends: the loser keeps its value.
                                let m2 = msg(i + 500_000);
                                let id2 = m2.id;
                                let (mut a, mut b) =
                                    (chan::SendArm::new(&tx, m), chan::SendArm::new(&tx2, m2));
                                let mut sel = chan::Select::new();
                                sel.send(&mut a);
                                sel.send(&mut b);
                                let _ = sel.select_timeout(timeout);
                                for (arm_ok, unsent, id) in [
                                    (matches!(a.take(), Some(Ok(()))), a.into_unsent(), id),
                                    (matches!(b.take(), Some(Ok(()))), b.into_unsent(), id2),
                                ] {
                                    if !arm_ok {
                                        ledger.unsure.lock().unwrap().insert(id);
                                    }
                                    if let Some(mut v) = unsent {
                                        v.accounted = true; // handed back
                                    }
                                }
                            } else {
                                match tx.send_timeout(m, timeout) {
                                    Ok(()) => {}
                                    Err(e) => {
                                        ledger.unsure.lock().unwrap().insert(id);
                                        e.into_inner().accounted = true; // handed back
                                    }
                                }
                            }
                        }
                        let _ = dtx.send(());
                    });
                } else {
                    drop(lp.handle.spawn(async move {
                        for i in 0..per {
                            let m = msg(i);
                            let id = m.id;
                            let t = Duration::from_millis(i % 3);
                            // Timeout drops the future (the value with it).
                            match motet::time::timeout(t, tx.send_async(m)).await {
                                Ok(Ok(())) => {}
                                _ => {
                                    ledger.unsure.lock().unwrap().insert(id);
                                }
                            }
                        }
                        let _ = dtx.send_async(()).await;
                    }));
                }
            }
            drop((tx, tx2));
            let mut consumers = Vec::new();
            for c in 0..4u64 {
                let (rx, rx2, ledger) = (rx.clone(), rx2.clone(), ledger.clone());
                let (dtx, drx) = chan::bounded::<()>(1);
                consumers.push(drx);
                if c % 2 == 0 {
                    thread::spawn(move || {
                        let mut k = 0u64;
                        loop {
                            k += 1;
                            let t = Duration::from_micros(30 * (k % 5));
                            if k % 2 == 0 {
                                let (mut a, mut b) =
                                    (chan::RecvArm::new(&rx), chan::RecvArm::new(&rx2));
                                let mut sel = chan::Select::new();
                                sel.recv(&mut a);
                                sel.recv(&mut b);
                                let _ = sel.select_timeout(t);
                                let (ra, rb) = (a.take(), b.take());
                                let a_closed = matches!(ra, Some(Err(_)));
                                let b_closed = matches!(rb, Some(Err(_)));
                                if let Some(Ok(m)) = ra {
                                    ledger.receive(m);
                                }
                                if let Some(Ok(m)) = rb {
                                    ledger.receive(m);
                                }
                                if a_closed && rx2.is_closed() && rx2.is_empty() {
                                    break;
                                }
                                if b_closed && rx.is_closed() && rx.is_empty() {
                                    break;
                                }
                            } else {
                                match rx.recv_timeout(t) {
                                    Ok(m) => ledger.receive(m),
                                    Err(chan::RecvTimeoutError::Closed) => {
                                        if rx2.is_closed() && rx2.is_empty() {
                                            break;
                                        }
                                    }
                                    Err(_) => {}
                                }
                            }
                        }
                        let _ = dtx.send(());
                    });
                } else {
                    drop(lp.handle.spawn(async move {
                        let mut k = 0u64;
                        loop {
                            k += 1;
                            let t = Duration::from_millis(k % 3);
                            // A closed channel is always ready (as in Go), so a
                            // select that kept it would spin without yielding to
                            // the loop: select only over channels still open.
                            let done1 = rx.is_closed() && rx.is_empty();
                            let done2 = rx2.is_closed() && rx2.is_empty();
                            let r = if done2 {
                                motet::time::timeout(t, rx.recv_async()).await
                            } else if done1 {
                                motet::time::timeout(t, rx2.recv_async()).await
                            } else {
                                motet::time::timeout(t, async {
                                    motet::select_async! {
                                        recv(rx) -> m => m,
                                        recv(rx2) -> m => m,
                                    }
                                })
                                .await
                            };
                            match r {
                                Ok(Ok(m)) => ledger.receive(m),
                                Ok(Err(_))
                                    if rx.is_closed()
                                        && rx2.is_closed()
                                        && rx.is_empty()
                                        && rx2.is_empty() =>
                                {
                                    break
                                }
                                _ => {}
                            }
                        }
                        let _ = dtx.send_async(()).await;
                    }));
                }
            }
            for (k, w) in waits.into_iter().chain(consumers).enumerate() {
                w.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|_| {
                    panic!("unit {k} (0-3 producers, 4-7 consumers; even: threads) did not finish")
                });
            }
            // Whatever is left in the channels counts as received.
            for r in [&rx, &rx2] {
                while let Ok(m) = r.try_recv() {
                    ledger.receive(m);
                }
            }
            let lost = ledger.lost.lock().unwrap().clone();
            let unsure = ledger.unsure.lock().unwrap();
            let received = ledger.received.lock().unwrap();
            for id in &lost {
                assert!(
                    unsure.contains(id),
                    "message {id} was sent successfully but lost"
                );
                assert!(
                    !received.contains(id),
                    "message {id} both received and dropped"
                );
            }
            // Every message is accounted for exactly once.
            let sends = 4 * per + 2 * (per / 3);
            let handed_back = sends as usize - received.len() - lost.len();
            assert!(received.len() + lost.len() + handed_back == sends as usize);
            assert!(!received.is_empty(), "nothing got through at all");
            eprintln!(
                "cap {cap}: {} received, {} dropped with cancelled futures, {handed_back} handed back, {} sends unsure",
                received.len(),
                lost.len(),
                unsure.len()
            );
        }
    });
}

#[test]
fn select_fairness_between_ready_arms() {
    within(60, || {
        let (tx1, rx1) = chan::unbounded::<u8>();
        let (tx2, rx2) = chan::unbounded::<u8>();
        let (tx3, rx3) = chan::unbounded::<u8>();
        let n = 3000;
        for _ in 0..n {
            tx1.send(1).unwrap();
            tx2.send(2).unwrap();
            tx3.send(3).unwrap();
        }
        let mut counts = [0usize; 3];
        for _ in 0..n {
            let i = motet::select! {
                recv(rx1) -> _m => 0,
                recv(rx2) -> _m => 1,
                recv(rx3) -> _m => 2,
            };
            counts[i] += 1;
        }
        // Each arm expects n/3; a loose bound that only a biased choice fails.
        for c in counts {
            assert!(c > n / 3 / 2, "unfair: {counts:?}");
        }
        // Losing arms consumed nothing.
        assert_eq!(rx1.len() + rx2.len() + rx3.len(), 3 * n - n);
    });
}

#[test]
fn waiting_receivers_are_served_in_fifo_order() {
    within(30, || {
        let rt = Runtime::new().unwrap();
        rt.block_on(async {
            let (tx, rx) = chan::bounded::<u32>(0);
            let mut handles = Vec::new();
            for _ in 0..4 {
                let rx = rx.clone();
                handles.push(motet::task::spawn(async move { rx.recv_async().await }));
            }
            // The loop runs tasks in spawn order: after a few yields every
            // receiver is parked, oldest first.
            for _ in 0..4 {
                motet::task::yield_now().await;
            }
            for v in 0..4 {
                // A rendezvous try_send succeeds only into a waiting receiver.
                tx.try_send(v).unwrap();
            }
            for (k, h) in handles.into_iter().enumerate() {
                assert_eq!(h.await.unwrap(), Ok(k as u32));
            }
        });
    });
}

#[test]
fn async_select_with_timeout_and_send_arm() {
    within(30, || {
        let rt = Runtime::new().unwrap();
        rt.block_on(async {
            let (tx, rx) = chan::bounded::<u32>(0);
            // Nobody receives: the timeout arm runs and the value is not sent.
            let r = motet::select_async! {
                send(tx, 1) -> _r => "sent",
                timeout(Duration::from_millis(5)) => "timeout",
            };
            assert_eq!(r, "timeout");
            assert!(rx.try_recv().is_err());
            let h = motet::task::spawn(async move { rx.recv_async().await });
            let r = motet::select_async! {
                send(tx, 2) -> r => { r.unwrap(); "sent" },
                timeout(Duration::from_secs(10)) => "timeout",
            };
            assert_eq!(r, "sent");
            assert_eq!(h.await.unwrap(), Ok(2));
        });
    });
}

#[test]
fn blocking_recv_on_an_event_loop_thread_panics() {
    let rt = Runtime::new().unwrap();
    let (_tx, rx) = chan::bounded::<u8>(1);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async { rx.recv() })
    }));
    assert!(r.is_err());
}

/// Ring channels (`bounded(cap)`, `cap >= 2`) between OS threads, where
/// the lock-free side and the waiting side race on every message: small
/// rings, so senders often wait for room and receivers for values; a lost
/// wake-up hangs (and `within` fails the test). Every value arrives once,
/// in per-producer order, and a close is seen only after the drain.
#[test]
fn ring_channels_between_threads_lose_no_wakeup_or_value() {
    within(120, || {
        for cap in [2usize, 3, 64] {
            let (tx, rx) = chan::bounded::<(usize, u64)>(cap);
            let n = 20_000u64;
            let producers: Vec<_> = (0..2)
                .map(|p| {
                    let tx = tx.clone();
                    thread::spawn(move || {
                        for i in 0..n {
                            tx.send((p, i)).unwrap();
                        }
                    })
                })
                .collect();
            drop(tx);
            let consumers: Vec<_> = (0..2)
                .map(|c| {
                    let rx = rx.clone();
                    thread::spawn(move || {
                        let mut got = Vec::new();
                        if c == 0 {
                            // Blocking receives until closed and drained.
                            while let Ok(m) = rx.recv() {
                                got.push(m);
                            }
                        } else {
                            // Selects over the ring and a channel that
                            // never delivers.
                            let (_never_tx, never) = chan::bounded::<(usize, u64)>(0);
                            loop {
                                let mut a = chan::RecvArm::new(&rx);
                                let mut b = chan::RecvArm::new(&never);
                                let mut sel = chan::Select::new();
                                sel.recv(&mut a);
                                sel.recv(&mut b);
                                assert_eq!(sel.select(), 0);
                                match a.take() {
                                    Some(Ok(m)) => got.push(m),
                                    _ => break,
                                }
                            }
                        }
                        got
                    })
                })
                .collect();
            for p in producers {
                p.join().unwrap();
            }
            let results: Vec<Vec<(usize, u64)>> =
                consumers.into_iter().map(|c| c.join().unwrap()).collect();
            check_exactly_once_in_order(results, 2, n);
            assert_eq!(rx.try_recv(), Err(chan::TryRecvError::Closed));
        }
    });
}

/// How many operations a unit completes on a channel that is always
/// ready before a unit queued behind it on the same event loop gets to
/// run: the first unit stops when the second has run, or after `N`.
const N: usize = 20_000;

/// Runs `busy` (given the "the other unit ran" flag) then a unit that sets
/// the flag, both on one event loop, and returns `busy`'s count.
fn count_before_the_other_runs<F>(busy: F) -> usize
where
    F: FnOnce(Arc<std::sync::atomic::AtomicBool>) -> motet::task::JoinHandle<usize>
        + Send
        + 'static,
{
    use std::sync::atomic::{AtomicBool, Ordering};
    within(60, move || {
        let rt = Runtime::builder().event_loop().build().unwrap();
        rt.block_on(async move {
            let ran = Arc::new(AtomicBool::new(false));
            let h = busy(ran.clone());
            let other = motet::task::spawn(async move { ran.store(true, Ordering::SeqCst) });
            let n = h.await.unwrap();
            other.await.unwrap();
            n
        })
    })
}

/// [`count_before_the_other_runs`] for a green thread that does `op`
/// over and over.
fn count_green_ops<F: FnMut() + Send + 'static>(mut op: F) -> usize {
    count_before_the_other_runs(move |ran| {
        motet::green::spawn(move || {
            let mut n = 0;
            while !ran.load(std::sync::atomic::Ordering::SeqCst) && n < N {
                op();
                n += 1;
            }
            n
        })
    })
}

/// A channel of `N` values ready to be received.
fn full_channel() -> (Sender<u32>, Receiver<u32>) {
    let (tx, rx) = chan::unbounded();
    for i in 0..N as u32 {
        tx.send(i).unwrap();
    }
    (tx, rx)
}

fn assert_yielded(what: &str, n: usize) {
    assert!(
        n > 0 && n < N,
        "{what}: {n} of {N} operations before the other unit ran (it never yielded)"
    );
}

/// The cooperative budget covers channels: a unit that keeps finding its
/// channel ready (always a value to receive, always room to send) still
/// lets the others on its thread run, async tasks and green threads alike,
/// through every shape of the operation.
#[test]
fn units_on_always_ready_channels_let_others_run() {
    use std::sync::atomic::Ordering;
    let recv_async = count_before_the_other_runs(|ran| {
        let (tx, rx) = full_channel();
        motet::task::spawn(async move {
            let mut n = 0;
            while !ran.load(Ordering::SeqCst) && n < N {
                rx.recv_async().await.unwrap();
                n += 1;
            }
            drop(tx);
            n
        })
    });
    assert_yielded("recv_async", recv_async);

    let send_async = count_before_the_other_runs(|ran| {
        let (tx, rx) = chan::unbounded::<u32>();
        motet::task::spawn(async move {
            let mut n = 0;
            while !ran.load(Ordering::SeqCst) && n < N {
                tx.send_async(1).await.unwrap();
                n += 1;
            }
            drop(rx);
            n
        })
    });
    assert_yielded("send_async", send_async);

    let select_async = count_before_the_other_runs(|ran| {
        let (tx, rx) = full_channel();
        motet::task::spawn(async move {
            let mut n = 0;
            while !ran.load(Ordering::SeqCst) && n < N {
                motet::select_async! {
                    recv(rx) -> v => { v.unwrap(); }
                }
                n += 1;
            }
            drop(tx);
            n
        })
    });
    assert_yielded("select_async", select_async);

    // Each green unit's closure owns both ends of its channel.
    let (tx, rx) = full_channel();
    let green_recv = count_green_ops(move || {
        let _sender = &tx;
        rx.recv().unwrap();
    });
    assert_yielded("green recv", green_recv);

    let (tx, rx) = full_channel();
    let green_recv_timeout = count_green_ops(move || {
        let _sender = &tx;
        rx.recv_timeout(Duration::from_secs(10)).unwrap();
    });
    assert_yielded("green recv_timeout", green_recv_timeout);

    let (tx, rx) = chan::bounded::<u32>(N);
    let green_send = count_green_ops(move || {
        let _receiver = &rx;
        tx.send(1).unwrap();
    });
    assert_yielded("green send (ring channel)", green_send);

    let (tx, rx) = full_channel();
    let green_select = count_green_ops(move || {
        let _sender = &tx;
        motet::select! {
            recv(rx) -> v => { v.unwrap(); }
        }
    });
    assert_yielded("green select", green_select);
}
