//! Who leads: locks, claims, terms and fencing, candidacy, stepping down.

use super::*;

impl Tab {
    pub(super) fn on_lock_granted(&mut self, now: Instant) {
        match self.lock {
            LockRequest::Queued | LockRequest::Stealing => {
                let queued = self.lock == LockRequest::Queued;
                self.lock = LockRequest::Idle;
                if let Phase::Leader { holds_lock, .. } = &mut self.phase {
                    *holds_lock = true; // (a leader requests no lock)
                } else if self.mechanism == Mechanism::Locks {
                    if let Some((old, _)) =
                        self.heard_leader.filter(|(l, _)| queued && *l != self.id)
                    {
                        // The lock passed on without a word from its holder: it is gone.
                        self.lost_leader(now, Some(old), ChangeCause::Crashed);
                    }
                    self.become_leader(now, self.max_term.next(self.id), true);
                }
            }
            LockRequest::Idle if self.holds_lock() => {}
            LockRequest::Idle => self.out.push_back(Output::ReleaseLock), // a grant we gave up on
        }
    }

    pub(super) fn on_lock_lost(&mut self, now: Instant) {
        let Phase::Leader {
            holds_lock: held @ true,
            ..
        } = &mut self.phase
        else {
            return; // a late rejection of a lock we already gave up
        };
        *held = false;
        self.lost_leader(now, Some(self.id), ChangeCause::LockLost);
        self.step_down(now, true);
    }

    /// We lead `term` (`holds_lock`: Locks, the lock was granted).
    pub(super) fn become_leader(&mut self, now: Instant, term: Term, holds_lock: bool) {
        self.max_term = self.max_term.max(term);
        self.leader = Some(self.id);
        self.clear_follower_timers();
        let resume = self.resume_point(now);
        self.set_phase(Phase::Leader {
            term,
            stream: LeaderStream::connecting(resume.clone()),
            holds_lock,
        });
        self.found_leader(now, self.id);
        self.stats.elections += 1;
        self.backoff.reset();
        self.timers.stop(Timer::Reconnect);
        self.out.push_back(Output::OpenStream { resume });
        self.send_heartbeat(now);
    }

    /// We lead no more (a higher term exists, or our lock was stolen). `requeue`: Locks, queue
    /// for the lock again (not when freezing or leaving).
    pub(super) fn step_down(&mut self, now: Instant, requeue: bool) {
        // Relays held for hidden tabs go no further: posted after this, with a term we no longer
        // lead, they would make followers take us back as their leader. The next leader resumes
        // from the lowest position the tabs report, which these never reached. (A leader that
        // resigns on purpose posts them first, see `resign`.)
        self.relay_batch = None;
        self.timers.stop(Timer::RelayBatch);
        let held = match &mut self.phase {
            Phase::Leader { holds_lock, .. } => std::mem::take(holds_lock),
            _ => false,
        };
        if self.is_leader() {
            self.out.push_back(Output::CloseStream);
        }
        self.timers.stop(Timer::Reconnect);
        self.timers.stop(Timer::Heartbeat);
        if held {
            self.out.push_back(Output::ReleaseLock);
        }
        if requeue {
            self.request_lock();
        }
        if self.leader == Some(self.id) {
            self.leader = None;
        }
        self.set_phase(if self.leader.is_some() {
            Phase::Follower
        } else {
            Phase::electing()
        });
        self.timers
            .set(Timer::LeaderSilence, now + self.config.leader_timeout);
    }

    /// Leave leadership on purpose, naming a successor (Protocol) so it takes over at once.
    pub(super) fn resign(&mut self, now: Instant, requeue: bool, reason: ResignReason) {
        let Some(term) = self.leading_term() else {
            return;
        };
        // The events held for hidden tabs go out while we still lead their term.
        self.flush_relays();
        let successor = self.resign_successor();
        self.leader = successor;
        // Locks: the lock goes first (`ReleaseLock` before the `Resign`), so the browser hands it
        // to the next queued tab while the others are still reading the goodbye. The shell
        // carries the outputs out in this order (see `Driver::leave`).
        self.step_down(now, requeue);
        self.post(Body::Resign {
            term,
            successor,
            reason: Some(reason),
        });
        let silence = if successor.is_some() {
            self.config.resign_timeout
        } else {
            self.config.leader_timeout
        };
        self.timers.set(Timer::LeaderSilence, now + silence);
    }

    /// Whom a `Resign` names: Protocol, the best successor; Locks, nobody (the lock queue picks
    /// the next leader, and the browser does not tell who is first in it).
    pub(super) fn resign_successor(&self) -> Option<TabId> {
        match self.mechanism {
            Mechanism::Protocol => self.best_successor(),
            Mechanism::Locks => None,
        }
    }

    /// The tab to hand over to: visible tabs first, then the lowest id.
    pub(super) fn best_successor(&self) -> Option<TabId> {
        self.registry
            .iter()
            .filter(|t| t.id != self.id && t.info.role != Role::Leader)
            .min_by_key(|t| (!t.info.visible, t.id))
            .map(|t| t.id)
    }

    /// Our place in the deterministic candidate order (visible first, then lowest id) among the
    /// live tabs other than the presumed-dead leader. Rank 0 runs at once, rank r after
    /// `r * candidate_stagger`, so usually exactly one tab claims or steals.
    pub(super) fn rank(&self, dead: Option<TabId>) -> u32 {
        let me = (!self.visible, self.id);
        self.registry
            .iter()
            .filter(|t| Some(t.id) != dead && t.id != self.id && t.info.role != Role::Leader)
            .filter(|t| (!t.info.visible, t.id) < me)
            .count() as u32
    }

    pub(super) fn schedule_candidacy(&mut self, now: Instant, dead: Option<TabId>) {
        if self.is_leader() || self.timers.is_set(Timer::Candidacy) || self.claim().is_some() {
            return;
        }
        let rank = self.rank(dead);
        self.timers
            .set(Timer::Candidacy, now + self.config.candidate_stagger * rank);
        self.set_role(Role::Electing);
        if let Phase::Electing { dead: presumed, .. } = &mut self.phase {
            *presumed = dead;
        }
    }

    pub(super) fn become_candidate(&mut self, now: Instant) {
        if self.is_leader() || self.leader.is_some() {
            return;
        }
        match self.mechanism {
            Mechanism::Locks => {
                // The lock is held by a frozen (or unresponsive) tab: take it.
                self.abort_lock_request();
                self.out.push_back(Output::RequestLock { steal: true });
                self.lock = LockRequest::Stealing;
                // If the steal is not granted (it always is, at once), elect again later.
                self.timers
                    .set(Timer::LeaderSilence, now + self.config.leader_timeout);
            }
            Mechanism::Protocol => {
                let term = self.max_term.next(self.id);
                self.max_term = term;
                if let Phase::Electing { claim, .. } = &mut self.phase {
                    *claim = Some(Claim {
                        term,
                        acks: Vec::new(),
                    });
                }
                self.timers
                    .set(Timer::ClaimWindow, now + self.config.claim_window);
                self.post(Body::Claim { term });
            }
        }
    }

    /// A term at least as high as ours came in. Higher: it becomes the fence; a leader or
    /// candidate of a lower term gives up at once.
    pub(super) fn observe_term(&mut self, now: Instant, term: Term) {
        if term <= self.max_term {
            return;
        }
        self.max_term = term;
        self.drop_claim();
        self.timers.stop(Timer::Candidacy);
        self.leader = (term.tab != self.id).then_some(term.tab);
        if self.timers.is_set(Timer::Probe) {
            self.timers.stop(Timer::Probe);
            // The probe was for the leader of the old term: its silence says nothing of the new
            // one, which gets a silence of its own (else the probe's deadline would presume the
            // new term's leader dead, and elect around it).
            self.probe_sent_at = None;
            if !self.timers.is_set(Timer::LeaderSilence) {
                self.timers
                    .set(Timer::LeaderSilence, now + self.config.leader_timeout);
            }
        }
        if self.is_leader() {
            self.lost_leader(now, Some(self.id), ChangeCause::LockLost);
            self.step_down(now, true);
        }
    }

    /// Heartbeat, relay or status from `from` claiming to lead `term`: `false` if fenced off.
    pub(super) fn accept_leader_message(&mut self, now: Instant, from: TabId, term: Term) -> bool {
        if term < self.max_term || term.tab != from || Some(term) == self.leading_term() {
            self.stats.stale += 1;
            return false;
        }
        self.new_leader_heard(now, from);
        // Heartbeat lateness of the same leader in the same term (not across a failover).
        let same_leader = self.heard_leader == Some((from, term));
        self.heard_leader = Some((from, term));
        self.observe_term(now, term);
        if let Some(sent) = self
            .probe_sent_at
            .take()
            .filter(|_| self.timers.is_set(Timer::Probe))
        {
            self.note_slowness(now, now.saturating_since(sent));
        }
        if let Some(last) = self.last_heartbeat_at.filter(|_| same_leader) {
            let visible = self.registry.iter().any(|t| t.id == from && t.info.visible);
            if visible {
                // A visible leader heartbeats every interval: later than that is slowness.
                let late = now
                    .saturating_since(last)
                    .saturating_sub(self.config.heartbeat_interval);
                self.note_slowness(now, late);
            }
        }
        self.leader = Some(from);
        self.set_role(Role::Follower);
        self.last_heartbeat_at = Some(now);
        self.timers
            .set(Timer::LeaderSilence, now + self.leader_timeout(now));
        self.timers.stop(Timer::Probe);
        self.timers.stop(Timer::Candidacy);
        true
    }

    pub(super) fn send_heartbeat(&mut self, now: Instant) {
        let Phase::Leader { term, stream, .. } = &self.phase else {
            return;
        };
        let (term, stream) = (*term, stream.state());
        self.post(Body::Heartbeat {
            term,
            stream,
            info: self.info(),
            crowd: Some(u32::try_from(self.registry.len() + 1).unwrap_or(u32::MAX)),
        });
        self.timers
            .set(Timer::Heartbeat, now + self.config.heartbeat_interval);
    }

    pub(super) fn on_claim(&mut self, now: Instant, from: TabId, term: Term) {
        if term.tab != from {
            return;
        }
        // Another tab's ack (a presence with this term) may overtake the claim itself: the
        // claim is still news then, and the claimant waits for our ack to lead at once.
        let known_from_an_ack =
            term == self.max_term && !self.is_leader() && self.heard_leader != Some((from, term));
        if term < self.max_term || (term == self.max_term && !known_from_an_ack) {
            self.stats.stale += 1;
            if self.is_leader() {
                self.send_heartbeat(now); // tell the late claimant who leads
            }
            return;
        }
        self.observe_term(now, term);
        self.set_role(Role::Electing);
        self.leader = Some(from);
        self.timers.stop(Timer::Probe);
        self.timers
            .set(Timer::LeaderSilence, now + self.config.leader_timeout);
        // Our presence, now carrying the claimed term, is the claimant's ack.
        self.post_presence(now);
    }

    /// A tab reported `term` as the highest it has seen. When every tab we know of (but the
    /// presumed-dead leader) has acked our claim, nobody can outbid it any more without us hearing:
    /// lead at once instead of waiting out the claim window. Hidden tabs answer messages at once,
    /// so this is what makes an all-hidden election fast.
    pub(super) fn on_claim_ack(&mut self, now: Instant, from: TabId, term: Term) {
        let Phase::Electing {
            dead,
            claim: Some(claim),
        } = &mut self.phase
        else {
            return;
        };
        if term != claim.term {
            return;
        }
        if !claim.acks.contains(&from) {
            claim.acks.push(from);
        }
        let (dead, term, acks) = (*dead, claim.term, &claim.acks);
        let all_acked = {
            let mut voters = self
                .registry
                .iter()
                .filter(|t| Some(t.id) != dead && t.info.role != Role::Leader)
                .peekable();
            voters.peek().is_some() && voters.all(|t| acks.contains(&t.id))
        };
        if all_acked {
            self.drop_claim();
            self.become_leader(now, term, false);
        }
    }

    pub(super) fn on_resign(
        &mut self,
        now: Instant,
        from: TabId,
        term: Term,
        successor: Option<TabId>,
        reason: Option<ResignReason>,
    ) {
        let cause = match reason {
            None | Some(ResignReason::Leaving) => ChangeCause::Closed,
            Some(ResignReason::StepDown) => ChangeCause::SteppedDown,
            Some(ResignReason::Freezing) => ChangeCause::Frozen,
        };
        if term < self.max_term || term.tab != from {
            self.stats.stale += 1;
            // A goodbye that came after the next leader's first word.
            self.late_word_of(from, cause);
            return;
        }
        if self.leader == Some(from) || self.heard_leader.is_some_and(|(l, _)| l == from) {
            self.lost_leader(now, Some(from), cause);
        }
        self.observe_term(now, term);
        self.leader = None;
        self.timers.stop(Timer::Probe);
        self.timers.stop(Timer::Candidacy);
        self.set_role(Role::Electing);
        match (self.mechanism, successor) {
            (Mechanism::Protocol, Some(s)) if s == self.id => {
                self.become_leader(now, self.max_term.next(self.id), false)
            }
            (Mechanism::Protocol, Some(_)) => self
                .timers
                .set(Timer::LeaderSilence, now + self.config.resign_timeout),
            (Mechanism::Protocol, None) => {
                self.timers.stop(Timer::LeaderSilence);
                self.schedule_candidacy(now, Some(from));
            }
            // The lock queue picks the next leader; wait for its heartbeat.
            (Mechanism::Locks, _) => self
                .timers
                .set(Timer::LeaderSilence, now + self.config.leader_timeout),
        }
    }

    pub(super) fn request_lock(&mut self) {
        if self.mechanism == Mechanism::Locks
            && self.lock == LockRequest::Idle
            && !self.holds_lock()
        {
            self.out.push_back(Output::RequestLock { steal: false });
            self.lock = LockRequest::Queued;
        }
    }

    pub(super) fn abort_lock_request(&mut self) {
        if matches!(self.lock, LockRequest::Queued | LockRequest::Stealing) {
            self.out.push_back(Output::AbortLockRequest);
            self.lock = LockRequest::Idle;
        }
    }

    pub(super) fn clear_follower_timers(&mut self) {
        self.timers.stop(Timer::LeaderSilence);
        self.timers.stop(Timer::Probe);
        self.timers.stop(Timer::Candidacy);
        self.drop_claim();
    }
}

impl Tab {
    /// Runs scratch tabs through a Web Locks handover, the path a real tab first runs when the
    /// browser grants it the lock of a leader that closed: two followers of a leader that leaves,
    /// one granted the lock before the goodbye reaches it and one after, each leading, opening
    /// its stream and leaving in turn. Everything they ask for is dropped; `true` if both led.
    ///
    /// A browser shell calls this once, idle, after its start. Chromium compiles a wasm function
    /// on its first call, so without it the grant (the moment a failover is timed by) is where
    /// each function of the leader's path is compiled, in a renderer that competes for the CPU
    /// with every other tab.
    pub fn rehearse_handover(config: &Config) -> bool {
        let now = Instant::from_millis(1);
        let tab = |id, seed| Tab::new(TabId(id), Mechanism::Locks, config.clone(), now, seed);
        let (mut leader, mut late, mut early) = (tab(1, 1), tab(2, 2), tab(3, 3));
        let posts = |from: &mut Tab| -> Vec<String> {
            std::iter::from_fn(|| from.poll_output())
                .filter_map(|output| match output {
                    Output::Post(message) => Some(message.encode()),
                    _ => None,
                })
                .collect()
        };
        let hear = |to: &mut Tab, posts: &[String]| {
            for post in posts {
                to.handle_channel(now, post);
            }
        };
        leader.handle(now, Input::LockGranted);
        let heartbeat = posts(&mut leader);
        leader.handle(now, Input::PageHide);
        let goodbye = posts(&mut leader);
        let mut led = true;
        for (successor, goodbye_first) in [(&mut late, false), (&mut early, true)] {
            hear(successor, &heartbeat);
            if goodbye_first {
                hear(successor, &goodbye);
            }
            successor.handle(now, Input::LockGranted);
            led &= successor.is_leader();
            if !goodbye_first {
                hear(successor, &goodbye);
            }
            successor.handle(now, Input::StreamOpened);
            let hello = r#"{"epoch":"rehearsal","head_id":0,"retry_ms":1000}"#;
            successor.handle(
                now,
                Input::StreamEvent(ServerEvent::new(None, "hello", hello)),
            );
            successor.handle(now, Input::PageHide);
            posts(successor);
        }
        led
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rehearsal_leads_whether_the_grant_or_the_goodbye_comes_first() {
        assert!(Tab::rehearse_handover(&Config::default()));
    }
}
