//! The open-connection count over the last few minutes, so that the sparkline of a page opened
//! just now already shows it (a person opening tab after tab sees it stay flat at 1).
//!
//! Fed by the `stats` coalescer ([`crate::stats::run`]), so it holds at most one sample per
//! coalescing window. Bounded twice: by age, keeping the newest sample older than the window
//! (the count in effect when the window starts), and by count, so sustained churn shortens the
//! history a page gets instead of growing it.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use wire::model::CountSample;

pub struct ConnectionHistory {
    samples: Mutex<VecDeque<CountSample>>,
    window_ms: u64,
    capacity: usize,
}

impl ConnectionHistory {
    pub fn new(window: Duration, capacity: usize) -> Self {
        Self {
            samples: Mutex::new(VecDeque::new()),
            window_ms: window.as_millis() as u64,
            capacity: capacity.max(1),
        }
    }

    /// The count became `open` at `at_ms`.
    pub fn record(&self, at_ms: u64, open: u64) {
        let mut samples = self.lock();
        if samples.back().is_some_and(|last| last.open == open) {
            return;
        }
        samples.push_back(CountSample { at_ms, open });
        let start = at_ms.saturating_sub(self.window_ms);
        // Drop a sample only once the next one is also older than the window start.
        while samples.len() > 1 && samples[1].at_ms <= start {
            samples.pop_front();
        }
        while samples.len() > self.capacity {
            samples.pop_front();
        }
    }

    /// Oldest first: the count in effect at `now_ms - window` (if known), then every change.
    pub fn samples(&self, now_ms: u64) -> Vec<CountSample> {
        let start = now_ms.saturating_sub(self.window_ms);
        let samples = self.lock();
        let skip = samples.iter().take_while(|s| s.at_ms <= start).count();
        samples
            .iter()
            .skip(skip.saturating_sub(1))
            .copied()
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<CountSample>> {
        // A panic while holding the lock cannot leave the deque inconsistent: keep going.
        self.samples.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(300);

    fn opens(samples: &[CountSample]) -> Vec<(u64, u64)> {
        samples.iter().map(|s| (s.at_ms, s.open)).collect()
    }

    #[test]
    fn keeps_the_count_in_effect_when_the_window_starts() {
        let history = ConnectionHistory::new(WINDOW, 100);
        history.record(1_000, 1);
        history.record(2_000, 2);
        history.record(3_000, 1);
        // Long after: the window starts at 400_000, when the count was 1 (since 3_000).
        history.record(700_000, 2);
        assert_eq!(opens(&history.samples(700_000)), [(3_000, 1), (700_000, 2)]);
    }

    #[test]
    fn a_repeated_count_adds_nothing() {
        let history = ConnectionHistory::new(WINDOW, 100);
        history.record(1_000, 1);
        history.record(2_000, 1);
        assert_eq!(opens(&history.samples(2_000)), [(1_000, 1)]);
    }

    #[test]
    fn reading_leaves_out_what_ended_before_the_window() {
        let history = ConnectionHistory::new(WINDOW, 100);
        history.record(1_000, 1);
        history.record(2_000, 0);
        // Nothing recorded since: 0 has been the count from 2_000 until now.
        assert_eq!(opens(&history.samples(1_000_000)), [(2_000, 0)]);
        assert_eq!(opens(&history.samples(2_500)), [(1_000, 1), (2_000, 0)]);
    }

    #[test]
    fn churn_is_bounded_by_the_capacity() {
        let history = ConnectionHistory::new(WINDOW, 10);
        for i in 0..1_000 {
            history.record(1_000 + i * 100, i % 2);
        }
        let samples = history.samples(1_000 + 999 * 100);
        assert_eq!(samples.len(), 10);
        assert_eq!(samples.last().map(|s| s.open), Some(1));
    }
}
