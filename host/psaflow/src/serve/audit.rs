//! `GET /v1/audit`: every change psaflow made and every approval decision, oldest first.
use super::app::AppState;
use super::auth::Caller;
use super::error::ApiError;
use super::tokens::Scope;
use axum::Json;
use axum::extract::{Query, State};
use psaflow_store::{AuditEntry, AuditFilter, now_ms};
use serde::Deserialize;
use std::sync::Arc;
use utoipa::IntoParams;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only rows newer than this span (`7d`, `12h`).
    pub since: Option<String>,
    /// Only nodes matching this pattern (`*` any text, `?` one character).
    pub node: Option<String>,
    /// Only changes of this record id.
    pub target: Option<String>,
    /// Only this run.
    pub run: Option<String>,
}

pub async fn rows(state: &AppState, q: &AuditQuery) -> Result<Vec<AuditEntry>, ApiError> {
    let since = match q.since.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => Some(
            now_ms()
                - crate::cli::state::parse_age("since", text).map_err(ApiError::bad_request)?,
        ),
    };
    let filter = AuditFilter {
        since,
        node_glob: q.node.clone().filter(|s| !s.is_empty()),
        target: q.target.clone().filter(|s| !s.is_empty()),
        run_id: q.run.clone().filter(|s| !s.is_empty()),
    };
    let store = state.store.clone();
    super::runs::blocking(move || store.audit(&filter)).await
}

#[utoipa::path(get, path = "/v1/audit", operation_id = "listAudit", tag = "audit", params(AuditQuery),
    responses((status = 200, description = "audit rows: id, at, actor, run_id, step_id, item, node, effect, target, outcome, approved_by, detail", body = Vec<Object>),
              (status = 400, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
/// The audit trail, oldest first.
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    caller.require(Scope::Read)?;
    Ok(Json(rows(&state, &q).await?))
}
