//! The JSON API under `/api` (the SSE stream itself is [`crate::sse`]).

pub mod devices;
pub mod health;
pub mod stats;
