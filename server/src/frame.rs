//! SSE wire framing.
//!
//! Frames are built once as [`Bytes`] and then shared: fanning one device event out to 10,000
//! streams costs 10,000 reference-count increments, not 10,000 JSON encodings or copies. That is
//! why the server writes its own frames instead of going through `axum::response::sse::Event`,
//! which builds a fresh buffer per stream.

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;

/// An SSE comment: keeps proxies and the browser from timing out an idle stream.
pub const KEEP_ALIVE: Bytes = Bytes::from_static(b":\n\n");

/// Encodes one SSE event. `data` is serialised as compact JSON, which never contains a newline,
/// so it always fits on one `data:` line.
pub fn event(name: &str, id: Option<u64>, retry_ms: Option<u64>, data: &impl Serialize) -> Bytes {
    let json = serde_json::to_vec(data).expect("wire model types always serialise");
    let mut buf = BytesMut::with_capacity(json.len() + name.len() + 48);
    if let Some(retry) = retry_ms {
        buf.put_slice(format!("retry: {retry}\n").as_bytes());
    }
    if let Some(id) = id {
        buf.put_slice(format!("id: {id}\n").as_bytes());
    }
    buf.put_slice(b"event: ");
    buf.put_slice(name.as_bytes());
    buf.put_slice(b"\ndata: ");
    buf.put_slice(&json);
    buf.put_slice(b"\n\n");
    buf.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_have_the_sse_shape() {
        let f = event(
            "device-online",
            Some(7),
            None,
            &serde_json::json!({"device": "a\nb"}),
        );
        assert_eq!(
            &f[..],
            b"id: 7\nevent: device-online\ndata: {\"device\":\"a\\nb\"}\n\n"
        );
        let f = event("hello", None, Some(3000), &serde_json::json!({}));
        assert_eq!(&f[..], b"retry: 3000\nevent: hello\ndata: {}\n\n");
    }
}
