//! `psaflow serve`: the HTTP API under `/v1` and the web console at `/`, on the run store.
//!
//! - `app.rs` shared state and routes; `auth.rs` tokens, scopes, rate limit; `tokens.rs`
//!   making and checking tokens; `error.rs` JSON errors;
//! - one module per resource: `runs.rs`, `approvals.rs`, `sse.rs` (run events), `nodes.rs`,
//!   `workflows.rs`, `audit.rs`, `health.rs` (health, readiness, metrics);
//! - `executor.rs` runs submitted workflows with bounded concurrency; `metrics.rs` the
//!   Prometheus recorder, request tracking and the metered transport; `openapi.rs` the
//!   OpenAPI 3.1 document; `report.rs` completes run reports; `console.rs` the web console.
pub mod app;
pub mod approvals;
pub mod audit;
pub mod auth;
pub mod connections;
pub mod console;
pub mod error;
pub mod executor;
pub mod health;
pub mod metrics;
pub mod nodes;
pub mod openapi;
pub mod report;
pub mod runs;
pub mod sse;
pub mod tls;
pub mod tokens;
pub mod workflows;
