//! tabrelay's dashboard: compiled into the server (feature `ssr`) and into the wasm bundle
//! (feature `hydrate`). One consumer of the `tabrelay` library among others.
//!
//! | module       | job                                                                          |
//! |--------------|------------------------------------------------------------------------------|
//! | [`model`]    | the wire model: every SSE payload and API body, shared with the server        |
//! | [`source`]   | the dashboard's options for `tabrelay` and its page query                     |
//! | [`data`]     | the dashboard's data (event log, devices, counters) the UI renders            |
//! | [`snapshot`] | the state the page is first rendered with (devices, counters), from the server|
//! | [`ui`]       | Leptos components: the shell and the dashboard                                |
//! | `browser`    | (hydrate only) the handlers that fill [`data`], resync, `document.body.dataset`|

pub mod data;
pub mod model;
pub mod snapshot;
pub mod source;
pub mod ui;

#[cfg(feature = "hydrate")]
mod browser;

pub use tabrelay;
pub use ui::{not_found_shell, shell, App};
