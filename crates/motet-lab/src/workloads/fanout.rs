//! fanout: one producer sends 0..n (default 1,000,000) through one
//! many-consumer channel of capacity 1,024 to k = 4 consumers, which add
//! up what they get; the answer is the sum of all, n(n-1)/2. ns per
//! message. Each model's channel is named in the `channel` column; where
//! the channel has one consumer only (std's mpsc, tokio's mpsc) the model
//! says how it shares it (one channel per consumer dealt round-robin; one
//! receiver behind a tokio Mutex).

use std::io;
use std::time::Instant;

use super::{Sample, Workload, WorkloadInfo, CHANNEL_COLUMN};
use crate::models::async_unit::AsyncModel;
use crate::models::thread_unit::ThreadModel;

/// Consumers.
pub const CONSUMERS: usize = 4;
/// The channel's capacity.
pub const CAPACITY: usize = 1_024;

/// The description of fanout.
pub const INFO: WorkloadInfo = WorkloadInfo {
    workload: Workload::Fanout,
    id: "fanout",
    about: "1 producer, 4 consumers, n messages through one bounded(1024) channel",
    default_n: 1_000_000,
    tour_n: 1_000_000,
    served: false,
    op: "message",
    check_n: |_| Ok(()),
    expected: super::sum_below,
    columns: &[CHANNEL_COLUMN],
};

/// Runs fanout with n messages; call inside the model's `block_on`.
pub async fn run<M: AsyncModel>(n: u64) -> io::Result<Sample> {
    let (tx, rxs) = M::fan::<u64>(CAPACITY, CONSUMERS);
    let start = Instant::now();
    let consumers: Vec<_> = rxs
        .into_iter()
        .map(|mut rx| {
            M::spawn(async move {
                let mut sum = 0;
                while let Some(v) = M::fan_recv(&mut rx).await {
                    sum += v;
                }
                sum
            })
        })
        .collect();
    let producer = M::spawn(async move {
        for i in 0..n {
            assert!(M::fan_send(&tx, i).await, "fanout: every consumer is gone");
        }
    });
    producer.await.expect("fanout: the producer failed");
    let mut result = 0;
    for consumer in consumers {
        result += consumer.await.expect("fanout: a consumer failed");
    }
    Ok(Sample::over_channel(
        n,
        result,
        start.elapsed(),
        M::FAN_CHANNEL,
    ))
}

/// Runs fanout with n messages on blocking units; call inside the model's `run`.
pub fn run_threads<M: ThreadModel>(n: u64) -> io::Result<Sample> {
    let (tx, rxs) = M::fan::<u64>(CAPACITY, CONSUMERS);
    let start = Instant::now();
    let consumers: Vec<_> = rxs
        .into_iter()
        .map(|rx| {
            M::spawn(move || {
                let mut sum = 0;
                while let Some(v) = M::fan_recv(&rx) {
                    sum += v;
                }
                sum
            })
        })
        .collect();
    let producer = M::spawn(move || {
        for i in 0..n {
            assert!(M::fan_send(&tx, i, i), "fanout: every consumer is gone");
        }
    });
    M::join(producer);
    let result = consumers.into_iter().map(M::join).sum();
    Ok(Sample::over_channel(
        n,
        result,
        start.elapsed(),
        M::FAN_CHANNEL,
    ))
}
