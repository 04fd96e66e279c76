//! The one calendar conversion psaflow needs: seconds since the Unix epoch to a UTC civil date
//! and time, for the timestamps the sandboxes write and `days_ago()` in expressions. A calendar
//! crate would be a dependency for one output format, so the civil date is computed with the
//! inverse of Howard Hinnant's days-from-civil algorithm.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in whole seconds since the Unix epoch (0 if the system clock is before it).
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The proleptic Gregorian `(year, month 1..=12, day 1..=31)` of `days` since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `secs` since the Unix epoch as `YYYY-MM-DDTHH:MM:SS` (UTC, no offset): HaloPSA's wire
/// format, which sorts chronologically as text. ConnectWise adds a `Z`.
pub fn format_unix(secs: i64) -> String {
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
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
        assert_eq!(format_unix(1_735_689_599), "2024-12-31T23:59:59");
        // Before the epoch: the day and time still come out right.
        assert_eq!(format_unix(-1), "1969-12-31T23:59:59");
    }

    #[test]
    fn civil_dates_round_the_leap_day() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(19_783), (2024, 3, 1));
    }
}
