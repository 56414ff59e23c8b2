//! The clock fed to the core: microseconds on a time line every tab of the browser shares.

use coord::Instant;

/// `(performance.timeOrigin + performance.now())` in microseconds. Unlike `performance.now()`
/// alone it is comparable across tabs, so relay latency (leader send → follower receipt) can be
/// measured; unlike `Date.now()` it has sub-millisecond resolution.
pub fn now() -> Instant {
    Instant::from_micros((now_ms() * 1000.0) as u64)
}

/// The same clock in milliseconds, for the UI.
pub fn now_ms() -> f64 {
    match web_sys::window().and_then(|w| w.performance()) {
        Some(performance) => performance.time_origin() + performance.now(),
        None => js_sys::Date::now(),
    }
}

/// Converts a core instant to milliseconds since the epoch.
pub fn to_ms(instant: Instant) -> f64 {
    instant.as_micros() as f64 / 1000.0
}
