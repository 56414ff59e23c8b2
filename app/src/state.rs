//! The reactive state of one tab, shared by the runtime (which writes it) and the UI (which reads
//! it). Server-side rendering sees the initial values only.

use crate::model::DeviceEvent;
use leptos::prelude::*;
use std::collections::VecDeque;

/// How many device events the log keeps (the testing contract asks for at least 500).
pub const EVENT_LOG_CAPACITY: usize = 500;

/// What this tab is doing in the election.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Electing,
    Leader,
    Follower,
}

impl Role {
    /// The word used in the page and in `document.body.dataset.role`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Electing => "electing",
            Role::Leader => "leader",
            Role::Follower => "follower",
        }
    }
}

/// A device event as this tab received it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedEvent {
    pub event: DeviceEvent,
    /// `true` when it came over the BroadcastChannel from the leader, `false` when this tab read
    /// it from the server stream itself.
    pub relayed: bool,
}

/// The signals the dashboard renders. Cheap to copy (arena-allocated signals).
#[derive(Debug, Clone, Copy)]
pub struct TabState {
    pub tab_id: RwSignal<String>,
    pub role: RwSignal<Role>,
    pub leader_id: RwSignal<Option<String>>,
    /// Newest first, at most [`EVENT_LOG_CAPACITY`].
    pub events: RwSignal<VecDeque<ReceivedEvent>>,
    /// Distinct device events received since the tab opened (not capped).
    pub events_received: RwSignal<u64>,
    /// The highest device event id seen; a new leader resumes the stream from here.
    pub highest_id: RwSignal<u64>,
    /// The server's open SSE stream count, from its live `stats` events.
    pub open_connections: RwSignal<Option<u64>>,
    seen: StoredValue<SeenIds>,
}

impl TabState {
    pub fn new() -> Self {
        Self {
            tab_id: RwSignal::new(String::new()),
            role: RwSignal::new(Role::Electing),
            leader_id: RwSignal::new(None),
            events: RwSignal::new(VecDeque::new()),
            events_received: RwSignal::new(0),
            highest_id: RwSignal::new(0),
            open_connections: RwSignal::new(None),
            seen: StoredValue::new(SeenIds::default()),
        }
    }

    /// Records a device event unless this tab already has it. Returns whether it was new.
    ///
    pub fn record(&self, event: DeviceEvent, relayed: bool) -> bool {
        let id = event.id;
        if !self.seen.try_update_value(|seen| seen.insert(id)).unwrap_or(false) {
            return false;
        }
        self.events.update(|log| {
            // Keep newest first even if a replayed (older) event arrives after a newer one.
            let at = log.iter().position(|e| e.event.id < id).unwrap_or(log.len());
            log.insert(at, ReceivedEvent { event, relayed });
            log.truncate(EVENT_LOG_CAPACITY);
        });
        self.events_received.update(|n| *n += 1);
        self.highest_id.update(|h| *h = (*h).max(id));
        true
    }
}

impl Default for TabState {
    fn default() -> Self {
        Self::new()
    }
}

/// The set of event ids a tab has seen, in bounded memory.
///
/// Server ids are consecutive, so almost everything below the highest id is "seen": keep a
/// watermark (every id up to it is seen) plus the few ids above it that arrived out of order.
#[derive(Debug, Default)]
pub struct SeenIds {
    watermark: Option<u64>,
    above: std::collections::BTreeSet<u64>,
}

impl SeenIds {
    /// Ids above the watermark kept at most; past this the oldest gap is given up on.
    const MAX_ABOVE: usize = 4096;

    /// Marks `id` seen; returns `false` if it was already.
    pub fn insert(&mut self, id: u64) -> bool {
        // Events older than the first one this tab saw happened before it existed.
        let watermark = *self.watermark.get_or_insert(id.saturating_sub(1));
        if id <= watermark || !self.above.insert(id) {
            return false;
        }
        self.compact();
        true
    }

    fn compact(&mut self) {
        let mut watermark = self.watermark.unwrap_or(0);
        while self.above.len() > Self::MAX_ABOVE
            || self.above.first() == Some(&(watermark + 1))
        {
            watermark = self.above.pop_first().expect("non-empty");
        }
        self.watermark = Some(watermark);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_ids_reject_duplicates_in_and_out_of_order() {
        let mut seen = SeenIds::default();
        assert!(seen.insert(10));
        assert!(seen.insert(12));
        assert!(!seen.insert(12));
        assert!(seen.insert(11), "a gap that fills in is new");
        assert!(!seen.insert(11));
        assert!(!seen.insert(10));
        assert!(!seen.insert(3), "older than the first event this tab saw");
        assert!(seen.insert(13));
        assert_eq!(seen.watermark, Some(13));
        assert!(seen.above.is_empty());
    }

    #[test]
    fn seen_ids_stay_bounded_when_a_gap_never_fills() {
        let mut seen = SeenIds::default();
        seen.insert(1);
        for id in 3..3 + 10_000 {
            assert!(seen.insert(id));
        }
        assert!(seen.above.len() <= SeenIds::MAX_ABOVE);
        assert!(!seen.insert(5_000));
    }
}
