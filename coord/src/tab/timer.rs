//! The tab's timers, by name, in one table (the shape of `quinn-proto`'s `TimerTable`): one
//! deadline per [`Timer`], [`Tab::poll_timeout`](super::Tab::poll_timeout) is the earliest, and
//! `fire_timers` walks the due ones by name.

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
}

impl Timer {
    /// Every timer, in the order due ones run.
    pub(crate) const VALUES: [Timer; 9] = [
        Timer::Expiry,
        Timer::Heartbeat,
        Timer::Reconnect,
        Timer::Presence,
        Timer::ClaimWindow,
        Timer::Probe,
        Timer::LeaderSilence,
        Timer::Candidacy,
        Timer::Resend,
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
