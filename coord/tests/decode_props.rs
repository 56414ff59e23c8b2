//! Property tests of `Message::decode`, the decoder of everything another script on the origin
//! can post on the tabs' channel. For arbitrary text, arbitrary bytes, mutated valid messages and
//! well-shaped JSON with arbitrary fields:
//!
//! * decode never panics;
//! * it allocates at most linearly in the input (a counting allocator measures each call);
//! * it either yields a message that re-encodes to one decoding to the same message (round trip),
//!   or rejects the input, and a tab counts each rejection (`Stats::undecodable`).
//!
//! CI runs a few thousand cases per property. Longer:
//! `PROPTEST_CASES=100000 cargo test -p coord --test decode_props --release`.

use coord::{
    Body, Config, Instant, Mechanism, Message, PeerInfo, Role, ServerEvent, StreamState,
    StreamStatus, Tab, TabId, Term,
};
use proptest::collection::vec;
use proptest::prelude::*;

// ---- a per-thread allocation counter --------------------------------------------------------

#[global_allocator]
static ALLOCATOR: testkit::Counting = testkit::Counting;

use testkit::allocated_by;

/// The allocation budget of decoding `len` bytes: linear. A JSON tree of small nodes costs up
/// to ~120 bytes per input byte (measured: nested objects, arrays of numbers, every
/// reallocation counted in full), plus a constant for the first buffers.
fn budget(len: usize) -> usize {
    256 * len + 64 * 1024
}

/// Decodes `text` and checks every property; returns whether it was accepted.
fn check(text: &str) -> Result<bool, TestCaseError> {
    let (decoded, bytes) = allocated_by(|| Message::decode(text));
    prop_assert!(
        bytes <= budget(text.len()),
        "decoding {} bytes allocated {bytes}",
        text.len()
    );
    let mut tab = Tab::new(TabId(7), Mechanism::Locks, Config::default(), Instant(0), 1);
    let before = tab.stats().undecodable;
    tab.handle_channel(Instant(1), text);
    let counted = tab.stats().undecodable - before;
    match decoded {
        Ok(message) => {
            prop_assert_eq!(counted, 0, "accepted yet counted as undecodable");
            let again = Message::decode(&message.encode());
            prop_assert_eq!(again, Ok(message), "no round trip for {:?}", text);
            Ok(true)
        }
        Err(_) => {
            prop_assert_eq!(counted, 1, "rejected but not counted: {:?}", text);
            Ok(false)
        }
    }
}

// ---- strategies -----------------------------------------------------------------------------

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        // JSON-ish alphabets reach deeper into the parser than uniform characters.
        vec(
            prop::sample::select(b"{}[]\":,0123456789-+.eEtruefalsnl \\/uabcfxyz".to_vec()),
            0..200
        )
        .prop_map(|b| String::from_utf8(b).unwrap()),
    ]
}

fn term() -> impl Strategy<Value = Term> {
    (any::<u64>(), any::<u64>()).prop_map(|(n, tab)| Term { n, tab: TabId(tab) })
}

fn info() -> impl Strategy<Value = PeerInfo> {
    (
        prop::sample::select(vec![Role::Electing, Role::Leader, Role::Follower]),
        any::<bool>(),
        any::<Option<u64>>(),
        any::<Option<String>>(),
        term(),
    )
        .prop_map(|(role, visible, highest_id, epoch, term)| PeerInfo {
            role,
            visible,
            highest_id,
            epoch,
            term,
        })
}

fn body() -> impl Strategy<Value = Body> {
    let stream = prop::sample::select(vec![
        StreamState::Closed,
        StreamState::Connecting,
        StreamState::Open,
        StreamState::Backoff,
    ]);
    let status = prop::sample::select(vec![
        StreamStatus::Connected,
        StreamStatus::Error,
        StreamStatus::MaxReconnectReached,
    ]);
    prop_oneof![
        info().prop_map(|info| Body::Hello { info }),
        info().prop_map(|info| Body::Presence { info }),
        Just(Body::Bye),
        (term(), stream, info(), any::<Option<u32>>()).prop_map(|(term, stream, info, crowd)| {
            Body::Heartbeat {
                term,
                stream,
                info,
                crowd,
            }
        }),
        term().prop_map(|term| Body::Claim { term }),
        (term(), any::<Option<u64>>(), 0..4u8).prop_map(|(term, s, r)| Body::Resign {
            term,
            successor: s.map(TabId),
            reason: [
                None,
                Some(coord::ResignReason::Leaving),
                Some(coord::ResignReason::StepDown),
                Some(coord::ResignReason::Freezing),
            ][r as usize],
        }),
        (
            term(),
            any::<Option<u64>>(),
            any::<String>(),
            any::<String>(),
            any::<u64>(),
            any::<Option<String>>(),
            any::<Option<u64>>()
        )
            .prop_map(|(term, id, name, data, at, epoch, prev)| Body::Relay {
                term,
                event: ServerEvent::new(id, name, data),
                sent_at: Instant(at),
                epoch,
                prev,
            }),
        (
            term(),
            any::<Option<String>>(),
            proptest::collection::vec(
                (
                    any::<Option<u64>>(),
                    any::<String>(),
                    any::<String>(),
                    any::<Option<u64>>(),
                    any::<u64>()
                ),
                0..3
            )
        )
            .prop_map(|(term, epoch, events)| Body::Relays {
                term,
                epoch,
                events: events
                    .into_iter()
                    .map(|(id, name, data, prev, at)| coord::Relayed {
                        event: ServerEvent::new(id, name, data),
                        prev,
                        sent_at: Instant(at),
                    })
                    .collect(),
            }),
        term().prop_map(|term| Body::Probe { term }),
        (term(), status).prop_map(|(term, status)| Body::Status { term, status }),
        (term(), any::<Option<String>>(), any::<u64>())
            .prop_map(|(term, epoch, after)| { Body::Resend { term, epoch, after } }),
        term().prop_map(|term| Body::Fence { term }),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    (any::<u64>(), body()).prop_map(|(from, body)| Message::new(TabId(from), body))
}

/// Edits of a valid encoding: replace, insert or delete a byte (kept as text, lossily).
#[derive(Debug, Clone)]
enum Edit {
    Replace(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let byte = prop::sample::select(b"{}[]\":,0123456789-+.e \\tnfu\x00\xff".to_vec());
    vec(
        prop_oneof![
            (any::<usize>(), byte.clone()).prop_map(|(i, b)| Edit::Replace(i, b)),
            (any::<usize>(), byte).prop_map(|(i, b)| Edit::Insert(i, b)),
            any::<usize>().prop_map(Edit::Delete),
            any::<usize>().prop_map(Edit::Truncate),
        ],
        1..4,
    )
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for edit in edits {
        let n = bytes.len().max(1);
        match *edit {
            Edit::Replace(i, b) if !bytes.is_empty() => bytes[i % n] = b,
            Edit::Insert(i, b) => bytes.insert(i % (bytes.len() + 1), b),
            Edit::Delete(i) if !bytes.is_empty() => {
                bytes.remove(i % n);
            }
            Edit::Truncate(i) => bytes.truncate(i % n),
            _ => {}
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A JSON value of bounded depth and size.
fn json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            vec((any::<String>(), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

const KEYS: &[&str] = &[
    "app",
    "v",
    "from",
    "type",
    "info",
    "term",
    "n",
    "tab",
    "stream",
    "event",
    "id",
    "name",
    "data",
    "sent_at",
    "epoch",
    "after",
    "successor",
    "status",
    "role",
    "visible",
    "highest_id",
];
const TYPES: &[&str] = &[
    "hello",
    "presence",
    "bye",
    "heartbeat",
    "claim",
    "resign",
    "relay",
    "probe",
    "status",
    "resend",
    "fence",
    "other",
];

/// A few thousand cases in CI; `PROPTEST_CASES` overrides.
fn config() -> ProptestConfig {
    ProptestConfig::with_cases(testkit::cases(2000))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_text_never_panics_and_round_trips_or_is_counted(s in text()) {
        check(&s)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..400)) {
        // A channel delivers strings; bytes reach it as lossily decoded text at worst.
        check(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn every_message_round_trips(m in message()) {
        let text = m.encode();
        prop_assert_eq!(Message::decode(&text), Ok(m));
        prop_assert!(check(&text)?);
    }

    #[test]
    fn mutated_messages_never_panic(m in message(), edits in edits()) {
        check(&apply(&m.encode(), &edits))?;
    }

    /// Our marker and version with the right keys but arbitrary values (and extra keys): the
    /// shape a forged message has.
    #[test]
    fn well_shaped_forgeries_are_accepted_only_if_well_formed(
        kind in prop::sample::select(TYPES),
        from in json(),
        fields in vec((prop::sample::select(KEYS), json()), 0..6),
    ) {
        let mut obj = serde_json::Map::new();
        obj.insert("app".into(), "tabrelay".into());
        obj.insert("v".into(), coord::PROTOCOL_VERSION.into());
        obj.insert("from".into(), from);
        obj.insert("type".into(), kind.into());
        for (k, v) in fields {
            obj.insert(k.into(), v);
        }
        check(&serde_json::Value::Object(obj).to_string())?;
    }
}

/// A huge message (a relayed event of 4 MiB) decodes within the linear budget: no cap is needed
/// for memory to stay proportional to what the channel already delivered.
#[test]
fn a_huge_message_costs_linear_memory() {
    let m = Message::new(
        TabId(1),
        Body::Relay {
            term: Term::ZERO,
            event: ServerEvent::new(Some(1), "device-online", "x".repeat(4 << 20)),
            sent_at: Instant(0),
            epoch: None,
            prev: None,
        },
    );
    let text = m.encode();
    let (decoded, bytes) = allocated_by(|| Message::decode(&text));
    assert_eq!(decoded, Ok(m));
    assert!(bytes <= 8 * text.len(), "{bytes} bytes for {}", text.len());
    // A huge array of small values: the worst ratio of tree nodes to input bytes.
    let text = format!("[{}0]", "0,".repeat(1 << 20));
    let (decoded, bytes) = allocated_by(|| Message::decode(&text));
    assert!(decoded.is_err());
    assert!(
        bytes <= 128 * text.len(),
        "{bytes} bytes for {}",
        text.len()
    );
    // Empty objects in an unknown field: each is a node of the tree (a `wire::json::Value`)
    // plus its share of the array, per 3 input bytes; measured, not assumed.
    let text = format!(
        "{{\"app\":\"tabrelay\",\"v\":3,\"from\":1,\"type\":\"bye\",\"x\":[{}0]}}",
        "{},".repeat(100_000)
    );
    let (decoded, bytes) = allocated_by(|| Message::decode(&text));
    assert!(decoded.is_ok());
    assert!(
        bytes <= budget(text.len()),
        "{bytes} bytes for {}",
        text.len()
    );
}
