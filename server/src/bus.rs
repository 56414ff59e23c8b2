//! The publisher side: where device changes are numbered and handed to every replica's hub.
//!
//! Today there is one process, so [`LocalBus`] numbers events in this process's [`Hub`]. With
//! several replicas behind a load balancer, a `RedisBus` would implement [`Bus`] by taking the
//! id from a shared counter (`INCR`) and `PUBLISH`ing the numbered event; a task on every
//! replica would `SUBSCRIBE` and feed each event to its own hub with [`Hub::ingest`]. Streams,
//! replay and fan-out would not change: they only ever talk to the local hub.

use std::sync::Arc;

use app::model::{DeviceEvent, DeviceEventKind};
use futures::future::BoxFuture;

use crate::hub::Hub;

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The bus could not reach its backend (unused by [`LocalBus`]).
    #[error("event bus unavailable: {0}")]
    Unavailable(String),
}

/// Publishes device changes. Both the simulator and the inject API go through this.
pub trait Bus: Send + Sync + 'static {
    /// Numbers the change, delivers it to every hub, and returns the numbered event. `name`
    /// (already validated) renames the device.
    fn publish(
        &self,
        device: &str,
        kind: DeviceEventKind,
        name: Option<String>,
    ) -> BoxFuture<'_, Result<DeviceEvent, BusError>>;
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
}
