//! The messages tabs exchange over the BroadcastChannel, and their JSON encoding.
//!
//! Every message is one JSON object: `{"app":"tabrelay","v":2,"from":<tab id>,"type":..,..}`.
//! The `app` marker and the version let a tab recognise (and count) foreign or future messages
//! that share the channel name instead of misreading them. [`Message::decode`] never panics.

use serde::{Deserialize, Serialize};

use crate::Instant;

/// The `app` marker of every message.
pub const APP_MARKER: &str = "tabrelay";
/// The wire version; messages of another version are rejected with [`DecodeError::Version`].
/// Version 2: positions carry the server epoch (`PeerInfo::epoch`, `Relay::epoch`,
/// `Resend::epoch`). A tab of version 1 compares ids across runs, so the two must not share a
/// channel (or a lock): the shell versions both names.
pub const PROTOCOL_VERSION: u32 = 2;

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

/// The wire form of a message: `{"app","v","from","type",<the body's fields>}`, written field by
/// field (the derive's `#[serde(flatten)]` goes through a generic map adapter).
struct WireOut<'a> {
    from: TabId,
    body: &'a Body,
}

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
}

impl Serialize for WireOut<'_> {
    /// The same text as `Body`'s derived, internally tagged form flattened next to the header:
    /// fields in declaration order, `None` as `null` except where the derive skips it.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("app", APP_MARKER)?;
        m.serialize_entry("v", &PROTOCOL_VERSION)?;
        m.serialize_entry("from", &self.from)?;
        m.serialize_entry("type", self.body.kind())?;
        match self.body {
            Body::Hello { info } | Body::Presence { info } => m.serialize_entry("info", info)?,
            Body::Bye => {}
            Body::Heartbeat {
                term,
                stream,
                info,
                crowd,
            } => {
                m.serialize_entry("term", term)?;
                m.serialize_entry("stream", stream)?;
                m.serialize_entry("info", info)?;
                if let Some(crowd) = crowd {
                    m.serialize_entry("crowd", crowd)?;
                }
            }
            Body::Claim { term } | Body::Probe { term } | Body::Fence { term } => {
                m.serialize_entry("term", term)?
            }
            Body::Resign {
                term,
                successor,
                reason,
            } => {
                m.serialize_entry("term", term)?;
                m.serialize_entry("successor", successor)?;
                if let Some(reason) = reason {
                    m.serialize_entry("reason", reason)?;
                }
            }
            Body::Relay {
                term,
                event,
                sent_at,
                epoch,
                prev,
            } => {
                m.serialize_entry("term", term)?;
                m.serialize_entry("event", event)?;
                m.serialize_entry("sent_at", sent_at)?;
                m.serialize_entry("epoch", epoch)?;
                if let Some(prev) = prev {
                    m.serialize_entry("prev", prev)?;
                }
            }
            Body::Relays {
                term,
                epoch,
                events,
            } => {
                m.serialize_entry("term", term)?;
                m.serialize_entry("epoch", epoch)?;
                m.serialize_entry("events", events)?;
            }
            Body::Status { term, status } => {
                m.serialize_entry("term", term)?;
                m.serialize_entry("status", status)?;
            }
            Body::Resend { term, epoch, after } => {
                m.serialize_entry("term", term)?;
                m.serialize_entry("epoch", epoch)?;
                m.serialize_entry("after", after)?;
            }
        }
        m.end()
    }
}

/// Every field of every message kind, read in one pass over the text straight into typed fields
/// (no `serde_json::Value` tree, no buffering for a tag or a flatten); strings of the header are
/// borrowed from the text unless escaped. Unknown fields are skipped, as before.
#[derive(Deserialize)]
struct WireIn<'a> {
    #[serde(borrow, default)]
    app: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    v: Option<u64>,
    #[serde(default)]
    from: Option<TabId>,
    #[serde(rename = "type", borrow, default)]
    kind: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    info: Option<PeerInfo>,
    #[serde(default)]
    term: Option<Term>,
    #[serde(default)]
    stream: Option<StreamState>,
    #[serde(default)]
    crowd: Option<u32>,
    #[serde(default)]
    successor: Option<TabId>,
    #[serde(default)]
    reason: Option<ResignReason>,
    #[serde(default)]
    event: Option<ServerEvent>,
    #[serde(default)]
    sent_at: Option<Instant>,
    #[serde(default)]
    epoch: Option<String>,
    #[serde(default)]
    status: Option<StreamStatus>,
    #[serde(default)]
    after: Option<u64>,
    #[serde(default)]
    prev: Option<u64>,
    #[serde(default)]
    events: Option<Vec<Relayed>>,
}

impl WireIn<'_> {
    /// The message, if this is a well-formed one of ours and of this version.
    fn into_message(self) -> Option<Message> {
        if self.app.as_deref() != Some(APP_MARKER) || self.v != Some(u64::from(PROTOCOL_VERSION)) {
            return None;
        }
        let term = self.term;
        let body = match self.kind.as_deref()? {
            "hello" => Body::Hello { info: self.info? },
            "presence" => Body::Presence { info: self.info? },
            "bye" => Body::Bye,
            "heartbeat" => Body::Heartbeat {
                term: term?,
                stream: self.stream?,
                info: self.info?,
                crowd: self.crowd,
            },
            "claim" => Body::Claim { term: term? },
            "resign" => Body::Resign {
                term: term?,
                successor: self.successor,
                reason: self.reason,
            },
            "relay" => Body::Relay {
                term: term?,
                event: self.event?,
                sent_at: self.sent_at?,
                epoch: self.epoch,
                prev: self.prev,
            },
            "relays" => Body::Relays {
                term: term?,
                epoch: self.epoch,
                events: self.events?,
            },
            "probe" => Body::Probe { term: term? },
            "status" => Body::Status {
                term: term?,
                status: self.status?,
            },
            "resend" => Body::Resend {
                term: term?,
                epoch: self.epoch,
                after: self.after?,
            },
            "fence" => Body::Fence { term: term? },
            _ => return None,
        };
        Some(Message {
            from: self.from?,
            body,
        })
    }
}

/// The general decoder: a JSON tree first, then the header, then the body. Slow (a tree, and
/// the derive's tag and flatten buffer the fields again), so only rejected input takes it, to
/// say why it was rejected.
#[derive(Deserialize)]
struct WireTree {
    from: TabId,
    #[serde(flatten)]
    body: Body,
}

impl Message {
    pub fn new(from: TabId, body: Body) -> Self {
        Self { from, body }
    }

    /// The JSON string the shell posts on the channel.
    pub fn encode(&self) -> String {
        let wire = WireOut {
            from: self.from,
            body: &self.body,
        };
        // Serialising plain structs with string keys cannot fail.
        serde_json::to_string(&wire).expect("message serialisation is infallible")
    }

    /// Parses a string received on the channel. Never panics.
    ///
    /// A well-formed message is read in one typed pass (`WireIn`); anything that pass does not
    /// accept (not JSON, not an object, foreign, another version, a missing or mistyped field,
    /// a duplicate key) goes through the general decoder, which names the reason. Both accept
    /// exactly the same messages (a test compares them on mutated and random input).
    pub fn decode(s: &str) -> Result<Message, DecodeError> {
        // An object only: a derived struct would also read a JSON array, field by field.
        if s.trim_start().starts_with('{') {
            if let Some(m) = serde_json::from_str::<WireIn>(s)
                .ok()
                .and_then(WireIn::into_message)
            {
                return Ok(m);
            }
        }
        Self::decode_general(s)
    }

    fn decode_general(s: &str) -> Result<Message, DecodeError> {
        let value: serde_json::Value = serde_json::from_str(s).map_err(|_| DecodeError::NotJson)?;
        let obj = value.as_object().ok_or(DecodeError::NotJson)?;
        if obj.get("app").and_then(|a| a.as_str()) != Some(APP_MARKER) {
            return Err(DecodeError::Foreign);
        }
        match obj.get("v").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(PROTOCOL_VERSION) => {}
            Some(v) => return Err(DecodeError::Version(v)),
            None => return Err(DecodeError::Malformed("missing version".into())),
        }
        let wire: WireTree =
            serde_json::from_value(value).map_err(|e| DecodeError::Malformed(e.to_string()))?;
        Ok(Message {
            from: wire.from,
            body: wire.body,
        })
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
        assert_eq!(Message::decode(&with.encode()), Ok(with.clone()));
        assert_eq!(Message::decode_general(&with.encode()), Ok(with));
        let without = relay(None);
        assert!(
            !without.encode().contains("prev"),
            "older tabs see what they always saw"
        );
        assert_eq!(Message::decode(&without.encode()), Ok(without));
    }

    #[test]
    fn the_encoding_is_the_derived_one() {
        #[derive(Serialize)]
        struct Derived<'a> {
            app: &'static str,
            v: u32,
            from: TabId,
            #[serde(flatten)]
            body: &'a Body,
        }
        for m in samples() {
            let derived = serde_json::to_string(&Derived {
                app: APP_MARKER,
                v: PROTOCOL_VERSION,
                from: m.from,
                body: &m.body,
            })
            .unwrap();
            assert_eq!(m.encode(), derived);
        }
    }

    /// Kept out of `samples()`: the garbage test's mutations follow from that list.
    #[test]
    fn a_batch_of_relays_round_trips_and_both_decoders_agree() {
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
        assert_eq!(Message::decode(&s), Ok(m));
        agrees(&s);
        let no_events =
            r#"{"app":"tabrelay","v":2,"from":1,"type":"relays","term":{"n":1,"tab":1}}"#;
        assert!(Message::decode(no_events).is_err());
        agrees(no_events);
    }

    /// The typed decoder and the general one agree: on every message, and on every input of the
    /// garbage test below (same message, or same error).
    fn agrees(s: &str) {
        assert_eq!(Message::decode(s), Message::decode_general(s), "{s:?}");
    }

    #[test]
    fn the_typed_decoder_agrees_with_the_general_one_on_edge_cases() {
        let cases = [
            r#"{"app":"tabrelay","v":2,"from":1,"type":"bye","term":"not a term"}"#,
            r#"{"app":"tabrelay","v":2,"from":1,"type":"bye","from":2}"#,
            r#"{"app":"tabr\u0065lay","v":2,"from":1,"type":"bye"}"#,
            r#"{"app":"tabrelay","v":2.0,"from":1,"type":"bye"}"#,
            r#"{"app":"tabrelay","v":2,"from":1,"type":"claim","term":null}"#,
            r#"{"app":"tabrelay","v":2,"from":1,"type":"claim"}"#,
            r#"{"app":"tabrelay","v":2,"type":"bye"}"#,
            r#"{"app":"tabrelay","v":2,"from":1}"#,
            r#"{"app":"tabrelay","v":2,"from":1,"type":7}"#,
            r#"{"app":"tabrelay","v":2,"from":1,"type":"hello","crowd":-1,"info":{"role":"leader","visible":true,"highest_id":null,"term":{"n":1,"tab":1}}}"#,
            r#"{"app":"tabrelay","v":2,"from":1,"type":"heartbeat","crowd":-1,"term":{"n":1,"tab":1},"stream":"open","info":{"role":"leader","visible":true,"highest_id":null,"term":{"n":1,"tab":1}}}"#,
            r#"{"app":"tabrelay","v":2,"from":1,"type":"relay","term":{"n":1,"tab":1},"event":{"name":"x","data":""},"sent_at":5}"#,
            r#"{"app":"tabrelay","v":2,"from":1,"type":"resign","term":{"n":1,"tab":1},"successor":null}"#,
            r#"["tabrelay",2,1,"bye"]"#,
            r#" {"app":"tabrelay","v":2,"from":1,"type":"bye"} "#,
            r#"{"app":"tabrelay","v":2,"from":1,"type":"bye"} x"#,
            "\u{a0}{\"app\":\"tabrelay\",\"v\":2,\"from\":1,\"type\":\"bye\"}",
            "",
            "{",
        ];
        for c in cases {
            agrees(c);
        }
        for m in samples() {
            agrees(&m.encode());
        }
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
        assert!(matches!(
            Message::decode("{\"app\":\"tabrelay\",\"v\":2,\"from\":1,\"type\":\"nope\"}"),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            Message::decode("{\"app\":\"tabrelay\",\"v\":2,\"from\":-1,\"type\":\"bye\"}"),
            Err(DecodeError::Malformed(_))
        ));
    }

    /// Garbage, truncations and byte flips of valid messages: decode returns, never panics, and
    /// the typed decoder says what the general one says.
    #[test]
    fn decode_never_panics_on_garbage() {
        let mut rng = crate::time::Rng::new(42);
        let valid: Vec<String> = samples().iter().map(Message::encode).collect();
        for s in &valid {
            for cut in 0..s.len() {
                if s.is_char_boundary(cut) {
                    agrees(&s[..cut]);
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
            agrees(&String::from_utf8_lossy(&bytes));
            let len = rng.below_or_eq(40) as usize;
            let junk: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.below_or_eq(alphabet.len() as u64 - 1) as usize])
                .collect();
            agrees(&String::from_utf8_lossy(&junk));
        }
        // Deep nesting must not overflow the stack either (serde_json limits recursion).
        let deep = "[".repeat(100_000);
        assert_eq!(Message::decode(&deep), Err(DecodeError::NotJson));
    }
}
