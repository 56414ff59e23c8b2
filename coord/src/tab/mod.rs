//! One tab's coordination state machine: election (both mechanisms), heartbeats, relay, resend,
//! reconnect and the registry, driven by [`Input`]s and timeouts, producing [`Output`]s.
//!
//! This file holds the state and the driving entry points (`handle`, `handle_timeout`,
//! `poll_*`); the rest lives by job in:
//!
//! | module      | job                                                                          |
//! |-------------|------------------------------------------------------------------------------|
//! | `phase`     | [`Phase`]: electing, following, or leading with a term and a stream          |
//! | `timer`     | the timer table, and what each timer does when it fires                      |
//! | `lifecycle` | start, visibility, freeze / resume, leaving, step-down, `Connect` refcount   |
//! | `election`  | who leads: locks, claims, terms and fencing, candidacy, stepping down        |
//! | `detector`  | the failure detector's silence and probe timeouts, the slowness allowance    |
//! | `channel`   | messages from other tabs                                                     |
//! | `presence`  | what this tab says about itself, and the crowd that stretches its interval   |
//! | `stream`    | the leader's server stream, event delivery, resend and rewind                |
//! | `timeline`  | the leadership changes this tab saw, with their evidence                     |
//! | `view`      | the accessors: what the shell, the UI and tests read                         |

mod channel;
mod detector;
mod election;
mod lifecycle;
mod phase;
mod presence;
mod stream;
mod timeline;
mod timer;
mod view;

pub use timeline::{ChangeCause, LeaderChange};

use std::collections::VecDeque;
use std::time::Duration;

use crate::reconnect::Backoff;
use crate::registry::{Registry, TabInfo};
use crate::relay::{self, Delivery, EventLog};
use crate::time::Rng;
use crate::{
    AppEvent, Body, Config, Input, Instant, Message, Output, PeerInfo, ResignReason, Role,
    ServerEvent, StreamState, StreamStatus, TabId, Term,
};
use phase::{Claim, LeaderStream, Link, Phase};
use timer::{Timer, TimerTable};

/// How leadership is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// Leadership = holding the Web Lock. The browser releases the lock of a closed or crashed tab
    /// and grants it to the next queued tab at once. A frozen holder is deposed by stealing.
    Locks,
    /// No `navigator.locks`: terms claimed over the channel, the highest `(n, tab)` wins.
    Protocol,
}

/// Locks: our request for the Web Lock. Holding it is part of `Phase::Leader` (a lock is only
/// held while leading), so this is `Idle` while we lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LockRequest {
    /// No request outstanding.
    Idle,
    /// A normal request is queued.
    Queued,
    /// A steal was requested (granted at once by the browser).
    Stealing,
}

/// Counters for the UI and for tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Channel strings that did not decode (fed as [`Input::Undecodable`]).
    pub undecodable: u64,
    /// Messages ignored because their term was below the highest seen (fencing).
    pub stale: u64,
    /// Numbered events dropped because they were already delivered.
    pub duplicates: u64,
    /// Relays received / posted.
    pub relayed_in: u64,
    pub relayed_out: u64,
    /// Resend requests posted (follower) and stream rewinds done (leader) to fill gaps.
    pub resend_requests: u64,
    pub rewinds: u64,
    /// Times this tab became leader.
    pub elections: u64,
    /// Stream inputs that arrived while this tab was not leading (late callbacks).
    pub ignored_stream_inputs: u64,
}

/// Reconnect state of the leader's stream, for the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectInfo {
    /// Consecutive failures so far.
    pub failures: u32,
    /// When the next attempt is due (leader in backoff).
    pub next_attempt: Option<Instant>,
    /// The server's `hello.retry_ms`, used as the backoff base.
    pub retry_hint: Option<Duration>,
}

/// One tab's coordination state machine. See the crate docs for the driving loop.
///
/// The shell feeds [`Input`]s with [`Tab::handle`], performs every [`Output`] from
/// [`Tab::poll_output`], and calls [`Tab::handle_timeout`] when the clock reaches
/// [`Tab::poll_timeout`]. Time is whatever the shell says it is, so a test drives a tab alone:
///
/// ```
/// use coord::{AppEvent, Config, Input, Instant, Mechanism, Output, Role, ServerEvent, Tab, TabId};
///
/// let mut now = Instant::from_millis(1_000); // the injected clock
/// let mut tab = Tab::new(TabId(1), Mechanism::Protocol, Config::default(), now, 42);
/// tab.handle(now, Input::Connect); // the app wants events
///
/// // Alone, the tab says hello, probes for a leader, claims a term and leads: the shell only
/// // performs outputs and fires the one timer the tab asks for.
/// let mut opened = None;
/// while opened.is_none() {
///     while let Some(output) = tab.poll_output() {
///         match output {
///             Output::Post(message) => drop(message.encode()), // BroadcastChannel.postMessage
///             Output::OpenStream { resume } => opened = Some(resume),
///             _ => {}
///         }
///     }
///     if opened.is_none() {
///         now = tab.poll_timeout().expect("an electing tab always waits for something");
///         tab.handle_timeout(now);
///     }
/// }
/// assert_eq!(tab.role(), Role::Leader);
/// assert_eq!(opened, Some(None)); // no position yet: the stream opens at the server's head
///
/// // The leader's EventSource: what it delivers is relayed to the other tabs and emitted here.
/// let hello = r#"{"epoch":"run-1","head_id":0,"retry_ms":1000}"#;
/// tab.handle(now, Input::StreamOpened);
/// tab.handle(now, Input::StreamEvent(ServerEvent::new(None, "hello", hello)));
/// tab.handle(now, Input::StreamEvent(ServerEvent::new(Some(1), "device-online", "{}")));
/// let emitted: Vec<AppEvent> = std::iter::from_fn(|| tab.poll_output())
///     .filter_map(|output| match output {
///         Output::Emit(event) => Some(event),
///         _ => None,
///     })
///     .collect();
/// assert!(emitted.contains(&AppEvent::Connected));
/// assert!(emitted
///     .iter()
///     .any(|e| matches!(e, AppEvent::Event { event, .. } if event.id == Some(1))));
/// assert_eq!(tab.position(), Some(coord::Position::new("run-1", 1)));
///
/// // Leading, the tab heartbeats: its next deadline is at most one interval away.
/// let next = tab.poll_timeout().expect("a leader heartbeats");
/// assert!(next.saturating_since(now) <= tab.config().heartbeat_interval);
/// ```
#[derive(Debug)]
pub struct Tab {
    id: TabId,
    mechanism: Mechanism,
    config: Config,
    rng: Rng,

    /// False between `PageHide` and `PageShow`.
    active: bool,
    /// Between `Frozen` and `Resumed`.
    frozen: bool,
    visible: bool,
    /// Electing, following, or leading (with our term and the server stream).
    phase: Phase,

    /// Highest term seen anywhere: the fence.
    max_term: Term,
    /// Who we believe leads (or is about to lead) `max_term`: ourselves while leading.
    leader: Option<TabId>,
    last_heartbeat_at: Option<Instant>,
    /// Slowness seen (busy main threads), and when: the failure detector's allowance.
    slowness: (Duration, Instant),
    /// When we probed the leader, until it answers (a round trip sample).
    probe_sent_at: Option<Instant>,
    /// The leader (and term) of the last leader message accepted.
    heard_leader: Option<(TabId, Term)>,
    /// Since when the tab is visible (its timers are not throttled): `None` while hidden.
    visible_since: Option<Instant>,
    lock: LockRequest,
    /// Every deadline, by name (see [`Timer`]).
    timers: TimerTable,

    /// When we last posted our presence (a `Hello` is answered only if not within
    /// our presence interval).
    last_presence_at: Option<Instant>,
    /// How many tabs the leader said it knows of (its heartbeat's `crowd`), itself included.
    leader_crowd: usize,
    /// The stale leader and term we last answered with a `Fence` (a follower fences each once).
    fenced: Option<(TabId, Term)>,

    /// The leader's stream as its heartbeats report it.
    leader_stream: StreamState,
    backoff: Backoff,
    retry_hint: Option<Duration>,
    /// The app-level "connected" view (leader's stream open), identical on every tab.
    connected: bool,

    log: EventLog,
    last_rewind: Option<Instant>,
    /// Leader: relays not posted yet, for hidden tabs (see `Config::hidden_relay_batch`).
    relay_batch: Option<stream::RelayBatch>,

    /// Locks follower: the leader's goodbye (`Resign`, `Bye`) as heard, and when, not handled
    /// yet (see `Config::goodbye_delay`).
    held_goodbye: Vec<(Instant, Message)>,
    registry: Registry,
    timeline: timeline::Timeline,
    refs: u32,
    stats: Stats,
    out: VecDeque<Output>,
}

impl Tab {
    /// A new tab, assumed visible (feed `VisibilityChanged` right after if it is not). Queues the
    /// initial outputs: `Hello`, and for [`Mechanism::Locks`] the lock request.
    pub fn new(id: TabId, mechanism: Mechanism, config: Config, now: Instant, seed: u64) -> Tab {
        let log = EventLog::new(config.ring_capacity, config.pending_capacity);
        let mut tab = Tab {
            id,
            mechanism,
            config,
            rng: Rng::new(seed ^ id.0.rotate_left(17)),
            active: true,
            frozen: false,
            visible: true,
            phase: Phase::electing(),
            max_term: Term::ZERO,
            leader: None,
            last_heartbeat_at: None,
            slowness: (Duration::ZERO, now),
            probe_sent_at: None,
            heard_leader: None,
            visible_since: Some(now),
            lock: LockRequest::Idle,
            timers: TimerTable::default(),
            last_presence_at: None,
            leader_crowd: 0,
            fenced: None,
            leader_stream: StreamState::Closed,
            backoff: Backoff::default(),
            retry_hint: None,
            connected: false,
            log,
            last_rewind: None,
            relay_batch: None,
            held_goodbye: Vec::new(),
            registry: Registry::default(),
            timeline: timeline::Timeline::default(),
            refs: 0,
            stats: Stats::default(),
            out: VecDeque::new(),
        };
        tab.start(now);
        tab.sync_expiry();
        tab
    }

    // ---- driving (the accessors are in `view`) ----------------------------------------------

    /// Next output for the shell; call until `None` after every `handle*`.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// The earliest time the shell must call [`Tab::handle_timeout`] (`None`: no timer needed).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.active || self.frozen {
            return None;
        }
        self.timers.next_timeout()
    }

    /// Runs every timer that is due at `now`, the shell's timer having been armed for
    /// [`Tab::poll_timeout`].
    pub fn handle_timeout(&mut self, now: Instant) {
        let armed_for = self.poll_timeout();
        self.fire_timers(now, armed_for);
    }

    /// Runs every timer that is due at `now`, the shell's timer having been armed for
    /// `armed_for`. A shell may keep a timer armed for a deadline that has since moved later (a
    /// browser shell re-arming for every later deadline sets a timer per relayed event): that
    /// timer fires early, nothing is due, and its lateness still tells how busy this tab is. Measured
    /// against the deadline of the moment instead, the lateness of such a timer would be hidden,
    /// and with it the allowance a busy tab gives a busy leader.
    pub fn handle_timer(&mut self, now: Instant, armed_for: Instant) {
        self.fire_timers(now, Some(armed_for));
    }

    fn fire_timers(&mut self, now: Instant, armed_for: Option<Instant>) {
        if !self.active || self.frozen {
            return;
        }
        // A visible tab's timers are not throttled: firing late means a busy main thread (not
        // for a deadline that passed while hidden: that timer was throttled).
        if let (Some(armed_for), Some(since)) = (armed_for, self.visible_since) {
            if armed_for >= since {
                self.note_slowness(now, now.saturating_since(armed_for));
            }
        }
        self.handle_held_goodbye();
        for timer in Timer::VALUES {
            self.on_timer(now, timer);
        }
        self.sync_expiry();
    }

    /// Keeps [`Timer::Expiry`] at the registry's next expiry; run at the end of every entry
    /// point (the registry and the crowd only change inside them).
    fn sync_expiry(&mut self) {
        let next = self
            .registry
            .next_expiry(&self.config, self.crowd_stretch());
        self.timers.set_opt(Timer::Expiry, next);
    }

    /// Feeds one string received on the BroadcastChannel: decoded, or counted as undecodable
    /// (foreign, other version, malformed). Never panics.
    pub fn handle_channel(&mut self, now: Instant, data: &str) {
        let input = match Message::decode(data) {
            Ok(m) => Input::Channel(m),
            Err(_) => Input::Undecodable,
        };
        self.handle(now, input);
    }

    /// Feeds one input.
    pub fn handle(&mut self, now: Instant, input: Input) {
        self.handle_input(now, input);
        self.sync_expiry();
    }

    fn handle_input(&mut self, now: Instant, input: Input) {
        if !self.admits(now, &input) {
            return;
        }
        let input = match input {
            Input::Channel(m) if self.holds_back(&m) => {
                if self.held_goodbye.is_empty() {
                    self.timers
                        .set(Timer::Goodbye, now + self.config.goodbye_delay);
                }
                self.held_goodbye.push((now, m));
                return;
            }
            input => input,
        };
        self.handle_held_goodbye();
        match input {
            Input::PageShow => {}
            Input::Frozen => self.freeze(now),
            Input::Resumed => self.resume(now),
            Input::PageHide => self.leave(now),
            Input::LockGranted => self.on_lock_granted(now),
            Input::LockLost => self.on_lock_lost(now),
            Input::Channel(m) => self.on_message(now, m),
            Input::Undecodable => self.stats.undecodable += 1,
            Input::StreamOpened => self.on_stream_opened(),
            Input::StreamEvent(e) => self.on_stream_event(now, e),
            Input::StreamError => self.on_stream_error(now),
            Input::VisibilityChanged { visible } => self.on_visibility(now, visible),
            Input::NetworkOnline => self.retry_now(now),
            Input::Connect => self.connect(now),
            Input::Disconnect => self.disconnect(),
            Input::StepDown => self.step_down_voluntarily(now),
        }
    }

    // ---- helpers ---------------------------------------------------------------------------

    /// Locks: whether `m` is our leader's goodbye, which a follower handles later (with the next
    /// thing it handles, see `Config::goodbye_delay`): the browser's lock queue, not the
    /// goodbye, makes the next leader, and every tab handling it at once competes with that
    /// tab's grant for the machine's cores.
    fn holds_back(&self, m: &Message) -> bool {
        self.mechanism == Mechanism::Locks
            && !self.config.goodbye_delay.is_zero()
            && !self.is_leader()
            && matches!(m.body, Body::Resign { .. } | Body::Bye)
            && m.from != self.id
            && (self.leader == Some(m.from) || self.heard_leader.is_some_and(|(l, _)| l == m.from))
    }

    /// Handles the goodbye held back, as of when each message of it was heard, before anything
    /// that came after it.
    fn handle_held_goodbye(&mut self) {
        if self.held_goodbye.is_empty() {
            return;
        }
        self.timers.stop(Timer::Goodbye);
        for (heard, m) in std::mem::take(&mut self.held_goodbye) {
            self.on_message(heard, m);
        }
    }

    /// Enters `phase`, telling the app when the role changes.
    fn set_phase(&mut self, phase: Phase) {
        let role = phase.role();
        let changed = self.role() != role;
        self.timers.stop(Timer::ClaimWindow); // a new phase has no claim
        self.phase = phase;
        if changed {
            self.emit(AppEvent::RoleChanged(role));
        }
    }

    /// A tab that does not lead enters `role` (`Electing` or `Follower`). A leader leaves its
    /// phase only through `step_down` (which closes its stream), never through this.
    /// Staying in the same role keeps the phase (and an electing tab's candidacy) as it is.
    fn set_role(&mut self, role: Role) {
        if self.is_leader() || self.role() == role {
            return;
        }
        let phase = match role {
            Role::Follower => Phase::Follower,
            Role::Electing => Phase::electing(),
            Role::Leader => return, // only `become_leader` leads, with a term and a stream
        };
        self.set_phase(phase);
    }

    fn post(&mut self, body: Body) {
        // The batched relays go first: the channel carries everything in the order it happened
        // (a heartbeat's `highest_id` must not overtake the events it counts).
        self.flush_relays();
        self.out.push_back(Output::Post(Message {
            from: self.id,
            body,
        }));
    }

    /// App events are gated by the `Connect` refcount, except role changes (UI state).
    fn emit(&mut self, event: AppEvent) {
        if self.refs > 0 || matches!(event, AppEvent::RoleChanged(_)) {
            self.out.push_back(Output::Emit(event));
        }
    }
}

#[cfg(test)]
mod batch_tests;
