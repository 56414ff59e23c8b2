//! # tabrelay
//!
//! Every open tab of a site shares **one** server-sent event stream. Browsers allow six HTTP/1.1
//! connections per host, so the seventh tab that opens its own `EventSource` hangs; with tabrelay
//! one *leader* tab holds the only stream and relays every event to the other tabs over a
//! `BroadcastChannel`. When the leader closes, crashes or freezes another tab takes over at once
//! and resumes from the newest event any tab has seen: no event is lost, none is delivered twice,
//! all arrive in id order.
//!
//! ```no_run
//! use leptos::prelude::*;
//! use tabrelay::{use_shared_event_source, Options};
//!
//! #[derive(serde::Deserialize)]
//! struct Price { symbol: String, cents: u64 }
//!
//! #[component]
//! fn Ticker() -> impl IntoView {
//!     let source = use_shared_event_source(
//!         Options::new("/api/prices").events(["price"]).namespace("ticker"),
//!     );
//!     let last = RwSignal::new(None::<(String, u64)>);
//!     source.on_json("price", move |p: Price| last.set(Some((p.symbol, p.cents))));
//!     let role = move || tabrelay::role_word(source.view.role.get());
//!     view! { <p>{role} " · " {move || format!("{:?}", last.get())}</p> }
//! }
//! ```
//!
//! Whether a tab leads or follows is invisible to handlers. Events with an `id:` line are
//! deduplicated, ordered and resumed whatever their name (`?last_event_id=N`); a server that
//! also names the run of its log (the `hello` / `reset` events of [`protocol`]) lets tabs resume
//! across its restarts, and tells a tab that cannot be given what it missed to resync
//! ([`Options::on_resync`]).
//!
//! | module        | job                                                                      |
//! |---------------|--------------------------------------------------------------------------|
//! | [`options`]   | what an app chooses: stream, events, names, election, mode, resync        |
//! | [`source`]    | the hook [`use_shared_event_source`] and its handle                       |
//! | [`view`]      | the reactive view of this tab's coordination (role, leader, tabs…)       |
//! | [`protocol`]  | the stream protocol's `hello` and `reset`                                 |
//! | [`inbox`]     | decoding what the SharedWorker and `storage` events hand a tab            |
//! | [`sse`]       | the `text/event-stream` parser of [`Events::All`] (a `fetch` stream)      |
//! | `runtime`     | (feature `hydrate`) the browser shell of the sans-IO core [`coord`]: Web  |
//! |               | Locks, `BroadcastChannel`, `EventSource`, Page Lifecycle, timers          |
//!
//! The coordination itself (election, heartbeat, relay, failover, reconnect) is the sans-IO
//! state machine of the [`coord`] crate, re-exported here; this crate carries its decisions out
//! with browser APIs.
//!
//! ## What the page must serve
//! `public/tabrelay-timer.js` (keeps hidden tabs' timers on time) and, for
//! [`Mode::SharedWorker`], `public/tabrelay-worker.js`, at the paths of [`Names`] (by default
//! `/tabrelay-timer.js` and `/tabrelay-worker.js`). Both ship with this crate.
//!
//! ## Features
//! - `hydrate`: the browser runtime. Without it (the server's build) the hook returns a handle
//!   whose view keeps its initial values and whose handlers never run.
//! - `alternative-modes`: [`Mode::Sharded`], [`Mode::HiddenClose`] and [`Mode::SharedWorker`],
//!   the alternatives tabrelay's leader is measured against (the dashboard turns it on). Without
//!   it an app asking for one runs as [`Mode::Leader`] and is told so in the console, and the
//!   library adds ~7 KB (brotli) less to its bundle.

#![warn(missing_docs)]

mod handler;
pub mod inbox;
pub mod options;
pub mod protocol;
pub mod source;
pub mod sse;
pub mod view;

#[cfg(feature = "hydrate")]
pub mod runtime;

pub use coord;
pub use coord::handlers::HandlerId;
pub use coord::{AppEvent, Config, Role, ServerEvent, StreamState};
pub use handler::{data, Handler};
pub use options::{Election, Events, Mode, Names, Options, Resync, ResyncReason};
pub use source::{use_shared_event_source, SharedEventSource, ANY_EVENT};
pub use view::{role_word, stream_word, LeaderChangeRow, TabRow, TabView};

/// How a tab id is shown (12 hex digits).
pub fn tab_id_text(id: coord::TabId) -> String {
    format!("{:012x}", id.0)
}
