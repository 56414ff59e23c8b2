//! One tab's coordination state machine: election (both mechanisms), heartbeats, relay, resend,
//! reconnect and the registry, driven by [`Input`]s and timeouts, producing [`Output`]s.
//!
//! This file holds the state, the accessors and the driving entry points; the transitions live in
//! `election` (who leads), `channel` (messages from other tabs) and `stream` (the leader's server
//! stream and event delivery).

mod channel;
mod election;
mod phase;
mod stream;
mod timeline;
mod timer;

pub use timeline::{ChangeCause, LeaderChange};

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use crate::reconnect::Backoff;
use crate::registry::{Registry, TabInfo};
use crate::relay::{self, Delivery, EventLog};
use crate::time::Rng;
use crate::{
    AppEvent, Body, Config, Input, Instant, Message, Output, PeerInfo, ResignReason, Role,
    ServerEvent, StreamState, StreamStatus, TabId, Term,
};
use phase::{LeaderStream, Link, Phase};
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

/// A pending Protocol claim.
#[derive(Debug, Clone)]
struct Claim {
    term: Term,
    /// Tabs that reported our term since we claimed.
    acks: BTreeSet<TabId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LockState {
    /// No request outstanding.
    Idle,
    /// A normal request is queued.
    Queued,
    /// A steal was requested (granted at once by the browser).
    Stealing,
    Held,
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
    /// Protocol: our pending claim.
    claim: Option<Claim>,
    /// The leader presumed dead when our candidacy was scheduled (not expected to ack).
    candidate_dead: Option<TabId>,
    lock: LockState,
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
            phase: Phase::Electing,
            max_term: Term::ZERO,
            leader: None,
            last_heartbeat_at: None,
            slowness: (Duration::ZERO, now),
            probe_sent_at: None,
            heard_leader: None,
            visible_since: Some(now),
            claim: None,
            candidate_dead: None,
            lock: LockState::Idle,
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

    // ---- accessors -------------------------------------------------------------------------

    pub fn id(&self) -> TabId {
        self.id
    }
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }
    pub fn config(&self) -> &Config {
        &self.config
    }
    pub fn role(&self) -> Role {
        self.phase.role()
    }
    /// The tab we believe leads (ourselves when leading); `None` while electing.
    pub fn leader(&self) -> Option<TabId> {
        self.leader
    }
    /// The highest term seen (the fence).
    pub fn term(&self) -> Term {
        self.max_term
    }
    /// Our term while we lead.
    pub fn leading_term(&self) -> Option<Term> {
        match self.phase {
            Phase::Leader { term, .. } => Some(term),
            _ => None,
        }
    }
    /// Whether this tab leads.
    pub fn is_leader(&self) -> bool {
        matches!(self.phase, Phase::Leader { .. })
    }
    /// Highest event id delivered to the app (the resume point this tab reports).
    pub fn highest_id(&self) -> Option<u64> {
        self.log.highest()
    }
    /// Where this tab is in the stream: the run (epoch) and the highest id delivered (or covered
    /// by a reset). The epoch is empty when the server named none. `None`: no baseline yet.
    pub fn position(&self) -> Option<wire::Position> {
        let id = self.log.highest()?;
        Some(wire::Position::new(
            self.log.epoch().unwrap_or_default(),
            id,
        ))
    }
    /// Our own stream when leading, else the leader's as last reported.
    pub fn stream_state(&self) -> StreamState {
        match &self.phase {
            Phase::Leader { stream, .. } => stream.state(),
            _ => self.leader_stream,
        }
    }
    /// Whether this tab holds (or is opening) the server stream itself.
    pub fn holds_stream(&self) -> bool {
        matches!(&self.phase, Phase::Leader { stream, .. } if stream.holds())
    }
    /// The app-level connected state (identical on every tab).
    pub fn is_connected(&self) -> bool {
        self.connected
    }
    pub fn is_visible(&self) -> bool {
        self.visible
    }
    pub fn is_frozen(&self) -> bool {
        self.frozen
    }
    pub fn is_active(&self) -> bool {
        self.active
    }
    /// Current `Connect` minus `Disconnect` count.
    pub fn refs(&self) -> u32 {
        self.refs
    }
    /// The other tabs we know of (not including this one), by id.
    pub fn tabs(&self) -> impl Iterator<Item = &TabInfo> {
        self.registry.iter()
    }
    /// When the leader last proved it was alive (heartbeat, relay, status).
    pub fn last_heartbeat_at(&self) -> Option<Instant> {
        self.last_heartbeat_at
    }
    pub fn reconnect(&self) -> ReconnectInfo {
        ReconnectInfo {
            failures: self.backoff.failures(),
            next_attempt: self.timers.get(Timer::Reconnect),
            retry_hint: self.retry_hint,
        }
    }
    pub fn stats(&self) -> Stats {
        Stats {
            duplicates: self.log.duplicates,
            ..self.stats
        }
    }
    /// What this tab says about itself in presence messages.
    pub fn info(&self) -> PeerInfo {
        PeerInfo {
            role: self.role(),
            visible: self.visible,
            highest_id: self.log.highest(),
            epoch: self.log.epoch().map(str::to_owned),
            term: self.max_term,
        }
    }

    // ---- driving ---------------------------------------------------------------------------

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
        for timer in Timer::VALUES {
            self.on_timer(now, timer);
        }
        self.sync_expiry();
    }

    /// Runs `timer` if it is due at `now` (the probe's deadline may move later instead).
    fn on_timer(&mut self, now: Instant, timer: Timer) {
        match timer {
            Timer::Expiry => {
                if self.timers.expire_before(Timer::Expiry, now) {
                    let stretch = self.crowd_stretch();
                    self.registry.expire(now, &self.config, stretch);
                }
            }
            Timer::Heartbeat => {
                if self.timers.expire_before(Timer::Heartbeat, now) {
                    self.send_heartbeat(now);
                }
            }
            Timer::Reconnect => {
                if self.timers.expire_before(Timer::Reconnect, now) {
                    self.open_stream(now);
                }
            }
            Timer::Presence => {
                if self.timers.is_due(Timer::Presence, now) {
                    // The crowd may have grown since it was scheduled (a new tab learns it from
                    // the leader's first heartbeat): then it is due a stretched interval after
                    // the last.
                    let stretched = self.last_presence_at.map(|at| at + self.presence_every());
                    match stretched.filter(|&at| at > now) {
                        Some(later) => self.timers.set(Timer::Presence, later),
                        None => self.post_presence(now),
                    }
                }
            }
            Timer::ClaimWindow => {
                if self.timers.expire_before(Timer::ClaimWindow, now) {
                    if let Some(claim) = self.claim.take() {
                        if self.max_term == claim.term {
                            self.become_leader(now, claim.term);
                        }
                    }
                }
            }
            Timer::Probe => {
                let Some(deadline) = self.timers.get(Timer::Probe) else {
                    return;
                };
                // Judged with the slowness known now, which includes this very timer firing
                // late: the answer may be queued behind it on our own busy main thread.
                let deadline = match self.probe_sent_at {
                    Some(sent) => deadline.max(sent + self.probe_timeout(now)),
                    None => deadline,
                };
                if deadline > now {
                    self.timers.set(Timer::Probe, deadline);
                    return;
                }
                // The probed leader did not answer: dead, frozen, or cut off.
                self.timers.stop(Timer::Probe);
                self.probe_sent_at = None; // a later answer is no round trip sample
                let dead = self.leader.take();
                if dead.is_some() {
                    // Locks: a crashed holder's lock would have passed on by now; it is still
                    // held.
                    let cause = match self.mechanism {
                        Mechanism::Locks => ChangeCause::Frozen,
                        Mechanism::Protocol => ChangeCause::Crashed,
                    };
                    self.lost_leader(now, dead, cause);
                }
                self.schedule_candidacy(now, dead);
            }
            Timer::LeaderSilence => {
                if self.timers.expire_before(Timer::LeaderSilence, now) {
                    // Silence: probe whoever leads, also when we never heard of a leader. No
                    // leadership change without a fault: only an unanswered probe makes a tab
                    // claim or steal.
                    self.post(Body::Probe {
                        term: self.max_term,
                    });
                    self.probe_sent_at = Some(now);
                    self.timers.set(Timer::Probe, now + self.probe_timeout(now));
                }
            }
            Timer::Candidacy => {
                if self.timers.expire_before(Timer::Candidacy, now) {
                    self.become_candidate(now);
                }
            }
            Timer::Resend => {
                if self.timers.expire_before(Timer::Resend, now) && self.log.has_gap() {
                    self.request_resend(now);
                }
            }
        }
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
        if (!self.active || self.frozen) && input == Input::LockGranted {
            // A grant that raced with our abort while leaving or freezing: give it back.
            self.lock = LockState::Idle;
            self.out.push_back(Output::ReleaseLock);
            return;
        }
        if !self.active {
            if input == Input::PageShow {
                self.active = true;
                self.frozen = false;
                self.start(now);
            }
            return;
        }
        if self.frozen && !matches!(input, Input::Resumed | Input::PageHide) {
            return;
        }
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
            Input::VisibilityChanged { visible } => {
                if visible != self.visible {
                    self.visible = visible;
                    self.visible_since = visible.then_some(now);
                    self.post_presence(now);
                }
            }
            Input::NetworkOnline => self.retry_now(now),
            Input::Connect => {
                self.refs += 1;
                if self.refs == 1 && self.connected {
                    self.emit(AppEvent::Connected);
                }
                if self.backoff.failures() >= self.config.max_reconnect_attempts {
                    self.retry_now(now);
                }
            }
            Input::Disconnect => self.refs = self.refs.saturating_sub(1),
            Input::StepDown => self.step_down_voluntarily(now),
        }
    }

    // ---- lifecycle -------------------------------------------------------------------------

    fn start(&mut self, now: Instant) {
        // (Also back from the back/forward cache: nothing before counts as slowness.)
        self.heard_leader = None;
        self.probe_sent_at = None;
        self.visible_since = self.visible.then_some(now);
        self.set_role(Role::Electing);
        self.post(Body::Hello { info: self.info() });
        self.request_lock();
        self.timers
            .set(Timer::LeaderSilence, now + self.startup_wait());
        self.timers
            .set(Timer::Presence, now + self.config.presence_interval);
    }

    /// How long a new tab listens before it probes. Locks: a free lock is granted at once, so a
    /// lock request still queued means a tab holds it; it gets the silence a known leader gets.
    fn startup_wait(&self) -> Duration {
        match self.mechanism {
            Mechanism::Locks => self.config.leader_timeout,
            Mechanism::Protocol => self.config.startup_wait,
        }
    }

    /// How long a probe may go unanswered: `probe_timeout` plus twice the slowness seen (at most
    /// `Config::busy_allowance`), and at least half the allowance for a hidden leader: its
    /// throttled heartbeats say nothing of how busy it is, and its crash must still be detected
    /// within a second.
    pub(super) fn probe_timeout(&self, now: Instant) -> Duration {
        let cap = self.config.busy_allowance;
        let seen = (self.slowness(now) * 2).min(cap);
        let extra = if self.leader_hidden() {
            seen.max(cap / 2)
        } else {
            seen
        };
        self.config.probe_timeout + extra
    }

    /// How long a leader may be silent before we probe it: `leader_timeout` plus the slowness
    /// seen. A hidden leader heartbeats once a second at best (its timers are throttled), so
    /// its silence says nothing and only the probe tells: a visible follower (whose timers run)
    /// asks for the heartbeat after one `heartbeat_interval` of silence instead, the rate a
    /// visible leader heartbeats at by itself. Its crash is then found a probe timeout after
    /// at most one interval, not after `leader_timeout` (#16: Firefox, where the leader is
    /// mostly a background tab). Hidden followers keep `leader_timeout`: their own timers fire
    /// once a second anyway.
    pub(super) fn leader_timeout(&self, now: Instant) -> Duration {
        let silence = if self.visible && self.leader_hidden() {
            self.config.heartbeat_interval
        } else {
            self.config.leader_timeout
        };
        silence + self.slowness(now).min(self.config.busy_allowance)
    }

    /// Whether the leader we follow said it is hidden (its timers are throttled).
    fn leader_hidden(&self) -> bool {
        self.leader
            .and_then(|l| self.registry.iter().find(|t| t.id == l))
            .is_some_and(|t| !t.info.visible)
    }

    /// The slowness estimate now: the largest recent observation, fading linearly to zero over
    /// `Config::slowness_memory` (a bounded, phi-accrual-like allowance).
    pub(super) fn slowness(&self, now: Instant) -> Duration {
        let (value, at) = self.slowness;
        let memory = self.config.slowness_memory;
        let age = now.saturating_since(at);
        if age >= memory || memory.is_zero() {
            return Duration::ZERO;
        }
        value.mul_f64(1.0 - age.as_secs_f64() / memory.as_secs_f64())
    }

    pub(super) fn note_slowness(&mut self, now: Instant, sample: Duration) {
        if sample >= self.slowness(now) {
            self.slowness = (sample.min(self.config.busy_allowance * 2), now);
        }
    }

    /// Slowness as the shell sees it (for the UI and tests).
    pub fn slowness_estimate(&self, now: Instant) -> Duration {
        self.slowness(now)
    }

    fn request_lock(&mut self) {
        if self.mechanism == Mechanism::Locks && self.lock == LockState::Idle {
            self.out.push_back(Output::RequestLock { steal: false });
            self.lock = LockState::Queued;
        }
    }

    fn abort_lock_request(&mut self) {
        if matches!(self.lock, LockState::Queued | LockState::Stealing) {
            self.out.push_back(Output::AbortLockRequest);
            self.lock = LockState::Idle;
        }
    }

    fn clear_follower_timers(&mut self) {
        self.timers.stop(Timer::LeaderSilence);
        self.timers.stop(Timer::Probe);
        self.timers.stop(Timer::Candidacy);
        self.claim = None;
        self.timers.stop(Timer::ClaimWindow);
    }

    /// Announced freeze: hand leadership off now rather than make the others detect it.
    fn freeze(&mut self, now: Instant) {
        if self.is_leader() {
            self.resign(now, false, ResignReason::Freezing);
        }
        self.abort_lock_request();
        self.clear_follower_timers();
        self.frozen = true;
    }

    fn resume(&mut self, now: Instant) {
        self.frozen = false;
        // Our own pause is no slowness of the leader, nor of our main thread.
        self.heard_leader = None;
        self.probe_sent_at = None;
        if self.visible {
            self.visible_since = Some(now);
        }
        if self.is_leader() {
            // Unannounced freeze: if we were deposed meanwhile, the followers fence this.
            self.send_heartbeat(now);
            return;
        }
        self.request_lock();
        self.post(Body::Hello { info: self.info() });
        if !self.timers.is_set(Timer::LeaderSilence)
            && !self.timers.is_set(Timer::Probe)
            && !self.timers.is_set(Timer::Candidacy)
        {
            self.timers
                .set(Timer::LeaderSilence, now + self.startup_wait());
        }
        self.timers
            .set(Timer::Presence, now + self.config.presence_interval);
    }

    /// What this tab would post if it left now (`pagehide`): its `Resign` when it leads (naming
    /// the successor), then `Bye`; nothing once it has left. A shell may post these from a
    /// listener armed in advance, so the goodbye goes out even when the page's own code cannot
    /// run at that moment; `leave` posts exactly these, in this order.
    pub fn goodbye(&self) -> Vec<Message> {
        if !self.active {
            return Vec::new();
        }
        let resign = self.leading_term().map(|term| Body::Resign {
            term,
            successor: self.resign_successor(),
            reason: Some(ResignReason::Leaving),
        });
        resign
            .into_iter()
            .chain([Body::Bye])
            .map(|body| Message {
                from: self.id,
                body,
            })
            .collect()
    }

    /// `pagehide`: hand off, say goodbye, go quiet.
    fn leave(&mut self, now: Instant) {
        if self.is_leader() {
            self.resign(now, false, ResignReason::Leaving);
        }
        self.abort_lock_request();
        self.post(Body::Bye);
        self.clear_follower_timers();
        self.timers.stop(Timer::Presence);
        self.timers.stop(Timer::Resend);
        self.leader = None;
        self.active = false;
        self.frozen = false;
        self.set_role(Role::Electing);
    }

    fn step_down_voluntarily(&mut self, now: Instant) {
        if !self.is_leader() {
            return;
        }
        if self.mechanism == Mechanism::Protocol && self.best_successor().is_none() {
            return; // nobody to hand over to
        }
        self.lost_leader(now, Some(self.id), ChangeCause::SteppedDown);
        self.resign(now, true, ResignReason::StepDown); // Locks: queue behind the others
    }

    // ---- helpers ---------------------------------------------------------------------------

    fn set_connected(&mut self, connected: bool) {
        if connected && !self.connected {
            self.connected = true;
            self.emit(AppEvent::Connected);
        }
        self.connected = connected;
    }

    /// Enters `phase`, telling the app when the role changes.
    fn set_phase(&mut self, phase: Phase) {
        let role = phase.role();
        let changed = self.role() != role;
        self.phase = phase;
        if changed {
            self.emit(AppEvent::RoleChanged(role));
        }
    }

    /// A tab that does not lead enters `role` (`Electing` or `Follower`). A leader leaves its
    /// phase only through `step_down` (which closes its stream), never through this.
    fn set_role(&mut self, role: Role) {
        if self.is_leader() {
            return;
        }
        let phase = match role {
            Role::Follower => Phase::Follower,
            Role::Electing => Phase::Electing,
            Role::Leader => return, // only `become_leader` leads, with a term and a stream
        };
        self.set_phase(phase);
    }

    /// Posts our presence now; the periodic one is due a full interval later (beyond
    /// `presence_budget` tabs: the stretched interval, ±25 % at random so that tabs opened in one
    /// burst do not keep posting in one burst).
    fn post_presence(&mut self, now: Instant) {
        self.post(Body::Presence { info: self.info() });
        self.last_presence_at = Some(now);
        let every = self.presence_every();
        let every = if every > self.config.presence_interval {
            let jitter = self.rng.below_or_eq(500) as f64 / 1000.0; // 0 ..= 0.5
            every.mul_f64(0.75 + jitter)
        } else {
            every
        };
        self.timers.set(Timer::Presence, now + every);
    }

    /// How many tabs share the channel, this one included, as far as we know: those in our
    /// registry, or the leader's count when it knows more (a new tab has heard of few yet).
    pub(super) fn crowd(&self) -> usize {
        (self.registry.len() + 1).max(self.leader_crowd)
    }

    /// How much the crowd stretches the presence interval, the expiry of silent tabs and the age
    /// of usable position reports: 1 up to `presence_budget` tabs, then `crowd / budget`, so
    /// that all tabs together post about `presence_budget` presences per `presence_interval`.
    pub(super) fn crowd_stretch(&self) -> f64 {
        let budget = self.config.presence_budget.max(1) as f64;
        (self.crowd() as f64 / budget).max(1.0)
    }

    /// Our presence interval: `presence_interval` stretched by the crowd.
    pub(super) fn presence_every(&self) -> Duration {
        self.config.presence_interval.mul_f64(self.crowd_stretch())
    }

    fn post(&mut self, body: Body) {
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
