//! Where nodes send their requests: a real HaloPSA (from the `HALOPSA_*` environment or a
//! connection file) or, when nothing is configured, the embedded sandbox on loopback.

use anyhow::Context;
use psaflow_core::Transport;
use psaflow_halopsa::{ClientOptions, ConnectionConfig, HaloClient, Secret};
use psaflow_sandbox::{Sandbox, SandboxOptions};
use std::path::Path;
use std::sync::Arc;

/// A connected transport, and the sandbox behind it when there is one (kept alive here).
pub struct Backend {
    pub transport: Arc<dyn Transport>,
    pub client: HaloClient,
    pub sandbox: Option<Sandbox>,
    /// One line for humans: where requests go.
    pub description: String,
}

/// How to find the connection.
#[derive(Debug, Clone, Default)]
pub struct BackendChoice<'a> {
    /// A connection file (`--connection`); wins over the environment.
    pub connection_file: Option<&'a Path>,
    /// A connection block from a workflow file, already turned into a config.
    pub workflow_connection: Option<ConnectionConfig>,
}

/// Connects as the contract says: connection file, else workflow block, else `HALOPSA_*`
/// variables, else the embedded sandbox.
pub async fn connect(choice: BackendChoice<'_>, lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Backend> {
    let config = if let Some(file) = choice.connection_file {
        Some(ConnectionConfig::from_file(file, &lookup)?)
    } else if let Some(config) = choice.workflow_connection {
        Some(config)
    } else {
        ConnectionConfig::from_env(&lookup)?
    };
    match config {
        Some(config) => {
            let description = format!("HaloPSA at {}", config.api_url);
            let client = HaloClient::new(config, ClientOptions::default())?;
            Ok(Backend { transport: Arc::new(client.clone()), client, sandbox: None, description })
        }
        None => start_sandbox(SandboxOptions::default()).await,
    }
}

/// Starts the embedded sandbox and a client for it.
pub async fn start_sandbox(options: SandboxOptions) -> anyhow::Result<Backend> {
    let sandbox = Sandbox::start(options).await.context("starting the embedded HaloPSA sandbox")?;
    let config = ConnectionConfig {
        api_url: sandbox.api_url().parse()?,
        auth_url: sandbox.auth_url().parse()?,
        tenant: None,
        client_id: sandbox.client_id().to_string(),
        client_secret: Secret::new(sandbox.client_secret().to_string()),
        scope: "all".into(),
    };
    let client = HaloClient::new(config, ClientOptions::default())?;
    let description = format!("the embedded HaloPSA sandbox at {}", sandbox.base_url());
    Ok(Backend { transport: Arc::new(client.clone()), client, sandbox: Some(sandbox), description })
}
