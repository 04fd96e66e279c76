//! Approval decisions (`POST /v1/runs/{id}/approvals`, and the console's buttons): recorded
//! as the caller, then the run is queued again. A decision is refused, with nothing recorded,
//! when the run is over and the step will never run (a cancelled run), and when the approval
//! timed out (its `on_timeout` applies when the run continues).
use super::app::AppState;
use super::auth::Caller;
use super::error::{ApiError, JsonBody};
use super::runs::blocking;
use super::tokens::Scope;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use psaflow::durable::decision_audit;
use psaflow_store::{
    ApprovalRecord, DecideOutcome, Decision, DecisionRecord, QueuedWork, RunRecord, RunState,
    StoreError, now_ms,
};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use utoipa::ToSchema;

/// A decision on a step waiting for approval.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalBody {
    /// The step to decide; may be left out when only one waits.
    #[serde(default)]
    pub step: Option<String>,
    /// `approve` or `reject`.
    pub decision: String,
    #[serde(default)]
    pub comment: Option<String>,
}

#[utoipa::path(post, path = "/v1/runs/{id}/approvals", operation_id = "decideApproval", tag = "runs",
    request_body = ApprovalBody,
    params(("id" = String, Path)),
    responses((status = 202, description = "recorded; the run resumes", body = Object),
              (status = 200, description = "the same decision was already recorded", body = Object),
              (status = 403, body = super::error::ErrorBody, description = "not among the step's approvers, or no approve scope"),
              (status = 404, body = super::error::ErrorBody),
              (status = 409, body = super::error::ErrorBody, description = "a different decision was recorded, the approval timed out (its on_timeout applies), or the run is over (cancelled): nothing is recorded")),
    security(("bearer" = [])))]
/// Approves or rejects a waiting step, as the token's name, then resumes the run.
pub async fn approve(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<JsonBody<ApprovalBody>, ApiError>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    // The scope first: a caller who may not decide learns nothing from how its body is read.
    caller.require(Scope::Approve)?;
    let JsonBody(body) = body?;
    decide(&state, caller.name(), &id, body).await
}

/// Records a decision and resumes the run (shared with the console).
pub async fn decide(
    state: &Arc<AppState>,
    who: &str,
    id: &str,
    body: ApprovalBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let decision = match body.decision.as_str() {
        "approve" | "approved" => Decision::Approved,
        "reject" | "rejected" => Decision::Rejected,
        other => {
            return Err(ApiError::bad_request(format!(
                "decision {other:?} must be \"approve\" or \"reject\""
            )));
        }
    };
    let store = state.store.clone();
    let rid = id.to_string();
    let (run, approvals) = blocking(move || {
        let run = store.run(&rid)?;
        let approvals = store.approvals(&rid)?;
        Ok((run, approvals))
    })
    .await?;
    let run = run.ok_or_else(|| ApiError::not_found(format!("no run with id {id}")))?;
    if let Some(plan) = psaflow::durable::applied_plan(&run) {
        return Err(ApiError::conflict(format!(
            "run {id} applied the plan {plan}; an apply does not continue after a decision (it would not keep to the plan), so none was recorded. Make a new plan"
        )));
    }
    let approval = choose(id, &run, &approvals, body.step.as_deref())?;
    if let Some(expired) = crate::cli::approve::timed_out(id, approval, now_ms()) {
        return Err(ApiError::conflict(expired));
    }
    let approvers = &approval.request.approvers;
    if !approvers.is_empty() && !approvers.iter().any(|a| a == who) {
        return Err(ApiError::forbidden(format!(
            "'{who}' may not decide step '{}' of run {id}; its approvers are {}",
            approval.request.step_id,
            approvers.join(", ")
        )));
    }
    let record = DecisionRecord {
        decision,
        by: who.to_string(),
        comment: body.comment.clone(),
        at: now_ms(),
    };
    let step = approval.request.step_id.clone();
    let store = state.store.clone();
    let (rid, s, actor) = (id.to_string(), step.clone(), who.to_string());
    let outcome = tokio::task::spawn_blocking(move || {
        let audit = decision_audit(store.as_ref(), &rid, &s, &record, &actor)?;
        store.decide(&rid, &s, &record, &audit)
    })
    .await
    .map_err(|e| ApiError::internal("recording the decision did not finish", e))?;
    let repeated = match outcome {
        Ok(DecideOutcome::Recorded) => false,
        Ok(DecideOutcome::AlreadyDecided(_)) => true,
        // The store checks, in the decision's transaction, that the run is not over.
        Err(err @ (StoreError::ConflictingDecision { .. } | StoreError::RunOver { .. })) => {
            return Err(ApiError::conflict(err.to_string()));
        }
        Err(err) => return Err(err.into()),
    };
    tracing::info!(run_id = %id, step = %step, by = %who, decision = decision.as_str(), "approval decided");
    if run.status != RunState::WaitingApproval {
        return Ok((
            StatusCode::OK,
            Json(
                json!({"id": id, "step": step, "decision": decision.as_str(), "status": run.status.as_str(), "resumed": false}),
            ),
        ));
    }
    resume(state, &run).await?;
    Ok((
        if repeated {
            StatusCode::OK
        } else {
            StatusCode::ACCEPTED
        },
        Json(
            json!({"id": id, "step": step, "decision": decision.as_str(), "status": "queued", "resumed": true}),
        ),
    ))
}

/// The approval a decision is about: the named step's; else the only one open; else, so that
/// repeating a decision without `step` answers as the first time did, the last one decided.
fn choose<'a>(
    id: &str,
    run: &RunRecord,
    approvals: &'a [ApprovalRecord],
    step: Option<&str>,
) -> Result<&'a ApprovalRecord, ApiError> {
    if let Some(step) = step {
        return approvals
            .iter()
            .find(|a| a.request.step_id == step)
            .ok_or_else(|| {
                ApiError::not_found(format!("run {id} has no approval at step '{step}'"))
            });
    }
    let open: Vec<&ApprovalRecord> = approvals.iter().filter(|a| a.decided.is_none()).collect();
    match open.as_slice() {
        [one] => Ok(one),
        [] => approvals
            .iter()
            .filter_map(|a| a.decided.as_ref().map(|d| (d.at, a)))
            .max_by_key(|(at, _)| *at)
            .map(|(_, a)| a)
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "run {id} ({}) is not waiting for an approval",
                    run.status
                ))
            }),
        several => {
            let ids: Vec<&str> = several.iter().map(|a| a.request.step_id.as_str()).collect();
            Err(ApiError::bad_request(format!(
                "run {id} waits at several steps ({}); say which with \"step\"",
                ids.join(", ")
            )))
        }
    }
}

/// Queues a run that waited for approval again. Its queue row was kept (parked) with its
/// inputs when it started through the queue; a run started another way (`psaflow run`) is
/// queued with its stored inputs, unless some were masked (secrets the server never had).
async fn resume(state: &Arc<AppState>, run: &psaflow_store::RunRecord) -> Result<(), ApiError> {
    let store = state.store.clone();
    let id = run.id.clone();
    let parked = tokio::task::spawn_blocking(move || store.requeue(&id, None, now_ms()))
        .await
        .map_err(|e| ApiError::internal("queueing the run again did not finish", e))?;
    match parked {
        Ok(()) => {}
        Err(StoreError::NotQueued(_)) => {
            if !run.redacted_inputs.is_empty() {
                return Err(ApiError::conflict(format!(
                    "the decision is recorded, but run {} stored its input(s) {} masked, so the server cannot continue it; resume it with psaflow runs resume {} --input NAME=VALUE",
                    run.id,
                    run.redacted_inputs.join(", "),
                    run.id
                )));
            }
            let work = QueuedWork {
                run_id: run.id.clone(),
                inputs: run.inputs.clone(),
                connection: None,
                dry_run: false,
                lost_leases: 0,
                enqueued_at: now_ms(),
            };
            let store = state.store.clone();
            let id = run.id.clone();
            blocking(move || store.requeue(&id, Some(&work), now_ms())).await?;
        }
        Err(StoreError::RunFinished { run_id, status }) => {
            return Err(ApiError::conflict(format!(
                "run {run_id} already {status}; the decision is recorded but there is nothing to continue"
            )));
        }
        Err(e) => return Err(e.into()),
    }
    state.executor.wake();
    Ok(())
}
