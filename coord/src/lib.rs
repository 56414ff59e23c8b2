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
//!     arm_timer(tab.poll_timeout());                               // one timer is enough
//!     match next_browser_event() {
//!         Timer      => tab.handle_timeout(now()),
//!         other      => tab.handle(now(), to_input(other)),      // Input::Channel(Message::decode(s)?) …
//!     }
//! }
//! ```
//!
//! Time is an [`Instant`] in microseconds of a clock all tabs share
//! (`(performance.timeOrigin + performance.now()) * 1000`).
//!
//! # Modules
//!
//! | module        | job                                                                        |
//! |---------------|----------------------------------------------------------------------------|
//! | [`time`]      | [`Instant`], and the seeded PRNG used for backoff jitter                   |
//! | [`config`]    | [`Config`]: every timing constant, with documented defaults               |
//! | [`message`]   | [`Message`] / [`Body`] on the channel, terms, JSON encode / decode         |
//! | [`io`]        | [`Input`] (shell → core), [`Output`] (core → shell), [`AppEvent`] (→ app)  |
//! | `tab`         | [`Tab`]: state, accessors, `handle` / `handle_timeout` / `poll_*`          |
//! | `tab::election` | locks, claims, terms and fencing, candidacy, stepping down               |
//! | `tab::channel`  | messages from other tabs                                                 |
//! | `tab::stream`   | the leader's stream, reconnect, event delivery, resend and rewind        |
//! | `relay`       | per-tab event log: dedupe by id, gap detection, resend ring, `reset` rule  |
//! | `reconnect`   | exponential backoff with full jitter                                       |
//! | `registry`    | the other tabs: hello / presence / bye / expiry ([`TabInfo`])              |
//! | [`handlers`]  | a pure `on` / `off` registry by event name for the app-facing API          |
//!
//! # Election
//!
//! Every leader has a [`Term`] `(n, tab)`; terms are totally ordered and each belongs to one tab.
//! A tab ignores leader messages from a term below the highest it has seen (fencing) and answers
//! a stale heartbeat with [`Body::Fence`]; a leader that learns of a higher term closes its stream
//! at once ([`Output::CloseStream`]) and steps down.
//!
//! * [`Mechanism::Locks`]: leadership is holding the Web Lock (`RequestLock { steal: false }` at
//!   start, held with a never-resolving promise). Close and crash: the browser grants the lock to
//!   the next queued tab at once, which leads with term `highest seen + 1`. Freeze: followers
//!   notice the silence, probe, and the first tab in a deterministic order (visible first, then
//!   lowest id; the others wait `rank * candidate_stagger`) aborts its queued request and steals.
//!   The thawed leader steps down on `LockLost` or on the first higher-term message.
//! * [`Mechanism::Protocol`] (no `navigator.locks`): a silent leader is probed
//!   ([`Body::Probe`]), and only when the probe goes unanswered does the first-ranked tab post a
//!   [`Body::Claim`] for `highest seen + 1`; after `claim_window` without a higher claim it leads.
//!   Probing matters because hidden tabs' timers are throttled (1/s, 1/min after 5 min) while
//!   message events are not: a throttled but live leader answers the probe at once and keeps its
//!   job. A closing leader posts [`Body::Resign`] naming a successor (visible first) on `pagehide`,
//!   which leads at once. Two claims of the same `n` are ordered by tab id; if both candidates
//!   lead for a moment, the lower one steps down on the first message of the higher.
//!
//! # Relay and delivery
//!
//! The leader relays *every* server event ([`Body::Relay`] with term and send time), including
//! `hello`, `stats` and `reset`, and delivers it to its own app through the same log as the
//! followers, so the app sees the same events in every tab. Numbered events are delivered once,
//! in id order: duplicates are dropped, events after a gap wait until it is filled (follower:
//! [`Body::Resend`] to the leader, who resends from its ring or reopens the stream from the gap;
//! leader: reopens the stream). A `reset` snapshot is delivered as [`AppEvent::Reset`] and moves
//! the baseline to its `head_id`, unless the tab already has every event up to it. A new leader
//! opens the stream from the *lowest* highest-id reported by any live tab (reports only lag), so
//! the server replays what any survivor misses.
//!
//! # Shell contract
//!
//! * Call `poll_output` until `None` after every `new` / `handle` / `handle_timeout`, and re-arm
//!   one timer at `poll_timeout` (in the shared clock; `None` = no timer).
//! * `Output::OpenStream` replaces any open EventSource (a leader "rewinds" its stream that way to
//!   let the server replay a gap); never use EventSource's own reconnect: on error close it and
//!   feed `Input::StreamError`.
//! * Feed a `LockLost` only for the lock currently held (the rejection of its promise).
//! * Undecodable channel strings: feed `Input::Undecodable` (counted), never a guess.
//!
//! The core reads only two payloads: `hello` (`retry_ms` = backoff base; `head_id` = the baseline
//! of a tab that has no event yet; `instance` = when it changes the ids restarted, so the log
//! forgets its ids) and `reset` (`head_id`).

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
    Body, DecodeError, Message, PeerInfo, Role, ServerEvent, StreamState, StreamStatus, TabId,
    Term, APP_MARKER, PROTOCOL_VERSION,
};
pub use registry::TabInfo;
pub use relay::names as event_names;
pub use tab::{Mechanism, ReconnectInfo, Stats, Tab};
pub use time::Instant;
/// A stream position `(epoch, id)`, as in [`Output::OpenStream`] and [`Tab::position`].
pub use wire::Position;
