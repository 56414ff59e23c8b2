//! What the browser runtime receives from outside this tab, decoded: messages from the
//! SharedWorker (`?mode=sharedworker`) and `storage` events from other tabs (`?mode=storage`).
//! Pure and compiled natively as well, so the property tests (`tests/decode_props.rs`) run
//! without a browser; `runtime::shared_worker` and `runtime::storage_channel` call it.
//!
//! Anything that does not decode is rejected (the runtime counts it in
//! [`crate::TabView::ignored_messages`]); nothing here panics. The channel messages
//! themselves are decoded by [`coord::Message::decode`].

use serde::{Deserialize, Serialize};
use wire::json::{self, FromJson, Object, Value};

/// The format of the worker's messages, in the worker's name (see
/// [`crate::Names::worker_for_protocol`]): a page never joins a worker running the script of
/// another format, which would post messages it cannot read. 2: times are whole microseconds.
pub const WORKER_FORMAT: u32 = 2;

/// A message from the SharedWorker to a tab (the wire format is documented in
/// `public/tabrelay-worker.js`). Times are whole microseconds on the tabs' shared time line
/// (`performance.timeOrigin` + `now()`): integers, so the browser's bundle needs no float parser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromWorker {
    /// A server event the worker read from its stream.
    Event {
        /// The event's name.
        name: String,
        /// Its id, when it carried one.
        id: Option<u64>,
        /// Its data, as the server sent it.
        data: String,
        /// When the worker received it (µs on the tabs' shared time line).
        at_us: u64,
        /// The run (server epoch) `id` belongs to.
        #[serde(default)]
        epoch: Option<String>,
    },
    /// The worker cannot replay what this tab missed (its position is from another run, or older
    /// than the worker's buffer): refetch the state from the server, then continue from the
    /// worker's position `(epoch, head_id)` with the live events.
    Resync {
        /// The run (server epoch) the worker continues in.
        epoch: Option<String>,
        /// The newest id of that run the worker has.
        head_id: u64,
        /// Why the worker cannot replay (for the console).
        #[serde(default)]
        reason: String,
    },
    /// The worker's stream and the tabs it serves (four times a second).
    Status {
        /// `closed`, `connecting`, `open` or `backoff`.
        stream: String,
        /// When the next reconnect is due (µs since epoch), while backing off.
        next_attempt_us: Option<u64>,
        /// Every tab heard from recently.
        tabs: Vec<WorkerTab>,
        /// When the worker sent it (µs on the tabs' shared time line).
        at_us: u64,
    },
}

/// One tab in the worker's registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerTab {
    /// The tab's id.
    pub id: String,
    /// Whether its page is visible.
    pub visible: bool,
    /// When the worker last heard from it (µs since epoch).
    pub last_seen_us: u64,
}

impl FromWorker {
    /// Decodes one message posted by the worker: `None` for anything that is not a string or
    /// not one of ours (the caller counts it as ignored).
    pub fn decode(text: Option<&str>) -> Option<FromWorker> {
        json::from_str(text?).ok()
    }
}

/// The serde derive's form (internally tagged by `type`, snake_case), read with `wire::json` so
/// the browser links no serde_json; `app/tests/decode_props.rs` reads what serde writes.
impl FromJson for FromWorker {
    fn from_json(value: &Value<'_>) -> Result<Self, json::Error> {
        json::object(value, |o: &Object<'_, '_>| {
            let kind: String = o.field("type")?;
            Ok(match kind.as_str() {
                "event" => FromWorker::Event {
                    name: o.field("name")?,
                    id: o.field("id")?,
                    data: o.field("data")?,
                    at_us: o.field("at_us")?,
                    epoch: o.field("epoch")?,
                },
                "resync" => FromWorker::Resync {
                    epoch: o.field("epoch")?,
                    head_id: o.field("head_id")?,
                    reason: o.field_or_default("reason")?,
                },
                "status" => FromWorker::Status {
                    stream: o.field("stream")?,
                    next_attempt_us: o.field("next_attempt_us")?,
                    tabs: o.field("tabs")?,
                    at_us: o.field("at_us")?,
                },
                other => return Err(json::Error(format!("unknown worker message `{other}`"))),
            })
        })
    }
}

impl FromJson for WorkerTab {
    fn from_json(value: &Value<'_>) -> Result<Self, json::Error> {
        json::object(value, |o| {
            Ok(WorkerTab {
                id: o.field("id")?,
                visible: o.field("visible")?,
                last_seen_us: o.field("last_seen_us")?,
            })
        })
    }
}

/// Which `storage` events are messages from another tab: a key of ours (`prefix`…) with a new
/// value. `None` otherwise: another key, or the removal that follows every message (or
/// `localStorage.clear()`, whose event has no key).
pub fn storage_message(
    prefix: &str,
    key: Option<&str>,
    new_value: Option<String>,
) -> Option<String> {
    match key {
        Some(key) if key.starts_with(prefix) => new_value,
        _ => None,
    }
}
