//! Dates for expressions: `days_ago(n)` gives the UTC time `n` days before now in HaloPSA's
//! format (`2025-01-15T10:00:00`), which compares correctly as text with HaloPSA's own dates
//! (`lastlogindate`, `datecreated`), e.g. `item.lastlogindate < days_ago(90)`.
use std::time::{SystemTime, UNIX_EPOCH};

/// The `days_ago(days)` expression function.
pub(crate) fn days_ago(days: f64) -> Result<String, minijinja::Error> {
    if !days.is_finite() || days.abs() > 1_000_000.0 {
        return Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("days_ago: {days} is not a number of days between -1000000 and 1000000"),
        ));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    #[allow(
        clippy::cast_possible_truncation,
        reason = "days is finite and within ±1e6 (checked above): at most ±8.64e10 seconds"
    )]
    let offset = (days * 86_400.0) as i64;
    Ok(format_unix(now - offset))
}

/// Seconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SS` (UTC). The civil date is the inverse of
/// Howard Hinnant's days-from-civil, so no calendar crate is needed for one format.
pub(crate) fn format_unix(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_unix(0), "1970-01-01T00:00:00");
        assert_eq!(format_unix(1_736_935_200), "2025-01-15T10:00:00");
        assert_eq!(format_unix(1_709_164_800), "2024-02-29T00:00:00");
    }

    #[test]
    fn days_ago_is_in_the_past_and_ordered_as_text() {
        let a = days_ago(90.0).unwrap();
        let b = days_ago(1.0).unwrap();
        assert_eq!(a.len(), 19);
        assert!(a < b, "{a} < {b}");
        assert!(days_ago(f64::NAN).is_err());
    }
}
