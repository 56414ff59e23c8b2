//! The bounded ring of recent device events that `Last-Event-ID` resumes from.

use std::collections::VecDeque;

use bytes::Bytes;

/// One device event, already encoded as an SSE frame (see [`crate::frame`]).
#[derive(Debug, Clone)]
pub struct Frame {
    pub id: u64,
    pub bytes: Bytes,
}

/// What a stream resuming after a given id must be sent first.
#[derive(Debug)]
pub enum Resume {
    /// Nothing was missed.
    UpToDate,
    /// These buffered frames, oldest first; then live.
    Replay(Vec<Frame>),
    /// The resume point is gone from the buffer (or is ahead of this instance's head): the
    /// client must start again from a snapshot.
    Reset(&'static str),
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

    /// Oldest id still held, if any.
    pub fn oldest(&self) -> Option<u64> {
        self.frames.front().map(|f| f.id)
    }

    /// What to send a client that has seen everything up to `last` when the newest id is `head`.
    pub fn since(&self, last: u64, head: u64) -> Resume {
        if last > head {
            return Resume::Reset(
                "resume point is ahead of this server's newest event (another server instance?)",
            );
        }
        if last == head {
            return Resume::UpToDate;
        }
        match self.oldest() {
            Some(oldest) if oldest <= last + 1 => Resume::Replay(
                self.frames
                    .iter()
                    .filter(|f| f.id > last)
                    .cloned()
                    .collect(),
            ),
            _ => Resume::Reset("resume point is older than the replay buffer"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buf(cap: usize, ids: std::ops::RangeInclusive<u64>) -> ReplayBuffer {
        let mut b = ReplayBuffer::new(cap);
        for id in ids {
            b.push(Frame {
                id,
                bytes: Bytes::from(id.to_string()),
            });
        }
        b
    }

    fn ids(r: Resume) -> Vec<u64> {
        match r {
            Resume::Replay(f) => f.into_iter().map(|f| f.id).collect(),
            other => panic!("expected a replay, got {other:?}"),
        }
    }

    #[test]
    fn replays_exactly_what_follows_the_resume_point() {
        let b = buf(4, 1..=10); // holds 7..=10
        assert_eq!(b.oldest(), Some(7));
        assert_eq!(ids(b.since(6, 10)), vec![7, 8, 9, 10]);
        assert_eq!(ids(b.since(8, 10)), vec![9, 10]);
        assert!(matches!(b.since(10, 10), Resume::UpToDate));
    }

    #[test]
    fn too_old_or_ahead_is_a_reset() {
        let b = buf(4, 1..=10);
        assert!(matches!(b.since(5, 10), Resume::Reset(_)));
        assert!(matches!(b.since(0, 10), Resume::Reset(_)));
        assert!(matches!(b.since(11, 10), Resume::Reset(_)));
        // From zero with everything still buffered: a full replay, not a reset.
        assert_eq!(ids(buf(16, 1..=3).since(0, 3)), vec![1, 2, 3]);
        // A fresh server (head 0) and a client from a previous run.
        assert!(matches!(ReplayBuffer::new(4).since(3, 0), Resume::Reset(_)));
    }
}
