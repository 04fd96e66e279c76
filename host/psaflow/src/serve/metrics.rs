//! Prometheus metrics (every name starts with `psaflow_`): HTTP requests and their latency,
//! runs by status, node invocations by node and StatusCode, PSA requests by connector, method
//! and HTTP status (429s among them), step retries. The recorder is process-wide.
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use psaflow_core::{ApiRequest, ApiResponse, BoxFuture, Transport, TransportError};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// Installs the recorder once per process and returns its handle.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let buckets = [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    ];
    let handle = PrometheusBuilder::new()
        .set_buckets(&buckets)
        .map_err(|e| anyhow::anyhow!("metrics buckets: {e}"))?
        .install_recorder()
        .map_err(|e| anyhow::anyhow!("cannot install the metrics recorder: {e}"))?;
    Ok(HANDLE.get_or_init(|| handle).clone())
}

/// Counts and times every request by method, route (the pattern, not the path, so ids do
/// not make new series) and status, and logs it (never headers or bodies: they may hold
/// tokens and secrets).
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    metrics::counter!("psaflow_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status.to_string())
        .increment(1);
    metrics::histogram!("psaflow_http_request_duration_seconds", "method" => method.clone(), "route" => route.clone())
        .record(elapsed.as_secs_f64());
    tracing::info!(
        method = %method,
        route = %route,
        status,
        duration_ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
    response
}

/// A connector's transport that counts what goes through it.
pub struct MeteredTransport {
    inner: Arc<dyn Transport>,
    connector: &'static str,
}

impl MeteredTransport {
    pub fn wrap(inner: Arc<dyn Transport>, connector: &'static str) -> Arc<dyn Transport> {
        Arc::new(MeteredTransport { inner, connector })
    }
}

impl Transport for MeteredTransport {
    fn send(&self, request: ApiRequest) -> BoxFuture<'_, Result<ApiResponse, TransportError>> {
        Box::pin(async move {
            let method = request.method.to_string();
            let started = Instant::now();
            let result = self.inner.send(request).await;
            let status = match &result {
                Ok(r) => r.status.to_string(),
                Err(TransportError::Unreachable(_)) => "unreachable".into(),
                Err(TransportError::Timeout(_)) => "timeout".into(),
                Err(TransportError::Denied(_)) => "denied".into(),
                Err(TransportError::UnknownOutcome(_)) => "unknown_outcome".into(),
            };
            if status == "429" {
                metrics::counter!("psaflow_psa_rate_limited_total", "connector" => self.connector)
                    .increment(1);
            }
            metrics::counter!("psaflow_psa_requests_total", "connector" => self.connector, "method" => method, "status" => status)
                .increment(1);
            metrics::histogram!("psaflow_psa_request_duration_seconds", "connector" => self.connector)
                .record(started.elapsed().as_secs_f64());
            result
        })
    }
}
