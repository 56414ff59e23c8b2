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

/// `value` with `places` decimals (at most 6), e.g. `decimal(2.3456, 2)` is `"2.35"`, by integer
/// arithmetic. Rust's float formatting is slow in wasm for the values an event row shows: an
/// epoch time in ms has 16 significant digits, where its shortest-form algorithm falls back to
/// its exact, big-number path; in the profile of a follower that was half a millisecond per row,
/// more than the rest of building it.
pub fn decimal(value: f64, places: u32) -> String {
    let places = places.min(6);
    let scale = 10u64.pow(places);
    let scaled = (value.abs() * scale as f64).round();
    // 2^53: beyond it the product is no longer an exact integer (and not a time or a latency).
    if scaled.is_nan() || scaled >= 9_007_199_254_740_992.0 {
        return format!("{value:.*}", places as usize);
    }
    let scaled = scaled as u64;
    let sign = if value < 0.0 && scaled > 0 { "-" } else { "" };
    if places == 0 {
        return format!("{sign}{scaled}");
    }
    format!(
        "{sign}{}.{:0width$}",
        scaled / scale,
        scaled % scale,
        width = places as usize
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
    fn decimals_are_fixed_and_rounded() {
        assert_eq!(decimal(2.3456, 2), "2.35");
        assert_eq!(decimal(0.004, 2), "0.00");
        assert_eq!(decimal(-0.004, 2), "0.00", "no negative zero");
        assert_eq!(decimal(-1.5, 1), "-1.5");
        assert_eq!(decimal(7.0, 0), "7");
        assert_eq!(decimal(1_764_464_284_123.456_7, 3), "1764464284123.457");
        assert_eq!(decimal(f64::NAN, 2), "NaN");
        assert_eq!(decimal(1e300, 1), format!("{:.1}", 1e300));
    }

    proptest::proptest! {
        /// The same number as Rust's own `{:.N}`, to the last place (ties may round apart).
        #[test]
        fn decimal_matches_std_formatting(value in -1e13f64..1e13, places in 0u32..=4) {
            let ours: f64 = decimal(value, places).parse().unwrap();
            let std: f64 = format!("{value:.*}", places as usize).parse().unwrap();
            let last_place = 10f64.powi(-(places as i32));
            proptest::prop_assert!((ours - std).abs() <= last_place * 1.5, "{ours} vs {std}");
        }
    }

    #[test]
    fn countdown_stops_at_now() {
        assert_eq!(countdown(1_000.0, 4_200.0), "in 3.2 s");
        assert_eq!(countdown(5_000.0, 4_200.0), "now");
    }
}
