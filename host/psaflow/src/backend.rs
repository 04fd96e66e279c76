//! Where nodes send their requests: a real HaloPSA (from the `HALOPSA_*` environment or a
//! connection file) or, when nothing is configured, the embedded sandbox on loopback.

use anyhow::Context;
use psaflow_core::Transport;
use psaflow_halopsa::{ClientOptions, ConnectionConfig, HaloClient, Secret, WorkflowBlock};
use psaflow_halopsa_sandbox::{Sandbox, SandboxOptions};
use std::path::Path;
use std::sync::Arc;

/// A connected transport, and the sandbox behind it when there is one (kept alive here).
pub struct Backend {
    /// The HaloPSA connection.
    pub transport: Arc<dyn Transport>,
    /// The ConnectWise connection: the `CONNECTWISE_*` tenant, else the embedded ConnectWise
    /// sandbox, started on its first request (and announced on stderr then).
    pub connectwise: Arc<dyn Transport>,
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
pub async fn connect(
    choice: BackendChoice<'_>,
    lookup: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Backend> {
    let config = if let Some(file) = choice.connection_file {
        Some(ConnectionConfig::from_file(file, &lookup)?)
    } else if let Some(config) = choice.workflow_connection {
        Some(config)
    } else {
        ConnectionConfig::from_env(&lookup)?
    };
    let connectwise = connectwise_lazily(&lookup)?;
    match config {
        Some(config) => {
            let description = format!("HaloPSA at {}", config.api_url);
            let client = HaloClient::new(config, ClientOptions::default())?;
            Ok(Backend {
                transport: Arc::new(client),
                connectwise,
                sandbox: None,
                description,
            })
        }
        None => Ok(Backend {
            connectwise,
            ..start_sandbox(SandboxOptions::default()).await?
        }),
    }
}

/// `HALOPSA_RATE_LIMIT` for the embedded sandbox (`off` or unset: none).
fn sandbox_rate_limit() -> anyhow::Result<Option<psaflow_core::RateLimit>> {
    let name = psaflow_halopsa::ENV_RATE_LIMIT;
    match std::env::var(name) {
        Ok(text) if !text.trim().is_empty() && !text.trim().eq_ignore_ascii_case("off") => {
            Ok(Some(text.parse().with_context(|| format!("${name}"))?))
        }
        _ => Ok(None),
    }
}

/// The ConnectWise connection from `CONNECTWISE_*`; every problem in them is reported at once.
fn connectwise_lazily(
    lookup: &impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Arc<dyn Transport>> {
    Ok(psaflow_connectwise::connect_lazily(
        lookup,
        psaflow_connectwise::ClientOptions::default(),
        // The contract: using a sandbox is said on stderr. Only when a ConnectWise node runs.
        |description| eprintln!("psaflow: no CONNECTWISE_* variables set; using {description}"),
    )?)
}

/// Starts the embedded sandbox and a client for it.
pub async fn start_sandbox(options: SandboxOptions) -> anyhow::Result<Backend> {
    let sandbox = Sandbox::start(options)
        .await
        .context("starting the embedded HaloPSA sandbox")?;
    let config = ConnectionConfig {
        api_url: sandbox.api_url().parse()?,
        auth_url: sandbox.auth_url().parse()?,
        tenant: None,
        client_id: sandbox.client_id().to_string(),
        client_secret: Secret::new(sandbox.client_secret().to_string()),
        scope: "all".into(),
        // No throttling by default on the sandbox; HALOPSA_RATE_LIMIT still applies so that
        // pacing can be tried without a tenant.
        rate_limit: sandbox_rate_limit()?,
    };
    let client = HaloClient::new(config, ClientOptions::default())?;
    let description = format!("the embedded HaloPSA sandbox at {}", sandbox.base_url());
    Ok(Backend {
        transport: Arc::new(client),
        // Sandboxes only: the ConnectWise one too, whatever the environment says.
        connectwise: psaflow_connectwise::connect_lazily(
            |_| None,
            psaflow_connectwise::ClientOptions::default(),
            |_| {},
        )?,
        sandbox: Some(sandbox),
        description,
    })
}

/// A transport for commands that only read the catalog (`nodes`, `validate`, `schema`): it
/// refuses every request, so nothing can reach a tenant by accident.
pub fn offline_transport() -> Arc<dyn Transport> {
    struct Offline;
    impl Transport for Offline {
        fn send(
            &self,
            _request: psaflow_core::ApiRequest,
        ) -> psaflow_core::BoxFuture<
            '_,
            Result<psaflow_core::ApiResponse, psaflow_core::TransportError>,
        > {
            Box::pin(async {
                Err(psaflow_core::TransportError::Denied(
                    "this command does not talk to HaloPSA".into(),
                ))
            })
        }
    }
    Arc::new(Offline)
}

/// Turns a workflow's `connection:` block into settings, reading the secret from the
/// environment variable the block names (never from the file). Every problem is reported at
/// once, as for connection files and `HALOPSA_*` variables.
pub fn workflow_connection(
    block: &psaflow_workflow::ConnectionBlock,
    lookup: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<ConnectionConfig> {
    let fields = WorkflowBlock {
        api_url: block.api_url.as_deref(),
        auth_url: block.auth_url.as_deref(),
        tenant: block.tenant.as_deref(),
        client_id: block.client_id.as_deref(),
        client_secret_env: block.client_secret_env.as_deref(),
        scope: block.scope.as_deref(),
    };
    Ok(ConnectionConfig::from_workflow_block(&fields, lookup)?)
}
