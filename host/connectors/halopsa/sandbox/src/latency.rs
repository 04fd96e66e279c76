//! The latency fault's wait: a call delayed by 20 ms is answered 20 ms later, on average, even
//! on a machine whose timers fire late.
//!
//! Tokio's timer counts whole milliseconds and rounds up (a 20 ms sleep takes 21-22 ms), and on
//! a virtual machine a thread woken from an idle CPU runs 0.1-0.3 ms after its deadline whatever
//! the timer. Benchmarks compare psaflow against the latency they configure, so the wait sleeps
//! all but the last 2 ms on Tokio, the rest on a blocking-pool thread, and aims that last sleep
//! early by how late recent wake-ups were (a moving average, starting at zero, so a fresh
//! sandbox never answers early).
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Never aim earlier than this, whatever the machine did: a stalled thread is not lateness to
/// correct for.
const MAX_CORRECTION: Duration = Duration::from_millis(1);
/// Slept on a precise thread instead of Tokio's millisecond timer.
const TIMER_SLACK: Duration = Duration::from_millis(2);

/// How late the latency fault's wake-ups have been, shared by every call to one sandbox.
#[derive(Debug, Default)]
pub(crate) struct LatencyClock {
    /// Moving average (weight 1/8) of how late the precise sleep woke, in nanoseconds.
    lateness_ns: AtomicU64,
}

impl LatencyClock {
    /// Waits `latency` from now.
    pub(crate) async fn wait(&self, latency: Duration) {
        let deadline = Instant::now() + latency;
        let correction = Duration::from_nanos(self.lateness_ns.load(Ordering::Relaxed));
        let aim = deadline.checked_sub(correction).unwrap_or(deadline);
        if latency > TIMER_SLACK {
            tokio::time::sleep(latency - TIMER_SLACK).await;
        }
        let rest = aim.saturating_duration_since(Instant::now());
        if rest.is_zero() {
            // Tokio's part already overran: nothing to learn about the precise sleep.
            return;
        }
        // A failed blocking task only means the wait was shorter.
        let _ = tokio::task::spawn_blocking(move || std::thread::sleep(rest)).await;
        self.learn(Instant::now().saturating_duration_since(aim));
    }

    fn learn(&self, late: Duration) {
        // At most MAX_CORRECTION (a million nanoseconds): always fits.
        let late = u64::try_from(late.min(MAX_CORRECTION).as_nanos()).unwrap_or(u64::MAX);
        // Racing updates lose one sample at worst; the average is a hint, not an account.
        let old = self.lateness_ns.load(Ordering::Relaxed);
        self.lateness_ns
            .store(old - old / 8 + late / 8, Ordering::Relaxed);
    }

    #[cfg(test)]
    fn correction(&self) -> Duration {
        Duration::from_nanos(self.lateness_ns.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lateness_is_averaged_and_capped() {
        let clock = LatencyClock::default();
        assert_eq!(clock.correction(), Duration::ZERO);
        for _ in 0..200 {
            clock.learn(Duration::from_micros(200));
        }
        let settled = clock.correction();
        assert!(
            settled > Duration::from_micros(190) && settled <= Duration::from_micros(200),
            "{settled:?}"
        );
        // A stalled thread moves the average by at most an eighth of the cap.
        clock.learn(Duration::from_secs(5));
        assert!(clock.correction() <= settled + MAX_CORRECTION / 8);
    }

    #[tokio::test]
    async fn a_fresh_clock_never_answers_early() {
        let clock = LatencyClock::default();
        let started = Instant::now();
        clock.wait(Duration::from_millis(30)).await;
        assert!(started.elapsed() >= Duration::from_millis(30));
    }
}
