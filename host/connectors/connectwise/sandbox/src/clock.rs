//! Timestamps as ConnectWise writes them: UTC with a `Z` (`2025-01-15T10:00:00Z`).

use psaflow_core::dates::unix_now;

/// The current time in ConnectWise's format.
pub(crate) fn now() -> String {
    format_unix(unix_now())
}

/// `secs` since the Unix epoch in ConnectWise's format.
pub(crate) fn format_unix(secs: i64) -> String {
    format!("{}Z", psaflow_core::dates::format_unix(secs))
}

/// Whether `text` is a date and time as ConnectWise writes them, `2024-03-01T00:00:00Z`: UTC
/// with a `Z`, to the second, naming a day that exists. Only this form is stored, because
/// conditions compare dates as text and it sorts chronologically.
pub(crate) fn is_datetime(text: &str) -> bool {
    // Read back and written again, only this exact form of a real moment comes out the same.
    psaflow_core::dates::parse_utc_text(text)
        .is_some_and(|ms| psaflow_core::dates::utc_seconds_text(ms) == text)
}

#[cfg(test)]
mod tests {
    #[test]
    fn datetimes_as_connectwise_writes_them() {
        for good in [
            "2024-03-01T00:00:00Z",
            "2024-02-29T23:59:59Z",
            "1999-12-31T12:30:00Z",
        ] {
            assert!(super::is_datetime(good), "{good}");
        }
        for bad in [
            "notadate",
            "",
            "2024-03-01",
            "2024-03-01T00:00:00",
            "2024-3-01T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-03-01T24:00:00Z",
            "2024-03-01T00:60:00Z",
            "2024-03-01 00:00:00Z",
            "2024-03-01T00:00:00z1",
            "２024-03-01T00:00:00Z",
        ] {
            assert!(!super::is_datetime(bad), "{bad}");
        }
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(super::format_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::format_unix(1_709_164_800), "2024-02-29T00:00:00Z");
        assert_eq!(super::format_unix(1_735_689_599), "2024-12-31T23:59:59Z");
    }
}
