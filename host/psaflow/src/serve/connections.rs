//! `--connections FILE`: the tenants a server reaches, by name, so one server can run
//! workflows for several customers (`acme-halo`, `acme-cw`, `globex-halo`). A run or an
//! invocation names its connection; without one the server's default applies (the connection
//! every command uses: `--connection`, else the environment, else the embedded sandbox; or the
//! file's `default`). Each secret stays in an environment variable the file names:
//!
//! ```toml
//! default = "acme-halo"          # optional
//!
//! [connections.acme-halo]
//! halopsa = { api_url = "https://acme.halopsa.com/api", client_id = "...", tenant = "acme",
//!             client_secret_env = "ACME_HALO_SECRET", rate_limit = "500/3m" }
//!
//! [connections.acme-cw]
//! connectwise = { api_url = "https://na.myconnectwise.net/v4_6_release/apis/3.0",
//!                 company_id = "acme", public_key = "...", client_id = "...",
//!                 private_key_env = "ACME_CW_PRIVATE_KEY" }
//!
//! [connections.demo]
//! sandbox = true                  # its own embedded sandboxes (fake data)
//! ```
//!
//! A connection may hold both `halopsa` and `connectwise`; a node of a connector the
//! connection lacks is refused with a message naming the connection. Each connection is
//! opened once at start, so all runs through it share its request budget.
use super::executor::connected;
use super::metrics::MeteredTransport;
use psaflow::backend::{BackendKind, UsedConnection};
use psaflow::execute::{Connected, Connections};
use psaflow_core::{ApiRequest, ApiResponse, BoxFuture, Transport, TransportError};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// Every connection of the server by name, and which one applies when a run names none.
pub struct ServerConnections {
    pub default_name: String,
    pub by_name: BTreeMap<String, Arc<Connected>>,
}

impl ServerConnections {
    /// The connection called `name` (`None` or `default`: the default one).
    pub fn get(&self, name: Option<&str>) -> Result<Arc<Connected>, String> {
        let name = match name {
            None | Some("default") => self.default_name.as_str(),
            Some(n) => n,
        };
        self.by_name.get(name).cloned().ok_or_else(|| {
            format!(
                "unknown connection '{name}'; this server has {}",
                self.names().join(", ")
            )
        })
    }

    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.by_name.keys().cloned().collect();
        if !names.iter().any(|n| n == "default") {
            names.insert(0, "default".into());
        }
        names
    }
}

impl Connections for ServerConnections {
    fn connect<'a>(
        &'a self,
        name: Option<&'a str>,
    ) -> BoxFuture<'a, anyhow::Result<Arc<Connected>>> {
        Box::pin(async move { self.get(name).map_err(|e| anyhow::anyhow!(e)) })
    }
}

/// A transport for a connector the connection does not configure.
struct Missing(String);

impl Transport for Missing {
    fn send(&self, _request: ApiRequest) -> BoxFuture<'_, Result<ApiResponse, TransportError>> {
        let reason = self.0.clone();
        Box::pin(async move { Err(TransportError::Denied(reason)) })
    }
}

/// One tenant's settings as the connector crates read them: their variable names, with the
/// values from the file and the secret from the variable the file names.
fn lookup_for(
    table: &toml::Table,
    prefix: &str,
    secret_key: &str,
    secret_var: &str,
    keys: &[&str],
    env: &impl Fn(&str) -> Option<String>,
    what: &str,
) -> Result<BTreeMap<String, String>, String> {
    let mut vars = BTreeMap::new();
    for (key, value) in table {
        if key == secret_key {
            let Some(name) = value.as_str() else {
                return Err(format!(
                    "{what}.{key} must be the name of an environment variable"
                ));
            };
            let secret = env(name).ok_or_else(|| {
                format!("{what}.{key} names {name}, which is not set in the server's environment")
            })?;
            vars.insert(secret_var.to_string(), secret);
            continue;
        }
        if !keys.contains(&key.as_str()) {
            let mut known: Vec<&str> = keys.to_vec();
            known.push(secret_key);
            return Err(format!(
                "{what}: unknown key '{key}' (keys: {}); secrets are never written here, name their variable with {secret_key}",
                known.join(", ")
            ));
        }
        let text = match value {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        vars.insert(format!("{prefix}{}", key.to_ascii_uppercase()), text);
    }
    if !vars.contains_key(secret_var) {
        return Err(format!(
            "{what}: give {secret_key}, the environment variable that holds the secret"
        ));
    }
    Ok(vars)
}

/// Opens every connection of the file. `default` is the server's own connection, used when
/// the file names no `default`. `budget` chooses each tenant application's request budget (workers
/// share one per tenant through the run store; `None` keeps the client's in-process one).
pub async fn open(
    path: &Path,
    default: Arc<Connected>,
    nodes: Arc<psaflow::runtime::NodeCatalog>,
    request_cap: u32,
    env: impl Fn(&str) -> Option<String>,
    budget: psaflow::backend::BudgetChoice<'_>,
) -> Result<ServerConnections, String> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{file}: cannot be read: {e}"))?;
    let doc: toml::Table = toml::from_str(&text).map_err(|e| {
        format!(
            "{file}: not valid TOML: {}",
            e.message().trim().replace('\n', "; ")
        )
    })?;
    let mut default_name = "default".to_string();
    let mut by_name = BTreeMap::new();
    for (key, value) in &doc {
        match key.as_str() {
            "default" => {
                default_name = value
                    .as_str()
                    .ok_or_else(|| format!("{file}: default must be a connection's name"))?
                    .to_string()
            }
            "connections" => {}
            other => {
                return Err(format!(
                    "{file}: unknown key '{other}' (write connections under [connections.NAME], and default = \"NAME\")"
                ));
            }
        }
    }
    let tenants = match doc.get("connections") {
        None => toml::Table::new(),
        Some(toml::Value::Table(t)) => t.clone(),
        Some(_) => {
            return Err(format!(
                "{file}: connections must be a table of named connections"
            ));
        }
    };
    for (name, value) in &tenants {
        super::tokens::check_name(name).map_err(|_| {
            format!("{file}: connection name '{name}' must be letters, digits, '-', '_', '.'")
        })?;
        let what = format!("{file}: connections.{name}");
        let toml::Value::Table(spec) = value else {
            return Err(format!("{what} must be a table"));
        };
        let connection = open_one(name, spec, &what, &nodes, request_cap, &env, budget).await?;
        by_name.insert(name.clone(), Arc::new(connection));
    }
    if !by_name.contains_key("default") {
        by_name.insert("default".to_string(), default);
    }
    if !by_name.contains_key(&default_name) {
        return Err(format!(
            "{file}: default = \"{default_name}\" is not one of its connections"
        ));
    }
    Ok(ServerConnections {
        default_name,
        by_name,
    })
}

async fn open_one(
    name: &str,
    spec: &toml::Table,
    what: &str,
    nodes: &Arc<psaflow::runtime::NodeCatalog>,
    request_cap: u32,
    env: &impl Fn(&str) -> Option<String>,
    budget: psaflow::backend::BudgetChoice<'_>,
) -> Result<Connected, String> {
    for key in spec.keys() {
        if !matches!(key.as_str(), "halopsa" | "connectwise" | "sandbox") {
            return Err(format!(
                "{what}: unknown key '{key}' (halopsa, connectwise or sandbox = true)"
            ));
        }
    }
    let build = |halo: Arc<dyn Transport>, cw: Arc<dyn Transport>| {
        psaflow::Runtime::builder()
            .nodes(nodes.clone())
            .connection(
                psaflow::halopsa::CONNECTOR,
                MeteredTransport::wrap(halo, "halopsa"),
            )
            .connection(
                psaflow_connectwise::CONNECTOR,
                MeteredTransport::wrap(cw, "connectwise"),
            )
            .request_cap(request_cap)
            .build()
            .map_err(|e| format!("{what}: {e:#}"))
    };
    if spec.get("sandbox").and_then(toml::Value::as_bool) == Some(true) {
        if spec.len() > 1 {
            return Err(format!("{what}: sandbox = true stands alone"));
        }
        let backend = psaflow::backend::start_sandbox(Default::default())
            .await
            .map_err(|e| format!("{what}: {e:#}"))?;
        let runtime = build(backend.transport.clone(), backend.connectwise.clone())?;
        let secrets = vec![backend.secret.expose().to_string()];
        return Ok(connected(runtime, backend, secrets));
    }
    let mut secrets = Vec::new();
    let mut described = Vec::new();
    let mut used = Vec::new();
    let halo: Arc<dyn Transport> = match spec.get("halopsa") {
        Some(toml::Value::Table(t)) => {
            let vars = lookup_for(
                t,
                "HALOPSA_",
                "client_secret_env",
                psaflow_halopsa::ENV_CLIENT_SECRET,
                &[
                    "api_url",
                    "auth_url",
                    "tenant",
                    "client_id",
                    "scope",
                    "rate_limit",
                ],
                env,
                &format!("{what}.halopsa"),
            )?;
            let config = psaflow_halopsa::ConnectionConfig::from_env(|n| vars.get(n).cloned())
                .map_err(|e| format!("{what}.halopsa: {e}"))?
                .ok_or_else(|| format!("{what}.halopsa: no settings"))?;
            secrets.push(config.client_secret.expose().to_string());
            described.push(format!("HaloPSA at {}", config.api_url));
            used.push(UsedConnection {
                connector: psaflow::halopsa::CONNECTOR,
                kind: BackendKind::Tenant,
                description: format!("HaloPSA at {}", config.api_url),
            });
            let options = psaflow_halopsa::ClientOptions {
                budget: budget(&psaflow::backend::ApiApplication::halopsa(&config)),
                ..psaflow_halopsa::ClientOptions::default()
            };
            let client = psaflow_halopsa::HaloClient::new(config, options)
                .map_err(|e| format!("{what}.halopsa: {e}"))?;
            Arc::new(client)
        }
        Some(_) => return Err(format!("{what}.halopsa must be a table")),
        None => Arc::new(Missing(format!(
            "connection '{name}' has no HaloPSA settings"
        ))),
    };
    let cw: Arc<dyn Transport> = match spec.get("connectwise") {
        Some(toml::Value::Table(t)) => {
            let vars = lookup_for(
                t,
                "CONNECTWISE_",
                "private_key_env",
                psaflow_connectwise::ENV_PRIVATE_KEY,
                &[
                    "api_url",
                    "company_id",
                    "public_key",
                    "client_id",
                    "rate_limit",
                ],
                env,
                &format!("{what}.connectwise"),
            )?;
            let config =
                psaflow_connectwise::ConnectionConfig::from_lookup(|n| vars.get(n).cloned())
                    .map_err(|e| format!("{what}.connectwise: {e}"))?
                    .ok_or_else(|| format!("{what}.connectwise: no settings"))?;
            secrets.push(config.private_key.expose().to_string());
            described.push(format!("ConnectWise at {}", config.api_url));
            used.push(UsedConnection {
                connector: psaflow_connectwise::CONNECTOR,
                kind: BackendKind::Tenant,
                description: format!("ConnectWise at {}", config.api_url),
            });
            let options = psaflow_connectwise::ClientOptions {
                budget: budget(&psaflow::backend::ApiApplication::connectwise(&config)),
                ..psaflow_connectwise::ClientOptions::default()
            };
            let client = psaflow_connectwise::ConnectWiseClient::new(config, options)
            .map_err(|e| format!("{what}.connectwise: {e}"))?;
            Arc::new(client)
        }
        Some(_) => return Err(format!("{what}.connectwise must be a table")),
        None => Arc::new(Missing(format!(
            "connection '{name}' has no ConnectWise settings"
        ))),
    };
    if described.is_empty() {
        return Err(format!(
            "{what}: give halopsa = {{...}}, connectwise = {{...}} or sandbox = true"
        ));
    }
    let runtime = build(halo, cw)?;
    Ok(Connected {
        runtime,
        backend_label: described.join(" + "),
        kind: BackendKind::Tenant,
        connections: used,
        secrets,
        backend: None,
    })
}
