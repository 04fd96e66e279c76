//! The request budget: how many API requests a connection may send in a span of time.
//!
//! A PSA throttles each API application (hosted HaloPSA: about 500 requests per 3 minutes;
//! ConnectWise answers 429 with `Retry-After` when "request volume exceeds capacity"). Bursting
//! into that limit costs more than pacing below it: every 429 is a wasted round trip plus a
//! backoff. So every API request a connector sends first draws from the connection's budget
//! ([`RequestBudget::acquire`]), and the connector reports what the server said
//! ([`RequestBudget::throttled`], [`RequestBudget::succeeded`]).
//!
//! [`WindowBudget`] is the in-process budget: a sliding window ("at most N requests in any span
//! of length D", exactly the contract's wording) whose size shrinks on a 429 and grows back as
//! requests succeed (AIMD, as TCP does with its congestion window). A budget shared by several
//! processes implements the same trait.

use crate::{BoxFuture, Clock};
use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// "At most `requests` API requests in any span of `per`" (`500/3m`, `20/2s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed in one span; at least 1.
    pub requests: u32,
    /// Length of the span; longer than zero.
    pub per: Duration,
}

impl RateLimit {
    /// The figure assumed for hosted HaloPSA tenants when nothing is configured: the one the
    /// public HaloPSA client libraries pace themselves to.
    pub const HOSTED_HALOPSA: RateLimit = RateLimit {
        requests: 500,
        per: Duration::from_secs(180),
    };

    /// The shortest time `n` requests can take under this limit, from a standing start: the
    /// first `requests` go at once, every further batch waits one span.
    pub fn min_duration(&self, n: u64) -> Duration {
        if n <= u64::from(self.requests) {
            return Duration::ZERO;
        }
        let spans = (n - 1) / u64::from(self.requests);
        self.per.saturating_mul(u32::try_from(spans).unwrap_or(u32::MAX))
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.requests, format_span(self.per))
    }
}

fn format_span(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(3_600_000) {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// Why a rate limit could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rate limit {text:?}: {problem} (write <requests>/<span>, e.g. 500/3m or 20/2s)")]
pub struct RateLimitError {
    text: String,
    problem: &'static str,
}

impl FromStr for RateLimit {
    type Err = RateLimitError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = |problem| RateLimitError {
            text: text.to_string(),
            problem,
        };
        let (count, span) = text.trim().split_once('/').ok_or(fail("no '/'"))?;
        let requests = parse_request_count(count.trim()).map_err(fail)?;
        let per = parse_span(span.trim()).ok_or(fail(
            "the span is not a duration such as 500ms, 10s, 3m or 1h",
        ))?;
        if per.is_zero() {
            return Err(fail("the span must be longer than zero"));
        }
        if per > Duration::from_secs(86_400) {
            return Err(fail("the span must be at most 24h"));
        }
        Ok(RateLimit { requests, per })
    }
}

/// The `<requests>` of a rate limit, or what is wrong with it in words: a negative or zero
/// count and one beyond `u32` are whole numbers too, so "not a whole number" would mislead.
fn parse_request_count(count: &str) -> Result<u32, &'static str> {
    use std::num::IntErrorKind;
    const TOO_LARGE: &str = "the request count is too large (at most 4294967295)";
    const AT_LEAST_ONE: &str = "the request count must be at least 1";
    let negative = count
        .strip_prefix('-')
        .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
    if negative {
        return Err(AT_LEAST_ONE);
    }
    match count.parse::<u32>() {
        Ok(0) => Err(AT_LEAST_ONE),
        Ok(requests) => Ok(requests),
        Err(e) if *e.kind() == IntErrorKind::PosOverflow => Err(TOO_LARGE),
        Err(e) if *e.kind() == IntErrorKind::Empty => Err("the request count is missing"),
        Err(_) => Err("the request count is not a whole number"),
    }
}

/// `500ms`, `10s`, `3m`, `1h`; a bare number is seconds. Never overflows.
fn parse_span(text: &str) -> Option<Duration> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let value: u64 = digits.parse().ok()?;
    let ms_per_unit: u64 = match unit.trim() {
        "ms" => 1,
        "" | "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    Some(Duration::from_millis(value.checked_mul(ms_per_unit)?))
}

/// What every API request of a connection draws from before it is sent.
pub trait RequestBudget: Send + Sync {
    /// Waits until one more request may be sent, and counts it as sent.
    fn acquire(&self) -> BoxFuture<'_, ()>;
    /// The server answered 429: send less, and nothing before `retry_after` has passed.
    fn throttled(&self, retry_after: Option<Duration>);
    /// A request was answered without throttling: the budget may grow back.
    fn succeeded(&self);
    /// The configured limit.
    fn limit(&self) -> RateLimit;
    /// Requests currently allowed per span (the configured figure, less after 429s).
    fn current_requests(&self) -> u32;
    /// Requests this budget has let through in this process so far (progress lines divide it
    /// by the items done to learn how many requests an item sends).
    fn sent(&self) -> u64;
    /// The shortest time from now until `n` more requests can all have been sent. This
    /// default knows nothing of what was sent already: a standing start at the current size.
    fn time_for(&self, n: u64) -> Duration {
        RateLimit {
            requests: self.current_requests().max(1),
            per: self.limit().per,
        }
        .min_duration(n)
    }
}

/// The in-process budget: a sliding window of send times, sized by AIMD.
pub struct WindowBudget {
    limit: RateLimit,
    /// Added to the span so that requests paced exactly one span apart on this side cannot
    /// arrive inside one span on the server's side because of network jitter.
    margin: Duration,
    clock: Arc<dyn Clock>,
    state: Mutex<WindowState>,
    /// Requests let through so far.
    sent: AtomicU64,
}

#[derive(Debug)]
struct WindowState {
    /// Send times (clock elapsed) within the last span, oldest first.
    sent: VecDeque<Duration>,
    /// Requests allowed per span now: halved on a 429, +1 per success, within 1..=limit.
    allowed: u32,
    /// No request before this time (a 429's Retry-After).
    paused_until: Duration,
}

impl fmt::Debug for WindowBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WindowBudget")
            .field("limit", &self.limit)
            .field("allowed", &self.current_requests())
            .finish_non_exhaustive()
    }
}

impl WindowBudget {
    /// A budget for `limit`, timed by `clock`.
    pub fn new(limit: RateLimit, clock: Arc<dyn Clock>) -> Self {
        // 1% of the span, at least 20 ms and at most 2 s.
        let margin = (limit.per / 100).clamp(Duration::from_millis(20), Duration::from_secs(2));
        Self {
            limit,
            margin,
            clock,
            state: Mutex::new(WindowState {
                sent: VecDeque::with_capacity(limit.requests.min(4096) as usize),
                allowed: limit.requests,
                paused_until: Duration::ZERO,
            }),
            sent: AtomicU64::new(0),
        }
    }

    /// How long the caller must wait before it may send, or `None` after taking a slot.
    fn try_take(&self) -> Option<Duration> {
        let now = self.clock.elapsed();
        let span = self.limit.per + self.margin;
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while st.sent.front().is_some_and(|t| now.saturating_sub(*t) >= span) {
            st.sent.pop_front();
        }
        if now < st.paused_until {
            return Some(st.paused_until - now);
        }
        if st.sent.len() < st.allowed as usize {
            st.sent.push_back(now);
            self.sent.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        // Full: the oldest send leaves the window first. With `allowed` just shrunk there may
        // be more sends in the window than allowed; waiting for the oldest repeats until enough
        // have left.
        let oldest = *st.sent.front().expect("a full window is not empty");
        Some((oldest + span).saturating_sub(now).max(Duration::from_millis(1)))
    }
}

impl RequestBudget for WindowBudget {
    fn acquire(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            while let Some(wait) = self.try_take() {
                self.clock.sleep(wait).await;
            }
        })
    }

    fn throttled(&self, retry_after: Option<Duration>) {
        let now = self.clock.elapsed();
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.allowed = (st.allowed / 2).max(1);
        // Without Retry-After, wait the time one request is worth at the configured rate.
        let pause = retry_after
            .unwrap_or(self.limit.per / self.limit.requests)
            .min(self.limit.per.max(Duration::from_secs(60)));
        st.paused_until = st.paused_until.max(now + pause);
    }

    fn succeeded(&self) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.allowed = (st.allowed + 1).min(self.limit.requests);
    }

    fn limit(&self) -> RateLimit {
        self.limit
    }

    fn current_requests(&self) -> u32 {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).allowed
    }

    fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// The window as it is now: the requests still in it hold their places until a span after
    /// they were sent, its size may be below the limit after 429s, and a pause comes first.
    ///
    /// Requests go in order, and one may go a span after the one `allowed` places before it
    /// (in the window's order, the requests already sent first). So the last of the `n` new
    /// ones goes `m - 1` spans after the first request of its chain does, `m` being how many
    /// places of `allowed` separate it from the requests already sent.
    fn time_for(&self, n: u64) -> Duration {
        if n == 0 {
            return Duration::ZERO;
        }
        let now = self.clock.elapsed();
        let span = self.limit.per + self.margin;
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let start = now.max(st.paused_until);
        // Send times are oldest first: those still in the window are a suffix, read in place.
        let left = st
            .sent
            .iter()
            .take_while(|t| now.saturating_sub(**t) >= span)
            .count();
        let allowed = u64::from(st.allowed.max(1));
        let already = (st.sent.len() - left) as u64;
        // Places in the window's order: the requests already sent are 0..already.
        let last = already.saturating_add(n - 1);
        if last < allowed {
            return start - now;
        }
        let chain = (last - already) / allowed + 1;
        // The chain starts behind a request already sent (it waits for that one to leave the
        // window), or with one of the places free now.
        let behind = last
            .checked_sub(chain.saturating_mul(allowed))
            .and_then(|place| usize::try_from(place).ok())
            .and_then(|place| st.sent.get(left + place));
        let first = match behind {
            Some(sent) => start.max(*sent + span),
            None => start,
        };
        let spans = u32::try_from(chain - 1).unwrap_or(u32::MAX);
        first
            .saturating_add(span.saturating_mul(spans))
            .saturating_sub(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_request_count_is_named_for_what_is_wrong_with_it() {
        let problem = |text: &str| text.parse::<RateLimit>().unwrap_err().problem;
        assert_eq!(problem("-5/1m"), "the request count must be at least 1");
        assert_eq!(problem("0/1m"), "the request count must be at least 1");
        assert_eq!(
            problem("99999999999999999999/1m"),
            "the request count is too large (at most 4294967295)"
        );
        assert_eq!(problem("/1m"), "the request count is missing");
        assert_eq!(problem("ten/1m"), "the request count is not a whole number");
        let most = format!("{}/1m", u32::MAX);
        assert_eq!(most.parse::<RateLimit>().unwrap().requests, u32::MAX);
    }
    use crate::VirtualClock;

    fn limit(text: &str) -> RateLimit {
        text.parse().unwrap()
    }

    #[test]
    fn reads_the_contract_forms() {
        assert_eq!(
            limit("500/3m"),
            RateLimit {
                requests: 500,
                per: Duration::from_secs(180)
            }
        );
        assert_eq!(limit("20/2s").per, Duration::from_secs(2));
        assert_eq!(limit(" 100 / 10s ").requests, 100);
        assert_eq!(limit("5/250ms").per, Duration::from_millis(250));
        assert_eq!(limit("1/1h").per, Duration::from_secs(3600));
        assert_eq!(limit("7/30").per, Duration::from_secs(30));
        assert_eq!(limit("500/3m").to_string(), "500/3m");
        assert_eq!(limit("5/250ms").to_string(), "5/250ms");
    }

    #[test]
    fn refuses_nonsense_with_the_reason() {
        for (text, says) in [
            ("500", "no '/'"),
            ("x/3m", "whole number"),
            ("0/3m", "at least 1"),
            ("10/3 weeks", "duration"),
            ("10/0s", "longer than zero"),
            ("10/99999999999999999999h", "duration"),
            ("10/25h", "at most 24h"),
            ("-5/1s", "at least 1"),
        ] {
            let e = text.parse::<RateLimit>().unwrap_err().to_string();
            assert!(e.contains(says), "{text}: {e}");
            assert!(e.contains("500/3m"), "{e}");
        }
    }

    #[test]
    fn minimum_duration_counts_whole_spans_after_the_first_burst() {
        let l = limit("100/10s");
        assert_eq!(l.min_duration(0), Duration::ZERO);
        assert_eq!(l.min_duration(100), Duration::ZERO);
        assert_eq!(l.min_duration(101), Duration::from_secs(10));
        assert_eq!(l.min_duration(1000), Duration::from_secs(90));
        assert_eq!(l.min_duration(u64::MAX), Duration::from_secs(10) * u32::MAX);
    }

    /// Sends `n` requests one after another and returns every send time.
    async fn send_times(budget: &WindowBudget, clock: &VirtualClock, n: usize) -> Vec<Duration> {
        let mut times = Vec::new();
        for _ in 0..n {
            budget.acquire().await;
            times.push(clock.elapsed());
        }
        times
    }

    /// The largest number of send times inside any half-open span of `span`.
    fn busiest_span(times: &[Duration], span: Duration) -> usize {
        (0..times.len())
            .map(|i| times[i..].iter().take_while(|t| **t - times[i] < span).count())
            .max()
            .unwrap_or(0)
    }

    #[tokio::test]
    async fn never_more_than_the_limit_in_any_span() {
        let clock = Arc::new(VirtualClock::new());
        let budget = WindowBudget::new(limit("10/1s"), clock.clone());
        let times = send_times(&budget, &clock, 55).await;
        assert_eq!(busiest_span(&times, Duration::from_secs(1)), 10);
        // The first ten go at once, then one span (plus the jitter margin) per ten.
        assert_eq!(times[9], Duration::ZERO);
        assert_eq!(times[10], Duration::from_millis(1020));
        assert!(times[54] < Duration::from_millis(5 * 1020 + 1), "{:?}", times[54]);
    }

    #[tokio::test]
    async fn a_429_halves_the_window_and_honours_retry_after() {
        let clock = Arc::new(VirtualClock::new());
        let budget = WindowBudget::new(limit("10/1s"), clock.clone());
        send_times(&budget, &clock, 3).await;
        budget.throttled(Some(Duration::from_secs(5)));
        assert_eq!(budget.current_requests(), 5);
        budget.acquire().await;
        assert_eq!(clock.elapsed(), Duration::from_secs(5));
        budget.throttled(None);
        budget.throttled(None);
        budget.throttled(None);
        assert_eq!(budget.current_requests(), 1, "never below one request");
    }

    /// `time_for` is what sending takes: in many states of the window (partly used, used and
    /// aged, shrunk by 429s, paused), the prediction equals the time the last of `n` requests
    /// is actually let through on a virtual clock.
    #[tokio::test]
    async fn time_for_predicts_when_the_last_request_goes() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |bound: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % bound
        };
        for case in 0..400 {
            let clock = Arc::new(VirtualClock::new());
            let requests = 1 + u32::try_from(next(12)).unwrap();
            let per = Duration::from_millis(100 + 100 * next(20));
            let budget = WindowBudget::new(RateLimit { requests, per }, clock.clone());
            let mut story = Vec::new();
            for _ in 0..next(6) {
                match next(4) {
                    0 => {
                        let k = usize::try_from(next(2 * u64::from(requests))).unwrap();
                        send_times(&budget, &clock, k).await;
                        story.push(format!("send {k}"));
                    }
                    1 => {
                        let ms = next(3 * u64::try_from(per.as_millis()).unwrap());
                        clock.sleep(Duration::from_millis(ms)).await;
                        story.push(format!("wait {ms}ms"));
                    }
                    2 => {
                        let after = (next(2) == 0).then(|| Duration::from_millis(next(5000)));
                        budget.throttled(after);
                        story.push(format!("429 {after:?}"));
                    }
                    _ => {
                        budget.succeeded();
                        story.push("ok".into());
                    }
                }
            }
            let n = next(40);
            let predicted = budget.time_for(n);
            let start = clock.elapsed();
            let times = send_times(&budget, &clock, usize::try_from(n).unwrap()).await;
            let actual = times.last().map_or(Duration::ZERO, |t| *t - start);
            assert_eq!(
                predicted, actual,
                "case {case}: {requests}/{per:?}, {story:?}, then {n} requests"
            );
        }
    }

    #[test]
    fn a_fresh_window_needs_what_the_limit_allows() {
        let budget = WindowBudget::new(limit("100/10s"), Arc::new(VirtualClock::new()));
        assert_eq!(budget.time_for(0), Duration::ZERO);
        assert_eq!(budget.time_for(100), Duration::ZERO);
        // Whole spans after the first burst, each with the jitter margin (100 ms here).
        assert_eq!(budget.time_for(101), Duration::from_millis(10_100));
        assert_eq!(budget.time_for(1000), Duration::from_millis(9 * 10_100));
        assert_eq!(budget.sent(), 0);
    }

    #[tokio::test]
    async fn the_window_grows_back_as_requests_succeed() {
        let clock = Arc::new(VirtualClock::new());
        let budget = WindowBudget::new(limit("8/1s"), clock.clone());
        budget.throttled(None);
        budget.throttled(None);
        assert_eq!(budget.current_requests(), 2);
        for _ in 0..3 {
            budget.succeeded();
        }
        assert_eq!(budget.current_requests(), 5);
        for _ in 0..100 {
            budget.succeeded();
        }
        assert_eq!(budget.current_requests(), 8, "never above the configured limit");
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_window() {
        let clock = Arc::new(VirtualClock::new());
        let budget = Arc::new(WindowBudget::new(limit("4/1s"), clock.clone()));
        let mut tasks = Vec::new();
        for _ in 0..12 {
            let budget = budget.clone();
            let clock = clock.clone();
            tasks.push(tokio::spawn(async move {
                budget.acquire().await;
                clock.elapsed()
            }));
        }
        let mut times = Vec::new();
        for t in tasks {
            times.push(t.await.unwrap());
        }
        times.sort();
        assert!(busiest_span(&times, Duration::from_secs(1)) <= 4, "{times:?}");
    }
}
