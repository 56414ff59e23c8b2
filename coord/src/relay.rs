//! Per-tab event bookkeeping: dedupe by id, in-order delivery across gaps, the ring of recent
//! events a leader resends from, and the server snapshot (`reset`) rule.
//!
//! A position is `(epoch, id)`: ids are only compared within one epoch (one run of the server's
//! log). An event of another run than the log's is never delivered on the strength of its id: a
//! numbered one is held until a `reset` of its run arrives (the caller asks for it), a `reset` of
//! another run always becomes the new baseline.
//!
//! Every tab runs the same log, leader or follower, so a follower that becomes leader already has
//! the recent history to answer resend requests.
//!
//! Ids need not be consecutive: a server may number events of names a tab does not listen for.
//! Every numbered event can come with `prev`, the id of the numbered event before it on the
//! leader's stream (the stream is ordered); an event whose `prev` this tab has is the next one,
//! whatever the ids between. Without `prev` (a tab of an older release, or no position known)
//! the next one is `highest + 1`.

use std::collections::VecDeque;

use crate::by_id::ById;
use crate::ServerEvent;
use wire::json;

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

/// A numbered event and the id before it on the leader's stream, when known.
pub(crate) type Entry = (ServerEvent, Option<u64>);

#[derive(Debug, Clone)]
pub(crate) struct EventLog {
    /// The run (server epoch) of `highest`, `pending` and `ring`. `None`: not known (a server
    /// that names no epoch, or nothing seen yet).
    epoch: Option<String>,
    /// Numbered events of another run than ours, held until a `reset` of that run tells us where
    /// it starts for us.
    foreign: Option<(Option<String>, ById<Entry>)>,
    /// Highest id delivered (or covered by a snapshot). `None`: no baseline yet, the first id
    /// seen becomes it.
    highest: Option<u64>,
    /// Events above a gap, waiting for it to fill.
    pending: ById<Entry>,
    /// Recently delivered numbered events, ascending and chained (each one's `prev` is the id of
    /// the one before it).
    ring: VecDeque<Entry>,
    /// The `reset` that moved the baseline last, with its head: the ring starts after it, so a
    /// tab behind it (another run, or older than the ring) can be served the snapshot and every
    /// event since, instead of a fresh snapshot that swallows those events.
    last_reset: Option<(ServerEvent, u64)>,
    ring_capacity: usize,
    pending_capacity: usize,
    pub(crate) duplicates: u64,
}

impl EventLog {
    pub(crate) fn new(ring_capacity: usize, pending_capacity: usize) -> Self {
        Self {
            epoch: None,
            foreign: None,
            highest: None,
            pending: ById::default(),
            ring: VecDeque::new(),
            last_reset: None,
            ring_capacity,
            pending_capacity: pending_capacity.max(1),
            duplicates: 0,
        }
    }

    pub(crate) fn highest(&self) -> Option<u64> {
        self.highest
    }

    pub(crate) fn epoch(&self) -> Option<&str> {
        self.epoch.as_deref()
    }

    /// Something is missing: a gap in our run, or events of another run wait for its `reset`.
    pub(crate) fn has_gap(&self) -> bool {
        !self.pending.is_empty() || self.foreign.is_some()
    }

    /// Events of another run are held: only a `reset` of that run can let them through.
    #[cfg(test)]
    pub(crate) fn awaits_reset(&self) -> bool {
        self.foreign.is_some()
    }

    /// Adopts `(epoch, id)` as the baseline when there is none yet (a new tab learning where the
    /// leader is, so that a lost relay right after it is detected as a gap).
    pub(crate) fn set_baseline(&mut self, epoch: Option<&str>, id: u64) {
        if self.highest.is_none() {
            self.epoch = epoch.map(str::to_owned);
            self.highest = Some(id);
            self.pending.keep_above(id);
        }
    }

    /// What a tab at `(epoch, after)` needs, from what we hold: the ring events after `after` (our
    /// run); or, for a position of another run or older than the ring, the last `reset` we took
    /// and every event after it, while the ring reaches back to it. `None`: only the server can
    /// help (the caller rewinds the stream from that position).
    pub(crate) fn since_in(&self, epoch: Option<&str>, after: u64) -> Option<Vec<Entry>> {
        let ours = epoch == self.epoch.as_deref();
        if ours {
            if let Some(events) = self.since(after) {
                return Some(events);
            }
        }
        let (reset, head) = self.last_reset.as_ref()?;
        if ours && after >= *head {
            return None; // behind the ring but not the reset: the reset would not help
        }
        let mut out = vec![(reset.clone(), None)];
        if self.highest > Some(*head) {
            out.extend(self.since(*head)?);
        }
        Some(out)
    }

    /// Ring events with an id above `after`, or `None` when the ring no longer reaches back
    /// to `after` (its first event follows an id above it).
    pub(crate) fn since(&self, after: u64) -> Option<Vec<Entry>> {
        let (first, prev) = self.ring.front()?;
        let first = first.id?;
        let reaches = first <= after.saturating_add(1) || prev.is_some_and(|p| p <= after);
        if !reaches {
            return None;
        }
        Some(
            self.ring
                .iter()
                .filter(|(e, _)| e.id.is_some_and(|id| id > after))
                .cloned()
                .collect(),
        )
    }

    /// Takes one event of run `epoch` (from the stream or a relay) and returns what to hand to
    /// the app.
    /// `prev`: the id of the numbered event before this one on the leader's stream, if known.
    pub(crate) fn accept(
        &mut self,
        event: ServerEvent,
        epoch: Option<&str>,
        prev: Option<u64>,
    ) -> Vec<Delivery> {
        if event.id.is_none() && event.name == names::RESET {
            return self.accept_reset(event, epoch);
        }
        let Some(id) = event.id else {
            // hello, stats: not numbered, never move the resume point.
            return vec![Delivery::Event(event)];
        };
        if self.highest.is_none() {
            // No position yet: the first event of any run is the baseline.
            self.epoch = epoch.map(str::to_owned);
        } else if epoch.is_some() && epoch != self.epoch.as_deref() {
            // (An event of no named run is taken as ours: a server that names no epoch.)
            return self.hold_foreign(id, (event, prev), epoch);
        }
        let mut out = Vec::new();
        match self.highest {
            Some(h) if id <= h => self.duplicates += 1,
            Some(h) if !follows(id, prev, h) => {
                if !self.pending.insert(id, (event, prev)) {
                    self.duplicates += 1;
                }
                if self.pending.len() > self.pending_capacity {
                    // Give up on the gap: tell the app what is lost and move on.
                    let (first, _) = self.pending.first().expect("pending is not empty");
                    out.push(Delivery::Lost {
                        from: h + 1,
                        to: first - 1,
                    });
                    self.highest = Some(first - 1);
                    self.drain(&mut out);
                }
            }
            _ => {
                self.deliver((event, prev), &mut out);
                self.drain(&mut out);
            }
        }
        out
    }

    /// A numbered event of another run: held until that run's `reset`; past the pending capacity
    /// we give up on the old run, tell the app (`Lost`) and go on with the new one.
    fn hold_foreign(&mut self, id: u64, event: Entry, epoch: Option<&str>) -> Vec<Delivery> {
        if self
            .foreign
            .as_ref()
            .is_none_or(|(e, _)| e.as_deref() != epoch)
        {
            self.foreign = Some((epoch.map(str::to_owned), ById::default()));
        }
        let (_, held) = self.foreign.as_mut().expect("just set");
        if !held.insert(id, event) {
            self.duplicates += 1;
        }
        if held.len() <= self.pending_capacity {
            return Vec::new();
        }
        let (epoch, held) = self.foreign.take().expect("just set");
        let (first, _) = held.first().expect("not empty");
        let mut out = vec![Delivery::Lost {
            from: self.highest.map_or(0, |h| h + 1),
            to: first - 1,
        }];
        self.switch_run(epoch, first - 1);
        self.pending = held;
        self.drain(&mut out);
        out
    }

    /// From now on the log is in run `epoch`, everything up to `head` covered.
    fn switch_run(&mut self, epoch: Option<String>, head: u64) {
        self.epoch = epoch;
        self.highest = Some(head);
        self.pending.clear();
        self.ring.clear();
        self.last_reset = None;
    }

    fn accept_reset(&mut self, event: ServerEvent, epoch: Option<&str>) -> Vec<Delivery> {
        let head = reset_head(&event.data);
        let epoch = reset_epoch(&event.data).or(epoch.map(str::to_owned));
        if self.highest.is_none() || epoch != self.epoch {
            // No position yet, or a new run: the snapshot is the new baseline.
            let mut out = vec![Delivery::Reset(event.clone())];
            let Some(head) = head else { return out };
            self.switch_run(epoch.clone(), head);
            self.last_reset = Some((event, head));
            if let Some((e, held)) = self.foreign.take() {
                if e == epoch {
                    self.pending = held;
                }
            }
            self.drain(&mut out);
            return out;
        }
        if let (Some(h), Some(head)) = (self.highest, head) {
            if h >= head {
                // We have delivered every event up to the snapshot: it holds nothing new for us.
                self.duplicates += 1;
                return Vec::new();
            }
        }
        let mut out = vec![Delivery::Reset(event.clone())];
        if let Some(head) = head {
            self.highest = Some(head);
            self.pending.keep_above(head);
            self.ring.clear();
            self.last_reset = Some((event, head));
            self.drain(&mut out);
        }
        out
    }

    /// Delivers the event that follows `highest` (see [`follows`]).
    fn deliver(&mut self, (event, prev): Entry, out: &mut Vec<Delivery>) {
        let id = event.id.expect("only numbered events are delivered here");
        let before = self.highest;
        self.highest = Some(id);
        if self.ring.back().and_then(|(e, _)| e.id) != before {
            self.ring.clear(); // keep the ring chained (a baseline or a snapshot moved it)
        }
        // In the ring, `prev` is what came before it for this tab: a tab at `prev` is served it.
        let prev = match (prev, before) {
            (Some(p), _) => Some(p),
            (None, Some(h)) if id == h + 1 => Some(h),
            _ => None,
        };
        self.ring.push_back((event.clone(), prev));
        while self.ring.len() > self.ring_capacity {
            self.ring.pop_front();
        }
        out.push(Delivery::Event(event));
    }

    fn drain(&mut self, out: &mut Vec<Delivery>) {
        while let Some(h) = self.highest {
            // The lowest held event is the only one that can follow `h`.
            match self.pending.first() {
                Some((id, (_, prev))) if follows(id, *prev, h) => {}
                _ => break,
            }
            let entry = self.pending.pop_first().expect("just seen");
            self.deliver(entry, out);
        }
        let h = self.highest.unwrap_or(0);
        self.pending.keep_above(h);
    }
}

/// Whether the event `id` (after `prev` on the leader's stream) is the next one for a tab whose
/// highest is `h`: the id right after, or one whose predecessor the tab has.
fn follows(id: u64, prev: Option<u64>, h: u64) -> bool {
    id == h + 1 || (id > h && prev.is_some_and(|p| p <= h))
}

/// `head_id` of a `reset` payload.
pub(crate) fn reset_head(data: &str) -> Option<u64> {
    let v = json::parse(data).ok()?;
    v.as_object()?.get("head_id")?.as_u64()
}

/// `epoch` of a `reset` payload.
fn reset_epoch(data: &str) -> Option<String> {
    let v = json::parse(data).ok()?;
    Some(v.as_object()?.get("epoch")?.as_str()?.to_owned())
}

/// The fields of a `hello` payload the core uses; missing or malformed ones are `None`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Hello {
    /// The run of the stream: `epoch`, or for a server that names none its `instance`.
    pub(crate) epoch: Option<String>,
    pub(crate) instance: Option<String>,
    pub(crate) head_id: Option<u64>,
    pub(crate) retry_ms: Option<u64>,
}

pub(crate) fn parse_hello(data: &str) -> Hello {
    let Ok(v) = json::parse(data) else {
        return Hello::default();
    };
    let Some(o) = v.as_object() else {
        return Hello::default();
    };
    let text = |k: &str| o.get(k).and_then(|i| i.as_str()).map(str::to_owned);
    Hello {
        epoch: text("epoch").or_else(|| text("instance")),
        instance: text("instance"),
        head_id: o.get("head_id").and_then(|r| r.as_u64()),
        retry_ms: o.get("retry_ms").and_then(|r| r.as_u64()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const E: Option<&str> = Some("e1");

    impl EventLog {
        fn accept_e(&mut self, event: ServerEvent) -> Vec<Delivery> {
            self.accept(event, E, None)
        }
    }

    fn ev(id: u64) -> ServerEvent {
        ServerEvent::new(Some(id), "device-online", format!("{id}"))
    }

    fn reset_in(epoch: &str, head: u64) -> ServerEvent {
        ServerEvent::new(
            None,
            names::RESET,
            format!(r#"{{"epoch":"{epoch}","head_id":{head},"devices":[],"reason":"x"}}"#),
        )
    }

    #[test]
    fn a_tab_that_missed_the_new_runs_reset_is_served_it_and_what_followed() {
        // The leader crossed from run e0 into e1 with a reset at 100, then delivered 101..=103.
        let mut leader = EventLog::new(8, 8);
        leader.accept(ev(7), Some("e0"), None);
        leader.accept(reset_in("e1", 100), Some("e1"), None);
        for id in 101..=103 {
            leader.accept(ev(id), Some("e1"), None);
        }
        // A follower still at (e0, 7) (it was paused and its messages were dropped) asks.
        let served = leader
            .since_in(Some("e0"), 7)
            .expect("servable from the ring");
        assert_eq!(served[0].0, reset_in("e1", 100));
        assert_eq!(
            served[1..]
                .iter()
                .map(|(e, _)| e.id.unwrap())
                .collect::<Vec<_>>(),
            [101, 102, 103]
        );
        // Taken in order, the follower gets the snapshot and then every event once.
        let mut follower = EventLog::new(8, 8);
        follower.accept(ev(7), Some("e0"), None);
        let mut got = Vec::new();
        for (event, prev) in served {
            got.extend(follower.accept(event, Some("e1"), prev));
        }
        assert!(matches!(got[0], Delivery::Reset(_)));
        assert_eq!(ids(&got), [101, 102, 103]);
        // Same run but older than the ring (and the reset): the reset and what follows, too.
        assert_eq!(leader.since_in(Some("e1"), 50).map(|v| v.len()), Some(4));
        // Once the ring no longer reaches back to the reset, only the server can help.
        for id in 104..=112 {
            leader.accept(ev(id), Some("e1"), None);
        }
        assert!(leader.since_in(Some("e0"), 7).is_none());
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
        assert_eq!(ids(&log.accept_e(ev(5))), [5]);
        assert_eq!(ids(&log.accept_e(ev(5))), Vec::<u64>::new());
        assert_eq!(ids(&log.accept_e(ev(4))), Vec::<u64>::new());
        assert_eq!(ids(&log.accept_e(ev(6))), [6]);
        assert_eq!(log.duplicates, 2);
        assert_eq!(log.highest(), Some(6));
    }

    #[test]
    fn gaps_hold_later_events_until_filled() {
        let mut log = EventLog::new(8, 8);
        log.accept_e(ev(1));
        assert!(log.accept_e(ev(3)).is_empty());
        assert!(log.accept_e(ev(4)).is_empty());
        assert!(log.has_gap());
        assert_eq!(log.highest(), Some(1));
        assert_eq!(ids(&log.accept_e(ev(2))), [2, 3, 4]);
        assert!(!log.has_gap());
    }

    #[test]
    fn ring_serves_resends_while_it_reaches_back() {
        let mut log = EventLog::new(3, 8);
        for i in 1..=5 {
            log.accept_e(ev(i));
        }
        assert_eq!(
            log.since(2)
                .unwrap()
                .iter()
                .map(|(e, _)| e.id.unwrap())
                .collect::<Vec<_>>(),
            [3, 4, 5]
        );
        assert_eq!(log.since(5).unwrap(), vec![]);
        assert!(log.since(1).is_none());
    }

    #[test]
    fn reset_moves_the_baseline_unless_we_are_ahead() {
        let mut log = EventLog::new(8, 8);
        log.accept_e(ev(1));
        log.accept_e(ev(9)); // pending behind a gap
        let reset = ServerEvent::new(None, "reset", r#"{"head_id":7,"devices":[],"reason":"x"}"#);
        let out = log.accept(reset.clone(), E, None);
        assert_eq!(out[0], Delivery::Reset(reset.clone()));
        assert_eq!(log.highest(), Some(7));
        assert!(log.has_gap()); // 9 still waits for 8
        assert_eq!(ids(&log.accept_e(ev(8))), [8, 9]);
        assert!(
            log.accept(reset, E, None).is_empty(),
            "a snapshot older than what we have is ignored"
        );
    }

    #[test]
    fn ids_may_skip_events_a_tab_does_not_listen_for() {
        // The server numbers 1..=6; this tab's stream carries 1, 3, 6 (2, 4, 5 are of other
        // names). Each comes with the id before it on the stream.
        let mut log = EventLog::new(8, 8);
        assert_eq!(ids(&log.accept(ev(1), E, None)), [1]);
        assert_eq!(ids(&log.accept(ev(3), E, Some(1))), [3], "not held for 2");
        assert!(!log.has_gap());
        // Out of order (a resend overtaken by a live relay): 6 waits for 3's successor… which is 6.
        let mut late = EventLog::new(8, 8);
        late.accept(ev(1), E, None);
        assert_eq!(
            ids(&late.accept(ev(6), E, Some(3))),
            Vec::<u64>::new(),
            "3 is missing"
        );
        assert!(late.has_gap());
        assert_eq!(ids(&late.accept(ev(3), E, Some(1))), [3, 6]);
        // Without `prev` (an older leader), the next one is still `highest + 1`.
        let mut old = EventLog::new(8, 8);
        old.accept(ev(1), E, None);
        assert_eq!(ids(&old.accept(ev(3), E, None)), Vec::<u64>::new());
        // The ring serves a tab at 1 across the skipped ids, each with its `prev`.
        log.accept(ev(6), E, Some(3));
        let served = log.since(1).expect("the ring reaches back to 1");
        let chain: Vec<_> = served.iter().map(|(e, p)| (e.id.unwrap(), *p)).collect();
        assert_eq!(chain, [(3, Some(1)), (6, Some(3))]);
        let mut follower = EventLog::new(8, 8);
        follower.accept(ev(1), E, None);
        let got: Vec<_> = served
            .into_iter()
            .flat_map(|(e, p)| follower.accept(e, E, p))
            .collect();
        assert_eq!(ids(&got), [3, 6]);
    }

    #[test]
    fn pending_overflow_reports_the_loss() {
        let mut log = EventLog::new(8, 2);
        log.accept_e(ev(1));
        log.accept_e(ev(4));
        log.accept_e(ev(5));
        let out = log.accept_e(ev(6));
        assert_eq!(out[0], Delivery::Lost { from: 2, to: 3 });
        assert_eq!(ids(&out), [4, 5, 6]);
    }

    #[test]
    fn hello_fields() {
        assert_eq!(
            parse_hello(r#"{"instance":"a","head_id":3,"retry_ms":1500}"#),
            Hello {
                epoch: Some("a".into()),
                instance: Some("a".into()),
                head_id: Some(3),
                retry_ms: Some(1500)
            }
        );
        assert_eq!(parse_hello("garbage"), Hello::default());
        assert_eq!(
            parse_hello(r#"{"instance":"a","epoch":"r7","head_id":3}"#).epoch,
            Some("r7".into())
        );
    }

    #[test]
    fn another_run_waits_for_its_reset() {
        let mut log = EventLog::new(8, 8);
        log.accept_e(ev(1));
        log.accept_e(ev(2));
        // The server restarted: run e2 starts far above. Its events wait for the reset.
        let e2 = Some("e2");
        assert!(log.accept(ev(1_000_005), e2, None).is_empty());
        assert!(log.awaits_reset() && log.has_gap());
        assert_eq!((log.epoch(), log.highest()), (E, Some(2)));
        let reset = ServerEvent::new(
            None,
            "reset",
            r#"{"epoch":"e2","head_id":1000004,"devices":[],"reason":"other_run"}"#,
        );
        let out = log.accept(reset.clone(), e2, None);
        assert_eq!(out[0], Delivery::Reset(reset.clone()));
        assert_eq!(ids(&out), [1_000_005]);
        assert_eq!((log.epoch(), log.highest()), (e2, Some(1_000_005)));
        assert!(!log.has_gap());
        // Ids of the old run are never compared with ours: held, not dropped as duplicates.
        assert!(log.accept(ev(3), E, None).is_empty());
        assert!(log.awaits_reset());
        // The same reset again: nothing new.
        assert!(log.accept(reset, e2, None).is_empty());
    }

    #[test]
    fn a_reset_of_another_run_is_accepted_even_below_our_ids() {
        let mut log = EventLog::new(8, 8);
        log.accept_e(ev(50));
        let reset = ServerEvent::new(None, "reset", r#"{"epoch":"e0","head_id":7}"#);
        assert_eq!(
            log.accept(reset.clone(), None, None),
            [Delivery::Reset(reset)]
        );
        assert_eq!((log.epoch(), log.highest()), (Some("e0"), Some(7)));
    }

    #[test]
    fn another_run_that_never_resets_is_reported_lost() {
        let mut log = EventLog::new(8, 2);
        log.accept_e(ev(1));
        let e2 = Some("e2");
        log.accept(ev(100), e2, None);
        log.accept(ev(101), e2, None);
        let out = log.accept(ev(102), e2, None);
        assert_eq!(out[0], Delivery::Lost { from: 2, to: 99 });
        assert_eq!(ids(&out), [100, 101, 102]);
        assert_eq!(log.epoch(), e2);
    }
}
