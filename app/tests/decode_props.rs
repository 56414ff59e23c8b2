//! Property tests of the app's decoders of untrusted input: the inject body
//! ([`InjectRequest`], [`validate_device_id`], [`validate_device_name`]), the SharedWorker's
//! messages to a tab ([`FromWorker`]) and the `storage` event filter of `?mode=storage`
//! ([`storage_message`]; the message itself then goes through `coord::Message::decode`, see
//! `coord/tests/decode_props.rs`). For arbitrary text and bytes: no panic, allocation at most
//! linear in the input (a counting allocator measures each call), and either a value that
//! re-encodes to an equivalent one or a rejection (which the runtime counts as an ignored
//! message; the server answers 400).
//!
//! CI runs a few thousand cases per property. Longer:
//! `PROPTEST_CASES=100000 cargo test -p app --test decode_props --release`.

use app::model::{
    validate_device_id, validate_device_name, InjectRequest, MAX_DEVICE_ID_LEN,
    MAX_DEVICE_NAME_CHARS,
};
use proptest::collection::vec;
use proptest::prelude::*;
use tabrelay::inbox::{storage_message, FromWorker, WorkerTab};

// ---- a per-thread allocation counter --------------------------------------------------------

#[global_allocator]
static ALLOCATOR: testkit::Counting = testkit::Counting;

use testkit::allocated_by;

/// Linear: a JSON tree of small nodes costs up to ~120 bytes per input byte (measured in
/// `coord/tests/decode_props.rs`), plus a constant for the first buffers.
fn budget(len: usize) -> usize {
    256 * len + 64 * 1024
}

/// The longest error message a rejection may carry: inputs are quoted truncated, if at all.
const MAX_ERROR_LEN: usize = 300;

// ---- strategies -----------------------------------------------------------------------------

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        vec(
            prop::sample::select(b"{}[]\":,0123456789-+.eE \\/utrfalsn_abcdemovynxpigt".to_vec()),
            0..200
        )
        .prop_map(|b| String::from_utf8(b).unwrap()),
    ]
}

/// Times in whole microseconds, as the worker sends them (`Math.round(ms * 1000)`).
fn micros() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..1 << 53, any::<u64>()]
}

fn worker_tab() -> impl Strategy<Value = WorkerTab> {
    (any::<String>(), any::<bool>(), micros()).prop_map(|(id, visible, last_seen_us)| WorkerTab {
        id,
        visible,
        last_seen_us,
    })
}

fn from_worker() -> impl Strategy<Value = FromWorker> {
    prop_oneof![
        (
            any::<String>(),
            any::<Option<u64>>(),
            any::<String>(),
            micros(),
            any::<Option<String>>()
        )
            .prop_map(|(name, id, data, at_us, epoch)| FromWorker::Event {
                name,
                id,
                data,
                at_us,
                epoch
            }),
        (any::<Option<String>>(), any::<u64>(), any::<String>()).prop_map(
            |(epoch, head_id, reason)| FromWorker::Resync {
                epoch,
                head_id,
                reason
            }
        ),
        (
            any::<String>(),
            proptest::option::of(micros()),
            vec(worker_tab(), 0..4),
            micros()
        )
            .prop_map(
                |(stream, next_attempt_us, tabs, at_us)| FromWorker::Status {
                    stream,
                    next_attempt_us,
                    tabs,
                    at_us
                }
            ),
    ]
}

/// Decodes `text` as a worker message and checks every property.
fn check_worker(text: &str) -> Result<(), TestCaseError> {
    let (decoded, bytes) = allocated_by(|| FromWorker::decode(Some(text)));
    prop_assert!(
        bytes <= budget(text.len()),
        "{bytes} bytes for {}",
        text.len()
    );
    if let Some(message) = decoded {
        let encoded = serde_json::to_string(&message).unwrap();
        let again = FromWorker::decode(Some(&encoded));
        prop_assert!(
            again.as_ref() == Some(&message),
            "no round trip: {text:?} -> {message:?} -> {again:?}"
        );
    }
    Ok(())
}

/// Decodes `text` as an inject body and checks every property.
fn check_inject(text: &str) -> Result<(), TestCaseError> {
    let (decoded, bytes) = allocated_by(|| serde_json::from_str::<InjectRequest>(text));
    prop_assert!(
        bytes <= budget(text.len()),
        "{bytes} bytes for {}",
        text.len()
    );
    if let Ok(request) = decoded {
        let again =
            serde_json::from_str::<InjectRequest>(&serde_json::to_string(&request).unwrap());
        prop_assert_eq!(again.ok(), Some(request.clone()));
        if let Some(name) = &request.name {
            check_name(name)?;
        }
    }
    Ok(())
}

fn check_id(id: &str) -> Result<(), TestCaseError> {
    let expected = (1..=MAX_DEVICE_ID_LEN).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    let (verdict, bytes) = allocated_by(|| validate_device_id(id));
    prop_assert!(bytes <= 1024, "{bytes} bytes to validate an id");
    match verdict {
        Ok(()) => prop_assert!(expected, "accepted {id:?}"),
        Err(e) => {
            prop_assert!(!expected, "rejected {id:?}: {e}");
            prop_assert!(e.len() <= MAX_ERROR_LEN, "{} byte error", e.len());
        }
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), TestCaseError> {
    let expected = !name.trim().is_empty()
        && name.chars().count() <= MAX_DEVICE_NAME_CHARS
        && !name.chars().any(char::is_control);
    let (verdict, bytes) = allocated_by(|| validate_device_name(name));
    prop_assert!(bytes <= 1024, "{bytes} bytes to validate a name");
    match verdict {
        Ok(()) => prop_assert!(expected, "accepted {name:?}"),
        Err(e) => {
            prop_assert!(!expected, "rejected {name:?}: {e}");
            prop_assert!(e.len() <= MAX_ERROR_LEN, "{} byte error", e.len());
        }
    }
    Ok(())
}

/// A few thousand cases in CI; `PROPTEST_CASES` overrides.
fn config() -> ProptestConfig {
    ProptestConfig::with_cases(testkit::cases(2000))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn worker_messages_from_arbitrary_text(s in text()) {
        check_worker(&s)?;
    }

    #[test]
    fn worker_messages_from_arbitrary_bytes(bytes in vec(any::<u8>(), 0..400)) {
        check_worker(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn every_worker_message_round_trips(m in from_worker()) {
        let text = serde_json::to_string(&m).unwrap();
        let decoded = FromWorker::decode(Some(&text));
        prop_assert!(decoded.as_ref() == Some(&m), "{text}");
        check_worker(&text)?;
    }

    /// Valid messages with one field replaced by arbitrary JSON: accepted only if well typed.
    #[test]
    fn worker_messages_with_a_field_replaced(
        m in from_worker(),
        field in prop::sample::select(vec![
            "type", "name", "id", "data", "at_us", "epoch", "head_id", "reason", "stream",
            "next_attempt_us", "tabs", "extra",
        ]),
        value in text(),
    ) {
        let mut v = serde_json::to_value(&m).unwrap();
        let replacement = serde_json::from_str(&value).unwrap_or(serde_json::Value::String(value));
        v.as_object_mut().unwrap().insert(field.into(), replacement);
        check_worker(&v.to_string())?;
    }

    #[test]
    fn inject_bodies_from_arbitrary_text(s in text()) {
        check_inject(&s)?;
    }

    #[test]
    fn inject_bodies_with_arbitrary_names(name in any::<Option<String>>(), extra in any::<bool>()) {
        let mut body = serde_json::json!({ "name": name });
        if extra {
            // Unknown fields are refused (`deny_unknown_fields`).
            body["admin"] = true.into();
            prop_assert!(serde_json::from_value::<InjectRequest>(body.clone()).is_err());
        }
        check_inject(&body.to_string())?;
    }

    #[test]
    fn device_ids(id in prop_oneof![
        any::<String>(),
        "[0-9A-Za-z._:-]{0,70}",
    ]) {
        check_id(&id)?;
    }

    #[test]
    fn device_names(name in prop_oneof![
        any::<String>(),
        "\\PC{0,110}",
        "[ \t\u{7f}<>a-z]{0,120}",
    ]) {
        check_name(&name)?;
    }

    /// Only a new value under one of our keys is a message; the removal that follows each
    /// message, foreign keys and `clear()` (no key) are not.
    #[test]
    fn storage_events(
        prefix in "[a-z:-]{1,12}",
        key in proptest::option::of(any::<String>()),
        ours in any::<bool>(),
        value in proptest::option::of(any::<String>()),
    ) {
        let key = key.map(|k| if ours { format!("{prefix}{k}") } else { k });
        let got = storage_message(&prefix, key.as_deref(), value.clone());
        let expected = match &key {
            Some(k) if k.starts_with(&prefix) => value,
            _ => None,
        };
        prop_assert_eq!(got, expected);
    }
}

/// The server caps an inject body (axum's default body limit, 2 MB); within it a name of any
/// length is counted in linear time and memory and rejected.
#[test]
fn a_huge_name_is_rejected_in_linear_memory() {
    let body = format!("{{\"name\":\"{}\"}}", "é".repeat(1 << 20));
    let (decoded, bytes) = allocated_by(|| serde_json::from_str::<InjectRequest>(&body));
    assert!(bytes <= 4 * body.len(), "{bytes} for {}", body.len());
    let name = decoded.unwrap().name.unwrap();
    let (verdict, bytes) = allocated_by(|| validate_device_name(&name));
    assert!(verdict.is_err() && bytes <= 1024);
}
