//! tabrelay's shared crate: compiled into the server (feature `ssr`) and into the wasm bundle
//! (feature `hydrate`).
//!
//! | module      | job                                                                          |
//! |-------------|------------------------------------------------------------------------------|
//! | [`inbox`]   | decoding what a tab receives from the SharedWorker and `storage` events     |
//! | [`model`]   | the wire model: every SSE payload and API body, shared with the server        |
//! | [`shared`]  | the app-facing API: `use_shared_event_source`, `on` / `off` / `connect`     |
//! | [`snapshot`]| the state the page is first rendered with (devices, counters), from the server|
//! | [`state`]   | the reactive view of this tab (role, leader, received events) the UI renders  |
//! | [`ui`]      | Leptos components: the shell and the dashboard                                |
//! | `runtime`   | (hydrate only) the browser shell of the core: Web Locks, `BroadcastChannel`,  |
//! |             | `EventSource`, Page Lifecycle; it fills [`state::TabState`]                   |
//! | [`coord`]   | re-export of the sans-IO tab-coordination core                                |

pub mod inbox;
pub mod model;
pub mod shared;
pub mod snapshot;
pub mod state;
pub mod ui;

#[cfg(feature = "hydrate")]
pub mod runtime;

pub use coord;
pub use ui::{not_found_shell, shell, App};
