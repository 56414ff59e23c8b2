//! The state a page is first rendered with: the devices and the server's counters, so the
//! dashboard shows real data before hydration and before the first event (no empty flash).
//!
//! The server provides a [`SnapshotSource`] in the Leptos context; [`use_snapshot`] reads it
//! during server-side rendering, and the value travels to the browser inside the page, where
//! hydration picks it up without a request.

use crate::model::{Device, Stats};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub devices: Vec<Device>,
    pub stats: Stats,
}

/// Implemented by the server's hub; put in the Leptos context as a [`SharedSnapshotSource`].
pub trait SnapshotSource: Send + Sync + 'static {
    fn snapshot(&self) -> Snapshot;
}

/// What the server provides with `provide_context`.
pub type SharedSnapshotSource = std::sync::Arc<dyn SnapshotSource>;

/// The snapshot the page was rendered with (`None` until it is known, or if the server has none).
pub fn use_snapshot() -> Resource<Option<Snapshot>> {
    // On the server the source is in the context; in the browser hydration supplies the value the
    // server rendered, so the fetcher does not run there (its source never changes).
    let source = use_context::<SharedSnapshotSource>();
    Resource::new_blocking(
        || (),
        move |_| {
            let snapshot = source.as_ref().map(|source| source.snapshot());
            async move { snapshot }
        },
    )
}
