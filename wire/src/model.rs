//! The wire model shared by the server, every tab and the load generator: every SSE payload and
//! API body, the SSE event names and the API's header names.
//!
//! The server speaks Server-Sent Events. Each SSE `event:` name maps to one payload type here; the
//! `data:` line is that payload as JSON. Device events carry the SSE `id:` too, so `EventSource`
//! and the tab-coordination core can resume with `Last-Event-ID` after a reconnect or failover.
//!
//! | SSE event        | `id:` line | payload                |
//! |------------------|------------|------------------------|
//! | `device-online`  | yes        | [`DeviceEvent`]        |
//! | `device-offline` | yes        | [`DeviceEvent`]        |
//! | `hello`          | no         | [`Hello`]              |
//! | `stats`          | no         | [`StatsEvent`] (a [`Stats`]) |
//! | `reset`          | no         | [`Reset`]              |
//!
//! Device event ids are assigned by the server and consecutive within one run of the event log
//! (`Hello::epoch`), so a gap is detectable by any tab. A run's first id is its floor + 1, the
//! floor taken from the clock, so ids never repeat across runs (see [`crate::floor_for_new_run`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// SSE event names, in one place so the server and the client cannot drift apart.
pub mod event_name {
    pub const DEVICE_ONLINE: &str = "device-online";
    pub const DEVICE_OFFLINE: &str = "device-offline";
    pub const HELLO: &str = "hello";
    pub const STATS: &str = "stats";
    pub const RESET: &str = "reset";
}

/// Whether a device came online or went offline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceEventKind {
    DeviceOnline,
    DeviceOffline,
}

impl DeviceEventKind {
    /// The SSE `event:` name of this kind.
    pub fn event_name(self) -> &'static str {
        match self {
            Self::DeviceOnline => event_name::DEVICE_ONLINE,
            Self::DeviceOffline => event_name::DEVICE_OFFLINE,
        }
    }

    /// Parses an SSE `event:` name; `None` for anything that is not a device event.
    pub fn from_event_name(name: &str) -> Option<Self> {
        match name {
            event_name::DEVICE_ONLINE => Some(Self::DeviceOnline),
            event_name::DEVICE_OFFLINE => Some(Self::DeviceOffline),
            _ => None,
        }
    }

    /// The device state this event leaves behind.
    pub fn online(self) -> bool {
        matches!(self, Self::DeviceOnline)
    }
}

/// A device went online or offline. Numbered by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceEvent {
    /// Server-assigned, strictly increasing and consecutive within one run (epoch).
    pub id: u64,
    /// The device id (see [`validate_device_id`]).
    pub device: String,
    pub kind: DeviceEventKind,
    /// When the server published it, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The device's display name, if it has one: free text, so always rendered as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// One device as the server knows it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub id: String,
    pub online: bool,
    /// Time of the last change, milliseconds since the Unix epoch.
    pub changed_at_ms: u64,
    /// Display name (see [`DeviceEvent::name`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The optional JSON body of `POST /api/devices/{id}/online|offline`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InjectRequest {
    /// Sets the device's display name (see [`validate_device_name`]).
    #[serde(default)]
    pub name: Option<String>,
}

/// Sent first on every stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Random per server process: which replica this stream is served by.
    pub instance: String,
    /// The run of the event log this stream's ids belong to (16 lowercase hex characters with
    /// the embedded bus). Resume with `?epoch=` and a `Last-Event-ID` of this run.
    #[serde(default)]
    pub epoch: String,
    /// The id the stream starts after: the newest event already covered (this run's floor when
    /// it has published nothing).
    pub head_id: u64,
    /// The reconnect delay the server suggests, also sent as the SSE `retry:` field.
    pub retry_ms: u64,
}

/// The server's counters. Sent as an SSE `stats` event whenever `open_connections` changes
/// (coalesced), and served by `GET /api/stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// SSE streams open right now.
    pub open_connections: u64,
    /// SSE streams accepted since start.
    pub total_connections: u64,
    /// Device events published since start.
    pub events_published: u64,
}

/// The `stats` event's payload: the contract's [`Stats`] and this replica's share. A client that
/// only knows [`Stats`] reads it as one (the extra fields are ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsEvent {
    #[serde(flatten)]
    pub stats: Stats,
    /// This replica's own open streams (`open_connections` is the deployment's, with Redis).
    pub replica_open_connections: u64,
    /// Live replicas sharing the log (1 with the embedded bus).
    pub replicas: u64,
}

/// The body of `GET /api/stats`: the contract's [`Stats`] plus extras for people, dashboards and
/// the load generator.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsReport {
    #[serde(flatten)]
    pub stats: Stats,
    /// This replica's own open streams (`open_connections` is the deployment's, with Redis).
    pub replica_open_connections: u64,
    /// Live replicas sharing the log (1 with the embedded bus).
    pub replicas: u64,
    /// Random per server process: which replica answered.
    pub instance: String,
    /// The run of the event log `head_id` belongs to (see [`Hello::epoch`]).
    pub epoch: String,
    pub head_id: u64,
    pub uptime_ms: u64,
    pub events_online: u64,
    pub events_offline: u64,
    pub resets_resume: u64,
    /// Streams reset because their reader fell behind the broadcast ring.
    pub resets_lagged: u64,
    /// Resumes from another run of the log (a restart); not counted in `resets_resume`.
    pub resets_other_run: u64,
    pub rejected_global_cap: u64,
    pub rejected_per_ip_cap: u64,
    /// Open streams by the `mode` query parameter of `/api/events` ([`crate::Mode::as_str`]).
    pub streams_by_mode: BTreeMap<String, i64>,
    /// The extra ports of `?mode=sharded` (`--shard-ports`), empty without.
    pub shard_ports: Vec<u16>,
    /// Open streams by HTTP version (`http/1.1`, `h2`).
    pub streams_by_http_version: BTreeMap<String, i64>,
}

impl From<&StatsReport> for StatsEvent {
    fn from(report: &StatsReport) -> Self {
        Self {
            stats: report.stats.clone(),
            replica_open_connections: report.replica_open_connections,
            replicas: report.replicas,
        }
    }
}

/// The open-connection count from a moment on: one step of the dashboard's sparkline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CountSample {
    /// Milliseconds since the Unix epoch, on the server's clock.
    pub at_ms: u64,
    pub open: u64,
}

/// Samples as text, `"at_ms:open at_ms:open …"`, for the page snapshot.
///
/// Text rather than a JSON array of objects: serde_json's code for one more struct type costs
/// the browser bundle about 3 KB of its 180 KB budget; a string and `u64` parsing are already in.
pub fn encode_history(samples: &[CountSample]) -> String {
    let pairs: Vec<String> = samples
        .iter()
        .map(|s| format!("{}:{}", s.at_ms, s.open))
        .collect();
    pairs.join(" ")
}

/// The inverse of [`encode_history`]. A malformed pair is skipped: the sparkline loses one step,
/// the page nothing else.
pub fn decode_history(text: &str) -> Vec<CountSample> {
    text.split_whitespace()
        .filter_map(|pair| {
            let (at, open) = pair.split_once(':')?;
            Some(CountSample {
                at_ms: at.parse().ok()?,
                open: open.parse().ok()?,
            })
        })
        .collect()
}

/// Sent instead of a replay when the requested resume point is older than the server's buffer,
/// or when a slow reader fell behind it: the client must drop what it derived from events and
/// start again from this snapshot. Live events with ids above `head_id` follow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reset {
    /// The run the snapshot and `head_id` belong to (see [`Hello::epoch`]).
    #[serde(default)]
    pub epoch: String,
    pub head_id: u64,
    pub devices: Vec<Device>,
    /// Why the stream was reset, for people reading logs.
    pub reason: String,
}

/// The header of `GET /api/devices` that says which event the list is current to, so a client
/// can replay the events it received after that on top of it (the body is the plain array).
pub const HEAD_ID_HEADER: &str = "x-tabrelay-head-id";

/// The header of `GET /api/devices` that names the run ([`Hello::epoch`]) its head id belongs to.
pub const EPOCH_HEADER: &str = "x-tabrelay-epoch";

/// The JSON body of every 4xx/5xx answer from the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
}

/// The longest accepted device id.
pub const MAX_DEVICE_ID_LEN: usize = 64;

/// Checks a device id: 1 to [`MAX_DEVICE_ID_LEN`] bytes of ASCII letters, digits, `-`, `_`, `.`
/// or `:`. The server rejects anything else with a 4xx, so the UI never has to trust names.
pub fn validate_device_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("device id is empty".into());
    }
    if id.len() > MAX_DEVICE_ID_LEN {
        return Err(format!(
            "device id is {} bytes long; at most {MAX_DEVICE_ID_LEN} are allowed",
            id.len()
        ));
    }
    if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
    {
        return Err(format!(
            "device id contains '{}'; only ASCII letters, digits, '-', '_', '.' and ':' are allowed",
            bad.escape_default()
        ));
    }
    Ok(())
}

/// The longest accepted display name, in characters.
pub const MAX_DEVICE_NAME_CHARS: usize = 100;

/// Checks a display name: 1 to [`MAX_DEVICE_NAME_CHARS`] characters, no control characters. Any
/// other text is allowed (markup included): the UI renders names as text, never as HTML.
pub fn validate_device_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("device name is empty".into());
    }
    let chars = name.chars().count();
    if chars > MAX_DEVICE_NAME_CHARS {
        return Err(format!(
            "device name is {chars} characters long; at most {MAX_DEVICE_NAME_CHARS} are allowed"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err("device name contains a control character".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_text_round_trips_and_skips_junk() {
        let samples = [
            CountSample {
                at_ms: 1_000,
                open: 0,
            },
            CountSample {
                at_ms: 1_763_734_986_055,
                open: 12,
            },
        ];
        let text = encode_history(&samples);
        assert_eq!(text, "1000:0 1763734986055:12");
        assert_eq!(decode_history(&text), samples);
        assert_eq!(decode_history(""), []);
        let junk = "1000:0 x:1 2000 3000:-1 :4 4000:5:6 5000:2";
        assert_eq!(
            decode_history(junk),
            [
                CountSample {
                    at_ms: 1_000,
                    open: 0
                },
                CountSample {
                    at_ms: 5_000,
                    open: 2
                }
            ]
        );
    }

    #[test]
    fn device_event_round_trips_with_kebab_case_kind() {
        let ev = DeviceEvent {
            id: 7,
            device: "sensor-1".into(),
            kind: DeviceEventKind::DeviceOffline,
            at_ms: 1,
            name: None,
        };
        let json = serde_json::to_string(&ev).unwrap();
        assert!(json.contains(r#""kind":"device-offline""#), "{json}");
        assert!(!json.contains("name"), "no name, no field: {json}");
        assert_eq!(serde_json::from_str::<DeviceEvent>(&json).unwrap(), ev);
    }

    #[test]
    fn kind_and_event_name_agree() {
        for kind in [
            DeviceEventKind::DeviceOnline,
            DeviceEventKind::DeviceOffline,
        ] {
            assert_eq!(
                DeviceEventKind::from_event_name(kind.event_name()),
                Some(kind)
            );
        }
        assert_eq!(DeviceEventKind::from_event_name("stats"), None);
    }

    #[test]
    fn device_names_allow_any_text_but_control_characters() {
        assert!(validate_device_name("<img src=x onerror=alert(1)>").is_ok());
        assert!(validate_device_name("Küche · lamp 💡").is_ok());
        assert!(validate_device_name(&"é".repeat(MAX_DEVICE_NAME_CHARS)).is_ok());
        assert!(validate_device_name(&"é".repeat(MAX_DEVICE_NAME_CHARS + 1)).is_err());
        assert!(validate_device_name("  ").is_err());
        assert!(validate_device_name("a\nb").is_err());
    }

    #[test]
    fn device_ids_are_validated() {
        assert!(validate_device_id("lamp-01").is_ok());
        assert!(validate_device_id("a.b:c_d").is_ok());
        assert!(validate_device_id("").is_err());
        assert!(validate_device_id(&"x".repeat(MAX_DEVICE_ID_LEN + 1)).is_err());
        assert!(validate_device_id("<img src=x onerror=alert(1)>").is_err());
        assert!(validate_device_id("a/b").is_err());
    }

    #[test]
    fn stats_report_and_event_are_flat_supersets_of_stats() {
        let mut report = StatsReport {
            stats: Stats {
                open_connections: 3,
                total_connections: 9,
                events_published: 4,
            },
            replica_open_connections: 2,
            replicas: 2,
            resets_lagged: 5,
            ..StatsReport::default()
        };
        report.streams_by_mode.insert("naive".into(), 1);
        let json = serde_json::to_string(&report).unwrap();
        assert!(
            json.starts_with(r#"{"open_connections":3,"total_connections":9,"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<StatsReport>(&json).unwrap(), report);
        assert_eq!(serde_json::from_str::<Stats>(&json).unwrap(), report.stats);
        let event = serde_json::to_string(&StatsEvent::from(&report)).unwrap();
        assert_eq!(
            event,
            r#"{"open_connections":3,"total_connections":9,"events_published":4,"replica_open_connections":2,"replicas":2}"#
        );
        assert_eq!(serde_json::from_str::<Stats>(&event).unwrap(), report.stats);
    }
}
