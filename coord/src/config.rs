//! Every timing constant of the core, in one place.

use std::time::Duration;

/// Timing and sizing knobs. All durations are wall-clock [`Duration`]s; the core compares them
/// with the microsecond [`Instant`](crate::Instant)s the shell feeds in.
///
/// The defaults are tuned for the targets in the crate docs (close ≤ 60 ms, crash ≤ 1 s, freeze
/// ≤ 2 s to a new leader) while tolerating Chrome's throttling of hidden tabs: a hidden leader's
/// timers fire at most once a second (once a minute after 5 minutes hidden), so a follower never
/// deposes a leader on a missed heartbeat alone; it first sends a [`Probe`](crate::Body::Probe),
/// which the leader answers at once because message events are not throttled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// How often the leader posts a heartbeat (when its timers are not throttled).
    pub heartbeat_interval: Duration,
    /// Silence from the leader after which a follower probes it (a visible follower of a hidden
    /// leader: `heartbeat_interval`, see `Tab::leader_timeout`).
    pub leader_timeout: Duration,
    /// How long a probed leader has to answer before it is presumed dead or frozen (plus the
    /// busy allowance, see `busy_allowance`).
    pub probe_timeout: Duration,
    /// Upper bound of the extra time a follower grants a leader when main threads are busy (a
    /// busy tab handles each input 100–300 ms late). A follower estimates the slowness it sees
    /// (its own timers firing late while visible, a visible leader's heartbeats coming late,
    /// probe round trips), remembered for `slowness_memory` and fading linearly; it adds the
    /// estimate to `leader_timeout` and twice it to `probe_timeout`, each at most this. A
    /// hidden leader's heartbeats say nothing about its main thread (its timers are
    /// throttled), so probing a hidden leader always gets at least half the allowance.
    pub busy_allowance: Duration,
    /// How long an observation of slowness counts (see `busy_allowance`).
    pub slowness_memory: Duration,
    /// Protocol: how long a new tab waits for the leader to answer its `Hello` before it probes
    /// (the leader answers at once, so this only expires when there is no live leader or its main
    /// thread is busy); only an unanswered probe starts an election. Locks: a new tab whose lock
    /// request is not granted at once (someone holds the lock) waits `leader_timeout` instead.
    pub startup_wait: Duration,
    /// Protocol mechanism: how long a candidate listens for a higher claim before it leads.
    pub claim_window: Duration,
    /// Delay between consecutive candidates in the deterministic ranking (visible tabs first, then
    /// by tab id): rank `r` starts its candidacy `r * candidate_stagger` after the leader is
    /// presumed dead, unless a new leader shows up first.
    pub candidate_stagger: Duration,
    /// How long followers wait for the successor named in a `Resign` before they elect.
    pub resign_timeout: Duration,
    /// Locks: how long a follower may leave its leader's goodbye (`Resign`, `Bye`) unhandled.
    /// The lock queue picks the next leader, and the browser grants it the lock as the old one
    /// releases it: nothing the followers do with the goodbye helps that tab lead, but each of
    /// them handling it at once (and rendering what changed) competes with it for the machine's
    /// cores just when its grant must run (#15). A follower handles the goodbye, as of when it
    /// heard it, with the next thing it handles (the new leader's first heartbeat, its own
    /// grant, ...), or this long after it heard it if nothing comes. Zero: at once.
    pub goodbye_delay: Duration,
    /// How often every tab posts its presence (role, visibility, highest event id) while there
    /// are at most `presence_budget` tabs. A follower also answers a new tab's `Hello` with it,
    /// but not within this interval of its last one (a burst of new tabs would otherwise cost
    /// every tab n² messages).
    pub presence_interval: Duration,
    /// How many presences all tabs together post per `presence_interval`, at most (in steady
    /// state). Every message on the channel reaches every other tab, so with `n` tabs each
    /// posting once per interval each tab would handle `n` presences per interval (`n²` in all:
    /// 50 tabs of one browser spent their main threads on it). Beyond `presence_budget` tabs each
    /// tab's interval (and the expiry of silent tabs, and the age of usable position reports)
    /// stretches by `n / presence_budget`, so a tab handles about `presence_budget` presences per
    /// interval plus the leader's heartbeats, whatever `n`. `n` is the larger of the tabs a tab
    /// knows and the count the leader reports in its heartbeat.
    pub presence_budget: u32,
    /// A visible tab not heard from for this long is dropped from the registry (stretched like
    /// the presence interval beyond `presence_budget` tabs).
    pub tab_expiry: Duration,
    /// Same for a hidden tab (its timers may fire only once a minute).
    pub hidden_tab_expiry: Duration,
    /// How long a tab with a gap in the event ids waits for the resend before asking again.
    pub resend_timeout: Duration,
    /// First reconnect delay ceiling (full jitter: the delay is uniform in `0..=ceiling`, the
    /// ceiling doubles per consecutive failure). The server's `hello.retry_ms` replaces it.
    pub backoff_base: Duration,
    /// Upper bound of the reconnect delay ceiling.
    pub backoff_cap: Duration,
    /// Consecutive failures after which the app sees `MaxReconnectReached` (retries go on at the
    /// cap, and at once on `Input::Connect` / `Input::NetworkOnline`).
    pub max_reconnect_attempts: u32,
    /// A new leader resumes the stream from the lowest event id reported by the tabs heard from
    /// within this age (see `resume_point` in `tab/stream.rs`).
    pub resume_report_max_age: Duration,
    /// While every other tab is hidden, the leader relays the events of its stream in batches
    /// ([`Body::Relays`](crate::Body::Relays)), one message at most this often (and before any
    /// other message it posts, so the channel's order stays the stream's): a hidden tab renders
    /// nothing, its handlers still take every event in order, and each channel message costs a
    /// tab more than one event does. Any visible tab gets every event at once. Zero: never.
    pub hidden_relay_batch: Duration,
    /// Recent events kept by every tab so that a leader can resend them to a follower with a gap.
    pub ring_capacity: usize,
    /// Out-of-order events a tab holds while waiting for a gap to fill; beyond this it gives up on
    /// the gap and tells the app (`AppEvent::Lost`).
    pub pending_capacity: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            heartbeat_interval: Duration::from_millis(250),
            leader_timeout: Duration::from_millis(500),
            probe_timeout: Duration::from_millis(150),
            busy_allowance: Duration::from_millis(500),
            slowness_memory: Duration::from_secs(3),
            startup_wait: Duration::from_millis(150),
            claim_window: Duration::from_millis(50),
            candidate_stagger: Duration::from_millis(100),
            resign_timeout: Duration::from_millis(200),
            goodbye_delay: Duration::from_millis(100),
            presence_interval: Duration::from_secs(1),
            presence_budget: 8,
            tab_expiry: Duration::from_millis(3_500),
            hidden_tab_expiry: Duration::from_secs(150),
            resend_timeout: Duration::from_millis(300),
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(30),
            max_reconnect_attempts: 10,
            resume_report_max_age: Duration::from_secs(5),
            hidden_relay_batch: Duration::from_millis(100),
            ring_capacity: 512,
            pending_capacity: 1024,
        }
    }
}
