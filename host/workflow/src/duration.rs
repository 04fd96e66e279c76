//! Durations as users write them (`500ms`, `30s`, `2m`, `1h`, `7d`) and as psaflow shows them back.
use std::time::Duration;

/// The longest duration psaflow accepts anywhere (timeouts, retry intervals, waits): a year.
/// Longer values are refused with an error naming this limit instead of overflowing.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 86_400);

/// A number of seconds as a duration, if it is positive, finite and at most [`MAX_DURATION`].
pub fn duration_from_secs(secs: f64) -> Option<Duration> {
    if !(secs.is_finite() && secs > 0.0) {
        return None;
    }
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| *d <= MAX_DURATION)
}

/// True when `text` reads as a duration but is longer than [`MAX_DURATION`] (so the error can
/// name the limit rather than the format).
pub fn exceeds_max_duration(text: &str) -> bool {
    parse_seconds(text).is_some_and(|s| s > MAX_DURATION.as_secs_f64())
}

/// Parses `500ms`, `30s`, `2m`, `1h`, `7d`, or a bare number of seconds; `None` for anything
/// else, for zero, and for more than [`MAX_DURATION`].
pub fn parse_duration(text: &str) -> Option<Duration> {
    duration_from_secs(parse_seconds(text)?)
}

fn parse_seconds(text: &str) -> Option<f64> {
    let t = text.trim();
    let (num, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => (&t[..i], t[i..].trim()),
        None => (t, "s"),
    };
    let n: f64 = num.parse().ok()?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" | "sec" | "secs" | "seconds" => n,
        "m" | "min" | "minutes" => n * 60.0,
        "h" | "hours" => n * 3600.0,
        "d" | "days" => n * 86_400.0,
        _ => return None,
    };
    secs.is_finite().then_some(secs)
}

/// `30s`, `500ms`, `2m`: how durations are shown back to users.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(86_400_000) && ms > 0 {
        format!("{}d", ms / 86_400_000)
    } else if ms.is_multiple_of(3_600_000) && ms > 0 {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) && ms > 0 {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else if ms >= 1000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("0s"), None);
        assert_eq!(format_duration(Duration::from_secs(30)), "30s");
        assert_eq!(format_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(format_duration(Duration::from_secs(120)), "2m");
    }

    #[test]
    fn huge_durations_are_refused_not_overflowed() {
        for text in ["99999999999999999999h", "366d", "99999999999999999999999999999999"] {
            assert_eq!(parse_duration(text), None, "{text}");
            assert!(exceeds_max_duration(text), "{text}");
        }
        assert_eq!(parse_duration("365d"), Some(MAX_DURATION));
        assert!(!exceeds_max_duration("soon"));
        // Exponents are not part of the text format (YAML floats are read as numbers).
        assert_eq!(parse_duration("1.0e+20"), None);
        assert!(!exceeds_max_duration("1.0e+20"));
        assert_eq!(duration_from_secs(1.0e20), None);
        assert_eq!(duration_from_secs(f64::NAN), None);
        assert_eq!(duration_from_secs(2.5), Some(Duration::from_millis(2500)));
    }
}
