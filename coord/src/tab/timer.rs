//! The tab's timers, by name, in one table (the shape of `quinn-proto`'s `TimerTable`): one
//! deadline per [`Timer`], [`Tab::poll_timeout`](super::Tab::poll_timeout) is the earliest, and
//! `fire_timers` walks the due ones by name.

use super::*;
use crate::Instant;

/// Every deadline a tab may wait for. The order of [`Timer::VALUES`] is the order in which due
/// timers run when several are due at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Timer {
    /// The registry's next expiry of a silent tab (kept in step with the registry by `Tab`).
    Expiry,
    /// Leader: the next heartbeat.
    Heartbeat,
    /// Leader: the next attempt to reopen a failed stream (in backoff).
    Reconnect,
    /// Our next periodic presence.
    Presence,
    /// Protocol: the end of our claim's window; we lead then unless a higher term showed up.
    ClaimWindow,
    /// Follower: an unanswered probe makes us presume the leader dead.
    Probe,
    /// Follower: the leader's silence makes us probe it (or elect, when no leader is known).
    LeaderSilence,
    /// Our candidacy starts (staggered by rank).
    Candidacy,
    /// A gap's resend is overdue: ask again.
    Resend,
    /// Leader: the batch of relays for hidden tabs is due (`Config::hidden_relay_batch`).
    RelayBatch,
    /// Locks follower: the leader's goodbye, held back, is handled now (`Config::goodbye_delay`).
    Goodbye,
}

impl Timer {
    /// Every timer, in the order due ones run.
    pub(crate) const VALUES: [Timer; 11] = [
        Timer::Expiry,
        Timer::Heartbeat,
        Timer::Reconnect,
        Timer::Presence,
        Timer::ClaimWindow,
        Timer::Probe,
        Timer::LeaderSilence,
        Timer::Candidacy,
        Timer::Resend,
        Timer::RelayBatch,
        Timer::Goodbye,
    ];
}

/// One optional deadline per [`Timer`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TimerTable {
    data: [Option<Instant>; Timer::VALUES.len()],
}

impl TimerTable {
    /// Arms `timer` for `time` (replacing any deadline it had).
    pub(crate) fn set(&mut self, timer: Timer, time: Instant) {
        self.data[timer as usize] = Some(time);
    }

    /// Arms or stops `timer`.
    pub(crate) fn set_opt(&mut self, timer: Timer, time: Option<Instant>) {
        self.data[timer as usize] = time;
    }

    pub(crate) fn get(&self, timer: Timer) -> Option<Instant> {
        self.data[timer as usize]
    }

    pub(crate) fn is_set(&self, timer: Timer) -> bool {
        self.get(timer).is_some()
    }

    pub(crate) fn stop(&mut self, timer: Timer) {
        self.data[timer as usize] = None;
    }

    /// The earliest deadline of all.
    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        self.data.iter().flatten().min().copied()
    }

    /// Whether `timer` is due at `now`; a due timer is stopped (its handler re-arms it if it
    /// repeats).
    pub(crate) fn expire_before(&mut self, timer: Timer, now: Instant) -> bool {
        if self.is_due(timer, now) {
            self.stop(timer);
            true
        } else {
            false
        }
    }

    /// Whether `timer` is armed for `now` or earlier (without stopping it).
    pub(crate) fn is_due(&self, timer: Timer, now: Instant) -> bool {
        self.get(timer).is_some_and(|t| t <= now)
    }
}

impl Tab {
    /// Runs `timer` if it is due at `now` (the probe's deadline may move later instead).
    pub(super) fn on_timer(&mut self, now: Instant, timer: Timer) {
        match timer {
            Timer::Expiry => {
                if self.timers.expire_before(Timer::Expiry, now) {
                    let stretch = self.crowd_stretch();
                    self.registry.expire(now, &self.config, stretch);
                }
            }
            Timer::Heartbeat => {
                if self.timers.expire_before(Timer::Heartbeat, now) {
                    self.send_heartbeat(now);
                }
            }
            Timer::Reconnect => {
                if self.timers.expire_before(Timer::Reconnect, now) {
                    self.open_stream(now);
                }
            }
            Timer::Presence => {
                if self.timers.is_due(Timer::Presence, now) {
                    // The crowd may have grown since it was scheduled (a new tab learns it from
                    // the leader's first heartbeat): then it is due a stretched interval after
                    // the last.
                    let stretched = self.last_presence_at.map(|at| at + self.presence_every());
                    match stretched.filter(|&at| at > now) {
                        Some(later) => self.timers.set(Timer::Presence, later),
                        None => self.post_presence(now),
                    }
                }
            }
            Timer::ClaimWindow => {
                if self.timers.expire_before(Timer::ClaimWindow, now) {
                    if let Some(claim) = self.drop_claim() {
                        if self.max_term == claim.term {
                            self.become_leader(now, claim.term, false);
                        }
                    }
                }
            }
            Timer::Probe => {
                let Some(deadline) = self.timers.get(Timer::Probe) else {
                    return;
                };
                // Judged with the slowness known now, which includes this very timer firing
                // late: the answer may be queued behind it on our own busy main thread.
                let deadline = match self.probe_sent_at {
                    Some(sent) => deadline.max(sent + self.probe_timeout(now)),
                    None => deadline,
                };
                if deadline > now {
                    self.timers.set(Timer::Probe, deadline);
                    return;
                }
                // The probed leader did not answer: dead, frozen, or cut off.
                self.timers.stop(Timer::Probe);
                self.probe_sent_at = None; // a later answer is no round trip sample
                let dead = self.leader.take();
                if dead.is_some() {
                    // Locks: a crashed holder's lock would have passed on by now; it is still
                    // held.
                    let cause = match self.mechanism {
                        Mechanism::Locks => ChangeCause::Frozen,
                        Mechanism::Protocol => ChangeCause::Crashed,
                    };
                    self.lost_leader(now, dead, cause);
                }
                self.schedule_candidacy(now, dead);
            }
            Timer::LeaderSilence => {
                if self.timers.expire_before(Timer::LeaderSilence, now) {
                    // Silence: probe whoever leads, also when we never heard of a leader. No
                    // leadership change without a fault: only an unanswered probe makes a tab
                    // claim or steal.
                    self.post(Body::Probe {
                        term: self.max_term,
                    });
                    self.probe_sent_at = Some(now);
                    self.timers.set(Timer::Probe, now + self.probe_timeout(now));
                }
            }
            Timer::Candidacy => {
                if self.timers.expire_before(Timer::Candidacy, now) {
                    self.become_candidate(now);
                }
            }
            Timer::Resend => {
                if self.timers.expire_before(Timer::Resend, now) && self.log.has_gap() {
                    self.request_resend(now);
                }
            }
            Timer::RelayBatch => {
                if self.timers.expire_before(Timer::RelayBatch, now) {
                    self.flush_relays();
                }
            }
            // The held goodbye is handled before any timer runs (see `fire_timers`), which stops
            // this one; a deadline left behind would be due forever (a driver spinning on a 0 ms
            // timer), so it goes here in any case.
            Timer::Goodbye => {
                debug_assert!(
                    !self.timers.is_set(Timer::Goodbye) || !self.held_goodbye.is_empty(),
                    "a goodbye deadline with no goodbye held"
                );
                self.timers.expire_before(Timer::Goodbye, now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_yields_the_earliest_and_expires_by_name() {
        let mut t = TimerTable::default();
        assert_eq!(t.next_timeout(), None);
        t.set(Timer::Presence, Instant(30));
        t.set(Timer::Probe, Instant(10));
        t.set(Timer::Resend, Instant(20));
        assert_eq!(t.next_timeout(), Some(Instant(10)));
        assert!(!t.expire_before(Timer::Resend, Instant(15)));
        assert!(t.expire_before(Timer::Probe, Instant(15)));
        assert!(!t.is_set(Timer::Probe));
        assert_eq!(t.next_timeout(), Some(Instant(20)));
        t.stop(Timer::Resend);
        t.set_opt(Timer::Presence, None);
        assert_eq!(t.next_timeout(), None);
        for (i, timer) in Timer::VALUES.into_iter().enumerate() {
            assert_eq!(
                timer as usize, i,
                "VALUES lists the timers in declaration order"
            );
        }
    }
}
