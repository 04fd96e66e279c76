//! Counters a `HaloClient` keeps, for tests, diagnostics and run reports.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of what a client has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransportStats {
    /// HTTP requests sent to the resource API, retries included (not token requests).
    pub requests: u64,
    /// HTTP requests sent to the token endpoint, retries after 429/503 included.
    pub token_fetches: u64,
    /// Requests repeated after a 429/503 or after a dropped connection (GET/DELETE), on
    /// either the API or the token endpoint.
    pub retries: u64,
    /// Times an API 401 led to a token refresh and a second try.
    pub refreshes_after_401: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    requests: AtomicU64,
    token_fetches: AtomicU64,
    retries: AtomicU64,
    refreshes_after_401: AtomicU64,
}

impl Counters {
    pub(crate) fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn token_fetch(&self) {
        self.token_fetches.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn refresh_after_401(&self) {
        self.refreshes_after_401.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn snapshot(&self) -> TransportStats {
        TransportStats {
            requests: self.requests.load(Ordering::Relaxed),
            token_fetches: self.token_fetches.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            refreshes_after_401: self.refreshes_after_401.load(Ordering::Relaxed),
        }
    }
}
