//! The publisher side: where device changes are numbered and handed to every replica's hub.
//!
//! [`LocalBus`] (the default) numbers events in this process's [`Hub`]. With several replicas,
//! [`crate::redis_bus::RedisBus`] numbers them in Redis and every replica's tail feeds its own
//! hub with [`Hub::ingest`]. Streams, replay and fan-out do not change: they only ever talk to
//! the local hub.

use std::sync::Arc;

use futures::future::BoxFuture;
use wire::model::{DeviceEvent, DeviceEventKind};

use crate::hub::Hub;

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The bus could not reach its backend; nothing was published.
    #[error("event bus unavailable: {0}")]
    Unavailable(String),
}

/// Publishes device changes. Both the simulator and the inject API go through this.
pub trait Bus: Send + Sync + 'static {
    /// Numbers the change, delivers it to every hub, and returns the numbered event once this
    /// replica's hub has it (a reader of this replica sees its own write). `name` (already
    /// validated) renames the device.
    fn publish(
        &self,
        device: &str,
        kind: DeviceEventKind,
        name: Option<String>,
    ) -> BoxFuture<'_, Result<DeviceEvent, BusError>>;

    /// Adds devices that do not exist yet, without an event (the simulator's population).
    fn register_devices(&self, devices: Vec<(String, bool)>)
        -> BoxFuture<'_, Result<(), BusError>>;

    /// Whether this replica should run the simulator now: always with one process; with
    /// several, the one holding a lease (renewed by calling this at least every `interval`).
    fn simulator_turn(&self, interval: std::time::Duration) -> BoxFuture<'_, bool>;
}

/// The single-process bus: the local hub numbers and fans out.
pub struct LocalBus {
    hub: Arc<Hub>,
}

impl LocalBus {
    pub fn new(hub: Arc<Hub>) -> Self {
        Self { hub }
    }
}

impl Bus for LocalBus {
    fn publish(
        &self,
        device: &str,
        kind: DeviceEventKind,
        name: Option<String>,
    ) -> BoxFuture<'_, Result<DeviceEvent, BusError>> {
        let event = self.hub.publish_next(device, kind, name);
        Box::pin(async move { Ok(event) })
    }

    fn register_devices(
        &self,
        devices: Vec<(String, bool)>,
    ) -> BoxFuture<'_, Result<(), BusError>> {
        for (id, online) in devices {
            self.hub.register_device(&id, online);
        }
        Box::pin(async { Ok(()) })
    }

    fn simulator_turn(&self, _interval: std::time::Duration) -> BoxFuture<'_, bool> {
        Box::pin(async { true })
    }
}
