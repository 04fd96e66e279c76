//! psaflow's node runtime: loads node components (built-in and from `--nodes` folders),
//! compiles each once (with an on-disk cache), links them to the psaflow transport, and runs
//! one isolated instance per invocation with memory, CPU and time limits.
//!
//! ```no_run
//! # async fn demo(transport: std::sync::Arc<dyn psaflow_core::Transport>) -> anyhow::Result<()> {
//! let runtime = psaflow_runtime::Runtime::builder().transport(transport).build()?;
//! let mut params = serde_json::Map::new();
//! params.insert("Name".into(), "Acme".into());
//! let envelope = runtime.invoke("halopsa.client.create", params).await;
//! println!("{}", envelope.to_json());
//! # Ok(()) }
//! ```

mod bindings;
mod builtin;
pub mod failure_shape;
mod check;
pub mod cache;
pub mod engine;
mod host;
mod invoke;
pub mod limits;
mod params;
pub mod reflect;

pub use builtin::BUILT_COMPONENTS_DIR;
pub use engine::NodeLimits;
pub use invoke::InvocationStats;

use anyhow::Context;
use engine::NodeEngine;
use host::NodeState;
use invoke::ReadyNode;
use psaflow_core::{BoxFuture, CallLog, Catalog, Envelope, NodeInvoker, Transport};
use reflect::{Reflected, WitDocs};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::OnceCell;
use wasmtime::component::{Linker, types::ComponentItem};

/// Builds a [`Runtime`].
pub struct RuntimeBuilder {
    transport: Option<Arc<dyn Transport>>,
    node_dirs: Vec<PathBuf>,
    cache_dir: Option<PathBuf>,
    cache_key_file: Option<PathBuf>,
    limits: NodeLimits,
}

impl RuntimeBuilder {
    /// Where nodes send their HaloPSA requests (the real API or the sandbox).
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// Also load every `*.wasm` component in `dir` (and document them from `*.wit` there).
    /// A node with the id of a built-in one replaces it.
    pub fn nodes_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.node_dirs.push(dir.into());
        self
    }

    /// Compile cache root; `None` keeps compiled code in memory only.
    pub fn cache_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.cache_dir = dir;
        self
    }

    /// Where the compile cache's integrity key is kept (see [`cache`]); without one the
    /// cache stays in memory.
    pub fn cache_key_file(mut self, file: Option<PathBuf>) -> Self {
        self.cache_key_file = file;
        self
    }

    pub fn limits(mut self, limits: NodeLimits) -> Self {
        self.limits = limits;
        self
    }

    pub fn build(self) -> anyhow::Result<Runtime> {
        let transport = self
            .transport
            .context("a runtime needs a transport (the HaloPSA API or the sandbox)")?;
        let engine = NodeEngine::new()?;
        let mut linker: Linker<NodeState> = Linker::new(&engine.engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        bindings::Kit::add_to_linker::<_, wasmtime::component::HasSelf<_>>(&mut linker, |state| {
            state
        })?;
        let cache = cache::CompileCache::new(
            self.cache_dir,
            self.cache_key_file,
            &engine.compatibility_key(),
        );

        let mut docs = WitDocs::default();
        for (package, files) in builtin::WIT {
            docs.add_package(files)
                .with_context(|| format!("the built-in WIT package wit/{package}"))?;
        }
        let mut sources: Vec<(String, Arc<[u8]>)> = builtin::COMPONENTS
            .iter()
            .map(|(name, bytes)| (format!("built-in:{name}"), Arc::from(*bytes)))
            .collect();
        let mut warnings: Vec<String> = cache.refused().map(str::to_string).into_iter().collect();
        for dir in &self.node_dirs {
            load_dir(dir, &mut docs, &mut sources, &mut warnings)?;
        }

        let mut catalog = Catalog::new();
        let mut nodes = HashMap::new();
        for (source, bytes) in sources {
            let Reflected {
                mut spec,
                output_name,
                failure,
            } = match reflect::reflect(&bytes, &docs) {
                Ok(r) => r,
                Err(err) if source.starts_with("built-in:") => {
                    return Err(err.context(format!("built-in node {source} is broken")));
                }
                Err(err) => {
                    warnings.push(format!("skipped {source}: {err:#}"));
                    continue;
                }
            };
            spec.source = source
                .strip_prefix("built-in:")
                .map(|_| "built-in".to_string())
                .unwrap_or(source);
            if let Some(old) = catalog.insert(spec.clone()) {
                warnings.push(format!(
                    "{} from {} replaces the one from {}",
                    spec.id, spec.source, old.source
                ));
            }
            nodes.insert(
                spec.id.clone(),
                Arc::new(Node {
                    bytes,
                    output_name,
                    failure,
                    ready: OnceCell::new(),
                }),
            );
        }
        Ok(Runtime {
            inner: Arc::new(Inner {
                engine,
                linker,
                cache,
                catalog,
                nodes,
                transport,
                limits: self.limits,
                warnings,
            }),
        })
    }
}

fn load_dir(
    dir: &Path,
    docs: &mut WitDocs,
    sources: &mut Vec<(String, Arc<[u8]>)>,
    warnings: &mut Vec<String>,
) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("reading the nodes folder {}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    if paths
        .iter()
        .any(|p| p.extension().is_some_and(|e| e == "wit"))
        && let Err(err) = docs.add_dir(dir)
    {
        warnings.push(format!(
            "the WIT in {} could not be read, its nodes are undocumented: {err:#}",
            dir.display()
        ));
    }
    for path in paths
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
    {
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        sources.push((path.display().to_string(), Arc::from(bytes)));
    }
    Ok(())
}

struct Node {
    bytes: Arc<[u8]>,
    output_name: String,
    /// The output of host-built failures (see [`failure_shape`]).
    failure: failure_shape::FailureShape,
    /// Compiled and linked on first use: listing the catalog never compiles anything.
    ready: OnceCell<Arc<ReadyNode>>,
}

struct Inner {
    engine: NodeEngine,
    linker: Linker<NodeState>,
    cache: cache::CompileCache,
    catalog: Catalog,
    nodes: HashMap<String, Arc<Node>>,
    transport: Arc<dyn Transport>,
    limits: NodeLimits,
    warnings: Vec<String>,
}

/// Runs nodes. Cheap to clone; safe to share across tasks.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

impl Runtime {
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder {
            transport: None,
            node_dirs: Vec::new(),
            cache_dir: cache::default_cache_dir(),
            cache_key_file: cache::default_key_file(),
            limits: NodeLimits::default(),
        }
    }

    pub fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }

    /// Problems met while loading `--nodes` folders (skipped or replaced nodes).
    pub fn warnings(&self) -> &[String] {
        &self.inner.warnings
    }

    /// The output key a node's envelope uses.
    pub fn output_name(&self, node: &str) -> Option<&str> {
        self.inner.nodes.get(node).map(|n| n.output_name.as_str())
    }

    /// Compiles (or loads from the cache) and links a node, once.
    async fn ready(&self, node: &Arc<Node>) -> anyhow::Result<Arc<ReadyNode>> {
        node.ready
            .get_or_try_init(|| {
                let (inner, node) = (self.inner.clone(), node.clone());
                async move {
                    // Compiling is CPU work; keep it off the async workers.
                    tokio::task::spawn_blocking(move || prepare(&inner, &node.bytes))
                        .await?
                        .map(Arc::new)
                }
            })
            .await
            .cloned()
    }

    /// Compiles every node now (for benchmarks and warm starts).
    pub async fn prepare_all(&self) -> anyhow::Result<()> {
        for node in self.inner.nodes.values() {
            self.ready(node).await?;
        }
        Ok(())
    }

    /// Runs `node` with user-facing parameters. Never fails: problems become envelopes.
    pub async fn invoke(&self, node: &str, params: Map<String, Value>) -> Envelope {
        self.invoke_with_stats(node, params).await.0
    }

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
        let transport = self.inner.transport.clone();
        self.invoke_through(node_id, params, calls, transport).await
    }

    /// Runs the node's own input validation and nothing else: the node runs with a transport
    /// that refuses every request, so nothing is sent. A node that answers StatusCode -1
    /// without trying a request has refused its input; one that tries a request has passed its
    /// checks and is stopped there. Works for every node, built-in or third-party, with no
    /// per-node code.
    pub async fn check(&self, node_id: &str, params: Map<String, Value>) -> psaflow_core::InputCheck {
        let (envelope, stats) = self
            .invoke_through(node_id, params, CallLog::new(), Arc::new(check::RefuseAll))
            .await;
        if stats.requests == 0 && envelope.status_code == psaflow_core::envelope::STATUS_VALIDATION {
            psaflow_core::InputCheck::Invalid(envelope.error_message)
        } else {
            psaflow_core::InputCheck::Valid
        }
    }

    async fn invoke_through(
        &self,
        node_id: &str,
        params: Map<String, Value>,
        calls: CallLog,
        transport: Arc<dyn Transport>,
    ) -> (Envelope, InvocationStats) {
        let (Some(node), Some(spec)) = (
            self.inner.nodes.get(node_id),
            self.inner.catalog.get(node_id),
        ) else {
            let hint = psaflow_core::names::did_you_mean(node_id, self.inner.catalog.ids());
            return (
                Envelope::validation("", format!("unknown node {node_id}{hint}")),
                InvocationStats::default(),
            );
        };
        let ready = match self.ready(node).await {
            Ok(ready) => ready,
            Err(err) => {
                let mut envelope = Envelope::system(
                    &node.output_name,
                    format!("{node_id} could not be loaded: {err:#}"),
                );
                envelope.output = node.failure.failure_output(&params);
                return (envelope, InvocationStats::default());
            }
        };
        let inner = &self.inner;
        invoke::invoke(
            &inner.engine.engine,
            &ready,
            spec,
            &node.output_name,
            &node.failure,
            transport,
            &inner.limits,
            &params,
            calls,
        )
        .await
    }
}

fn prepare(inner: &Inner, bytes: &[u8]) -> anyhow::Result<ReadyNode> {
    let component = inner.cache.load(&inner.engine.engine, bytes)?;
    let pre = inner.linker.instantiate_pre(&component)?;
    let ty = component.component_type();
    let run = ty
        .exports(&inner.engine.engine)
        .find_map(|(name, item)| match (name, item.ty) {
            ("run", ComponentItem::ComponentFunc(f)) => Some(f),
            _ => None,
        })
        .context("the component has no `run` export")?;
    let input_type = run
        .params()
        .next()
        .map(|(_, ty)| ty)
        .context("`run` takes no input")?;
    Ok(ReadyNode { pre, input_type })
}

impl NodeInvoker for Runtime {
    fn catalog(&self) -> &Catalog {
        Runtime::catalog(self)
    }

    fn invoke<'a>(&'a self, node: &'a str, params: Map<String, Value>) -> BoxFuture<'a, Envelope> {
        Box::pin(Runtime::invoke(self, node, params))
    }

    fn invoke_recorded<'a>(
        &'a self,
        node: &'a str,
        params: Map<String, Value>,
        calls: CallLog,
    ) -> BoxFuture<'a, Envelope> {
        Box::pin(async move { Runtime::invoke_recorded(self, node, params, calls).await.0 })
    }

    fn check<'a>(
        &'a self,
        node: &'a str,
        params: Map<String, Value>,
    ) -> BoxFuture<'a, Option<psaflow_core::InputCheck>> {
        Box::pin(async move { Some(Runtime::check(self, node, params).await) })
    }
}
