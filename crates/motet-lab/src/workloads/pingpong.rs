//! pingpong: two units A and B and n round trips (default 1,000,000). A
//! sends i, B echoes it, A adds up the replies (n(n-1)/2). Each model uses
//! its natural channel (named in the `channel` column): bounded(1) for
//! motet, tokio's `mpsc::channel(1)`, may's mpsc. ns per round trip. The
//! tour runs the defined size too (a few milliseconds at 20,000 round
//! trips, its size until 2026-12-01, left the figure to the host's noise).

use std::io;
use std::time::Instant;

use super::{Sample, Workload, WorkloadInfo, CHANNEL_COLUMN};
use crate::models::async_unit::AsyncModel;
use crate::models::thread_unit::ThreadModel;

/// The description of pingpong.
pub const INFO: WorkloadInfo = WorkloadInfo {
    workload: Workload::Pingpong,
    id: "pingpong",
    about: "two units, A sends i and B echoes it, n round trips",
    default_n: 1_000_000,
    tour_n: 1_000_000,
    served: false,
    op: "round trip",
    check_n: |_| Ok(()),
    expected: super::sum_below,
    columns: &[CHANNEL_COLUMN],
};

/// Runs pingpong with n round trips; call inside the model's `block_on`.
pub async fn run<M: AsyncModel>(n: u64) -> io::Result<Sample> {
    let (to_b, mut b_rx) = M::channel::<u64>();
    let (to_a, mut a_rx) = M::channel::<u64>();
    let start = Instant::now();
    let b = M::spawn(async move {
        while let Some(v) = M::chan_recv(&mut b_rx).await {
            if !M::chan_send(&to_a, v).await {
                break;
            }
        }
    });
    let a = M::spawn(async move {
        let mut sum = 0;
        for i in 0..n {
            assert!(M::chan_send(&to_b, i).await, "pingpong: B is gone");
            sum += M::chan_recv(&mut a_rx)
                .await
                .expect("pingpong: B stopped echoing");
        }
        sum
    });
    let result = a.await.expect("pingpong: A failed");
    b.await.expect("pingpong: B failed");
    Ok(Sample::over_channel(n, result, start.elapsed(), M::CHANNEL))
}

/// Runs pingpong with n round trips on blocking units; call inside the model's `run`.
pub fn run_threads<M: ThreadModel>(n: u64) -> io::Result<Sample> {
    let (to_b, b_rx) = M::channel::<u64>();
    let (to_a, a_rx) = M::channel::<u64>();
    let start = Instant::now();
    let b = M::spawn(move || {
        while let Some(v) = M::recv(&b_rx) {
            if !M::send(&to_a, v) {
                break;
            }
        }
    });
    let a = M::spawn(move || {
        let mut sum = 0;
        for i in 0..n {
            assert!(M::send(&to_b, i), "pingpong: B is gone");
            sum += M::recv(&a_rx).expect("pingpong: B stopped echoing");
        }
        sum
    });
    let result = M::join(a);
    M::join(b);
    Ok(Sample::over_channel(n, result, start.elapsed(), M::CHANNEL))
}
