//! The state a page is first rendered with: the devices and the server's counters, so the
//! dashboard shows real data before hydration and before the first event (no empty flash).
//!
//! The server provides a [`SnapshotSource`] in the Leptos context. The shell takes one snapshot
//! per page, renders it into the page as a JSON data block (`<script type="application/json">`,
//! never executed) and hands the same value to the view. The browser reads that block
//! synchronously before hydrating, so both sides render the same first view. This replaces a
//! blocking `Resource` + `Suspense`, whose async hydration machinery cost bundle size.

use crate::model::{Device, Stats};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub devices: Vec<Device>,
    pub stats: Stats,
    /// The open-connection count over the sparkline's window, oldest first, so a new tab's
    /// sparkline starts with the last few minutes rather than empty
    /// ([`crate::model::encode_history`]).
    pub connection_history: String,
    /// When the snapshot was taken (server clock, ms since epoch): the browser shifts the
    /// history by its own clock's difference.
    pub taken_at_ms: u64,
}

/// The serde derive's form, read in the browser with `wire::json` (no serde_json in the bundle).
impl wire::json::FromJson for Snapshot {
    fn from_json(value: &wire::json::Value<'_>) -> Result<Self, wire::json::Error> {
        wire::json::object(value, |o| {
            Ok(Snapshot {
                devices: o.field("devices")?,
                stats: o.field("stats")?,
                connection_history: o.field("connection_history")?,
                taken_at_ms: o.field("taken_at_ms")?,
            })
        })
    }
}

/// Implemented by the server's hub; put in the Leptos context as a [`SharedSnapshotSource`].
pub trait SnapshotSource: Send + Sync + 'static {
    fn snapshot(&self) -> Snapshot;
}

/// What the server provides with `provide_context`.
pub type SharedSnapshotSource = std::sync::Arc<dyn SnapshotSource>;

/// The id of the JSON data block that carries the snapshot to the browser.
pub const SNAPSHOT_ELEMENT_ID: &str = "tabrelay-snapshot";

/// The page's snapshot (`None` if the server has none).
///
/// On the server: the one the shell took (see [`take_snapshot`]). In the browser: the one the
/// server rendered into the page.
pub fn use_snapshot() -> Option<Snapshot> {
    #[cfg(feature = "ssr")]
    {
        leptos::prelude::use_context::<PageSnapshot>().and_then(|page| page.0)
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        let text = web_sys::window()?
            .document()?
            .get_element_by_id(SNAPSHOT_ELEMENT_ID)?
            .text_content()?;
        wire::json::from_str(&text).ok()
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        None
    }
}

/// The snapshot of the page being rendered, shared by the shell and the view.
#[cfg(feature = "ssr")]
#[derive(Clone)]
struct PageSnapshot(Option<Snapshot>);

/// Takes the page's snapshot from the server's [`SnapshotSource`] (once, so the data block and
/// the rendered view agree) and returns it as JSON for the data block: `<` is escaped so no text
/// in it can close the `<script>` element.
/// (Only the server renders the shell; elsewhere this is `null`.)
pub fn take_snapshot() -> String {
    #[cfg(feature = "ssr")]
    {
        use leptos::prelude::{provide_context, use_context};
        let snapshot = use_context::<SharedSnapshotSource>().map(|source| source.snapshot());
        let json = serde_json::to_string(&snapshot).unwrap_or_else(|_| "null".into());
        provide_context(PageSnapshot(snapshot));
        json.replace('<', "\\u003c")
    }
    #[cfg(not(feature = "ssr"))]
    {
        "null".into()
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[test]
    fn the_data_block_cannot_close_the_script_element() {
        let owner = leptos::prelude::Owner::new();
        owner.with(|| {
            struct Source;
            impl SnapshotSource for Source {
                fn snapshot(&self) -> Snapshot {
                    Snapshot {
                        devices: vec![Device {
                            id: "lamp".into(),
                            online: true,
                            changed_at_ms: 1,
                            name: Some("</script><b>x".into()),
                        }],
                        ..Snapshot::default()
                    }
                }
            }
            leptos::prelude::provide_context::<SharedSnapshotSource>(std::sync::Arc::new(Source));
            let json = take_snapshot();
            assert!(!json.contains('<'), "{json}");
            let back: Option<Snapshot> = serde_json::from_str(&json).unwrap();
            assert_eq!(back, use_snapshot());
            // What the browser reads (the `<` escapes included).
            let read: Option<Snapshot> = wire::json::from_str(&json).unwrap();
            assert_eq!(read, back);
            assert_eq!(
                back.unwrap().devices[0].name.as_deref(),
                Some("</script><b>x")
            );
        });
    }
}
