//! The ConnectWise PSA connection behind psaflow's transport seam (`psaflow_core::Transport`).
//!
//! Nodes hand the host a request relative to the REST base (`/system/members/7`);
//! [`ConnectWiseClient`] adds the base, Basic `companyId+publicKey:privateKey`, the `clientId`
//! header and the pinned `Accept` version, waits out 429/503, and keeps requests below the
//! base. [`ConnectionConfig`] reads `CONNECTWISE_*`; with none set, psaflow uses the embedded
//! sandbox (`psaflow-connectwise-sandbox`).
//!
//! The private key never appears in an error, a `Debug` output or a log line.

/// The connector's name: its WIT package is `psaflow:connectwise`, its nodes `connectwise.*`.
pub const CONNECTOR: &str = "connectwise";

mod client;
mod config;
mod connection;

pub use client::{API_VERSION, ClientError, ClientOptions, ConnectWiseClient, Stats};
pub use config::{
    ConfigError, ConnectionConfig, ENV_API_URL, ENV_CLIENT_ID, ENV_COMPANY_ID, ENV_PRIVATE_KEY,
    ENV_PUBLIC_KEY, ENV_RATE_LIMIT, ENV_VARS, Problem, is_loopback, sandbox_rate_limit,
};
pub use connection::{
    ConnectError, Connection, connect, connect_lazily, sandbox_config, start_sandbox,
};
pub use psaflow_connectwise_sandbox as sandbox;
pub use psaflow_core::Secret;
