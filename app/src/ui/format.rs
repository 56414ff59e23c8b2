//! Small text formatters shared by the panels. Pure, so they behave the same in SSR and wasm.

/// "0.4 s ago", "12 s ago", "3 min ago".
pub fn age(now_ms: f64, then_ms: f64) -> String {
    let seconds = ((now_ms - then_ms) / 1000.0).max(0.0);
    if seconds < 10.0 {
        format!("{seconds:.1} s ago")
    } else if seconds < 120.0 {
        format!("{seconds:.0} s ago")
    } else {
        format!("{:.0} min ago", seconds / 60.0)
    }
}

/// Time of day in UTC, `HH:MM:SS.mmm` (the same in the server-rendered page and the browser).
pub fn clock_time(ms_since_epoch: f64) -> String {
    let ms = ms_since_epoch.max(0.0) as u64;
    let day_ms = ms % 86_400_000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        day_ms / 3_600_000,
        day_ms / 60_000 % 60,
        day_ms / 1000 % 60,
        day_ms % 1000
    )
}

/// "in 3.2 s" for a future instant, "now" once it is due.
pub fn countdown(now_ms: f64, due_ms: f64) -> String {
    let seconds = (due_ms - now_ms) / 1000.0;
    if seconds <= 0.0 {
        "now".into()
    } else {
        format!("in {seconds:.1} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_naturally() {
        assert_eq!(age(10_000.0, 9_600.0), "0.4 s ago");
        assert_eq!(age(100_000.0, 88_000.0), "12 s ago");
        assert_eq!(age(1_000_000.0, 820_000.0), "3 min ago");
        assert_eq!(
            age(0.0, 5.0),
            "0.0 s ago",
            "clock skew never shows a negative age"
        );
    }

    #[test]
    fn clock_time_is_utc_time_of_day() {
        assert_eq!(clock_time(0.0), "00:00:00.000");
        assert_eq!(clock_time(86_400_000.0 + 3_723_004.0), "01:02:03.004");
    }

    #[test]
    fn countdown_stops_at_now() {
        assert_eq!(countdown(1_000.0, 4_200.0), "in 3.2 s");
        assert_eq!(countdown(5_000.0, 4_200.0), "now");
    }
}
