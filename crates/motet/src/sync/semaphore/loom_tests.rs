//! Loom models of the semaphore: every interleaving of two or three
//! threads acquiring and releasing, one of them cancelling. Each model
//! checks that permits are conserved (all back at the end) and that no
//! waiter is left stuck (a lost wake-up is a deadlock loom reports).
//!
//! Run: `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p motet --lib --release -- loom_tests`

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use loom::thread;

use super::*;
use crate::loom::block_on;

/// Polls once with a waker that does nothing.
fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    Pin::new(f).poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn two_threads_contend_for_one_permit() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let s2 = sem.clone();
        let t = thread::spawn(move || {
            let p = block_on(s2.acquire()).unwrap();
            drop(p);
        });
        let p = block_on(sem.acquire()).unwrap();
        drop(p);
        t.join().unwrap();
        assert_eq!(sem.available_permits(), 1);
    });
}

#[test]
fn cancelled_acquire_passes_its_grant_on() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.clone().try_acquire_owned().unwrap();
        // A waiter that polls once (queues) and then gives up, racing
        // with the release and with a second waiter.
        let s1 = sem.clone();
        let canceller = thread::spawn(move || {
            let mut a = s1.acquire();
            let _ = poll_once(&mut a);
            drop(a);
        });
        let s2 = sem.clone();
        let waiter = thread::spawn(move || {
            let p = block_on(s2.acquire()).unwrap();
            drop(p);
        });
        drop(held);
        canceller.join().unwrap();
        waiter.join().unwrap();
        assert_eq!(sem.available_permits(), 1);
    });
}

#[test]
fn many_permits_with_close() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(2));
        let s1 = sem.clone();
        let t = thread::spawn(move || {
            // Either gets both permits or sees the close.
            match block_on(s1.acquire_many(2)) {
                Ok(p) => drop(p),
                Err(AcquireError(())) => {}
            }
        });
        let one = block_on(sem.acquire()).unwrap();
        sem.close();
        drop(one);
        t.join().unwrap();
        assert_eq!(sem.available_permits(), 2);
    });
}

#[test]
fn cancelled_large_head_lets_a_small_waiter_through() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.clone().try_acquire_owned().unwrap();
        // A request for 2 (more than exist) that may reach the head of the
        // queue and is then cancelled: the waiter behind it must not hang.
        let s1 = sem.clone();
        let big = thread::spawn(move || {
            let mut a = s1.acquire_many(2);
            assert!(poll_once(&mut a).is_pending());
            drop(a);
        });
        let s2 = sem.clone();
        let small = thread::spawn(move || {
            let p = block_on(s2.acquire()).unwrap();
            drop(p);
        });
        drop(held);
        big.join().unwrap();
        small.join().unwrap();
        assert_eq!(sem.available_permits(), 1);
    });
}
