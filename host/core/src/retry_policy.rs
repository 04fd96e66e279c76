//! When to try again after a 429 (Too Many Requests) or 503 (Service Unavailable), and how
//! long to wait first. Every connector's client follows this one policy:
//!
//! * Only 429 and 503 are retried, up to `max_attempts` attempts in total.
//! * The wait is the server's `Retry-After` (delta-seconds or an HTTP-date) when present,
//!   otherwise exponential backoff 1 s, 2 s, 4 s, … capped at `max_backoff`.
//! * A `Retry-After` longer than `max_backoff` is not shortened: retrying before the server
//!   asked is pointless, so the response is returned as it is instead.
//!
//! Pure functions: the clients do the waiting (through their `Clock`) and the counting.

use std::time::{Duration, SystemTime};

/// Statuses worth retrying after a wait.
pub fn is_retryable_status(status: u16) -> bool {
    status == 429 || status == 503
}

/// The wait after failed attempt number `attempt` (1-based) when the server gave no
/// `Retry-After`: 1 s, 2 s, 4 s, … capped at `max_backoff`.
pub fn backoff(attempt: u32, max_backoff: Duration) -> Duration {
    let exponent = attempt.saturating_sub(1).min(30);
    Duration::from_secs(1u64 << exponent).min(max_backoff)
}

/// Parses a `Retry-After` value: delta-seconds (`120`) or an HTTP-date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`). A date in the past means "now" (zero).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Absurdly long numbers saturate rather than fail; the cap check handles them.
        return Some(Duration::from_secs(
            value.parse::<u64>().unwrap_or(u64::MAX),
        ));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Whether to retry after attempt number `attempt` (1-based) answered `status`, and after
/// what wait. `None` means: return this response to the caller.
pub fn wait_before_retry(
    status: u16,
    retry_after: Option<Duration>,
    attempt: u32,
    max_attempts: u32,
    max_backoff: Duration,
) -> Option<Duration> {
    if !is_retryable_status(status) || attempt >= max_attempts {
        return None;
    }
    match retry_after {
        Some(wait) if wait > max_backoff => None,
        Some(wait) => Some(wait),
        None => Some(backoff(attempt, max_backoff)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn backoff_doubles_and_caps() {
        let max = S(60);
        let waits: Vec<Duration> = (1..=8).map(|a| backoff(a, max)).collect();
        assert_eq!(
            waits,
            vec![S(1), S(2), S(4), S(8), S(16), S(32), S(60), S(60)]
        );
        assert_eq!(backoff(1000, max), S(60));
        assert_eq!(backoff(3, S(3)), S(3));
    }

    #[test]
    fn retry_after_seconds() {
        let now = SystemTime::now();
        assert_eq!(parse_retry_after("7", now), Some(S(7)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(S(0)));
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("1.5", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn retry_after_http_date() {
        // Wed, 21 Oct 2015 07:28:00 GMT is 1445412480 seconds after the epoch.
        let date = SystemTime::UNIX_EPOCH + S(1_445_412_480);
        let now = date - S(30);
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(S(30))
        );
        // The obsolete formats HTTP still allows.
        assert_eq!(
            parse_retry_after("Wednesday, 21-Oct-15 07:28:00 GMT", now),
            Some(S(30))
        );
        assert_eq!(
            parse_retry_after("Wed Oct 21 07:28:00 2015", now),
            Some(S(30))
        );
        // A date in the past: retry now.
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", date + S(5)),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("Wed, 32 Oct 2015 07:28:00 GMT", now),
            None
        );
    }

    #[test]
    fn retry_decisions() {
        let max = S(60);
        assert_eq!(wait_before_retry(429, Some(S(7)), 1, 4, max), Some(S(7)));
        assert_eq!(wait_before_retry(503, None, 1, 4, max), Some(S(1)));
        assert_eq!(wait_before_retry(503, None, 3, 4, max), Some(S(4)));
        // Last attempt: give the response back.
        assert_eq!(wait_before_retry(503, None, 4, 4, max), None);
        // Not retryable.
        for status in [200, 400, 401, 404, 500, 502, 504] {
            assert_eq!(wait_before_retry(status, None, 1, 4, max), None, "{status}");
        }
        // The server asks for longer than we are willing to wait: return the 429 now.
        assert_eq!(wait_before_retry(429, Some(S(61)), 1, 4, max), None);
        assert_eq!(wait_before_retry(429, Some(S(60)), 1, 4, max), Some(S(60)));
    }
}
