//! SSE wire framing, and the HTTP/1.1 chunk framing of the streams `crate::direct` writes.
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

/// `sse` as one HTTP/1.1 chunk (size line, data, CRLF), and the slice of it that is `sse`: a
/// device event is framed so once, for every stream `crate::direct` writes.
pub fn chunked(sse: &[u8]) -> (Bytes, Bytes) {
    if sse.is_empty() {
        return (Bytes::new(), Bytes::new());
    }
    let mut out = BytesMut::with_capacity(sse.len() + 20);
    chunk_into(sse, &mut out);
    let out = out.freeze();
    let from = out.len() - sse.len() - 2;
    let inner = out.slice(from..from + sse.len());
    (out, inner)
}

/// Appends `data` framed as one HTTP/1.1 chunk; nothing for empty `data`, whose chunk
/// (`0\r\n\r\n`) would end the body.
pub(crate) fn chunk_into(data: &[u8], out: &mut BytesMut) {
    if data.is_empty() {
        return;
    }
    let mut size = [0u8; 18];
    let len = chunk_size_line(data.len(), &mut size);
    out.extend_from_slice(&size[..len]);
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// `n` in lowercase hex followed by CRLF; returns the length written.
pub(crate) fn chunk_size_line(n: usize, out: &mut [u8; 18]) -> usize {
    let digits = if n == 0 {
        1
    } else {
        (usize::BITS - n.leading_zeros()).div_ceil(4) as usize
    };
    for (i, digit) in out.iter_mut().take(digits).enumerate() {
        *digit = b"0123456789abcdef"[(n >> (4 * (digits - 1 - i))) & 0xf];
    }
    out[digits] = b'\r';
    out[digits + 1] = b'\n';
    digits + 2
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

    #[test]
    fn chunk_sizes_are_lowercase_hex() {
        let mut out = [0u8; 18];
        for (n, want) in [
            (0usize, "0\r\n"),
            (9, "9\r\n"),
            (10, "a\r\n"),
            (255, "ff\r\n"),
            (256, "100\r\n"),
            (0x1234_abcd, "1234abcd\r\n"),
        ] {
            let len = chunk_size_line(n, &mut out);
            assert_eq!(std::str::from_utf8(&out[..len]).unwrap(), want);
        }
    }

    #[test]
    fn a_frame_framed_once_is_the_same_chunk_and_holds_the_frame() {
        let sse = b"id: 7\nevent: x\ndata: {}\n\n".repeat(20);
        let (chunk, inner) = chunked(&sse);
        let mut want = BytesMut::new();
        chunk_into(&sse, &mut want);
        assert_eq!(chunk, want);
        assert!(chunk.starts_with(format!("{:x}\r\n", sse.len()).as_bytes()));
        assert_eq!(inner, sse[..]);
    }

    /// A zero-size chunk is the last chunk of a body: an empty frame must not become one.
    #[test]
    fn an_empty_frame_is_no_chunk() {
        let mut out = BytesMut::new();
        chunk_into(b"", &mut out);
        assert!(out.is_empty());
        assert_eq!(chunked(b""), (Bytes::new(), Bytes::new()));
    }
}
