//! Time: sleeping, deadlines, and periodic ticks.
//!
//! Every timer lives in the current runtime's driver (a hierarchical timing
//! wheel with 1 ms resolution; see `driver/wheel.rs`). A timer never fires
//! early: its deadline is rounded up to the next millisecond, and it fires
//! at the first driver wake-up at or after that. How late it fires depends
//! on how busy the thread is: a loop that is running tasks looks at its
//! timers every `event_interval` polls, or up to 16 times less often while
//! its looks find nothing due.
//!
//! ```
//! use std::time::{Duration, Instant};
//! # let rt = motet::runtime::Runtime::new().unwrap();
//! # rt.block_on(async {
//! let start = Instant::now();
//! motet::time::sleep(Duration::from_millis(20)).await;
//! assert!(start.elapsed() >= Duration::from_millis(20));
//!
//! let slow = motet::time::sleep(Duration::from_secs(10));
//! let res = motet::time::timeout(Duration::from_millis(5), slow).await;
//! assert!(res.is_err());
//! # });
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::driver::wheel::TimerKey;
use crate::driver::Driver;

/// Waits until `duration` has passed.
///
/// # Panics
///
/// When first polled outside a runtime context.
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(
        Instant::now()
            .checked_add(duration)
            .unwrap_or_else(far_future),
    )
}

/// Sleeps for `duration` from blocking code: suspends a green thread
/// (other green threads and tasks run meanwhile), parks an OS thread. It is
/// `motet::wait(sleep(duration))`; the name follows
/// [`blocking_recv`](crate::sync::oneshot::Receiver::blocking_recv): a
/// `blocking_` form is the one for code that is not async.
///
/// # Panics
///
/// Outside a runtime context (an OS thread needs
/// [`Handle::enter`](crate::runtime::Handle::enter)); from an async task on
/// an event-loop thread (use `sleep(d).await` there).
///
/// ```
/// use std::time::{Duration, Instant};
/// # let rt = motet::runtime::Runtime::new().unwrap();
/// # rt.block_on(async {
/// let h = motet::green::spawn(|| {
///     let start = Instant::now();
///     motet::time::blocking_sleep(Duration::from_millis(5));
///     start.elapsed()
/// });
/// assert!(h.await.unwrap() >= Duration::from_millis(5));
/// # });
/// ```
#[track_caller]
#[inline(always)] // a green thread suspends in the caller's frame (`green`'s docs)
pub fn blocking_sleep(duration: Duration) {
    crate::wait(sleep(duration))
}

/// Waits until `deadline`.
///
/// ```
/// # let rt = motet::runtime::Runtime::new().unwrap();
/// # rt.block_on(async {
/// let at = std::time::Instant::now() + std::time::Duration::from_millis(5);
/// motet::time::sleep_until(at).await;
/// assert!(std::time::Instant::now() >= at);
/// # });
/// ```
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        timer: None,
    }
}

/// About thirty years from now: "never", as an `Instant` can hold it.
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}

/// The future returned by [`sleep`] and [`sleep_until`]. It registers with
/// the driver when first polled, and unregisters when dropped.
#[must_use = "a Sleep does nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    timer: Option<(Arc<Driver>, TimerKey)>,
}

impl Sleep {
    /// When this sleep ends.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has passed.
    pub fn is_elapsed(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Moves the deadline (earlier or later) without making a new `Sleep`.
    ///
    /// ```
    /// # let rt = motet::runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// use std::time::{Duration, Instant};
    /// let mut s = motet::time::sleep(Duration::from_secs(60));
    /// s.reset(Instant::now() + Duration::from_millis(1));
    /// s.await;
    /// # });
    /// ```
    pub fn reset(&mut self, deadline: Instant) {
        self.cancel();
        self.deadline = deadline;
    }

    fn cancel(&mut self) {
        if let Some((driver, key)) = self.timer.take() {
            driver.remove_timer(key);
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            self.cancel();
            return Poll::Ready(());
        }
        match &self.timer {
            Some((driver, key)) => {
                if !driver.set_timer_waker(*key, cx.waker()) {
                    // Fired, yet the deadline has not passed: only possible
                    // once the driver is shut down and released every timer.
                    assert!(
                        !driver.is_shut_down(),
                        "motet timer fired before its deadline; this is a bug"
                    );
                    panic!("the motet runtime that owned this timer has shut down");
                }
            }
            None => {
                let driver = Driver::current();
                assert!(
                    !driver.is_shut_down(),
                    "the motet runtime that owns this timer has shut down"
                );
                let key = driver.insert_timer(self.deadline, cx.waker().clone());
                self.timer = Some((driver, key));
            }
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.cancel();
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .finish()
    }
}

/// The error of [`timeout`]: the deadline passed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(e: Elapsed) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, e)
    }
}

/// Runs `future`, giving up after `duration`: `Err(Elapsed)` then, and the
/// future is dropped (cancelled).
///
/// ```
/// # let rt = motet::runtime::Runtime::new().unwrap();
/// # rt.block_on(async {
/// let quick = motet::time::timeout(std::time::Duration::from_secs(1), async { 3 }).await;
/// assert_eq!(quick, Ok(3));
/// # });
/// ```
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    timeout_at(
        Instant::now()
            .checked_add(duration)
            .unwrap_or_else(far_future),
        future,
    )
}

/// Runs `future` until `deadline` at the latest (see [`timeout`]).
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep_until(deadline),
    }
}

pin_project_lite::pin_project! {
    /// The future returned by [`timeout`] and [`timeout_at`].
    #[must_use = "a Timeout does nothing unless awaited"]
    pub struct Timeout<F> {
        #[pin]
        future: F,
        sleep: Sleep,
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // The future goes first: if both are ready, its result wins.
        if let Poll::Ready(v) = this.future.poll(cx) {
            return Poll::Ready(Ok(v));
        }
        match Pin::new(this.sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("deadline", &self.sleep.deadline)
            .finish()
    }
}

/// What an [`Interval`] does when ticks were missed (the task was busy or
/// the loop stalled past one or more tick times).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Fire the missed ticks back to back until caught up, keeping the
    /// original schedule (`start + k * period`). The default, as in tokio:
    /// a count of ticks stays a count of periods.
    #[default]
    Burst,
    /// Fire once now, then schedule the next tick a full period after now:
    /// the schedule shifts by the delay.
    Delay,
    /// Fire once now, then resume on the original schedule's next future
    /// tick, dropping the missed ones (what Go's `time.Ticker` does).
    Skip,
}

/// Ticks every `period`, the first tick at once.
///
/// # Panics
///
/// If `period` is zero.
///
/// ```
/// # let rt = motet::runtime::Runtime::new().unwrap();
/// # rt.block_on(async {
/// let mut iv = motet::time::interval(std::time::Duration::from_millis(2));
/// let first = iv.tick().await;
/// let second = iv.tick().await;
/// assert!(second >= first + std::time::Duration::from_millis(2));
/// # });
/// ```
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// Ticks every `period`, the first tick at `start`.
///
/// # Panics
///
/// If `period` is zero.
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(
        !period.is_zero(),
        "motet::time::interval: the period must be non-zero"
    );
    Interval {
        sleep: sleep_until(start),
        period,
        missed: MissedTickBehavior::default(),
    }
}

/// Periodic ticks; see [`interval`].
#[derive(Debug)]
pub struct Interval {
    /// Its deadline is the next tick's scheduled time.
    sleep: Sleep,
    period: Duration,
    missed: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick and returns its scheduled time.
    pub async fn tick(&mut self) -> Instant {
        std::future::poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// The poll form of [`tick`](Self::tick).
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        if Pin::new(&mut self.sleep).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let scheduled = self.sleep.deadline();
        let now = Instant::now();
        let next = match self.missed {
            MissedTickBehavior::Burst => scheduled + self.period,
            MissedTickBehavior::Delay if now > scheduled + self.period => now + self.period,
            MissedTickBehavior::Skip if now > scheduled + self.period => {
                let behind = (now - scheduled).as_nanos() / self.period.as_nanos();
                scheduled + self.period * u32::try_from(behind + 1).unwrap_or(u32::MAX)
            }
            _ => scheduled + self.period,
        };
        self.sleep.reset(next);
        Poll::Ready(scheduled)
    }

    /// Chooses what happens to missed ticks.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed = behavior;
    }

    /// The missed-tick behaviour in force.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Restarts the schedule: the next tick is one period from now.
    pub fn reset(&mut self) {
        self.sleep.reset(Instant::now() + self.period);
    }
}
