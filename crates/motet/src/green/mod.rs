//! Green threads: Go-style stackful coroutines, the implicit-switching unit.
//!
//! A green thread runs an ordinary, blocking-style closure on its own small
//! stack. When the code calls something that would block (reading a socket,
//! sleeping, joining a task, receiving from a channel), the green thread is
//! *suspended* and its OS thread runs something else; when the resource is
//! ready, the green thread continues where it stopped. Nothing in the code
//! says where it may switch: that is the "implicit" end of the taxonomy's
//! switching axis, and what goroutines are.
//!
//! ```
//! use std::io::{BufRead, BufReader, Write};
//! use motet::net::{TcpListener, TcpStream};
//!
//! # fn main() -> std::io::Result<()> {
//! let rt = motet::runtime::Runtime::builder().event_loop().build()?;
//! rt.block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     // Plain blocking code, one green thread per side.
//!     let server = motet::green::spawn(move || -> std::io::Result<String> {
//!         let (stream, _) = listener.blocking_accept()?;
//!         let mut line = String::new();
//!         BufReader::new(&stream).read_line(&mut line)?;
//!         Ok(line)
//!     });
//!     let client = motet::green::spawn(move || -> std::io::Result<()> {
//!         let mut stream = TcpStream::blocking_connect(addr)?;
//!         // `Write::write_all`, not the inherent async `write_all`
//!         // (see net/blocking.rs on the name collision).
//!         Write::write_all(&mut stream, b"hello from a green thread\n")
//!     });
//!     client.await.unwrap()?;
//!     assert_eq!(server.await.unwrap()?, "hello from a green thread\n");
//!     Ok(())
//! })
//! # }
//! ```
//!
//! # A green thread is a task
//!
//! A green thread is an async task whose future, when polled, *resumes* a
//! stackful coroutine ([corosensei]) until the coroutine suspends. So it is
//! spawned, scheduled, joined, aborted, stall-detected and cancelled at
//! shutdown exactly like a task, on every runtime flavor, with no scheduler
//! changes; its handle is the ordinary [`JoinHandle`] (`.await` it from
//! async code, [`join`](JoinHandle::join) it from an OS thread or another
//! green thread). The task name is the green thread's name.
//!
//! Inside the green thread, [`motet::wait`](crate::wait()) is the one way to
//! block: it polls the future with the *task's* waker and, while the future
//! is pending, suspends the coroutine, so the task's poll returns `Pending`.
//! The waker makes the task runnable again; its next poll resumes the
//! coroutine, which polls the future again. Every blocking API in motet
//! goes through `wait`, so each works unchanged from a green thread and from
//! a plain OS thread (which `wait` parks instead):
//!
//! | blocking API | what it waits on |
//! |---|---|
//! | [`motet::wait(fut)`](crate::wait()) | any future |
//! | [`JoinHandle::join`] | a task or green thread |
//! | [`time::blocking_sleep`](crate::time::blocking_sleep) | a timer |
//! | `std::io::Read`/`Write` for [`TcpStream`](crate::net::TcpStream), [`UnixStream`](crate::net::UnixStream) (and `&` of them) | a socket; so `BufReader`, `serde_json::from_reader` work unchanged |
//! | [`TcpListener::blocking_accept`](crate::net::TcpListener::blocking_accept), [`TcpStream::blocking_connect`](crate::net::TcpStream::blocking_connect), the Unix forms | connection setup |
//! | [`oneshot::Receiver::blocking_recv`](crate::sync::oneshot::Receiver::blocking_recv) | a value |
//! | [`chan::Sender::send`](crate::chan::Sender::send), [`chan::Receiver::recv`](crate::chan::Receiver::recv), their `_timeout` forms, [`select!`](crate::select!) | a channel |
//! | [`Mutex::lock_blocking`](crate::sync::Mutex::lock_blocking), [`RwLock::read_blocking`](crate::sync::RwLock::read_blocking)/[`write_blocking`](crate::sync::RwLock::write_blocking), [`Semaphore::acquire_blocking`](crate::sync::Semaphore::acquire_blocking), [`WaitGroup::wait_blocking`](crate::sync::WaitGroup::wait_blocking), [`OnceCell::get_or_init_blocking`](crate::sync::OnceCell::get_or_init_blocking), [`Notify::notified_blocking`](crate::sync::Notify::notified_blocking) | a lock, permits, a count, a notification |
//! | [`blocking(f)`](blocking) | `f` on the blocking pool, for system calls and C code motet cannot suspend |
//!
//! A blocking call that does *not* go through motet (`std::thread::sleep`,
//! a `std::net` socket, a C library's read) blocks the whole OS thread and
//! every green thread and task on it: use [`blocking`] for those. The stall
//! detector reports such a call by the green thread's name, as for a task.
//!
//! # Switching budget
//!
//! A wait whose future is ready at once does not switch, nor does a
//! channel `send` or `recv` that finds room or a value. A green thread
//! that keeps finding ready resources (a socket that always has data, a
//! channel that is never empty) would then never let anything else run on
//! its thread. Like Erlang's reductions, each green thread has a budget,
//! the same one async tasks have (`coop.rs`): each resume of a green
//! thread may complete 128 operations without waiting (1,024 channel
//! operations, which cost an eighth as much), then it yields once anyway,
//! and its next resume starts afresh. 128 keeps the
//! cost of the extra switch (under 100 ns: a task requeue and two stack
//! switches; a whole green-thread spawn, run and join costs about 250 ns)
//! under 1% for waits that make a system call (a ready socket read is
//! about 1 µs, so a slice is over 100 µs), and bounds how long a busy green
//! thread can hold the loop to a few hundred microseconds of such work.
//! [`yield_now`] yields explicitly.
//!
//! # The cost of a switch
//!
//! A stack switch itself is cheap (about 9 ns here for a resume and a
//! suspend in a tight loop). What makes it dear is the CPU's return-address
//! predictor, a small stack of the addresses that recent `call`s will
//! return to. corosensei's resume is a `call` and its suspend the matching
//! `ret`, so a green thread that suspends in the same frame it was resumed
//! in keeps that stack in step with the real one. But a green thread that
//! suspends inside a helper frame (`recv` calling `wait` calling
//! `suspend`) returns out of those frames after its resume: each such
//! `ret` finds the scheduler's addresses on the predictor's stack and is
//! mispredicted, and from then on so are the scheduler's own returns after
//! the next suspend. Measured with bare corosensei, each frame between the
//! suspend and the code that resumes costs about 10 ns per switch pair
//! (and once out of step, the returns on both sides miss).
//!
//! So every blocking motet API suspends in its *caller's* frame: the
//! public blocking functions ([`wait`](crate::wait()), `Sender::send`,
//! `Receiver::recv`, `Select::select` (so [`select!`](crate::select!)),
//! [`JoinHandle::join`], `oneshot::Receiver::blocking_recv`,
//! [`time::blocking_sleep`](crate::time::blocking_sleep), the `_blocking`
//! forms in [`sync`](crate::sync), [`yield_now`]) are `#[inline(always)]`
//! down to the switch, and everything else they do (the fast paths, the
//! OS-thread path, the future's `poll`) is an ordinary call that has
//! returned before the green thread suspends. With this, and the
//! boundary's bookkeeping inlined on the scheduler's side, the lab's
//! `switch` went from 141-146 to 64.5-66.5 ns and `pingpong` on one
//! thread from 590-594 to 388-413 ns (one codegen unit, alternating runs;
//! BENCHMARKS.md). A green thread that wraps a blocking call in a
//! function of its own pays for that frame at every switch.
//!
//! The other cost was atomic operations: a locked read-modify-write costs
//! 6-8 ns here right after a switch, and a yield through an ordinary task
//! cell pays three. motet's task cell sees that a yield is the task waking
//! itself from inside its own poll and queues it again without one, which
//! took the switch to 48-49 ns (4.9x the raw switch). Pacing the busy
//! loop's `epoll_wait` (it was 6 ns of every switch) took it to 43 ns.
//! (Those figures are from an AMD EPYC host. On the Intel Xeon host of
//! later sessions the bare pair costs 1.7-2.1 ns (placement moves it) and
//! a yield on the event loop 8.2-9.2 ns, about 139 instructions;
//! `docs/ARCHITECTURE.md`, "Switching cost", says where they go.)
//!
//! # Panics
//!
//! A panic inside a green thread is caught at the bottom of its own stack,
//! ends that green thread only, and reaches its handle as a
//! [`JoinError`](crate::task::JoinError) whose
//! [`is_panic`](crate::task::JoinError::is_panic) is true. It never unwinds
//! across the stack switch.
//!
//! # Stacks
//!
//! Each green thread runs on a stack from a process-wide pool (see
//! `green/stack.rs` for the design): reserved virtually, [`DEFAULT_STACK_SIZE`]
//! (256 KiB) unless [`Builder::stack_size`] says otherwise, committed only
//! where touched, with a guard page below it. Each stack starts up to
//! 1,984 bytes below its slot's top, at one of 32 cache-line offsets, so
//! that the frames of many suspended green threads spread over the CPU's
//! caches instead of crowding a few of their sets (the lab's ring of 1,000
//! green threads: about 17% faster per hop). An idle green thread costs the
//! pages its stack reached (typically one or two) plus its task cell. Stacks
//! are reused through a free list, so a start that finds a free one makes
//! no system call. A green thread takes its stack when it first runs, not
//! when it is spawned (where the kernel has `MADV_GUARD_INSTALL`; see
//! below), so a spawned green thread waiting in a run queue costs only its
//! task cell: a burst of short green threads that run one after the other
//! reuses the same warm stack instead of faulting in a fresh one each
//! (skynet: 1.1 million green threads, 6 to 8x faster and a sixth to an eighth of the peak
//! memory). Overflowing a stack hits the guard page, and the process
//! aborts with a message naming the green thread and its stack size: stack
//! overflow is not recoverable, for green threads as for OS threads. Running
//! out of memory maps is an `io::Error` from [`Builder::spawn`] that names
//! `vm.max_map_count`: on kernels without `MADV_GUARD_INSTALL`, where each
//! stack costs two maps, the stack is taken at spawn so that this error
//! stays the spawner's. With it, a stack costs no map of its own, and a
//! green thread that cannot get one when it starts (address space
//! exhausted) ends with that error as its panic, reported by its handle.
//!
//! Why 256 KiB by default: a stack too small is an abort, and a larger
//! reservation costs address space (256 GiB for a million green threads,
//! of 128 TiB) and page tables, but no memory until touched. Measured with
//! [`stack_high_water`] (`examples/green_numbers.rs`): an echo connection
//! handler with a `BufReader` uses 1.4 KiB of stack (6 KiB in a debug
//! build); a panic with `RUST_BACKTRACE=1`, whose hook symbolizes and
//! prints a backtrace, about 23 KiB. 64 KiB would cover both with room to
//! spare, but not, say, a recursive-descent parser on deeply nested input;
//! 256 KiB does. An idle green thread's resident memory is the same either
//! way (about 4.4 KiB measured with 16 KiB, 64 KiB or 256 KiB stacks). Its
//! page tables are not: one page of them maps 2 MiB of address space, and
//! the stacks' top pages are a slot apart, so each green thread costs
//! about 540 bytes of page tables with 256 KiB stacks (the lab's
//! spawn-idle measures 538, from `VmPTE`, which `VmRSS` leaves out) and
//! about 150 with 64 KiB; and spawn-idle's spawn ran 13-19% faster with
//! 64 KiB stacks (1,813 against 2,081 ns per green thread as medians of
//! 10 alternating runs; BENCHMARKS.md, sixteenth session), since a start
//! then allocates and fills fewer page-table pages. The default keeps the
//! deeper stack, as the safer side of that trade. Use
//! [`Builder::stack_size`] for green threads known to be shallow (16 KiB
//! is plenty for a socket handler) or deep.
//!
//! # The thread-local hazard, and pinning
//!
//! Rust code may cache the *address* of a thread-local variable: within
//! one function, the compiler computes it once and reuses it, as if the
//! function could not change OS thread halfway through (LLVM assumes so).
//! A green thread breaks that assumption if, between a suspension and the
//! next resume, its task is moved to another OS thread: code after the
//! suspension point then reads or writes the *first* thread's variable,
//! racing with that thread. This is the soundness hole documented against
//! Rust green-thread libraries that migrate coroutines between threads. The
//! same move would also carry any `!Send` value held across a blocking call
//! (an `Rc`, a `RefCell` borrow, a `MutexGuard`) to another thread.
//!
//! So by default a green thread is **pinned**: it runs only on the
//! scheduler thread that first resumed it. On the event loop that is
//! automatic (one thread runs every task). On the multi-threaded flavors,
//! the task's metadata marks it pinned, and the scheduler must
//! keep a pinned task on the worker that first polled it (never steal it,
//! and route its wake-ups back to that worker). Thread-local reads in a
//! pinned green thread are then always right, which the test
//! `thread_locals_stay_correct_across_suspensions` checks.
//!
//! Work stealing can still balance pinned green threads at spawn time
//! (where each first runs), just not afterwards. The other choice, letting
//! a green thread migrate at every resume as goroutines do, is
//! [`Builder::migratable`], an `unsafe` option: the caller promises the
//! closure holds no `!Send` value across a blocking call and reads no
//! thread-local across one (motet's own code re-reads its thread-locals
//! after every suspension, through non-inlined functions, so it is safe to
//! migrate).
//!
//! What pinning costs is placement. Green threads that message each other
//! from different workers cross cores at every message, where migratable
//! ones (and goroutines) move to the worker that woke them. A ring of
//! 1,000 green threads that stealing spread over 16 workers as they were
//! spawned crossed at a quarter of its hops and ran 8.6x slower than on
//! one worker; migratable, it did not slow down
//! (`examples/ring_crossings.rs`, BENCHMARKS.md). While such green threads
//! talk, a worker left idle spins for the next message (up to a
//! millisecond, as long as messages keep coming that often) instead of
//! sleeping, whose wake-up cost 100-300 µs on the 2-core VM: that core
//! stays busy meanwhile. Green threads that talk mostly among themselves
//! can be kept together: spawned from one green
//! thread with [`Builder::on_current_worker`], they start on its worker
//! and stay there (at the price of running on that one worker), or they
//! can run on one event loop.
//!
//! # Rejected alternatives
//!
//! - *A separate scheduler for green threads* (may's, Go's): every flavor
//!   would need a second run queue and a second idea of fairness, and
//!   mixing tasks and green threads would need a bridge. As tasks, they
//!   share everything.
//! - *Hiding the green thread's state in a task-local slot that `wait`
//!   looks up by task id*: a hash lookup per wait; a thread-local pointer
//!   set for the duration of one resume is one load.
//! - *Migrating by default*: faster balancing on work stealing, but unsound
//!   for ordinary code (above).
//!
//! [corosensei]: https://docs.rs/corosensei

mod coroutine;
mod stack;

use std::io;
use std::panic::Location;

use crate::runtime::context;
use crate::task::{self, JoinHandle, Placement};

pub(crate) use coroutine::{
    current_green, in_green_thread, suspend_on, suspend_on_charged, yield_now as yield_in_place,
};

/// The usable stack size of a green thread unless [`Builder::stack_size`]
/// says otherwise: 256 KiB (see the [module docs](self) for why).
pub const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// Spawns a green thread running `f` on the current runtime.
///
/// The green thread starts soon, whether or not the handle is kept;
/// dropping the handle detaches it. The handle yields `f`'s result, or a
/// [`JoinError`](crate::task::JoinError) if `f` panicked or the green
/// thread was aborted or cancelled by its runtime's shutdown.
///
/// # Panics
///
/// Outside a runtime context, and if no stack can be reserved (see
/// [`Builder::spawn`], which returns that error instead).
///
/// ```
/// # let rt = motet::runtime::Runtime::new().unwrap();
/// # rt.block_on(async {
/// let h = motet::green::spawn(|| {
///     motet::time::blocking_sleep(std::time::Duration::from_millis(1));
///     6 * 7
/// });
/// assert_eq!(h.await.unwrap(), 42);
/// # });
/// ```
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Builder::new()
        .spawn(f)
        .unwrap_or_else(|e| panic!("motet::green::spawn: {e}"))
}

/// Spawns green threads with options: a name, a stack size, and whether
/// the green thread may move between OS threads.
///
/// ```
/// # let rt = motet::runtime::Runtime::new().unwrap();
/// # rt.block_on(async {
/// let h = motet::green::Builder::new()
///     .name("parser")
///     .stack_size(64 * 1024)
///     .spawn(|| "parsed")?;
/// assert_eq!(h.await.unwrap(), "parsed");
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    name: Option<String>,
    stack_size: usize,
    placement: Placement,
}

impl Default for Builder {
    fn default() -> Builder {
        Builder::new()
    }
}

impl Builder {
    /// A builder with the defaults: no name, [`DEFAULT_STACK_SIZE`], pinned.
    ///
    /// ```
    /// let b = motet::green::Builder::new();
    /// # drop(b);
    /// ```
    pub fn new() -> Builder {
        Builder {
            name: None,
            stack_size: DEFAULT_STACK_SIZE,
            placement: Placement::Pinned,
        }
    }

    /// Names the green thread (shown by the stall detector and in the
    /// stack-overflow message; it is the task's name).
    ///
    /// ```
    /// let b = motet::green::Builder::new().name("conn-42");
    /// # drop(b);
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// The usable stack size in bytes, rounded up to whole pages (at least
    /// one page). Only touched pages cost memory; each size has its own
    /// pool of reusable stacks.
    ///
    /// ```
    /// let b = motet::green::Builder::new().stack_size(16 * 1024);
    /// # drop(b);
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = bytes;
        self
    }

    /// Lets the scheduler resume this green thread on any of its threads
    /// (goroutine-style migration) instead of pinning it to the first one.
    /// On the event loop it changes nothing.
    ///
    /// # Safety
    ///
    /// The closure must not hold a value that is not `Send` (an `Rc`, a
    /// `RefCell` borrow, a `MutexGuard`, a raw pointer to thread-local
    /// data) across a call that may suspend (any motet blocking call), and
    /// must not access a thread-local variable both before and after such
    /// a call in the same function (the compiler may reuse the first
    /// thread's address). See "The thread-local hazard" in the
    /// [module docs](self).
    ///
    /// ```
    /// # let rt = motet::runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// // SAFETY: the closure holds only Send values and reads no thread-local.
    /// let b = unsafe { motet::green::Builder::new().migratable() };
    /// let h = b.spawn(|| 1 + 1).unwrap();
    /// assert_eq!(h.await.unwrap(), 2);
    /// # });
    /// ```
    pub unsafe fn migratable(mut self) -> Builder {
        self.placement = Placement::Free;
        self
    }

    /// Starts the green thread on the worker thread that spawns it, and
    /// keeps it there: on a work-stealing runtime no other worker takes it,
    /// not even before its first run. For green threads that talk mostly
    /// to each other (a pipeline, a ring, a request and its helpers):
    /// spawned from one green thread this way, they share its worker, and
    /// their messages never cross cores. A ring of 1,000 green threads
    /// that stealing spread over 16 workers ran 8.6x slower than on one
    /// worker (BENCHMARKS.md); `examples/ring_crossings.rs` measures how
    /// many hops cross.
    ///
    /// The price is parallelism: they all run on that one worker. Where
    /// the spawner is not a worker thread (a thread outside the runtime,
    /// or the one in `block_on`), the green thread starts wherever the
    /// scheduler puts it; on an event loop and on a per-core runtime's
    /// core, a spawn starts on the spawner's thread anyway. The green
    /// thread is pinned: of this and [`migratable`](Self::migratable), the
    /// one called last decides.
    ///
    /// ```
    /// # let rt = motet::runtime::Runtime::builder().work_stealing(2).build().unwrap();
    /// # rt.block_on(async {
    /// use motet::runtime::Handle;
    /// let parent = motet::green::spawn(|| {
    ///     let here = Handle::current_worker();
    ///     let child = motet::green::Builder::new()
    ///         .on_current_worker()
    ///         .spawn(Handle::current_worker)
    ///         .unwrap();
    ///     (here, child.join().unwrap())
    /// });
    /// let (parent_worker, child_worker) = parent.await.unwrap();
    /// assert_eq!(parent_worker, child_worker);
    /// # });
    /// ```
    pub fn on_current_worker(mut self) -> Builder {
        self.placement = Placement::Here;
        self
    }

    /// Spawns the green thread on the current runtime.
    ///
    /// # Errors
    ///
    /// If no stack can be reserved: out of address space, or (on kernels
    /// before Linux 6.13, where each stack's guard page costs a memory map)
    /// past `vm.max_map_count`; the message says which.
    ///
    /// # Panics
    ///
    /// Outside a runtime context.
    ///
    /// ```
    /// # let rt = motet::runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let h = motet::green::Builder::new().name("worker").spawn(|| 7)?;
    /// assert_eq!(h.await.unwrap(), 7);
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    #[track_caller]
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let location = Location::caller();
        context::with_scheduler(|sched| {
            let size = stack::round_size(self.stack_size);
            let stack = if stack::take_at_spawn() {
                Some(stack::PooledStack::take(size)?)
            } else {
                None
            };
            let name = self.name;
            let label = name.as_deref().map(Box::<str>::from);
            Ok(task::spawn_with(
                sched,
                name.as_deref(),
                self.placement,
                location,
                move |meta| coroutine::GreenThread::new(f, size, stack, meta.id.as_u64(), label),
            ))
        })
    }
}

/// Whether the calling code runs on a green thread.
///
/// ```
/// # let rt = motet::runtime::Runtime::new().unwrap();
/// assert!(!motet::green::is_green_thread());
/// # rt.block_on(async {
/// let h = motet::green::spawn(motet::green::is_green_thread);
/// assert!(h.await.unwrap());
/// # });
/// ```
pub fn is_green_thread() -> bool {
    in_green_thread()
}

/// Suspends the green thread once, letting every unit that is already
/// runnable on its thread go first (it goes to the back of the run queue).
/// On an OS thread it calls [`std::thread::yield_now`].
///
/// ```
/// # let rt = motet::runtime::Runtime::new().unwrap();
/// # rt.block_on(async {
/// let h = motet::green::spawn(|| {
///     for _ in 0..3 {
///         motet::green::yield_now();
///     }
/// });
/// h.await.unwrap();
/// # });
/// ```
#[inline(always)]
pub fn yield_now() {
    if !coroutine::yield_now() {
        std::thread::yield_now();
    }
}

/// Runs `f` on the runtime's blocking pool and waits for its result:
/// the green thread is suspended meanwhile, so other green threads and
/// tasks keep running. Use it for blocking system calls and C libraries
/// that motet cannot suspend (it is `motet::wait(spawn_blocking(f))`).
///
/// A panic in `f` is re-raised in the caller.
///
/// # Panics
///
/// Outside a runtime context; from an async task on an event-loop thread
/// (use `spawn_blocking(f).await` there).
///
/// ```
/// # let rt = motet::runtime::Runtime::new().unwrap();
/// # rt.block_on(async {
/// let h = motet::green::spawn(|| {
///     motet::green::blocking(|| std::fs::read_to_string("/proc/self/stat").is_ok())
/// });
/// assert!(h.await.unwrap());
/// # });
/// ```
#[track_caller]
pub fn blocking<F, R>(f: F) -> R
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    match crate::wait(task::spawn_blocking(f)) {
        Ok(r) => r,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("motet::green::blocking: {e}"),
    }
}

/// How many bytes of the calling green thread's stack have been used at
/// most (exact on a fresh stack; on a reused one, the deepest use of any
/// green thread that ran on it). `None` off a green thread. A measuring
/// tool for choosing [`Builder::stack_size`].
///
/// ```
/// # let rt = motet::runtime::Runtime::new().unwrap();
/// # rt.block_on(async {
/// let used = motet::green::spawn(|| motet::green::stack_high_water().unwrap());
/// assert!(used.await.unwrap() < motet::green::DEFAULT_STACK_SIZE);
/// # });
/// ```
pub fn stack_high_water() -> Option<usize> {
    coroutine::with_running(|r| r.map(stack::high_water))
}

pub(crate) use stack::ensure_altstack;
pub use stack::PoolStats;

/// Process-wide counters of the green-thread stack pool.
///
/// ```
/// # let rt = motet::runtime::Runtime::new().unwrap();
/// # rt.block_on(async {
/// motet::green::spawn(|| ()).await.unwrap();
/// let stats = motet::green::pool_stats();
/// assert!(stats.chunks >= 1);
/// # });
/// ```
pub fn pool_stats() -> PoolStats {
    stack::stats()
}
