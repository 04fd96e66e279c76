//! Retries and per-attempt timeouts. Backoff sleeps go through the run's `Clock`, so a
//! virtual clock makes them instant (and records them for tests).
use super::Ctx;
use super::durable;
use crate::events::RunEvent;
use crate::journal::CallKey;
use crate::model::{Backoff, RetryOn, RetryPolicy, Step};
use crate::duration::format_duration;
use psaflow_core::{Envelope, envelope::STATUS_COMPLETED, envelope::STATUS_VALIDATION};
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

/// The wait after failed attempt number `attempt` (1-based).
pub(crate) fn delay(policy: &RetryPolicy, attempt: u32) -> Duration {
    let d = match policy.backoff {
        Backoff::Constant => policy.initial_interval,
        Backoff::Exponential => {
            let factor = policy
                .multiplier
                .powi(attempt.saturating_sub(1).min(64) as i32);
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

/// One attempt, bounded by the step's timeout. On a real clock the call is cancelled at the
/// limit; on a virtual clock it runs to completion and is judged by the virtual time it used
/// (mocks advance virtual time by sleeping), so tests never wait.
async fn attempt(
    ctx: &Ctx<'_>,
    step: &Step,
    output_name: &str,
    params: Map<String, Value>,
) -> Envelope {
    let call = ctx.invoker.invoke(&step.node.value, params);
    match step.timeout {
        None => call.await,
        Some(limit) if ctx.clock.is_virtual() => {
            let start = ctx.clock.elapsed();
            let env = call.await;
            if ctx.clock.elapsed().saturating_sub(start) > limit {
                timed_out(output_name, limit)
            } else {
                env
            }
        }
        Some(limit) => tokio::time::timeout(limit, call)
            .await
            .unwrap_or_else(|_| timed_out(output_name, limit)),
    }
}

/// Calls the node until it succeeds or the retry policy gives up. Returns the last
/// envelope and the number of attempts made.
/// Attempts are numbered from `first_attempt` (a resumed call continues the numbering of
/// the attempts journaled before); with a journal, each one is journaled (see `durable.rs`).
pub(crate) async fn call(
    ctx: &Ctx<'_>,
    step: &Step,
    output_name: &str,
    params: &Map<String, Value>,
    index: Option<usize>,
    key: &CallKey,
    first_attempt: u32,
) -> (Envelope, u32) {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let note = durable::note(ctx, step, key, first_attempt + attempts - 1, params);
        if let Err(e) = durable::before_attempt(ctx, &note).await {
            let env = Envelope::system(
                output_name,
                format!("not sent: the run journal could not record the intent first: {e}"),
            );
            return (env, attempts);
        }
        let env = attempt(ctx, step, output_name, params.clone()).await;
        durable::after_attempt(ctx, note, &env, params, false, false).await;
        if env.is_success() {
            return (env, attempts);
        }
        let retry_in = step.retry.as_ref().and_then(|p| {
            (attempts < p.max_attempts && p.retry_on.contains(&classify(&env)))
                .then(|| delay(p, attempts))
        });
        ctx.emit(RunEvent::AttemptFailed {
            id: step.id.value.clone(),
            index,
            attempt: attempts,
            message: failure_text(&env),
            retry_in,
        });
        match retry_in {
            Some(wait) => ctx.clock.sleep(wait).await,
            None => return (env, attempts),
        }
    }
}

/// A failed envelope in words: "Client not found (StatusCode 200)".
pub(crate) fn failure_text(env: &Envelope) -> String {
    let what = match classify(env) {
        RetryOn::Validation => "parameter rejected",
        RetryOn::Business => "HaloPSA error",
        RetryOn::System => "system error",
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
