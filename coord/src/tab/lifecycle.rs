//! The page's life: start (and back from the back/forward cache), visibility, freeze and resume,
//! leaving (`pagehide`, with the goodbye a shell can post in advance), a voluntary step-down,
//! and the app's `Connect` / `Disconnect` reference count.

use super::*;

impl Tab {
    /// Whether `input` reaches the tab in its lifecycle state: a tab that left (`pagehide`) hears
    /// only `PageShow`, which starts it again; a frozen one only `Resumed` and `PageHide`. A lock
    /// grant that raced with our abort while leaving or freezing is given back.
    pub(super) fn admits(&mut self, now: Instant, input: &Input) -> bool {
        if (!self.active || self.frozen) && *input == Input::LockGranted {
            self.lock = LockRequest::Idle;
            self.out.push_back(Output::ReleaseLock);
            return false;
        }
        if !self.active {
            if *input == Input::PageShow {
                self.active = true;
                self.frozen = false;
                self.start(now);
            }
            return false;
        }
        !self.frozen || matches!(input, Input::Resumed | Input::PageHide)
    }

    /// `visibilitychange`: others rank candidates and judge our heartbeats by it.
    pub(super) fn on_visibility(&mut self, now: Instant, visible: bool) {
        if visible != self.visible {
            self.visible = visible;
            self.visible_since = visible.then_some(now);
            self.post_presence(now);
        }
    }

    /// The app wants events (reference counted): it hears `Connected` when the stream is up, and
    /// a leader that gave up reconnecting tries again at once.
    pub(super) fn connect(&mut self, now: Instant) {
        self.refs += 1;
        if self.refs == 1 && self.connected {
            self.emit(AppEvent::Connected);
        }
        if self.backoff.failures() >= self.config.max_reconnect_attempts {
            self.retry_now(now);
        }
    }

    /// The app no longer wants events (reference counted).
    pub(super) fn disconnect(&mut self) {
        self.refs = self.refs.saturating_sub(1);
    }

    pub(super) fn start(&mut self, now: Instant) {
        // (Also back from the back/forward cache: nothing before counts as slowness.)
        self.heard_leader = None;
        self.probe_sent_at = None;
        self.visible_since = self.visible.then_some(now);
        self.set_role(Role::Electing);
        self.post(Body::Hello { info: self.info() });
        self.request_lock();
        self.timers
            .set(Timer::LeaderSilence, now + self.startup_wait());
        self.timers
            .set(Timer::Presence, now + self.config.presence_interval);
    }

    /// How long a new tab listens before it probes. Locks: a free lock is granted at once, so a
    /// lock request still queued means a tab holds it; it gets the silence a known leader gets.
    pub(super) fn startup_wait(&self) -> Duration {
        match self.mechanism {
            Mechanism::Locks => self.config.leader_timeout,
            Mechanism::Protocol => self.config.startup_wait,
        }
    }

    /// Announced freeze: hand leadership off now rather than make the others detect it.
    pub(super) fn freeze(&mut self, now: Instant) {
        if self.is_leader() {
            self.resign(now, false, ResignReason::Freezing);
        }
        self.abort_lock_request();
        self.clear_follower_timers();
        self.frozen = true;
    }

    pub(super) fn resume(&mut self, now: Instant) {
        self.frozen = false;
        // Our own pause is no slowness of the leader, nor of our main thread.
        self.heard_leader = None;
        self.probe_sent_at = None;
        if self.visible {
            self.visible_since = Some(now);
        }
        if self.is_leader() {
            // Unannounced freeze: if we were deposed meanwhile, the followers fence this.
            self.send_heartbeat(now);
            return;
        }
        self.request_lock();
        self.post(Body::Hello { info: self.info() });
        if !self.timers.is_set(Timer::LeaderSilence)
            && !self.timers.is_set(Timer::Probe)
            && !self.timers.is_set(Timer::Candidacy)
        {
            self.timers
                .set(Timer::LeaderSilence, now + self.startup_wait());
        }
        self.timers
            .set(Timer::Presence, now + self.config.presence_interval);
    }

    /// What this tab would post if it left now (`pagehide`): when it leads, the relays it holds
    /// for hidden tabs and its `Resign` (naming the successor); then `Bye`; nothing once it has
    /// left. A shell may post these from a listener armed in advance, so the goodbye goes out
    /// even when the page's own code cannot run at that moment; `leave` posts exactly these, in
    /// this order.
    pub fn goodbye(&self) -> Vec<Message> {
        if !self.active {
            return Vec::new();
        }
        let relays = self.held_relays();
        let resign = self.leading_term().map(|term| Body::Resign {
            term,
            successor: self.resign_successor(),
            reason: Some(ResignReason::Leaving),
        });
        relays
            .into_iter()
            .chain(resign)
            .chain([Body::Bye])
            .map(|body| Message {
                from: self.id,
                body,
            })
            .collect()
    }

    /// `pagehide`: hand off, say goodbye, go quiet.
    pub(super) fn leave(&mut self, now: Instant) {
        if self.is_leader() {
            self.resign(now, false, ResignReason::Leaving);
        }
        self.abort_lock_request();
        self.post(Body::Bye);
        self.clear_follower_timers();
        self.timers.stop(Timer::Presence);
        self.timers.stop(Timer::Resend);
        self.leader = None;
        self.active = false;
        self.frozen = false;
        self.set_role(Role::Electing);
    }

    pub(super) fn step_down_voluntarily(&mut self, now: Instant) {
        if !self.is_leader() {
            return;
        }
        if self.mechanism == Mechanism::Protocol && self.best_successor().is_none() {
            return; // nobody to hand over to
        }
        self.lost_leader(now, Some(self.id), ChangeCause::SteppedDown);
        self.resign(now, true, ResignReason::StepDown); // Locks: queue behind the others
    }

    pub(super) fn set_connected(&mut self, connected: bool) {
        if connected && !self.connected {
            self.connected = true;
            self.emit(AppEvent::Connected);
        }
        self.connected = connected;
    }
}
