//! Evaluating and running one step (or one for_each item): its `if`, its parameters
//! (expressions resolved, types lightly coerced, secrets registered), then the call with
//! retries and timeout. This is where a workflow step is evaluated.
use super::Ctx;
use super::durable::{self, Reconciled};
use super::retry;
use crate::journal::{CallHistory, CallKey};
use crate::expr::{self, EvalError, Mode, Scope, Template};
use crate::model::Step;
use crate::redact::Redactor;
use crate::report::{ItemReport, StepReport, StepStatus};
use psaflow_core::{CallCounts, Effect, Envelope, NodeSpec, values};
use serde_json::{Map, Value};

/// The node's declared output key, for envelopes the engine makes itself (timeouts,
/// expression errors) so they look like the node's own.
pub(crate) fn output_name(spec: Option<&NodeSpec>) -> String {
    spec.map(|s| s.output_key.clone()).unwrap_or_default()
}

/// An envelope for a step that could not be sent because an expression failed: like a
/// node's parameter validation failure (-1, nothing was sent).
pub(crate) fn expression_failure(ctx: &Ctx<'_>, output: &str, err: &EvalError) -> Envelope {
    Envelope::validation(output, located(ctx, err))
}

/// `file:line:column: message` for a run-time expression error.
pub(crate) fn located(ctx: &Ctx<'_>, err: &EvalError) -> String {
    if err.pos.is_known() {
        format!(
            "{}:{}:{}: {}",
            ctx.file, err.pos.line, err.pos.column, err.message
        )
    } else {
        err.message.clone()
    }
}

/// Evaluates an `if`: with or without `${{ }}`, the value's truth decides.
pub(crate) fn condition(t: &Template, scope: &Scope) -> Result<bool, EvalError> {
    expr::eval(t, scope, Mode::Full).map(|v| expr::truthy(&v))
}

/// Evaluates a step's `with`. Parameters that evaluate to null are left out (as if not
/// given). Values of parameters with secret names are registered with the redactor.
pub(crate) fn params(
    step: &Step,
    spec: Option<&NodeSpec>,
    scope: &Scope,
    redactor: &Redactor,
) -> Result<Map<String, Value>, EvalError> {
    let mut out = Map::new();
    for (key, t) in &step.with {
        let value = expr::eval(t, scope, Mode::Full)?;
        if value.is_null() {
            continue;
        }
        let value = match spec.and_then(|s| s.param(&key.value)) {
            Some(p) => values::coerce(value, &p.ty),
            None => value,
        };
        if Redactor::is_secret_name(&key.value) {
            redactor.add(&expr::as_text(&value));
        }
        out.insert(key.value.clone(), value);
    }
    Ok(out)
}

/// Records a successful call with `params` removed and deactivated, as the node declares its
/// effect (and the effect of the parameter values it was given).
pub(crate) fn removals(spec: Option<&NodeSpec>, params: &Map<String, Value>, ok: bool) -> (u64, u64) {
    let effect = spec.map(|s| s.effect_of(params));
    (
        u64::from(ok && effect == Some(Effect::Delete)),
        u64::from(ok && effect == Some(Effect::Deactivate)),
    )
}

/// What one call (a whole step, or one for_each item) did.
pub(crate) struct CallOutcome {
    pub item: ItemReport,
    pub params: Option<Map<String, Value>>,
    pub deleted: u64,
    pub deactivated: u64,
    /// A change may have happened that a resume could not confirm (see `durable.rs`).
    pub unreconciled: bool,
    /// The API calls of every attempt, as the runtime saw them.
    pub calls: CallCounts,
}

/// Calls the node for one call (a step, or one for_each item) and journals the result. On a
/// resumed run, a call an earlier process finished is taken from the journal instead.
pub(crate) async fn call(
    ctx: &Ctx<'_>,
    step: &Step,
    scope: &Scope,
    index: usize,
    item_index: Option<usize>,
) -> CallOutcome {
    if let Some(values) = &step.set {
        return set_values(ctx, values, scope, index);
    }
    let key = CallKey::new(step.id(), item_index);
    let history = ctx
        .journal
        .as_ref()
        .map(|j| j.history(&key))
        .unwrap_or_default();
    if let Some(done) = history.finished {
        return durable::replayed(ctx.catalog.get(step.node()), index, done, history.earlier);
    }
    let outcome = call_node(ctx, step, scope, index, &key, history).await;
    durable::call_finished(ctx, &key, &outcome).await;
    outcome
}

/// Evaluates the parameters and calls the node (with retries). An expression error fails
/// the call without sending anything.
async fn call_node(
    ctx: &Ctx<'_>,
    step: &Step,
    scope: &Scope,
    index: usize,
    key: &CallKey,
    history: CallHistory,
) -> CallOutcome {
    let spec = ctx.catalog.get(&step.node.value);
    let output = output_name(spec);
    let params = match params(step, spec, scope, &ctx.redactor) {
        Ok(p) => p,
        Err(err) => {
            let env = expression_failure(ctx, &output, &err);
            return CallOutcome {
                item: ItemReport {
                    index,
                    status: StepStatus::Failed,
                    error: Some(env.error_message.clone()),
                    stored: Some(env.into()),
                    attempts: 0,
                    values: None,
                    attempt_log: Vec::new(),
                },
                params: None,
                deleted: 0,
                deactivated: 0,
                unreconciled: false,
                calls: CallCounts::default(),
            };
        }
    };
    if let (Some(gate), Some(spec)) = (&ctx.gate, spec)
        && !crate::plan::semantics::is_read(spec)
    {
        match gate.before_write(ctx.invoker, step, spec, &params, key.item.map(|i| i as usize)).await {
            crate::plan::Gate::Send => {}
            crate::plan::Gate::Answer(env) => {
                return CallOutcome {
                    item: ItemReport {
                        index,
                        status: StepStatus::Succeeded,
                        error: None,
                        stored: Some(env.into()),
                        attempts: 0,
                        values: None,
                        attempt_log: Vec::new(),
                    },
                    params: Some(ctx.redactor.map(&params)),
                    deleted: 0,
                    deactivated: 0,
                    unreconciled: false,
                    calls: psaflow_core::CallCounts::default(),
                };
            }
            crate::plan::Gate::Skip(reason) => {
                return CallOutcome {
                    item: ItemReport {
                        index,
                        status: StepStatus::Skipped,
                        error: Some(reason),
                        stored: None,
                        attempts: 0,
                        values: None,
                        attempt_log: Vec::new(),
                    },
                    params: Some(ctx.redactor.map(&params)),
                    deleted: 0,
                    deactivated: 0,
                    unreconciled: false,
                    calls: psaflow_core::CallCounts::default(),
                };
            }
        }
    }
    let mut first_attempt = history.attempts_made + 1;
    let mut look_first = false;
    if let Some(doubt) = &history.in_doubt {
        match durable::reconcile(ctx, step, key, doubt, &params).await {
            Reconciled::SendAgain { next } => first_attempt = next,
            Reconciled::LookFirst { next } => {
                first_attempt = next;
                look_first = true;
            }
            Reconciled::Blocked(message) => {
                return CallOutcome {
                    item: ItemReport {
                        index,
                        status: StepStatus::Failed,
                        error: Some(message.clone()),
                        stored: Some(Envelope::system(&output, message).into()),
                        attempts: history.attempts_made,
                        values: None,
                        attempt_log: history.earlier.clone(),
                    },
                    params: Some(ctx.redactor.map(&params)),
                    deleted: 0,
                    deactivated: 0,
                    unreconciled: true,
                    calls: CallCounts::default(),
                };
            }
        }
    }
    let item_index = key.item.map(|i| i as usize);
    let start = retry::FirstAttempt {
        number: first_attempt,
        look_first,
    };
    let (env, new_attempts, calls) =
        retry::call(ctx, step, &output, &params, item_index, key, start).await;
    let attempts = first_attempt - 1 + u32::try_from(new_attempts.len()).unwrap_or(u32::MAX);
    // The log numbers attempts by position: an earlier process's attempts come first.
    let mut attempt_log = history.earlier;
    attempt_log.extend(new_attempts);
    let ok = env.is_success();
    let error = (!ok).then(|| {
        attempt_log
            .last()
            .and_then(|a| a.error.clone())
            .unwrap_or_else(|| retry::failure_text(&env))
    });
    let (deleted, deactivated) = removals(spec, &params, ok);
    CallOutcome {
        item: ItemReport {
            index,
            status: if ok {
                StepStatus::Succeeded
            } else {
                StepStatus::Failed
            },
            error,
            stored: Some(env.into()),
            attempts,
            attempt_log,
            values: None,
        },
        params: Some(ctx.redactor.map(&params)),
        deleted,
        deactivated,
        unreconciled: false,
        calls,
    }
}

/// A `set:` step (or one of its for_each items): evaluates each named value; nothing is sent.
fn set_values(
    ctx: &Ctx<'_>,
    values: &[(crate::model::Located<String>, Template)],
    scope: &Scope,
    index: usize,
) -> CallOutcome {
    let mut out = Map::new();
    let mut error = None;
    for (name, t) in values {
        match expr::eval(t, scope, Mode::Full) {
            Ok(v) => {
                out.insert(name.value.clone(), v);
            }
            Err(err) => {
                error = Some(format!("value '{}': {}", name.value, located(ctx, &err)));
                break;
            }
        }
    }
    CallOutcome {
        item: ItemReport {
            index,
            status: if error.is_none() {
                StepStatus::Succeeded
            } else {
                StepStatus::Failed
            },
            stored: None,
            attempts: 0,
            attempt_log: Vec::new(),
            error: error.clone(),
            values: error.is_none().then(|| Box::new(out)),
        },
        params: None,
        deleted: 0,
        deactivated: 0,
        unreconciled: false,
        calls: CallCounts::default(),
    }
}

/// A list read that returned fewer records than the server holds (`record_count`): says so,
/// and how to get the rest, so a default page size never silently drops records.
pub(crate) fn truncation_warning(output: &Value) -> Option<String> {
    let obj = output.as_object()?;
    let total = obj.get("record_count")?.as_u64()?;
    let (key, list) = obj.iter().find_map(|(k, v)| v.as_array().map(|a| (k, a)))?;
    let got = list.len() as u64;
    (got < total).then(|| {
        format!(
            "returned {got} of {total} {key} (record_count {total}); to get them all, set Paginate: false and a Count of at least {total}, or page with PageNo"
        )
    })
}

/// Runs a step without for_each.
pub(crate) async fn run_single(ctx: &Ctx<'_>, step: &Step, scope: &Scope) -> StepReport {
    let spec = ctx.catalog.get(&step.node.value);
    let mut report = StepReport::skipped(&step.id.value, &step.node.value, "", false);
    report.skip_reason = None;
    report.name = step.name.clone();
    report.destructive = spec.is_some_and(|spec| step.may_destroy(spec));
    report.continue_on_error = step.continue_on_error;
    if let Some(cond) = &step.if_ {
        match condition(cond, scope) {
            Ok(true) => {}
            Ok(false) => {
                report.skip_reason = Some(format!("`if` is false: {}", cond.display()));
                return report;
            }
            Err(err) => {
                let env = expression_failure(ctx, &output_name(spec), &err);
                report.status = StepStatus::Failed;
                report.error = Some(env.error_message.clone());
                report.envelope = Some(env);
                return report;
            }
        }
    }
    let outcome = call(ctx, step, scope, 0, None).await;
    report.set = step.is_set();
    let envelope = outcome.item.envelope();
    report.values = outcome.item.values.map(|v| *v);
    if let (Some(env), Some(spec)) = (&envelope, spec)
        && spec.effect == psaflow_core::Effect::Read
        && let Some(w) = truncation_warning(&env.output)
    {
        report.warnings.push(w);
    }
    report.status = outcome.item.status;
    report.error = outcome.item.error;
    if report.status == StepStatus::Skipped {
        report.skip_reason = report.error.take();
    }
    report.envelope = envelope;
    report.attempts = outcome.item.attempts;
    report.attempt_log = outcome.item.attempt_log;
    report.params = outcome.params;
    report.deleted = outcome.deleted;
    report.deactivated = outcome.deactivated;
    report.unreconciled = outcome.unreconciled;
    report.calls = outcome.calls;
    report
}
