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
    // Looked up once: the window and its `performance` object cost two calls into JS each time,
    // and the clock is read several times per event. `timeOrigin` never changes.
    thread_local! {
        static PERFORMANCE: Option<(web_sys::Performance, f64)> = web_sys::window()
            .and_then(|w| w.performance())
            .map(|p| {
                let origin = p.time_origin();
                (p, origin)
            });
    }
    PERFORMANCE.with(|performance| match performance {
        Some((performance, origin)) => origin + performance.now(),
        None => js_sys::Date::now(),
    })
}

/// Converts a core instant to milliseconds since the epoch.
pub fn to_ms(instant: Instant) -> f64 {
    instant.as_micros() as f64 / 1000.0
}
