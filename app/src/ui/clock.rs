//! A ticking "now" for ages and countdowns.

use leptos::prelude::*;

/// Milliseconds since the epoch, updated every `every_ms` in the browser while the page is
/// visible (a hidden page shows no ages: it skips the ticks and catches up when it shows again),
/// static in SSR.
pub fn use_now(every_ms: u64) -> ReadSignal<f64> {
    let (now, set_now) = signal(now_ms());
    #[cfg(feature = "hydrate")]
    {
        let visible = super::frame::use_page_visible();
        Effect::new(move |_| {
            if visible.get() {
                set_now.set(now_ms());
            }
        });
        let handle = set_interval_with_handle(
            move || {
                if !tabrelay::runtime::leaving::has_left() && visible.get_untracked() {
                    set_now.set(now_ms());
                }
            },
            std::time::Duration::from_millis(every_ms),
        );
        on_cleanup(move || {
            if let Ok(handle) = handle {
                handle.clear();
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (set_now, every_ms);
    now
}

fn now_ms() -> f64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    }
}
