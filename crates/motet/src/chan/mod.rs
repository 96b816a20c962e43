//! Channels with Go's semantics and Go's `select`, one type for every
//! kind of unit.
//!
//! ```
//! # let rt = motet::runtime::Runtime::new().unwrap();
//! let (tx, rx) = motet::chan::bounded::<u32>(0); // unbuffered, as in Go
//! // An OS thread sends (blocking)...
//! let t = std::thread::spawn(move || {
//!     for i in 0..3 {
//!         tx.send(i).unwrap();
//!     }
//! });
//! // ...and an async task receives (awaiting).
//! let sum = rt.block_on(async move {
//!     let mut sum = 0;
//!     while let Ok(v) = rx.recv_async().await {
//!         sum += v;
//!     }
//!     sum
//! });
//! t.join().unwrap();
//! assert_eq!(sum, 3);
//! ```
//!
//! Every operation has three shapes: blocking (`send`, `recv`, and the
//! `_timeout`/`_deadline` forms), which wait through
//! [`wait`](crate::wait::wait) (so they park an OS thread, will suspend a
//! green thread, and refuse on an event-loop thread); async (`send_async`,
//! `recv_async`, named futures [`SendFut`] and [`RecvFut`]; compose with
//! [`motet::time::timeout`](crate::time::timeout) for deadlines); and
//! non-waiting (`try_send`, `try_recv`). [`select!`](crate::select) and
//! [`select_async!`](crate::select_async) wait on several at once; the
//! [`Select`] builder is the same without a macro.
//!
//! Every send, receive and select that completes charges the cooperative
//! budget (`coop.rs`) of the task or green thread doing it, as socket
//! reads do: a unit draining a channel that is never empty, or filling one
//! that always has room, still yields to the others on its thread after
//! 128 operations. (`try_` forms charge nothing: a loop of them is a busy
//! loop, which the stall detector names.)
//!
//! # Glossary
//!
//! - **buffer**: the values sent and not yet received; up to `cap` of them
//!   (`bounded(cap)`), or any number (`unbounded`). A **rendezvous**
//!   channel has `cap == 0`: a send completes only when a receiver takes
//!   the value.
//! - **ring**: the buffer of a `bounded(cap)` channel with `cap >= 2`, a
//!   lock-free array queue (`chan/ring.rs`). Such a channel is a **ring
//!   channel**.
//! - **list**: the buffer of an `unbounded` channel, a lock-free linked
//!   list of 63-slot blocks (`chan/list.rs`); it is never full.
//! - **queue**: the ring or the list, whichever the channel has
//!   (`chan/queue.rs`); a channel with one is a **queue channel**. The
//!   others (rendezvous, `bounded(1)`) keep their buffer under the lock.
//! - **offer**: a sender that could not complete parks its value in the
//!   channel's `sendq`, and waits for a receiver to *take* it.
//! - **interest**: a receiver that could not complete waits in `recvq`;
//!   a sender may *hand* it a value (into the `delivered` slots).
//! - **signal**: the claim word of one waiting operation. A select parks
//!   one offer or interest per arm, all sharing one signal; whoever
//!   completes an arm first claims the signal (a CAS), and every other arm
//!   of that select becomes **stale**.
//! - **busy**: a queue channel's flag, written under the lock: something
//!   waits under the lock (an offer, an interest, a value put back or
//!   `late`). While it is down, sends and receives use only the queue.
//! - **settle**: under the lock, hand the oldest values (put back, queue,
//!   `late`) to waiting receivers in order, then refill the queue from
//!   `late` and from parked senders' offers.
//! - **closed**: after [`Sender::close`] or when the last sender is gone.
//!
//! # Design
//!
//! One lock per channel over everything that waits (`sendq`, `recvq`,
//! `delivered`, closed flag, handle counts, and the buffer of the channels
//! without a queue), as Go's `hchan`: every waiting operation is one short
//! critical section, and wakers are collected under the lock and woken
//! after it is released (Go's `closechan` does the same). The lock
//! (`chan/lock.rs`) spins briefly, then yields, then sleeps; its
//! uncontended unlock is one plain store. Who moves a value where:
//!
//! | operation | under the channel lock |
//! |---|---|
//! | send | hand the value to the oldest live interest; else buffer it if there is room and no live offer ahead; else park an offer (or fail, for `try_send`) |
//! | receive | take the buffer's oldest value, then refill the buffer from the oldest live offers; else take the oldest live offer; else register an interest |
//! | close | set the flag (and the queue's close mark), wake every waiter; parked senders withdraw their values and fail |
//!
//! So waiting senders and waiting receivers are each served strictly in
//! FIFO order, and a buffered value never overtakes an older one:
//! per-producer order holds.
//!
//! **Queue channels** (`bounded(cap)` with `cap >= 2`: the ring;
//! `unbounded`: the list) put the buffer outside the lock, in the queue,
//! so that a send and a receive on different cores do not pass the lock's
//! cache line back and forth (with the buffer under the lock, two threads
//! cost about three to four times crossbeam's time per message, on
//! bounded and unbounded channels alike). While `busy` is down,
//! `try_send`, `try_recv` and the first step of every blocking and async
//! send and receive are a queue push or pop and touch no lock; when the
//! ring is full, the queue empty, or `busy` is up, they take the lock and
//! run the table above, with the queue as the buffer. The lock's buffer
//! (`buf`) then holds only values put back by cancelled receivers (older
//! than the queue's), and `late` the values of offers claimed while a
//! racing push filled the ring again (younger than the ring's); receivers
//! take from `buf`, the queue, `late`, then offers, in that order, and
//! `busy` is up while either holds a value. A list is never full, so on an
//! unbounded channel no sender ever parks and `late` stays empty: only
//! receivers wait there. Both queues speak one vocabulary (push, pop,
//! close, and the looks `has_value`/`has_room`), dispatched by an enum,
//! so the handshake, settle and every locked path below are written once.
//!
//! *No lost wake-up* is a Dekker handshake on `busy` against the queue:
//!
//! - the lock-free side pushes (pops), then a `SeqCst` fence, then reads
//!   `busy`; if it is up, it takes the lock and settles;
//! - a thread about to park (a send future finding the ring full, a
//!   receive future finding it empty, a select arm) raises `busy` under
//!   the lock, then a `SeqCst` fence, then looks at the queue again, and
//!   parks only if it still finds no room (no value).
//!
//! Whichever of the two fences comes second in the fences' total order,
//! its thread sees the other's write: either the parking thread finds the
//! value (the room), or the pusher (popper) sees `busy` and settles after
//! the parked entry is in its queue, since the parking thread held the
//! lock from the raise to the park. In real builds the lock-free side's
//! fence is folded into `SeqCst` orderings on the queue's claiming CAS and
//! on the load of `busy` (one locked instruction per operation instead of
//! two; `fast_side_fence` in `chan/state.rs` has the argument); the loom
//! models check the fenced form. Every locked operation on a queue
//! channel settles first, and `busy` is recomputed whenever the lock is
//! released, so the flag never stays up with nothing waiting, and a
//! queued value never waits for a receiver that is parked.
//!
//! A push racing a close: the close mark is a bit of the queue's tail
//! word, set under the lock, so a push either got its position before the
//! mark (receivers drain it: a pop waits for a claimed slot to be
//! published) or fails with its value. `bounded(1)` keeps its buffer
//! under the lock: nearly every operation on it meets a waiter, and a ring
//! there measured slower.
//!
//! The list's blocks are freed by the pop that finishes the last read of
//! a block (a count per block), so a slow pop still reading a slot keeps
//! its block alive; no thread touches a block except through a slot it
//! has claimed, and an end's block pointer changes only while its
//! position is parked on a *gate* (an index past the last slot), so a
//! claim by CAS on the position proves the pointer read before it.
//! `chan/list.rs` has the protocol.
//!
//! **Select** (`chan/select.rs`), on every poll: (1) withdraw every parked
//! arm; if one was claimed meanwhile, that arm is the result; (2) try the
//! arms in a fresh random order (Fisher-Yates) and complete the first that
//! is ready, so each ready arm is equally likely; (3) park every arm with
//! one shared signal, and if an arm became ready while parking, go back to
//! (1). Between (1) and (3) the select has nothing parked, so nobody can
//! claim it while it completes an arm itself: no select ever holds two
//! channel locks, and none can deadlock. This is Go's `selectgo` (which
//! also dequeues all its waiters each time it wakes), with the lock-all
//! step replaced by withdrawal.
//!
//! # Cancellation safety (invariant)
//!
//! *Dropping any pending future (send, receive, select) loses no value and
//! duplicates none: every value is, at every moment, in exactly one place:
//! a sender's hands, an offer, the buffer, a `delivered` slot, or a
//! receiver's hands.*
//!
//! - A parked sender's value is taken only by a receiver that completes in
//!   the same critical section (pull, never push): dropping the send
//!   future withdraws the offer, and if it is already gone the value was
//!   received. A rendezvous send therefore completes exactly when a
//!   receiver takes it.
//! - A value is *handed* only to a receiver that is parked (an interest),
//!   and the receiver's future may be dropped before it returns the value.
//!   Its `Drop` then puts the value back: to the next live interest, or to
//!   the front of the buffer (past capacity if need be: order is kept,
//!   since it is older than anything buffered after it). On a queue
//!   channel the front is `buf`, which receivers empty before the queue.
//! - A queued value moves only by a pop (the lock-free receive, or settle
//!   handing it to a claimed interest); a push either lands in the queue
//!   or fails with the value, so nothing is in two places. An offer claimed
//!   to refill the ring goes to the ring or, if a racing push took the
//!   room, to `late`: its send has completed, so the value must not go
//!   back.
//! - A losing select arm takes nothing: a receive arm that was not chosen
//!   left the channel untouched; a send arm keeps its value
//!   ([`SendArm::into_unsent`]). Stale offers keep their values until their
//!   owner withdraws them; receivers skip them.
//!
//! # Rejected alternatives
//!
//! - **Lock-free everything** (crossbeam's array/list/zero flavors, each
//!   with its own waiter protocol). Only the buffer of queue channels is
//!   lock-free here: waiters, select, cancellation and close stay in one
//!   critical section that loom can check whole, and the queue meets them
//!   through one flag. The first version had no queue at all; between two
//!   threads it cost about four times crossbeam's time per message, every
//!   message passing the lock's cache line between cores (unbounded
//!   channels kept that until 2026-11-30: 2.3 to 3.5 times crossbeam).
//! - **A queue per flavor with its own handshake.** The ring and the list
//!   share `busy`, settle and the locked paths through one enum; a second
//!   copy of the handshake would be a second thing for loom to check.
//! - **Freeing list blocks by hazard pointers or epochs** (crossbeam-epoch).
//!   A count of finished reads per block is enough here, because no
//!   thread reads a block before it has claimed a slot in it; it costs one
//!   atomic add per pop and needs no global state.
//! - **Fast path whenever the ring has room, flag or not.** Cheaper
//!   still, but a fast push could then pass a parked sender (whose offer
//!   waits for room) forever; with the flag up, every send and receive
//!   takes the lock and the queues' FIFO order holds.
//! - **A ring for `bounded(1)`.** Measured slower: with one slot nearly
//!   every operation meets a waiter, and then pays for both paths (an
//!   earlier attempt; not re-measured with this design).
//! - **`std::sync::Mutex` as the channel lock** (the first version). Its
//!   unlock is an atomic swap, because it must learn whether a thread
//!   sleeps on it; with two per operation that was a third of a
//!   single-threaded send-and-receive. The critical sections here never
//!   block, so a bounded spin nearly always wins, and the rare sleeper is
//!   woken with a bounded timeout as backstop (`chan/lock.rs` has the
//!   argument).
//! - **Push to waiting receivers everywhere** (Go's direct handoff,
//!   including from parked senders). Go can, because a goroutine cannot be
//!   cancelled while parked; a future can. Handing a parked sender's value
//!   to a receiver that is then dropped would complete a rendezvous send
//!   that nobody received. Pull from offers, push only into interests with
//!   put-back.
//! - **Waking receivers and letting them compete** (no handoff). Simpler,
//!   but a fresh receiver can barge past one that has waited, forever.
//! - **Locking every channel of a select in address order** (Go). Needs
//!   guards of different types held at once and bars two arms on one
//!   channel; withdrawal gets the same exclusion with one lock at a time.
//!
//! # Known limits
//!
//! - A value handed to a receive future that is woken but then neither
//!   polled nor dropped stays reserved for it (as with any fair queue).
//! - Sends and receives on a closed channel never panic (Go's send on a
//!   closed channel does): a send returns the value in an error, and
//!   closing twice is harmless.
//! - The blocking forms with a timeout wait with `park_timeout`
//!   ([`wait_until`](crate::wait::wait_until)); the async forms use the
//!   runtime's timer wheel.
//! - A ring pop that finds its slot claimed by a push not yet published
//!   waits for it (spins, then yields), and likewise a push for a pop: if
//!   the other thread is preempted in those few instructions, this one
//!   waits for it to run again. Crossbeam's array flavor has the same
//!   window. The list has it too (a pop for a claimed slot's value, and
//!   every thread at an end for the one linking the next block), and a
//!   block stays allocated while a pop preempted in it has not finished.
//! - On a plain OS thread, a blocking `send` on a ring channel retries its
//!   `try_` form a few times with growing pauses before it waits, a
//!   blocking `recv` on a queue channel retries the lock-free pop (no lock
//!   while `busy` is down), and the wait checks its wake-up flag for a few
//!   microseconds before it parks: a little CPU for fewer futex calls.
//!   Green threads and scheduler threads never spin.
//! - An unbounded channel allocates its first block (63 slots of `T`) at
//!   its first send, not when it is made.

mod error;
mod list;
mod lock;
mod macros;
mod ops;
mod queue;
mod ring;
mod select;
mod state;

pub use error::{
    RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError,
};
pub use ops::{bounded, unbounded, Iter, Receiver, RecvFut, SendFut, Sender, TryIter};
pub use select::{RecvArm, Select, SelectFut, SendArm};

#[cfg(all(test, loom))]
mod loom_tests;

/// Compile-time checks: handles are `Send + Sync + Clone`, futures `Send`.
#[allow(dead_code)]
fn _assert_send_sync() {
    fn is_send_sync<T: Send + Sync + Clone>() {}
    fn is_send<T: Send>() {}
    is_send_sync::<Sender<String>>();
    is_send_sync::<Receiver<String>>();
    is_send::<SendFut<'static, String>>();
    is_send::<RecvFut<'static, String>>();
    is_send::<SelectFut<'static>>();
}
