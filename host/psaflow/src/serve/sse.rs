//! `GET /v1/runs/{id}/events`: a run's progress as Server-Sent Events. The stream reads the
//! run store every 250 ms and sends what changed, so it follows runs executed by any process
//! sharing the store (this server, a worker, the CLI):
//!
//! - `step` `{step, node, status, items, error}` when a step starts (`running`) or its status
//!   changes;
//! - `progress` `{step, done, total}` as the items of a running `for_each` step finish;
//! - `waiting` `{id, approvals: [{step, message, approvers}]}` when the run waits for approval;
//! - `done` `{id, status, error}` when the run is over; then the stream ends.
//!
//! A client that connects late gets every step as it stands, then the changes.
use super::app::AppState;
use super::auth::Caller;
use super::error::ApiError;
use super::tokens::Scope;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::Stream;
use psaflow_store::RunState;
use serde_json::json;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

const POLL: Duration = Duration::from_millis(250);

struct Follow {
    state: Arc<AppState>,
    id: String,
    seen: HashMap<String, String>,
    /// Finished items per running for_each step, as last sent.
    progress: HashMap<String, usize>,
    waiting_sent: bool,
    finished: bool,
    pending: Vec<Event>,
    first: bool,
}

#[utoipa::path(get, path = "/v1/runs/{id}/events", operation_id = "followRunEvents", tag = "runs",
    params(("id" = String, Path)),
    responses((status = 200, description = "text/event-stream with events `step` {step, node, status, items, error}, `progress` {step, done, total} as a for_each step's items finish, `waiting` {id, approvals} and `done` {id, status, error}", content_type = "text/event-stream"),
              (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
/// Follows a run as Server-Sent Events until it is done.
pub async fn events(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    caller.require(Scope::Read)?;
    let store = state.store.clone();
    let rid = id.clone();
    if super::runs::blocking(move || store.run(&rid))
        .await?
        .is_none()
    {
        return Err(ApiError::not_found(format!("no run with id {id}")));
    }
    let follow = Follow {
        state,
        id,
        seen: HashMap::new(),
        progress: HashMap::new(),
        waiting_sent: false,
        finished: false,
        pending: Vec::new(),
        first: true,
    };
    let stream = futures_util::stream::unfold(follow, |mut f| async move {
        loop {
            if let Some(event) = f.pending.pop() {
                return Some((Ok(event), f));
            }
            // A stopping server ends its streams, or graceful shutdown would wait for them.
            if f.finished
                || f.state
                    .shutting_down
                    .load(std::sync::atomic::Ordering::Relaxed)
            {
                return None;
            }
            if !f.first {
                tokio::time::sleep(POLL).await;
            }
            f.first = false;
            poll(&mut f).await;
            // Events were pushed in order; pop takes from the end.
            f.pending.reverse();
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// Reads the run and its steps and queues an event for each change.
async fn poll(f: &mut Follow) {
    let store = f.state.store.clone();
    let id = f.id.clone();
    let read = tokio::task::spawn_blocking(move || -> Result<_, psaflow_store::StoreError> {
        let run = store.run(&id)?;
        let steps = store.steps(&id)?;
        let approvals = store.approvals(&id)?;
        // Items are counted only while a for_each step runs (finished calls of that step).
        let counting = steps.iter().any(|s| {
            s.status == psaflow_store::StepState::Running && s.item_count.is_some_and(|n| n > 0)
        });
        let calls = if counting {
            store.calls(&id)?
        } else {
            Vec::new()
        };
        Ok((run, steps, approvals, calls))
    })
    .await;
    let (run, steps, approvals, calls) = match read {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            f.pending.push(error_event(&e.to_string()));
            f.finished = true;
            return;
        }
        Err(e) => {
            f.pending.push(error_event(&e.to_string()));
            f.finished = true;
            return;
        }
    };
    let Some(run) = run else {
        f.pending.push(error_event("the run was deleted"));
        f.finished = true;
        return;
    };
    for step in &steps {
        let status = step.status.as_str().to_string();
        if f.seen.get(&step.step_id) != Some(&status) {
            f.seen.insert(step.step_id.clone(), status.clone());
            f.pending.push(
                Event::default().event("step").data(
                    json!({
                        "step": step.step_id,
                        "node": step.node,
                        "status": status,
                        "items": step.item_count,
                        "error": step.error,
                    })
                    .to_string(),
                ),
            );
        }
    }
    for step in &steps {
        if step.status == psaflow_store::StepState::Running
            && let Some(total) = step.item_count.filter(|n| *n > 0)
        {
            let done = calls
                .iter()
                .filter(|c| c.key.step_id == step.step_id && c.key.item.is_some())
                .count();
            if f.progress.get(&step.step_id) != Some(&done) {
                f.progress.insert(step.step_id.clone(), done);
                f.pending.push(
                    Event::default().event("progress").data(
                        json!({"step": step.step_id, "done": done, "total": total}).to_string(),
                    ),
                );
            }
        }
    }
    match run.status {
        RunState::WaitingApproval if !f.waiting_sent => {
            f.waiting_sent = true;
            let open: Vec<_> = approvals
                .iter()
                .filter(|a| a.decided.is_none())
                .map(|a| {
                    json!({"step": a.request.step_id, "message": a.request.message, "approvers": a.request.approvers})
                })
                .collect();
            f.pending.push(
                Event::default()
                    .event("waiting")
                    .data(json!({"id": run.id, "approvals": open}).to_string()),
            );
        }
        RunState::Running => f.waiting_sent = false,
        s if s.is_finished() => {
            f.pending.push(
                Event::default().event("done").data(
                    json!({"id": run.id, "status": s.as_str(), "error": run.error}).to_string(),
                ),
            );
            f.finished = true;
        }
        _ => {}
    }
}

fn error_event(message: &str) -> Event {
    Event::default()
        .event("error")
        .data(json!({"message": message}).to_string())
}
