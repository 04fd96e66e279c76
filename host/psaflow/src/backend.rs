//! Where nodes send their requests: a real HaloPSA (from the `HALOPSA_*` environment or a
//! connection file) or, when nothing is configured, the embedded sandbox on loopback.

use anyhow::Context;
use psaflow_core::Transport;
use psaflow_halopsa::{ClientOptions, ConnectionConfig, HaloClient, Secret};
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

/// Turns a workflow's `connection:` block into settings, reading the secret from the
/// environment variable the block names (never from the file).
pub fn workflow_connection(
    block: &psaflow_workflow::ConnectionBlock,
    lookup: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<ConnectionConfig> {
    use anyhow::{anyhow, bail};
    let api_url: url::Url = block
        .api_url
        .as_deref()
        .ok_or_else(|| anyhow!("the workflow's connection block needs api_url"))?
        .parse()
        .map_err(|e| anyhow!("connection.api_url is not a URL: {e}"))?;
    let auth_url = match &block.auth_url {
        Some(url) => url.parse().map_err(|e| anyhow!("connection.auth_url is not a URL: {e}"))?,
        None => ConnectionConfig::derive_auth_url(&api_url).ok_or_else(|| {
            anyhow!("connection.auth_url is needed: it cannot be derived from an api_url that does not end in /api")
        })?,
    };
    let client_id = block
        .client_id
        .clone()
        .ok_or_else(|| anyhow!("the workflow's connection block needs client_id"))?;
    let secret_env = block
        .client_secret_env
        .clone()
        .unwrap_or_else(|| psaflow_halopsa::DEFAULT_CLIENT_SECRET_ENV.to_string());
    let Some(secret) = lookup(&secret_env) else {
        bail!(
            "the workflow's connection reads its client secret from ${secret_env}, which is not set"
        );
    };
    let config = ConnectionConfig {
        api_url,
        auth_url,
        tenant: block.tenant.clone(),
        client_id,
        client_secret: Secret::new(secret),
        scope: block
            .scope
            .clone()
            .unwrap_or_else(|| psaflow_halopsa::DEFAULT_SCOPE.to_string()),
        rate_limit: None,
    };
    config.validate()?;
    Ok(config)
}
