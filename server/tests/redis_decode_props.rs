//! Property tests of everything the Redis bus reads back from Redis
//! ([`server::redis_bus::decode`]): for arbitrary replies (any shape, any bytes) no decoder
//! panics, and a well-formed log entry always decodes to the event it was written from.
//!
//! Longer: `PROPTEST_CASES=100000 cargo test -p server --test redis_decode_props --release`.

use proptest::collection::vec;
use proptest::prelude::*;
use redis::Value;
use server::redis_bus::decode;

fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Nil),
        any::<i64>().prop_map(Value::Int),
        vec(any::<u8>(), 0..24).prop_map(Value::BulkString),
        "[a-z0-9:_-]{0,20}".prop_map(|s| Value::BulkString(s.into_bytes())),
        "[0-9]{1,20}(-0)?".prop_map(|s| Value::BulkString(s.into_bytes())),
        Just(Value::Okay),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..8).prop_map(Value::Array),
            vec((inner.clone(), inner), 0..4).prop_map(Value::Map),
        ]
    })
}

fn text(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(testkit::cases(2_000)))]

    #[test]
    fn no_reply_makes_a_decoder_panic(value in any_value(), payload in ".{0,40}") {
        let _ = decode::log_entry(&value);
        let _ = decode::xread(&value);
        let _ = decode::published(&value);
        let _ = decode::sync(&value);
        let _ = decode::report(&value);
        let _ = decode::summary(&payload);
    }

    #[test]
    fn a_written_entry_reads_back_as_the_same_event(
        id in 1u64..(1 << 53),
        device in "[a-z][a-z0-9-]{0,30}",
        online in any::<bool>(),
        at_ms in any::<u64>(),
        name in proptest::option::of("[A-Za-z][A-Za-z0-9 ]{0,20}"),
        epoch in "[0-9a-f]{16}",
    ) {
        let kind = if online { "device-online" } else { "device-offline" };
        let fields = [
            ("epoch", epoch.clone()),
            ("device", device.clone()),
            ("kind", kind.to_owned()),
            ("at_ms", at_ms.to_string()),
            ("name", name.clone().unwrap_or_default()),
        ];
        let entry = Value::Array(vec![
            text(&format!("{id}-0")),
            Value::Array(fields.iter().flat_map(|(k, v)| [text(k), text(v)]).collect()),
        ]);
        let read = decode::log_entry(&entry).unwrap();
        prop_assert_eq!(read.epoch, epoch);
        prop_assert_eq!(read.event.id, id);
        prop_assert_eq!(read.event.device, device);
        prop_assert_eq!(read.event.kind.online(), online);
        prop_assert_eq!(read.event.at_ms, at_ms);
        prop_assert_eq!(read.event.name, name);
    }
}
