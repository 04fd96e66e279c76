//! Timestamps in Halo's wire format: UTC, seconds precision, no offset (`2025-01-15T10:00:00`).

use std::time::{SystemTime, UNIX_EPOCH};

/// The current time in Halo's format.
pub(crate) fn now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    format_unix(secs)
}

/// The time `days` days before now, in Halo's format (seed data such as last logins).
pub(crate) fn days_ago(days: i64) -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    format_unix(secs - days * 86_400)
}

/// Formats seconds since the Unix epoch. A calendar crate would be a dependency for one line of
/// output, so the civil-date conversion (Howard Hinnant's days-from-civil inverse) is done here.
pub(crate) fn format_unix(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_unix(0), "1970-01-01T00:00:00");
        assert_eq!(format_unix(1_736_935_200), "2025-01-15T10:00:00");
        // 2024 is a leap year: the day after Feb 28 is Feb 29.
        assert_eq!(format_unix(1_709_164_800), "2024-02-29T00:00:00");
        assert_eq!(format_unix(1_735_689_599), "2024-12-31T23:59:59");
    }

    #[test]
    fn now_has_halo_shape() {
        let s = now();
        assert_eq!(s.len(), 19, "{s}");
        assert_eq!(&s[10..11], "T");
        assert!(!s.ends_with('Z'));
    }
}
