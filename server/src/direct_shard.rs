//! Live events written to [`crate::direct`] streams by the publishing side, one writer per
//! shard of streams (a thread of its own, one per runtime worker), instead of by each stream's
//! own task.
//!
//! Through a task per stream, every event costs each stream a wake-up: its task pushed on a run
//! queue, polled, its state checked (shutdown, the ring, stats, the keep-alive timer, the
//! socket's readiness), then one `send`. The `send` is the kernel's floor; the rest was a
//! quarter of the server's CPU per event in the profile. Here a stream whose task has nothing
//! left to write parks as *idle at position p* in its [`Slot`]; the shard's writer, woken once
//! per event, sends the event's already framed chunk to every slot idle at that event's
//! position with one non-blocking `send` and moves it to p + 1, without waking anyone.
//!
//! The stream's own task stays the owner of everything else, and takes over whenever the
//! socket would block: a `send` that writes part of the chunk or nothing at all hands the slot
//! back to the task (with the rest of the chunk, or the position to resume from) and wakes it;
//! from then on the task writes as before, polled only when the socket takes more, and reads
//! the ring itself, so a slow or stalled reader falls behind and is `reset` exactly as before.
//! The task also takes the slot whenever it is woken for anything else (stats, shutdown, its
//! keep-alive timer, the peer leaving) and hands it back once it has written everything.
//!
//! # The slot's state
//!
//! One atomic word: the tag in the low 3 bits, a ring position above them.
//!
//! * `BUSY`: the task owns the socket (writing, or about to look at the ring).
//! * `IDLE(p)`: the task wrote everything up to position `p` and waits; the writer may send
//!   event `p` (`IDLE(p)` → `WRITING` → `IDLE(p + 1)`).
//! * `WRITING` (`WRITING_WAKE`: and the task asked to be woken once it is done): the writer is
//!   in its `send`.
//! * `HANDOFF(p)`: the writer gave up (the socket would block, or failed): the task resumes at
//!   `p`, after the partly written chunk left in [`Slot::handoff`] if there is one.
//! * `DEAD`: the stream ended; its socket is (about to be) closed and is never written again.
//!
//! # io_uring
//!
//! Where the kernel allows it (Linux, `io_uring_setup` not disabled), each writer owns an
//! io_uring and submits its event's sends as one `Send` entry per idle slot, [`BATCH`] entries
//! per `io_uring_enter`, instead of one `send` syscall each: the same non-blocking send
//! (`MSG_DONTWAIT`: a socket that would block completes at once with `EAGAIN`, it is never
//! polled), the same hand-off of what did not go out. On the 2-core bench machine a small
//! loopback write cost 3.1-3.3 µs of kernel CPU that way against 3.5-3.9 µs as a `send` (a
//! standalone test, 9,000 sockets), and the hub 40-50 ms of CPU per event to 10,000 streams
//! against 55.5-58.5 (`loadgen/bench.sh 10000`), plus 1-3 ms in `ksoftirqd` against 0-1.
//! A slot stays `WRITING` from its entry until its completion is read, and the chunk and the
//! socket live at least as long: a stream that ends meanwhile waits in [`Slot::end`] for its
//! batch, which is why batches are small. `--io-uring false` (`TABRELAY_IO_URING=0`) turns it
//! off (plain `send`). A writer uses a ring only if the kernel has the `Send` operation (5.6,
//! probed) and completes a send to a full socket at once with `EAGAIN` rather than waiting
//! for it (tried at setup on a socket pair); each writer logs which it uses. If
//! `io_uring_enter` ever fails for good (not `EINTR`, `EAGAIN`, `EBUSY`), the writer hands the
//! slots of its unsent entries back to their tasks, drops the ring with them (never submitted)
//! and sends with `send` from then on.
//!
//! A task going idle stores `IDLE(p)` and then looks at the ring's tail (a `SeqCst` fence on
//! both sides): either it sees an event the writer skipped while the slot was busy and takes
//! the slot back, or the writer sees the slot idle and writes the event; when both do, the
//! compare-and-swap picks one.

use std::os::fd::{BorrowedFd, RawFd};
use std::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::task::AtomicWaker;

use crate::fanout::{self, RecvError};
use crate::live::Live;
use crate::metrics::Metrics;

const TAG_BITS: u32 = 3;
const TAG_MASK: u64 = (1 << TAG_BITS) - 1;
const BUSY: u64 = 0;
const IDLE: u64 = 1;
const WRITING: u64 = 2;
const WRITING_WAKE: u64 = 3;
const HANDOFF: u64 = 4;
const DEAD: u64 = 5;

fn word(tag: u64, pos: u64) -> u64 {
    pos << TAG_BITS | tag
}

fn tag(word: u64) -> u64 {
    word & TAG_MASK
}

fn pos(word: u64) -> u64 {
    word >> TAG_BITS
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One direct stream's share with its shard's writer.
pub(crate) struct Slot {
    state: AtomicU64,
    /// The stream's socket; written by the writer only between `IDLE` and `WRITING`'s end, and
    /// closed by the stream only after the slot is `DEAD` (see [`Slot::end`]).
    fd: RawFd,
    /// The stream's task.
    waker: AtomicWaker,
    /// Live events with an id at or below this are not sent (a replay or reset covered them).
    skip_through: AtomicU64,
    /// When the last event the writer sent was published, in nanoseconds after `born` (0: none
    /// since the task last looked): the stream's keep-alive is due a period after it.
    last_live: AtomicU64,
    born: tokio::time::Instant,
    /// A chunk the writer sent part of: the bytes and how many went out.
    handoff: Mutex<Option<(Bytes, usize)>>,
    shard: Arc<Shard>,
}

/// What [`Slot::claim`] found.
pub(crate) enum Claim {
    /// The task owns the socket now; `skip_to` is where its ring cursor resumes (if the writer
    /// moved it), `partial` the rest of a chunk the writer started.
    Owned {
        skip_to: Option<u64>,
        partial: Option<(Bytes, usize)>,
    },
    /// The writer is in its `send`; the task is woken when it is done.
    Wait,
}

impl Slot {
    /// Takes the socket for the stream's task (it starts owned by the task).
    pub(crate) fn claim(&self) -> Claim {
        let mut current = self.state.load(Ordering::Acquire);
        loop {
            let (next, owned) = match tag(current) {
                BUSY | DEAD => {
                    return Claim::Owned {
                        skip_to: None,
                        partial: None,
                    }
                }
                IDLE | HANDOFF => (BUSY, true),
                WRITING => (word(WRITING_WAKE, 0), false),
                _ => return Claim::Wait,
            };
            match self.state.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) if owned => {
                    let partial = if tag(current) == HANDOFF {
                        lock(&self.handoff).take()
                    } else {
                        None
                    };
                    return Claim::Owned {
                        skip_to: Some(pos(current)),
                        partial,
                    };
                }
                Ok(_) => return Claim::Wait,
                Err(actual) => current = actual,
            }
        }
    }

    /// Parks the stream at ring position `at` (everything before it written), for the writer to
    /// send the next events; `skip_through` as the stream's. `true` if the task got the slot
    /// back at once because `news` (the ring has something the writer may have skipped).
    pub(crate) fn park(&self, at: u64, skip_through: u64, news: impl FnOnce() -> bool) -> bool {
        self.skip_through.store(skip_through, Ordering::Relaxed);
        let idle = word(IDLE, at);
        self.state.store(idle, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        news()
            && self
                .state
                .compare_exchange(idle, BUSY, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }

    /// When the last event the writer sent since the last call was published, if it sent one.
    pub(crate) fn take_last_live(&self) -> Option<tokio::time::Instant> {
        match self.last_live.swap(0, Ordering::AcqRel) {
            0 => None,
            n => Some(self.born + std::time::Duration::from_nanos(n)),
        }
    }

    /// Registers the stream task's waker.
    pub(crate) fn register(&self, cx: &Context<'_>) {
        self.waker.register(cx.waker());
    }

    /// The stream ends: once the writer is out of its `send`, the socket is never written here
    /// again, and the caller may close it.
    pub(crate) fn end(&self) {
        let mut current = self.state.load(Ordering::Acquire);
        loop {
            if matches!(tag(current), WRITING | WRITING_WAKE) {
                // The writer's `send`, or its batch of at most `BATCH` sends on the io_uring
                // (~0.1 ms): the socket must stay open until then (an entry must never reach
                // a closed and reused fd number).
                std::thread::yield_now();
                current = self.state.load(Ordering::Acquire);
                continue;
            }
            match self.state.compare_exchange_weak(
                current,
                DEAD,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(actual) => current = actual,
            }
        }
        // Dead slots are dropped at the writer's next event, or sooner once they add up.
        if self.shard.dead.fetch_add(1, Ordering::AcqRel) + 1 >= PRUNE_AT {
            self.shard.waker.wake();
        }
    }

    /// The writer leaves `WRITING` for `next`, waking the task if it asked meanwhile (or if
    /// `wake`).
    fn release(&self, next: u64, wake: bool) {
        let was = self.state.swap(next, Ordering::AcqRel);
        if wake || tag(was) == WRITING_WAKE {
            self.waker.wake();
        }
    }

    /// Sends event `at` (framed as a chunk) if the slot is idle there.
    #[cfg(test)]
    fn offer(&self, at: u64, id: u64, chunk: &Bytes, published: tokio::time::Instant) {
        if self.begin(at, id) {
            self.send_now(at, chunk, published);
        }
    }

    /// Takes the slot for the writer if it is idle at event `at` and the event is to be sent
    /// (`true`: the slot is `WRITING`, and [`Slot::finish`] must follow); moves it past an event
    /// it skips.
    fn begin(&self, at: u64, id: u64) -> bool {
        let idle = word(IDLE, at);
        let current = self.state.load(Ordering::Relaxed);
        if current != idle {
            // Idle behind this event: the task must have missed it; let it look.
            if tag(current) == IDLE && pos(current) < at {
                self.waker.wake();
            }
            return false;
        }
        if self
            .state
            .compare_exchange(idle, WRITING, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        if id <= self.skip_through.load(Ordering::Relaxed) {
            self.release(word(IDLE, at + 1), false);
            return false;
        }
        true
    }

    /// One non-blocking `send` of `chunk` to a slot [`Slot::begin`] took.
    fn send_now(&self, at: u64, chunk: &Bytes, published: tokio::time::Instant) {
        // SAFETY: the slot is `WRITING`, so the stream has not closed the socket (`Slot::end`
        // waits for `WRITING` to end before the stream may close it).
        let fd = unsafe { BorrowedFd::borrow_raw(self.fd) };
        let sent = socket2::SockRef::from(&fd).send(chunk);
        self.finish(at, sent.map_or(-1, |n| n as isize), chunk, published);
    }

    /// Ends the writer's `send` of event `at` to this slot: `sent` bytes went out (negative:
    /// none, the socket would block or failed).
    fn finish(&self, at: u64, sent: isize, chunk: &Bytes, published: tokio::time::Instant) {
        match usize::try_from(sent) {
            Ok(n) if n == chunk.len() => {
                let nanos = published.saturating_duration_since(self.born).as_nanos() as u64;
                self.last_live.store(nanos.max(1), Ordering::Release);
                self.release(word(IDLE, at + 1), false)
            }
            Ok(n) if n > 0 && n < chunk.len() => {
                *lock(&self.handoff) = Some((chunk.clone(), n));
                self.release(word(HANDOFF, at + 1), true)
            }
            // Would block (or failed): the task writes this event itself, when the socket
            // takes it, and finds any error itself.
            _ => self.release(word(HANDOFF, at), true),
        }
    }
}

/// Dead slots that make the writer prune without waiting for an event.
const PRUNE_AT: usize = 256;

/// The streams of one writer.
pub(crate) struct Shard {
    /// New slots, taken in by the writer at its next wake-up.
    inbox: Mutex<Vec<Arc<Slot>>>,
    /// Slots that ended since the writer last pruned.
    dead: AtomicUsize,
    /// The writer.
    waker: AtomicWaker,
}

/// The shards of a hub, and their writers.
pub(crate) struct Shards {
    shards: Vec<Arc<Shard>>,
    next: AtomicUsize,
}

impl Shards {
    /// One shard per runtime worker thread, each with a writer thread reading `tx`'s events.
    pub(crate) fn start(
        tx: &fanout::Sender<Live>,
        ending: Arc<std::sync::atomic::AtomicBool>,
        metrics: Arc<Metrics>,
        io_uring: bool,
    ) -> Self {
        let n = tokio::runtime::Handle::current()
            .metrics()
            .num_workers()
            .max(1);
        let shards: Vec<_> = (0..n)
            .map(|_| {
                Arc::new(Shard {
                    inbox: Mutex::new(Vec::new()),
                    dead: AtomicUsize::new(0),
                    waker: AtomicWaker::new(),
                })
            })
            .collect();
        for (i, shard) in shards.iter().enumerate() {
            let writer = |sender| Writer {
                rx: tx.subscribe(),
                shard: Arc::clone(shard),
                slots: Vec::new(),
                generation: 0,
                ending: Arc::clone(&ending),
                metrics: Arc::clone(&metrics),
                sender,
            };
            // A thread of its own, not a task on a runtime worker: the scheduler puts two
            // runnable writers on two cores, however the runtime's queues stand when an event
            // wakes them (a task waits until its worker is free or another steals it). The
            // ring is set up on the thread that submits to it. Subscribed here, before any
            // stream of this shard exists.
            let mut on_thread = writer(Sender::none());
            let spawned = std::thread::Builder::new()
                .name(format!("fanout-writer-{i}"))
                .spawn(move || {
                    on_thread.sender = Sender::started(io_uring, i, n);
                    futures::executor::block_on(on_thread);
                });
            if let Err(e) = spawned {
                tracing::warn!(shard = i, "no thread for fan-out writer {i} ({e}): a task");
                tokio::spawn(writer(Sender::started(io_uring, i, n)));
            }
        }
        Self {
            shards,
            next: AtomicUsize::new(0),
        }
    }

    /// A slot for a stream on `fd`, owned by the stream's task until it parks.
    pub(crate) fn register(&self, fd: RawFd, skip_through: u64) -> Arc<Slot> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.shards.len();
        let shard = &self.shards[i];
        let slot = Arc::new(Slot {
            state: AtomicU64::new(BUSY),
            fd,
            waker: AtomicWaker::new(),
            skip_through: AtomicU64::new(skip_through),
            last_live: AtomicU64::new(0),
            born: tokio::time::Instant::now(),
            handoff: Mutex::new(None),
            shard: Arc::clone(shard),
        });
        lock(&shard.inbox).push(Arc::clone(&slot));
        slot
    }
}

/// Events sent per poll before the writer lets the worker run other tasks.
const EVENTS_PER_POLL: usize = 16;

/// Sends per `io_uring_enter` (the ring's size): a slot stays `WRITING` from its entry until
/// its batch's `io_uring_enter` returns, at most this many non-blocking sends (~0.1 ms), which
/// is as long as a stream that ends meanwhile waits in [`Slot::end`].
const BATCH: usize = 32;

/// `io_uring_enter` failing this many times in a row with a passing error (`EINTR`, `EAGAIN`,
/// `EBUSY`) is taken as failing for good.
#[cfg(target_os = "linux")]
const ENTER_RETRIES: usize = 1000;

/// How a writer sends: through its io_uring, or one `send` syscall per slot.
pub(crate) struct Sender {
    #[cfg(target_os = "linux")]
    ring: Option<io_uring::IoUring>,
    /// The slots (indices) of the entries queued on the ring; `usize::MAX` once completed.
    #[cfg(target_os = "linux")]
    queued: Vec<usize>,
    /// A test's stand-in for the kernel: `io_uring_enter` fails with this error.
    #[cfg(target_os = "linux")]
    fail_enter: Option<i32>,
}

impl Sender {
    /// With an io_uring if `uring` and the kernel gives one that will do, else plain `send`;
    /// `shard` names the writer in the log.
    pub(crate) fn new(uring: bool, shard: usize) -> Self {
        #[cfg(target_os = "linux")]
        {
            let ring = if uring {
                match uring_setup() {
                    Ok(ring) => Some(ring),
                    Err(e) => {
                        tracing::info!(shard, "io_uring unavailable ({e}): fan-out with send");
                        None
                    }
                }
            } else {
                None
            };
            Self {
                ring,
                queued: Vec::with_capacity(BATCH),
                fail_enter: None,
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (uring, shard);
            Self {}
        }
    }

    /// A sender that uses `send` (no ring).
    fn none() -> Self {
        Self::new(false, 0)
    }

    /// [`Sender::new`] for writer `shard` of `of`, saying in the log which way it sends.
    fn started(uring: bool, shard: usize, of: usize) -> Self {
        let sender = Self::new(uring, shard);
        tracing::info!(
            shard,
            io_uring = sender.uses_io_uring(),
            "fan-out writer {shard} of {of} sends through {}",
            if sender.uses_io_uring() {
                "io_uring"
            } else {
                "send"
            }
        );
        sender
    }

    /// Whether sends go through an io_uring.
    pub(crate) fn uses_io_uring(&self) -> bool {
        #[cfg(target_os = "linux")]
        {
            self.ring.is_some()
        }
        #[cfg(not(target_os = "linux"))]
        {
            false
        }
    }

    /// Sends event `at` (id `id`, framed as `chunk`) to every slot idle at `at`.
    pub(crate) fn offer_all(
        &mut self,
        slots: &[Arc<Slot>],
        at: u64,
        id: u64,
        chunk: &Bytes,
        published: tokio::time::Instant,
    ) {
        #[cfg(target_os = "linux")]
        let slots = match self.offer_uring(slots, at, id, chunk, published) {
            Some(rest) => rest,
            None => return,
        };
        for slot in slots {
            if slot.begin(at, id) {
                slot.send_now(at, chunk, published);
            }
        }
    }

    /// [`Sender::offer_all`] through the ring, if there is one: an entry per slot
    /// [`Slot::begin`] took, [`BATCH`] per submission, each completion [`Slot::finish`]ed.
    /// `None` once done; else the slots left to `send` to (all of them without a ring; those
    /// not yet looked at if the ring failed, and is gone).
    #[cfg(target_os = "linux")]
    fn offer_uring<'s>(
        &mut self,
        slots: &'s [Arc<Slot>],
        at: u64,
        id: u64,
        chunk: &Bytes,
        published: tokio::time::Instant,
    ) -> Option<&'s [Arc<Slot>]> {
        use io_uring::{opcode, types};
        let Some(ring) = self.ring.as_mut() else {
            return Some(slots);
        };
        let len = u32::try_from(chunk.len()).expect("an event's chunk is far below 4 GiB");
        let mut failed = None;
        for (i, slot) in slots.iter().enumerate() {
            if self.queued.len() == BATCH {
                if let Err(e) = complete(
                    ring,
                    slots,
                    &mut self.queued,
                    at,
                    chunk,
                    published,
                    self.fail_enter,
                ) {
                    failed = Some((e, i));
                    break;
                }
            }
            if !slot.begin(at, id) {
                continue;
            }
            // `MSG_DONTWAIT`: a socket that would block completes at once with `EAGAIN`
            // (io_uring does not wait for it; checked in `uring_setup`); `MSG_NOSIGNAL`: a
            // closed peer is an error, not SIGPIPE.
            let entry = opcode::Send::new(types::Fd(slot.fd), chunk.as_ptr(), len)
                .flags(libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
                .build()
                .user_data(self.queued.len() as u64);
            // SAFETY: the entry's buffer is `chunk`, which outlives this call, and every entry
            // is completed (or the ring dropped, unsubmitted) before it returns; its socket
            // stays open while the slot is `WRITING` (`Slot::end` waits), which it is until its
            // completion is finished or it is handed back.
            if unsafe { ring.submission().push(&entry) }.is_err() {
                // Cannot be (the queue holds `BATCH` and is emptied at `BATCH`): the task
                // sends it.
                slot.release(word(HANDOFF, at), true);
                continue;
            }
            self.queued.push(i);
        }
        let failed = match failed {
            Some(failed) => Some(failed),
            None => complete(
                ring,
                slots,
                &mut self.queued,
                at,
                chunk,
                published,
                self.fail_enter,
            )
            .err()
            .map(|e| (e, slots.len())),
        };
        let (e, rest) = failed?;
        // Whatever is still queued is never submitted: the ring goes with it.
        self.ring = None;
        tracing::warn!("io_uring_enter failed ({e}): this fan-out writer sends with send now");
        Some(&slots[rest..])
    }
}

/// A writer's io_uring, if the kernel has one that does what [`Sender::offer_uring`] needs:
/// the `Send` operation (Linux 5.6), and a send that would block completing at once instead
/// of waiting for the socket.
#[cfg(target_os = "linux")]
fn uring_setup() -> std::io::Result<io_uring::IoUring> {
    use io_uring::{opcode, types};
    use std::io::{Error, ErrorKind, Write};
    use std::os::fd::AsRawFd;
    let mut ring = io_uring::IoUring::new(BATCH as u32)?;
    let mut probe = io_uring::Probe::new();
    ring.submitter().register_probe(&mut probe)?;
    if !probe.is_supported(opcode::Send::CODE) {
        return Err(Error::new(ErrorKind::Unsupported, "no Send operation"));
    }
    // A full non-blocking socket, as a stalled reader's is: the send must fail at once.
    let (full, _peer) = std::os::unix::net::UnixStream::pair()?;
    full.set_nonblocking(true)?;
    let fill = [0u8; 16 << 10];
    loop {
        match (&full).write(&fill) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    static ONE: [u8; 1] = [0];
    let entry = opcode::Send::new(types::Fd(full.as_raw_fd()), ONE.as_ptr(), 1)
        .flags(libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
        .build();
    // SAFETY: the buffer is static; the socket outlives the ring (dropped first, on return),
    // which ends the entry if the kernel has it waiting.
    unsafe { ring.submission().push(&entry) }
        .map_err(|_| Error::other("an empty submission queue is full"))?;
    ring.submit()?;
    let result = ring.completion().next().map(|done| done.result());
    match result {
        Some(r) if r == -libc::EAGAIN => Ok(ring),
        Some(r) => Err(Error::other(format!(
            "a send to a full socket completed with {r}"
        ))),
        None => Err(Error::other("a send to a full socket waits for it")),
    }
}

/// Submits the entries `queued` on `ring` and finishes their slots as they complete. If
/// `io_uring_enter` fails for good, finishes those that completed, hands the others back to
/// their tasks (at `at`: they write the event themselves) and returns the error; the entries
/// still queued must then never be submitted (their sockets may be closed once the slots are
/// no longer `WRITING`, and their numbers reused): the caller drops the ring.
#[cfg(target_os = "linux")]
fn complete(
    ring: &mut io_uring::IoUring,
    slots: &[Arc<Slot>],
    queued: &mut Vec<usize>,
    at: u64,
    chunk: &Bytes,
    published: tokio::time::Instant,
    fail_enter: Option<i32>,
) -> std::io::Result<()> {
    let mut left = queued.len();
    let mut retries = 0;
    let mut result = Ok(());
    while left > 0 {
        let entered = match fail_enter {
            Some(errno) => Err(std::io::Error::from_raw_os_error(errno)),
            None => ring.submit_and_wait(left),
        };
        match entered {
            Ok(_) => retries = 0,
            // Interrupted, or the kernel short of memory for a moment: try again (the entries
            // not yet consumed stay queued).
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EINTR | libc::EAGAIN | libc::EBUSY)
                ) && retries < ENTER_RETRIES =>
            {
                retries += 1;
                std::thread::yield_now();
            }
            Err(e) => {
                result = Err(e);
                break;
            }
        }
        for done in ring.completion() {
            let entry = &mut queued[done.user_data() as usize];
            slots[*entry].finish(at, done.result() as isize, chunk, published);
            *entry = usize::MAX;
            left -= 1;
        }
    }
    if result.is_err() {
        for done in ring.completion() {
            let entry = &mut queued[done.user_data() as usize];
            slots[*entry].finish(at, done.result() as isize, chunk, published);
            *entry = usize::MAX;
        }
        for &i in queued.iter().filter(|&&i| i != usize::MAX) {
            slots[i].release(word(HANDOFF, at), true);
        }
    }
    queued.clear();
    result
}

/// A shard's writer: woken by every event (and every [`fanout::Sender::wake_all`]).
struct Writer {
    rx: fanout::Receiver<Live>,
    shard: Arc<Shard>,
    slots: Vec<Arc<Slot>>,
    generation: u64,
    ending: Arc<std::sync::atomic::AtomicBool>,
    metrics: Arc<Metrics>,
    sender: Sender,
}

impl Writer {
    fn take_inbox(&mut self) {
        let mut inbox = lock(&self.shard.inbox);
        if !inbox.is_empty() {
            self.slots.append(&mut inbox);
        }
    }

    fn wake_all(&self) {
        for slot in &self.slots {
            slot.waker.wake();
        }
    }
}

impl std::future::Future for Writer {
    type Output = ();

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        this.shard.waker.register(cx.waker());
        this.take_inbox();
        if this.shard.dead.swap(0, Ordering::AcqRel) > 0 {
            this.slots
                .retain(|s| tag(s.state.load(Ordering::Acquire)) != DEAD);
            if this.slots.capacity() > 2 * this.slots.len() + 64 {
                this.slots.shrink_to_fit();
            }
        }
        // Stats, shutdown: every stream looks for itself.
        let generation = this.rx.generation();
        if generation != this.generation {
            this.generation = generation;
            this.wake_all();
        }
        for _ in 0..EVENTS_PER_POLL {
            match this.rx.poll_recv(cx) {
                Poll::Ready(Ok(Live::Event(frame))) => {
                    if this.ending.load(Ordering::Acquire) {
                        this.wake_all();
                        continue;
                    }
                    let at = this.rx.position() - 1;
                    // Pairs with the fence in `Slot::park`: a slot parked before this event's
                    // tail was visible is seen idle here, and so is a new slot in the inbox
                    // (pushed before it parked).
                    fence(Ordering::SeqCst);
                    this.take_inbox();
                    this.sender
                        .offer_all(&this.slots, at, frame.id, &frame.chunked, frame.at);
                    if !this.slots.is_empty() {
                        this.metrics
                            .fanout_write
                            .observe(frame.at.elapsed().as_secs_f64());
                    }
                }
                // The streams handle these themselves (a reset frame, a lagged cursor).
                Poll::Ready(Ok(Live::Reset(_))) | Poll::Ready(Err(RecvError::Lagged(_))) => {
                    this.wake_all()
                }
                Poll::Ready(Err(RecvError::Closed)) => {
                    this.wake_all();
                    return Poll::Ready(());
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;
    use std::sync::atomic::AtomicUsize;
    use std::task::{Wake, Waker};

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// `n` slots parked at position 0 on non-blocking socket pairs: the slots, their wake
    /// counters, and each pair (ours, the peer that reads).
    #[allow(clippy::type_complexity)]
    fn parked_slots(
        n: usize,
    ) -> (
        Vec<Arc<Slot>>,
        Vec<Arc<Count>>,
        Vec<(UnixStream, UnixStream)>,
    ) {
        let (mut slots, mut counts, mut pairs) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..n {
            let (ours, peer) = UnixStream::pair().unwrap();
            ours.set_nonblocking(true).unwrap();
            peer.set_nonblocking(true).unwrap();
            let (slot, woken) = slot(ours.as_raw_fd());
            assert!(!slot.park(0, 0, || false));
            slots.push(Arc::new(slot));
            counts.push(woken);
            pairs.push((ours, peer));
        }
        (slots, counts, pairs)
    }

    fn slot(fd: RawFd) -> (Slot, Arc<Count>) {
        let shard = Arc::new(Shard {
            inbox: Mutex::new(Vec::new()),
            dead: AtomicUsize::new(0),
            waker: AtomicWaker::new(),
        });
        let slot = Slot {
            state: AtomicU64::new(BUSY),
            fd,
            waker: AtomicWaker::new(),
            skip_through: AtomicU64::new(0),
            last_live: AtomicU64::new(0),
            born: tokio::time::Instant::now(),
            handoff: Mutex::new(None),
            shard,
        };
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&count));
        slot.register(&Context::from_waker(&waker));
        (slot, count)
    }

    fn owned(claim: Claim) -> (Option<u64>, Option<(Bytes, usize)>) {
        match claim {
            Claim::Owned { skip_to, partial } => (skip_to, partial),
            Claim::Wait => panic!("expected the slot"),
        }
    }

    #[tokio::test]
    async fn an_idle_slot_is_written_by_the_writer_without_waking_its_task() {
        let (ours, mut peer) = UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        let (slot, woken) = slot(ours.as_raw_fd());
        let now = tokio::time::Instant::now();
        let frame = Bytes::from_static(b"5\r\nhello\r\n");
        slot.offer(7, 1, &frame, now);
        assert_eq!(
            slot.state.load(Ordering::SeqCst),
            BUSY,
            "busy: not the writer's"
        );
        assert!(!slot.park(7, 0, || false));
        slot.offer(7, 1, &frame, now);
        slot.offer(8, 2, &frame, now);
        assert_eq!(slot.state.load(Ordering::SeqCst), word(IDLE, 9));
        assert_eq!(woken.0.load(Ordering::SeqCst), 0);
        let mut got = [0u8; 20];
        peer.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"5\r\nhello\r\n5\r\nhello\r\n");
        assert!(slot.take_last_live().is_some());
        assert!(slot.take_last_live().is_none());
        // An event at or below the stream's skip point moves it on without a write.
        slot.state.store(BUSY, Ordering::SeqCst);
        owned(slot.claim());
        assert!(!slot.park(9, 10, || false));
        slot.offer(9, 10, &frame, now);
        assert_eq!(slot.state.load(Ordering::SeqCst), word(IDLE, 10));
        // The task takes it back where the writer left it.
        assert_eq!(owned(slot.claim()).0, Some(10));
    }

    #[tokio::test]
    async fn a_full_socket_hands_the_rest_of_the_chunk_to_the_task_and_wakes_it() {
        let (ours, _peer) = UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        let (slot, woken) = slot(ours.as_raw_fd());
        let now = tokio::time::Instant::now();
        let big = Bytes::from(vec![b'x'; 4 << 20]);
        assert!(!slot.park(0, 0, || false));
        slot.offer(0, 1, &big, now);
        assert_eq!(woken.0.load(Ordering::SeqCst), 1);
        assert_eq!(slot.state.load(Ordering::SeqCst), word(HANDOFF, 1));
        let (skip_to, partial) = owned(slot.claim());
        assert_eq!(
            skip_to,
            Some(1),
            "the partly sent event is behind the cursor"
        );
        let (data, written) = partial.expect("the rest of the chunk");
        assert_eq!(data.len(), big.len());
        assert!(written > 0 && written < big.len());
        // Nothing fits now: the task (polled again: its waker registered again, as a wake-up
        // takes it) resumes at the event itself.
        let waker = Waker::from(Arc::clone(&woken));
        slot.register(&Context::from_waker(&waker));
        assert!(!slot.park(1, 0, || false));
        slot.offer(1, 2, &big, now);
        assert_eq!(woken.0.load(Ordering::SeqCst), 2);
        let (skip_to, partial) = owned(slot.claim());
        assert_eq!(skip_to, Some(1));
        assert!(partial.is_none());
        // Another slot's event is never sent to a busy one.
        slot.offer(1, 2, &big, now);
        assert_eq!(slot.state.load(Ordering::SeqCst), BUSY);
    }

    /// Both senders (io_uring where the kernel gives one, and plain `send`): every idle slot
    /// gets each event once and in order, a skipped event is not written, a busy slot is left
    /// alone, and a socket that fills up hands the rest to its task.
    #[tokio::test]
    async fn both_senders_write_each_event_once_to_every_idle_slot_and_hand_off_a_full_one() {
        for uring in [true, false] {
            let mut sender = Sender::new(uring, 0);
            eprintln!("io_uring asked: {uring}, used: {}", sender.uses_io_uring());
            let (slots, counts, mut peers) = parked_slots(600);
            // Slot 1 stays busy (its task writes), slot 2 skips event 2.
            assert!(matches!(slots[1].claim(), Claim::Owned { .. }));
            let now = tokio::time::Instant::now();
            let a = Bytes::from_static(b"3\r\naaa\r\n");
            let b = Bytes::from_static(b"3\r\nbbb\r\n");
            sender.offer_all(&slots, 0, 1, &a, now);
            slots[2].skip_through.store(2, Ordering::SeqCst);
            sender.offer_all(&slots, 1, 2, &b, now);
            for (i, (slot, (_, peer))) in slots.iter().zip(&mut peers).enumerate() {
                let mut got = Vec::new();
                let _ = peer.read_to_end(&mut got);
                let want: &[u8] = match i {
                    1 => b"",
                    2 => b"3\r\naaa\r\n",
                    _ => b"3\r\naaa\r\n3\r\nbbb\r\n",
                };
                assert_eq!(got, want, "slot {i} (io_uring: {})", sender.uses_io_uring());
                let state = slot.state.load(Ordering::SeqCst);
                assert_eq!(state, if i == 1 { BUSY } else { word(IDLE, 2) });
            }
            assert!(counts.iter().all(|c| c.0.load(Ordering::SeqCst) == 0));
            // A chunk bigger than the socket takes: part of it goes out, the task gets the rest.
            let big = Bytes::from(vec![b'x'; 4 << 20]);
            sender.offer_all(&slots[..1], 2, 3, &big, now);
            assert_eq!(slots[0].state.load(Ordering::SeqCst), word(HANDOFF, 3));
            assert_eq!(counts[0].0.load(Ordering::SeqCst), 1);
            let (skip_to, partial) = owned(slots[0].claim());
            assert_eq!(skip_to, Some(3));
            let (data, written) = partial.expect("the rest of the chunk");
            assert!(data.len() == big.len() && written > 0 && written < big.len());
            // Nothing fits any more: the task resumes at the event itself.
            assert!(!slots[0].park(3, 0, || false));
            sender.offer_all(&slots[..1], 3, 4, &big, now);
            assert_eq!(slots[0].state.load(Ordering::SeqCst), word(HANDOFF, 3));
        }
    }

    /// The writers do not wait for a runtime worker: with the runtime's only thread busy (here,
    /// blocked reading the socket), a parked stream still gets the event. A writer that is a
    /// task on that runtime never runs, and the read times out.
    #[test]
    fn the_writers_send_while_every_runtime_worker_is_busy() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let tx = fanout::channel::<Live>(16);
            let shards = Shards::start(
                &tx,
                Arc::new(std::sync::atomic::AtomicBool::new(false)),
                Arc::new(Metrics::new()),
                true,
            );
            let (ours, mut peer) = UnixStream::pair().unwrap();
            ours.set_nonblocking(true).unwrap();
            let slot = shards.register(ours.as_raw_fd(), 0);
            assert!(!slot.park(0, 0, || false));
            let frame = crate::replay::Frame::new(1, b"data: x\n\n", tokio::time::Instant::now());
            let want = frame.chunked.clone();
            tx.send(Live::Event(frame));
            // Blocking this thread, the runtime's only worker, until the event arrives.
            peer.set_read_timeout(Some(std::time::Duration::from_secs(10)))
                .unwrap();
            let mut got = vec![0u8; want.len()];
            peer.read_exact(&mut got)
                .expect("the writer sent the event while the worker was busy");
            assert_eq!(got, want);
            // Then the stream ends (the writer is out of its send: the slot is idle again).
            slot.end();
            drop(ours);
        });
    }

    #[test]
    fn a_task_that_parks_with_news_waiting_takes_the_slot_back() {
        let (ours, _peer) = UnixStream::pair().unwrap();
        let (slot, _) = slot(ours.as_raw_fd());
        assert!(slot.park(3, 0, || true));
        assert_eq!(slot.state.load(Ordering::SeqCst), BUSY);
        // Once ended, the writer never touches it.
        slot.end();
        slot.offer(3, 1, &Bytes::from_static(b"x"), tokio::time::Instant::now());
        assert_eq!(slot.state.load(Ordering::SeqCst), DEAD);
        assert_eq!(slot.shard.dead.load(Ordering::SeqCst), 1);
    }

    /// `io_uring_enter` failing for good (say `EPERM` from a seccomp filter that allowed the
    /// setup): the writer does not panic and leaves no slot `WRITING`; the slots it had queued
    /// are handed to their tasks, which write the event themselves, the rest are sent with
    /// `send` from then on, and every slot gets every event once, in order.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_ring_that_cannot_enter_hands_its_slots_back_and_the_writer_falls_back_to_send() {
        let mut sender = Sender::new(true, 0);
        if !sender.uses_io_uring() {
            eprintln!("no io_uring here: nothing to test");
            return;
        }
        sender.fail_enter = Some(libc::EPERM);
        let (slots, counts, mut socks) = parked_slots(600);
        let now = tokio::time::Instant::now();
        let a = Bytes::from_static(b"3\r\naaa\r\n");
        let b = Bytes::from_static(b"3\r\nbbb\r\n");
        let offered = std::panic::AssertUnwindSafe(|| sender.offer_all(&slots, 0, 1, &a, now));
        assert!(
            std::panic::catch_unwind(offered).is_ok(),
            "the writer panicked"
        );
        assert!(!sender.uses_io_uring(), "the ring is dropped");
        let mut handed = 0;
        for (i, (slot, (ours, _))) in slots.iter().zip(&mut socks).enumerate() {
            let state = slot.state.load(Ordering::SeqCst);
            match tag(state) {
                IDLE => assert_eq!(state, word(IDLE, 1), "slot {i}"),
                HANDOFF => {
                    // Its task: woken, it resumes at the event and writes it itself.
                    assert_eq!(state, word(HANDOFF, 0), "slot {i}");
                    assert_eq!(counts[i].0.load(Ordering::SeqCst), 1, "slot {i} woken");
                    let (skip_to, partial) = owned(slot.claim());
                    assert_eq!((skip_to, partial), (Some(0), None));
                    std::io::Write::write_all(ours, &a).unwrap();
                    assert!(!slot.park(1, 0, || false));
                    handed += 1;
                }
                _ => panic!("slot {i} left in state {state:#x}"),
            }
        }
        assert!(
            handed > 0,
            "the failed entries' slots went back to their tasks"
        );
        sender.offer_all(&slots, 1, 2, &b, now);
        for (i, (slot, (_, peer))) in slots.iter().zip(&mut socks).enumerate() {
            let mut got = Vec::new();
            let _ = peer.read_to_end(&mut got);
            assert_eq!(got, b"3\r\naaa\r\n3\r\nbbb\r\n", "slot {i}");
            assert_eq!(slot.state.load(Ordering::SeqCst), word(IDLE, 2));
            // Nothing in flight: the stream ends at once.
            slot.end();
            assert_eq!(slot.state.load(Ordering::SeqCst), DEAD);
        }
    }
}
