//! psaflow's node runtime, in two phases:
//!
//! 1. **Load** ([`NodeCatalog`]): read the built-in nodes and any `--nodes` folders, compile
//!    each once (with an on-disk cache), and ask each to `describe` itself. Needs no
//!    connection; the catalog is all `nodes`, `validate` and `schema` need.
//! 2. **Run** ([`Runtime`]): the catalog plus one connection (a [`Transport`]) per connector,
//!    keyed by the connector's WIT package name (`halopsa` for `psaflow:halopsa`). Each
//!    invocation is prepared with the node's identity: its connector's transport behind its
//!    declared capabilities and the request cap, in an isolated instance with memory, CPU and
//!    time limits.
//!
//! ```no_run
//! # async fn demo(transport: std::sync::Arc<dyn psaflow_core::Transport>) -> anyhow::Result<()> {
//! let nodes = std::sync::Arc::new(psaflow_runtime::NodeCatalog::builder().load()?);
//! let runtime = psaflow_runtime::Runtime::builder()
//!     .nodes(nodes)
//!     .connection("halopsa", transport)
//!     .build()?;
//! let mut params = serde_json::Map::new();
//! params.insert("Name".into(), "Acme".into());
//! let envelope = runtime.invoke("halopsa.client.create", params).await;
//! println!("{}", envelope.to_json());
//! # Ok(()) }
//! ```

mod builtin;
pub mod cache;
mod check;
mod deadline;
mod describe;
pub mod engine;
pub mod failure_shape;
mod host;
mod invoke;
pub mod limits;
mod load;
mod look_first;
mod params;
pub mod reflect;
mod spawned;

pub use builtin::BUILT_COMPONENTS_DIR;
pub use engine::NodeLimits;
pub use host::policy::DEFAULT_REQUEST_CAP;
pub use invoke::InvocationStats;
pub use load::{NodeCatalog, NodeCatalogBuilder, OverrideRefused};

use host::NodeState;
use host::policy::CallPolicy;
use psaflow_core::{BoxFuture, CallLog, Catalog, Envelope, NodeInvoker, Transport};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Builds a [`Runtime`]: the nodes (loaded here unless given) and the connections.
pub struct RuntimeBuilder {
    nodes: Option<Arc<NodeCatalog>>,
    loader: NodeCatalogBuilder,
    connections: HashMap<String, Arc<dyn Transport>>,
    request_cap: u32,
}

impl RuntimeBuilder {
    /// Runs these loaded nodes (otherwise they are loaded by [`build`](Self::build) with the
    /// options below).
    pub fn nodes(mut self, nodes: Arc<NodeCatalog>) -> Self {
        self.nodes = Some(nodes);
        self
    }

    /// The connection of `connector` (a WIT package name: `halopsa`, `connectwise`): where
    /// its nodes' requests go, the real API or a sandbox.
    pub fn connection(mut self, connector: &str, transport: Arc<dyn Transport>) -> Self {
        self.connections.insert(connector.to_string(), transport);
        self
    }

    /// Most requests one invocation may send (default [`DEFAULT_REQUEST_CAP`]).
    pub fn request_cap(mut self, cap: u32) -> Self {
        self.request_cap = cap;
        self
    }

    /// See [`NodeCatalogBuilder::nodes_dir`].
    pub fn nodes_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.loader = self.loader.nodes_dir(dir);
        self
    }

    /// See [`NodeCatalogBuilder::cache_dir`].
    pub fn cache_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.loader = self.loader.cache_dir(dir);
        self
    }

    /// See [`NodeCatalogBuilder::cache_key_file`].
    pub fn cache_key_file(mut self, file: Option<PathBuf>) -> Self {
        self.loader = self.loader.cache_key_file(file);
        self
    }

    /// See [`NodeCatalogBuilder::limits`].
    pub fn limits(mut self, limits: NodeLimits) -> Self {
        self.loader = self.loader.limits(limits);
        self
    }

    /// See [`NodeCatalogBuilder::allow_override`].
    pub fn allow_override(mut self, allow: bool) -> Self {
        self.loader = self.loader.allow_override(allow);
        self
    }

    /// The runtime: loads the nodes unless they were given, and checks the request cap.
    pub fn build(self) -> anyhow::Result<Runtime> {
        let nodes = match self.nodes {
            Some(nodes) => nodes,
            None => Arc::new(self.loader.load()?),
        };
        if self.request_cap == 0 {
            anyhow::bail!("the request cap must be at least 1 request per invocation");
        }
        Ok(Runtime {
            inner: Arc::new(Inner {
                nodes,
                connections: self.connections,
                request_cap: self.request_cap,
            }),
        })
    }
}

struct Inner {
    nodes: Arc<NodeCatalog>,
    connections: HashMap<String, Arc<dyn Transport>>,
    request_cap: u32,
}

/// Runs nodes. Cheap to clone; safe to share across tasks.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

impl Runtime {
    /// A builder with the built-in nodes, no connections and the default request cap.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder {
            nodes: None,
            loader: NodeCatalogBuilder::default(),
            connections: HashMap::new(),
            request_cap: DEFAULT_REQUEST_CAP,
        }
    }

    /// What every loaded node declares (parameters, effect, capabilities).
    pub fn catalog(&self) -> &Catalog {
        self.inner.nodes.catalog()
    }

    /// The loaded nodes (to build another runtime over them without loading again).
    pub fn nodes(&self) -> &Arc<NodeCatalog> {
        &self.inner.nodes
    }

    /// Problems met while loading `--nodes` folders (skipped or replaced nodes).
    pub fn warnings(&self) -> &[String] {
        self.inner.nodes.warnings()
    }

    /// The output key a node's envelope uses, as the node declares it.
    pub fn output_name(&self, node: &str) -> Option<&str> {
        self.catalog().get(node).map(|s| s.output_key.as_str())
    }

    /// Runs `node` with user-facing parameters. Never fails: problems become envelopes.
    pub async fn invoke(&self, node: &str, params: Map<String, Value>) -> Envelope {
        self.invoke_with_stats(node, params).await.0
    }

    /// Like [`Runtime::invoke`], also returning what the node did over the API and where
    /// the time went (for `psaflow invoke --stats` and benchmarks).
    pub async fn invoke_with_stats(
        &self,
        node_id: &str,
        params: Map<String, Value>,
    ) -> (Envelope, InvocationStats) {
        self.invoke_recorded(node_id, params, CallLog::new()).await
    }

    /// Runs `node`, recording each request it makes and how it ended in `calls` as it goes
    /// (see `psaflow_core::calls`).
    pub async fn invoke_recorded(
        &self,
        node_id: &str,
        params: Map<String, Value>,
        calls: CallLog,
    ) -> (Envelope, InvocationStats) {
        self.invoke_through(node_id, params, calls, None).await
    }

    /// Runs the node's own input validation and nothing else: the node runs with a transport
    /// that refuses every request, so nothing is sent. A node that answers StatusCode -1
    /// without trying a request has refused its input; one that tries a request has passed its
    /// checks and is stopped there. Works for every node, built-in or third-party, with no
    /// per-node code.
    pub async fn check(
        &self,
        node_id: &str,
        params: Map<String, Value>,
    ) -> psaflow_core::InputCheck {
        let refuse_all: Arc<dyn Transport> = Arc::new(check::RefuseAll);
        let (envelope, stats) = self
            .invoke_through(node_id, params, CallLog::new(), Some(refuse_all))
            .await;
        let attempted = stats.calls.requests + stats.calls.refused_calls;
        if attempted == 0 && envelope.status_code == psaflow_core::envelope::STATUS_VALIDATION {
            psaflow_core::InputCheck::Invalid(envelope.error_message)
        } else {
            psaflow_core::InputCheck::Valid
        }
    }

    /// Runs a node whose earlier attempt is in doubt so that it looks for its record before
    /// changing anything: its first change request is answered "outcome unknown" without being
    /// sent (see `look_first.rs`).
    pub async fn invoke_looking_first(
        &self,
        node_id: &str,
        params: Map<String, Value>,
        calls: CallLog,
    ) -> (Envelope, InvocationStats) {
        self.invoke_with(node_id, params, calls, None, true).await
    }

    /// Runs a node through its connector's connection, or through `transport` when given.
    async fn invoke_through(
        &self,
        node_id: &str,
        params: Map<String, Value>,
        calls: CallLog,
        transport: Option<Arc<dyn Transport>>,
    ) -> (Envelope, InvocationStats) {
        self.invoke_with(node_id, params, calls, transport, false)
            .await
    }

    async fn invoke_with(
        &self,
        node_id: &str,
        params: Map<String, Value>,
        calls: CallLog,
        transport: Option<Arc<dyn Transport>>,
        look_first: bool,
    ) -> (Envelope, InvocationStats) {
        let nodes = &self.inner.nodes;
        let Some((spec, code)) = nodes.node(node_id) else {
            let hint = psaflow_core::names::did_you_mean(node_id, nodes.catalog().ids());
            return (
                Envelope::validation("", format!("unknown node {node_id}{hint}")),
                InvocationStats::default(),
            );
        };
        // Prepare the invocation with the node's identity: its connection, its declared calls.
        let transport = match (transport, &spec.connector) {
            (Some(transport), _) => Some(transport),
            (None, None) => None,
            (None, Some(connector)) => match self.inner.connections.get(connector) {
                Some(transport) => Some(transport.clone()),
                None => {
                    let mut envelope = Envelope::system(
                        &spec.output_key,
                        format!("{node_id} needs a {connector} connection and none is configured"),
                    );
                    envelope.output = code.failure.failure_output(&params);
                    return (envelope, InvocationStats::default());
                }
            },
        };
        let transport = match transport {
            Some(inner) if look_first => Some(Arc::new(look_first::LookFirst {
                inner,
                withheld: std::sync::atomic::AtomicBool::new(false),
            }) as Arc<dyn Transport>),
            other => other,
        };
        let ready = match nodes.ready(code) {
            Ok(ready) => ready,
            Err(message) => {
                let mut envelope =
                    Envelope::system(&spec.output_key, format!("{node_id}: {message}"));
                envelope.output = code.failure.failure_output(&params);
                return (envelope, InvocationStats::default());
            }
        };
        let policy = CallPolicy::new(
            code.id.clone(),
            code.capabilities.clone(),
            self.inner.request_cap,
        );
        let state = NodeState::new(transport, policy, &nodes.limits, calls);
        invoke::invoke(&nodes.engine, &ready, spec, state, &nodes.limits, &params).await
    }
}

impl Runtime {
    /// An invocation for the workflow engine, on a tokio task of its own (see `spawned.rs`).
    fn spawned(
        &self,
        node: &str,
        params: Map<String, Value>,
        calls: CallLog,
        look_first: bool,
    ) -> BoxFuture<'static, Envelope> {
        let rt = self.clone();
        let id = node.to_owned();
        let log = calls.clone();
        spawned::invocation(
            async move { rt.invoke_with(&id, params, log, None, look_first).await.0 },
            calls,
            self.output_name(node).unwrap_or_default(),
        )
    }
}

impl NodeInvoker for Runtime {
    fn catalog(&self) -> &Catalog {
        Runtime::catalog(self)
    }

    fn invoke_recorded<'a>(
        &'a self,
        node: &'a str,
        params: Map<String, Value>,
        calls: CallLog,
    ) -> BoxFuture<'a, Envelope> {
        self.spawned(node, params, calls, false)
    }

    fn check<'a>(
        &'a self,
        node: &'a str,
        params: Map<String, Value>,
    ) -> BoxFuture<'a, Option<psaflow_core::InputCheck>> {
        Box::pin(async move { Some(Runtime::check(self, node, params).await) })
    }

    fn can_look_first(&self) -> bool {
        true
    }

    fn invoke_looking_first<'a>(
        &'a self,
        node: &'a str,
        params: Map<String, Value>,
        calls: CallLog,
    ) -> BoxFuture<'a, Envelope> {
        self.spawned(node, params, calls, true)
    }
}
