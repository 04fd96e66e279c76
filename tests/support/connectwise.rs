//! The ConnectWise side of the end-to-end tests: a fresh seeded ConnectWise sandbox and a
//! runtime whose `connectwise` connection talks to it over real HTTP with Basic auth and the
//! clientId header, as `psaflow` does without a ConnectWise tenant.

use psaflow_connectwise::{ClientOptions, ConnectWiseClient, sandbox_config};
use psaflow_connectwise_sandbox::{RecordedRequest, Sandbox, SandboxOptions};
use psaflow_core::VirtualClock;
use psaflow_runtime::Runtime;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

pub use psaflow_connectwise_sandbox::Entity as CwEntity;

/// A ConnectWise sandbox and a runtime connected to it.
pub struct CwHarness {
    /// The seeded ConnectWise sandbox.
    pub sandbox: Sandbox,
    /// The built-in nodes, ConnectWise connected to the sandbox through `client`.
    pub runtime: Runtime,
    /// The real ConnectWise transport (Basic auth, clientId, retries) pointed at the sandbox.
    pub client: ConnectWiseClient,
    /// The transport's clock: 429 waits advance it instead of sleeping.
    pub clock: Arc<VirtualClock>,
}

/// A harness over a ConnectWise sandbox with the demo data.
pub async fn cw_harness() -> CwHarness {
    cw_harness_with(SandboxOptions::default()).await
}

/// A harness over a ConnectWise sandbox started with `options`.
pub async fn cw_harness_with(options: SandboxOptions) -> CwHarness {
    let sandbox = Sandbox::start(options).await.expect("sandbox starts");
    let clock = Arc::new(VirtualClock::new());
    let client = ConnectWiseClient::new(
        sandbox_config(&sandbox),
        ClientOptions {
            request_timeout: Duration::from_secs(10),
            clock: clock.clone(),
            ..ClientOptions::default()
        },
    )
    .expect("client config is valid");
    let runtime = Runtime::builder()
        .nodes(crate::built_in_nodes())
        .connection(psaflow_connectwise::CONNECTOR, Arc::new(client.clone()))
        .build()
        .expect("runtime builds");
    CwHarness {
        sandbox,
        runtime,
        client,
        clock,
    }
}

impl CwHarness {
    /// Runs a node and returns its envelope as the contract prints it.
    pub async fn invoke(&self, node: &str, params: Value) -> Value {
        let Value::Object(params) = params else {
            panic!("params must be an object");
        };
        self.runtime.invoke(node, params).await.to_json()
    }

    /// Every API request the sandbox received.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.sandbox.requests()
    }

    /// The body of the last request with `method`, parsed.
    pub fn last_body(&self, method: &str) -> Value {
        let request = self
            .requests()
            .into_iter()
            .rfind(|r| r.method == method)
            .unwrap_or_else(|| panic!("no {method} request"));
        serde_json::from_str(request.body.as_deref().expect("a body")).expect("JSON body")
    }
}
