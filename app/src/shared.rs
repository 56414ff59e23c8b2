//! The app-facing API: [`use_shared_event_source`], an `EventSource` that every tab of the site
//! shares.
//!
//! Business code subscribes exactly as it would to its own stream, in every tab alike:
//!
//! ```ignore
//! let source = use_shared_event_source(SharedEventSourceOptions::default());
//! source.on("device-online", |event| log!("{event:?}"));
//! // signals for the UI: source.state.role, .leader_id, .stream, .tabs, .events …
//! ```
//!
//! Whether this tab holds the connection or receives the events from the leader tab is invisible
//! to handlers. On the server (SSR) the hook returns the initial state and does nothing.

use crate::state::TabState;
use coord::handlers::HandlerId;
#[cfg(feature = "hydrate")]
use coord::handlers::Handlers;
use coord::{AppEvent, Config};
#[cfg(feature = "hydrate")]
use leptos::prelude::*;
use std::rc::Rc;

/// A callback for [`SharedEventSource::on`].
pub type Handler = Rc<dyn Fn(&AppEvent)>;

/// How the leader is elected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Election {
    /// Web Locks where `navigator.locks` exists (secure contexts), else the protocol.
    #[default]
    Auto,
    /// Force Web Locks.
    Locks,
    /// Force the BroadcastChannel election protocol.
    Protocol,
}

impl Election {
    /// Parses the `?election=` query value (`locks`, `protocol`; anything else is `Auto`).
    pub fn from_query(value: Option<&str>) -> Self {
        match value {
            Some("locks") => Self::Locks,
            Some("protocol") => Self::Protocol,
            _ => Self::Auto,
        }
    }
}

/// How this tab reaches the server (`?mode=`): four designs, side by side on the same server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// One leader tab holds the connection and relays over a BroadcastChannel.
    #[default]
    Leader,
    /// Every tab opens its own `EventSource`: the baseline that shows the 6-connection limit.
    Naive,
    /// The same election and relay as `Leader`, but tabs talk through `localStorage` and the
    /// `storage` event: the older scheme, for browsers without BroadcastChannel.
    Storage,
    /// One SharedWorker per origin holds the connection and fans events out over MessagePorts.
    SharedWorker,
    /// Naive, with the streams spread over the server's shard ports (other origins).
    Sharded,
    /// Naive, but a hidden tab closes its stream and resumes it when shown again.
    HiddenClose,
}

impl Mode {
    /// Every mode, in the order the dashboard offers them.
    pub const ALL: [Mode; 6] = [
        Mode::Leader,
        Mode::Storage,
        Mode::SharedWorker,
        Mode::Naive,
        Mode::Sharded,
        Mode::HiddenClose,
    ];

    /// Parses the `?mode=` query value; anything unknown is the default, `leader`.
    pub fn from_query(value: Option<&str>) -> Self {
        match value {
            Some("naive") => Self::Naive,
            Some("storage") => Self::Storage,
            Some("sharedworker") => Self::SharedWorker,
            Some("sharded") => Self::Sharded,
            Some("hidden-close") => Self::HiddenClose,
            _ => Self::Leader,
        }
    }

    /// The word in the URL, the stream's `?mode=` (the server counts streams by it) and the page.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Leader => "leader",
            Self::Naive => "naive",
            Self::Storage => "storage",
            Self::SharedWorker => "sharedworker",
            Self::Sharded => "sharded",
            Self::HiddenClose => "hidden-close",
        }
    }

    /// What the mode is, in a few words for the dashboard.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Leader => "a leader tab relays over BroadcastChannel",
            Self::Naive => "every tab opens its own stream (the problem)",
            Self::Storage => "a leader tab relays through localStorage events",
            Self::SharedWorker => "a SharedWorker holds the stream for every tab",
            Self::Sharded => "every tab its own stream, spread over several ports (the cap moves)",
            Self::HiddenClose => "every tab its own stream, closed while the tab is hidden",
        }
    }

    /// Whether tabs elect a leader with the coordination core (the other modes have no election).
    pub fn elects_leader(self) -> bool {
        matches!(self, Self::Leader | Self::Storage)
    }
}

/// The page's query string without the `?`: from the request on the server, from
/// `location.search` in the browser (read directly: a router for one page costs bundle size).
pub fn page_query() -> String {
    #[cfg(feature = "ssr")]
    {
        leptos::prelude::use_context::<http::request::Parts>()
            .and_then(|parts| parts.uri.query().map(str::to_owned))
            .unwrap_or_default()
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        web_sys::window()
            .and_then(|w| w.location().search().ok())
            .map(|search| search.trim_start_matches('?').to_owned())
            .unwrap_or_default()
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        String::new()
    }
}

/// The first value of `key` in `query` (`a=1&b=2`). Values are not percent-decoded: the ones
/// read here (`election`, `mode`) are plain words.
pub fn query_value<'q>(query: &'q str, key: &str) -> Option<&'q str> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == key).then_some(v)
    })
}

#[derive(Debug, Clone)]
pub struct SharedEventSourceOptions {
    /// The SSE endpoint, without the resume point (the runtime appends `last_event_id`).
    pub url: String,
    pub mode: Mode,
    pub election: Election,
    /// Timing of the coordination core.
    pub config: Config,
    /// Call `connect()` once on start (the usual case).
    pub auto_connect: bool,
}

impl Default for SharedEventSourceOptions {
    fn default() -> Self {
        Self {
            url: "/api/events".into(),
            mode: Mode::Leader,
            election: Election::Auto,
            config: Config::default(),
            auto_connect: true,
        }
    }
}

impl SharedEventSourceOptions {
    /// The stream URL with the mode, so the server can count streams by mode.
    pub fn stream_url(&self) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}mode={}", self.url, self.mode.as_str())
    }
}

/// A handle on the shared stream: signals for the UI and the seed-style `on` / `off` /
/// `connect` / `disconnect` API. `Copy`, so views and callbacks can capture it freely.
///
/// The handler registry and the driver exist in the browser only: on the server they would be
/// thread-local values in a multi-threaded runtime, and nothing there could call them anyway.
#[derive(Clone, Copy)]
pub struct SharedEventSource {
    pub state: TabState,
    /// How this tab reaches the server; known on the server too, so the page renders it.
    pub mode: Mode,
    #[cfg(feature = "hydrate")]
    handlers: StoredValue<Handlers<Handler>, LocalStorage>,
    #[cfg(feature = "hydrate")]
    driver: StoredValue<Option<Rc<crate::runtime::Driver>>, LocalStorage>,
    /// Inputs (connect, disconnect, step down) sent before the runtime started, in order.
    #[cfg(feature = "hydrate")]
    early: StoredValue<Vec<coord::Input>, LocalStorage>,
}

/// Starts sharing the stream after hydration and returns its handle.
pub fn use_shared_event_source(options: SharedEventSourceOptions) -> SharedEventSource {
    let source = SharedEventSource {
        state: TabState::new(),
        mode: options.mode,
        #[cfg(feature = "hydrate")]
        handlers: StoredValue::new_local(Handlers::new()),
        #[cfg(feature = "hydrate")]
        driver: StoredValue::new_local(None),
        #[cfg(feature = "hydrate")]
        early: StoredValue::new_local(Vec::new()),
    };
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        // Once, after hydration; `untrack` keeps the runtime's reads from re-running this.
        let driver = untrack(|| crate::runtime::start(source.state, source.handlers, &options));
        if let Some(driver) = &driver {
            for input in source
                .early
                .try_update_value(std::mem::take)
                .unwrap_or_default()
            {
                driver.input(input);
            }
        }
        source.driver.set_value(driver);
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = options;
    source
}

impl SharedEventSource {
    /// Calls `handler` for every app event named `name`: a server event name (`device-online`,
    /// `device-offline`, `stats`, …) or one of `connected`, `error`, `role-changed`,
    /// `max-reconnect-reached`, `reset`, `lost`.
    #[cfg(feature = "hydrate")]
    pub fn on(&self, name: &str, handler: impl Fn(&AppEvent) + 'static) -> HandlerId {
        self.handlers
            .try_update_value(|handlers| handlers.on(name, Rc::new(handler)))
            .expect("the handler registry lives as long as the page")
    }

    /// On the server no event ever arrives: the handler is dropped.
    #[cfg(not(feature = "hydrate"))]
    pub fn on(&self, _name: &str, _handler: impl Fn(&AppEvent) + 'static) -> HandlerId {
        HandlerId(0)
    }

    /// Removes a handler; `false` if it was not registered.
    #[cfg(feature = "hydrate")]
    pub fn off(&self, id: HandlerId) -> bool {
        self.handlers
            .try_update_value(|handlers| handlers.off(id))
            .unwrap_or(false)
    }

    #[cfg(not(feature = "hydrate"))]
    pub fn off(&self, _id: HandlerId) -> bool {
        false
    }

    /// One more user of the stream (reference counted).
    pub fn connect(&self) {
        self.send(coord::Input::Connect);
    }

    /// One user fewer; with none left in this tab, its app stops receiving events.
    pub fn disconnect(&self) {
        self.send(coord::Input::Disconnect);
    }

    /// Hands leadership to another tab (a no-op in a follower).
    pub fn step_down(&self) {
        self.send(coord::Input::StepDown);
    }

    #[cfg(feature = "hydrate")]
    fn send(&self, input: coord::Input) {
        match self.driver.get_value() {
            Some(driver) => driver.input(input),
            None => self.early.update_value(|early| early.push(input)),
        }
    }

    #[cfg(not(feature = "hydrate"))]
    fn send(&self, _input: coord::Input) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_found_by_key() {
        assert_eq!(
            query_value("election=protocol&mode=naive", "mode"),
            Some("naive")
        );
        assert_eq!(
            query_value("election=protocol", "election"),
            Some("protocol")
        );
        assert_eq!(query_value("modes=naive", "mode"), None);
        assert_eq!(query_value("", "mode"), None);
        assert_eq!(query_value("mode", "mode"), Some(""));
        assert_eq!(
            Mode::from_query(query_value("mode=naive", "mode")),
            Mode::Naive
        );
    }
}
