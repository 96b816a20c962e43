//! Loom models of the channel protocol: every interleaving of a few
//! threads, with cancellation and select. Each model counts values: every
//! value sent ends up in exactly one place (received, handed back, or
//! still in the channel).
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p motet --lib --release -- loom_tests`

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use loom::thread;

use super::*;
use crate::loom::block_on;

/// Runs a model exhaustively (no preemption bound: these finish in
/// seconds).
fn model<F: Fn() + Sync + Send + 'static>(f: F) {
    loom::model(f);
}

/// Polls once with a waker that does nothing.
fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    Pin::new(f).poll(&mut cx)
}

/// Drains what is left in the channel.
fn drain(rx: &Receiver<u32>) -> Vec<u32> {
    let mut out = Vec::new();
    while let Ok(v) = rx.try_recv() {
        out.push(v);
    }
    out
}

#[test]
fn rendezvous_send_recv_blocking_on_futures() {
    model(|| {
        let (tx, rx) = bounded::<u32>(0);
        let t = thread::spawn(move || {
            block_on(tx.send_async(7)).unwrap();
        });
        assert_eq!(block_on(rx.recv_async()), Ok(7));
        t.join().unwrap();
    });
}

#[test]
fn buffered_close_drains_then_closed() {
    model(|| {
        let (tx, rx) = bounded::<u32>(1);
        let t = thread::spawn(move || {
            tx.send_async(1).now_or_block();
            tx.close();
        });
        assert_eq!(block_on(rx.recv_async()), Ok(1));
        assert_eq!(block_on(rx.recv_async()), Err(RecvError));
        t.join().unwrap();
    });
}

trait NowOrBlock {
    fn now_or_block(self);
}

impl<'a> NowOrBlock for SendFut<'a, u32> {
    fn now_or_block(self) {
        block_on(self).unwrap();
    }
}

#[test]
fn cancelled_send_and_recv_lose_nothing() {
    model(|| {
        let (tx, rx) = bounded::<u32>(0);
        let rx2 = rx.clone();
        let sender = thread::spawn(move || {
            let mut f = tx.send_async(1);
            match poll_once(&mut f) {
                Poll::Ready(r) => {
                    r.unwrap();
                    0
                }
                Poll::Pending => match f.cancel() {
                    Some(_) => 1, // handed back
                    None => 0,    // taken by a receiver
                },
            }
        });
        let receiver = thread::spawn(move || {
            let mut f = rx2.recv_async();
            match poll_once(&mut f) {
                Poll::Ready(r) => r.map(|_| 1).unwrap_or(0),
                // Dropped while pending: a handed value goes back.
                Poll::Pending => 0,
            }
        });
        let back = sender.join().unwrap();
        let got = receiver.join().unwrap();
        let left = drain(&rx).len() as u32;
        assert_eq!(back + got + left, 1, "back {back} got {got} left {left}");
    });
}

#[test]
fn select_recv_cancelled_loses_nothing() {
    model(|| {
        let (tx1, rx1) = bounded::<u32>(0);
        let (tx2, rx2) = bounded::<u32>(1);
        let s1 = thread::spawn(move || tx1.try_send(1).is_ok() as u32);
        let s2 = thread::spawn(move || tx2.try_send(2).is_ok() as u32);
        let got = {
            let mut a = RecvArm::new(&rx1);
            let mut b = RecvArm::new(&rx2);
            let mut sel = Select::new();
            sel.recv(&mut a);
            sel.recv(&mut b);
            let mut fut = sel.select_async();
            let done = poll_once(&mut fut).is_ready();
            let late = fut.cancel().is_some();
            drop(fut);
            let (ra, rb) = (a.take(), b.take());
            let got = matches!(ra, Some(Ok(_))) as u32 + matches!(rb, Some(Ok(_))) as u32;
            assert!(ra.is_none() || rb.is_none(), "a select completed two arms");
            assert!(got <= 1, "a select completed two arms");
            assert!(!(done && late));
            (got, ra, rb)
        };
        let (got, ra, rb) = got;
        let (o1, o2) = (s1.join().unwrap(), s2.join().unwrap());
        let sent = o1 + o2;
        let (l1, l2) = (drain(&rx1), drain(&rx2));
        let left = (l1.len() + l2.len()) as u32;
        assert_eq!(
            got + left,
            sent,
            "{ra:?} {rb:?} left {l1:?} {l2:?} sent {o1} {o2}"
        );
    });
}

#[test]
fn select_send_arms_complete_at_most_once() {
    model(|| {
        let (tx1, rx1) = bounded::<u32>(0);
        let (tx2, rx2) = bounded::<u32>(0);
        let r1 = thread::spawn(move || drain(&rx1).len() as u32);
        let r2 = thread::spawn(move || {
            let mut f = rx2.recv_async();
            poll_once(&mut f).is_ready() as u32 + f.cancel().is_some() as u32
        });
        let mut a = SendArm::new(&tx1, 1);
        let mut b = SendArm::new(&tx2, 2);
        let mut sel = Select::new();
        sel.send(&mut a);
        sel.send(&mut b);
        let mut fut = sel.select_async();
        let _ = poll_once(&mut fut);
        drop(fut);
        let (ra, rb) = (a.take(), b.take());
        assert!(ra.is_none() || rb.is_none(), "a select completed two arms");
        let won = matches!(ra, Some(Ok(()))) as u32 + matches!(rb, Some(Ok(()))) as u32;
        let failed = matches!(ra, Some(Err(_))) as u32 + matches!(rb, Some(Err(_))) as u32;
        let unsent = failed + a.into_unsent().is_some() as u32 + b.into_unsent().is_some() as u32;
        let received = r1.join().unwrap() + r2.join().unwrap();
        assert!(won <= 1);
        assert_eq!(received, won);
        assert_eq!(unsent + won, 2);
    });
}

#[test]
fn a_handed_value_goes_back_when_its_receiver_is_dropped() {
    model(|| {
        let (tx, rx) = bounded::<u32>(0);
        let rx2 = rx.clone();
        // Receiver A parks, then gives up at some point.
        let a = thread::spawn(move || {
            let mut f = rx2.recv_async();
            let got = matches!(poll_once(&mut f), Poll::Ready(Ok(_))) as u32;
            drop(f); // a value handed to it meanwhile must go back
            got
        });
        // The sender hands the value to whichever receiver waits.
        let s = thread::spawn(move || tx.try_send(5).is_ok() as u32);
        let got_a = a.join().unwrap();
        let sent = s.join().unwrap();
        let left = drain(&rx).len() as u32;
        assert_eq!(got_a + left, sent, "got {got_a} left {left} sent {sent}");
    });
}

/// A waiting receive future polled again while a sender hands it a value,
/// then dropped: the value is counted once, by a poll or by the drop's
/// put-back.
#[test]
fn a_second_poll_racing_a_hand_over_takes_the_value_once() {
    model(|| {
        let (tx, rx) = bounded::<u32>(0);
        let rx2 = rx.clone();
        let s = thread::spawn(move || tx.try_send(5).is_ok() as u32);
        let mut f = rx2.recv_async();
        let mut got = 0;
        for _ in 0..2 {
            // Closed once the sender is gone, unless the value came first.
            if let Poll::Ready(r) = poll_once(&mut f) {
                got = r.is_ok() as u32;
                break;
            }
        }
        drop(f);
        let sent = s.join().unwrap();
        let left = drain(&rx).len() as u32;
        assert_eq!(got + left, sent, "got {got} left {left} sent {sent}");
    });
}

// Ring channels (`bounded(cap)`, `cap >= 2`): a lock-free push or pop
// racing a thread that takes the lock to wait. Each is the flag-and-fence
// handshake of the essay in `chan/mod.rs`; with either fence removed
// (`fast_side_fence` in `chan/state.rs`, or the one in `Locked::raise`),
// the first two models report a deadlock (a lost wake-up).

/// Runs a model with at most three preemptions (loom's docs: most bugs
/// need two or three), for a model that runs for more than ten minutes
/// exhaustively.
fn model_bounded<F: Fn() + Sync + Send + 'static>(f: F) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(3);
    b.check(f);
}

/// The channels with a lock-free queue, as the models below make them: a
/// ring of two and an unbounded list (whose blocks hold two values under
/// loom).
type Make = fn() -> (Sender<u32>, Receiver<u32>);

fn ring_of_two() -> (Sender<u32>, Receiver<u32>) {
    bounded(2)
}

fn list() -> (Sender<u32>, Receiver<u32>) {
    unbounded()
}

/// A lock-free push racing a receiver that registers under the lock: it
/// blocks until woken, so a lost wake-up is a deadlock loom reports.
fn fast_push_racing_a_registering_receiver(make: Make) {
    model(move || {
        let (tx, rx) = make();
        let t = thread::spawn(move || tx.try_send(1).is_ok());
        assert_eq!(block_on(rx.recv_async()), Ok(1));
        assert!(t.join().unwrap());
    });
}

#[test]
fn ring_fast_push_racing_a_registering_receiver() {
    fast_push_racing_a_registering_receiver(ring_of_two);
}

#[test]
fn list_fast_push_racing_a_registering_receiver() {
    fast_push_racing_a_registering_receiver(list);
}

/// A send racing a close, with a receiver waiting across the close: it
/// sees the value if the send got in before the close mark, then closed.
/// Bounded: exhaustively the ring's ran for over ten minutes (three
/// threads and a blocking receiver that may park and be woken by the
/// close).
fn send_racing_close_is_drained_or_handed_back(make: Make) {
    model_bounded(move || {
        let (tx, rx) = make();
        let tx2 = tx.clone();
        let s = thread::spawn(move || tx.try_send(1));
        let c = thread::spawn(move || tx2.close());
        let got = block_on(rx.recv_async());
        let sent = s.join().unwrap();
        c.join().unwrap();
        match sent {
            Ok(()) => assert_eq!(got, Ok(1)),
            Err(TrySendError::Closed(v)) => {
                assert_eq!(v, 1);
                assert_eq!(got, Err(RecvError));
            }
            Err(TrySendError::Full(_)) => panic!("an empty queue channel was full"),
        }
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    });
}

#[test]
fn ring_send_racing_close_is_drained_or_handed_back() {
    send_racing_close_is_drained_or_handed_back(ring_of_two);
}

#[test]
fn list_send_racing_close_is_drained_or_handed_back() {
    send_racing_close_is_drained_or_handed_back(list);
}

/// A select parked on a queue channel and a rendezvous one is woken by a
/// lock-free push.
fn select_recv_wakes_on_a_fast_push(make: Make) {
    model(move || {
        let (tx1, rx1) = make();
        let (_tx2, rx2) = bounded::<u32>(0);
        let t = thread::spawn(move || tx1.try_send(1).is_ok());
        let mut a = RecvArm::new(&rx1);
        let mut b = RecvArm::new(&rx2);
        let mut sel = Select::new();
        sel.recv(&mut a);
        sel.recv(&mut b);
        assert_eq!(block_on(sel.select_async()), 0);
        assert_eq!(a.take(), Some(Ok(1)));
        assert!(t.join().unwrap());
    });
}

#[test]
fn ring_select_recv_wakes_on_a_fast_push() {
    select_recv_wakes_on_a_fast_push(ring_of_two);
}

#[test]
fn list_select_recv_wakes_on_a_fast_push() {
    select_recv_wakes_on_a_fast_push(list);
}

#[test]
fn ring_fast_pop_racing_a_sender_waiting_for_room() {
    model(|| {
        let (tx, rx) = bounded::<u32>(2);
        tx.try_send(1).unwrap();
        tx.try_send(2).unwrap();
        let t = thread::spawn(move || rx.try_recv().map(|v| (v, rx)));
        block_on(tx.send_async(3)).unwrap();
        // The pop happened (the send could complete only after it), and
        // order is kept.
        let (first, rx) = t.join().unwrap().expect("the ring was full");
        assert_eq!(first, 1);
        assert_eq!(drain(&rx), [2, 3]);
    });
}

#[test]
fn ring_fast_push_racing_a_cancelled_receiver() {
    model(|| {
        let (tx, rx) = bounded::<u32>(2);
        let rx2 = rx.clone();
        let a = thread::spawn(move || {
            let mut f = rx2.recv_async();
            let got = matches!(poll_once(&mut f), Poll::Ready(Ok(_))) as u32;
            drop(f); // a value handed to it meanwhile must go back
            got
        });
        let sent = tx.try_send(5).is_ok() as u32;
        let got = a.join().unwrap();
        let left = drain(&rx).len() as u32;
        assert_eq!(sent, 1);
        assert_eq!(got + left, sent, "got {got} left {left}");
    });
}

#[test]
fn ring_select_send_wakes_on_a_fast_pop() {
    model(|| {
        let (tx1, rx1) = bounded::<u32>(2);
        let (tx2, _rx2) = bounded::<u32>(0);
        tx1.try_send(1).unwrap();
        tx1.try_send(2).unwrap();
        let t = thread::spawn(move || rx1.try_recv().map(|v| (v, rx1)));
        let mut a = SendArm::new(&tx1, 3);
        let mut b = SendArm::new(&tx2, 9);
        let mut sel = Select::new();
        sel.send(&mut a);
        sel.send(&mut b);
        assert_eq!(block_on(sel.select_async()), 0);
        assert!(matches!(a.take(), Some(Ok(()))));
        assert_eq!(b.into_unsent(), Some(9));
        let (first, rx1) = t.join().unwrap().expect("the ring was full");
        assert_eq!(first, 1);
        assert_eq!(drain(&rx1), [2, 3]);
    });
}

// Unbounded channels: the list (`chan/list.rs`) behind the same
// flag-and-fence handshake as the ring. Under loom a list block has two
// slots, so a third value crosses into a second block. Sends never wait,
// so only receivers park; a lost wake-up is a deadlock loom reports.

/// A sender fills the last slot of the first block (linking the second)
/// and the first of the second, while a receiver waits for each value in
/// turn: each arrives once, in order. (With two senders and a waiting
/// receiver, three threads, the model ran for over ten minutes; the
/// list's own model `pushes_across_a_block_boundary` races two pushers.)
#[test]
fn list_sends_across_a_block_boundary() {
    model(|| {
        let (tx, rx) = unbounded::<u32>();
        tx.try_send(0).unwrap();
        let t = thread::spawn(move || {
            tx.try_send(1).unwrap();
            tx.try_send(2).unwrap();
        });
        for want in 0..3 {
            assert_eq!(block_on(rx.recv_async()), Ok(want));
        }
        t.join().unwrap();
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    });
}

/// Two receivers empty the first block (whichever finishes last frees
/// it) while a sender fills the second: nothing lost, nothing twice.
#[test]
fn list_concurrent_receives_free_a_block() {
    model(|| {
        let (tx, rx) = unbounded::<u32>();
        tx.try_send(1).unwrap();
        tx.try_send(2).unwrap();
        let receivers: Vec<_> = (0..2)
            .map(|_| {
                let rx = rx.clone();
                thread::spawn(move || rx.try_recv().ok())
            })
            .collect();
        tx.try_send(3).unwrap();
        let mut got: Vec<u32> = receivers
            .into_iter()
            .filter_map(|t| t.join().unwrap())
            .collect();
        got.extend(drain(&rx));
        got.sort_unstable();
        assert_eq!(got, [1, 2, 3]);
    });
}

/// A receiver that parks and is dropped while a send hands it the value:
/// the value goes back (to the front, before a later fast send's), and
/// per-producer order holds.
#[test]
fn list_fast_push_racing_a_cancelled_receiver() {
    model(|| {
        let (tx, rx) = unbounded::<u32>();
        let rx2 = rx.clone();
        let a = thread::spawn(move || {
            let mut f = rx2.recv_async();
            let got = match poll_once(&mut f) {
                Poll::Ready(Ok(v)) => vec![v],
                _ => Vec::new(),
            };
            drop(f); // a value handed to it meanwhile must go back
            got
        });
        tx.try_send(5).unwrap();
        tx.try_send(6).unwrap();
        let mut got = a.join().unwrap();
        got.extend(drain(&rx));
        assert_eq!(got, [5, 6]);
    });
}
