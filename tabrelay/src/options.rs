//! What an app chooses: the stream, the events it listens for, how tabs elect and talk, the names
//! they use, and what to do when a tab must resync.

use coord::Config;
use std::fmt;
use std::rc::Rc;

/// How a tab reaches the server: one type for the server (which counts streams by it) and the
/// client, from the `wire` crate.
pub use wire::Mode;

/// How the leader is elected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Election {
    /// Web Locks where `navigator.locks` exists (secure contexts), else the protocol.
    #[default]
    Auto,
    /// Force Web Locks.
    Locks,
    /// Force the election protocol over the tabs' channel (what `Auto` falls back to on plain
    /// http origins, where browsers hide `navigator.locks`).
    Protocol,
}

impl Election {
    /// Parses a query value (`locks`, `protocol`; anything else is `Auto`).
    pub fn from_query(value: Option<&str>) -> Self {
        match value {
            Some("locks") => Self::Locks,
            Some("protocol") => Self::Protocol,
            _ => Self::Auto,
        }
    }
}

/// The names tabs of one app meet under. Two apps on one origin (or two streams of one app) must
/// use different names, or their tabs would elect one leader for both.
///
/// Every name derives from one namespace by default ([`Names::new`]); set a field to override it.
///
/// ```
/// let names = tabrelay::Names {
///     timer_script: "/static/tabrelay-timer.js".into(),
///     ..tabrelay::Names::new("chat")
/// };
/// assert_eq!(names.channel, "chat");
/// assert_eq!(names.lock_for(tabrelay::Mode::Leader), "chat-leader-v3");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// The `BroadcastChannel` the tabs talk on ([`Mode::Leader`]). Not versioned: tabs of
    /// another release open across a deploy post messages of another protocol version, which
    /// are counted and ignored.
    pub channel: String,
    /// The prefix of the `localStorage` keys that carry messages ([`Mode::Storage`]).
    pub storage_prefix: String,
    /// The Web Lock whose holder leads; the protocol version and the mode are appended
    /// ([`Names::lock_for`]), so two releases, or leader and storage tabs, never queue for one.
    pub lock: String,
    /// The SharedWorker's script ([`Mode::SharedWorker`]); the stream URL and the event names
    /// travel in its query, so two streams get two workers.
    pub worker_script: String,
    /// The worker's name (versioned with the protocol, like the lock).
    pub worker: String,
    /// The dedicated worker that keeps a hidden tab's timers on time (browsers throttle a hidden
    /// page's `setTimeout` to once a second); without it they only run late.
    pub timer_script: String,
}

impl Names {
    /// Every name under `namespace`: channel `namespace`, lock `namespace-leader`, storage keys
    /// `namespace-msg:`, worker `namespace`; the scripts are served at `/tabrelay-worker.js` and
    /// `/tabrelay-timer.js` (shipped in this crate's `public/`).
    pub fn new(namespace: &str) -> Self {
        Self {
            channel: namespace.to_owned(),
            storage_prefix: format!("{namespace}-msg:"),
            lock: format!("{namespace}-leader"),
            worker_script: "/tabrelay-worker.js".into(),
            worker: namespace.to_owned(),
            timer_script: "/tabrelay-timer.js".into(),
        }
    }

    /// The Web Lock for `mode`: versioned with the channel protocol (tabs of two releases cannot
    /// read each other's messages, so they must not queue for one lock), and per mode (leader and
    /// storage tabs listen on different channels).
    pub fn lock_for(&self, mode: Mode) -> String {
        let v = coord::PROTOCOL_VERSION;
        match mode {
            Mode::Storage => format!("{}-storage-v{v}", self.lock),
            _ => format!("{}-v{v}", self.lock),
        }
    }

    /// The SharedWorker's script URL: [`Names::worker_script`] with the stream (`url`) and the
    /// event names (`events`, comma separated), both already URI-encoded, and the worker's
    /// message format (`format`) in its query. A SharedWorker is one per script URL and name, so
    /// two streams get two workers, and the worker reads what to open from its own `location`.
    /// The format is in the URL as well as in the name because a browser caches one script per
    /// URL: a page of a new release must not start its worker from an old release's script.
    pub fn worker_script_url(&self, url: &str, events: &str) -> String {
        let script = &self.worker_script;
        let sep = if script.contains('?') { '&' } else { '?' };
        let format = crate::inbox::WORKER_FORMAT;
        format!("{script}{sep}url={url}&events={events}&format={format}")
    }

    /// The SharedWorker's name for this protocol version and worker format
    /// ([`crate::inbox::WORKER_FORMAT`]): `ticker-v3.2`.
    pub fn worker_for_protocol(&self) -> String {
        let (v, format) = (coord::PROTOCOL_VERSION, crate::inbox::WORKER_FORMAT);
        format!("{}-v{v}.{format}", self.worker)
    }
}

impl Default for Names {
    fn default() -> Self {
        Self::new("tabrelay")
    }
}

/// Which of the stream's events a tab takes.
///
/// ```
/// use tabrelay::{Events, Options};
/// assert_eq!(Options::new("/s").all_events().events, Events::All);
/// assert_eq!(Options::new("/s").events(["a"]).events, Events::Named(vec!["a".into()]));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Events {
    /// These names (`message` is what a server sends without an `event:` line). The leader reads
    /// the stream with `EventSource`.
    Named(Vec<String>),
    /// Every event, whatever its name. `EventSource` hands a named event only to a listener for
    /// that name, so the leader reads the stream with `fetch` and parses it itself
    /// ([`crate::sse`]); in the modes without a leader ([`Mode::Naive`] and its variants,
    /// [`Mode::SharedWorker`]) tabs take `message` only.
    All,
}

/// Why a tab should fetch its state from the server again (see [`Options::resync`]).
///
/// ```
/// let options = tabrelay::Options::new("/api/chat").on_resync(|reason| match reason {
///     tabrelay::ResyncReason::FirstConnect => { /* fetch the room's history */ }
///     tabrelay::ResyncReason::Lost { from, to } => { /* refetch messages from..=to */ let _ = (from, to); }
/// });
/// assert!(options.resync.is_some());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResyncReason {
    /// The stream is open for the first time in this tab: the page was rendered from a snapshot
    /// a moment before, and what was published in between never reaches it.
    FirstConnect,
    /// Events with ids `from..=to` cannot be given to this tab any more (its buffer overflowed,
    /// or the server's log no longer holds them).
    /// Events `from..=to` (ids) are gone for this tab.
    Lost {
        /// The first id lost.
        from: u64,
        /// The last id lost.
        to: u64,
    },
}

/// The app's resync callback.
#[derive(Clone)]
pub struct Resync(pub Rc<dyn Fn(ResyncReason)>);

impl fmt::Debug for Resync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Resync(..)")
    }
}

/// Options of [`crate::use_shared_event_source`]. Start from [`Options::new`] with the stream's
/// URL and chain what differs from the defaults:
///
/// ```
/// use tabrelay::{Election, Mode, Options};
/// let options = Options::new("/api/prices")
///     .events(["price", "halt"])
///     .namespace("ticker")
///     .election(Election::Auto)
///     .mode(Mode::Leader);
/// assert_eq!(options.names.channel, "ticker");
/// assert_eq!(options.listened_names(), ["price", "halt", "hello", "reset"]);
/// ```
#[derive(Debug, Clone)]
pub struct Options {
    /// The SSE endpoint, without a resume point (the runtime appends `last_event_id` and
    /// `epoch`, and `mode` so a server can count streams by mode).
    pub url: String,
    /// The events to take ([`Events`]). Events with an `id:` are deduplicated, ordered and
    /// resumed whatever their name; the stream protocol's `hello` and `reset` are always taken.
    pub events: Events,
    /// The names tabs meet under ([`Names`]).
    pub names: Names,
    /// How the leader is elected.
    pub election: Election,
    /// How tabs reach the server.
    pub mode: Mode,
    /// Timing of the coordination core (heartbeat, silence, backoff…).
    pub config: Config,
    /// Call `connect()` once on start (the usual case).
    pub auto_connect: bool,
    /// Called when this tab's state may have missed events and should be fetched again.
    pub resync: Option<Resync>,
    /// [`Mode::Sharded`] only: a JSON endpoint whose `shard_ports` lists other ports of the
    /// server to spread streams over.
    pub shard_ports_url: Option<String>,
}

impl Options {
    /// Shares the stream at `url` (`message` events only, everything else by default).
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            events: Events::Named(vec!["message".into()]),
            names: Names::default(),
            election: Election::Auto,
            mode: Mode::Leader,
            config: Config::default(),
            auto_connect: true,
            resync: None,
            shard_ports_url: None,
        }
    }

    /// The event names to listen for (replaces the default `message`).
    pub fn events<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.events = Events::Named(names.into_iter().map(Into::into).collect());
        self
    }

    /// Every event, whatever its name ([`Events::All`]).
    pub fn all_events(mut self) -> Self {
        self.events = Events::All;
        self
    }

    /// Every name under one namespace ([`Names::new`]).
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.names = Names::new(namespace);
        self
    }

    /// Sets every name ([`Names`]).
    pub fn names(mut self, names: Names) -> Self {
        self.names = names;
        self
    }

    /// Sets the election ([`Election`]).
    pub fn election(mut self, election: Election) -> Self {
        self.election = election;
        self
    }

    /// Sets the mode ([`Mode`]).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets the core's timing ([`Config`]).
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Whether the tab connects on start (else call `connect()`).
    pub fn auto_connect(mut self, auto_connect: bool) -> Self {
        self.auto_connect = auto_connect;
        self
    }

    /// `f` runs when this tab should fetch its state again ([`ResyncReason`]).
    pub fn on_resync(mut self, f: impl Fn(ResyncReason) + 'static) -> Self {
        self.resync = Some(Resync(Rc::new(f)));
        self
    }

    /// [`Mode::Sharded`]: where to read the other ports from.
    pub fn shard_ports_url(mut self, url: impl Into<String>) -> Self {
        self.shard_ports_url = Some(url.into());
        self
    }

    /// The stream URL with the mode, so the server can count streams by mode.
    pub fn stream_url(&self) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}mode={}", self.url, self.mode.as_str())
    }

    /// Every event name an `EventSource` listens for: the app's and the protocol's (with
    /// [`Events::All`], `message` and the protocol's).
    pub fn listened_names(&self) -> Vec<String> {
        let mut names = match &self.events {
            Events::Named(names) => names.clone(),
            Events::All => vec!["message".to_owned()],
        };
        for protocol in [crate::protocol::HELLO, crate::protocol::RESET] {
            if !names.iter().any(|name| name == protocol) {
                names.push(protocol.to_owned());
            }
        }
        names
    }

    /// What identifies one shared stream within a page: mounts with the same key share it.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    pub(crate) fn key(&self) -> String {
        format!(
            "{}\u{0}{}\u{0}{}",
            self.stream_url(),
            self.names.channel,
            self.names.lock
        )
    }
}

impl Default for Options {
    fn default() -> Self {
        Self::new("/api/events")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_protocol_events_are_always_listened_for_once() {
        let options = Options::new("/s").events(["a", "hello"]);
        assert_eq!(options.listened_names(), ["a", "hello", "reset"]);
    }

    #[test]
    fn the_stream_url_carries_the_mode() {
        assert_eq!(
            Options::new("/s").mode(Mode::Storage).stream_url(),
            "/s?mode=storage"
        );
        assert_eq!(Options::new("/s?x=1").stream_url(), "/s?x=1&mode=leader");
    }

    #[test]
    fn names_derive_from_one_namespace_and_are_versioned_per_mode() {
        let names = Names::new("ticker");
        let v = coord::PROTOCOL_VERSION;
        assert_eq!(names.lock_for(Mode::Leader), format!("ticker-leader-v{v}"));
        assert_eq!(
            names.lock_for(Mode::Storage),
            format!("ticker-leader-storage-v{v}")
        );
        assert_eq!(names.storage_prefix, "ticker-msg:");
        assert_eq!(names.worker_for_protocol(), format!("ticker-v{v}.2"));
        // The script's URL names the format too: two releases' scripts are two cache entries.
        assert_eq!(
            names.worker_script_url("%2Fs", "a%2Cb"),
            "/tabrelay-worker.js?url=%2Fs&events=a%2Cb&format=2"
        );
        // The default names of this protocol: tabs of the release before (version 2, no batched
        // relays) queue for "tabrelay-leader-v2" and keep their own leader until they reload.
        assert_eq!(
            Names::default().lock_for(Mode::Leader),
            "tabrelay-leader-v3"
        );
    }
}
