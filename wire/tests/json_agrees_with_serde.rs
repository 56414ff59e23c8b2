//! The browser reads the wire with `wire::json`, the server writes it with serde: for arbitrary
//! values of every model type the browser reads, what serde writes `wire::json` reads back to the
//! same value, and what `wire::json` writes serde reads back. For arbitrary text, `wire::json`
//! accepts exactly what `serde_json` accepts (numbers aside: `serde_json` also rejects those out
//! of a double's range, which `wire::json` keeps as text).

use proptest::prelude::*;
use serde::{de::DeserializeOwned, Serialize};
use std::fmt::Debug;
use wire::json::{self, FromJson, ToJson};
use wire::model::{
    ApiError, Device, DeviceEvent, DeviceEventKind, Hello, Reset, Stats, StatsEvent, StatsReport,
};

fn reads_what_serde_writes<T: Serialize + FromJson + PartialEq + Debug>(
    value: &T,
) -> Result<(), TestCaseError> {
    let text = serde_json::to_string(value).unwrap();
    prop_assert_eq!(&json::from_str::<T>(&text).unwrap(), value, "{}", text);
    Ok(())
}

fn writes_what_serde_reads<T: ToJson + DeserializeOwned + PartialEq + Debug>(
    value: &T,
) -> Result<(), TestCaseError> {
    let text = json::to_string(value);
    prop_assert_eq!(
        &serde_json::from_str::<T>(&text).unwrap(),
        value,
        "{}",
        text
    );
    Ok(())
}

fn kind() -> impl Strategy<Value = DeviceEventKind> {
    prop_oneof![
        Just(DeviceEventKind::DeviceOnline),
        Just(DeviceEventKind::DeviceOffline)
    ]
}

fn device() -> impl Strategy<Value = Device> {
    (
        any::<String>(),
        any::<bool>(),
        any::<u64>(),
        any::<Option<String>>(),
    )
        .prop_map(|(id, online, changed_at_ms, name)| Device {
            id,
            online,
            changed_at_ms,
            name,
        })
}

fn stats() -> impl Strategy<Value = Stats> {
    (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(o, t, e)| Stats {
        open_connections: o,
        total_connections: t,
        events_published: e,
    })
}

proptest! {
    #[test]
    fn device_events(id: u64, device: String, kind in kind(), at_ms: u64, name: Option<String>) {
        reads_what_serde_writes(&DeviceEvent { id, device, kind, at_ms, name })?;
    }

    #[test]
    fn devices(d in device()) {
        reads_what_serde_writes(&d)?;
        writes_what_serde_reads(&d)?;
    }

    #[test]
    fn hellos(instance: String, epoch: String, head_id: u64, retry_ms: u64) {
        reads_what_serde_writes(&Hello { instance, epoch, head_id, retry_ms })?;
    }

    #[test]
    fn stats_from_every_payload_that_carries_them(
        s in stats(), replica: u64, replicas: u64, instance: String, head_id: u64,
    ) {
        reads_what_serde_writes(&s)?;
        writes_what_serde_reads(&s)?;
        let event = StatsEvent { stats: s.clone(), replica_open_connections: replica, replicas };
        prop_assert_eq!(json::from_str::<Stats>(&serde_json::to_string(&event).unwrap()), Ok(s.clone()));
        let report = StatsReport { stats: s.clone(), instance, head_id, ..Default::default() };
        prop_assert_eq!(json::from_str::<Stats>(&serde_json::to_string(&report).unwrap()), Ok(s));
    }

    #[test]
    fn resets(epoch: String, head_id: u64, devices in proptest::collection::vec(device(), 0..4), reason: String) {
        reads_what_serde_writes(&Reset { epoch, head_id, devices, reason })?;
    }

    #[test]
    fn api_errors(error: String) {
        reads_what_serde_writes(&ApiError { error })?;
    }

    #[test]
    fn accepts_the_same_text_as_serde_json(text in text()) {
        let ours = json::parse(&text).is_ok();
        let theirs = serde_json::from_str::<serde_json::Value>(&text).is_ok();
        if !text.contains(['e', 'E']) {
            prop_assert_eq!(ours, theirs, "{:?}", text);
        } else if theirs {
            prop_assert!(ours, "{:?}", text);
        }
    }
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        proptest::collection::vec(
            prop::sample::select(b"{}[]\":,0123456789-+.eEtruefalsnl \\/uabcfdxyz\n\t".to_vec()),
            0..60
        )
        .prop_map(|b| String::from_utf8(b).unwrap()),
        // Valid JSON, then cut or mutated.
        (device(), any::<prop::sample::Index>(), any::<u8>()).prop_map(|(d, at, byte)| {
            let mut bytes = serde_json::to_string(&d).unwrap().into_bytes();
            let i = at.index(bytes.len());
            bytes[i] = byte & 0x7f;
            String::from_utf8_lossy(&bytes).into_owned()
        }),
    ]
}

#[test]
fn defaults_and_missing_fields_follow_the_derives() {
    let hello: Hello = json::from_str(r#"{"instance":"i","head_id":1,"retry_ms":2}"#).unwrap();
    assert_eq!(hello.epoch, "");
    assert!(json::from_str::<Hello>(r#"{"instance":"i","retry_ms":2}"#).is_err());
    let event: DeviceEvent =
        json::from_str(r#"{"id":1,"device":"d","kind":"device-online","at_ms":3,"x":[{}]}"#)
            .unwrap();
    assert_eq!(event.name, None);
    let bad_kind = r#"{"id":1,"device":"d","kind":"on","at_ms":3}"#;
    let ours = json::from_str::<DeviceEvent>(bad_kind).unwrap_err().0;
    // serde's message, after the field's name, and without the position serde_json appends.
    let serde = serde_json::from_str::<DeviceEvent>(bad_kind)
        .unwrap_err()
        .to_string();
    let message = ours.strip_prefix("`kind`: ").unwrap_or(&ours);
    assert!(message.starts_with("unknown variant `on`"), "{ours}");
    assert!(serde.starts_with(message), "ours: {ours}\nserde's: {serde}");
}
