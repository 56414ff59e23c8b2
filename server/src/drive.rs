//! The tasks that drive the plain-TCP streams [`crate::direct`] writes: a few of them (one per
//! worker thread), each holding thousands of streams in a `FuturesUnordered`, instead of one
//! tokio task per stream.
//!
//! A device event wakes every stream. With a task per stream that is, per stream and event, a
//! tokio wake-up (the task's state, a run-queue push and pop, the poll harness and its budget)
//! before the stream even looks at the ring. Here a wake-up is a push onto the driver's own
//! ready queue (two atomic swaps), the driver task is woken once per event, and it polls the
//! woken streams one after the other. A stream's own wakers (its socket's readiness, its
//! keep-alive timer, the hub's ring) are all the stream's: only the streams that were woken
//! are polled, so a stream that closes or whose socket drains costs one poll, not a pass over
//! every stream.
//!
//! A driver yields to the runtime after [`POLLS_PER_TURN`] stream polls (the streams it did not
//! reach stay queued), so a burst to 10,000 streams does not hold a worker thread for its whole
//! length. Tokio's own cooperative budget is switched off for the driver
//! ([`tokio::task::unconstrained`]): it counts socket and timer polls per *task*, and once spent
//! it makes every further poll of the turn answer `Pending` and defer its wake-up, so each of
//! the thousands of woken streams would be polled, do half its work and be queued again, turn
//! after turn (measured: 55 → 89 ms of server CPU per event at 10,000 streams).

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::mpsc;
use tokio_util::task::task_tracker::TaskTrackerToken;

use crate::direct::Pump;

/// Stream polls a driver makes before it yields to the runtime.
const POLLS_PER_TURN: u32 = 256;

thread_local! {
    /// Stream polls left in the driver turn running on this thread.
    static TURN: Cell<u32> = const { Cell::new(0) };
}

/// One stream in a driver, tracked like a connection task: the server's graceful shutdown
/// waits for it ([`tokio_util::task::TaskTracker::wait`] counts the token).
struct Tracked {
    pump: Pump,
    _token: TaskTrackerToken,
}

impl Future for Tracked {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let left = TURN.get();
        if left == 0 {
            // This turn is spent: stay queued (`FuturesUnordered` yields once two of its
            // futures have asked to be polled again).
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        TURN.set(left - 1);
        Pin::new(&mut self.pump).poll(cx)
    }
}

/// Hands streams to the drivers, round-robin.
pub(crate) struct Drivers {
    inboxes: Vec<mpsc::UnboundedSender<Tracked>>,
    next: AtomicUsize,
}

impl Drivers {
    /// Spawns `count` (at least one) driver tasks on the current runtime; each ends once this
    /// value is dropped and its streams have ended.
    pub(crate) fn start(count: usize) -> Self {
        let inboxes = (0..count.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(tokio::task::unconstrained(Driver {
                    inbox: rx,
                    open: true,
                    streams: FuturesUnordered::new(),
                }));
                tx
            })
            .collect();
        Self {
            inboxes,
            next: AtomicUsize::new(0),
        }
    }

    /// One driver per worker thread of a multi-threaded runtime (one on a current-thread one).
    pub(crate) fn per_worker() -> Self {
        let workers = tokio::runtime::Handle::try_current()
            .map(|h| h.metrics().num_workers())
            .unwrap_or(1);
        Self::start(workers)
    }

    /// Runs `pump` to its end in one of the drivers. `token` keeps the server's connection
    /// tracker waiting for it.
    pub(crate) fn add(&self, pump: Pump, token: TaskTrackerToken) {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.inboxes.len();
        // A driver is gone only when the runtime is shutting down: the stream is dropped then,
        // which closes its connection.
        let _ = self.inboxes[i].send(Tracked {
            pump,
            _token: token,
        });
    }
}

struct Driver {
    inbox: mpsc::UnboundedReceiver<Tracked>,
    /// `false` once every sender is gone.
    open: bool,
    streams: FuturesUnordered<Tracked>,
}

impl Future for Driver {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        TURN.set(POLLS_PER_TURN);
        while this.open {
            match this.inbox.poll_recv(cx) {
                Poll::Ready(Some(stream)) => this.streams.push(stream),
                Poll::Ready(None) => this.open = false,
                Poll::Pending => break,
            }
        }
        loop {
            match this.streams.poll_next_unpin(cx) {
                // A stream ended; look for more that are ready.
                Poll::Ready(Some(())) => {}
                // No stream left: wait for new ones (the inbox has this task's waker).
                Poll::Ready(None) if this.open => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
