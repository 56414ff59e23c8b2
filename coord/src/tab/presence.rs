//! What this tab says about itself: its periodic presence, and the crowd size that stretches
//! the presence interval (and the expiry of silent tabs) beyond `Config::presence_budget` tabs.

use super::*;

impl Tab {
    /// Posts our presence now; the periodic one is due a full interval later (beyond
    /// `presence_budget` tabs: the stretched interval, ±25 % at random so that tabs opened in one
    /// burst do not keep posting in one burst).
    pub(super) fn post_presence(&mut self, now: Instant) {
        self.post(Body::Presence { info: self.info() });
        self.last_presence_at = Some(now);
        let every = self.presence_every();
        let every = if every > self.config.presence_interval {
            let jitter = self.rng.below_or_eq(500) as f64 / 1000.0; // 0 ..= 0.5
            every.mul_f64(0.75 + jitter)
        } else {
            every
        };
        self.timers.set(Timer::Presence, now + every);
    }

    /// How many tabs share the channel, this one included, as far as we know: those in our
    /// registry, or the leader's count when it knows more (a new tab has heard of few yet).
    pub(super) fn crowd(&self) -> usize {
        (self.registry.len() + 1).max(self.leader_crowd)
    }

    /// How much the crowd stretches the presence interval, the expiry of silent tabs and the age
    /// of usable position reports: 1 up to `presence_budget` tabs, then `crowd / budget`, so
    /// that all tabs together post about `presence_budget` presences per `presence_interval`.
    pub(super) fn crowd_stretch(&self) -> f64 {
        let budget = self.config.presence_budget.max(1) as f64;
        (self.crowd() as f64 / budget).max(1.0)
    }

    /// Our presence interval: `presence_interval` stretched by the crowd.
    pub(super) fn presence_every(&self) -> Duration {
        self.config.presence_interval.mul_f64(self.crowd_stretch())
    }
}
