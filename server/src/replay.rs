//! The bounded ring of recent device events that `Last-Event-ID` resumes from.
//!
//! The buffer only holds frames; whether a reader gets a replay or a `reset` is decided by
//! [`wire::resume`] over a `wire::LogView` the hub builds from [`ReplayBuffer::oldest`].

use std::collections::VecDeque;

use bytes::Bytes;

impl Frame {
    /// `sse`: the encoded frame ([`crate::frame::event`]).
    pub fn new(id: u64, sse: &[u8], at: tokio::time::Instant) -> Self {
        let (chunked, bytes) = crate::frame::chunked(sse);
        Self {
            id,
            bytes,
            chunked,
            at,
        }
    }
}

/// One device event, already encoded as an SSE frame (see [`crate::frame`]).
#[derive(Debug, Clone)]
pub struct Frame {
    pub id: u64,
    /// The SSE frame: a slice of [`Frame::chunked`].
    pub bytes: Bytes,
    /// The same frame as an HTTP/1.1 chunk (size, CRLF, frame, CRLF), for the streams
    /// [`crate::direct`] writes: framed once per event, then written with one plain `send` per
    /// stream instead of a three-part `sendmsg`.
    pub chunked: Bytes,
    /// When this replica published it: a stream's next keep-alive is due a period after the
    /// last event it was sent (see [`crate::sse`]), read from here rather than from the clock
    /// once per stream.
    pub at: tokio::time::Instant,
}

/// The newest `capacity` frames. Ids are consecutive, so a lookup is an index computation.
#[derive(Debug)]
pub struct ReplayBuffer {
    frames: VecDeque<Frame>,
    capacity: usize,
}

impl ReplayBuffer {
    pub fn new(capacity: usize) -> Self {
        Self {
            frames: VecDeque::with_capacity(capacity.min(4096)),
            capacity,
        }
    }

    pub fn push(&mut self, frame: Frame) {
        if self.capacity == 0 {
            return;
        }
        if self.frames.len() == self.capacity {
            self.frames.pop_front();
        }
        self.frames.push_back(frame);
    }

    /// Forgets every frame (the log moved to another run, or events were lost).
    pub fn clear(&mut self) {
        self.frames = VecDeque::new();
    }

    /// Oldest id still held, if any.
    pub fn oldest(&self) -> Option<u64> {
        self.frames.front().map(|f| f.id)
    }

    /// Every held frame with an id above `last`, oldest first.
    pub fn after(&self, last: u64) -> Vec<Frame> {
        // Ids are consecutive: skip straight to the first one after `last`.
        let skip = self
            .oldest()
            .map_or(0, |oldest| last.saturating_add(1).saturating_sub(oldest));
        self.frames
            .iter()
            .skip(usize::try_from(skip).unwrap_or(usize::MAX))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buf(cap: usize, ids: std::ops::RangeInclusive<u64>) -> ReplayBuffer {
        let mut b = ReplayBuffer::new(cap);
        for id in ids {
            b.push(Frame::new(
                id,
                id.to_string().as_bytes(),
                tokio::time::Instant::now(),
            ));
        }
        b
    }

    fn ids(frames: Vec<Frame>) -> Vec<u64> {
        frames.into_iter().map(|f| f.id).collect()
    }

    #[test]
    fn holds_the_newest_and_replays_what_follows_a_point() {
        let b = buf(4, 101..=110); // holds 107..=110
        assert_eq!(b.oldest(), Some(107));
        assert_eq!(ids(b.after(106)), vec![107, 108, 109, 110]);
        assert_eq!(ids(b.after(108)), vec![109, 110]);
        assert_eq!(ids(b.after(110)), Vec::<u64>::new());
        assert_eq!(ids(b.after(3)), vec![107, 108, 109, 110]);
        assert_eq!(ReplayBuffer::new(4).oldest(), None);
        assert_eq!(ReplayBuffer::new(0).after(0).len(), 0);
    }
}
