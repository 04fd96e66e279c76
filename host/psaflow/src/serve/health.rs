//! `GET /healthz` (the process answers), `GET /readyz` (the run store answers and the server
//! is not shutting down), `GET /metrics` (Prometheus text).
use super::app::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;

#[utoipa::path(get, path = "/healthz", operation_id = "checkHealth", tag = "operations",
    responses((status = 200, description = "the server is up", body = Object)))]
/// Liveness: no token needed.
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

#[utoipa::path(get, path = "/readyz", operation_id = "checkReadiness", tag = "operations",
    responses((status = 200, description = "ready for requests", body = Object),
              (status = 503, description = "shutting down, or the run store does not answer", body = Object)))]
/// Readiness: the run store answers and the server is not shutting down.
pub async fn readyz(State(state): State<Arc<AppState>>) -> (StatusCode, Json<Value>) {
    if state.shutting_down.load(Ordering::Relaxed) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "shutting_down"})),
        );
    }
    let store = state.store.clone();
    let probe = tokio::task::spawn_blocking(move || {
        store.list_runs(&psaflow_store::RunFilter {
            limit: Some(1),
            ..Default::default()
        })
    })
    .await;
    match probe {
        Ok(Ok(_)) => (
            StatusCode::OK,
            Json(json!({
                "status": "ready",
                "store": state.store.kind(),
                "backend": state.backend_kind.as_str(),
                "executes_runs": state.executor.executes(),
                "connections": state.connections.names(),
                "runs_executing": state.executor.active(),
                "max_runs": state.executor.max_runs(),
            })),
        ),
        Ok(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "store_unavailable", "message": e.to_string()})),
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "store_unavailable", "message": e.to_string()})),
        ),
    }
}

#[utoipa::path(get, path = "/metrics", operation_id = "getMetrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format; every name starts with psaflow_", content_type = "text/plain")))]
/// Metrics in Prometheus text format.
pub async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let store = state.store.clone();
    // Runs by status, from the store (what every process sharing it did).
    if let Ok(Ok(runs)) =
        tokio::task::spawn_blocking(move || store.list_runs(&psaflow_store::RunFilter::default()))
            .await
    {
        for status in psaflow_store::RunState::ALL {
            let n = runs.iter().filter(|r| r.status == status).count();
            metrics::gauge!("psaflow_runs", "status" => status.as_str()).set(n as f64);
        }
    }
    metrics::gauge!("psaflow_runs_executing").set(state.executor.active() as f64);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
