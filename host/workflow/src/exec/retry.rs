//! Retries and per-attempt timeouts. Backoff sleeps go through the run's `Clock`, so a
//! virtual clock makes them instant (and records them for tests).
//!
//! Each attempt records the requests the node made (`psaflow_core::calls`). When one of them may
//! have changed HaloPSA without an answer coming back (its outcome is unknown), the attempt's
//! outcome is unknown too, and what happens next depends on what the catalog says the node is:
//!
//! - a node whose repeat is harmless (reads, idempotent updates) fails as a system error and is
//!   retried as any other;
//! - a node that read HaloPSA after the unknown call to look for what it may have made (create
//!   recovery) decided from what it found: success is marked recovered, a failure is judged by
//!   its StatusCode as usual (the node says 500 only when nothing was made);
//! - otherwise (a create without a natural key, or whose lookup failed) the failure is of the
//!   kind `unknown_outcome`, retried only when `retry_on` names it.
use super::Ctx;
use super::durable;
use crate::events::RunEvent;
use crate::journal::CallKey;
use crate::model::{Backoff, RetryOn, RetryPolicy, Step};
use crate::duration::format_duration;
use crate::report::AttemptRecord;
use psaflow_core::{
    Ambiguity, CallCounts, CallLog, Envelope, Method, NodeSpec, envelope::STATUS_COMPLETED,
    envelope::STATUS_VALIDATION,
};
use serde_json::{Map, Value};
use std::time::Duration;

/// Which kind of failure an envelope is (contract StatusCode meanings).
pub(crate) fn classify(env: &Envelope) -> RetryOn {
    match env.status_code {
        STATUS_VALIDATION => RetryOn::Validation,
        STATUS_COMPLETED => RetryOn::Business,
        _ => RetryOn::System,
    }
}

/// The failure kind of an attempt, from its envelope, what its requests did and what the
/// catalog says about repeating the node (see the module documentation).
pub(crate) fn failure_kind(
    env: &Envelope,
    ambiguity: Ambiguity,
    spec: Option<&NodeSpec>,
) -> RetryOn {
    match ambiguity {
        Ambiguity::Unresolved if !repeat_is_harmless(spec) => RetryOn::UnknownOutcome,
        _ => classify(env),
    }
}

/// Whether the node declares (`describe`) that running it again with the same input changes
/// nothing more. Unknown nodes count as not harmless.
fn repeat_is_harmless(spec: Option<&NodeSpec>) -> bool {
    spec.is_some_and(|s| s.idempotent)
}

/// The wait after failed attempt number `attempt` (1-based).
pub(crate) fn delay(policy: &RetryPolicy, attempt: u32) -> Duration {
    let d = match policy.backoff {
        Backoff::Constant => policy.initial_interval,
        Backoff::Exponential => {
            // Capped at 64 doublings (far past any max_interval), so it fits i32.
            let exponent = i32::try_from(attempt.saturating_sub(1).min(64)).unwrap_or(64);
            let factor = policy.multiplier.powi(exponent);
            let secs = policy.initial_interval.as_secs_f64() * factor;
            if secs.is_finite() {
                Duration::from_secs_f64(secs.min(1e9))
            } else {
                policy.max_interval
            }
        }
    };
    d.min(policy.max_interval.max(policy.initial_interval))
}

/// A failed attempt that ran past the step's timeout.
fn timed_out(output_name: &str, limit: Duration) -> Envelope {
    Envelope::system(
        output_name,
        format!("timed out after {}", format_duration(limit)),
    )
}

/// One attempt, bounded by the step's timeout, and what its requests did. On a real clock the
/// call is cancelled at the limit (a change in flight then stays of unknown outcome in the
/// call log); on a virtual clock it runs to completion and is judged by the virtual time it
/// used (mocks advance virtual time by sleeping), so tests never wait. A timed-out attempt that
/// sent a change counts as unknown either way: it may have been applied.
async fn attempt(
    ctx: &Ctx<'_>,
    step: &Step,
    output_name: &str,
    params: Map<String, Value>,
    look_first: bool,
) -> (Envelope, Ambiguity, CallCounts) {
    let calls = CallLog::new();
    let call = if look_first {
        ctx.invoker
            .invoke_looking_first(&step.node.value, params, calls.clone())
    } else {
        ctx.invoker
            .invoke_recorded(&step.node.value, params, calls.clone())
    };
    let (env, timed_out_after_a_change) = match step.timeout {
        None => (call.await, false),
        Some(limit) if ctx.clock.is_virtual() => {
            let start = ctx.clock.elapsed();
            let env = call.await;
            if ctx.clock.elapsed().saturating_sub(start) > limit {
                (timed_out(output_name, limit), sent_a_change(&calls))
            } else {
                (env, false)
            }
        }
        Some(limit) => match tokio::time::timeout(limit, call).await {
            Ok(env) => (env, false),
            Err(_) => (timed_out(output_name, limit), sent_a_change(&calls)),
        },
    };
    let ambiguity = if timed_out_after_a_change {
        Ambiguity::Unresolved
    } else {
        calls.ambiguity()
    };
    (env, ambiguity, calls.counts())
}

fn sent_a_change(calls: &CallLog) -> bool {
    calls.calls().iter().any(|c| c.method != Method::Get)
}

/// Where a call's attempts start: the number of the first (a resumed call continues the
/// numbering), and whether that one looks for the record of a create left in doubt first.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FirstAttempt {
    pub number: u32,
    pub look_first: bool,
}

/// Calls the node until it succeeds or the retry policy gives up. Returns the last
/// envelope and one record per attempt made.
/// Attempts are numbered from `first_attempt` (a resumed call continues the numbering of
/// the attempts journaled before); with a journal, each one is journaled (see `durable.rs`).
pub(crate) async fn call(
    ctx: &Ctx<'_>,
    step: &Step,
    output_name: &str,
    params: &Map<String, Value>,
    index: Option<usize>,
    key: &CallKey,
    start: FirstAttempt,
) -> (Envelope, Vec<AttemptRecord>, CallCounts) {
    let FirstAttempt {
        number: first_attempt,
        look_first,
    } = start;
    let spec = ctx.catalog.get(&step.node.value);
    let mut attempts: Vec<AttemptRecord> = Vec::new();
    let mut calls = CallCounts::default();
    // A create in doubt looks for its record on its first attempt (see durable::reconcile).
    let mut look_first = look_first;
    loop {
        // At most max_attempts (a u32) attempts are made.
        let number = u32::try_from(attempts.len()).unwrap_or(u32::MAX).saturating_add(1);
        let note = durable::note(ctx, step, key, first_attempt + number - 1, params);
        if let Err(e) = durable::before_attempt(ctx, &note).await {
            let env = Envelope::system(
                output_name,
                format!("not sent: the run journal could not record the intent first: {e}"),
            );
            attempts.push(AttemptRecord {
                succeeded: false,
                outcome_unknown: false,
                recovered: false,
                error: Some(env.error_message.clone()),
            });
            return (env, attempts, calls);
        }
        let looked = std::mem::take(&mut look_first);
        let (env, ambiguity, counts) =
            attempt(ctx, step, output_name, params.clone(), looked).await;
        calls.add(counts);
        let outcome_unknown = ambiguity != Ambiguity::None;
        let recovered = outcome_unknown && env.is_success();
        durable::after_attempt(ctx, note, &env, params, outcome_unknown, recovered).await;
        // The lookup was answered and found nothing (the node's system error after a checked
        // unknown outcome): the earlier attempt did not create the record, so send it now.
        if looked
            && !env.is_success()
            && ambiguity == Ambiguity::Checked
            && env.status_code == psaflow_core::envelope::STATUS_SYSTEM
        {
            attempts.push(AttemptRecord {
                succeeded: false,
                outcome_unknown,
                recovered: false,
                error: Some(env.error_message.clone()),
            });
            continue;
        }
        if env.is_success() {
            attempts.push(AttemptRecord {
                succeeded: true,
                outcome_unknown,
                recovered,
                error: None,
            });
            return (env, attempts, calls);
        }
        let kind = failure_kind(&env, ambiguity, spec);
        let retry_in = step.retry.as_ref().and_then(|p| {
            (number < p.max_attempts && p.retry_on.contains(&kind)).then(|| delay(p, number))
        });
        let message = attempt_failure_text(&env, kind);
        attempts.push(AttemptRecord {
            succeeded: false,
            outcome_unknown,
            recovered: false,
            error: Some(message.clone()),
        });
        ctx.emit(RunEvent::AttemptFailed {
            id: step.id.value.clone(),
            index,
            attempt: number,
            message,
            retry_in,
        });
        match retry_in {
            Some(wait) => ctx.clock.sleep(wait).await,
            None => return (env, attempts, calls),
        }
    }
}

/// [`failure_text`], saying so when the failure is an unknown outcome the host will not retry
/// by itself.
fn attempt_failure_text(env: &Envelope, kind: RetryOn) -> String {
    if kind != RetryOn::UnknownOutcome {
        return failure_text(env);
    }
    let detail = if env.error_message.is_empty() {
        format!("StatusCode {}", env.status_code)
    } else {
        env.error_message.clone()
    };
    format!(
        "{detail} (outcome unknown: the change may or may not have been applied; not retried unless `retry_on` includes unknown_outcome)"
    )
}

/// A failed envelope in words: "Client not found (StatusCode 200)".
pub(crate) fn failure_text(env: &Envelope) -> String {
    let what = match classify(env) {
        RetryOn::Validation => "parameter rejected",
        RetryOn::Business => "HaloPSA error",
        RetryOn::System => "system error",
        RetryOn::UnknownOutcome => "outcome unknown",
    };
    if env.error_message.is_empty() {
        format!("{what} (StatusCode {})", env.status_code)
    } else {
        format!(
            "{} ({what}, StatusCode {})",
            env.error_message, env.status_code
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_backoff_is_capped() {
        let p = RetryPolicy {
            max_attempts: 6,
            initial_interval: Duration::from_secs(1),
            max_interval: Duration::from_secs(5),
            ..RetryPolicy::default()
        };
        let waits: Vec<_> = (1..=5).map(|a| delay(&p, a).as_secs()).collect();
        assert_eq!(waits, vec![1, 2, 4, 5, 5]);
        let c = RetryPolicy {
            backoff: Backoff::Constant,
            ..p
        };
        assert_eq!(delay(&c, 4), Duration::from_secs(1));
    }

    #[test]
    fn classifies_by_status_code() {
        assert_eq!(classify(&Envelope::system("X", "down")), RetryOn::System);
        assert_eq!(
            classify(&Envelope::validation("X", "bad")),
            RetryOn::Validation
        );
        let mut e = Envelope::system("X", "not found");
        e.status_code = 200;
        assert_eq!(classify(&e), RetryOn::Business);
    }
}
