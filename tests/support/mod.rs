//! Shared support for the end-to-end tests: a fresh seeded sandbox on loopback and a runtime
//! connected to it over real HTTP with real OAuth, the way `psaflow` runs without a tenant; and,
//! in [`asserts`], the envelope checks the node tests share.

pub mod asserts;
pub mod connectwise;

use psaflow_core::{Transport, VirtualClock};
use psaflow_halopsa::{ClientOptions, ConnectionConfig, HaloClient, Secret};
use psaflow_halopsa_sandbox::{Sandbox, SandboxOptions};
use psaflow_runtime::Runtime;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;

pub use asserts::*;
pub use psaflow_halopsa_sandbox::Entity;

/// A sandbox and a runtime talking to it.
pub struct Harness {
    /// The seeded sandbox; tests read its state and arm its faults.
    pub sandbox: Sandbox,
    /// The built-in nodes, connected to the sandbox through `client`.
    pub runtime: Runtime,
    /// The real HaloPSA transport (OAuth, retries) pointed at the sandbox.
    pub client: HaloClient,
    /// The transport's clock: retries and backoff advance it instead of sleeping.
    pub clock: Arc<VirtualClock>,
}

/// Connection settings for a HaloPSA-compatible server at `base` (the sandbox's shape).
pub fn connection(base: &str, client_id: &str, secret: &str) -> ConnectionConfig {
    ConnectionConfig {
        api_url: format!("{base}/api").parse().unwrap(),
        auth_url: format!("{base}/auth").parse().unwrap(),
        tenant: None,
        client_id: client_id.to_string(),
        client_secret: Secret::new(secret.to_string()),
        scope: "all".into(),
        rate_limit: None,
    }
}

/// The runtime used by every test: compiled components are cached under the target dir so
/// test binaries share them.
pub fn runtime_for(transport: Arc<dyn Transport>) -> Runtime {
    Runtime::builder()
        .nodes(built_in_nodes())
        .connection(psaflow_halopsa::CONNECTOR, transport)
        .build()
        .expect("runtime builds")
}

/// The built-in nodes, loaded (compiled and described) once per test binary.
pub fn built_in_nodes() -> Arc<psaflow_runtime::NodeCatalog> {
    static NODES: std::sync::OnceLock<Arc<psaflow_runtime::NodeCatalog>> =
        std::sync::OnceLock::new();
    NODES
        .get_or_init(|| {
            let cache = target_dir().join("tmp/psaflow-cache");
            Arc::new(
                psaflow_runtime::NodeCatalog::builder()
                    .cache_dir(Some(cache))
                    .load()
                    .expect("the built-in nodes load"),
            )
        })
        .clone()
}

fn client_for(base: &str, id: &str, secret: &str, clock: Arc<VirtualClock>) -> HaloClient {
    let options = ClientOptions {
        request_timeout: Duration::from_secs(10),
        clock,
        ..ClientOptions::default()
    };
    HaloClient::new(connection(base, id, secret), options).expect("client config is valid")
}

/// A fresh seeded sandbox and a runtime connected to it.
/// A harness over a sandbox with the demo data.
pub async fn harness() -> Harness {
    harness_with(SandboxOptions::default()).await
}

/// A harness over a sandbox started with `options`.
pub async fn harness_with(options: SandboxOptions) -> Harness {
    let sandbox = Sandbox::start(options).await.expect("sandbox starts");
    let clock = Arc::new(VirtualClock::new());
    let client = client_for(
        &sandbox.base_url(),
        sandbox.client_id(),
        sandbox.client_secret(),
        clock.clone(),
    );
    let runtime = runtime_for(Arc::new(client.clone()));
    Harness {
        sandbox,
        runtime,
        client,
        clock,
    }
}

impl Harness {
    /// Runs a node and returns its envelope as the contract prints it.
    pub async fn invoke(&self, node: &str, params: Value) -> Value {
        self.runtime
            .invoke(node, params_map(params))
            .await
            .to_json()
    }

    /// Runs a node against a runtime whose HaloPSA is down (see [`Harness::down`]).
    pub async fn invoke_down(&self, node: &str, params: Value) -> Value {
        self.down()
            .invoke(node, params_map(params))
            .await
            .to_json()
    }

    /// Runs a node while the sandbox answers the next `times` requests with `status`, then
    /// clears the fault.
    pub async fn invoke_failing(
        &self,
        status: u16,
        times: u32,
        node: &str,
        params: Value,
    ) -> Value {
        self.sandbox.faults().fail_next(status, times, None);
        let envelope = self.invoke(node, params).await;
        self.sandbox.faults().reset();
        envelope
    }

    /// The body of the last POST the sandbox received, parsed.
    pub fn last_post_body(&self) -> Value {
        let post = self
            .sandbox
            .requests()
            .into_iter()
            .rfind(|r| r.method == "POST")
            .expect("a POST");
        serde_json::from_str(post.body.as_deref().expect("a body")).expect("JSON body")
    }

    /// Requests to the API (not the token endpoint) the sandbox has received so far.
    pub fn api_requests(&self) -> usize {
        self.sandbox
            .requests()
            .iter()
            .filter(|r| r.path.to_ascii_lowercase().starts_with("/api/"))
            .count()
    }

    /// A runtime talking to the same sandbox with a token of `scope` (space-separated HaloPSA
    /// scopes, e.g. "read:agents read:teams") instead of `all`.
    pub fn scoped(&self, scope: &str) -> Runtime {
        let mut config = connection(
            &self.sandbox.base_url(),
            self.sandbox.client_id(),
            self.sandbox.client_secret(),
        );
        config.scope = scope.to_string();
        let options = ClientOptions {
            request_timeout: Duration::from_secs(10),
            clock: self.clock.clone(),
            ..ClientOptions::default()
        };
        let client = HaloClient::new(config, options).expect("client config is valid");
        runtime_for(Arc::new(client))
    }

    /// A runtime whose HaloPSA is down (a loopback port nothing listens on).
    pub fn down(&self) -> Runtime {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let client = client_for(
            &format!("http://127.0.0.1:{port}"),
            "nobody",
            "nothing",
            self.clock.clone(),
        );
        runtime_for(Arc::new(client))
    }
}

/// Node parameters as the runtime takes them: an object, or null for none.
fn params_map(params: Value) -> Map<String, Value> {
    match params {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        other => panic!("params must be an object, got {other}"),
    }
}

/// A component built by the runtime's build script but not embedded (test-only nodes such as
/// `chaos`), by crate name.
pub fn built_component(crate_name: &str) -> std::path::PathBuf {
    let path = std::path::Path::new(psaflow_runtime::BUILT_COMPONENTS_DIR)
        .join(format!("{}.wasm", crate_name.replace('-', "_")));
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// A fresh empty folder under the target dir.
pub fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = target_dir()
        .join("tmp")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The cargo target dir: test binaries live in `<target>/<profile>/deps/`.
pub fn target_dir() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.ancestors()
        .nth(3)
        .expect("test binary inside a target dir")
        .to_path_buf()
}
