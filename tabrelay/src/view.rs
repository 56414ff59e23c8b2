//! The reactive view of this tab's coordination: role, leader, stream, the other tabs, every
//! change of leader. The runtime writes it; an app reads it (or not). Server-side rendering
//! sees the initial values only.

use crate::Mode;
use coord::{Role, StreamState};
use leptos::prelude::*;

/// The word for a role (`electing`, `leader`, `follower`).
///
/// ```
/// assert_eq!(tabrelay::role_word(tabrelay::Role::Leader), "leader");
/// ```
pub fn role_word(role: Role) -> &'static str {
    match role {
        Role::Electing => "electing",
        Role::Leader => "leader",
        Role::Follower => "follower",
    }
}

/// The word for the leader's stream state.
pub fn stream_word(stream: StreamState) -> &'static str {
    match stream {
        StreamState::Closed => "closed",
        StreamState::Connecting => "connecting",
        StreamState::Open => "open",
        StreamState::Backoff => "reconnecting",
    }
}

/// Another tab as this tab's registry knows it (this tab included, `is_self`).
#[derive(Debug, Clone, PartialEq)]
pub struct TabRow {
    /// The tab's id, as shown.
    pub id: String,
    /// Its role.
    pub role: Role,
    /// Whether its page is visible.
    pub visible: bool,
    /// Milliseconds since the Unix epoch.
    pub last_seen_ms: f64,
    /// Whether it is this tab.
    pub is_self: bool,
}

/// One change of leader as this tab's core saw it (`coord::LeaderChange`), times in ms on the
/// clock every tab shares.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaderChangeRow {
    /// When this tab had the first evidence (ms since the epoch).
    pub at_ms: f64,
    /// `closed`, `crashed`, `frozen`, `step-down`, `server-restart` or `lost-lock`.
    pub cause: &'static str,
    /// The leader before (when known).
    pub from: Option<String>,
    /// The leader after (when known).
    pub to: Option<String>,
    /// How long no tab led.
    pub leaderless_ms: Option<f64>,
    /// From the evidence to the new leader's stream delivering.
    pub until_delivering_ms: Option<f64>,
    /// Events the new leader replayed from the old one's position.
    pub replayed: u64,
}

/// The signals of this tab's coordination. `Copy`: signals are arena handles.
///
/// ```
/// use leptos::prelude::*;
/// # let owner = Owner::new();
/// # owner.with(|| {
/// let view = tabrelay::TabView::new(); // what `SharedEventSource::view` holds
/// let status = move || format!("{} of {} tabs", tabrelay::role_word(view.role.get()), view.tabs.with(Vec::len));
/// assert_eq!(status(), "electing of 0 tabs"); // before the runtime starts (and on the server)
/// # });
/// ```
#[derive(Debug, Clone, Copy)]
pub struct TabView {
    /// This tab's id, as shown (12 hex digits).
    pub tab_id: RwSignal<String>,
    /// This tab's role.
    pub role: RwSignal<Role>,
    /// When this tab last became leader (ms since epoch).
    pub leader_since_ms: RwSignal<Option<f64>>,
    /// The current leader's id (while one is known).
    pub leader_id: RwSignal<Option<String>>,
    /// The current leadership term.
    pub term: RwSignal<u64>,
    /// `"locks"` or `"protocol"` once the runtime started.
    pub mechanism: RwSignal<Option<&'static str>>,
    /// The mode this tab runs in, once the runtime started: the one asked for, unless this
    /// browser lacks what it needs (then the closest it has).
    pub mode: RwSignal<Option<Mode>>,
    /// The leader's stream, wherever the leader is.
    pub stream: RwSignal<StreamState>,
    /// When the next reconnect attempt is due (ms since epoch), while the leader backs off.
    pub next_attempt_ms: RwSignal<Option<f64>>,
    /// When the last leader heartbeat arrived (ms since epoch); the leader counts its own.
    pub heartbeat_at_ms: RwSignal<Option<f64>>,
    /// The tab registry, this tab included.
    pub tabs: RwSignal<Vec<TabRow>>,
    /// Messages from other tabs that were not ours or did not decode, and stale-term messages.
    pub ignored_messages: RwSignal<u64>,
    /// Every change of leader this tab has seen, newest first.
    pub timeline: RwSignal<Vec<LeaderChangeRow>>,
}

impl TabView {
    /// Every signal at its initial value (what server-side rendering shows).
    pub fn new() -> Self {
        Self {
            tab_id: RwSignal::new(String::new()),
            role: RwSignal::new(Role::Electing),
            leader_since_ms: RwSignal::new(None),
            leader_id: RwSignal::new(None),
            term: RwSignal::new(0),
            mechanism: RwSignal::new(None),
            mode: RwSignal::new(None),
            stream: RwSignal::new(StreamState::Closed),
            next_attempt_ms: RwSignal::new(None),
            heartbeat_at_ms: RwSignal::new(None),
            tabs: RwSignal::new(Vec::new()),
            ignored_messages: RwSignal::new(0),
            timeline: RwSignal::new(Vec::new()),
        }
    }
}

impl Default for TabView {
    fn default() -> Self {
        Self::new()
    }
}

/// Sets a signal only when the value differs, so unchanged state wakes no effect.
pub fn set_if_changed<T: PartialEq + Send + Sync + 'static>(signal: RwSignal<T>, value: T) {
    if signal.with_untracked(|current| *current != value) {
        signal.set(value);
    }
}
