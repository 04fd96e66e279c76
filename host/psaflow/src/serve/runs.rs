//! Runs: submit (`POST /v1/runs`, idempotent `PUT /v1/runs/{id}`), read, list and cancel
//! (approval decisions are `approvals.rs`). A submitted run is queued in the run store (run
//! row and queue row in one transaction) before the answer; the [`super::executor`] of this server, or any `psaflow
//! worker` sharing the store, executes it.
use super::app::AppState;
use super::auth::Caller;
use super::error::{ApiError, JsonBody};
use super::tokens::Scope;
use super::workflows;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use psaflow::execute::Connected;
use psaflow_store::{QueuedWork, RunFilter, RunState, StoreError, Submission, new_id, now_ms};
use psaflow_workflow::{RunOptions, Workflow};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// A run to start.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitRun {
    /// A workflow of the server's workflows folder, by its `name:` (or file name).
    #[serde(default)]
    pub workflow: Option<String>,
    /// The workflow's YAML itself; only when the server allows it (`--allow-inline-workflows`).
    #[serde(default)]
    pub workflow_yaml: Option<String>,
    /// The workflow's inputs by name, as JSON values of their declared types.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub inputs: Map<String, Value>,
    /// Validate and show each step's parameters; send nothing, record nothing. Answers 200
    /// with the dry-run report instead of 202.
    #[serde(default)]
    pub dry_run: bool,
    /// The connection to use, by name (`--connections`); `default` or none: the server's
    /// default connection.
    #[serde(default)]
    pub connection: Option<String>,
}

/// A run accepted.
#[derive(Debug, Serialize, ToSchema)]
pub struct Submitted {
    pub id: String,
    /// `running` (or `queued`), or where an earlier identical submission now stands.
    pub status: String,
}

/// A run report as `psaflow run --json` prints it (a dry run adds `plan`); `GET
/// /v1/runs/{id}` adds id, timings, step_timings, attempt_log and approvals. Answers are built
/// as JSON: this type only describes them in the OpenAPI document.
#[derive(Serialize, ToSchema)]
pub struct RunReport {
    /// succeeded, failed, waiting_approval, running or queued.
    pub status: String,
    /// The workflow's outputs by name; `{}` until it succeeds.
    #[schema(value_type = Object)]
    pub outputs: Map<String, Value>,
    /// Each step by id: status (succeeded, failed, skipped; running while it runs), its
    /// envelope (`envelopes` for a for_each), attempts, error.
    #[schema(value_type = Object)]
    pub steps: Map<String, Value>,
}

/// A submission answered with 200: the run an earlier identical submission made, or a dry
/// run's report.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // never built: the answers are JSON values this describes
pub enum SubmitAnswer {
    Repeat(Submitted),
    DryRun(RunReport),
}

/// Hex SHA-256 of a JSON value written with its object keys sorted, so two bodies that mean
/// the same compare equal.
fn body_hash(body: &SubmitRun) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&m[k])))
                        .collect(),
                )
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    let value = serde_json::to_value(body).unwrap_or(Value::Null);
    crate::cli::run::sha256_hex(&sorted(&value).to_string())
}

/// Checks a submission and makes the workflow and its typed inputs ready to run.
async fn prepare(
    state: &AppState,
    body: &SubmitRun,
) -> Result<(Workflow, String, Map<String, Value>, Arc<Connected>), ApiError> {
    let connection = state
        .connections
        .get(body.connection.as_deref())
        .map_err(ApiError::bad_request)?;
    let (workflow, file) = match (&body.workflow, &body.workflow_yaml) {
        (Some(name), None) => workflows::find(state, name)?,
        (None, Some(yaml)) => {
            if !state.allow_inline {
                return Err(ApiError::forbidden(
                    "this server runs only the workflows of its folder; send \"workflow\": NAME (inline YAML needs --allow-inline-workflows)",
                ));
            }
            let wf = psaflow_workflow::parse(yaml, "inline.yaml")
                .map_err(|d| ApiError::invalid("the workflow is not valid", &d))?;
            (wf, "inline.yaml".to_string())
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "give \"workflow\" (a name) or \"workflow_yaml\", not both",
            ));
        }
        (None, None) => {
            return Err(ApiError::bad_request(
                "say which workflow to run: \"workflow\": \"<name in the workflows folder>\"",
            ));
        }
    };
    if workflow.connection().is_some() {
        return Err(ApiError::bad_request(format!(
            "{file}: this workflow has a `connection:` block, which would choose where the server's credentials and data go; the server refuses it (remove the block)"
        )));
    }
    // The server never reads its own files for a caller: an input of type csv or json whose
    // value is "@path" would otherwise read any file the server can.
    for decl in workflow.inputs() {
        if let Some(Value::String(text)) = body.inputs.get(&decl.name.value)
            && matches!(
                decl.ty,
                psaflow_workflow::InputType::Csv | psaflow_workflow::InputType::Json
            )
            && text.starts_with('@')
            && !text.starts_with("@@")
        {
            return Err(ApiError::bad_request(format!(
                "input '{}': the server does not read files (\"@path\"); send the content itself (\"@@\" for text that starts with @)",
                decl.name.value
            )));
        }
    }
    let diagnostics = workflows::check(state, &workflow).await;
    if !diagnostics.is_empty() {
        let mut err = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            format!("workflow '{}' ({file}) is not valid", workflow.name()),
        );
        err.diagnostics = Some(diagnostics);
        return Err(err);
    }
    let inputs = psaflow_workflow::resolve_inputs(&workflow, &[], Some(body.inputs.clone()))
        .map_err(|d| {
            ApiError::invalid("the inputs do not fit the workflow", &api_wording(d))
        })?;
    // The nodes' own checks with the inputs known now (a weak password, a bad website).
    let known = RunOptions {
        inputs: inputs.clone(),
        ..Default::default()
    }
    .known_inputs(&workflow);
    if let Err(d) =
        psaflow_workflow::check_node_inputs(&workflow, &state.offline, Some(&known), &json!({}))
            .await
    {
        return Err(ApiError::invalid(
            "a step's parameters would be refused by its node",
            &d,
        ));
    }
    Ok((workflow, file, inputs, connection))
}

/// The inputs' diagnostics as a caller of the API acts on them: a required input is added to
/// the body's `"inputs"`, not passed with `--input` (the CLI's advice).
fn api_wording(mut d: psaflow_workflow::Diagnostics) -> psaflow_workflow::Diagnostics {
    for diagnostic in &mut d.0 {
        let Some(name) = diagnostic
            .help
            .as_deref()
            .and_then(|h| h.strip_prefix("pass --input "))
            .and_then(|rest| rest.split_once('='))
            .map(|(name, _)| name.to_string())
        else {
            continue;
        };
        diagnostic.help = Some(format!("add \"{name}\" to \"inputs\""));
    }
    d
}

/// Records a new run and starts it; with `key`, a repeated submission answers the first run.
async fn start(
    state: &Arc<AppState>,
    caller: &Caller,
    body: SubmitRun,
    id: Option<String>,
    key: Option<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let hash = body_hash(&body);
    // A repeat is answered before anything else, so it costs nothing and cannot fail on a
    // workflow that changed since.
    if let Some(key) = &key
        && let Some(existing) = existing_submission(state, key).await?
    {
        return repeat(state, &existing, &hash).await;
    }
    let (workflow, file, inputs, connection) = prepare(state, &body).await?;
    if body.dry_run {
        let options = RunOptions {
            inputs,
            dry_run: true,
            secrets: state.secrets.clone(),
            ..RunOptions::default()
        };
        let report = psaflow_workflow::run(&workflow, &state.offline, options).await;
        return Ok((StatusCode::OK, Json(report.to_json())));
    }
    let run_id = id.unwrap_or_else(new_id);
    if let Some(key) = &key {
        let store = state.store.clone();
        let submission = Submission {
            key: key.clone(),
            run_id: run_id.clone(),
            body_sha256: hash.clone(),
            created_at: now_ms(),
        };
        let stored = blocking(move || store.remember_submission(&submission)).await?;
        if stored.run_id != run_id {
            // Another request with the same key got there first.
            return repeat(state, &stored, &hash).await;
        }
    }
    let mut secrets = state.secrets.clone();
    secrets.extend(connection.secrets.iter().cloned());
    let redactor = psaflow_workflow::Redactor::new(secrets);
    let record = crate::cli::run::new_run_record(
        run_id.clone(),
        &workflow,
        file,
        crate::cli::run::stored_inputs(&inputs, &redactor),
        caller.name().to_string(),
        connection.backend_label.clone(),
    );
    let work = QueuedWork {
        run_id: run_id.clone(),
        // The real inputs (a password input included): the queue row keeps them until the
        // run finishes, so the executor and an approval's resume can use them.
        inputs: Value::Object(inputs),
        connection: body.connection.clone().filter(|n| n != "default"),
        dry_run: false,
        lost_leases: 0,
        enqueued_at: now_ms(),
    };
    let store = state.store.clone();
    match blocking(move || store.enqueue(&record, &work)).await {
        Ok(()) => {}
        Err(ApiError {
            code: "duplicate", ..
        }) => {
            return Err(ApiError::conflict(format!(
                "a run with id {run_id} already exists (made another way); choose another id"
            )));
        }
        Err(e) => return Err(e),
    }
    metrics::counter!("psaflow_runs_submitted_total").increment(1);
    state.executor.wake();
    tracing::info!(run_id = %run_id, workflow = %workflow.name(), by = %caller.name(), "run queued");
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"id": run_id, "status": "queued"})),
    ))
}

async fn existing_submission(state: &AppState, key: &str) -> Result<Option<Submission>, ApiError> {
    let store = state.store.clone();
    let key = key.to_string();
    blocking(move || store.submission(&key)).await
}

/// The answer to a repeated submission: the first run when the body is the same, else 409.
async fn repeat(
    state: &AppState,
    existing: &Submission,
    hash: &str,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if existing.body_sha256 != hash {
        return Err(ApiError::conflict(format!(
            "this key already made run {} with a different body; a repeat must send the same body (or use a new key)",
            existing.run_id
        )));
    }
    let store = state.store.clone();
    let id = existing.run_id.clone();
    let run = blocking(move || store.run(&id)).await?;
    let status = run.map_or("running", |r| r.status.as_str());
    Ok((
        StatusCode::OK,
        Json(json!({"id": existing.run_id, "status": status})),
    ))
}

/// Runs a store call on a blocking thread; store errors become API errors (a duplicate as
/// code `duplicate`, for callers that answer it).
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(StoreError::Duplicate(what))) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "duplicate",
            format!("{what} already exists"),
        )),
        Ok(Err(e)) => Err(e.into()),
        Err(e) => Err(ApiError::internal("a run store call did not finish", e)),
    }
}

const IDEMPOTENCY_KEY: &str = "idempotency-key";

#[utoipa::path(post, path = "/v1/runs", operation_id = "submitRun", tag = "runs",
    request_body = SubmitRun,
    params(("Idempotency-Key" = Option<String>, Header, description = "the same key and body answer the run made the first time; another body is a 409")),
    responses((status = 202, body = Submitted, description = "recorded and started"),
              (status = 200, body = SubmitAnswer, description = "a repeat (Idempotency-Key): {id, status} of the first run; a dry run: its report"),
              (status = 404, body = super::error::ErrorBody, description = "no such workflow"),
              (status = 409, body = super::error::ErrorBody, description = "the key was used with another body"),
              (status = 422, body = super::error::ErrorBody, description = "invalid workflow or inputs, with diagnostics")),
    security(("bearer" = [])))]
/// Starts a run of a workflow of the folder.
pub async fn submit(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<JsonBody<SubmitRun>, ApiError>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    // The scope first: a caller who may not run learns nothing from how its body is read.
    caller.require(Scope::Run)?;
    let JsonBody(body) = body?;
    let key = match headers.get(IDEMPOTENCY_KEY) {
        None => None,
        Some(v) => {
            let text = v
                .to_str()
                .ok()
                .filter(|t| !t.is_empty() && t.len() <= 200)
                .ok_or_else(|| {
                    ApiError::bad_request("Idempotency-Key must be 1 to 200 visible characters")
                })?;
            Some(format!("idempotency:{}:{text}", caller.name()))
        }
    };
    start(&state, &caller, body, None, key).await
}

/// A caller-chosen run id.
fn check_run_id(id: &str) -> Result<(), ApiError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "run id {id:?} must be 1 to 64 letters, digits, '-', '_' or '.'"
        )))
    }
}

#[utoipa::path(put, path = "/v1/runs/{id}", operation_id = "startRunWithId", tag = "runs",
    request_body = SubmitRun,
    params(("id" = String, Path, description = "the run id you choose")),
    responses((status = 202, body = Submitted, description = "recorded and started"),
              (status = 200, body = SubmitAnswer, description = "the same body again: {id, status} of that run; a dry run: its report"),
              (status = 409, body = super::error::ErrorBody, description = "this id was used with another body"),
              (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
/// Starts a run under an id the caller chose; repeating the same request is harmless.
pub async fn put(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<JsonBody<SubmitRun>, ApiError>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Scope::Run)?;
    let JsonBody(body) = body?;
    check_run_id(&id)?;
    let key = format!("put:{id}");
    start(&state, &caller, body, Some(id), Some(key)).await
}

#[utoipa::path(get, path = "/v1/runs/{id}", operation_id = "getRun", tag = "runs",
    params(("id" = String, Path)),
    responses((status = 200, description = "the run report (`psaflow run --json`) plus id, timings, attempts and approvals", body = RunReport),
              (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
/// One run: its report as `psaflow runs show --json` prints it.
pub async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::Read)?;
    Ok(Json(run_json(&state, &id).await?))
}

pub async fn run_json(state: &AppState, id: &str) -> Result<Value, ApiError> {
    let store = state.store.clone();
    let id = id.to_string();
    let shown = tokio::task::spawn_blocking(move || -> anyhow::Result<Option<Value>> {
        match store.run(&id)? {
            None => Ok(None),
            Some(run) => {
                let mut shown = crate::cli::runs::show_json(store.as_ref(), &run)?;
                if let Value::Object(m) = &mut shown {
                    // The stored report is the last one the engine wrote; a cancel (or a run
                    // the server could not execute) sets only the run's error.
                    if let Some(error) = &run.error
                        && m.get("error").is_none_or(Value::is_null)
                    {
                        m.insert("error".into(), json!(error));
                    }
                    super::report::complete(m, &run);
                }
                Ok(Some(shown))
            }
        }
    })
    .await
    .map_err(|e| ApiError::internal("reading the run did not finish", e))?
    .map_err(|e| ApiError::internal("reading the run failed", e))?;
    shown.ok_or_else(|| ApiError::not_found("no run with this id"))
}

/// Filters of `GET /v1/runs`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// running, succeeded, failed, waiting_approval
    pub status: Option<String>,
    /// Only runs of this workflow (its name).
    pub workflow: Option<String>,
    /// Only runs created in this last span (`7d`, `12h`).
    pub since: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next` of the previous page: runs older than this id.
    pub before: Option<String>,
}

/// A run in a list.
#[derive(Serialize, ToSchema)]
pub struct RunSummary {
    pub id: String,
    pub workflow: String,
    pub status: String,
    pub started_by: String,
    /// `sandbox` or `tenant`, as the run report says it.
    pub backend: String,
    /// Where a run that reached a tenant went (`HaloPSA at https://...`); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend_description: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    pub error: Option<String>,
}

/// A page of runs, newest first.
#[derive(Serialize, ToSchema)]
pub struct RunPage {
    pub runs: Vec<RunSummary>,
    /// Pass as `before` for the next page; absent on the last page.
    pub next: Option<String>,
}

#[utoipa::path(get, path = "/v1/runs", operation_id = "listRuns", tag = "runs", params(ListQuery),
    responses((status = 200, body = RunPage), (status = 400, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
/// Recorded runs, newest first, a page at a time.
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Json<RunPage>, ApiError> {
    caller.require(Scope::Read)?;
    Ok(Json(list_page(&state, &q).await?))
}

pub async fn list_page(state: &AppState, q: &ListQuery) -> Result<RunPage, ApiError> {
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(RunState::parse(s).ok_or_else(|| {
            let names: Vec<&str> = RunState::ALL.iter().map(|s| s.as_str()).collect();
            ApiError::bad_request(format!(
                "unknown status {s:?}; use one of {}",
                names.join(", ")
            ))
        })?),
    };
    let since = match q.since.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => Some(
            now_ms()
                - crate::cli::state::parse_age("since", text).map_err(ApiError::bad_request)?,
        ),
    };
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("limit must be 1 to 500"));
    }
    // The filters and the page limit go to the store (one more row tells whether a next page
    // exists), so a long history is never read whole.
    let filter = RunFilter {
        status,
        limit: Some(limit + 1),
        workflow: q.workflow.clone().filter(|w| !w.is_empty()),
        created_since: since,
        before_id: q.before.clone().filter(|b| !b.is_empty()),
    };
    let store = state.store.clone();
    let runs = blocking(move || store.list_runs(&filter)).await?;
    let mut page: Vec<RunSummary> = runs
        .into_iter()
        .map(|r| {
            let (backend, description) = crate::cli::runs::backend_of(&r);
            let backend_description = description.map(str::to_string);
            RunSummary {
                error: crate::cli::runs::run_error(&r),
                id: r.id,
                workflow: r.workflow,
                status: r.status.as_str().to_string(),
                started_by: r.started_by,
                backend,
                backend_description,
                created_at: r.created_at,
                finished_at: r.finished_at,
            }
        })
        .collect();
    let next = if page.len() > limit as usize {
        page.truncate(limit as usize);
        page.last().map(|r| r.id.clone())
    } else {
        None
    };
    Ok(RunPage { runs: page, next })
}

#[utoipa::path(post, path = "/v1/runs/{id}/cancel", operation_id = "cancelRun", tag = "runs",
    params(("id" = String, Path)),
    responses((status = 200, body = Submitted, description = "cancelled: the run is failed with a message naming who cancelled it"),
              (status = 404, body = super::error::ErrorBody),
              (status = 409, body = super::error::ErrorBody, description = "the run already finished")),
    security(("bearer" = [])))]
/// Stops a run. A step in flight is cut off: a change it was sending may or may not have
/// happened (the journal shows the attempt without a result). A run waiting for approval
/// just stops waiting.
pub async fn cancel(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::Run)?;
    let store = state.store.clone();
    let rid = id.clone();
    let run = blocking(move || store.run(&rid))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no run with id {id}")))?;
    if run.status.is_finished() {
        return Err(ApiError::conflict(format!(
            "run {id} already {}; there is nothing to cancel",
            run.status
        )));
    }
    let message = format!("cancelled by {}", caller.name());
    let store = state.store.clone();
    let rid = id.clone();
    if !blocking(move || store.cancel_run(&rid, &message, now_ms())).await? {
        return Err(ApiError::conflict(format!(
            "run {id} finished meanwhile; there is nothing to cancel"
        )));
    }
    // Stops it at once when it executes here; elsewhere its executor finds its lease gone.
    let was_executing = state.executor.stop(&id);
    metrics::counter!("psaflow_runs_finished_total", "status" => "cancelled").increment(1);
    tracing::info!(run_id = %id, by = %caller.name(), was_executing, "run cancelled");
    Ok(Json(
        json!({"id": id, "status": "failed", "cancelled_by": caller.name()}),
    ))
}
