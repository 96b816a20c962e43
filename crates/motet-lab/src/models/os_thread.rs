//! OS-thread models: units are `std::thread`s, one per unit, and the
//! channel is the model's point. They run fanout only (a million OS
//! threads for skynet would not fit):
//!
//! - `thread-crossbeam`: `crossbeam_channel::bounded` (MPMC).
//! - `thread-flume`: `flume::bounded` (MPMC).
//! - `thread-std`: `std::sync::mpsc::sync_channel`, which is MPSC: each
//!   consumer gets its own channel of a quarter of the capacity, and the
//!   producer deals the messages round-robin.
//! - `thread-motet`: `motet::chan::bounded` (MPMC) with blocking
//!   `send`/`recv`, which park the OS thread.

use std::io;
use std::sync::mpsc as std_mpsc;
use std::thread::{self, JoinHandle};

use super::thread_unit::ThreadModel;
use crate::workloads::{fanout, Workload};

/// What every OS-thread model shares: spawn, join, run, threads.
macro_rules! os_threads {
    () => {
        type Handle<T: Send + 'static> = JoinHandle<T>;
        const WORKLOADS: &'static [Workload] = &[Workload::Fanout];

        fn start() -> io::Result<Self> {
            Ok(Self)
        }

        fn threads(&self) -> usize {
            fanout::CONSUMERS + 1
        }

        fn run<T: Send + 'static>(&self, root: impl FnOnce() -> T + Send + 'static) -> T {
            root()
        }

        fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> JoinHandle<T> {
            thread::spawn(f)
        }

        fn join<T: Send + 'static>(handle: JoinHandle<T>) -> T {
            handle.join().expect("an OS thread failed")
        }

        fn yield_now() {
            thread::yield_now();
        }
    };
}

/// `thread-crossbeam`.
pub struct Crossbeam;
/// `thread-flume`.
pub struct Flume;
/// `thread-std`.
pub struct Std;
/// `thread-motet`.
pub struct MotetChan;

/// A model whose channels are one crate's MPMC `bounded` channels, shared
/// by every consumer (crossbeam-channel and flume have the same shape).
macro_rules! mpmc_crate_model {
    ($model:ident, $krate:ident) => {
        impl ThreadModel for $model {
            type OnceTx<T: Send + 'static> = $krate::Sender<T>;
            type OnceRx<T: Send + 'static> = $krate::Receiver<T>;
            type Tx<T: Send + 'static> = $krate::Sender<T>;
            type Rx<T: Send + 'static> = $krate::Receiver<T>;
            type FanTx<T: Send + 'static> = $krate::Sender<T>;
            type FanRx<T: Send + 'static> = $krate::Receiver<T>;
            const CHANNEL: &'static str = concat!(stringify!($krate), "::bounded(1)");
            const FAN_CHANNEL: &'static str =
                concat!(stringify!($krate), "::bounded(1024), shared");
            os_threads!();

            fn oneshot<T: Send + 'static>() -> (Self::OnceTx<T>, Self::OnceRx<T>) {
                $krate::bounded(1)
            }
            fn send_once<T: Send + 'static>(tx: Self::OnceTx<T>, value: T) -> Result<(), T> {
                tx.send(value).map_err(|e| e.0)
            }
            fn recv_once<T: Send + 'static>(rx: Self::OnceRx<T>) -> Option<T> {
                rx.recv().ok()
            }
            fn channel<T: Send + 'static>() -> (Self::Tx<T>, Self::Rx<T>) {
                $krate::bounded(1)
            }
            fn send<T: Send + 'static>(tx: &Self::Tx<T>, value: T) -> bool {
                tx.send(value).is_ok()
            }
            fn recv<T: Send + 'static>(rx: &Self::Rx<T>) -> Option<T> {
                rx.recv().ok()
            }
            fn fan<T: Send + 'static>(
                cap: usize,
                consumers: usize,
            ) -> (Self::FanTx<T>, Vec<Self::FanRx<T>>) {
                let (tx, rx) = $krate::bounded(cap);
                (tx, vec![rx; consumers])
            }
            fn fan_send<T: Send + 'static>(tx: &Self::FanTx<T>, _seq: u64, value: T) -> bool {
                tx.send(value).is_ok()
            }
            fn fan_recv<T: Send + 'static>(rx: &Self::FanRx<T>) -> Option<T> {
                rx.recv().ok()
            }
        }
    };
}

mpmc_crate_model!(Crossbeam, crossbeam_channel);
mpmc_crate_model!(Flume, flume);

impl ThreadModel for Std {
    type OnceTx<T: Send + 'static> = std_mpsc::SyncSender<T>;
    type OnceRx<T: Send + 'static> = std_mpsc::Receiver<T>;
    type Tx<T: Send + 'static> = std_mpsc::SyncSender<T>;
    type Rx<T: Send + 'static> = std_mpsc::Receiver<T>;
    type FanTx<T: Send + 'static> = Vec<std_mpsc::SyncSender<T>>;
    type FanRx<T: Send + 'static> = std_mpsc::Receiver<T>;
    const CHANNEL: &'static str = "std::sync::mpsc::sync_channel(1)";
    const FAN_CHANNEL: &'static str =
        "std::sync::mpsc::sync_channel(1024/k) per consumer (MPSC), dealt round-robin";
    os_threads!();

    fn oneshot<T: Send + 'static>() -> (Self::OnceTx<T>, Self::OnceRx<T>) {
        std_mpsc::sync_channel(1)
    }
    fn send_once<T: Send + 'static>(tx: Self::OnceTx<T>, value: T) -> Result<(), T> {
        tx.send(value).map_err(|e| e.0)
    }
    fn recv_once<T: Send + 'static>(rx: Self::OnceRx<T>) -> Option<T> {
        rx.recv().ok()
    }
    fn channel<T: Send + 'static>() -> (Self::Tx<T>, Self::Rx<T>) {
        std_mpsc::sync_channel(1)
    }
    fn send<T: Send + 'static>(tx: &Self::Tx<T>, value: T) -> bool {
        tx.send(value).is_ok()
    }
    fn recv<T: Send + 'static>(rx: &Self::Rx<T>) -> Option<T> {
        rx.recv().ok()
    }
    fn fan<T: Send + 'static>(
        cap: usize,
        consumers: usize,
    ) -> (Self::FanTx<T>, Vec<Self::FanRx<T>>) {
        let each = (cap / consumers.max(1)).max(1);
        (0..consumers).map(|_| std_mpsc::sync_channel(each)).unzip()
    }
    fn fan_send<T: Send + 'static>(tx: &Self::FanTx<T>, seq: u64, value: T) -> bool {
        tx[(seq % tx.len() as u64) as usize].send(value).is_ok()
    }
    fn fan_recv<T: Send + 'static>(rx: &Self::FanRx<T>) -> Option<T> {
        rx.recv().ok()
    }
}

impl ThreadModel for MotetChan {
    type OnceTx<T: Send + 'static> = motet::sync::oneshot::Sender<T>;
    type OnceRx<T: Send + 'static> = motet::sync::oneshot::Receiver<T>;
    type Tx<T: Send + 'static> = motet::chan::Sender<T>;
    type Rx<T: Send + 'static> = motet::chan::Receiver<T>;
    type FanTx<T: Send + 'static> = motet::chan::Sender<T>;
    type FanRx<T: Send + 'static> = motet::chan::Receiver<T>;
    const CHANNEL: &'static str = super::motet::CHANNEL;
    const FAN_CHANNEL: &'static str = "motet::chan::bounded(1024), blocking send/recv";
    os_threads!();

    fn oneshot<T: Send + 'static>() -> (Self::OnceTx<T>, Self::OnceRx<T>) {
        motet::sync::oneshot::channel()
    }
    fn send_once<T: Send + 'static>(tx: Self::OnceTx<T>, value: T) -> Result<(), T> {
        tx.send(value)
    }
    fn recv_once<T: Send + 'static>(rx: Self::OnceRx<T>) -> Option<T> {
        rx.blocking_recv().ok()
    }
    fn channel<T: Send + 'static>() -> (Self::Tx<T>, Self::Rx<T>) {
        motet::chan::bounded(super::motet::CHAN_CAP)
    }
    fn send<T: Send + 'static>(tx: &Self::Tx<T>, value: T) -> bool {
        tx.send(value).is_ok()
    }
    fn recv<T: Send + 'static>(rx: &Self::Rx<T>) -> Option<T> {
        rx.recv().ok()
    }
    fn fan<T: Send + 'static>(
        cap: usize,
        consumers: usize,
    ) -> (Self::FanTx<T>, Vec<Self::FanRx<T>>) {
        let (tx, rx) = motet::chan::bounded(cap);
        (tx, vec![rx; consumers])
    }
    fn fan_send<T: Send + 'static>(tx: &Self::FanTx<T>, _seq: u64, value: T) -> bool {
        tx.send(value).is_ok()
    }
    fn fan_recv<T: Send + 'static>(rx: &Self::FanRx<T>) -> Option<T> {
        rx.recv().ok()
    }
}
