//! The engine's side of the run journal: what is written before and after each attempt,
//! how finished calls are replayed on resume, and how an attempt left in doubt by a killed
//! process is reconciled before anything is sent again. Every function here does nothing
//! when the run has no journal.
use super::Ctx;
use super::step::CallOutcome;
use crate::journal::{AttemptEnd, AttemptNote, CallKey, FinishedCall, InDoubt, StepNote};
use crate::model::Step;
use crate::report::{AttemptRecord, ItemReport, StepReport, StepStatus};
use psaflow_core::{Effect, Envelope, NodeSpec};
use serde_json::{Map, Value};

/// What the catalog says about running a node again, as the journal needs it.
pub(crate) struct Traits {
    pub effect: &'static str,
    pub idempotent: bool,
    pub natural_key: Vec<String>,
}

/// What the node declared (`describe`). A node the catalog does not know is treated as the
/// least safe kind: a change that is journaled before it is sent and never repeated blindly.
pub(crate) fn traits(spec: Option<&NodeSpec>, params: &Map<String, Value>) -> Traits {
    match spec {
        Some(spec) => Traits {
            // `Inactive: true` on an update is journaled and audited as the deactivation it is.
            effect: spec.effect_of(params).name(),
            idempotent: spec.idempotent,
            natural_key: spec.natural_key.clone(),
        },
        None => Traits {
            effect: Effect::Create.name(),
            idempotent: false,
            natural_key: Vec::new(),
        },
    }
}

/// The id of the record an attempt changed: the `id` of the node's output record, else the
/// `Id` parameter it was given (updates, deactivations, deletes).
pub(crate) fn target(env: &Envelope, params: &Map<String, Value>) -> Option<String> {
    let text = |v: &Value| match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    env.output
        .get("id")
        .and_then(text)
        .or_else(|| params.get("Id").and_then(text))
}

pub(crate) fn note(
    ctx: &Ctx<'_>,
    step: &Step,
    key: &CallKey,
    attempt: u32,
    params: &Map<String, Value>,
) -> AttemptNote {
    AttemptNote {
        call: key.clone(),
        attempt,
        node: step.node().to_string(),
        effect: traits(ctx.catalog.get(step.node()), params).effect.to_string(),
        params: Value::Object(ctx.redactor.map(params)),
        started: std::time::Instant::now(),
    }
}

/// Before an attempt: for a node that changes something, commit the intent. `Err` means
/// the request must not be sent.
pub(crate) async fn before_attempt(ctx: &Ctx<'_>, note: &AttemptNote) -> Result<(), String> {
    let Some(journal) = &ctx.journal else {
        return Ok(());
    };
    if note.effect == Effect::Read.name() {
        return Ok(());
    }
    journal.intent(note.clone()).await
}

/// After an attempt. A journal that cannot record the result leaves the intent open, which
/// a resume reconciles, so the run goes on.
pub(crate) async fn after_attempt(
    ctx: &Ctx<'_>,
    note: AttemptNote,
    env: &Envelope,
    params: &Map<String, Value>,
    outcome_unknown: bool,
    recovered: bool,
) {
    let Some(journal) = &ctx.journal else {
        return;
    };
    let end = AttemptEnd {
        envelope: redacted_envelope(ctx, env),
        succeeded: env.is_success(),
        outcome_unknown,
        recovered,
        target: target(env, params),
        error: (!env.is_success()).then(|| ctx.redactor.text(&super::retry::failure_text(env))),
    };
    let _ = journal.attempt_end(note, end).await;
}

fn redacted_envelope(ctx: &Ctx<'_>, env: &Envelope) -> Envelope {
    Envelope::from_json(&ctx.redactor.value(&env.to_json())).unwrap_or_else(|_| env.clone())
}

/// Records a finished call so a resume replays it.
pub(crate) async fn call_finished(ctx: &Ctx<'_>, key: &CallKey, outcome: &CallOutcome) {
    let Some(journal) = &ctx.journal else {
        return;
    };
    let item = &outcome.item;
    let result = FinishedCall {
        succeeded: item.status == StepStatus::Succeeded,
        envelope: item.envelope().map(|e| redacted_envelope(ctx, &e)),
        params: outcome.params.clone(),
        error: item.error.as_ref().map(|e| ctx.redactor.text(e)),
        attempts: item.attempts,
    };
    let _ = journal.call_finished(key.clone(), result).await;
}

/// A call an earlier process finished, rebuilt from the journal without calling the node;
/// `attempt_log` is what its attempts did, as journaled.
pub(crate) fn replayed(
    spec: Option<&NodeSpec>,
    index: usize,
    done: FinishedCall,
    attempt_log: Vec<AttemptRecord>,
) -> CallOutcome {
    let ok = done.succeeded;
    let params = done.params.clone().unwrap_or_default();
    let (deleted, deactivated) = super::step::removals(spec, &params, ok);
    CallOutcome {
        item: ItemReport {
            index,
            status: if ok {
                StepStatus::Succeeded
            } else {
                StepStatus::Failed
            },
            stored: done.envelope.map(Into::into),
            attempts: done.attempts,
            attempt_log,
            error: done.error,
            values: None,
        },
        deleted,
        deactivated,
        params: done.params,
        unreconciled: false,
        calls: psaflow_core::CallCounts::default(),
    }
}

/// What to do about an attempt whose intent was committed but whose result never was.
pub(crate) enum Reconciled {
    /// Safe to send again, as attempt number `next`.
    SendAgain { next: u32 },
    /// A create that can recognise its record: attempt `next` looks it up first (its change
    /// request is withheld), and sends the create only when no such record exists.
    LookFirst { next: u32 },
    /// psaflow cannot tell whether the change happened; the message names the record.
    Blocked(String),
}

/// Decides what an attempt left in doubt by an interrupted process means. Repeating an
/// idempotent node changes nothing more, so it is sent again. A create is never repeated
/// blindly: it is left for a person, with the record named, unless the node can look its
/// record up (`natural_key`) and the invoker can run it that way.
pub(crate) async fn reconcile(
    ctx: &Ctx<'_>,
    step: &Step,
    key: &CallKey,
    doubt: &InDoubt,
    params: &Map<String, Value>,
) -> Reconciled {
    let spec = ctx.catalog.get(step.node());
    let t = traits(spec, params);
    // The lost attempt's answer will never come: say so in the journal.
    let lost = AttemptNote {
        call: key.clone(),
        attempt: doubt.attempt,
        node: step.node().to_string(),
        effect: t.effect.to_string(),
        params: doubt.params.clone(),
        started: std::time::Instant::now(),
    };
    let output = super::step::output_name(spec);
    let lost_env = Envelope::system(&output, crate::journal::STOPPED_IN_FLIGHT);
    after_attempt(ctx, lost, &lost_env, params, true, false).await;
    if t.idempotent {
        return Reconciled::SendAgain {
            next: doubt.attempt + 1,
        };
    }
    if !t.natural_key.is_empty() && ctx.invoker.can_look_first() {
        return Reconciled::LookFirst {
            next: doubt.attempt + 1,
        };
    }
    Reconciled::Blocked(blocked_message(ctx, step, key, &t, params))
}

/// "check whether the client Name=Contoso exists" with the node's own identifying fields.
pub(crate) fn blocked_message(
    ctx: &Ctx<'_>,
    step: &Step,
    key: &CallKey,
    t: &Traits,
    params: &Map<String, Value>,
) -> String {
    let shown = ctx.redactor.map(params);
    let fields: Vec<String> = if t.natural_key.is_empty() {
        shown.iter().map(|(k, v)| format!("{k}={v}")).collect()
    } else {
        t.natural_key
            .iter()
            .filter_map(|k| shown.get(k).map(|v| format!("{k}={v}")))
            .collect()
    };
    format!(
        "{key}: an earlier run of this step sent {} ({}) and stopped before its answer was recorded; \
         psaflow cannot tell whether the {} happened. Check in the PSA whether that record exists \
         (and is as intended), then finish the run by hand",
        step.node(),
        fields.join(", "),
        t.effect
    )
}

/// Writes a step's status to the journal.
pub(crate) async fn step_note(
    ctx: &Ctx<'_>,
    step: &Step,
    status: &'static str,
    items: Option<usize>,
    error: Option<String>,
) {
    if let Some(journal) = &ctx.journal {
        let _ = journal
            .step(StepNote {
                step: step.id().to_string(),
                node: step.node().to_string(),
                status,
                items,
                error: error.map(|e| ctx.redactor.text(&e)),
            })
            .await;
    }
}

pub(crate) async fn step_finished(ctx: &Ctx<'_>, step: &Step, r: &StepReport) {
    let items = r.items.as_ref().map(|items| items.len());
    let error = r.error.clone().or_else(|| r.skip_reason.clone());
    step_note(ctx, step, r.status.as_str(), items, error).await;
}
