//! The real HaloPSA backend of psaflow's transport seam (`psaflow_core::Transport`).
//!
//! Nodes never talk to the network: they hand an [`ApiRequest`](psaflow_core::ApiRequest) with
//! a relative path (`/Client/7`) to the host, and [`HaloClient`] adds the base URL and the
//! OAuth2 token, refreshes the token, waits out 429/503, and enforces the URL policy.
//!
//! Where things are:
//! * `config.rs`: [`ConnectionConfig`] from `HALOPSA_*` variables or a TOML connection file;
//!   token URL shapes (hosted, on-premises, trial).
//! * `token.rs`: the token cache. **This is where the token is fetched and refreshed.**
//! * `client.rs`: [`HaloClient::send`](psaflow_core::Transport::send): headers, 401 refresh,
//!   429/503 retries, timeouts.
//! * `retry.rs`: the 429/503 wait-and-retry step (policy in `psaflow_core::retry_policy`).
//! * `policy.rs`: https-or-loopback, and request paths that must stay below the API base.
//! * [`Secret`] (from psaflow-core, shared by the connectors), which prints as `***`.
//!
//! The client secret never appears in an error, a `Debug` output or a log line.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use psaflow_core::{ApiRequest, Method, Transport};
//! use psaflow_halopsa::{ClientOptions, ConnectionConfig, HaloClient};
//!
//! let Some(config) = ConnectionConfig::from_process_env()? else {
//!     // No HALOPSA_* variables: use the embedded sandbox instead.
//!     return Ok(());
//! };
//! let client = HaloClient::new(config, ClientOptions::default())?;
//! let request = ApiRequest { method: Method::Get, path: "/Client/7".into(), query: vec![], body: None };
//! let response = client.send(request).await?;
//! println!("{} {}", response.status, response.body);
//! # Ok(()) }
//! ```

mod client;
mod config;
mod error;
mod http;
pub mod policy;
pub mod retry;
mod stats;
mod token;

/// The connector's name: its WIT package (`psaflow:halopsa`), the first part of its node ids,
/// and the key its connection is registered under with the runtime.
pub const CONNECTOR: &str = "halopsa";

pub use client::{ClientOptions, HaloClient};
pub use config::{
    ConnectionConfig, DEFAULT_CLIENT_SECRET_ENV, DEFAULT_SCOPE, ENV_API_URL, ENV_AUTH_URL,
    ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_RATE_LIMIT, ENV_SCOPE, ENV_TENANT, ENV_VARS,
    WorkflowBlock,
};
pub use error::{ConfigError, ConfigOrigin, Problem, ProblemKind};
pub use psaflow_core::Secret;
pub use stats::TransportStats;
