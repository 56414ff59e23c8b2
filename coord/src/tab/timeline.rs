//! The leadership timeline: every change of leader this tab has seen, with its cause as the
//! evidence showed it, the time without a leader, the time until the stream delivered again, and
//! the events replayed to fill the gap.
//!
//! The cause comes from what the tab actually saw, never from a guess about the browser:
//!
//! | evidence                                                            | cause           |
//! |---------------------------------------------------------------------|-----------------|
//! | the leader's `Resign` (reason leaving, or none) or its `Bye`         | `Closed`        |
//! | its `Resign` with reason step-down                                   | `SteppedDown`   |
//! | its `Resign` with reason freezing                                    | `Frozen`        |
//! | Locks: the probe went unanswered, yet the lock stayed held           | `Frozen`        |
//! | Protocol: the probe went unanswered                                  | `Crashed`, until the old leader says anything again: then `Frozen` |
//! | a new leader (or our lock grant) without any word of the old one     | `Crashed`, until its late goodbye arrives: then `Closed` / `SteppedDown` |
//! | this tab led, and its lock was stolen or a higher term came up       | `LockLost`      |
//! | a `reset` of another run (the server restarted); the leader stays    | `ServerRestart` |

use super::*;

/// How many changes a tab keeps (the oldest go first).
const KEPT: usize = 32;

/// Why the leader changed, from the evidence this tab saw (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeCause {
    Closed,
    Crashed,
    Frozen,
    SteppedDown,
    ServerRestart,
    LockLost,
}

impl ChangeCause {
    /// A short word for the UI and the DOM (`closed`, `crashed`, `frozen`, `step-down`,
    /// `server-restart`, `lost-lock`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Crashed => "crashed",
            Self::Frozen => "frozen",
            Self::SteppedDown => "step-down",
            Self::ServerRestart => "server-restart",
            Self::LockLost => "lost-lock",
        }
    }
}

/// One change of leader as this tab saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderChange {
    /// When this tab had the first evidence (its own clock).
    pub at: Instant,
    /// The leader that went (this tab, if it was the one).
    pub from: Option<TabId>,
    /// The leader that came (`None`: none yet). Equal to `from` for a server restart.
    pub to: Option<TabId>,
    pub cause: ChangeCause,
    /// From `at` until this tab knew the new leader (zero when it learnt both at once).
    pub leaderless: Option<Duration>,
    /// From `at` until the first server event of the new leader's stream reached this tab.
    pub until_delivering: Option<Duration>,
    /// Events this tab was given from the gap: ids above its highest at `at`, up to the head
    /// the server named when the new stream opened (its `hello.head_id`), delivered since.
    pub replayed: u64,
}

/// What the newest change still tracks.
#[derive(Debug, Default)]
struct Tracking {
    /// This tab's highest id and run at `at`.
    highest: Option<u64>,
    epoch: Option<String>,
    /// The head of the new stream when it opened (`hello.head_id`), once seen.
    replay_head: Option<u64>,
}

#[derive(Debug, Default)]
pub(super) struct Timeline {
    /// Oldest first.
    changes: VecDeque<LeaderChange>,
    tracking: Option<Tracking>,
    /// Bumped on every change to `changes`.
    version: u64,
    /// When the leader's stream last failed (a restart starts there), until events flow again.
    stream_lost_at: Option<Instant>,
}

impl Tab {
    /// Every change of leader this tab has seen, newest first (at most 32).
    pub fn leader_changes(&self) -> impl Iterator<Item = &LeaderChange> {
        self.timeline.changes.iter().rev()
    }

    /// Changes whenever [`Tab::leader_changes`] does (for a shell that mirrors it).
    pub fn leader_changes_version(&self) -> u64 {
        self.timeline.version
    }

    fn newest_change(&mut self) -> Option<&mut LeaderChange> {
        self.timeline.version += 1;
        self.timeline.changes.back_mut()
    }

    /// Evidence that `from` no longer leads. Opens a change, unless one is already open that
    /// has no new leader yet (the first evidence counts).
    pub(super) fn lost_leader(&mut self, now: Instant, from: Option<TabId>, cause: ChangeCause) {
        if self
            .timeline
            .changes
            .back()
            .is_some_and(|c| c.to.is_none() && c.cause != ChangeCause::ServerRestart)
        {
            return;
        }
        self.push_change(LeaderChange {
            at: now,
            from,
            to: None,
            cause,
            leaderless: None,
            until_delivering: None,
            replayed: 0,
        });
        self.timeline.tracking = Some(Tracking {
            highest: self.log.highest(),
            epoch: self.log.epoch().map(str::to_owned),
            replay_head: None,
        });
    }

    fn push_change(&mut self, change: LeaderChange) {
        if self.timeline.changes.len() == KEPT {
            self.timeline.changes.pop_front();
        }
        self.timeline.changes.push_back(change);
        self.timeline.version += 1;
    }

    /// `leader` leads now (a leader message accepted, or this tab became leader).
    pub(super) fn found_leader(&mut self, now: Instant, leader: TabId) {
        let Some(change) = self.timeline.changes.back() else {
            return;
        };
        if change.to.is_some() {
            return;
        }
        let at = change.at;
        if let Some(change) = self.newest_change() {
            change.to = Some(leader);
            change.leaderless = Some(now.saturating_since(at));
        }
    }

    /// A leader message from `from` (the leader we followed was another): if no evidence of
    /// the change came before, the old leader vanished without a word.
    pub(super) fn new_leader_heard(&mut self, now: Instant, from: TabId) {
        if let Some((previous, _)) = self.heard_leader.filter(|(p, _)| *p != from) {
            self.lost_leader(now, Some(previous), ChangeCause::Crashed);
        }
        self.found_leader(now, from);
    }

    /// Later evidence about the newest change's old leader `from`: its goodbye (it closed or
    /// stepped down rather than crashed), or any message of it (it was alive: frozen).
    pub(super) fn late_word_of(&mut self, from: TabId, cause: ChangeCause) {
        let refine = self.timeline.changes.back().is_some_and(|c| {
            c.from == Some(from) && c.from != Some(self.id) && c.cause == ChangeCause::Crashed
        });
        if refine {
            if let Some(change) = self.newest_change() {
                change.cause = cause;
            }
        }
    }

    /// The leader's stream failed (its own, or as its `Status` says).
    pub(super) fn stream_trouble(&mut self, now: Instant) {
        self.timeline.stream_lost_at.get_or_insert(now);
    }

    /// A server event reached this tab (from the leader's stream, directly or relayed), before
    /// it is delivered: the first one since a change stops the clock, a `hello` names the head
    /// the gap is replayed up to.
    pub(super) fn timeline_saw_event(&mut self, now: Instant, event: &ServerEvent) {
        let Some(change) = self.timeline.changes.back() else {
            return;
        };
        if change.to.is_none() || change.cause == ChangeCause::ServerRestart {
            return;
        }
        if change.until_delivering.is_none() {
            let at = change.at;
            if let Some(change) = self.newest_change() {
                change.until_delivering = Some(now.saturating_since(at));
            }
        }
        if event.id.is_none() && event.name == relay::names::HELLO {
            let hello = relay::parse_hello(&event.data);
            if let Some(tracking) = self.timeline.tracking.as_mut() {
                if tracking.replay_head.is_none() && hello.epoch == tracking.epoch {
                    tracking.replay_head = hello.head_id;
                }
            }
        }
    }

    /// What the log delivered: gap events are counted as replayed, and a `reset` of another run
    /// is a server restart.
    pub(super) fn timeline_delivered(
        &mut self,
        now: Instant,
        delivery: &Delivery,
        epoch_before: Option<&str>,
    ) {
        match delivery {
            Delivery::Event(event) => {
                // (`hello` and `stats` come first on every connection: only numbered events say
                // the stream is back in the same run.)
                let Some(id) = event.id else { return };
                self.timeline.stream_lost_at = None;
                let in_gap = self.timeline.tracking.as_ref().is_some_and(|t| {
                    t.replay_head.is_some_and(|head| id <= head)
                        && t.highest.is_none_or(|h| id > h)
                        && t.epoch.as_deref() == self.log.epoch()
                });
                if in_gap {
                    if let Some(change) = self.newest_change() {
                        change.replayed += 1;
                    }
                }
            }
            Delivery::Reset(_) => {
                let restarted = epoch_before.is_some_and(|e| Some(e) != self.log.epoch());
                let lost_at = self.timeline.stream_lost_at.take();
                if restarted {
                    let leader = self.leader;
                    self.push_change(LeaderChange {
                        at: lost_at.unwrap_or(now),
                        from: leader,
                        to: leader,
                        cause: ChangeCause::ServerRestart,
                        leaderless: Some(Duration::ZERO),
                        until_delivering: Some(now.saturating_since(lost_at.unwrap_or(now))),
                        replayed: 0,
                    });
                    self.timeline.tracking = None;
                }
            }
            Delivery::Lost { .. } => {}
        }
    }
}
