//! What the shell feeds into a [`Tab`](crate::Tab) and what it gets back.

use std::time::Duration;

use crate::{Message, Role, ServerEvent};

/// Something that happened to the tab. Feed with [`Tab::handle`](crate::Tab::handle).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The Web Lock we requested is ours (Locks mechanism).
    LockGranted,
    /// The lock we held was stolen by another tab (its promise rejected).
    LockLost,
    /// A message arrived on the channel (already decoded; see [`Message::decode`]).
    Channel(Message),
    /// A string arrived on the channel that did not decode (counted in [`Stats`](crate::Stats)).
    Undecodable,
    /// The EventSource we were told to open is open.
    StreamOpened,
    /// The EventSource delivered an event.
    StreamEvent(ServerEvent),
    /// The EventSource failed; the shell has closed it. The core decides when to reconnect.
    StreamError,
    /// `visibilitychange`.
    VisibilityChanged { visible: bool },
    /// Page Lifecycle `freeze`: the tab hands leadership off, it will run nothing until `Resumed`.
    Frozen,
    /// Page Lifecycle `resume` (also feed it after any long pause the shell notices).
    Resumed,
    /// `pagehide`: the tab leaves (or enters the back/forward cache).
    PageHide,
    /// `pageshow` with `persisted`: the tab is back from the back/forward cache.
    PageShow,
    /// `online` event: the network is back; a leader in backoff retries now.
    NetworkOnline,
    /// The app wants events (reference counted).
    Connect,
    /// The app no longer wants events (reference counted).
    Disconnect,
    /// The user asks this tab to hand leadership to another tab.
    StepDown,
}

/// Something the shell must do. Drain with [`Tab::poll_output`](crate::Tab::poll_output) after
/// every call into the tab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Post `message.encode()` on the BroadcastChannel.
    Post(Message),
    /// Open the EventSource at `/api/events`, closing any previous one first. With a position,
    /// resume from it: `?last_event_id=<id>&epoch=<epoch>` (leave `epoch` out when it is empty:
    /// a server that names no epoch). The server replays what follows in the same run, or
    /// answers `hello` then `reset` for a position of another run.
    OpenStream { resume: Option<wire::Position> },
    /// Close the EventSource.
    CloseStream,
    /// Request the leader lock (`{ steal }`); when granted hold it with a never-resolving promise.
    RequestLock { steal: bool },
    /// Abort the queued (not yet granted) lock request.
    AbortLockRequest,
    /// Release the held lock.
    ReleaseLock,
    /// Hand this to the app.
    Emit(AppEvent),
}

/// What the app sees. Identical on leader and followers (apart from `relayed` / `latency`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppEvent {
    /// A server event, each id at most once and in id order.
    Event {
        event: ServerEvent,
        /// Came from the leader over the channel.
        relayed: bool,
        /// Leader send → follower receive, when relayed.
        latency: Option<Duration>,
    },
    /// The server sent a snapshot (`reset`): drop derived state and start again from it. Every
    /// change of run (server epoch) reaches the app this way (or as `Lost`) before any event of
    /// the new run.
    Reset { event: ServerEvent, relayed: bool },
    /// Events `from..=to` can no longer be recovered (the pending buffer overflowed, or a new run
    /// never sent its `reset`; then `from` is of the old run and `to` of the new): the app
    /// should refetch its state.
    Lost { from: u64, to: u64 },
    /// The stream (the leader's, wherever it is) is open.
    Connected,
    /// The stream failed; a reconnect is scheduled.
    Error,
    /// `Config::max_reconnect_attempts` consecutive failures.
    MaxReconnectReached,
    /// This tab's role changed.
    RoleChanged(Role),
}
