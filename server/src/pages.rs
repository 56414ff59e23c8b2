//! The seam to the Leptos UI (`app::shell`): the first render of the page gets the current
//! devices and counters from the hub through the Leptos context, so the dashboard shows real
//! data before hydration and before the first event.

use std::sync::Arc;

use app::snapshot::{SharedSnapshotSource, Snapshot, SnapshotSource};
use leptos::prelude::provide_context;
use wire::model::encode_history;

use crate::AppState;

struct HubSnapshot(AppState);

impl SnapshotSource for HubSnapshot {
    fn snapshot(&self) -> Snapshot {
        let now_ms = crate::hub::now_ms();
        Snapshot {
            devices: self.0.hub.devices(),
            stats: self.0.stats().stats,
            connection_history: encode_history(&self.0.connection_history.samples(now_ms)),
            taken_at_ms: now_ms,
        }
    }
}

/// The context every server-rendered page gets.
pub fn context(state: &AppState) -> impl Fn() + Clone + Send + Sync + 'static {
    let source: SharedSnapshotSource = Arc::new(HubSnapshot(state.clone()));
    move || provide_context(Arc::clone(&source))
}
