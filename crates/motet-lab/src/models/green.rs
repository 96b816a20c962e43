//! motet's green-thread models: units are `motet::green::spawn`ed closures
//! of blocking code (Go's goroutines), channels are `motet::chan` with
//! blocking `send`/`recv`, one-shots `motet::sync::oneshot` with
//! `blocking_recv`, joins `JoinHandle::join`.
//!
//! - `green`: the `work_stealing` flavor, one worker per core (Go).
//! - `green-loop`: the `event_loop` flavor, one thread (Go with GOMAXPROCS=1).

use std::io;
use std::marker::PhantomData;

use motet::chan::{self, Receiver, Sender};
use motet::green;
use motet::runtime::{Builder, Runtime};
use motet::sync::oneshot;
use motet::task::JoinHandle;

use super::thread_unit::{ThreadModel, ALL};
use crate::workloads::Workload;

/// The stream channel's capacity (pingpong, ring): the same as the async
/// motet models use (see `models::motet::CHAN_CAP`).
pub const CHAN_CAP: usize = super::motet::CHAN_CAP;

/// Which runtime flavor runs the green threads.
pub trait GreenFlavor: 'static {
    /// The runtime builder, flavor chosen.
    fn builder() -> Builder;
}

/// `green-loop`.
pub struct Loop;
/// `green`.
pub struct Steal;

impl GreenFlavor for Loop {
    fn builder() -> Builder {
        Runtime::builder().event_loop()
    }
}

impl GreenFlavor for Steal {
    fn builder() -> Builder {
        Runtime::builder().work_stealing(0)
    }
}

/// A motet runtime of flavor `K` running green threads.
pub struct Green<K: GreenFlavor> {
    rt: Runtime,
    _flavor: PhantomData<K>,
}

impl<K: GreenFlavor> ThreadModel for Green<K> {
    type Handle<T: Send + 'static> = JoinHandle<T>;
    type OnceTx<T: Send + 'static> = oneshot::Sender<T>;
    type OnceRx<T: Send + 'static> = oneshot::Receiver<T>;
    type Tx<T: Send + 'static> = Sender<T>;
    type Rx<T: Send + 'static> = Receiver<T>;
    type FanTx<T: Send + 'static> = Sender<T>;
    type FanRx<T: Send + 'static> = Receiver<T>;

    const WORKLOADS: &'static [Workload] = ALL;
    const CHANNEL: &'static str = super::motet::CHANNEL;
    const FAN_CHANNEL: &'static str = "motet::chan::bounded(1024), blocking send/recv";

    fn start() -> io::Result<Self> {
        Ok(Green {
            rt: K::builder().build()?,
            _flavor: PhantomData,
        })
    }

    fn threads(&self) -> usize {
        self.rt.handle().workers()
    }

    fn run<T: Send + 'static>(&self, root: impl FnOnce() -> T + Send + 'static) -> T {
        self.rt
            .block_on(async { green::spawn(root).await })
            .expect("the root green thread failed")
    }

    fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> JoinHandle<T> {
        green::spawn(f)
    }

    // The blocking calls below are `#[inline(always)]`: a workload's unit
    // calls them as Go code calls a channel operation, directly, so the
    // green thread suspends in the unit's own frame (a wrapper frame
    // would cost return-address mispredictions at every switch; see
    // `motet::green`, "The cost of a switch").
    #[inline(always)]
    fn join<T: Send + 'static>(handle: JoinHandle<T>) -> T {
        handle.join().expect("a green thread failed")
    }

    fn oneshot<T: Send + 'static>() -> (oneshot::Sender<T>, oneshot::Receiver<T>) {
        oneshot::channel()
    }

    fn send_once<T: Send + 'static>(tx: oneshot::Sender<T>, value: T) -> Result<(), T> {
        tx.send(value)
    }

    #[inline(always)]
    fn recv_once<T: Send + 'static>(rx: oneshot::Receiver<T>) -> Option<T> {
        rx.blocking_recv().ok()
    }

    fn channel<T: Send + 'static>() -> (Sender<T>, Receiver<T>) {
        chan::bounded(CHAN_CAP)
    }

    #[inline(always)]
    fn send<T: Send + 'static>(tx: &Sender<T>, value: T) -> bool {
        tx.send(value).is_ok()
    }

    #[inline(always)]
    fn recv<T: Send + 'static>(rx: &Receiver<T>) -> Option<T> {
        rx.recv().ok()
    }

    #[inline(always)]
    fn yield_now() {
        green::yield_now();
    }

    fn fan<T: Send + 'static>(cap: usize, consumers: usize) -> (Sender<T>, Vec<Receiver<T>>) {
        let (tx, rx) = chan::bounded(cap);
        (tx, vec![rx; consumers])
    }

    fn fan_send<T: Send + 'static>(tx: &Sender<T>, _seq: u64, value: T) -> bool {
        tx.send(value).is_ok()
    }

    fn fan_recv<T: Send + 'static>(rx: &Receiver<T>) -> Option<T> {
        rx.recv().ok()
    }
}
