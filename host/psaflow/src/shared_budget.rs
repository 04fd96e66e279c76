//! One request budget per tenant connection across every worker: a [`RequestBudget`] whose
//! window lives in the run store (`RunStore::take_request_slot`), so N workers against one
//! tenant together stay under its limit, and a 429 seen by one of them slows all of them.
//!
//! Each request costs one short transaction on the connection's budget row before it is
//! sent. Successes are only written while the budget is below its configured figure (after a
//! 429), so a healthy budget costs no second write. If the store cannot be reached, requests
//! fall back to this process's own window for the same limit (paced, never unbounded) and the
//! problem is said once.
use psaflow_core::{BoxFuture, Clock, RateLimit, RequestBudget, SystemClock, WindowBudget};
use psaflow_store::{RunStore, SharedLimit};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// A tenant's request budget kept in the run store and shared by every worker using it.
pub struct SharedBudget {
    store: Arc<dyn RunStore>,
    /// The budget row's key: the tenant's API application.
    key: String,
    limit: RateLimit,
    shared: SharedLimit,
    /// The figure the store last reported (the limit, less after 429s).
    allowed: AtomicU32,
    fallback: WindowBudget,
    warned: AtomicBool,
    clock: Arc<dyn Clock>,
    /// Requests this process was let through.
    sent: AtomicU64,
}

impl SharedBudget {
    /// A budget for `limit` shared by everyone using `store` with the same `key` (e.g. the
    /// API URL and client id of the tenant's API application).
    pub fn new(store: Arc<dyn RunStore>, key: String, limit: RateLimit) -> SharedBudget {
        // The same jitter margin as the in-process budget: 1% of the span, 20 ms to 2 s.
        let margin = (limit.per / 100).clamp(Duration::from_millis(20), Duration::from_secs(2));
        let clock: Arc<dyn Clock> = Arc::new(SystemClock::default());
        SharedBudget {
            store,
            key,
            limit,
            shared: SharedLimit {
                requests: limit.requests,
                per_ms: psaflow_store::duration_ms(limit.per + margin),
            },
            allowed: AtomicU32::new(limit.requests),
            fallback: WindowBudget::new(limit, clock.clone()),
            warned: AtomicBool::new(false),
            clock,
            sent: AtomicU64::new(0),
        }
    }

    fn warn(&self, err: &dyn std::fmt::Display) {
        if !self.warned.swap(true, Ordering::Relaxed) {
            eprintln!(
                "psaflow: warning: the shared request budget of {} cannot be read from the run store \
                 ({err}); pacing this process alone to {} until it can",
                self.key, self.limit
            );
        }
    }

    /// Runs a store call off the async threads.
    fn background(
        &self,
        f: impl FnOnce(&dyn RunStore) -> psaflow_store::StoreResult<()> + Send + 'static,
    ) {
        let store = self.store.clone();
        let key = self.key.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(err) = f(store.as_ref()) {
                eprintln!("psaflow: warning: updating the shared request budget of {key}: {err}");
            }
        });
    }
}

impl RequestBudget for SharedBudget {
    fn acquire(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            // A slot in the store's window, or in this process's own when the store fails.
            let slot = async {
                loop {
                    let (store, key, limit) = (self.store.clone(), self.key.clone(), self.shared);
                    let answer =
                        tokio::task::spawn_blocking(move || store.take_request_slot(&key, limit))
                            .await;
                    match answer {
                        Ok(Ok(answer)) => {
                            self.allowed.store(answer.allowed, Ordering::Relaxed);
                            match answer.wait_ms {
                                None => return,
                                Some(ms) => {
                                    // Never sleep past one span: the window may change meanwhile.
                                    let wait = Duration::from_millis(ms.max(1).unsigned_abs())
                                        .min(self.limit.per);
                                    self.clock.sleep(wait).await;
                                }
                            }
                        }
                        Ok(Err(err)) => {
                            self.warn(&err);
                            return self.fallback.acquire().await;
                        }
                        Err(err) => {
                            self.warn(&err);
                            return self.fallback.acquire().await;
                        }
                    }
                }
            };
            slot.await;
            self.sent.fetch_add(1, Ordering::Relaxed);
        })
    }

    fn throttled(&self, retry_after: Option<Duration>) {
        self.fallback.throttled(retry_after);
        // As the in-process budget: without Retry-After, the time one request is worth.
        let pause = retry_after
            .unwrap_or(self.limit.per / self.limit.requests)
            .min(self.limit.per.max(Duration::from_secs(60)));
        let (key, limit) = (self.key.clone(), self.shared);
        self.allowed.store(
            (self.allowed.load(Ordering::Relaxed) / 2).max(1),
            Ordering::Relaxed,
        );
        self.background(move |s| s.budget_throttled(&key, limit, psaflow_store::duration_ms(pause)));
    }

    fn succeeded(&self) {
        self.fallback.succeeded();
        if self.allowed.load(Ordering::Relaxed) < self.limit.requests {
            self.allowed.fetch_add(1, Ordering::Relaxed);
            let (key, limit) = (self.key.clone(), self.shared);
            self.background(move |s| s.budget_succeeded(&key, limit));
        }
    }

    fn limit(&self) -> RateLimit {
        self.limit
    }

    fn current_requests(&self) -> u32 {
        self.allowed.load(Ordering::Relaxed)
    }

    fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}
