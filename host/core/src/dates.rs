//! The calendar conversions psaflow needs: seconds since the Unix epoch to a UTC civil date and
//! time, for the timestamps the sandboxes write and `days_ago()` in expressions, and
//! milliseconds to RFC 3339 UTC text and back, for the times psaflow shows people (hold and
//! approval expiries, worker logs). A calendar crate would be a dependency for two formats, so
//! the civil date is computed with Howard Hinnant's days-from-civil algorithm and its inverse.

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

/// Days since 1970-01-01 of the proleptic Gregorian `year`-`month`-`day` (the inverse of
/// [`civil_from_days`]).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `ms` since the Unix epoch as RFC 3339 UTC text to the second (`2026-12-02T02:51:46Z`), the
/// way messages name a moment.
pub fn utc_seconds_text(ms: i64) -> String {
    format!("{}Z", format_unix(ms.div_euclid(1000)))
}

/// `ms` since the Unix epoch as RFC 3339 UTC text to the millisecond
/// (`2026-12-02T02:51:46.521Z`), the way logs stamp lines.
pub fn utc_millis_text(ms: i64) -> String {
    format!(
        "{}.{:03}Z",
        format_unix(ms.div_euclid(1000)),
        ms.rem_euclid(1000)
    )
}

/// RFC 3339 UTC text as [`utc_seconds_text`] or [`utc_millis_text`] write it, back as
/// milliseconds since the epoch; `None` for anything else.
pub fn parse_utc_text(text: &str) -> Option<i64> {
    let (date, time) = text.strip_suffix('Z')?.split_once('T')?;
    let mut ymd = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (ymd.next()??, ymd.next()??, ymd.next()??);
    let (hms, millis) = time.split_once('.').unwrap_or((time, "000"));
    let mut parts = hms.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (parts.next()??, parts.next()??, parts.next()??);
    // Exactly three digits: `.5` is not 5 ms, and nothing here writes other widths.
    if millis.len() != 3 || !millis.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let millis: i64 = millis.parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(((days * 86_400 + h * 3600 + m * 60 + s) * 1000) + millis)
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

    #[test]
    fn days_from_civil_inverts_civil_from_days() {
        for days in [-800_000, -1, 0, 19_782, 19_783, 20_424, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn utc_text_to_the_second_and_millisecond_reads_back() {
        assert_eq!(utc_millis_text(1_796_179_906_521), "2026-12-02T02:51:46.521Z");
        assert_eq!(utc_seconds_text(1_796_179_906_521), "2026-12-02T02:51:46Z");
        assert_eq!(utc_millis_text(0), "1970-01-01T00:00:00.000Z");
        for ms in [0, 1_796_179_906_521, 951_782_400_007, 4_102_444_800_000] {
            assert_eq!(parse_utc_text(&utc_millis_text(ms)), Some(ms), "{ms}");
        }
        assert_eq!(
            parse_utc_text(&utc_seconds_text(1_796_179_906_521)),
            Some(1_796_179_906_000)
        );
        for bad in ["1796179906521", "2026-13-02T02:51:46Z", "2026-12-02T02:51:46.5Z", "2026-12-02 02:51:46Z"] {
            assert_eq!(parse_utc_text(bad), None, "{bad}");
        }
    }
}
