//! How the browser reads the [model](crate::model) through [`crate::json`] instead of serde:
//! the same field names, defaults and enum spellings as the serde derives on the server
//! (`wire/tests/json_agrees_with_serde.rs` checks every type both ways). Unknown fields are
//! ignored, as with the derives, so a client reads a payload that grew new fields.

use crate::json::{object, one_of, Error, FromJson, ObjectWriter, ToJson, Value};
use crate::model::{ApiError, Device, DeviceEvent, DeviceEventKind, Hello, Reset, Stats};

impl FromJson for DeviceEventKind {
    fn from_json(value: &Value<'_>) -> Result<Self, Error> {
        const NAMES: [&str; 2] = ["device-online", "device-offline"];
        Ok(match one_of(value, &NAMES)? {
            0 => Self::DeviceOnline,
            _ => Self::DeviceOffline,
        })
    }
}

impl FromJson for DeviceEvent {
    fn from_json(value: &Value<'_>) -> Result<Self, Error> {
        object(value, |o| {
            Ok(Self {
                id: o.field("id")?,
                device: o.field("device")?,
                kind: o.field("kind")?,
                at_ms: o.field("at_ms")?,
                name: o.field("name")?,
            })
        })
    }
}

impl FromJson for Device {
    fn from_json(value: &Value<'_>) -> Result<Self, Error> {
        object(value, |o| {
            Ok(Self {
                id: o.field("id")?,
                online: o.field("online")?,
                changed_at_ms: o.field("changed_at_ms")?,
                name: o.field("name")?,
            })
        })
    }
}

impl ToJson for Device {
    fn write_json(&self, out: &mut String) {
        let mut o = ObjectWriter::new(out);
        o.field("id", &self.id)
            .field("online", &self.online)
            .field("changed_at_ms", &self.changed_at_ms)
            .field_if_some("name", &self.name);
        o.end();
    }
}

impl FromJson for Hello {
    fn from_json(value: &Value<'_>) -> Result<Self, Error> {
        object(value, |o| {
            Ok(Self {
                instance: o.field("instance")?,
                epoch: o.field_or_default("epoch")?,
                head_id: o.field("head_id")?,
                retry_ms: o.field("retry_ms")?,
            })
        })
    }
}

/// Also reads a `StatsEvent` or a `StatsReport` (their other fields are ignored).
impl FromJson for Stats {
    fn from_json(value: &Value<'_>) -> Result<Self, Error> {
        object(value, |o| {
            Ok(Self {
                open_connections: o.field("open_connections")?,
                total_connections: o.field("total_connections")?,
                events_published: o.field("events_published")?,
            })
        })
    }
}

impl ToJson for Stats {
    fn write_json(&self, out: &mut String) {
        let mut o = ObjectWriter::new(out);
        o.field("open_connections", &self.open_connections)
            .field("total_connections", &self.total_connections)
            .field("events_published", &self.events_published);
        o.end();
    }
}

impl FromJson for Reset {
    fn from_json(value: &Value<'_>) -> Result<Self, Error> {
        object(value, |o| {
            Ok(Self {
                epoch: o.field_or_default("epoch")?,
                head_id: o.field("head_id")?,
                devices: o.field("devices")?,
                reason: o.field("reason")?,
            })
        })
    }
}

impl FromJson for ApiError {
    fn from_json(value: &Value<'_>) -> Result<Self, Error> {
        object(value, |o| {
            Ok(Self {
                error: o.field("error")?,
            })
        })
    }
}
