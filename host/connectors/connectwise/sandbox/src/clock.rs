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

#[cfg(test)]
mod tests {
    #[test]
    fn formats_known_instants() {
        assert_eq!(super::format_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::format_unix(1_709_164_800), "2024-02-29T00:00:00Z");
        assert_eq!(super::format_unix(1_735_689_599), "2024-12-31T23:59:59Z");
    }
}
