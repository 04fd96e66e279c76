//! The workflows folder (`--workflows DIR`): what `POST /v1/runs` can run by name, listed by
//! `GET /v1/workflows`, and `POST /v1/workflows/validate`.
use super::app::AppState;
use super::auth::Caller;
use super::error::{ApiError, DiagnosticJson, JsonBody};
use super::tokens::Scope;
use axum::Json;
use axum::extract::State;
use psaflow_workflow::{Diagnostics, Workflow};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use utoipa::ToSchema;

/// A workflow file of the folder.
#[derive(Serialize, ToSchema)]
pub struct WorkflowEntry {
    /// The workflow's `name:`; `POST /v1/runs` takes this (or the file name without .yaml).
    pub name: String,
    /// The file, relative to the workflows folder.
    pub file: String,
    pub description: Option<String>,
    /// Declared inputs: name, type, required, description, and `default` when declared.
    #[schema(value_type = Vec<Object>)]
    pub inputs: Vec<serde_json::Value>,
    /// Problems found when the file was parsed (it cannot be run until they are fixed).
    pub problems: Vec<DiagnosticJson>,
}

/// `*.yaml`/`*.yml` files of the folder and its subfolders, test files (`*.test.yaml`) left out.
fn workflow_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            if path.is_dir() {
                if !name.starts_with('.') {
                    pending.push(path);
                }
            } else if (name.ends_with(".yaml") || name.ends_with(".yml"))
                && !name.ends_with(".test.yaml")
                && !name.ends_with(".test.yml")
            {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn relative(dir: &Path, file: &Path) -> String {
    file.strip_prefix(dir)
        .unwrap_or(file)
        .to_string_lossy()
        .replace('\\', "/")
}

fn stem(file: &str) -> &str {
    let base = file.rsplit('/').next().unwrap_or(file);
    base.strip_suffix(".yaml")
        .or_else(|| base.strip_suffix(".yml"))
        .unwrap_or(base)
}

fn entry(dir: &Path, file: &Path) -> WorkflowEntry {
    let rel = relative(dir, file);
    match psaflow_workflow::load(file) {
        Ok(wf) => WorkflowEntry {
            name: wf.name().to_string(),
            description: wf.description().map(str::to_string),
            inputs: wf
                .inputs()
                .iter()
                .map(|i| {
                    let mut input = serde_json::json!({
                        "name": i.name.value,
                        "type": format!("{:?}", i.ty).to_lowercase(),
                        "required": i.required,
                        "description": i.description,
                    });
                    if let Some(default) = &i.default {
                        input["default"] = default.clone();
                    }
                    input
                })
                .collect(),
            problems: DiagnosticJson::from_all(&Diagnostics(wf.problems().to_vec())),
            file: rel,
        },
        Err(d) => WorkflowEntry {
            name: stem(&rel).to_string(),
            description: None,
            inputs: Vec::new(),
            problems: DiagnosticJson::from_all(&d),
            file: rel,
        },
    }
}

/// The workflow called `name` (its `name:` or its file name without `.yaml`), parsed, with
/// its file relative to the folder.
pub fn find(state: &AppState, name: &str) -> Result<(Workflow, String), ApiError> {
    let Some(dir) = &state.workflows else {
        return Err(ApiError::not_found(format!(
            "no workflow '{name}': this server has no workflows folder (start it with --workflows DIR)"
        )));
    };
    let files = workflow_files(dir);
    let mut names = Vec::new();
    for file in &files {
        let rel = relative(dir, file);
        let source = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(_) => continue,
        };
        let parsed = psaflow_workflow::parse(&source, &rel);
        let wf_name = parsed.as_ref().map(|w| w.name().to_string()).ok();
        if wf_name.as_deref() == Some(name) || stem(&rel) == name {
            return match parsed {
                Ok(wf) => Ok((wf, rel)),
                Err(d) => Err(ApiError::invalid(
                    format!("workflow '{name}' ({rel}) is not valid"),
                    &d,
                )),
            };
        }
        names.push(wf_name.unwrap_or_else(|| stem(&rel).to_string()));
    }
    let hint = psaflow_core::names::did_you_mean(name, names.iter().map(String::as_str));
    Err(ApiError::not_found(format!(
        "no workflow '{name}' in the workflows folder{hint}; GET /v1/workflows lists them"
    )))
}

#[utoipa::path(get, path = "/v1/workflows", operation_id = "listWorkflows", tag = "workflows",
    responses((status = 200, body = Vec<WorkflowEntry>), (status = 401, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
/// The workflows of the server's workflows folder.
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Vec<WorkflowEntry>>, ApiError> {
    caller.require(Scope::Read)?;
    let Some(dir) = state.workflows.clone() else {
        return Ok(Json(Vec::new()));
    };
    let entries = tokio::task::spawn_blocking(move || {
        workflow_files(&dir)
            .iter()
            .map(|f| entry(&dir, f))
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| ApiError::internal("listing the workflows did not finish", e))?;
    Ok(Json(entries))
}

/// A workflow to check.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateRequest {
    /// The workflow's YAML text.
    pub yaml: String,
    /// The file name to use in diagnostics (default `workflow.yaml`).
    #[serde(default)]
    pub file: Option<String>,
}

/// The outcome of a check.
#[derive(Serialize, ToSchema)]
pub struct ValidateResponse {
    pub valid: bool,
    /// The workflow's name, when it could be read.
    pub name: Option<String>,
    pub steps: Option<usize>,
    /// Every problem, with line and column.
    pub diagnostics: Vec<DiagnosticJson>,
    /// What is valid but probably not meant (e.g. `retry` around a create that cannot look for
    /// the record it may have made); warnings do not make a workflow invalid.
    pub warnings: Vec<DiagnosticJson>,
}

#[utoipa::path(post, path = "/v1/workflows/validate", operation_id = "validateWorkflow", tag = "workflows",
    request_body = ValidateRequest,
    responses((status = 200, body = ValidateResponse, description = "valid or not: see `valid` and `diagnostics`"),
              (status = 401, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
/// Checks a workflow as `psaflow validate` does (static checks and each node's own input
/// checks on the values written in the file); nothing is sent.
pub async fn validate(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    request: Result<JsonBody<ValidateRequest>, ApiError>,
) -> Result<Json<ValidateResponse>, ApiError> {
    caller.require(Scope::Read)?;
    let JsonBody(request) = request?;
    let file = request.file.unwrap_or_else(|| "workflow.yaml".to_string());
    let workflow = match psaflow_workflow::parse(&request.yaml, &file) {
        Ok(wf) => wf,
        Err(d) => {
            return Ok(Json(ValidateResponse {
                valid: false,
                name: None,
                steps: None,
                diagnostics: DiagnosticJson::from_all(&d),
                warnings: Vec::new(),
            }));
        }
    };
    let diagnostics = check(&state, &workflow).await;
    let warnings = psaflow_workflow::warnings(&workflow, state.runtime.catalog());
    Ok(Json(ValidateResponse {
        valid: diagnostics.is_empty(),
        name: Some(workflow.name().to_string()),
        steps: Some(workflow.steps().len()),
        diagnostics,
        warnings: DiagnosticJson::from_all(&warnings),
    }))
}

/// Static checks, then the nodes' own checks of the values written in the file.
pub async fn check(state: &AppState, workflow: &Workflow) -> Vec<DiagnosticJson> {
    let mut problems = match psaflow_workflow::validate(workflow, state.runtime.catalog()) {
        Ok(()) => Vec::new(),
        Err(d) => d.0,
    };
    if let Err(more) =
        psaflow_workflow::check_node_inputs(workflow, &state.offline, None, &serde_json::json!({}))
            .await
    {
        problems.extend(more.0);
    }
    DiagnosticJson::from_all(&Diagnostics(problems))
}
