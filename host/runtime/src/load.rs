//! Phase one: loading nodes into a catalog. Needs no transport and no connection: every
//! component is read (id, parameters, docs), compiled (through the compile cache), linked, and
//! asked to `describe` itself with a transport that refuses every call. What it declares
//! (output key, effect, idempotency, natural key, capabilities) goes into its `NodeSpec`.

use crate::cache::{self, CompileCache};
use crate::engine::{NodeEngine, NodeLimits};
use crate::host::{self, NodeState};
use crate::invoke::{self, ReadyNode};
use crate::failure_shape::FailureShape;
use crate::reflect::{self, Reflected, WitDocs};
use crate::{builtin, describe};
use anyhow::Context;
use psaflow_core::{Catalog, NodeSpec};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wasmtime::component::{Linker, types::ComponentItem};

/// A third-party node tried to take the id of a built-in one without `allow_override`.
#[derive(Debug, thiserror::Error)]
#[error(
    "{id} from {source_file} has the id of a built-in node; pass --allow-override to replace the built-in node with it"
)]
pub struct OverrideRefused {
    /// The node id both claim.
    pub id: String,
    /// The component file that asked for it.
    pub source_file: String,
}

/// Loads a [`NodeCatalog`].
#[derive(Debug, Clone)]
pub struct NodeCatalogBuilder {
    node_dirs: Vec<PathBuf>,
    cache_dir: Option<PathBuf>,
    cache_key_file: Option<PathBuf>,
    limits: NodeLimits,
    allow_override: bool,
}

impl Default for NodeCatalogBuilder {
    fn default() -> Self {
        Self {
            node_dirs: Vec::new(),
            cache_dir: cache::default_cache_dir(),
            cache_key_file: cache::default_key_file(),
            limits: NodeLimits::default(),
            allow_override: false,
        }
    }
}

impl NodeCatalogBuilder {
    /// Also load every `*.wasm` component in `dir` (documented by `*.wit` there).
    pub fn nodes_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.node_dirs.push(dir.into());
        self
    }

    /// Compile cache root; `None` keeps compiled code in memory only.
    pub fn cache_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.cache_dir = dir;
        self
    }

    /// Where the compile cache's integrity key is kept (see [`cache`]).
    pub fn cache_key_file(mut self, file: Option<PathBuf>) -> Self {
        self.cache_key_file = file;
        self
    }

    /// The memory, CPU and time limits every node runs under.
    pub fn limits(mut self, limits: NodeLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Lets a `--nodes` component replace a built-in node with the same id (refused otherwise).
    pub fn allow_override(mut self, allow: bool) -> Self {
        self.allow_override = allow;
        self
    }

    /// Compiles (or takes from the cache) every component, asks each to `describe` itself and
    /// builds the catalog. A `--nodes` component that cannot be loaded is skipped with a
    /// warning ([`NodeCatalog::warnings`]); the built-in WIT failing to parse is an error.
    pub fn load(self) -> anyhow::Result<NodeCatalog> {
        let engine = NodeEngine::new(&self.limits)?;
        let mut linker: Linker<NodeState> = Linker::new(&engine.engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        let cache = CompileCache::new(
            self.cache_dir,
            self.cache_key_file,
            &engine.compatibility_key(),
        );

        let mut docs = WitDocs::default();
        for (package, files) in builtin::WIT {
            docs.add_package(files)
                .with_context(|| format!("the built-in WIT package wit/{package}"))?;
        }
        let mut sources: Vec<Source> = builtin::COMPONENTS
            .iter()
            .map(|(name, bytes)| Source {
                name: name.to_string(),
                built_in: true,
                bytes: Arc::from(*bytes),
            })
            .collect();
        let mut warnings: Vec<String> = cache.refused().map(str::to_string).into_iter().collect();
        for dir in &self.node_dirs {
            read_dir(dir, &mut docs, &mut sources, &mut warnings)?;
        }

        // Read every component first: the transports they import must be linked before any
        // of them is instantiated.
        let mut reflected = Vec::new();
        for source in sources {
            match reflect::reflect(&source.bytes, &docs) {
                Ok(r) => reflected.push((source, r)),
                Err(err) if source.built_in => {
                    return Err(err.context(format!("built-in node {} is broken", source.name)));
                }
                Err(err) => warnings.push(format!("skipped {}: {err:#}", source.name)),
            }
        }
        let imports: BTreeSet<&str> = reflected
            .iter()
            .filter_map(|(_, r)| r.transport_import.as_deref())
            .collect();
        for import in imports {
            host::transport::link(&mut linker, import)?;
        }

        let mut catalog = Catalog::new();
        let mut nodes = HashMap::new();
        let mut third_party = Vec::new();
        for (source, Reflected { mut spec, failure, .. }) in reflected {
            let ready = match prepare(&engine, &linker, &cache, &source.bytes, failure)
                .and_then(|ready| describe_into(&engine, &ready, &mut spec, &self.limits).map(|()| ready))
            {
                Ok(ready) => ready,
                Err(err) if source.built_in => {
                    return Err(err.context(format!("built-in node {} is broken", spec.id)));
                }
                Err(err) => {
                    warnings.push(format!("skipped {} ({}): {err:#}", spec.id, source.name));
                    continue;
                }
            };
            spec.source = if source.built_in {
                "built-in".into()
            } else {
                source.name.clone()
            };
            if let Some(existing) = catalog.get(&spec.id) {
                if existing.source == "built-in" && !self.allow_override {
                    return Err(OverrideRefused {
                        id: spec.id,
                        source_file: source.name,
                    }
                    .into());
                }
                warnings.push(format!(
                    "{} from {} replaces the one from {}",
                    spec.id, spec.source, existing.source
                ));
            }
            if !source.built_in {
                third_party.push(spec.id.clone());
            }
            nodes.insert(spec.id.clone(), Arc::new(ready));
            catalog.insert(spec);
        }
        Ok(NodeCatalog {
            engine,
            catalog,
            nodes,
            third_party,
            warnings,
            limits: self.limits,
        })
    }
}

/// Every node psaflow can run: the catalog (what `nodes`, `validate` and `schema` read) and
/// the compiled, linked components. Shared by any number of [`crate::Runtime`]s.
pub struct NodeCatalog {
    pub(crate) engine: NodeEngine,
    catalog: Catalog,
    nodes: HashMap<String, Arc<ReadyNode>>,
    third_party: Vec<String>,
    warnings: Vec<String>,
    pub(crate) limits: NodeLimits,
}

impl NodeCatalog {
    /// A builder for the built-in nodes with the default limits.
    pub fn builder() -> NodeCatalogBuilder {
        NodeCatalogBuilder::default()
    }

    /// What every loaded node declares.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Problems met while loading (skipped or replaced nodes, a refused compile cache).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The nodes loaded from `--nodes` folders, by id.
    pub fn third_party(&self) -> impl Iterator<Item = &NodeSpec> {
        self.third_party.iter().filter_map(|id| self.catalog.get(id))
    }

    /// The connectors (WIT package names) whose transport some node imports.
    pub fn connectors(&self) -> BTreeSet<&str> {
        self.catalog
            .iter()
            .filter_map(|s| s.connector.as_deref())
            .collect()
    }

    pub(crate) fn ready(&self, id: &str) -> Option<(&NodeSpec, &Arc<ReadyNode>)> {
        Some((self.catalog.get(id)?, self.nodes.get(id)?))
    }
}

struct Source {
    /// The crate name of a built-in node, the file path of a third-party one.
    name: String,
    built_in: bool,
    bytes: Arc<[u8]>,
}

fn read_dir(
    dir: &Path,
    docs: &mut WitDocs,
    sources: &mut Vec<Source>,
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
        sources.push(Source {
            name: path.display().to_string(),
            built_in: false,
            bytes: Arc::from(bytes),
        });
    }
    Ok(())
}

/// Compiles (or loads from the cache) and links one component.
fn prepare(
    engine: &NodeEngine,
    linker: &Linker<NodeState>,
    cache: &CompileCache,
    bytes: &[u8],
    failure: FailureShape,
) -> anyhow::Result<ReadyNode> {
    let component = cache.load(&engine.engine, bytes)?;
    let pre = linker.instantiate_pre(&component)?;
    let ty = component.component_type();
    let run = ty
        .exports(&engine.engine)
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
    let run_export = component
        .get_export_index(None, "run")
        .context("the component has no `run` export")?;
    Ok(ReadyNode {
        pre,
        run: run_export,
        slots: crate::engine::slots_needed(&component),
        input_type,
        failure,
    })
}

/// Calls the node's `describe` (its transport refuses everything) and fills the spec with it.
fn describe_into(
    engine: &NodeEngine,
    ready: &ReadyNode,
    spec: &mut NodeSpec,
    limits: &NodeLimits,
) -> anyhow::Result<()> {
    let state = NodeState::describing(&spec.id, limits);
    let (result, _, _) = run_blocking(invoke::call(engine, ready, state, limits, "describe", vec![]));
    let result = result.map_err(|e| anyhow::anyhow!("calling describe: {e}"))?;
    let [value] = result.as_slice() else {
        anyhow::bail!("describe returned {} values, not one node-info", result.len());
    };
    describe::fill(spec, value)
}

/// Loading is synchronous (the CLI and embedders call it before anything else) while wasm calls
/// are async; each runs on a thread of its own with a small Tokio runtime, so loading works
/// inside or outside any caller's runtime without blocking it.
fn run_blocking<F>(future: F) -> F::Output
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a Tokio runtime for loading nodes")
                    .block_on(future)
            })
            .join()
            .expect("describing a node panicked")
    })
}
