//! tabrelay's tab-coordination core: any number of browser tabs of one site share **one** server
//! SSE stream. One *leader* tab holds the only `EventSource` and relays every server event to the
//! *follower* tabs over a `BroadcastChannel`; when the leader closes, crashes or freezes another
//! tab takes over and no event is lost.
//!
//! This crate is sans-IO, in the style of `quinn-proto`: no web-sys, no clock, no timers, no
//! threads, no randomness of its own. A browser shell (or the simulator in `tests/sim`) drives
//! one [`Tab`] per page:
//!
//! ```text
//! let mut tab = Tab::new(id, Mechanism::Locks, Config::default(), now(), seed);
//! loop {
//!     while let Some(out) = tab.poll_output() { perform(out) }   // post, open stream, lock, emit
//!     arm_timer(tab.poll_timeout());                               // the earliest deadline
//!     match next_browser_event() {
//!         Timer      => tab.handle_timeout(now()),
//!         other      => tab.handle(now(), to_input(other)),      // Input::Channel(Message::decode(s)?) …
//!     }
//! }
//! ```
//!
//! The tab's deadlines (heartbeat, reconnect, presence, claim window, probe, leader silence,
//! candidacy, resend, registry expiry) live in one timer table, so `poll_timeout` is a single
//! minimum and the shell needs one timer. A runnable version of this loop, one tab alone with an
//! injected clock, is the example on [`Tab`].
//!
//! Time is an [`Instant`] in microseconds of a clock all tabs share
//! (`(performance.timeOrigin + performance.now()) * 1000`).
//!
//! # Modules
//!
//! Private modules are listed too: they are where to read (and change) each job.
//!
//! | module            | job                                                                  |
//! |-------------------|----------------------------------------------------------------------|
//! | [`time`]          | [`Instant`], and the seeded PRNG used for backoff jitter             |
//! | [`config`]        | [`Config`]: every timing constant, with documented defaults         |
//! | [`message`]       | [`Message`] / [`Body`] on the channel, terms, JSON encode / decode   |
//! | [`io`]            | [`Input`] (shell → core), [`Output`] (core → shell), [`AppEvent`]    |
//! | `tab`             | [`Tab`]: its state and entry points (`handle`, `handle_timeout`, `poll_*`) |
//! | `tab::view`       | the accessors: role, leader, position, stream, known tabs, stats     |
//! | `tab::phase`      | electing, following, or leading: only a leader has a term and a stream |
//! | `tab::timer`      | the timer table (one deadline per named timer) and what each does    |
//! | `tab::lifecycle`  | start, visibility, freeze / resume, leaving and goodbye, step-down, `Connect` refcount |
//! | `tab::election`   | locks, claims, terms and fencing, candidacy, stepping down           |
//! | `tab::detector`   | the failure detector: silence and probe timeouts, slowness allowance |
//! | `tab::channel`    | messages from other tabs                                             |
//! | `tab::presence`   | what the tab says about itself; the crowd that stretches intervals   |
//! | `tab::stream`     | the leader's stream, reconnect, event delivery, resend and rewind    |
//! | `tab::timeline`   | the leadership changes a tab saw, with their cause ([`LeaderChange`]) |
//! | `relay`           | per-tab event log: runs (epochs), dedupe by id, gaps, resend ring, `reset` |
//! | `reconnect`       | exponential backoff with full jitter                                 |
//! | `registry`        | the other tabs: hello / presence / bye / expiry ([`TabInfo`])        |
//! | [`handlers`]      | a pure `on` / `off` registry by event name for the app-facing API    |
//!
//! The simulator (`tests/sim`) drives many tabs through a deterministic browser; its `world`
//! module is split the same way (event loop, tabs, channel, locks, server, actions).
//!
//! # Election
//!
//! Every leader has a [`Term`] `(n, tab)`; terms are totally ordered and each belongs to one tab.
//! A tab ignores leader messages from a term below the highest it has seen (fencing) and answers
//! a stale heartbeat with [`Body::Fence`]; a leader that learns of a higher term closes its stream
//! at once ([`Output::CloseStream`]) and steps down.
//!
//! **No leadership change without a fault.** A tab only claims or steals after a leader's silence
//! *and* an unanswered [`Body::Probe`] — also a tab that has never heard a leader (it learns who
//! leads from the leader's heartbeat, or from the term in other tabs' hello / presence). A busy
//! main thread (each input handled 100–300 ms late) is not a fault: followers add the slowness
//! they observe (their own late timers while visible, a visible leader's late heartbeats, probe
//! round trips) to the silence and probe timeouts, bounded by `Config::busy_allowance`, and a
//! hidden leader (whose throttled heartbeats say nothing about its main thread) always gets at
//! least half the allowance when probed. A probe's deadline is judged with the slowness known
//! when it fires (its own lateness included: the answer may be queued behind it). A visible
//! follower of a hidden leader probes after one `heartbeat_interval` of silence rather than
//! `leader_timeout` (it asks for the heartbeats a hidden leader's throttled timers cannot send),
//! so the leader's crash is found a probe timeout after at most one interval.
//!
//! * [`Mechanism::Locks`]: leadership is holding the Web Lock (`RequestLock { steal: false }` at
//!   start, held with a never-resolving promise). Close and crash: the browser grants the lock to
//!   the next queued tab at once, which leads with term `highest seen + 1`. A closing leader
//!   releases its lock before it posts its goodbye; the followers hold that goodbye back and
//!   handle it with the next leader's first word (or `goodbye_delay` later), so that the tab
//!   granted the lock does not wait for a core behind all of them handling it. A free lock is granted
//!   at once, so a new tab whose request stays queued knows someone holds it: it waits
//!   `leader_timeout` like any follower before it probes. Freeze: followers notice the silence,
//!   probe, and the first tab in a deterministic order (visible first, then lowest id; the others
//!   wait `rank * candidate_stagger`) aborts its queued request and steals. The thawed leader
//!   steps down on `LockLost` or on the first higher-term message.
//! * [`Mechanism::Protocol`] (no `navigator.locks`): a silent leader is probed
//!   ([`Body::Probe`]; a new tab probes after `startup_wait`), and only when the probe goes
//!   unanswered does the first-ranked tab post a
//!   [`Body::Claim`] for `highest seen + 1`; after `claim_window` without a higher claim it leads.
//!   Probing matters because hidden tabs' timers are throttled (1/s, 1/min after 5 min) while
//!   message events are not: a throttled but live leader answers the probe at once and keeps its
//!   job. A closing leader posts [`Body::Resign`] naming a successor (visible first) on `pagehide`,
//!   which leads at once. Two claims of the same `n` are ordered by tab id; if both candidates
//!   lead for a moment, the lower one steps down on the first message of the higher.
//!
//! # Relay and delivery
//!
//! A stream position is a [`Position`] `(epoch, id)`: the **epoch** names one run of the
//! server's event log (a restart, or a Redis that lost its data, starts a new one), the **id** is
//! the SSE id within it. Ids of two epochs are never compared (the `wire` crate holds the one
//! resume rule, shared with the server).
//!
//! The leader relays *every* server event ([`Body::Relay`] with term, send time and the stream's
//! epoch, learnt from its `hello`), including `hello`, `stats` and `reset`, and delivers it to its
//! own app through the same log as the followers, so the app sees the same events in every tab.
//! While every other tab it knows of is hidden, it holds them and posts them together
//! ([`Body::Relays`], at most every `Config::hidden_relay_batch`, before any other message it
//! posts, at once when a tab shows, and only under the term it leads): a hidden tab renders
//! nothing, and one channel message per event cost it more than the events themselves.
//! Within one epoch numbered events are delivered once, in id order: duplicates are dropped,
//! events after a gap wait until it is filled (follower: [`Body::Resend`] naming its position to
//! the leader, who resends from its ring or reopens the stream from that position; leader:
//! reopens the stream). A `reset` snapshot is delivered as [`AppEvent::Reset`] and moves the
//! baseline to its `(epoch, head_id)`, unless the tab already has every event up to it in that
//! epoch.
//!
//! **Every run change reaches the app as `Reset` (or `Lost`), before any event of the new run.**
//! A numbered event of another epoch than the tab's is held, never delivered on the strength of
//! its id; the tab asks for a resend from its old position (`Resend { epoch: <old>, after }`),
//! and a leader asked for another epoch than its own rewinds its stream to that old position, so
//! the server answers with a fresh `reset` of the current run, relayed to every tab (tabs already
//! past its `head_id` in that run ignore it). A leader whose stream reconnects into a new run
//! (its `hello` names another epoch than the position it resumed from) takes its baseline from
//! the `reset` the server sends right after, never from `hello.head_id`; when it opened with no
//! position, `hello.head_id` is the baseline. If no reset comes, the resend timeout repeats the
//! request, and past `pending_capacity` held events the app gets `Lost` and the new run goes on.
//!
//! A new leader opens the stream from the *lowest* highest-id reported by any live tab (reports
//! only lag) among the positions of one epoch — its own if it has one, else the most recently
//! reported — so the server replays what any survivor of that run misses; tabs of another run
//! catch up through resend → rewind → reset.
//!
//! # Shell contract
//!
//! * Call `poll_output` until `None` after every `new` / `handle` / `handle_timeout`, and re-arm
//!   one timer at `poll_timeout` (in the shared clock; `None` = no timer).
//! * `Output::OpenStream { resume }` replaces any open EventSource (a leader "rewinds" its stream
//!   that way to let the server replay a gap or send a reset); with `Some(Position { epoch, id })`
//!   open `/api/events?last_event_id=<id>&epoch=<epoch>` (no `epoch` when it is empty: a server
//!   that names none). Never use EventSource's own reconnect: on error close it and feed
//!   `Input::StreamError`. [`Tab::position`] is the tab's own position (for the UI, or a
//!   fallback `Last-Event-ID`).
//! * Channel messages are [`PROTOCOL_VERSION`] 3 (2 had no batched relays; 1 compared ids
//!   across runs): version the lock and worker names with it; two versions must not meet.
//! * Feed a `LockLost` only for the lock currently held (the rejection of its promise).
//! * Undecodable channel strings: feed `Input::Undecodable` (counted), never a guess.
//!
//! The core reads only two payloads: `hello` (`epoch` = the run of this connection, or `instance`
//! when the server names no epoch; `retry_ms` = backoff base; `head_id` = the baseline of a tab
//! that has no position yet, unless the leader resumed from a position) and `reset` (`epoch`,
//! `head_id`).

mod by_id;
pub mod config;
pub mod handlers;
pub mod io;
pub mod message;
mod reconnect;
mod registry;
mod relay;
mod tab;
pub mod time;

pub use config::Config;
pub use handlers::{HandlerId, Handlers};
pub use io::{AppEvent, Input, Output};
pub use message::{
    Body, DecodeError, Message, PeerInfo, Relayed, ResignReason, Role, ServerEvent, StreamState,
    StreamStatus, TabId, Term, APP_MARKER, PROTOCOL_VERSION,
};
pub use registry::TabInfo;
pub use relay::names as event_names;
pub use tab::{ChangeCause, LeaderChange, Mechanism, ReconnectInfo, Stats, Tab};
pub use time::Instant;
/// A stream position `(epoch, id)`, as in [`Output::OpenStream`] and [`Tab::position`].
pub use wire::Position;
