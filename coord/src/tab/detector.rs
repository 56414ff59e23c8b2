//! The failure detector: how long a leader may be silent and a probe unanswered, widened by the
//! slowness this tab observes (busy main threads) and for hidden leaders (throttled timers).

use super::*;

impl Tab {
    /// How long a probe may go unanswered: `probe_timeout` plus twice the slowness seen (at most
    /// `Config::busy_allowance`), and at least half the allowance for a hidden leader: its
    /// throttled heartbeats say nothing of how busy it is, and its crash must still be detected
    /// within a second.
    pub(super) fn probe_timeout(&self, now: Instant) -> Duration {
        let cap = self.config.busy_allowance;
        let seen = (self.slowness(now) * 2).min(cap);
        let extra = if self.leader_hidden() {
            seen.max(cap / 2)
        } else {
            seen
        };
        self.config.probe_timeout + extra
    }

    /// How long a leader may be silent before we probe it: `leader_timeout` plus the slowness
    /// seen. A hidden leader heartbeats once a second at best (its timers are throttled), so
    /// its silence says nothing and only the probe tells: a visible follower (whose timers run)
    /// asks for the heartbeat after one `heartbeat_interval` of silence instead, the rate a
    /// visible leader heartbeats at by itself. Its crash is then found a probe timeout after
    /// at most one interval, not after `leader_timeout` (#16: Firefox, where the leader is
    /// mostly a background tab). Hidden followers keep `leader_timeout`: their own timers fire
    /// once a second anyway.
    pub(super) fn leader_timeout(&self, now: Instant) -> Duration {
        let silence = if self.visible && self.leader_hidden() {
            self.config.heartbeat_interval
        } else {
            self.config.leader_timeout
        };
        silence + self.slowness(now).min(self.config.busy_allowance)
    }

    /// Whether the leader we follow said it is hidden (its timers are throttled).
    pub(super) fn leader_hidden(&self) -> bool {
        self.leader
            .and_then(|l| self.registry.iter().find(|t| t.id == l))
            .is_some_and(|t| !t.info.visible)
    }

    /// The slowness estimate now: the largest recent observation, fading linearly to zero over
    /// `Config::slowness_memory` (a bounded, phi-accrual-like allowance).
    pub(super) fn slowness(&self, now: Instant) -> Duration {
        let (value, at) = self.slowness;
        let memory = self.config.slowness_memory;
        let age = now.saturating_since(at);
        if age >= memory || memory.is_zero() {
            return Duration::ZERO;
        }
        value.mul_f64(1.0 - age.as_secs_f64() / memory.as_secs_f64())
    }

    pub(super) fn note_slowness(&mut self, now: Instant, sample: Duration) {
        if sample >= self.slowness(now) {
            self.slowness = (sample.min(self.config.busy_allowance * 2), now);
        }
    }

    /// Slowness as the shell sees it (for the UI and tests).
    pub fn slowness_estimate(&self, now: Instant) -> Duration {
        self.slowness(now)
    }
}
