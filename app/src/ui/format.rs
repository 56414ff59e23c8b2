//! Small text formatters shared by the panels. Pure, so they behave the same in SSR and wasm.
//!
//! Numbers with decimals go through [`decimal`] only (no `{:.N}` of an `f64` in the client's own
//! code). That does not take Rust's float formatter out of the bundle: serde's error messages
//! (`Unexpected::Float`) keep it linked (measured with `twiggy paths`).

/// "0.4 s ago", "12 s ago", "3 min ago".
pub fn age(now_ms: f64, then_ms: f64) -> String {
    let seconds = ((now_ms - then_ms) / 1000.0).max(0.0);
    if seconds < 10.0 {
        format!("{} s ago", decimal(seconds, 1))
    } else if seconds < 120.0 {
        format!("{} s ago", decimal(seconds, 0))
    } else {
        format!("{} min ago", decimal(seconds / 60.0, 0))
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
/// arithmetic on the float's exact binary value, digit for digit what `{:.N}` prints. Rust's float
/// formatting is slow in wasm for the values an event row shows (an epoch time in ms has 16
/// significant digits, where its shortest-form algorithm falls back to its exact, big-number
/// path: half a millisecond per row in a follower's profile).
pub fn decimal(value: f64, places: u32) -> String {
    let places = places.min(6);
    if value.is_nan() {
        return "NaN".into();
    }
    let scale = 10u128.pow(places);
    let sign = |scaled: u128| if value < 0.0 && scaled > 0 { "-" } else { "" };
    let Some(scaled) = scaled_exact(value.abs(), scale) else {
        // Infinite, or beyond 2^64: the whole part, saturated (not a time or a latency).
        return format!("{}{}", sign(1), value.abs() as u64);
    };
    // Printed as `u64`s (both parts fit: `value` is below 2^64): formatting a `u128` would bring
    // its own code into the bundle.
    let (whole, fraction) = (
        u64::try_from(scaled / scale).unwrap_or(u64::MAX),
        (scaled % scale) as u64,
    );
    if places == 0 {
        return format!("{}{whole}", sign(scaled));
    }
    format!(
        "{}{whole}.{fraction:0width$}",
        sign(scaled),
        width = places as usize
    )
}

/// `value × scale`, rounded half to even (as Rust's `{:.N}`), computed exactly from the float's mantissa and exponent;
/// `None` when infinite or at least 2^64.
fn scaled_exact(value: f64, scale: u128) -> Option<u128> {
    let bits = value.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i32;
    let fraction = u128::from(bits & ((1u64 << 52) - 1));
    let (mantissa, power) = match exponent {
        0x7ff => return None,
        0 => (fraction, -1074),
        _ => (fraction | (1 << 52), exponent - 1075),
    };
    if power >= 0 {
        // An integer: `mantissa << power` is below 2^64 when `power` is at most 11.
        return (power <= 11).then(|| (mantissa << power) * scale);
    }
    let shift = power.unsigned_abs();
    let product = mantissa * scale; // below 2^73
    if shift > 100 {
        return Some(0);
    }
    let quotient = product >> shift;
    let rest = product - (quotient << shift);
    let half = 1 << (shift - 1);
    let up = rest > half || (rest == half && quotient % 2 == 1);
    Some(quotient + u128::from(up))
}

/// `text` escaped for an HTML text node or a double-quoted attribute.
pub fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// "in 3.2 s" for a future instant, "now" once it is due.
pub fn countdown(now_ms: f64, due_ms: f64) -> String {
    let seconds = (due_ms - now_ms) / 1000.0;
    if seconds <= 0.0 {
        "now".into()
    } else {
        format!("in {} s", decimal(seconds, 1))
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
        assert_eq!(
            decimal(1e300, 1),
            u64::MAX.to_string(),
            "absurd: saturates, never panics"
        );
        assert_eq!(decimal(-9.1e15, 1), "-9100000000000000.0");
        assert_eq!(
            decimal(0.5, 0),
            "0",
            "a tie rounds to even, as the standard formatting does"
        );
        assert_eq!(decimal(1.5, 0), "2");
        assert_eq!(decimal(f64::MIN_POSITIVE, 6), "0.000000");
        assert_eq!(decimal(1_764_464_284_123.456_7, 6), "1764464284123.456787");
    }

    /// The standard library's `places` decimals, but no negative zero (`decimal` writes none).
    fn std_places(value: f64, places: u32) -> String {
        let text = format!("{value:.*}", places as usize);
        match text.strip_prefix('-') {
            Some(rest) if rest.bytes().all(|b| b == b'0' || b == b'.') => rest.to_owned(),
            _ => text,
        }
    }

    proptest::proptest! {
        /// The same text as the standard library formatting N places, digit for digit (ties to even).
        #[test]
        fn decimal_matches_std_formatting(value in -1e13f64..1e13, places in 0u32..=6) {
            proptest::prop_assert_eq!(decimal(value, places), std_places(value, places));
        }

        /// Small values, where most of the digits are the fraction's.
        #[test]
        fn decimal_matches_std_formatting_near_zero(value in -10f64..10.0, places in 0u32..=6) {
            proptest::prop_assert_eq!(decimal(value, places), std_places(value, places));
        }
    }

    #[test]
    fn every_markup_character_is_escaped_and_the_rest_kept() {
        let mut out = String::from("kept: ");
        escape_into(&mut out, r#"<a href="x" title='y'>Tom & Jerry</a> ünïcode"#);
        assert_eq!(
            out,
            "kept: &lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;Tom &amp; Jerry&lt;/a&gt; ünïcode"
        );
    }

    #[test]
    fn countdown_stops_at_now() {
        assert_eq!(countdown(1_000.0, 4_200.0), "in 3.2 s");
        assert_eq!(countdown(5_000.0, 4_200.0), "now");
    }
}
