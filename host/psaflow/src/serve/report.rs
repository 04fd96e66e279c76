//! The run report `GET /v1/runs/{id}` answers always has `status`, `outputs` and `steps`, as
//! the product contract says. The engine writes the report when the run stops or waits; a run
//! that is still going, or was cancelled in the middle of a step, has only its step rows in
//! the store, so the report is completed from them here.
use psaflow_store::RunRecord;
use serde_json::{Map, Value, json};

/// Completes `shown` (the report as `runs show --json` builds it, with `step_timings`) of
/// `run`: missing `outputs` are `{}`, missing `steps` come from the step rows and the
/// workflow, and a run that is over has no step left `running` or `waiting_approval`.
pub fn complete(shown: &mut Map<String, Value>, run: &RunRecord) {
    if !shown.get("outputs").is_some_and(Value::is_object) {
        shown.insert("outputs".into(), json!({}));
    }
    let over = run.status.is_finished();
    let why = run
        .error
        .clone()
        .unwrap_or_else(|| format!("the run {}", run.status));
    if over && let Some(Value::Array(timings)) = shown.get_mut("step_timings") {
        for timing in timings.iter_mut() {
            end_timing(timing, run.finished_at, &why);
        }
    }
    if !shown.get("steps").is_some_and(Value::is_object) {
        let steps = steps_from_timings(shown.get("step_timings"), run, &why);
        shown.insert("steps".into(), Value::Object(steps));
    }
}

/// A step row still `running` (cut off) is `failed` with the run's error; one still waiting
/// for approval never ran: `skipped`.
fn end_timing(timing: &mut Value, finished_at: Option<i64>, why: &str) {
    let now = match timing["status"].as_str() {
        Some("running") => "failed",
        Some("waiting_approval") => "skipped",
        _ => return,
    };
    timing["status"] = json!(now);
    if timing["error"].is_null() {
        timing["error"] = json!(why);
    }
    if timing["finished_at"].is_null()
        && let (Some(end), Some(start)) = (finished_at, timing["started_at"].as_i64())
    {
        timing["finished_at"] = json!(end);
        timing["duration_ms"] = json!(end - start);
    }
}

/// `steps` in the report's shape from the step rows; on a run that is over, the workflow's
/// steps that never started are `skipped`.
fn steps_from_timings(timings: Option<&Value>, run: &RunRecord, why: &str) -> Map<String, Value> {
    let mut steps = Map::new();
    for timing in timings.and_then(Value::as_array).into_iter().flatten() {
        let Some(id) = timing["step"].as_str() else {
            continue;
        };
        let mut step = json!({"status": timing["status"], "node": timing["node"]});
        if !timing["items"].is_null() {
            step["items"] = timing["items"].clone();
        }
        if !timing["error"].is_null() {
            step["error"] = timing["error"].clone();
        }
        steps.insert(id.to_string(), step);
    }
    if run.status.is_finished()
        && let Ok(workflow) = psaflow_workflow::parse(&run.workflow_source, &run.workflow_file)
    {
        for step in workflow.steps() {
            steps.entry(step.id.value.clone()).or_insert_with(|| {
                json!({"status": "skipped", "skip_reason": format!("the run ended before this step ({why})")})
            });
        }
    }
    steps
}
