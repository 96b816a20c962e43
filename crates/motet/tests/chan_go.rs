//! Go's channel tests, re-created from what they check (written here, not
//! translated): buffered and unbuffered transfer, close, len/cap,
//! non-blocking operations, select (fairness, default, self-select, send
//! and receive on one channel), a prime sieve pipeline, ping-pong, and many
//! goroutines sending to one channel. "Goroutines" are OS threads here and,
//! where marked, async tasks. Every wait is bounded.

use std::thread;
use std::time::Duration;

use motet::chan::{self, RecvTimeoutError, TryRecvError, TrySendError};

const LIMIT: Duration = Duration::from_secs(20);

fn within<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = chan::bounded(1);
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the test did not finish in time (deadlock or lost wake-up?)")
}

#[test]
fn send_recv_in_order_for_every_capacity() {
    within(|| {
        for cap in [0, 1, 2, 10, 100] {
            let (tx, rx) = chan::bounded(cap);
            let n = 1000;
            let t = thread::spawn(move || {
                for i in 0..n {
                    tx.send(i).unwrap();
                }
            });
            for i in 0..n {
                assert_eq!(rx.recv_timeout(LIMIT), Ok(i), "cap {cap}");
            }
            t.join().unwrap();
            assert_eq!(rx.recv_timeout(LIMIT), Err(RecvTimeoutError::Closed));
        }
    });
}

#[test]
fn unbuffered_send_completes_only_when_received() {
    within(|| {
        let (tx, rx) = chan::bounded::<u32>(0);
        let (done_tx, done_rx) = chan::unbounded();
        let t = thread::spawn(move || {
            tx.send(1).unwrap();
            done_tx.send(()).unwrap();
        });
        // Without a receiver the send cannot complete.
        assert_eq!(
            done_rx.recv_timeout(Duration::from_millis(50)),
            Err(RecvTimeoutError::Timeout)
        );
        assert_eq!(rx.recv_timeout(LIMIT), Ok(1));
        assert_eq!(done_rx.recv_timeout(LIMIT), Ok(()));
        t.join().unwrap();
    });
}

#[test]
fn close_drains_then_reports_closed_and_sends_fail() {
    let (tx, rx) = chan::bounded(3);
    tx.send(1).unwrap();
    tx.send(2).unwrap();
    tx.close();
    assert!(tx.is_closed() && rx.is_closed());
    assert_eq!(tx.try_send(3), Err(TrySendError::Closed(3)));
    assert_eq!(tx.send(4).unwrap_err().into_inner(), 4);
    assert_eq!(rx.recv(), Ok(1));
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    assert!(rx.recv().is_err());
    // Closing again changes nothing and does not panic.
    tx.close();
    rx.close();
    assert!(rx.recv().is_err());
}

#[test]
fn close_wakes_blocked_receivers_and_senders() {
    within(|| {
        let (tx, rx) = chan::bounded::<u8>(0);
        let receivers: Vec<_> = (0..3)
            .map(|_| {
                let rx = rx.clone();
                thread::spawn(move || rx.recv_timeout(LIMIT))
            })
            .collect();
        let (tx2, rx2) = chan::bounded::<u8>(0);
        let sender = thread::spawn(move || tx2.send_timeout(9, LIMIT));
        thread::sleep(Duration::from_millis(20));
        tx.close();
        rx2.close();
        for r in receivers {
            assert_eq!(r.join().unwrap(), Err(RecvTimeoutError::Closed));
        }
        let e = sender.join().unwrap().unwrap_err();
        assert!(!e.is_timeout());
        assert_eq!(e.into_inner(), 9);
    });
}

#[test]
fn dropping_every_sender_closes_and_every_receiver_fails_sends() {
    let (tx, rx) = chan::unbounded::<u8>();
    let tx2 = tx.clone();
    tx.send(1).unwrap();
    drop(tx);
    assert!(!rx.is_closed());
    drop(tx2);
    assert!(rx.is_closed());
    assert_eq!(rx.recv(), Ok(1));
    assert!(rx.recv().is_err());

    let (tx, rx) = chan::bounded::<u8>(5);
    drop(rx);
    assert_eq!(tx.send(1).unwrap_err().0, 1);
}

#[test]
fn len_and_cap() {
    let (tx, rx) = chan::bounded(10);
    assert_eq!((tx.len(), tx.capacity()), (0, Some(10)));
    for i in 0..7 {
        tx.send(i).unwrap();
    }
    assert_eq!((rx.len(), rx.capacity()), (7, Some(10)));
    assert!(!rx.is_empty());
    rx.recv().unwrap();
    assert_eq!(rx.len(), 6);
    let (tx, _rx) = chan::bounded::<u8>(0);
    assert_eq!((tx.len(), tx.capacity()), (0, Some(0)));
    let (tx, _rx) = chan::unbounded::<u8>();
    assert_eq!(tx.capacity(), None);
}

#[test]
fn nonblocking_ops() {
    within(|| {
        let (tx, rx) = chan::bounded::<u32>(1);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        tx.try_send(1).unwrap();
        assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
        assert_eq!(rx.try_recv(), Ok(1));

        // Unbuffered: a non-blocking send succeeds only into a blocked
        // receiver (retry until the receiver is parked).
        let (tx, rx) = chan::bounded::<u32>(0);
        assert_eq!(tx.try_send(5), Err(TrySendError::Full(5)));
        let t = thread::spawn(move || rx.recv_timeout(LIMIT));
        let mut v = 7;
        loop {
            match tx.try_send(v) {
                Ok(()) => break,
                Err(TrySendError::Full(back)) => v = back,
                Err(e) => panic!("{e}"),
            }
            thread::yield_now();
        }
        assert_eq!(t.join().unwrap(), Ok(7));

        // And a non-blocking receive takes from a blocked sender.
        let (tx, rx) = chan::bounded::<u32>(0);
        let t = thread::spawn(move || tx.send_timeout(8, LIMIT));
        loop {
            match rx.try_recv() {
                Ok(v) => {
                    assert_eq!(v, 8);
                    break;
                }
                Err(TryRecvError::Empty) => thread::yield_now(),
                Err(e) => panic!("{e}"),
            }
        }
        assert!(t.join().unwrap().is_ok());
    });
}

#[test]
fn select_default_runs_when_nothing_is_ready() {
    let (tx, rx) = chan::bounded::<u8>(0);
    let r = motet::select! {
        recv(rx) -> _m => "recv",
        send(tx, 1) -> _r => "send",
        default => "default",
    };
    assert_eq!(r, "default");
    assert!(rx.try_recv().is_err(), "the losing send must not have sent");
}

#[test]
fn select_on_a_closed_channel_is_always_ready() {
    let (tx, rx) = chan::bounded::<u8>(0);
    let (_keep, never) = chan::bounded::<u8>(0);
    drop(tx);
    for _ in 0..10 {
        let r = motet::select! {
            recv(rx) -> m => m.is_err(),
            recv(never) -> _m => false,
        };
        assert!(r);
    }
}

#[test]
fn select_send_and_recv_on_one_channel() {
    let (tx, rx) = chan::bounded::<u8>(1);
    // Empty: only the send can proceed.
    let r = motet::select! {
        send(tx, 1) -> r => { r.unwrap(); "send" },
        recv(rx) -> _m => "recv",
    };
    assert_eq!(r, "send");
    // Full: only the receive can proceed.
    let r = motet::select! {
        send(tx, 2) -> _r => "send".to_string(),
        recv(rx) -> m => format!("recv {}", m.unwrap()),
    };
    assert_eq!(r, "recv 1");
}

#[test]
fn self_select_never_communicates_with_itself() {
    // Two threads each select { send c, recv c } on one unbuffered
    // channel, many times: every exchange pairs the two threads (with
    // more threads one could be left without a partner at the end).
    within(|| {
        let (tx, rx) = chan::bounded::<usize>(0);
        let threads: Vec<_> = (0..2)
            .map(|me| {
                let (tx, rx) = (tx.clone(), rx.clone());
                thread::spawn(move || {
                    for _ in 0..2000 {
                        motet::select! {
                            send(tx, me) -> r => r.unwrap(),
                            recv(rx) -> m => assert_ne!(m.unwrap(), me, "a select met itself"),
                            timeout(LIMIT) => panic!("stuck"),
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    });
}

#[test]
fn select_fairness_with_senders() {
    // Two channels always ready to receive: each arm wins about half the
    // time (a loose bound that only a biased choice fails).
    let (tx1, rx1) = chan::bounded::<u8>(100_000);
    let (tx2, rx2) = chan::bounded::<u8>(100_000);
    let n = 10_000;
    let mut first = 0;
    for _ in 0..n {
        motet::select! {
            send(tx1, 1) -> _r => first += 1,
            send(tx2, 2) -> _r => {},
        }
    }
    assert!(
        first > n / 4 && first < 3 * n / 4,
        "first won {first} of {n}"
    );
    assert_eq!(rx1.len() + rx2.len(), n);
}

#[test]
fn select_timeout_fires_when_nothing_comes() {
    let (_tx, rx) = chan::bounded::<u8>(0);
    let r = motet::select! {
        recv(rx) -> _m => false,
        timeout(Duration::from_millis(5)) => true,
    };
    assert!(r);
}

#[test]
fn prime_sieve_pipeline() {
    // Go's concurrent prime sieve: a generator and one filter stage per
    // prime, each a thread, connected by unbuffered channels.
    within(|| {
        let (gen_tx, mut src) = chan::bounded::<u64>(0);
        thread::spawn(move || {
            for i in 2.. {
                if gen_tx.send(i).is_err() {
                    return;
                }
            }
        });
        let mut primes = Vec::new();
        for _ in 0..25 {
            let p = src.recv_timeout(LIMIT).unwrap();
            primes.push(p);
            let (tx, rx) = chan::bounded::<u64>(0);
            let input = src;
            thread::spawn(move || {
                while let Ok(v) = input.recv() {
                    if v % p != 0 && tx.send(v).is_err() {
                        return;
                    }
                }
            });
            src = rx;
        }
        assert_eq!(
            primes,
            [
                2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79,
                83, 89, 97
            ]
        );
        // Dropping the last receiver unwinds the whole pipeline.
    });
}

#[test]
fn prime_sieve_with_async_tasks() {
    within(|| {
        let rt = motet::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let (gen_tx, mut src) = chan::bounded::<u64>(0);
            drop(motet::task::spawn(async move {
                for i in 2.. {
                    if gen_tx.send_async(i).await.is_err() {
                        return;
                    }
                }
            }));
            let mut primes = Vec::new();
            for _ in 0..25 {
                let p = src.recv_async().await.unwrap();
                primes.push(p);
                let (tx, rx) = chan::bounded::<u64>(0);
                let input = src;
                drop(motet::task::spawn(async move {
                    while let Ok(v) = input.recv_async().await {
                        if v % p != 0 && tx.send_async(v).await.is_err() {
                            return;
                        }
                    }
                }));
                src = rx;
            }
            assert_eq!(primes.last(), Some(&97));
        });
    });
}

#[test]
fn ping_pong() {
    within(|| {
        let (ping_tx, ping_rx) = chan::bounded::<u64>(0);
        let (pong_tx, pong_rx) = chan::bounded::<u64>(0);
        let b = thread::spawn(move || {
            while let Ok(v) = ping_rx.recv() {
                pong_tx.send(v).unwrap();
            }
        });
        let mut sum = 0;
        for i in 0..10_000 {
            ping_tx.send(i).unwrap();
            sum += pong_rx.recv_timeout(LIMIT).unwrap();
        }
        drop(ping_tx);
        b.join().unwrap();
        assert_eq!(sum, 10_000 * 9_999 / 2);
    });
}

#[test]
fn many_goroutines_send_to_one_channel() {
    within(|| {
        let (tx, rx) = chan::bounded::<u64>(0);
        let threads: Vec<_> = (0..100u64)
            .map(|t| {
                let tx = tx.clone();
                thread::spawn(move || {
                    for i in 0..100 {
                        tx.send(t * 100 + i).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        let mut sum = 0;
        let mut n = 0;
        while let Ok(v) = rx.recv_timeout(LIMIT) {
            sum += v;
            n += 1;
        }
        assert_eq!(n, 10_000);
        assert_eq!(sum, 10_000 * 9_999 / 2);
        for t in threads {
            t.join().unwrap();
        }
    });
}

#[test]
fn many_tasks_and_threads_on_one_channel() {
    within(|| {
        let rt = motet::runtime::Runtime::new().unwrap();
        let (tx, rx) = chan::bounded::<u64>(4);
        let threads: Vec<_> = (0..10u64)
            .map(|t| {
                let tx = tx.clone();
                thread::spawn(move || {
                    for i in 0..100 {
                        tx.send(t * 100 + i).unwrap();
                    }
                })
            })
            .collect();
        let sum = rt.block_on(async move {
            for t in 10..20u64 {
                let tx = tx.clone();
                drop(motet::task::spawn(async move {
                    for i in 0..100 {
                        tx.send_async(t * 100 + i).await.unwrap();
                    }
                }));
            }
            drop(tx);
            let mut sum = 0;
            while let Ok(v) = rx.recv_async().await {
                sum += v;
            }
            sum
        });
        assert_eq!(sum, 2000 * 1999 / 2);
        for t in threads {
            t.join().unwrap();
        }
    });
}

#[test]
fn error_values_display() {
    let (tx, rx) = chan::bounded::<u8>(0);
    assert_eq!(
        tx.try_send(1).unwrap_err().to_string(),
        "sending on a full channel"
    );
    tx.close();
    assert_eq!(
        tx.send(1).unwrap_err().to_string(),
        "sending on a closed channel"
    );
    assert_eq!(
        rx.recv().unwrap_err().to_string(),
        "receiving on a closed and empty channel"
    );
    let e: Box<dyn std::error::Error> = Box::new(rx.try_recv().unwrap_err());
    assert!(!e.to_string().is_empty());
}
