//! The HaloPSA client's 429/503 retry step. The policy (which statuses, how long to wait)
//! is [`psaflow_core::retry_policy`], shared by every connector; this module waits through
//! the client's `Clock` (so tests with a virtual clock do not wait), logs and counts.

use crate::http::RawResponse;
use crate::stats::Counters;
use psaflow_core::Clock;
pub use psaflow_core::retry_policy::{
    backoff, is_retryable_status, parse_retry_after, wait_before_retry,
};
use std::time::Duration;

/// The one 429/503 retry step (decide, log, count, wait), used by the API request loop and
/// the token request loop alike.
pub(crate) struct BusyRetry<'a> {
    pub max_attempts: u32,
    pub max_backoff: Duration,
    /// What the waits go through (a virtual clock in tests).
    pub clock: &'a dyn Clock,
    /// Told about every retry.
    pub counters: &'a Counters,
}

impl BusyRetry<'_> {
    /// After attempt number `attempt` (1-based) answered `response`: when it is a 429/503
    /// worth waiting for (see [`wait_before_retry`]), logs, counts, waits and returns true (try
    /// again); else returns false at once (return this answer). `what` names the server.
    pub(crate) async fn waited(&self, what: &str, response: &RawResponse, attempt: u32) -> bool {
        let Some(wait) = wait_before_retry(
            response.status,
            response.retry_after,
            attempt,
            self.max_attempts,
            self.max_backoff,
        ) else {
            return false;
        };
        tracing::warn!(
            status = response.status,
            wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            attempt,
            "{what} is busy; waiting before trying again"
        );
        self.counters.retry();
        self.clock.sleep(wait).await;
        true
    }
}
