//! The server's shared state and its routes.
use super::auth::RateLimiter;
use super::error::ApiError;
use super::executor::Executor;
use super::{approvals, audit, console, health, metrics, nodes, openapi, runs, sse, workflows};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use metrics_exporter_prometheus::PrometheusHandle;
use psaflow_store::RunStore;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

pub struct AppState {
    pub store: Arc<dyn RunStore>,
    /// Nodes with the server's connection: runs and invocations.
    pub runtime: psaflow::Runtime,
    /// The same nodes with no connection: checks that must send nothing.
    pub offline: psaflow::Runtime,
    /// `sandbox` or `tenant`, as invoke answers and reports say.
    pub backend_kind: psaflow::backend::BackendKind,
    /// Where requests go, as runs record it (`sandbox` or the tenant's description).
    pub backend_label: String,
    pub workflows: Option<PathBuf>,
    pub allow_inline: bool,
    pub executor: Executor,
    /// The tenants runs and invocations may name (`--connections`), and the default.
    pub connections: Arc<super::connections::ServerConnections>,
    /// Masked in everything the server answers or stores.
    pub secrets: Vec<String>,
    pub metrics: PrometheusHandle,
    pub limiter: RateLimiter,
    /// When each token's `last_used_at` was last written.
    pub touched: Mutex<HashMap<String, i64>>,
    pub shutting_down: AtomicBool,
    /// Signs the console's CSRF tokens; random per process.
    pub csrf_key: [u8; 32],
    /// The server speaks HTTPS itself: the session cookie is marked `Secure`.
    pub secure_cookies: bool,
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; GET /v1/openapi.json describes the API")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method; GET /v1/openapi.json describes the API",
    )
}

/// Every route, with the body limit, metrics and logging.
pub fn router(state: Arc<AppState>, body_limit: usize) -> Router {
    let api = Router::new()
        .route("/v1/openapi.json", get(openapi::document))
        .route("/v1/runs", post(runs::submit).get(runs::list))
        .route("/v1/runs/{id}", get(runs::get).put(runs::put))
        .route("/v1/runs/{id}/events", get(sse::events))
        .route("/v1/runs/{id}/cancel", post(runs::cancel))
        .route("/v1/runs/{id}/approvals", post(approvals::approve))
        .route("/v1/nodes", get(nodes::list))
        .route("/v1/nodes/{node}", get(nodes::get))
        .route("/v1/nodes/{node}/invoke", post(nodes::invoke))
        .route("/v1/workflows", get(workflows::list))
        .route("/v1/workflows/validate", post(workflows::validate))
        .route("/v1/audit", get(audit::list))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics));
    api.merge(console::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn(super::error::json_errors))
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
        .with_state(state)
}

/// A handler that panicked answers a JSON 500 that says so (the panic hook logs it, masked).
fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    use axum::response::IntoResponse;
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the server hit a bug while answering (logged); the request may not have been handled",
    )
    .into_response()
}
