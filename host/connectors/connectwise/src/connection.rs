//! Choosing the ConnectWise connection: the tenant the `CONNECTWISE_*` variables name, or, when
//! none is set, the embedded sandbox on loopback (kept alive by the returned [`Connection`]).

use crate::client::{ClientOptions, ConnectWiseClient};
use crate::config::ConnectionConfig;
use psaflow_core::Secret;
use psaflow_connectwise_sandbox::{Sandbox, SandboxOptions};
use psaflow_core::Transport;
use std::sync::Arc;

/// A ready ConnectWise transport and the sandbox behind it, if any.
pub struct Connection {
    /// Sends the nodes' requests (with auth, clientId, version pin and retries).
    pub transport: Arc<dyn Transport>,
    /// The embedded sandbox when no tenant is configured; dropping it stops the server.
    pub sandbox: Option<Sandbox>,
    /// One line for humans: where requests go.
    pub description: String,
}

/// Why no connection could be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The `CONNECTWISE_*` settings are incomplete or wrong.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The HTTP client could not be built.
    #[error(transparent)]
    Client(#[from] crate::client::ClientError),
    /// The sandbox could not start.
    #[error("starting the embedded ConnectWise sandbox: {0}")]
    Sandbox(#[from] psaflow_connectwise_sandbox::SandboxError),
}

/// The tenant from `lookup` (the environment), else the embedded sandbox.
pub async fn connect(
    lookup: impl Fn(&str) -> Option<String>,
    options: ClientOptions,
) -> Result<Connection, ConnectError> {
    match ConnectionConfig::from_lookup(lookup)? {
        Some(config) => {
            let description = format!("ConnectWise PSA at {}", config.api_url);
            let client = ConnectWiseClient::new(config, options)?;
            Ok(Connection {
                transport: Arc::new(client),
                sandbox: None,
                description,
            })
        }
        None => start_sandbox(SandboxOptions::default(), options).await,
    }
}

/// Starts the embedded sandbox and a client for it.
pub async fn start_sandbox(
    sandbox_options: SandboxOptions,
    options: ClientOptions,
) -> Result<Connection, ConnectError> {
    let sandbox = Sandbox::start(sandbox_options).await?;
    let config = sandbox_config(&sandbox);
    let client = ConnectWiseClient::new(config, options)?;
    let description = format!("the embedded ConnectWise sandbox at {}", sandbox.base_url());
    Ok(Connection {
        transport: Arc::new(client),
        sandbox: Some(sandbox),
        description,
    })
}

/// Like [`connect`], but the sandbox (when no variable is set) starts on the first request, so
/// commands that never run a ConnectWise node start nothing. `announce` is called once with
/// the sandbox's description when it starts. Settings are checked at once: a partial or
/// malformed configuration fails here, naming every problem.
pub fn connect_lazily(
    lookup: impl Fn(&str) -> Option<String>,
    options: ClientOptions,
    announce: impl Fn(&str) + Send + Sync + 'static,
) -> Result<Arc<dyn Transport>, ConnectError> {
    match ConnectionConfig::from_lookup(lookup)? {
        Some(config) => Ok(Arc::new(ConnectWiseClient::new(config, options)?)),
        None => Ok(Arc::new(LazySandbox {
            options,
            announce: Box::new(announce),
            started: tokio::sync::OnceCell::new(),
        })),
    }
}

/// The embedded sandbox, started by the first request that needs it.
struct LazySandbox {
    options: ClientOptions,
    announce: Box<dyn Fn(&str) + Send + Sync>,
    started: tokio::sync::OnceCell<Result<(Sandbox, ConnectWiseClient), String>>,
}

impl Transport for LazySandbox {
    fn send(
        &self,
        request: psaflow_core::ApiRequest,
    ) -> psaflow_core::BoxFuture<'_, Result<psaflow_core::ApiResponse, psaflow_core::TransportError>>
    {
        Box::pin(async move {
            let started = self
                .started
                .get_or_init(|| async {
                    let sandbox = Sandbox::start(SandboxOptions::default())
                        .await
                        .map_err(|e| {
                            format!("the embedded ConnectWise sandbox could not start: {e}")
                        })?;
                    let client =
                        ConnectWiseClient::new(sandbox_config(&sandbox), self.options.clone())
                            .map_err(|e| e.to_string())?;
                    (self.announce)(&format!(
                        "the embedded ConnectWise sandbox at {}",
                        sandbox.base_url()
                    ));
                    Ok((sandbox, client))
                })
                .await;
            match started {
                Ok((_, client)) => client.send(request).await,
                Err(message) => Err(psaflow_core::TransportError::Unreachable(message.clone())),
            }
        })
    }
}

/// The settings that reach `sandbox` with its own demo credentials.
pub fn sandbox_config(sandbox: &Sandbox) -> ConnectionConfig {
    ConnectionConfig {
        api_url: sandbox
            .api_url()
            .parse()
            .expect("the sandbox's URL is well formed"),
        company_id: sandbox.company_id().to_owned(),
        public_key: sandbox.public_key().to_owned(),
        private_key: Secret::new(sandbox.private_key()),
        client_id: sandbox.client_id().to_owned(),
        rate_limit: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use psaflow_core::{ApiRequest, Method};

    #[tokio::test]
    async fn no_variables_means_the_sandbox_and_it_answers() {
        let connection = connect(|_| None, ClientOptions::default()).await.unwrap();
        assert!(
            connection
                .description
                .starts_with("the embedded ConnectWise sandbox at http://127.0.0.1:")
        );
        let reply = connection
            .transport
            .send(ApiRequest {
                method: Method::Get,
                path: "/system/members/count".into(),
                query: vec![],
                body: None,
            })
            .await
            .unwrap();
        assert_eq!(reply.status, 200);
    }

    #[tokio::test]
    async fn the_lazy_sandbox_starts_on_first_use_and_announces_itself_once() {
        let announced = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let log = announced.clone();
        let transport = connect_lazily(
            |_| None,
            ClientOptions::default(),
            move |d| log.lock().unwrap().push(d.to_owned()),
        )
        .unwrap();
        assert!(
            announced.lock().unwrap().is_empty(),
            "nothing starts before a request"
        );
        for _ in 0..2 {
            let reply = transport
                .send(ApiRequest {
                    method: Method::Get,
                    path: "/system/members/2".into(),
                    query: vec![],
                    body: None,
                })
                .await
                .unwrap();
            assert_eq!(reply.status, 200);
        }
        let announced = announced.lock().unwrap();
        assert_eq!(announced.len(), 1, "{announced:?}");
        assert!(announced[0].starts_with("the embedded ConnectWise sandbox at http://127.0.0.1:"));
    }

    #[tokio::test]
    async fn some_variables_name_the_missing_ones() {
        let err = connect(
            |name| (name == crate::ENV_COMPANY_ID).then(|| "acme".to_owned()),
            ClientOptions::default(),
        )
        .await
        .err()
        .unwrap();
        assert!(
            err.to_string().contains("CONNECTWISE_API_URL: is not set"),
            "{err}"
        );
    }
}
