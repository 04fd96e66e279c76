//! Time as a dependency: real sleeps in production, a virtual clock in workflow tests so
//! that five retries with exponential backoff finish without waiting.

use crate::BoxFuture;
use std::sync::Mutex;
use std::time::Duration;

/// Where the host reads time and waits. Everything that sleeps (retries, backoff, polling)
/// goes through this, so tests can swap in a [`VirtualClock`] and never wait for real.
pub trait Clock: Send + Sync {
    /// Time elapsed since the clock started.
    fn elapsed(&self) -> Duration;
    /// Waits `duration` (really or virtually).
    fn sleep(&self, duration: Duration) -> BoxFuture<'_, ()>;
    /// True when time only moves through `sleep`. A timeout on such a clock is judged by
    /// running the work to completion and comparing the virtual time it consumed.
    fn is_virtual(&self) -> bool {
        false
    }
}

/// Wall-clock time; sleeps with tokio.
#[derive(Debug)]
pub struct SystemClock {
    start: std::time::Instant,
}

impl Default for SystemClock {
    fn default() -> Self {
        Self {
            start: std::time::Instant::now(),
        }
    }
}

impl Clock for SystemClock {
    fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
    fn sleep(&self, duration: Duration) -> BoxFuture<'_, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A clock that jumps forward instead of sleeping, and remembers every sleep.
#[derive(Debug, Default)]
pub struct VirtualClock {
    state: Mutex<VirtualState>,
}

#[derive(Debug, Default)]
struct VirtualState {
    now: Duration,
    sleeps: Vec<Duration>,
}

impl VirtualClock {
    /// A virtual clock at zero that has not slept yet.
    pub fn new() -> Self {
        Self::default()
    }
    /// Every sleep requested so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.lock().sleeps.clone()
    }

    /// The state; a panic elsewhere while it was held leaves it consistent, so keep using it.
    fn lock(&self) -> std::sync::MutexGuard<'_, VirtualState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// At most this many sleeps are remembered (the first ones), so a long soak on a virtual clock
/// keeps bounded memory; the time still advances for every sleep.
const MAX_REMEMBERED_SLEEPS: usize = 100_000;

impl Clock for VirtualClock {
    fn elapsed(&self) -> Duration {
        self.lock().now
    }
    fn is_virtual(&self) -> bool {
        true
    }
    fn sleep(&self, duration: Duration) -> BoxFuture<'_, ()> {
        let mut st = self.lock();
        // Saturating: an absurd delay pins the clock at its end instead of overflowing.
        st.now = st.now.saturating_add(duration);
        if st.sleeps.len() < MAX_REMEMBERED_SLEEPS {
            st.sleeps.push(duration);
        }
        Box::pin(std::future::ready(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn virtual_clock_saturates_instead_of_overflowing() {
        let clock = VirtualClock::new();
        clock.sleep(Duration::MAX).await;
        clock.sleep(Duration::from_secs(1)).await;
        assert_eq!(clock.elapsed(), Duration::MAX);
        assert_eq!(clock.sleeps().len(), 2);
    }

    #[tokio::test]
    async fn virtual_clock_advances_without_waiting() {
        let clock = VirtualClock::new();
        clock.sleep(Duration::from_secs(30)).await;
        clock.sleep(Duration::from_secs(60)).await;
        assert_eq!(clock.elapsed(), Duration::from_secs(90));
        assert_eq!(
            clock.sleeps(),
            vec![Duration::from_secs(30), Duration::from_secs(60)]
        );
    }
}
