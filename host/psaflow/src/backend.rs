//! Where nodes send their requests: a real HaloPSA (from a connection file or the `HALOPSA_*`
//! environment) or, when nothing is configured, the embedded sandbox on loopback; the same for
//! ConnectWise (`CONNECTWISE_*`).
//!
//! A workflow file does not choose where credentials go: its `connection:` block is used only
//! when the person running psaflow allows it, and then only with a secret variable of the
//! connector's own prefix (see [`workflow_connection`]). With `forbid_sandbox` no connector
//! falls back to its sandbox.

use anyhow::Context;
use psaflow_core::{RequestBudget, Transport, WindowBudget};
use psaflow_halopsa::{ClientOptions, ConnectionConfig, HaloClient, Secret, WorkflowBlock};
use psaflow_halopsa_sandbox::{Sandbox, SandboxOptions};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

/// Which kind of server a backend talks to; shown in reports and invoke output so nobody
/// mistakes the sandbox's fake data for a tenant's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// The embedded sandbox: fake data on loopback.
    Sandbox,
    /// A real tenant (`HALOPSA_*`, `--connection`, or an allowed workflow block).
    Tenant,
}

impl BackendKind {
    /// `"sandbox"` or `"tenant"`, as written in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Sandbox => "sandbox",
            BackendKind::Tenant => "tenant",
        }
    }
}

/// Which connectors a command sends requests to. Only their settings are read (a mistake in
/// another connector's variables does not stop it), only their sandboxes start, and only they
/// are refused by `--no-sandbox` when they have no tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Connectors {
    /// Every connector: what will run is not known when connecting (`serve`, `worker`).
    #[default]
    All,
    /// Only these connectors (invoke: the node's; run: its nodes').
    Only(BTreeSet<String>),
}

impl Connectors {
    /// Exactly `connectors`.
    pub fn only<S: Into<String>>(connectors: impl IntoIterator<Item = S>) -> Connectors {
        Connectors::Only(connectors.into_iter().map(Into::into).collect())
    }

    /// The connectors of the nodes `workflow`'s steps call (`on_failure` and `finally` too).
    pub fn of_workflow(
        workflow: &psaflow_workflow::Workflow,
        catalog: &psaflow_core::Catalog,
    ) -> Connectors {
        Connectors::only(
            workflow
                .all_steps()
                .filter_map(|step| catalog.get(step.node())?.connector.clone()),
        )
    }

    /// Whether `connector` is used.
    pub fn uses(&self, connector: &str) -> bool {
        match self {
            Connectors::All => true,
            Connectors::Only(set) => set.contains(connector),
        }
    }
}

/// One connection a backend opened for a connector the command uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsedConnection {
    /// `halopsa` or `connectwise`.
    pub connector: &'static str,
    /// The connector's tenant or its embedded sandbox.
    pub kind: BackendKind,
    /// One line for humans: where its requests go (no secret in it).
    pub description: String,
}

/// What a run report says of where requests went (`"backend"`, `"backends"`), set on `options`
/// from the connections of the connectors `used` (the run's workflow's): `"backends"` gives
/// each one's kind, `"backend"` is `"tenant"` when any of them is a tenant. A run that uses no
/// connector reports `otherwise`. `psaflow run` and the queue's executor (`serve`, `worker`)
/// both say it here, so their reports agree.
pub fn say_backends(
    options: &mut psaflow_workflow::RunOptions,
    connections: &[UsedConnection],
    used: &Connectors,
    otherwise: BackendKind,
) {
    let used: Vec<&UsedConnection> = connections
        .iter()
        .filter(|c| used.uses(c.connector))
        .collect();
    let kind = if used.iter().any(|c| c.kind == BackendKind::Tenant) {
        BackendKind::Tenant
    } else if used.is_empty() {
        otherwise
    } else {
        BackendKind::Sandbox
    };
    options.backend = Some(kind.as_str().to_string());
    options.backends = used
        .iter()
        .map(|c| (c.connector.to_string(), c.kind.as_str().to_string()))
        .collect();
}

/// A connected transport, and the sandbox behind it when there is one (kept alive here).
pub struct Backend {
    /// The HaloPSA connection.
    pub transport: Arc<dyn Transport>,
    /// The ConnectWise connection: the `CONNECTWISE_*` tenant, else the embedded ConnectWise
    /// sandbox, started on its first request (and announced on stderr then).
    pub connectwise: Arc<dyn Transport>,
    /// The embedded HaloPSA sandbox when no tenant is configured; dropping it stops the server.
    pub sandbox: Option<Sandbox>,
    /// [`BackendKind::Tenant`] when any connection the command uses is a tenant, so that a
    /// run that reached a tenant is never reported as the sandbox's (see [`Backend::connections`]).
    pub kind: BackendKind,
    /// The connections of the connectors the command uses, each with its kind.
    pub connections: Vec<UsedConnection>,
    /// One line for humans: where requests go (HaloPSA's connection when it is used, else
    /// ConnectWise's).
    pub description: String,
    /// The HaloPSA client secret in use, so callers can mask it in anything they print.
    pub secret: Secret,
    /// The request budget the HaloPSA connection draws from (`None`: unpaced).
    pub halopsa_budget: Option<Arc<dyn RequestBudget>>,
    /// The request budget of the ConnectWise connection (`None`: unpaced, the sandbox's too).
    pub connectwise_budget: Option<Arc<dyn RequestBudget>>,
}

impl Backend {
    /// Whether `connector`'s connection is a tenant or the sandbox; `None` when the command
    /// does not use it.
    pub fn kind_of(&self, connector: &str) -> Option<BackendKind> {
        self.connections
            .iter()
            .find(|c| c.connector == connector)
            .map(|c| c.kind)
    }

    /// How a run records where its requests went: `sandbox` when no connection it uses is a
    /// tenant, else the tenants it uses (`HaloPSA at https://...`, joined by ` + `).
    pub fn run_label(&self) -> String {
        let tenants: Vec<&str> = self
            .connections
            .iter()
            .filter(|c| c.kind == BackendKind::Tenant)
            .map(|c| c.description.as_str())
            .collect();
        if tenants.is_empty() {
            "sandbox".to_string()
        } else {
            tenants.join(" + ")
        }
    }

    /// (connector, request budget) of each connection, in the order [`rate_limits`] lists
    /// them: the live budgets, so progress lines can see what they have sent.
    pub fn budgets(&self) -> Vec<(&'static str, Option<Arc<dyn RequestBudget>>)> {
        vec![
            (psaflow_halopsa::CONNECTOR, self.halopsa_budget.clone()),
            (
                psaflow_connectwise::CONNECTOR,
                self.connectwise_budget.clone(),
            ),
        ]
    }
}

/// A connection's request budget, shared by its client and whoever shows progress.
type ConnectionBudget = Arc<dyn RequestBudget>;

/// The budget of a connection limited to `limit`: the one chosen for its API application (see
/// [`BudgetChoice`]), else a window of its own in this process.
fn connection_budget(
    chosen: Option<Arc<dyn RequestBudget>>,
    limit: Option<psaflow_core::RateLimit>,
) -> Option<Arc<dyn RequestBudget>> {
    chosen.or_else(|| {
        let clock: Arc<dyn psaflow_core::Clock> = Arc::new(psaflow_core::SystemClock::default());
        limit.map(|limit| Arc::new(WindowBudget::new(limit, clock)) as Arc<dyn RequestBudget>)
    })
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("kind", &self.kind)
            .field("description", &self.description)
            .field("secret", &self.secret)
            .finish_non_exhaustive()
    }
}

/// How to find the connection.
#[derive(Debug, Clone, Default)]
pub struct BackendChoice<'a> {
    /// A connection file (`--connection`); wins over the environment.
    pub connection_file: Option<&'a Path>,
    /// A workflow's connection block, already turned into a config. Only pass one the person
    /// running psaflow allowed (`--allow-workflow-connection`): it replaces their connection.
    pub workflow_connection: Option<ConnectionConfig>,
    /// Never fall back to a sandbox (`--no-sandbox`): a ConnectWise node without
    /// `CONNECTWISE_*` is refused instead (HaloPSA: the caller checks [`Target::Sandbox`]).
    pub forbid_sandbox: bool,
    /// The connectors the command uses; the others are neither read nor started.
    pub connectors: Connectors,
}

/// Where HaloPSA requests will go, decided before anything is sent.
#[derive(Debug)]
pub enum Target {
    /// A HaloPSA tenant, with its checked settings (boxed: they are large beside `Sandbox`).
    Tenant(Box<ConnectionConfig>),
    /// Nothing is configured: the embedded sandbox.
    Sandbox,
    /// The command sends nothing to HaloPSA: its settings are not read.
    NotUsed,
}

/// Where ConnectWise requests will go, decided before anything is sent.
#[derive(Debug)]
pub enum ConnectWiseTarget {
    /// The `CONNECTWISE_*` tenant, with its checked settings.
    Tenant(Box<psaflow_connectwise::ConnectionConfig>),
    /// Nothing is configured: the embedded sandbox, started on the first request and paced by
    /// `CONNECTWISE_RATE_LIMIT` when that is set.
    Sandbox(Option<psaflow_core::RateLimit>),
    /// The command sends nothing to ConnectWise: its settings are not read.
    NotUsed,
}

/// Decides the ConnectWise connection from `CONNECTWISE_*`: a tenant, else the sandbox. Sends
/// nothing; every problem in the settings is reported at once.
pub fn resolve_connectwise(
    choice: &BackendChoice<'_>,
    lookup: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<ConnectWiseTarget> {
    if !choice.connectors.uses(psaflow_connectwise::CONNECTOR) {
        return Ok(ConnectWiseTarget::NotUsed);
    }
    Ok(
        match psaflow_connectwise::ConnectionConfig::from_lookup(&lookup)? {
            Some(config) => ConnectWiseTarget::Tenant(Box::new(config)),
            None => ConnectWiseTarget::Sandbox(psaflow_connectwise::sandbox_rate_limit(&lookup)?),
        },
    )
}

/// Decides the HaloPSA connection: an allowed workflow block, else the connection file, else
/// the `HALOPSA_*` variables, else the embedded sandbox ([`Target::NotUsed`] when the command
/// does not use HaloPSA). Sends nothing; a `HALOPSA_RATE_LIMIT` the sandbox cannot use is an
/// error here too.
pub fn resolve(
    choice: &BackendChoice<'_>,
    lookup: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Target> {
    if !choice.connectors.uses(psaflow_halopsa::CONNECTOR) {
        return Ok(Target::NotUsed);
    }
    let config = if let Some(config) = &choice.workflow_connection {
        Some(config.clone())
    } else if let Some(file) = choice.connection_file {
        Some(ConnectionConfig::from_file(file, &lookup)?)
    } else {
        ConnectionConfig::from_env(&lookup)?
    };
    Ok(match config {
        Some(config) => Target::Tenant(Box::new(config)),
        None => {
            sandbox_rate_limit_from(&lookup)?;
            Target::Sandbox
        }
    })
}

/// Connects to a resolved target (and ConnectWise, from `lookup`).
pub async fn open(
    target: Target,
    forbid_sandbox: bool,
    lookup: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Backend> {
    open_with_budget(target, forbid_sandbox, lookup, &|_| None).await
}

/// One tenant API application as the request budget sees it: the tenant throttles per
/// application, so all clients of one application (in every process) should draw from one
/// budget.
#[derive(Debug, Clone, Copy)]
pub struct ApiApplication<'a> {
    /// `halopsa` or `connectwise`.
    pub connector: &'static str,
    /// The tenant's API base.
    pub api_url: &'a str,
    /// The application's client id.
    pub client_id: &'a str,
    /// The configured limit; `None`: unpaced.
    pub rate_limit: Option<psaflow_core::RateLimit>,
}

impl ApiApplication<'_> {
    /// The HaloPSA application of `config`.
    pub fn halopsa(config: &ConnectionConfig) -> ApiApplication<'_> {
        ApiApplication {
            connector: "halopsa",
            api_url: config.api_url.as_str(),
            client_id: &config.client_id,
            rate_limit: config.rate_limit,
        }
    }

    /// The ConnectWise application of `config`.
    pub fn connectwise(config: &psaflow_connectwise::ConnectionConfig) -> ApiApplication<'_> {
        ApiApplication {
            connector: "connectwise",
            api_url: config.api_url.as_str(),
            client_id: &config.client_id,
            rate_limit: config.rate_limit,
        }
    }

    /// A name for the application that is the same in every process (no secret in it).
    pub fn key(&self) -> String {
        format!("{} {} {}", self.connector, self.api_url, self.client_id)
    }
}

/// Chooses the request budget of a tenant connection's client (HaloPSA or ConnectWise) from
/// its API application; `None` leaves the client its own in-process budget (see
/// `psaflow::shared_budget` for one shared by every worker).
pub type BudgetChoice<'a> =
    &'a (dyn Fn(&ApiApplication<'_>) -> Option<Arc<dyn psaflow_core::RequestBudget>> + Sync);

/// [`open`], with the tenant client's request budget chosen by `budget`.
pub async fn open_with_budget(
    target: Target,
    forbid_sandbox: bool,
    lookup: impl Fn(&str) -> Option<String>,
    budget: BudgetChoice<'_>,
) -> anyhow::Result<Backend> {
    let connectwise = resolve_connectwise(&BackendChoice::default(), &lookup)?;
    open_targets(target, connectwise, forbid_sandbox, budget).await
}

/// Connects to resolved targets: HaloPSA ([`resolve`]) and ConnectWise ([`resolve_connectwise`]).
/// A connector the command does not use gets a transport that refuses every request.
pub async fn open_targets(
    target: Target,
    connectwise: ConnectWiseTarget,
    forbid_sandbox: bool,
    budget: BudgetChoice<'_>,
) -> anyhow::Result<Backend> {
    let mut connections = Vec::new();
    let (connectwise, connectwise_budget) =
        connectwise_lazily(connectwise, forbid_sandbox, budget, &mut connections)?;
    let mut backend = match target {
        Target::Tenant(config) => {
            let description = format!("HaloPSA at {}", config.api_url);
            let secret = config.client_secret.clone();
            let halopsa_budget =
                connection_budget(budget(&ApiApplication::halopsa(&config)), config.rate_limit);
            let options = ClientOptions {
                budget: halopsa_budget.clone(),
                ..ClientOptions::default()
            };
            let client = HaloClient::new(*config, options)?;
            Backend {
                transport: Arc::new(client),
                connectwise,
                sandbox: None,
                kind: BackendKind::Tenant,
                connections: Vec::new(),
                description,
                secret,
                halopsa_budget,
                connectwise_budget,
            }
        }
        Target::Sandbox => Backend {
            connectwise,
            connectwise_budget,
            ..start_sandbox(SandboxOptions::default()).await?
        },
        Target::NotUsed => Backend {
            transport: refusing_transport("this command does not use HaloPSA"),
            connectwise,
            sandbox: None,
            kind: BackendKind::Sandbox,
            connections: Vec::new(),
            description: String::new(),
            secret: Secret::new(String::new()),
            halopsa_budget: None,
            connectwise_budget,
        },
    };
    if !backend.description.is_empty() {
        connections.insert(
            0,
            UsedConnection {
                connector: psaflow_halopsa::CONNECTOR,
                kind: backend.kind,
                description: backend.description.clone(),
            },
        );
    }
    if backend.description.is_empty() {
        backend.description = match connections.first() {
            Some(used) => used.description.clone(),
            None => "no connection".to_string(),
        };
    }
    backend.kind = if connections.iter().any(|c| c.kind == BackendKind::Tenant) {
        BackendKind::Tenant
    } else {
        BackendKind::Sandbox
    };
    backend.connections = connections;
    Ok(backend)
}

/// [`resolve`] then [`open`].
pub async fn connect(
    choice: BackendChoice<'_>,
    lookup: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Backend> {
    let target = resolve(&choice, &lookup)?;
    open(target, choice.forbid_sandbox, lookup).await
}

/// The request budget each connector's connection would use, decided as [`connect`] decides
/// the connection, without connecting: (connector, limit or `None` for unpaced).
pub fn rate_limits(
    choice: &BackendChoice<'_>,
    lookup: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Vec<(&'static str, Option<psaflow_core::RateLimit>)>> {
    let halopsa = match resolve(choice, &lookup)? {
        Target::Tenant(config) => config.rate_limit,
        Target::Sandbox => sandbox_rate_limit()?,
        Target::NotUsed => None,
    };
    let connectwise = match resolve_connectwise(choice, &lookup)? {
        ConnectWiseTarget::Tenant(config) => config.rate_limit,
        ConnectWiseTarget::Sandbox(limit) => limit,
        ConnectWiseTarget::NotUsed => None,
    };
    Ok(vec![
        (psaflow_halopsa::CONNECTOR, halopsa),
        (psaflow_connectwise::CONNECTOR, connectwise),
    ])
}

/// `HALOPSA_RATE_LIMIT` for the embedded sandbox (`off` or unset: none).
fn sandbox_rate_limit() -> anyhow::Result<Option<psaflow_core::RateLimit>> {
    sandbox_rate_limit_from(|name| std::env::var(name).ok())
}

/// [`sandbox_rate_limit`], read through `lookup`.
fn sandbox_rate_limit_from(
    lookup: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Option<psaflow_core::RateLimit>> {
    let name = psaflow_halopsa::ENV_RATE_LIMIT;
    match lookup(name) {
        Some(text) if !text.trim().is_empty() && !text.trim().eq_ignore_ascii_case("off") => {
            match text.trim().parse() {
                Ok(limit) => Ok(Some(limit)),
                Err(err) => anyhow::bail!(
                    "{name}: {err}, or off (with no HALOPSA_* tenant it paces the embedded sandbox)"
                ),
            }
        }
        _ => Ok(None),
    }
}

/// The ConnectWise connection `target` names and its request budget, added to `connections`
/// when the command uses it.
fn connectwise_lazily(
    target: ConnectWiseTarget,
    forbid_sandbox: bool,
    budget: BudgetChoice<'_>,
    connections: &mut Vec<UsedConnection>,
) -> anyhow::Result<(Arc<dyn Transport>, Option<ConnectionBudget>)> {
    let (tenant, sandbox_limit) = match target {
        ConnectWiseTarget::NotUsed => {
            return Ok((
                refusing_transport("this command does not use ConnectWise PSA"),
                None,
            ));
        }
        ConnectWiseTarget::Sandbox(_) if forbid_sandbox => {
            let refusing = refusing_transport(
                "no ConnectWise tenant configured: set the CONNECTWISE_* variables \
                 (--no-sandbox forbids the embedded ConnectWise sandbox)",
            );
            return Ok((refusing, None));
        }
        ConnectWiseTarget::Sandbox(limit) => (None, limit),
        ConnectWiseTarget::Tenant(config) => (Some(*config), None),
    };
    let connection_budget = match &tenant {
        Some(config) => connection_budget(
            budget(&ApiApplication::connectwise(config)),
            config.rate_limit,
        ),
        None => connection_budget(None, sandbox_limit),
    };
    let options = psaflow_connectwise::ClientOptions {
        budget: connection_budget.clone(),
        ..psaflow_connectwise::ClientOptions::default()
    };
    let transport: Arc<dyn Transport> = match tenant {
        Some(config) => {
            connections.push(UsedConnection {
                connector: psaflow_connectwise::CONNECTOR,
                kind: BackendKind::Tenant,
                description: format!("ConnectWise PSA at {}", config.api_url),
            });
            Arc::new(psaflow_connectwise::ConnectWiseClient::new(
                config, options,
            )?)
        }
        None => {
            connections.push(UsedConnection {
                connector: psaflow_connectwise::CONNECTOR,
                kind: BackendKind::Sandbox,
                description: "the embedded ConnectWise sandbox".to_string(),
            });
            psaflow_connectwise::connect_lazily(
                |_| None,
                options,
                // The contract: using a sandbox is said on stderr. Only when a ConnectWise
                // node runs.
                |description| {
                    eprintln!("psaflow: no CONNECTWISE_* variables set; using {description}")
                },
            )?
        }
    };
    Ok((transport, connection_budget))
}

/// Starts the embedded sandbox and a client for it.
pub async fn start_sandbox(options: SandboxOptions) -> anyhow::Result<Backend> {
    let sandbox = Sandbox::start(options)
        .await
        .context("starting the embedded HaloPSA sandbox")?;
    let halopsa_rate_limit = sandbox_rate_limit()?;
    let halopsa_budget = connection_budget(None, halopsa_rate_limit);
    let config = ConnectionConfig {
        api_url: sandbox.api_url().parse()?,
        auth_url: sandbox.auth_url().parse()?,
        tenant: None,
        client_id: sandbox.client_id().to_string(),
        client_secret: Secret::new(sandbox.client_secret().to_string()),
        scope: "all".into(),
        // No throttling by default on the sandbox; HALOPSA_RATE_LIMIT still applies so that
        // pacing can be tried without a tenant.
        rate_limit: halopsa_rate_limit,
    };
    let options = ClientOptions {
        budget: halopsa_budget.clone(),
        ..ClientOptions::default()
    };
    let client = HaloClient::new(config, options)?;
    let description = format!("the embedded HaloPSA sandbox at {}", sandbox.base_url());
    Ok(Backend {
        transport: Arc::new(client),
        kind: BackendKind::Sandbox,
        connections: vec![UsedConnection {
            connector: psaflow_halopsa::CONNECTOR,
            kind: BackendKind::Sandbox,
            description: description.clone(),
        }],
        secret: Secret::new(sandbox.client_secret().to_string()),
        // Sandboxes only: the ConnectWise one too, whatever the environment says.
        connectwise: psaflow_connectwise::connect_lazily(
            |_| None,
            psaflow_connectwise::ClientOptions::default(),
            |_| {},
        )?,
        sandbox: Some(sandbox),
        description,
        halopsa_budget,
        connectwise_budget: None,
    })
}

/// A transport that refuses every request with `reason`.
fn refusing_transport(reason: &'static str) -> Arc<dyn Transport> {
    struct Refusing(&'static str);
    impl Transport for Refusing {
        fn send(
            &self,
            _request: psaflow_core::ApiRequest,
        ) -> psaflow_core::BoxFuture<
            '_,
            Result<psaflow_core::ApiResponse, psaflow_core::TransportError>,
        > {
            let reason = self.0;
            Box::pin(async move { Err(psaflow_core::TransportError::Denied(reason.into())) })
        }
    }
    Arc::new(Refusing(reason))
}

/// Prefix of the HaloPSA connector's environment variables.
pub const HALOPSA_ENV_PREFIX: &str = "HALOPSA_";

/// The hosts a connection sends to, for the notice printed before a workflow-supplied
/// connection is used: `(API host, token host)`.
pub fn connection_hosts(config: &ConnectionConfig) -> (String, String) {
    let host = |url: &url::Url| {
        let mut h = url.host_str().unwrap_or("?").to_string();
        if let Some(port) = url.port() {
            h.push_str(&format!(":{port}"));
        }
        h
    };
    (host(&config.api_url), host(&config.token_url()))
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
    let secret_env = fields
        .client_secret_env
        .unwrap_or(psaflow_halopsa::DEFAULT_CLIENT_SECRET_ENV);
    if !psaflow_core::credentials::is_connection_secret_variable(secret_env, HALOPSA_ENV_PREFIX) {
        anyhow::bail!(
            "the workflow's connection.client_secret_env names {secret_env}; a workflow may only \
             read its secret from a {HALOPSA_ENV_PREFIX}* or {}* variable, so it cannot send \
             an unrelated secret to a server of its choosing",
            psaflow_core::credentials::PSAFLOW_ENV_PREFIX
        );
    }
    Ok(ConnectionConfig::from_workflow_block(&fields, lookup)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Both connectors' tenant clients ask the budget choice for their API application, so
    /// workers can share one budget per application through the store.
    #[tokio::test]
    async fn both_tenant_clients_take_the_budget_chosen_for_their_application() {
        let vars: std::collections::BTreeMap<&str, &str> = [
            ("HALOPSA_API_URL", "https://acme.halopsa.com/api"),
            ("HALOPSA_CLIENT_ID", "halo-app"),
            ("HALOPSA_CLIENT_SECRET", "s3cret"),
            ("HALOPSA_RATE_LIMIT", "500/3m"),
            (
                "CONNECTWISE_API_URL",
                "https://na.myconnectwise.net/v4_6_release/apis/3.0",
            ),
            ("CONNECTWISE_COMPANY_ID", "acme"),
            ("CONNECTWISE_PUBLIC_KEY", "pub"),
            ("CONNECTWISE_PRIVATE_KEY", "priv"),
            ("CONNECTWISE_CLIENT_ID", "cw-app"),
            ("CONNECTWISE_RATE_LIMIT", "60/1m"),
        ]
        .into_iter()
        .collect();
        let lookup = |name: &str| vars.get(name).map(|v| v.to_string());
        let asked: Mutex<Vec<(String, Option<String>)>> = Mutex::new(Vec::new());
        let choose = |app: &ApiApplication<'_>| {
            asked
                .lock()
                .unwrap()
                .push((app.key(), app.rate_limit.map(|l| l.to_string())));
            None
        };
        let choice = BackendChoice {
            connection_file: None,
            workflow_connection: None,
            forbid_sandbox: true,
            connectors: Connectors::All,
        };
        let target = resolve(&choice, lookup).unwrap();
        open_with_budget(target, true, lookup, &choose).await.unwrap();
        let mut asked = asked.into_inner().unwrap();
        asked.sort();
        assert_eq!(
            asked,
            [
                (
                    "connectwise https://na.myconnectwise.net/v4_6_release/apis/3.0 cw-app"
                        .to_string(),
                    Some("60/1m".to_string())
                ),
                (
                    "halopsa https://acme.halopsa.com/api halo-app".to_string(),
                    Some("500/3m".to_string())
                ),
            ]
        );
    }
}
