//! Dates for expressions: `days_ago(n)` gives the UTC time `n` days before now in HaloPSA's
//! format (`2025-01-15T10:00:00`), which compares correctly as text with HaloPSA's own dates
//! (`lastlogindate`, `datecreated`), e.g. `item.lastlogindate < days_ago(90)`.
use psaflow_core::dates::{format_unix, unix_now};

/// The `days_ago(days)` expression function.
pub(crate) fn days_ago(days: f64) -> Result<String, minijinja::Error> {
    if !days.is_finite() || days.abs() > 1_000_000.0 {
        return Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("days_ago: {days} is not a number of days between -1000000 and 1000000"),
        ));
    }
    #[allow(
        clippy::cast_possible_truncation,
        reason = "days is finite and within ±1e6 (checked above): at most ±8.64e10 seconds"
    )]
    let offset = (days * 86_400.0) as i64;
    Ok(format_unix(unix_now() - offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_ago_is_in_the_past_and_ordered_as_text() {
        let a = days_ago(90.0).unwrap();
        let b = days_ago(1.0).unwrap();
        assert_eq!(a.len(), 19);
        assert!(a < b, "{a} < {b}");
        assert!(days_ago(f64::NAN).is_err());
    }
}
