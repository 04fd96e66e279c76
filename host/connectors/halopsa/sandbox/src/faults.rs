//! Switchable faults, so that retry, re-authentication and error paths can be tested against a
//! server that misbehaves on cue.
//!
//! Faults act on resource calls under `/api` (discovery via `/api/authinfo` excepted, since a
//! client calls it before it has anything to retry) and never on the token endpoint, except
//! [`Faults::expire_tokens`], which is about tokens. The order inside a resource call is:
//! latency, then a dropped connection, then a forced status, then the bearer check, then the
//! call itself, then a dropped answer (the change was made but no answer is sent).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::lock;

/// What `DELETE /api/Users/{id}` does on an existing user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserDeleteQuirk {
    /// Normal behaviour: 200 with the deleted user.
    #[default]
    Off,
    /// HTTP 500 with an empty body, yet the user is gone (a behaviour integrations report from
    /// real tenants: the error hides a successful delete).
    Error500EmptyBodyButDeleted,
    /// HTTP 500 with an empty body, and the user is still there.
    Error500EmptyBodyNotDeleted,
}

/// How the Agent endpoint reports and accepts an agent's status. HaloPSA installs differ: seed 001
/// documents `isactive`, the official swagger `isdisabled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AgentQuirk {
    /// Both fields in every answer (the default).
    #[default]
    Off,
    /// Answers carry `isactive` only (seed 001's install).
    IsActiveOnly,
    /// Answers carry `isdisabled` only (the swagger's install).
    IsDisabledOnly,
    /// `POST /api/Agent` answers only `{id, name}`; the status must be read back with a GET.
    SparseSaveAnswer,
    /// `POST /api/Agent` silently ignores `isactive` / `isdisabled` (answers 200, changes
    /// nothing about the status), so a deactivation cannot be confirmed.
    IgnoresDeactivation,
}

/// The server-side request limit: arrival times of the calls served in the last span.
#[derive(Debug)]
struct Throttle {
    requests: u32,
    per: Duration,
    arrivals: std::collections::VecDeque<std::time::Instant>,
}

/// A forced status for the next resource calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ForcedStatus {
    pub(crate) status: u16,
    pub(crate) retry_after: Option<u64>,
}

/// Faults that strike at random, each with its own probability per resource call (0.0 to 1.0).
/// Drawn from a seeded generator, so a run can be repeated.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RandomFaults {
    /// Answer 429 (with `Retry-After: 1`) or 503, half each, without touching any data.
    pub busy: f64,
    /// Close the connection before the call is handled: nothing is changed.
    pub drop_before: f64,
    /// Handle a call that changes data (any method but GET), then close the connection without
    /// answering: the change is made and the client never hears of it.
    pub drop_after_commit: f64,
    /// Seed of the generator.
    pub seed: u64,
}

#[derive(Debug, Default)]
struct State {
    latency: Duration,
    fail_status: u16,
    fail_times: u32,
    fail_retry_after: Option<u64>,
    /// The forced status strikes only calls that change data (see `fail_next_changes`).
    fail_changes_only: bool,
    drops: u32,
    /// Dropped connections pending for calls that change data only.
    change_drops: u32,
    drops_after_commit: u32,
    user_delete: UserDeleteQuirk,
    agent: AgentQuirk,
    random: RandomFaults,
    rng: u64,
}

impl State {
    /// xorshift64*: enough randomness for fault injection, no dependency.
    fn chance(&mut self, probability: f64) -> bool {
        if probability <= 0.0 {
            return false;
        }
        if self.rng == 0 {
            self.rng = self.random.seed | 1;
        }
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let draw = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
        (draw as f64 / (1u64 << 53) as f64) < probability
    }
}

/// The sandbox's switchable faults. All setters take `&self` and may be called while requests
/// are being served; each takes effect from the next request that reaches the check.
///
/// Faults act on resource calls under `/api` (not on `/api/authinfo` discovery) and never on the
/// token endpoint, except [`Faults::expire_tokens`]. Within a resource call they apply in this
/// order: latency, dropped connection, forced status, then the bearer-token check, so a forced
/// status is answered even to a request without a valid token.
#[derive(Debug, Default)]
pub struct Faults {
    state: Mutex<State>,
    /// A server-side request limit, as hosted tenants have; `None` by default.
    throttle: Mutex<Option<Throttle>>,
    /// Resource calls answered 429 by the throttle.
    throttled: AtomicU64,
    token_epoch: AtomicU64,
}

impl Faults {
    /// Delays every resource call by `latency` before it is handled (0 turns it off). Use it to
    /// exercise client time-outs.
    pub fn set_latency(&self, latency: Duration) {
        lock(&self.state).latency = latency;
    }

    /// The next `times` resource calls are answered with `status` and a JSON body
    /// `{"message": ...}`, without touching any data. With `retry_after`, the answer carries a
    /// `Retry-After: <seconds>` header (meant for 429 and 503). Replaces any pending forced
    /// status; `times == 0` cancels it.
    pub fn fail_next(&self, status: u16, times: u32, retry_after: Option<u64>) {
        let mut state = lock(&self.state);
        state.fail_status = status;
        state.fail_times = times;
        state.fail_retry_after = retry_after;
        state.fail_changes_only = false;
    }

    /// As [`Faults::fail_next`], for the next `times` calls that change data (any method but
    /// GET); reads pass untouched. A create that lists the records with its key first (to tell
    /// its own record from older ones after a lost answer) is failed at its POST this way.
    pub fn fail_next_changes(&self, status: u16, times: u32, retry_after: Option<u64>) {
        self.fail_next(status, times, retry_after);
        lock(&self.state).fail_changes_only = true;
    }

    /// As [`Faults::drop_next_connections`], for the next `n` calls that change data.
    pub fn drop_next_change_connections(&self, n: u32) {
        let mut state = lock(&self.state);
        state.change_drops = state.change_drops.saturating_add(n);
    }

    /// Invalidates every access token issued so far: the next resource call made with one gets
    /// 401, as when a tenant's tokens are revoked or expire early. Tokens issued afterwards are
    /// valid. [`Faults::reset`] does not bring old tokens back.
    pub fn expire_tokens(&self) {
        self.token_epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// The next `n` resource calls are answered by closing the connection without sending any
    /// response, as a crashed proxy or a network cut would. The server keeps serving other
    /// connections. Adds to any drops still pending.
    pub fn drop_next_connections(&self, n: u32) {
        let mut state = lock(&self.state);
        state.drops = state.drops.saturating_add(n);
    }

    /// The next `n` resource calls that change data (any method but GET) are handled – the
    /// record is created, updated or deleted – and then the connection is closed without an
    /// answer, as when a proxy or the network fails after the server committed. Adds to any
    /// still pending.
    pub fn drop_next_answers_after_commit(&self, n: u32) {
        let mut state = lock(&self.state);
        state.drops_after_commit = state.drops_after_commit.saturating_add(n);
    }

    /// Switches on faults that strike at random (see [`RandomFaults`]); all zero turns them off.
    pub fn set_random(&self, random: RandomFaults) {
        let mut state = lock(&self.state);
        state.random = random;
        state.rng = random.seed | 1;
    }

    /// Makes `DELETE /api/Users/{id}` on an existing user answer HTTP 500 with an empty body,
    /// having deleted the user or not, as the quirk says. Stays on until turned
    /// [`UserDeleteQuirk::Off`] or [`Faults::reset`]. Deleting a missing user still gives 404.
    pub fn user_delete_quirk(&self, quirk: UserDeleteQuirk) {
        lock(&self.state).user_delete = quirk;
    }

    /// Changes how the Agent endpoint handles the agent's status; see [`AgentQuirk`]. Stays on
    /// until turned [`AgentQuirk::Off`] or [`Faults::reset`].
    pub fn agent_quirk(&self, quirk: AgentQuirk) {
        lock(&self.state).agent = quirk;
    }

    pub(crate) fn agent(&self) -> AgentQuirk {
        lock(&self.state).agent
    }

    /// Turns every fault off: no latency, no forced status, no pending drops, no delete quirk,
    /// no request limit.
    pub fn reset(&self) {
        *lock(&self.state) = State::default();
        *lock(&self.throttle) = None;
    }

    /// Limits resource calls to `requests` in any span of `per`, as a hosted tenant throttles an
    /// API application: a call beyond it is answered 429 with `Retry-After` (whole seconds until
    /// a slot frees) and changes nothing. Answered calls count; refused ones do not. `None`
    /// turns the limit off.
    pub fn set_rate_limit(&self, limit: Option<(u32, Duration)>) {
        *lock(&self.throttle) = limit.map(|(requests, per)| Throttle {
            requests: requests.max(1),
            per,
            arrivals: std::collections::VecDeque::new(),
        });
    }

    /// How many resource calls the request limit has answered with 429 so far.
    pub fn throttled_count(&self) -> u64 {
        self.throttled.load(Ordering::SeqCst)
    }

    /// Counts one resource call against the request limit: `None` when it may be served,
    /// else the Retry-After seconds of its 429.
    pub(crate) fn take_throttle(&self) -> Option<u64> {
        let mut guard = lock(&self.throttle);
        let throttle = guard.as_mut()?;
        let now = std::time::Instant::now();
        while throttle
            .arrivals
            .front()
            .is_some_and(|t| now.duration_since(*t) >= throttle.per)
        {
            throttle.arrivals.pop_front();
        }
        if throttle.arrivals.len() < throttle.requests as usize {
            throttle.arrivals.push_back(now);
            return None;
        }
        self.throttled.fetch_add(1, Ordering::SeqCst);
        let oldest = *throttle
            .arrivals
            .front()
            .expect("a full window is not empty");
        let wait = throttle.per.saturating_sub(now.duration_since(oldest));
        Some(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
    }

    pub(crate) fn latency(&self) -> Duration {
        lock(&self.state).latency
    }

    /// Consumes one pending dropped connection, if any, or draws a random one; `change` says
    /// whether the call changes data.
    pub(crate) fn take_drop(&self, change: bool) -> bool {
        let mut state = lock(&self.state);
        if change && state.change_drops > 0 {
            state.change_drops -= 1;
            true
        } else if state.drops > 0 {
            state.drops -= 1;
            true
        } else {
            let p = state.random.drop_before;
            state.chance(p)
        }
    }

    /// Whether to drop the answer of a call that changed data, after handling it: consumes one
    /// pending drop, or draws a random one.
    pub(crate) fn take_drop_after_commit(&self) -> bool {
        let mut state = lock(&self.state);
        if state.drops_after_commit > 0 {
            state.drops_after_commit -= 1;
            true
        } else {
            let p = state.random.drop_after_commit;
            state.chance(p)
        }
    }

    /// Consumes one pending forced status, if any (and if it strikes this call: `change` says
    /// whether it changes data), or draws a random busy answer.
    pub(crate) fn take_forced_status(&self, change: bool) -> Option<ForcedStatus> {
        let mut state = lock(&self.state);
        if state.fail_times == 0 || (state.fail_changes_only && !change) {
            let p = state.random.busy;
            if !state.chance(p) {
                return None;
            }
            return Some(if state.chance(0.5) {
                ForcedStatus {
                    status: 429,
                    retry_after: Some(1),
                }
            } else {
                ForcedStatus {
                    status: 503,
                    retry_after: None,
                }
            });
        }
        state.fail_times -= 1;
        Some(ForcedStatus {
            status: state.fail_status,
            retry_after: state.fail_retry_after,
        })
    }

    pub(crate) fn user_delete(&self) -> UserDeleteQuirk {
        lock(&self.state).user_delete
    }

    pub(crate) fn token_epoch(&self) -> u64 {
        self.token_epoch.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_limit_refuses_calls_beyond_it_with_retry_after() {
        let faults = Faults::default();
        assert_eq!(faults.take_throttle(), None, "no limit by default");
        faults.set_rate_limit(Some((3, Duration::from_secs(60))));
        for _ in 0..3 {
            assert_eq!(faults.take_throttle(), None);
        }
        let retry = faults.take_throttle().expect("the fourth call is refused");
        assert!((59..=60).contains(&retry), "{retry}");
        assert_eq!(faults.throttled_count(), 1);
        faults.reset();
        assert_eq!(faults.take_throttle(), None, "reset lifts the limit");
    }

    #[test]
    fn faults_for_changes_let_reads_pass() {
        let faults = Faults::default();
        faults.fail_next_changes(502, 1, None);
        faults.drop_next_change_connections(1);
        assert_eq!(faults.take_forced_status(false), None, "a read passes");
        assert!(!faults.take_drop(false));
        assert!(faults.take_drop(true), "the change is dropped");
        assert_eq!(faults.take_forced_status(true).map(|f| f.status), Some(502));
        assert_eq!(faults.take_forced_status(true), None);
        // A plain fail_next strikes reads again.
        faults.fail_next(503, 1, None);
        assert_eq!(
            faults.take_forced_status(false).map(|f| f.status),
            Some(503)
        );
    }

    #[test]
    fn forced_status_counts_down() {
        let faults = Faults::default();
        faults.fail_next(429, 2, Some(7));
        let expected = Some(ForcedStatus {
            status: 429,
            retry_after: Some(7),
        });
        assert_eq!(faults.take_forced_status(true), expected);
        assert_eq!(faults.take_forced_status(true), expected);
        assert_eq!(faults.take_forced_status(true), None);
    }

    #[test]
    fn drops_accumulate_and_reset_clears_everything() {
        let faults = Faults::default();
        faults.drop_next_connections(1);
        faults.drop_next_connections(1);
        faults.set_latency(Duration::from_millis(5));
        faults.user_delete_quirk(UserDeleteQuirk::Error500EmptyBodyNotDeleted);
        faults.fail_next(500, 3, None);
        assert!(faults.take_drop(true));
        faults.reset();
        assert!(!faults.take_drop(true));
        assert_eq!(faults.take_forced_status(true), None);
        assert_eq!(faults.latency(), Duration::ZERO);
        assert_eq!(faults.user_delete(), UserDeleteQuirk::Off);
    }

    #[test]
    fn answers_dropped_after_commit_count_down() {
        let faults = Faults::default();
        faults.drop_next_answers_after_commit(2);
        assert!(faults.take_drop_after_commit());
        assert!(faults.take_drop_after_commit());
        assert!(!faults.take_drop_after_commit());
    }

    #[test]
    fn random_faults_strike_about_as_often_as_asked_and_repeat_with_the_seed() {
        let draw = |seed| {
            let faults = Faults::default();
            faults.set_random(RandomFaults {
                busy: 0.1,
                drop_before: 0.01,
                drop_after_commit: 0.01,
                seed,
            });
            (0..10_000)
                .map(|_| faults.take_forced_status(true).is_some())
                .collect::<Vec<_>>()
        };
        let hits = draw(7).iter().filter(|h| **h).count();
        assert!((700..1300).contains(&hits), "{hits} busy answers in 10,000");
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        let off = Faults::default();
        assert!((0..1000).all(|_| off.take_forced_status(true).is_none() && !off.take_drop(true)));
    }

    #[test]
    fn expiring_tokens_moves_the_epoch_and_reset_does_not_undo_it() {
        let faults = Faults::default();
        let before = faults.token_epoch();
        faults.expire_tokens();
        faults.reset();
        assert_ne!(faults.token_epoch(), before);
    }
}
