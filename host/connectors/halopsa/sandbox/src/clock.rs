//! Timestamps in Halo's wire format: UTC, seconds precision, no offset (`2025-01-15T10:00:00`).

use psaflow_core::dates::{format_unix, unix_now};

/// The current time in Halo's format.
pub(crate) fn now() -> String {
    format_unix(unix_now())
}

/// The time `days` days before now, in Halo's format (seed data such as last logins).
pub(crate) fn days_ago(days: i64) -> String {
    format_unix(unix_now() - days * 86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_has_halo_shape() {
        let s = now();
        assert_eq!(s.len(), 19, "{s}");
        assert_eq!(&s[10..11], "T");
        assert!(!s.ends_with('Z'));
    }
}
