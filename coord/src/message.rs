//! The messages tabs exchange over the BroadcastChannel, and their JSON encoding.
//!
//! Every message is one JSON object: `{"app":"tabrelay","v":3,"from":<tab id>,"type":..,..}`.
//! The `app` marker and the version let a tab recognise (and count) foreign or future messages
//! that share the channel name instead of misreading them. [`Message::decode`] never panics.

use serde::{Deserialize, Serialize};
use wire::json::{self, FromJson, Object, ObjectWriter, ToJson, Value};

use crate::Instant;

/// The `app` marker of every message.
pub const APP_MARKER: &str = "tabrelay";
/// The wire version; messages of another version are rejected with [`DecodeError::Version`].
/// Version 2: positions carry the server epoch (`PeerInfo::epoch`, `Relay::epoch`,
/// `Resend::epoch`). A tab of version 1 compares ids across runs, so the two must not share a
/// channel (or a lock): the shell versions both names.
/// Version 3: a leader relays to hidden tabs in batches (`Body::Relays`), which a tab of version
/// 2 cannot read: it would fall behind without knowing, so the two generations keep apart (each
/// its own lock and leader) until the old tabs reload.
pub const PROTOCOL_VERSION: u32 = 3;

/// A tab's identity. The shell draws it at random per page load (e.g. `crypto.getRandomValues`),
/// so ties between tabs are broken by a value no tab chooses.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct TabId(pub u64);

/// A leadership term, ordered by `(n, tab)`: a ballot. Including the leader's id makes every term
/// belong to exactly one tab, so two candidates that pick the same `n` at once are still ordered
/// ("highest (term, tab id) wins").
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Term {
    pub n: u64,
    pub tab: TabId,
}

impl Term {
    /// The smallest term, below every real one.
    pub const ZERO: Term = Term {
        n: 0,
        tab: TabId(0),
    };

    /// The term a tab claims after having seen `self`.
    pub fn next(self, tab: TabId) -> Term {
        Term { n: self.n + 1, tab }
    }
}

/// One SSE event as the server sent it. The core treats `data` as opaque, except for the fields
/// it needs from `hello` (`epoch`, `head_id`, `retry_ms`; `instance` when there is no `epoch`) and
/// `reset` (`epoch`, `head_id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerEvent {
    /// The SSE `id:` (device events only). Consecutive within one run (epoch) of the server's
    /// log; ids of different runs are never compared.
    pub id: Option<u64>,
    /// The SSE `event:` name.
    pub name: String,
    /// The SSE `data:` payload.
    pub data: String,
}

impl ServerEvent {
    pub fn new(id: Option<u64>, name: impl Into<String>, data: impl Into<String>) -> Self {
        Self {
            id,
            name: name.into(),
            data: data.into(),
        }
    }
}

/// A tab's role in the election.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// No leader known yet (starting, or the leader just went away).
    Electing,
    /// Holds the server stream and relays it.
    Leader,
    /// Receives events from the leader.
    Follower,
}

/// The leader's server stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StreamState {
    Closed,
    Connecting,
    Open,
    /// Waiting to reconnect after an error.
    Backoff,
}

/// A stream transition the leader announces so followers show the same app events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StreamStatus {
    Connected,
    Error,
    MaxReconnectReached,
}

/// What a tab tells the others about itself (registry entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerInfo {
    pub role: Role,
    pub visible: bool,
    /// Highest event id this tab has delivered (`None`: no baseline yet).
    pub highest_id: Option<u64>,
    /// The run (server epoch) `highest_id` belongs to (`None`: not known).
    #[serde(default)]
    pub epoch: Option<String>,
    /// Highest term this tab has seen.
    pub term: Term,
}

/// One message on the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub from: TabId,
    pub body: Body,
}

/// The message kinds. Terms fence leaders: anything carrying a term lower than the highest one
/// a tab has seen is ignored by it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Body {
    /// A tab opened (or came back from the back/forward cache). Answered at once by the leader
    /// (heartbeat) and the followers (presence).
    Hello { info: PeerInfo },
    /// Periodic registry refresh.
    Presence { info: PeerInfo },
    /// The tab is going away (pagehide).
    Bye,
    /// The leader is alive. Also the answer to `Hello` and `Probe`. `crowd`: how many tabs the
    /// leader knows of, itself included (every tab's presence reaches it): a new tab stretches
    /// its presence interval by it at once (see `Config::presence_budget`). Absent: not known.
    Heartbeat {
        term: Term,
        stream: StreamState,
        info: PeerInfo,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        crowd: Option<u32>,
    },
    /// Protocol mechanism: a candidate claims `term`; the highest claim wins.
    Claim { term: Term },
    /// The leader of `term` gives up leadership; Protocol: `successor` leads next at once.
    /// `reason`: why (absent from older tabs: read as leaving).
    Resign {
        term: Term,
        successor: Option<TabId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<ResignReason>,
    },
    /// A server event relayed by the leader of `term`, posted at `sent_at`; `epoch`: the run it
    /// belongs to (the leader's stream's, from its `hello`).
    Relay {
        term: Term,
        event: ServerEvent,
        sent_at: Instant,
        #[serde(default)]
        epoch: Option<String>,
        /// The id of the numbered event before this one on the leader's stream, when known: the
        /// ids between, if any, are events the tabs do not listen for (see `relay`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prev: Option<u64>,
    },
    /// Several server events relayed at once by the leader of `term`, oldest first, all of run
    /// `epoch`: what a leader posts while every other tab is hidden (they render nothing, and
    /// one message per event cost each of them more than the events themselves; see
    /// `Config::hidden_relay_batch`). Each is taken as its own [`Body::Relay`] would be.
    Relays {
        term: Term,
        #[serde(default)]
        epoch: Option<String>,
        events: Vec<Relayed>,
    },
    /// "Are you alive?" to the leader of `term`, after its heartbeats went quiet.
    Probe { term: Term },
    /// A stream transition of the leader of `term`.
    Status { term: Term, status: StreamStatus },
    /// Ask the leader of `term` to resend every event of run `epoch` with an id above `after`.
    /// A leader in another run reopens its stream from `(epoch, after)`, so the server answers
    /// with a `reset` of the current run, relayed to every tab.
    Resend {
        term: Term,
        #[serde(default)]
        epoch: Option<String>,
        after: u64,
    },
    /// "Your term is stale, the current one is `term`": sent to a leader whose heartbeat was
    /// rejected, so it steps down without waiting for the new leader's heartbeat.
    Fence { term: Term },
}

/// One event of a [`Body::Relays`]: the event, the id before it on the leader's stream (as
/// [`Body::Relay`]'s `prev`), and when the leader took it from its stream (its live relay's
/// `sent_at`: a follower's relay latency counts the time the event waited in the batch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relayed {
    pub event: ServerEvent,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<u64>,
    pub sent_at: Instant,
}

/// Why a leader resigns, told to the others with its [`Body::Resign`] (each tab's leadership
/// timeline shows it as the cause of the change).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResignReason {
    /// The page goes away (`pagehide`): closed, reloaded, navigated, or into the bfcache.
    Leaving,
    /// The user asked it to hand over (step down).
    StepDown,
    /// Page Lifecycle `freeze`: it will run nothing until resumed.
    Freezing,
}

/// Why a channel message was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Not a JSON object.
    NotJson,
    /// JSON, but not ours (no or another `app` marker).
    Foreign,
    /// Ours, but another protocol version.
    Version(u64),
    /// Ours and this version, but the fields do not match.
    Malformed(String),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotJson => f.write_str("not a JSON object"),
            Self::Foreign => f.write_str("not a tabrelay message"),
            Self::Version(v) => write!(f, "unsupported protocol version {v}"),
            Self::Malformed(e) => write!(f, "malformed message: {e}"),
        }
    }
}

impl std::error::Error for DecodeError {}

impl Body {
    /// The `type` of the message on the wire.
    fn kind(&self) -> &'static str {
        match self {
            Body::Hello { .. } => "hello",
            Body::Presence { .. } => "presence",
            Body::Bye => "bye",
            Body::Heartbeat { .. } => "heartbeat",
            Body::Claim { .. } => "claim",
            Body::Resign { .. } => "resign",
            Body::Relay { .. } => "relay",
            Body::Relays { .. } => "relays",
            Body::Probe { .. } => "probe",
            Body::Status { .. } => "status",
            Body::Resend { .. } => "resend",
            Body::Fence { .. } => "fence",
        }
    }

    /// Writes the body's fields after the header (the derive's internally tagged form).
    fn write_fields(&self, o: &mut ObjectWriter<'_>) {
        match self {
            Body::Hello { info } | Body::Presence { info } => {
                o.field("info", info);
            }
            Body::Bye => {}
            Body::Heartbeat {
                term,
                stream,
                info,
                crowd,
            } => {
                o.field("term", term)
                    .field("stream", stream)
                    .field("info", info)
                    .field_if_some("crowd", crowd);
            }
            Body::Claim { term } | Body::Probe { term } | Body::Fence { term } => {
                o.field("term", term);
            }
            Body::Resign {
                term,
                successor,
                reason,
            } => {
                o.field("term", term)
                    .field("successor", successor)
                    .field_if_some("reason", reason);
            }
            Body::Relay {
                term,
                event,
                sent_at,
                epoch,
                prev,
            } => {
                o.field("term", term)
                    .field("event", event)
                    .field("sent_at", sent_at)
                    .field("epoch", epoch)
                    .field_if_some("prev", prev);
            }
            Body::Relays {
                term,
                epoch,
                events,
            } => {
                o.field("term", term)
                    .field("epoch", epoch)
                    .field("events", events);
            }
            Body::Status { term, status } => {
                o.field("term", term).field("status", status);
            }
            Body::Resend { term, epoch, after } => {
                o.field("term", term)
                    .field("epoch", epoch)
                    .field("after", after);
            }
        }
    }

    /// Reads the body of a message of type `kind`: only the fields that kind has (others are
    /// ignored, as the derive did).
    fn read(kind: &str, o: &Object<'_, '_>) -> Result<Body, json::Error> {
        Ok(match kind {
            "hello" => Body::Hello {
                info: o.field("info")?,
            },
            "presence" => Body::Presence {
                info: o.field("info")?,
            },
            "bye" => Body::Bye,
            "heartbeat" => Body::Heartbeat {
                term: o.field("term")?,
                stream: o.field("stream")?,
                info: o.field("info")?,
                crowd: o.field("crowd")?,
            },
            "claim" => Body::Claim {
                term: o.field("term")?,
            },
            "resign" => Body::Resign {
                term: o.field("term")?,
                successor: o.field("successor")?,
                reason: o.field("reason")?,
            },
            "relay" => Body::Relay {
                term: o.field("term")?,
                event: o.field("event")?,
                sent_at: o.field("sent_at")?,
                epoch: o.field("epoch")?,
                prev: o.field("prev")?,
            },
            "probe" => Body::Probe {
                term: o.field("term")?,
            },
            "relays" => Body::Relays {
                term: o.field("term")?,
                epoch: o.field("epoch")?,
                events: o.field("events")?,
            },
            "status" => Body::Status {
                term: o.field("term")?,
                status: o.field("status")?,
            },
            "resend" => Body::Resend {
                term: o.field("term")?,
                epoch: o.field("epoch")?,
                after: o.field("after")?,
            },
            "fence" => Body::Fence {
                term: o.field("term")?,
            },
            other => return Err(json::Error(format!("unknown message type `{other}`"))),
        })
    }
}

// The JSON of the types inside messages: the same text as their serde derives (the tests below
// compare), written and read by `wire::json`, so the browser links no serde_json.

impl ToJson for TabId {
    fn write_json(&self, out: &mut String) {
        self.0.write_json(out);
    }
}

impl FromJson for TabId {
    fn from_json(value: &Value<'_>) -> Result<Self, json::Error> {
        u64::from_json(value).map(TabId)
    }
}

impl ToJson for Term {
    fn write_json(&self, out: &mut String) {
        let mut o = ObjectWriter::new(out);
        o.field("n", &self.n).field("tab", &self.tab);
        o.end();
    }
}

impl FromJson for Term {
    fn from_json(value: &Value<'_>) -> Result<Self, json::Error> {
        json::object(value, |o| {
            Ok(Term {
                n: o.field("n")?,
                tab: o.field("tab")?,
            })
        })
    }
}

impl ToJson for ServerEvent {
    fn write_json(&self, out: &mut String) {
        let mut o = ObjectWriter::new(out);
        o.field("id", &self.id)
            .field("name", &self.name)
            .field("data", &self.data);
        o.end();
    }
}

impl FromJson for ServerEvent {
    fn from_json(value: &Value<'_>) -> Result<Self, json::Error> {
        json::object(value, |o| {
            Ok(ServerEvent {
                id: o.field("id")?,
                name: o.field("name")?,
                data: o.field("data")?,
            })
        })
    }
}

impl ToJson for Relayed {
    fn write_json(&self, out: &mut String) {
        let mut o = ObjectWriter::new(out);
        o.field("event", &self.event)
            .field_if_some("prev", &self.prev)
            .field("sent_at", &self.sent_at);
        o.end();
    }
}

impl FromJson for Relayed {
    fn from_json(value: &Value<'_>) -> Result<Self, json::Error> {
        json::object(value, |o| {
            Ok(Relayed {
                event: o.field("event")?,
                prev: o.field("prev")?,
                sent_at: o.field("sent_at")?,
            })
        })
    }
}

impl ToJson for PeerInfo {
    fn write_json(&self, out: &mut String) {
        let mut o = ObjectWriter::new(out);
        o.field("role", &self.role)
            .field("visible", &self.visible)
            .field("highest_id", &self.highest_id)
            .field("epoch", &self.epoch)
            .field("term", &self.term);
        o.end();
    }
}

impl FromJson for PeerInfo {
    fn from_json(value: &Value<'_>) -> Result<Self, json::Error> {
        json::object(value, |o| {
            Ok(PeerInfo {
                role: o.field("role")?,
                visible: o.field("visible")?,
                highest_id: o.field("highest_id")?,
                epoch: o.field("epoch")?,
                term: o.field("term")?,
            })
        })
    }
}

/// Unit enums, spelled in kebab-case on the wire (the derives' `rename_all`).
macro_rules! kebab_enum_json {
    ($t:ty { $($variant:ident = $name:literal),* $(,)? }) => {
        impl ToJson for $t {
            fn write_json(&self, out: &mut String) {
                json::write_str(out, match self { $(<$t>::$variant => $name),* });
            }
        }

        impl FromJson for $t {
            fn from_json(value: &Value<'_>) -> Result<Self, json::Error> {
                const VARIANTS: &[$t] = &[$(<$t>::$variant),*];
                let index = json::one_of(value, &[$($name),*])?;
                Ok(VARIANTS[index])
            }
        }
    };
}

kebab_enum_json!(Role { Electing = "electing", Leader = "leader", Follower = "follower" });
kebab_enum_json!(StreamState {
    Closed = "closed",
    Connecting = "connecting",
    Open = "open",
    Backoff = "backoff",
});
kebab_enum_json!(StreamStatus {
    Connected = "connected",
    Error = "error",
    MaxReconnectReached = "max-reconnect-reached",
});
kebab_enum_json!(ResignReason {
    Leaving = "leaving",
    StepDown = "step-down",
    Freezing = "freezing",
});

impl Message {
    pub fn new(from: TabId, body: Body) -> Self {
        Self { from, body }
    }

    /// The JSON string the shell posts on the channel:
    /// `{"app","v","from","type",<the body's fields>}`.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(192);
        let mut o = ObjectWriter::new(&mut out);
        o.field("app", APP_MARKER)
            .field("v", &PROTOCOL_VERSION)
            .field("from", &self.from)
            .field("type", self.body.kind());
        self.body.write_fields(&mut o);
        o.end();
        out
    }

    /// Parses a string received on the channel, in one pass into a tree of borrowed strings
    /// (`wire::json`), then the fields of its type. Never panics; says why it rejects.
    pub fn decode(s: &str) -> Result<Message, DecodeError> {
        let value = json::parse(s).map_err(|_| DecodeError::NotJson)?;
        let o = value.as_object().ok_or(DecodeError::NotJson)?;
        if o.get("app").and_then(Value::as_str) != Some(APP_MARKER) {
            return Err(DecodeError::Foreign);
        }
        match o.get("v").and_then(Value::as_u64) {
            Some(v) if v == u64::from(PROTOCOL_VERSION) => {}
            Some(v) => return Err(DecodeError::Version(v)),
            None => return Err(DecodeError::Malformed("missing version".into())),
        }
        let read = || -> Result<Message, json::Error> {
            let from = o.field("from")?;
            let kind: String = o.field("type")?;
            Ok(Message {
                from,
                body: Body::read(&kind, &o)?,
            })
        };
        read().map_err(|e| DecodeError::Malformed(e.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> PeerInfo {
        PeerInfo {
            role: Role::Follower,
            visible: true,
            highest_id: Some(u64::MAX),
            epoch: Some("run-1".into()),
            term: Term {
                n: 3,
                tab: TabId(9),
            },
        }
    }

    fn samples() -> Vec<Message> {
        let term = Term {
            n: 2,
            tab: TabId(u64::MAX),
        };
        let bodies = vec![
            Body::Hello { info: info() },
            Body::Presence { info: info() },
            Body::Bye,
            Body::Heartbeat {
                term,
                stream: StreamState::Backoff,
                info: info(),
                crowd: Some(50),
            },
            Body::Heartbeat {
                term,
                stream: StreamState::Open,
                info: info(),
                crowd: None,
            },
            Body::Claim { term },
            Body::Resign {
                term,
                successor: Some(TabId(4)),
                reason: Some(ResignReason::StepDown),
            },
            Body::Resign {
                term,
                successor: None,
                reason: None,
            },
            Body::Relay {
                term,
                event: ServerEvent::new(Some(17), "device-online", "{\"x\":\"\\\"quoted\\\"\"}"),
                sent_at: Instant(123),
                epoch: Some("e".into()),
                prev: None,
            },
            Body::Probe { term },
            Body::Status {
                term,
                status: StreamStatus::MaxReconnectReached,
            },
            Body::Resend {
                term,
                epoch: None,
                after: 5,
            },
            Body::Fence { term },
        ];
        bodies
            .into_iter()
            .map(|b| Message::new(TabId(1), b))
            .collect()
    }

    #[test]
    fn every_message_round_trips() {
        for m in samples() {
            let s = m.encode();
            assert!(s.contains("\"app\":\"tabrelay\""), "{s}");
            assert_eq!(Message::decode(&s), Ok(m));
        }
    }

    /// The text the derive wrote (`Body`'s tagged form flattened next to the header): tabs of
    /// an older build on the same channel read the hand-written encoding as before.
    #[test]
    fn a_relay_carries_the_id_before_it_only_when_known() {
        let relay = |prev| {
            Message::new(
                TabId(1),
                Body::Relay {
                    term: Term::ZERO,
                    event: ServerEvent::new(Some(17), "price", "{}"),
                    sent_at: Instant(1),
                    epoch: None,
                    prev,
                },
            )
        };
        let with = relay(Some(12));
        assert!(with.encode().ends_with(r#""epoch":null,"prev":12}"#));
        assert_eq!(Message::decode(&with.encode()), Ok(with));
        let without = relay(None);
        assert!(
            !without.encode().contains("prev"),
            "older tabs see what they always saw"
        );
        assert_eq!(Message::decode(&without.encode()), Ok(without));
    }

    #[test]
    fn the_encoding_is_the_derived_one() {
        for m in samples() {
            assert_eq!(m.encode(), derived(&m));
        }
    }

    /// The text serde's derive writes (`Body`'s tagged form flattened next to the header).
    fn derived(m: &Message) -> String {
        #[derive(Serialize)]
        struct Derived<'a> {
            app: &'static str,
            v: u32,
            from: TabId,
            #[serde(flatten)]
            body: &'a Body,
        }
        serde_json::to_string(&Derived {
            app: APP_MARKER,
            v: PROTOCOL_VERSION,
            from: m.from,
            body: &m.body,
        })
        .unwrap()
    }

    /// Decoding never panics, and what it accepts encodes to text that decodes to the same.
    fn decodes_sanely(s: &str) -> Result<Message, DecodeError> {
        let decoded = Message::decode(s);
        if let Ok(m) = &decoded {
            assert_eq!(Message::decode(&m.encode()).as_ref(), Ok(m), "{s:?}");
        }
        decoded
    }

    /// Kept out of `samples()`: the garbage test's mutations follow from that list.
    #[test]
    fn a_batch_of_relays_round_trips_in_the_derived_form() {
        let m = Message::new(
            TabId(1),
            Body::Relays {
                term: Term {
                    n: 2,
                    tab: TabId(3),
                },
                epoch: Some("e".into()),
                events: vec![
                    Relayed {
                        event: ServerEvent::new(Some(18), "device-online", "{}"),
                        prev: Some(17),
                        sent_at: Instant(124),
                    },
                    Relayed {
                        event: ServerEvent::new(None, "stats", "{\"open_connections\":1}"),
                        prev: None,
                        sent_at: Instant(125),
                    },
                ],
            },
        );
        let s = m.encode();
        assert!(s.contains("\"type\":\"relays\""), "{s}");
        assert_eq!(Message::decode(&s), Ok(m.clone()));
        assert_eq!(s, derived(&m));
        let no_events =
            r#"{"app":"tabrelay","v":3,"from":1,"type":"relays","term":{"n":1,"tab":1}}"#;
        assert_eq!(
            decodes_sanely(no_events),
            Err(DecodeError::Malformed("missing field `events`".into()))
        );
    }

    #[test]
    fn edge_cases_are_read_as_the_derive_read_them() {
        let accepted = [
            // Fields a kind does not have are ignored, whatever they hold.
            r#"{"app":"tabrelay","v":3,"from":1,"type":"bye","term":"not a term"}"#,
            r#"{"app":"tabrelay","v":3,"from":1,"type":"hello","crowd":-1,"info":{"role":"leader","visible":true,"highest_id":null,"term":{"n":1,"tab":1}}}"#,
            // Of a key written twice, the last counts.
            r#"{"app":"tabrelay","v":3,"from":1,"type":"bye","from":2}"#,
            r#"{"app":"tabr\u0065lay","v":3,"from":1,"type":"bye"}"#,
            // Optional fields may be absent.
            r#"{"app":"tabrelay","v":3,"from":1,"type":"relay","term":{"n":1,"tab":1},"event":{"name":"x","data":""},"sent_at":5}"#,
            r#"{"app":"tabrelay","v":3,"from":1,"type":"resign","term":{"n":1,"tab":1},"successor":null}"#,
            r#" {"app":"tabrelay","v":3,"from":1,"type":"bye"} "#,
        ];
        for c in accepted {
            assert!(decodes_sanely(c).is_ok(), "{c}");
        }
        assert_eq!(
            decodes_sanely(accepted[2]).unwrap().from,
            TabId(2),
            "the last duplicate"
        );
        let malformed = [
            r#"{"app":"tabrelay","v":3.0,"from":1,"type":"bye"}"#,
            r#"{"app":"tabrelay","v":3,"from":1,"type":"claim","term":null}"#,
            r#"{"app":"tabrelay","v":3,"from":1,"type":"claim"}"#,
            r#"{"app":"tabrelay","v":3,"type":"bye"}"#,
            r#"{"app":"tabrelay","v":3,"from":1}"#,
            r#"{"app":"tabrelay","v":3,"from":1,"type":7}"#,
            r#"{"app":"tabrelay","v":3,"from":1,"type":"heartbeat","crowd":-1,"term":{"n":1,"tab":1},"stream":"open","info":{"role":"leader","visible":true,"highest_id":null,"term":{"n":1,"tab":1}}}"#,
        ];
        for c in malformed {
            assert!(
                matches!(decodes_sanely(c), Err(DecodeError::Malformed(_))),
                "{c}"
            );
        }
        for c in [
            r#"["tabrelay",2,1,"bye"]"#,
            r#"{"app":"tabrelay","v":3,"from":1,"type":"bye"} x"#,
            "\u{a0}{\"app\":\"tabrelay\",\"v\":3,\"from\":1,\"type\":\"bye\"}",
            "",
            "{",
        ] {
            assert_eq!(decodes_sanely(c), Err(DecodeError::NotJson), "{c:?}");
        }
        assert_eq!(
            Message::decode(r#"{"app":"tabrelay","v":3,"from":1,"type":"claim"}"#),
            Err(DecodeError::Malformed("missing field `term`".into()))
        );
    }

    #[test]
    fn foreign_and_versioned_messages_are_recognised() {
        assert_eq!(Message::decode("hello"), Err(DecodeError::NotJson));
        assert_eq!(Message::decode("[1,2]"), Err(DecodeError::NotJson));
        assert_eq!(
            Message::decode("{\"type\":\"bye\"}"),
            Err(DecodeError::Foreign)
        );
        assert_eq!(
            Message::decode("{\"app\":\"other\",\"v\":1}"),
            Err(DecodeError::Foreign)
        );
        assert_eq!(
            Message::decode("{\"app\":\"tabrelay\",\"v\":1,\"from\":1,\"type\":\"bye\"}"),
            Err(DecodeError::Version(1))
        );
        // The release before batched relays: its tabs keep to themselves.
        assert_eq!(
            Message::decode("{\"app\":\"tabrelay\",\"v\":2,\"from\":1,\"type\":\"bye\"}"),
            Err(DecodeError::Version(2))
        );
        assert!(matches!(
            Message::decode("{\"app\":\"tabrelay\",\"v\":3,\"from\":1,\"type\":\"nope\"}"),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            Message::decode("{\"app\":\"tabrelay\",\"v\":3,\"from\":-1,\"type\":\"bye\"}"),
            Err(DecodeError::Malformed(_))
        ));
    }

    /// Garbage, truncations and byte flips of valid messages: decode returns, never panics, and
    /// what it accepts round-trips.
    #[test]
    fn decode_never_panics_on_garbage() {
        let mut rng = crate::time::Rng::new(42);
        let valid: Vec<String> = samples().iter().map(Message::encode).collect();
        for s in &valid {
            for cut in 0..s.len() {
                if s.is_char_boundary(cut) {
                    let _ = decodes_sanely(&s[..cut]);
                }
            }
        }
        let alphabet = b"{}[]\":,0123456789-+.eEtruefalsnl \\abcxyz";
        for i in 0..20_000 {
            let mut bytes = valid[i % valid.len()].clone().into_bytes();
            for _ in 0..=rng.below_or_eq(4) {
                let at = rng.below_or_eq(bytes.len() as u64 - 1) as usize;
                bytes[at] = alphabet[rng.below_or_eq(alphabet.len() as u64 - 1) as usize];
            }
            let _ = decodes_sanely(&String::from_utf8_lossy(&bytes));
            let len = rng.below_or_eq(40) as usize;
            let junk: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.below_or_eq(alphabet.len() as u64 - 1) as usize])
                .collect();
            let _ = decodes_sanely(&String::from_utf8_lossy(&junk));
        }
        // Deep nesting must not overflow the stack either (`wire::json` limits it).
        let deep = "[".repeat(100_000);
        assert_eq!(Message::decode(&deep), Err(DecodeError::NotJson));
    }
}
