//! The wire model (every SSE payload and API body), now in the `wire` crate: see [`wire::model`].
pub use wire::model::*;
