//! Injected time and the core's only source of randomness.
//!
//! The core never reads a clock: every entry point takes `now: Instant`. The browser shell feeds
//! `(performance.timeOrigin + performance.now()) * 1000`, which is the same clock in every tab of
//! one browser, so a follower can measure how long a relayed event took to reach it.

use std::ops::{Add, Sub};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A point in time, in microseconds since an arbitrary epoch shared by all tabs.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Instant(pub u64);

impl Instant {
    pub const fn from_micros(micros: u64) -> Self {
        Self(micros)
    }

    pub const fn from_millis(millis: u64) -> Self {
        Self(millis.saturating_mul(1000))
    }

    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// `self - earlier`, or zero if `earlier` is later (clocks of two tabs may disagree slightly).
    pub fn saturating_since(self, earlier: Instant) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant(
            self.0
                .saturating_add(d.as_micros().min(u64::MAX as u128) as u64),
        )
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, d: Duration) -> Instant {
        Instant(
            self.0
                .saturating_sub(d.as_micros().min(u64::MAX as u128) as u64),
        )
    }
}

/// SplitMix64: tiny, fast, good enough for backoff jitter, and seeded by the caller so that the
/// simulator is reproducible.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..=max` (modulo bias is irrelevant for jitter).
    pub(crate) fn below_or_eq(&mut self, max: u64) -> u64 {
        if max == u64::MAX {
            self.next_u64()
        } else {
            self.next_u64() % (max + 1)
        }
    }
}

impl wire::json::ToJson for Instant {
    fn write_json(&self, out: &mut String) {
        self.0.write_json(out);
    }
}

impl wire::json::FromJson for Instant {
    fn from_json(value: &wire::json::Value<'_>) -> Result<Self, wire::json::Error> {
        u64::from_json(value).map(Instant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instant_arithmetic_saturates() {
        let t = Instant::from_millis(5);
        assert_eq!(t.as_micros(), 5_000);
        assert_eq!((t + Duration::from_millis(1)).as_micros(), 6_000);
        assert_eq!((t - Duration::from_secs(1)).as_micros(), 0);
        assert_eq!(Instant(10).saturating_since(Instant(20)), Duration::ZERO);
        assert_eq!(
            Instant(20).saturating_since(Instant(10)),
            Duration::from_micros(10)
        );
    }

    #[test]
    fn rng_is_deterministic_and_bounded() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..100 {
            let x = a.below_or_eq(10);
            assert_eq!(x, b.below_or_eq(10));
            assert!(x <= 10);
        }
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }
}
