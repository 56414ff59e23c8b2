//! Messages from other tabs.

use super::*;
use crate::Relayed;

impl Tab {
    pub(super) fn on_message(&mut self, now: Instant, m: Message) {
        let from = m.from;
        if from == self.id {
            return;
        }
        self.registry.seen(from, now);
        if !matches!(
            m.body,
            Body::Resign { .. } | Body::Bye | Body::Relays { .. }
        ) {
            // Anything from a leader we took for crashed: it was alive, only silent (a thawed
            // page may hear the new term first and step down without another heartbeat). Not a
            // batch of relays: a leaving leader's goodbye starts with one (`Tab::goodbye`), and
            // heard after the next leader's first word it would make the goodbye read `frozen`.
            self.late_word_of(from, ChangeCause::Frozen);
        }
        match m.body {
            Body::Hello { info } => {
                self.learn_term(now, info.term);
                self.registry.update(from, info.clone(), now);
                if self.is_leader() {
                    self.send_heartbeat(now);
                } else if self.presence_overdue(now) {
                    // Answered at most once per presence interval, like the periodic presence
                    // (which it replaces): a burst of new tabs must not make every tab post once
                    // per newcomer, n² messages that back up every busy main thread (#18). A
                    // newcomer hears the others within an interval anyway; an answer at once
                    // comes from tabs whose own presence is rare (hidden, throttled timers).
                    self.post_presence(now);
                }
            }
            Body::Presence { info } => {
                let term = info.term;
                if info.visible {
                    // A tab shows: what the leader holds for hidden tabs goes out now.
                    self.flush_relays();
                }
                self.learn_term(now, term);
                self.registry.update(from, info, now);
                self.on_claim_ack(now, from, term);
            }
            Body::Bye => {
                self.registry.remove(from);
                self.late_word_of(from, ChangeCause::Closed);
                if self.leader == Some(from) && !self.is_leader() {
                    self.lost_leader(now, Some(from), ChangeCause::Closed);
                    // Left without resigning: elect now (Locks: the lock queue already did).
                    self.leader = None;
                    self.timers.stop(Timer::Probe);
                    match self.mechanism {
                        Mechanism::Protocol => self.schedule_candidacy(now, Some(from)),
                        Mechanism::Locks => self
                            .timers
                            .set(Timer::LeaderSilence, now + self.config.leader_timeout),
                    }
                }
            }
            Body::Heartbeat {
                term,
                stream,
                info,
                crowd,
            } => {
                self.registry.update(from, info.clone(), now);
                if !self.accept_leader_message(now, from, term) {
                    if term < self.max_term && self.fences(now, from, term) {
                        self.post(Body::Fence {
                            term: self.max_term,
                        });
                    }
                    return;
                }
                self.leader_crowd = crowd.map_or(0, |c| c as usize);
                self.leader_stream = stream;
                if stream == StreamState::Open {
                    self.set_connected(true);
                }
                if let Some(h) = info.highest_id {
                    self.log.set_baseline(info.epoch.as_deref(), h);
                    // Relays travel before the heartbeat on the same sender's channel: if the
                    // leader is ahead of us now (or in another run), some were lost.
                    let behind = if self.log.epoch() == info.epoch.as_deref() {
                        self.log.highest().is_some_and(|mine| mine < h)
                    } else {
                        true
                    };
                    if behind && !self.timers.is_set(Timer::Resend) {
                        self.request_resend(now);
                    }
                }
            }
            Body::Claim { term } => self.on_claim(now, from, term),
            Body::Resign {
                term,
                successor,
                reason,
            } => self.on_resign(now, from, term, successor, reason),
            Body::Relay {
                term,
                event,
                sent_at,
                epoch,
                prev,
            } => {
                if self.accept_leader_message(now, from, term) {
                    self.stats.relayed_in += 1;
                    let latency = Some(now.saturating_since(sent_at));
                    self.process_event(now, event, latency, epoch.as_deref(), prev);
                }
            }
            Body::Relays {
                term,
                epoch,
                events,
            } => {
                if self.accept_leader_message(now, from, term) {
                    for Relayed {
                        event,
                        prev,
                        sent_at,
                    } in events
                    {
                        self.stats.relayed_in += 1;
                        let latency = Some(now.saturating_since(sent_at));
                        self.process_event(now, event, latency, epoch.as_deref(), prev);
                    }
                }
            }
            Body::Probe { .. } => {
                if self.is_leader() {
                    self.send_heartbeat(now);
                } else if self.presence_overdue(now) {
                    // A follower answers a probe with its presence, under the same limit as a
                    // `Hello` (at most once per presence interval, in place of the periodic
                    // one, so the answers add nothing to the presence budget): a newcomer that
                    // probes before it heard the term learns it from these (and the leader's
                    // heartbeat) rather than from a claim of its own.
                    self.post_presence(now);
                }
            }
            Body::Status { term, status } => {
                if self.accept_leader_message(now, from, term) {
                    match status {
                        StreamStatus::Connected => {
                            self.leader_stream = StreamState::Open;
                            self.set_connected(true);
                        }
                        StreamStatus::Error => {
                            self.stream_trouble(now);
                            self.leader_stream = StreamState::Backoff;
                            self.connected = false;
                            self.emit(AppEvent::Error);
                        }
                        StreamStatus::MaxReconnectReached => {
                            self.emit(AppEvent::MaxReconnectReached)
                        }
                    }
                }
            }
            Body::Resend { epoch, after, .. } => {
                if self.is_leader() {
                    self.serve_resend(now, epoch, after);
                }
            }
            Body::Fence { term } => {
                if term > self.max_term {
                    self.observe_term(now, term);
                    if !self.is_leader() {
                        self.timers
                            .set(Timer::LeaderSilence, now + self.config.leader_timeout);
                    }
                }
            }
        }
    }

    /// Whether we answer a stale heartbeat of `from` (term `term`) with a `Fence`. Every tab
    /// hears it, and a thawed leader may answer a backlog of probes with one stale heartbeat
    /// each: every follower fencing every one cost n² messages per stale heartbeat. The current
    /// leader fences (it hears the heartbeat too); a follower only when that leader has not been
    /// heard for two heartbeat intervals (it may be gone: a claim in progress, or frozen itself).
    /// Each of them once per stale leader and term: the stale leader steps down on the first
    /// fence it reads, and if that one is lost, on the current leader's next heartbeat.
    fn fences(&mut self, now: Instant, from: TabId, term: Term) -> bool {
        let leader_heard = !self.is_leader()
            && self.heard_leader.is_some_and(|(_, t)| t == self.max_term)
            && self
                .last_heartbeat_at
                .is_some_and(|at| now.saturating_since(at) <= self.config.heartbeat_interval * 2);
        if leader_heard || self.fenced == Some((from, term)) {
            return false;
        }
        self.fenced = Some((from, term));
        true
    }

    /// Whether our last presence is a presence interval old (or there was none): only then does
    /// an answer to another tab's `Hello` or `Probe` take the periodic one's place.
    fn presence_overdue(&self, now: Instant) -> bool {
        self.last_presence_at
            .is_none_or(|at| now.saturating_since(at) >= self.presence_every())
    }

    /// Another tab reports the highest term it has seen: a follower (or a tab that just opened)
    /// learns who leads from it, so that its silence timer probes that leader instead of electing
    /// one. Not a proof of life (the leader's own messages are): the deadline stays as it was.
    fn learn_term(&mut self, now: Instant, term: Term) {
        if !self.is_leader() && term > self.max_term && term.tab != self.id {
            self.observe_term(now, term);
        }
    }
}
