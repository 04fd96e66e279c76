//! When to try again after a 429 or 503, and how long to wait first: the server's
//! `Retry-After` (seconds or an HTTP-date) when given, else 1 s, 2 s, 4 s … capped. A
//! `Retry-After` longer than the cap is not shortened: the answer is returned instead.

use std::time::{Duration, SystemTime};

pub fn is_retryable_status(status: u16) -> bool {
    status == 429 || status == 503
}

/// The wait after failed attempt `attempt` (1-based) without `Retry-After`.
pub fn backoff(attempt: u32, max_backoff: Duration) -> Duration {
    Duration::from_secs(1u64 << attempt.saturating_sub(1).min(30)).min(max_backoff)
}

pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(
            value.parse::<u64>().unwrap_or(u64::MAX),
        ));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// `None`: give this answer to the caller.
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
    fn decisions() {
        let max = S(60);
        assert_eq!(wait_before_retry(429, Some(S(7)), 1, 4, max), Some(S(7)));
        assert_eq!(wait_before_retry(503, None, 3, 4, max), Some(S(4)));
        assert_eq!(wait_before_retry(429, None, 4, 4, max), None);
        assert_eq!(wait_before_retry(429, Some(S(61)), 1, 4, max), None);
        for status in [200, 400, 401, 404, 405, 500] {
            assert_eq!(wait_before_retry(status, None, 1, 4, max), None);
        }
        assert_eq!(backoff(10, max), max);
    }

    #[test]
    fn retry_after_forms() {
        let date = SystemTime::UNIX_EPOCH + S(1_445_412_480);
        assert_eq!(parse_retry_after("7", date), Some(S(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", date - S(30)),
            Some(S(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", date + S(5)),
            Some(S(0))
        );
        assert_eq!(parse_retry_after("soon", date), None);
        assert_eq!(parse_retry_after("-1", date), None);
    }
}
