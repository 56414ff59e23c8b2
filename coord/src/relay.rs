//! Per-tab event bookkeeping: dedupe by id, in-order delivery across gaps, the ring of recent
//! events a leader resends from, and the server snapshot (`reset`) rule.
//!
//! Every tab runs the same log, leader or follower, so a follower that becomes leader already has
//! the recent history to answer resend requests.

use std::collections::{BTreeMap, VecDeque};

use crate::ServerEvent;

/// SSE event names the core looks into.
pub mod names {
    pub const HELLO: &str = "hello";
    pub const RESET: &str = "reset";
}

/// What the app gets out of one accepted event, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Delivery {
    Event(ServerEvent),
    Reset(ServerEvent),
    Lost { from: u64, to: u64 },
}

#[derive(Debug, Clone)]
pub(crate) struct EventLog {
    /// Highest id delivered (or covered by a snapshot). `None`: no baseline yet, the first id
    /// seen becomes it.
    highest: Option<u64>,
    /// Events above a gap, waiting for it to fill.
    pending: BTreeMap<u64, ServerEvent>,
    /// Recently delivered numbered events, ascending and consecutive.
    ring: VecDeque<ServerEvent>,
    ring_capacity: usize,
    pending_capacity: usize,
    pub(crate) duplicates: u64,
}

impl EventLog {
    pub(crate) fn new(ring_capacity: usize, pending_capacity: usize) -> Self {
        Self {
            highest: None,
            pending: BTreeMap::new(),
            ring: VecDeque::new(),
            ring_capacity,
            pending_capacity: pending_capacity.max(1),
            duplicates: 0,
        }
    }

    pub(crate) fn highest(&self) -> Option<u64> {
        self.highest
    }

    pub(crate) fn has_gap(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Adopts `id` as the baseline when there is none yet (a new tab learning where the leader
    /// is, so that a lost relay right after it is detected as a gap).
    pub(crate) fn set_baseline(&mut self, id: u64) {
        if self.highest.is_none() {
            self.highest = Some(id);
            self.pending.retain(|&k, _| k > id);
        }
    }

    /// The server restarted (new instance): its ids start again, forget ours.
    pub(crate) fn forget(&mut self) {
        self.highest = None;
        self.pending.clear();
        self.ring.clear();
    }

    /// Ring events with an id above `after`, or `None` when the ring no longer reaches back
    /// to `after + 1`.
    pub(crate) fn since(&self, after: u64) -> Option<Vec<ServerEvent>> {
        let first = self.ring.front()?.id?;
        if first > after.saturating_add(1) {
            return None;
        }
        Some(
            self.ring
                .iter()
                .filter(|e| e.id.is_some_and(|id| id > after))
                .cloned()
                .collect(),
        )
    }

    /// Takes one event (from the stream or a relay) and returns what to hand to the app.
    pub(crate) fn accept(&mut self, event: ServerEvent) -> Vec<Delivery> {
        if event.id.is_none() && event.name == names::RESET {
            return self.accept_reset(event);
        }
        let Some(id) = event.id else {
            // hello, stats: not numbered, never move the resume point.
            return vec![Delivery::Event(event)];
        };
        let mut out = Vec::new();
        match self.highest {
            Some(h) if id <= h => self.duplicates += 1,
            Some(h) if id > h + 1 => {
                if self.pending.insert(id, event).is_some() {
                    self.duplicates += 1;
                }
                if self.pending.len() > self.pending_capacity {
                    // Give up on the gap: tell the app what is lost and move on.
                    let first = *self.pending.keys().next().expect("pending is not empty");
                    out.push(Delivery::Lost {
                        from: h + 1,
                        to: first - 1,
                    });
                    self.highest = Some(first - 1);
                    self.drain(&mut out);
                }
            }
            _ => {
                self.deliver(event, &mut out);
                self.drain(&mut out);
            }
        }
        out
    }

    fn accept_reset(&mut self, event: ServerEvent) -> Vec<Delivery> {
        let head = reset_head(&event.data);
        if let (Some(h), Some(head)) = (self.highest, head) {
            if h >= head {
                // We have delivered every event up to the snapshot: it holds nothing new for us.
                self.duplicates += 1;
                return Vec::new();
            }
        }
        let mut out = vec![Delivery::Reset(event)];
        if let Some(head) = head {
            self.highest = Some(head);
            self.pending.retain(|&k, _| k > head);
            self.ring.clear();
            self.drain(&mut out);
        }
        out
    }

    fn deliver(&mut self, event: ServerEvent, out: &mut Vec<Delivery>) {
        let id = event.id.expect("only numbered events are delivered here");
        self.highest = Some(id);
        if self
            .ring
            .back()
            .and_then(|e| e.id)
            .is_some_and(|last| last + 1 != id)
        {
            self.ring.clear(); // keep the ring consecutive
        }
        self.ring.push_back(event.clone());
        while self.ring.len() > self.ring_capacity {
            self.ring.pop_front();
        }
        out.push(Delivery::Event(event));
    }

    fn drain(&mut self, out: &mut Vec<Delivery>) {
        while let Some(h) = self.highest {
            let Some(next) = self.pending.remove(&(h + 1)) else {
                break;
            };
            self.deliver(next, out);
        }
        let h = self.highest.unwrap_or(0);
        self.pending.retain(|&k, _| k > h);
    }
}

/// `head_id` of a `reset` payload.
fn reset_head(data: &str) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_str(data).ok()?;
    v.get("head_id")?.as_u64()
}

/// The fields of a `hello` payload the core uses; missing or malformed ones are `None`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Hello {
    pub(crate) instance: Option<String>,
    pub(crate) head_id: Option<u64>,
    pub(crate) retry_ms: Option<u64>,
}

pub(crate) fn parse_hello(data: &str) -> Hello {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(data) else {
        return Hello::default();
    };
    Hello {
        instance: v
            .get("instance")
            .and_then(|i| i.as_str())
            .map(str::to_owned),
        head_id: v.get("head_id").and_then(|r| r.as_u64()),
        retry_ms: v.get("retry_ms").and_then(|r| r.as_u64()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: u64) -> ServerEvent {
        ServerEvent::new(Some(id), "device-online", format!("{id}"))
    }

    fn ids(d: &[Delivery]) -> Vec<u64> {
        d.iter()
            .filter_map(|d| match d {
                Delivery::Event(e) => e.id,
                _ => None,
            })
            .collect()
    }

    #[test]
    fn first_event_is_the_baseline_and_duplicates_are_dropped() {
        let mut log = EventLog::new(8, 8);
        assert_eq!(ids(&log.accept(ev(5))), [5]);
        assert_eq!(ids(&log.accept(ev(5))), Vec::<u64>::new());
        assert_eq!(ids(&log.accept(ev(4))), Vec::<u64>::new());
        assert_eq!(ids(&log.accept(ev(6))), [6]);
        assert_eq!(log.duplicates, 2);
        assert_eq!(log.highest(), Some(6));
    }

    #[test]
    fn gaps_hold_later_events_until_filled() {
        let mut log = EventLog::new(8, 8);
        log.accept(ev(1));
        assert!(log.accept(ev(3)).is_empty());
        assert!(log.accept(ev(4)).is_empty());
        assert!(log.has_gap());
        assert_eq!(log.highest(), Some(1));
        assert_eq!(ids(&log.accept(ev(2))), [2, 3, 4]);
        assert!(!log.has_gap());
    }

    #[test]
    fn ring_serves_resends_while_it_reaches_back() {
        let mut log = EventLog::new(3, 8);
        for i in 1..=5 {
            log.accept(ev(i));
        }
        assert_eq!(
            log.since(2)
                .unwrap()
                .iter()
                .map(|e| e.id.unwrap())
                .collect::<Vec<_>>(),
            [3, 4, 5]
        );
        assert_eq!(log.since(5).unwrap(), vec![]);
        assert!(log.since(1).is_none());
    }

    #[test]
    fn reset_moves_the_baseline_unless_we_are_ahead() {
        let mut log = EventLog::new(8, 8);
        log.accept(ev(1));
        log.accept(ev(9)); // pending behind a gap
        let reset = ServerEvent::new(None, "reset", r#"{"head_id":7,"devices":[],"reason":"x"}"#);
        let out = log.accept(reset.clone());
        assert_eq!(out[0], Delivery::Reset(reset.clone()));
        assert_eq!(log.highest(), Some(7));
        assert!(log.has_gap()); // 9 still waits for 8
        assert_eq!(ids(&log.accept(ev(8))), [8, 9]);
        assert!(
            log.accept(reset).is_empty(),
            "a snapshot older than what we have is ignored"
        );
    }

    #[test]
    fn pending_overflow_reports_the_loss() {
        let mut log = EventLog::new(8, 2);
        log.accept(ev(1));
        log.accept(ev(4));
        log.accept(ev(5));
        let out = log.accept(ev(6));
        assert_eq!(out[0], Delivery::Lost { from: 2, to: 3 });
        assert_eq!(ids(&out), [4, 5, 6]);
    }

    #[test]
    fn hello_fields() {
        assert_eq!(
            parse_hello(r#"{"instance":"a","head_id":3,"retry_ms":1500}"#),
            Hello {
                instance: Some("a".into()),
                head_id: Some(3),
                retry_ms: Some(1500)
            }
        );
        assert_eq!(parse_hello("garbage"), Hello::default());
    }
}
