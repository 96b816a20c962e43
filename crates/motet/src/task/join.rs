//! The handle to a task's result, and the ways a task can fail to give one.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use super::cell::Task;
use super::{TaskId, TaskMeta};

type TaskCell<T> = Task<Result<T, JoinError>, TaskMeta>;

/// An owned permission to await a task's output.
///
/// - `.await` it (from a task) or [`join`](Self::join) it (from an OS thread,
///   or later a green thread) to get `Ok(output)`, or a [`JoinError`] if the
///   task panicked or was cancelled.
/// - [`abort`](Self::abort) cancels the task: its future is dropped on its own
///   scheduler at the next opportunity, and the handle yields a cancelled
///   error (unless the task had already finished, in which case its output
///   is still delivered).
/// - Dropping the handle **detaches** the task: it keeps running and its
///   output is dropped (as with tokio and Go).
///
/// ```
/// # let rt = motet::runtime::Runtime::builder().event_loop().build().unwrap();
/// # rt.block_on(async {
/// let h = motet::task::spawn(std::future::pending::<()>());
/// h.abort();
/// assert!(h.await.unwrap_err().is_cancelled());
/// # });
/// ```
#[must_use = "dropping a JoinHandle detaches the task; call `.detach()` to say so"]
pub struct JoinHandle<T> {
    /// `None` once the output has been taken.
    task: Option<TaskCell<T>>,
    id: TaskId,
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(task: TaskCell<T>, id: TaskId) -> Self {
        JoinHandle {
            task: Some(task),
            id,
        }
    }

    /// The task's id.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// Cancels the task. Awaiting the handle afterwards yields a cancelled
    /// [`JoinError`], or the output if the task had already finished.
    /// Cancelling a finished or already aborted task does nothing.
    pub fn abort(&self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }

    /// Whether the task has finished (completed, panicked or been cancelled).
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Lets the task run on with nobody waiting for it (the same as dropping
    /// the handle, said explicitly).
    pub fn detach(self) {
        drop(self);
    }

    /// Waits for the task from blocking code: suspends a green thread,
    /// parks an OS thread (through [`wait`](crate::wait::wait)).
    ///
    /// # Panics
    ///
    /// When called on an event-loop thread (from a task or `block_on`'s
    /// future): that would block every task on the loop. Use `.await`.
    ///
    /// ```
    /// let rt = motet::runtime::Runtime::builder().event_loop().build().unwrap();
    /// let h = rt.handle().spawn(async { 2 + 2 });
    /// let waiter = std::thread::spawn(move || h.join().unwrap());
    /// rt.block_on(async { motet::time::sleep(std::time::Duration::from_millis(10)).await });
    /// assert_eq!(waiter.join().unwrap(), 4);
    /// ```
    // Inlined: a green thread suspends in the caller's frame (`wait`).
    #[inline(always)]
    pub fn join(self) -> Result<T, JoinError> {
        crate::wait::wait(self)
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if crate::coop::poll_proceed(cx).is_pending() {
            return Poll::Pending;
        }
        let id = self.id;
        let task = self
            .task
            .as_mut()
            .expect("JoinHandle polled after it returned its result");
        let res = match task.poll_output(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Some(res)) => res,
            // The task was dropped unfinished: its runtime shut down.
            Poll::Ready(None) => Err(JoinError::cancelled(id)),
        };
        self.task = None;
        Poll::Ready(res)
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle").field("id", &self.id).finish()
    }
}

/// Why a task gave no output.
///
/// ```
/// # let rt = motet::runtime::Runtime::builder().event_loop().build().unwrap();
/// # rt.block_on(async {
/// let err = motet::task::spawn(async { panic!("boom") }).await.unwrap_err();
/// assert!(err.is_panic());
/// assert_eq!(err.to_string(), format!("task {} panicked: boom", err.id()));
/// # });
/// ```
pub struct JoinError {
    id: TaskId,
    repr: Repr,
}

enum Repr {
    Cancelled,
    /// Behind a mutex only so that `JoinError` is `Sync` (the payload need not be).
    Panic(Mutex<Box<dyn Any + Send + 'static>>),
}

impl JoinError {
    pub(crate) fn cancelled(id: TaskId) -> JoinError {
        JoinError {
            id,
            repr: Repr::Cancelled,
        }
    }

    pub(crate) fn panic(id: TaskId, payload: Box<dyn Any + Send + 'static>) -> JoinError {
        JoinError {
            id,
            repr: Repr::Panic(Mutex::new(payload)),
        }
    }

    /// The task that failed.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// The task was aborted, or its runtime shut down before it finished.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// The task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// The panic payload, to re-raise with `std::panic::resume_unwind`.
    ///
    /// # Panics
    ///
    /// If the task was cancelled rather than panicking.
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        match self.repr {
            Repr::Panic(p) => p.into_inner().unwrap_or_else(|e| e.into_inner()),
            Repr::Cancelled => panic!("JoinError::into_panic on a cancelled task {}", self.id),
        }
    }

    /// The panic message, if the task panicked with a string.
    fn panic_message(&self) -> Option<String> {
        let Repr::Panic(p) = &self.repr else {
            return None;
        };
        let p = p.lock().unwrap_or_else(|e| e.into_inner());
        p.downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => write!(f, "task {} was cancelled", self.id),
            Repr::Panic(_) => match self.panic_message() {
                Some(msg) => write!(f, "task {} panicked: {msg}", self.id),
                None => write!(f, "task {} panicked", self.id),
            },
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => write!(f, "JoinError::Cancelled({})", self.id),
            Repr::Panic(_) => write!(
                f,
                "JoinError::Panic({}, {:?})",
                self.id,
                self.panic_message()
            ),
        }
    }
}

impl std::error::Error for JoinError {}

impl From<JoinError> for std::io::Error {
    fn from(e: JoinError) -> std::io::Error {
        std::io::Error::other(e)
    }
}
