//! Reconnect policy: exponential backoff with full jitter, capped, seeded by the tab's RNG.

use std::time::Duration;

use crate::time::Rng;

/// Counts consecutive stream failures and draws the next delay.
#[derive(Debug, Clone, Default)]
pub(crate) struct Backoff {
    failures: u32,
}

impl Backoff {
    pub(crate) fn failures(&self) -> u32 {
        self.failures
    }

    pub(crate) fn reset(&mut self) {
        self.failures = 0;
    }

    /// Records a failure and returns the delay before the next attempt: uniform in
    /// `0..=min(cap, base * 2^(failures-1))` ("full jitter"), where `base` is the server's retry
    /// hint when it sent one. Full jitter spreads the reconnects of many browsers after a server
    /// restart instead of synchronising them.
    pub(crate) fn next_delay(&mut self, rng: &mut Rng, base: Duration, cap: Duration) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let ceiling = Self::ceiling(self.failures, base, cap);
        Duration::from_micros(rng.below_or_eq(ceiling.as_micros() as u64))
    }

    pub(crate) fn ceiling(failures: u32, base: Duration, cap: Duration) -> Duration {
        let exp = failures.saturating_sub(1).min(30);
        base.saturating_mul(1u32 << exp).min(cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_then_caps() {
        let base = Duration::from_secs(1);
        let cap = Duration::from_secs(30);
        let ceilings: Vec<u64> = (1..=8)
            .map(|f| Backoff::ceiling(f, base, cap).as_secs())
            .collect();
        assert_eq!(ceilings, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(Backoff::ceiling(u32::MAX, base, cap), cap);
    }

    #[test]
    fn delays_are_jittered_within_the_ceiling() {
        let mut rng = Rng::new(3);
        let mut b = Backoff::default();
        let mut seen = std::collections::BTreeSet::new();
        for f in 1..=20u32 {
            let d = b.next_delay(&mut rng, Duration::from_millis(100), Duration::from_secs(2));
            assert_eq!(b.failures(), f);
            assert!(d <= Backoff::ceiling(f, Duration::from_millis(100), Duration::from_secs(2)));
            seen.insert(d);
        }
        assert!(seen.len() > 10, "jitter should vary: {seen:?}");
        b.reset();
        assert_eq!(b.failures(), 0);
    }
}
