//! Property tests of the stream request's parsing: the `Last-Event-ID` header, `?last_event_id=`,
//! `?epoch=` and `?mode=` ([`StreamRequest::parse`], [`parse_last_event_id`], [`parse_epoch`]).
//! For arbitrary header bytes and query strings: no panic, allocation at most linear in the
//! input (a counting allocator measures each call), and either a request that re-encodes to a
//! query parsing to the same request (round trip), or a 400 whose message quotes at most a
//! bounded part of the input (so an error never echoes a huge header back).
//!
//! CI runs a few thousand cases per property. Longer:
//! `PROPTEST_CASES=100000 cargo test -p server --test parse_props --release`.

use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use proptest::collection::vec;
use proptest::prelude::*;
use server::sse::{parse_epoch, parse_last_event_id, StreamRequest, MAX_EPOCH_LEN};
use wire::Mode;

// ---- a per-thread allocation counter --------------------------------------------------------

#[global_allocator]
static ALLOCATOR: testkit::Counting = testkit::Counting;

use testkit::allocated_by;

fn budget(len: usize) -> usize {
    64 * len + 16 * 1024
}

/// Error messages quote at most 40 characters of the input.
const MAX_ERROR_LEN: usize = 400;

/// The query that asks for `request` (the encoding a tab uses).
fn encode(request: &StreamRequest) -> String {
    let mut query = format!("mode={}", request.mode.as_str());
    if let Some(id) = request.last_event_id {
        query.push_str(&format!("&last_event_id={id}"));
    }
    if let Some(epoch) = &request.epoch {
        query.push_str(&format!("&epoch={epoch}"));
    }
    query
}

fn uri(query: &str) -> Option<Uri> {
    Uri::try_from(format!("/events?{query}")).ok()
}

/// Parses and checks every property.
fn check(header: Option<&HeaderValue>, query: &str) -> Result<(), TestCaseError> {
    // A query hyper would not accept as a URI never reaches the handler.
    let Some(uri) = uri(query) else {
        return Ok(());
    };
    let mut headers = HeaderMap::new();
    if let Some(value) = header {
        headers.insert("last-event-id", value.clone());
    }
    let len = query.len() + header.map_or(0, |v| v.len());
    let (parsed, bytes) = allocated_by(|| StreamRequest::parse(&headers, &uri));
    prop_assert!(bytes <= budget(len), "{bytes} bytes for {len}");
    match parsed {
        Ok(request) => {
            if let Some(epoch) = &request.epoch {
                prop_assert!(parse_epoch(epoch).is_ok());
            }
            let again =
                StreamRequest::parse(&HeaderMap::new(), &self::uri(&encode(&request)).unwrap());
            prop_assert_eq!(again.ok(), Some(request));
        }
        Err(e) => {
            prop_assert_eq!(e.status(), StatusCode::BAD_REQUEST, "{}", e.message());
            prop_assert!(e.message().len() <= MAX_ERROR_LEN, "{}", e.message());
        }
    }
    Ok(())
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9]{0,25}",
        "[0-9A-Za-z_%+. -]{0,70}",
        prop::sample::select(vec!["naive", "leader", "storage", "sharedworker", "", "0"])
            .prop_map(String::from),
    ]
}

/// `k=v&k=v…` with our keys (repeated or not), others, and arbitrary values, sometimes
/// percent-encoded.
fn query() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "last_event_id",
        "epoch",
        "mode",
        "other",
        "",
        "mode[]",
    ]);
    prop_oneof![
        any::<String>(),
        vec((key, value(), any::<bool>()), 0..5).prop_map(|pairs| {
            pairs
                .into_iter()
                .map(|(k, v, escape)| {
                    let v = if escape {
                        v.bytes().map(|b| format!("%{b:02X}")).collect()
                    } else {
                        v
                    };
                    format!("{k}={v}")
                })
                .collect::<Vec<_>>()
                .join("&")
        }),
    ]
}

fn request() -> impl Strategy<Value = StreamRequest> {
    (
        prop::sample::select(Mode::ALL.to_vec()),
        any::<Option<u64>>(),
        proptest::option::of("[0-9A-Za-z_-]{1,64}"),
    )
        .prop_map(|(mode, last_event_id, epoch)| StreamRequest {
            mode,
            last_event_id,
            epoch,
        })
}

/// A few thousand cases in CI; `PROPTEST_CASES` overrides.
fn config() -> ProptestConfig {
    ProptestConfig::with_cases(testkit::cases(3000))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn last_event_id_is_digits_fitting_a_u64(raw in value()) {
        let (parsed, bytes) = allocated_by(|| parse_last_event_id(&raw, "Last-Event-ID"));
        prop_assert!(bytes <= budget(raw.len()));
        let digits = raw.bytes().all(|b| b.is_ascii_digit());
        match parsed {
            Ok(None) => prop_assert!(raw.is_empty()),
            Ok(Some(id)) => {
                prop_assert!(digits);
                prop_assert_eq!(raw.trim_start_matches('0'), if id == 0 { String::new() } else { id.to_string() });
                prop_assert_eq!(parse_last_event_id(&id.to_string(), "x").ok(), Some(Some(id)));
            }
            Err(e) => {
                prop_assert!(!digits || raw.parse::<u64>().is_err());
                prop_assert!(e.message().len() <= MAX_ERROR_LEN);
            }
        }
    }

    #[test]
    fn epoch_is_1_to_64_of_base64url(raw in value()) {
        let expected = (1..=MAX_EPOCH_LEN).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        match parse_epoch(&raw) {
            Ok(epoch) => prop_assert!(expected && epoch == raw),
            Err(e) => prop_assert!(!expected && e.message().len() <= MAX_ERROR_LEN),
        }
    }

    #[test]
    fn arbitrary_queries(query in query()) {
        check(None, &query)?;
    }

    #[test]
    fn arbitrary_header_bytes(bytes in vec(any::<u8>(), 0..100), query in query()) {
        // Bytes `HeaderValue` refuses never reach a handler either.
        if let Ok(value) = HeaderValue::from_bytes(&bytes) {
            check(Some(&value), &query)?;
        }
    }

    #[test]
    fn header_wins_over_query(id in any::<u64>(), query in query()) {
        let value = HeaderValue::from_str(&format!(" {id} ")).unwrap();
        check(Some(&value), &query)?;
        if let Some(uri) = uri(&query) {
            let mut headers = HeaderMap::new();
            headers.insert("last-event-id", value);
            if let Ok(request) = StreamRequest::parse(&headers, &uri) {
                prop_assert_eq!(request.last_event_id, Some(id));
            }
        }
    }

    #[test]
    fn every_request_round_trips(request in request()) {
        let parsed = StreamRequest::parse(&HeaderMap::new(), &uri(&encode(&request)).unwrap());
        prop_assert_eq!(parsed.ok(), Some(request));
    }
}

/// A huge header (hyper caps a request head, 64 KiB by default; here ten times that) is
/// rejected with a short message in linear memory.
#[test]
fn a_huge_last_event_id_is_rejected_briefly() {
    let value = HeaderValue::from_str(&format!("{}x", "9".repeat(640 * 1024))).unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("last-event-id", value);
    let uri = Uri::from_static("/events");
    let (parsed, bytes) = allocated_by(|| StreamRequest::parse(&headers, &uri));
    let e = parsed.unwrap_err();
    assert_eq!(e.status(), StatusCode::BAD_REQUEST);
    assert!(e.message().len() <= MAX_ERROR_LEN, "{}", e.message());
    assert!(bytes <= 4096, "{bytes}");
}
