//! Reading values back from Redis: every reply is checked, and anything unexpected is a
//! [`DecodeError`] naming what was wrong, never a panic and never a value taken on trust (the
//! log could have been written by another version, or by hand).

use redis::Value;
use wire::model::{validate_device_id, validate_device_name, Device, DeviceEvent, DeviceEventKind};

use crate::hub::RunSnapshot;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected value from Redis in {what}: {problem}")]
pub struct DecodeError {
    pub what: &'static str,
    pub problem: String,
}

fn bad(what: &'static str, problem: impl Into<String>) -> DecodeError {
    DecodeError {
        what,
        problem: problem.into(),
    }
}

type Result<T> = std::result::Result<T, DecodeError>;

/// The text of a string reply (bulk or simple), UTF-8.
pub fn text(value: &Value, what: &'static str) -> Result<String> {
    match value {
        Value::BulkString(bytes) => {
            String::from_utf8(bytes.clone()).map_err(|_| bad(what, "not UTF-8"))
        }
        Value::SimpleString(s) => Ok(s.clone()),
        Value::Int(n) => Ok(n.to_string()),
        other => Err(bad(what, format!("expected a string, got {}", kind(other)))),
    }
}

/// A decimal `u64` (a string of digits, or an integer reply).
pub fn number(value: &Value, what: &'static str) -> Result<u64> {
    if let Value::Int(n) = value {
        return u64::try_from(*n).map_err(|_| bad(what, format!("negative number {n}")));
    }
    let s = text(value, what)?;
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(
            what,
            format!("not a decimal number: {:?}", shorten(&s)),
        ));
    }
    s.parse()
        .map_err(|_| bad(what, format!("number too large: {:?}", shorten(&s))))
}

/// The items of an array reply (`Nil` is an empty array: Redis answers a missing key so).
pub fn array<'a>(value: &'a Value, what: &'static str) -> Result<&'a [Value]> {
    match value {
        Value::Array(items) | Value::Set(items) => Ok(items),
        Value::Nil => Ok(&[]),
        other => Err(bad(what, format!("expected an array, got {}", kind(other)))),
    }
}

/// Field / value pairs of a flat `HGETALL`-style array (or a RESP3 map).
pub fn pairs(value: &Value, what: &'static str) -> Result<Vec<(String, String)>> {
    if let Value::Map(map) = value {
        return map
            .iter()
            .map(|(k, v)| Ok((text(k, what)?, text(v, what)?)))
            .collect();
    }
    let items = array(value, what)?;
    if items.len() % 2 != 0 {
        return Err(bad(what, "odd number of items in a field/value list"));
    }
    items
        .chunks(2)
        .map(|kv| Ok((text(&kv[0], what)?, text(&kv[1], what)?)))
        .collect()
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Nil => "nil",
        Value::Int(_) => "an integer",
        Value::BulkString(_) | Value::SimpleString(_) | Value::VerbatimString { .. } => "a string",
        Value::Array(_) | Value::Set(_) => "an array",
        Value::Map(_) => "a map",
        Value::ServerError(_) => "an error",
        _ => "another type",
    }
}

fn shorten(s: &str) -> String {
    s.chars().take(40).collect()
}

/// One entry of the log: its run and the event.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    pub epoch: String,
    pub event: DeviceEvent,
}

/// An epoch as replicas and browsers accept it (the same rule as `?epoch=`).
fn epoch(raw: String, what: &'static str) -> Result<String> {
    crate::sse::parse_epoch(&raw)
        .map(str::to_owned)
        .map_err(|_| bad(what, format!("not a valid epoch: {:?}", shorten(&raw))))
}

/// One stream entry, `[id, [field, value, …]]`, as `XREAD` / `XRANGE` return it.
pub fn log_entry(value: &Value) -> Result<LogEntry> {
    const WHAT: &str = "a log entry";
    let parts = array(value, WHAT)?;
    let [sid, fields] = parts else {
        return Err(bad(WHAT, "expected [id, fields]"));
    };
    let sid = text(sid, WHAT)?;
    let id = match sid.strip_suffix("-0") {
        Some(id) => number(&Value::BulkString(id.as_bytes().to_vec()), WHAT)?,
        None => {
            return Err(bad(
                WHAT,
                format!("stream id {:?} is not N-0", shorten(&sid)),
            ))
        }
    };
    let (mut run, mut device, mut kind, mut at_ms, mut name) = (None, None, None, None, None);
    for (field, value) in pairs(fields, WHAT)? {
        match field.as_str() {
            "epoch" => run = Some(value),
            "device" => device = Some(value),
            "kind" => kind = Some(value),
            "at_ms" => at_ms = Some(value),
            "name" => name = Some(value),
            _ => {} // fields a later version adds are not this version's business
        }
    }
    let missing = |field: &str| bad(WHAT, format!("entry {id} has no {field}"));
    let run = epoch(run.ok_or_else(|| missing("epoch"))?, WHAT)?;
    let device = device.ok_or_else(|| missing("device"))?;
    validate_device_id(&device).map_err(|e| bad(WHAT, e))?;
    let kind = match kind.ok_or_else(|| missing("kind"))?.as_str() {
        "device-online" => DeviceEventKind::DeviceOnline,
        "device-offline" => DeviceEventKind::DeviceOffline,
        other => return Err(bad(WHAT, format!("unknown kind {:?}", shorten(other)))),
    };
    let at_ms = number(
        &Value::BulkString(at_ms.ok_or_else(|| missing("at_ms"))?.into_bytes()),
        WHAT,
    )?;
    let name = match name.filter(|n| !n.is_empty()) {
        Some(n) => {
            validate_device_name(&n).map_err(|e| bad(WHAT, e))?;
            Some(n)
        }
        None => None,
    };
    Ok(LogEntry {
        epoch: run,
        event: DeviceEvent {
            id,
            device,
            kind,
            at_ms,
            name,
        },
    })
}

/// An `XREAD` reply for one stream: its entries (`Nil`, a timeout, is none).
pub fn xread(value: &Value) -> Result<Vec<LogEntry>> {
    const WHAT: &str = "an XREAD reply";
    let mut entries = Vec::new();
    let streams: Vec<&Value> = match value {
        Value::Map(map) => map.iter().map(|(_, v)| v).collect(),
        other => array(other, WHAT)?
            .iter()
            .map(|s| match array(s, WHAT)? {
                [_, entries] => Ok(entries),
                _ => Err(bad(WHAT, "expected [stream, entries]")),
            })
            .collect::<Result<_>>()?,
    };
    for stream in streams {
        for entry in array(stream, WHAT)? {
            entries.push(log_entry(entry)?);
        }
    }
    Ok(entries)
}

/// What the publish script answered: `{epoch, id, name}`.
pub fn published(value: &Value) -> Result<(String, u64, Option<String>)> {
    const WHAT: &str = "the publish script's reply";
    match array(value, WHAT)? {
        [run, id, name] => {
            let name = text(name, WHAT)?;
            Ok((
                epoch(text(run, WHAT)?, WHAT)?,
                number(id, WHAT)?,
                (!name.is_empty()).then_some(name),
            ))
        }
        _ => Err(bad(WHAT, "expected {epoch, id, name}")),
    }
}

/// A device as stored in the devices hash (`"1:<changed_at_ms>"`) with its name, if any.
fn device(id: String, state: &str, name: Option<String>) -> Result<Device> {
    const WHAT: &str = "the devices hash";
    validate_device_id(&id).map_err(|e| bad(WHAT, e))?;
    let (online, at) = match state.split_once(':') {
        Some(("1", at)) => (true, at),
        Some(("0", at)) => (false, at),
        _ => {
            return Err(bad(
                WHAT,
                format!("device {id}: bad state {:?}", shorten(state)),
            ))
        }
    };
    let changed_at_ms = number(&Value::BulkString(at.as_bytes().to_vec()), WHAT)?;
    if let Some(name) = &name {
        validate_device_name(name).map_err(|e| bad(WHAT, e))?;
    }
    Ok(Device {
        id,
        online,
        changed_at_ms,
        name,
    })
}

/// The sync script's reply, as the hub takes it, with the run's `devices_rev`.
pub fn sync(value: &Value) -> Result<(RunSnapshot, u64)> {
    const WHAT: &str = "the sync script's reply";
    let [run, floor, head, rev, devices, names, recent] = array(value, WHAT)? else {
        return Err(bad(WHAT, "expected 7 items"));
    };
    let run = epoch(text(run, WHAT)?, WHAT)?;
    let (floor, head, rev) = (
        number(floor, WHAT)?,
        number(head, WHAT)?,
        number(rev, WHAT)?,
    );
    if head < floor {
        return Err(bad(WHAT, format!("head {head} is below the floor {floor}")));
    }
    let mut names: std::collections::HashMap<String, String> =
        pairs(names, WHAT)?.into_iter().collect();
    let devices = pairs(devices, WHAT)?
        .into_iter()
        .map(|(id, state)| {
            let name = names.remove(&id);
            device(id, &state, name)
        })
        .collect::<Result<Vec<_>>>()?;
    let mut events = Vec::new();
    for entry in array(recent, WHAT)?.iter().rev() {
        let entry = log_entry(entry)?;
        // Entries of an earlier run cannot be here (a new run deletes the log); skip none
        // silently: a foreign entry is an error.
        if entry.epoch != run {
            return Err(bad(
                WHAT,
                format!("entry {} is from run {}", entry.event.id, entry.epoch),
            ));
        }
        events.push(entry.event);
    }
    // What the hub replays must be consecutive and end at the head; a log trimmed in the
    // middle keeps only its consecutive newest part.
    let keep_from = events
        .windows(2)
        .rposition(|w| w[1].id != w[0].id + 1)
        .map_or(0, |i| i + 1);
    let events = events.split_off(keep_from);
    if events.last().is_some_and(|e| e.id != head) {
        return Err(bad(
            WHAT,
            format!("the newest entry is not the head {head}"),
        ));
    }
    Ok((
        RunSnapshot {
            epoch: run,
            floor,
            head,
            devices,
            recent: events,
        },
        rev,
    ))
}

/// The report script's reply: `{total, replicas}`.
pub fn report(value: &Value) -> Result<(u64, u64)> {
    const WHAT: &str = "the count script's reply";
    match array(value, WHAT)? {
        [total, replicas] => Ok((number(total, WHAT)?, number(replicas, WHAT)?)),
        _ => Err(bad(WHAT, "expected {total, replicas}")),
    }
}

/// A count summary published on the channel: `"total:replicas"`.
pub fn summary(payload: &str) -> Result<(u64, u64)> {
    const WHAT: &str = "a count message";
    let (total, replicas) = payload.split_once(':').ok_or_else(|| {
        bad(
            WHAT,
            format!("{:?} is not total:replicas", shorten(payload)),
        )
    })?;
    let n = |s: &str| number(&Value::BulkString(s.as_bytes().to_vec()), WHAT);
    Ok((n(total)?, n(replicas)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    fn entry(id: &str, fields: &[(&str, &str)]) -> Value {
        Value::Array(vec![
            s(id),
            Value::Array(fields.iter().flat_map(|(k, v)| [s(k), s(v)]).collect()),
        ])
    }

    const GOOD: [(&str, &str); 5] = [
        ("epoch", "abc"),
        ("device", "lamp-01"),
        ("kind", "device-online"),
        ("at_ms", "17"),
        ("name", ""),
    ];

    #[test]
    fn a_good_entry_decodes() {
        let e = log_entry(&entry("1800000000000001-0", &GOOD)).unwrap();
        assert_eq!(e.epoch, "abc");
        assert_eq!(e.event.id, 1_800_000_000_000_001);
        assert_eq!(e.event.kind, DeviceEventKind::DeviceOnline);
        assert_eq!(e.event.name, None);
    }

    #[test]
    fn every_bad_entry_says_what_is_wrong() {
        let mut cases: Vec<(Value, &str)> = vec![
            (entry("5-1", &GOOD), "not N-0"),
            (entry("x-0", &GOOD), "not a decimal"),
            (s("nope"), "expected an array"),
        ];
        for (field, value, problem) in [
            ("kind", "device-exploded", "unknown kind"),
            ("device", "bad id!", "device"),
            ("at_ms", "-3", "not a decimal"),
            ("epoch", "a b", "not a valid epoch"),
        ] {
            let fields: Vec<_> = GOOD
                .iter()
                .map(|&(k, v)| if k == field { (k, value) } else { (k, v) })
                .collect();
            cases.push((entry("7-0", &fields), problem));
        }
        cases.push((entry("7-0", &GOOD[1..]), "no epoch"));
        for (value, problem) in cases {
            let err = log_entry(&value).unwrap_err().to_string();
            assert!(err.contains(problem), "{err:?} should mention {problem:?}");
        }
    }

    #[test]
    fn sync_keeps_the_consecutive_tail_ending_at_the_head() {
        let recent = Value::Array(
            [9, 8, 6, 5] // newest first, 7 trimmed away
                .iter()
                .map(|id| entry(&format!("{id}-0"), &GOOD))
                .collect(),
        );
        let reply = Value::Array(vec![
            s("abc"),
            s("4"),
            s("9"),
            s("0"),
            Value::Array(vec![s("lamp-01"), s("1:5")]),
            Value::Array(vec![s("lamp-01"), s("Hall")]),
            recent,
        ]);
        let (run, rev) = sync(&reply).unwrap();
        assert_eq!(rev, 0);
        assert_eq!(run.recent.iter().map(|e| e.id).collect::<Vec<_>>(), [8, 9]);
        assert_eq!(run.devices[0].name.as_deref(), Some("Hall"));
        assert!(run.devices[0].online);
    }

    #[test]
    fn summaries_and_reports() {
        assert_eq!(summary("3:2"), Ok((3, 2)));
        assert!(summary("3").is_err());
        assert!(summary("-1:2").is_err());
        assert_eq!(
            report(&Value::Array(vec![Value::Int(4), Value::Int(2)])),
            Ok((4, 2))
        );
        assert!(report(&Value::Array(vec![Value::Int(-4), Value::Int(2)])).is_err());
    }
}
