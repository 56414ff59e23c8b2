//! tabrelay's shared crate: compiled into the server (feature `ssr`) and into the wasm bundle
//! (feature `hydrate`).
//!
//! | module      | job                                                                          |
//! |-------------|------------------------------------------------------------------------------|
//! | [`model`]   | the wire model: every SSE payload and API body, shared with the server        |
//! | [`state`]   | the reactive view of this tab (role, leader, received events) the UI renders  |
//! | [`ui`]      | Leptos components: the shell and the dashboard                                |
//! | `runtime`   | (hydrate only) the browser side: leader election, the one `EventSource`, the  |
//! |             | `BroadcastChannel` relay; it fills [`state::TabState`]                        |
//! | [`coord`]   | re-export of the sans-IO tab-coordination core                                |

pub mod model;
pub mod state;
pub mod ui;

#[cfg(feature = "hydrate")]
pub mod runtime;

pub use coord;
pub use ui::{shell, App};
