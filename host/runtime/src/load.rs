//! Phase one: loading nodes into a catalog. Needs no transport and no connection: every
//! component is read (id, parameters, docs), compiled (through the compile cache), linked, and
//! asked to `describe` itself with a transport that refuses every call. What it declares
//! (output key, effect, idempotency, natural key, capabilities) goes into its `NodeSpec`.

use crate::cache::{self, CompileCache};
use crate::engine::{NodeEngine, NodeLimits};
use crate::failure_shape::FailureShape;
use crate::host::{self, NodeState};
use crate::invoke::{self, ReadyNode};
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

    /// Builds the catalog: every component's entry (id, parameters, docs, and what its
    /// `describe` declares), and each node's compiled, linked code. A `--nodes` component that
    /// cannot be loaded is skipped with a warning ([`NodeCatalog::warnings`]); the built-in WIT
    /// failing to parse is an error.
    ///
    /// With the on-disk cache, a component whose entry was made before (same component, same
    /// docs, same psaflow) is neither read nor compiled here: its entry comes from the cache
    /// and its code is loaded the first time it runs. Start-up then touches only the nodes a
    /// run uses, which is most of psaflow's memory.
    pub fn load(self) -> anyhow::Result<NodeCatalog> {
        let engine = NodeEngine::new(&self.limits)?;
        let mut linker: Linker<NodeState> = Linker::new(&engine.engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        let cache = CompileCache::new(
            self.cache_dir,
            self.cache_key_file,
            &engine.compatibility_key(),
        );
        let mut warnings: Vec<String> = cache.refused().map(str::to_string).into_iter().collect();

        let mut sources: Vec<Source> = builtin::COMPONENTS
            .iter()
            .map(|c| Source {
                name: c.name.to_string(),
                built_in: true,
                digest: c.digest.to_string(),
                bytes: SourceBytes::BuiltIn(c.bytes),
            })
            .collect();
        let mut wit_dirs = Vec::new();
        for dir in &self.node_dirs {
            read_dir(dir, &mut sources, &mut wit_dirs)?;
        }
        let docs_key = docs_key(&wit_dirs)?;
        // The WIT docs are parsed only when a component is read; a `--nodes` folder's WIT is
        // always parsed, so its problems are reported on every run.
        let mut docs = None;
        if !wit_dirs.is_empty() {
            docs = Some(wit_docs(&wit_dirs, &mut warnings)?);
        }

        // Every component's entry first: the transports they import must be linked before
        // any of them is instantiated.
        let mut entries = Vec::new();
        for source in sources {
            let key = entry_key(&docs_key, &source.digest);
            if let Some(entry) = cache
                .node_info(&key)
                .and_then(|bytes| serde_json::from_slice::<NodeEntry>(&bytes).ok())
            {
                entries.push((source, entry, None));
                continue;
            }
            let docs = match &mut docs {
                Some(docs) => docs,
                None => docs.insert(wit_docs(&wit_dirs, &mut warnings)?),
            };
            match reflect::reflect(source.bytes.as_slice(), docs) {
                Ok(Reflected {
                    spec,
                    transport_import,
                    failure,
                }) => entries.push((
                    source,
                    NodeEntry {
                        spec,
                        transport_import,
                        failure,
                    },
                    Some(key),
                )),
                Err(err) if source.built_in => {
                    return Err(err.context(format!("built-in node {} is broken", source.name)));
                }
                Err(err) => warnings.push(format!("skipped {}: {err:#}", source.name)),
            }
        }
        let imports: BTreeSet<&str> = entries
            .iter()
            .filter_map(|(_, entry, _)| entry.transport_import.as_deref())
            .collect();
        for import in imports {
            host::transport::link(&mut linker, import)?;
        }

        let mut catalog = Catalog::new();
        let mut nodes = HashMap::new();
        let mut third_party = Vec::new();
        for (source, mut entry, read_now) in entries {
            // A component read just now is compiled and described now, and its entry kept.
            let ready = match read_now {
                None => None,
                Some(key) => {
                    match prepare(&engine, &linker, &cache, &source, entry.failure.clone())
                        .and_then(|ready| {
                            describe_into(&engine, &ready, &mut entry.spec, &self.limits)?;
                            Ok(ready)
                        }) {
                        Ok(ready) => {
                            cache.keep_node_info(&key, &serde_json::to_vec(&entry)?);
                            Some(ready)
                        }
                        Err(err) if source.built_in => {
                            return Err(
                                err.context(format!("built-in node {} is broken", entry.spec.id))
                            );
                        }
                        Err(err) => {
                            warnings.push(format!(
                                "skipped {} ({}): {err:#}",
                                entry.spec.id, source.name
                            ));
                            continue;
                        }
                    }
                }
            };
            let NodeEntry {
                mut spec, failure, ..
            } = entry;
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
            let code = NodeCode {
                id: Arc::from(spec.id.as_str()),
                capabilities: Arc::from(spec.capabilities.as_slice()),
                source,
                failure,
                ready: std::sync::OnceLock::new(),
            };
            if let Some(ready) = ready {
                let _ = code.ready.set(Ok(Arc::new(ready)));
            }
            nodes.insert(spec.id.clone(), code);
            catalog.insert(spec);
        }
        warnings.extend(cache.take_rejections());
        Ok(NodeCatalog {
            engine,
            linker,
            cache,
            catalog,
            nodes,
            third_party,
            warnings,
            limits: self.limits,
        })
    }
}

/// What the catalog keeps of a node between runs (in the compile cache, MAC'd): everything
/// reading and describing its component gave.
#[derive(serde::Serialize, serde::Deserialize)]
struct NodeEntry {
    spec: NodeSpec,
    transport_import: Option<String>,
    failure: FailureShape,
}

/// The name a node's entry is cached under: its component, the WIT that documents it and the
/// code that reads it.
fn entry_key(docs_key: &str, component_digest: &str) -> String {
    let mut key = cache::PartsDigest::new();
    key.part(docs_key.as_bytes()).part(component_digest.as_bytes());
    key.hex()
}

/// A digest of everything besides the component that goes into an entry: the built-in WIT,
/// the `.wit` files of the `--nodes` folders, and the catalog code of this build.
fn docs_key(wit_dirs: &[PathBuf]) -> anyhow::Result<String> {
    let mut key = cache::PartsDigest::new();
    key.part(builtin::CATALOG_CODE_DIGEST.as_bytes())
        .part(builtin::WIT_DIGEST.as_bytes());
    for dir in wit_dirs {
        let mut stack = vec![dir.clone()];
        while let Some(dir) = stack.pop() {
            let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
                .with_context(|| format!("reading the nodes folder {}", dir.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            paths.sort();
            for path in paths {
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "wit") {
                    let text = std::fs::read(&path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    key.part(path.to_string_lossy().as_bytes()).part(&text);
                }
            }
        }
    }
    Ok(key.hex())
}

/// The WIT docs: the built-in packages, then each `--nodes` folder's `.wit` files.
fn wit_docs(wit_dirs: &[PathBuf], warnings: &mut Vec<String>) -> anyhow::Result<WitDocs> {
    let mut docs = WitDocs::default();
    for (package, files) in builtin::WIT {
        docs.add_package(files)
            .with_context(|| format!("the built-in WIT package wit/{package}"))?;
    }
    for dir in wit_dirs {
        if let Err(err) = docs.add_dir(dir) {
            warnings.push(format!(
                "the WIT in {} could not be read, its nodes are undocumented: {err:#}",
                dir.display()
            ));
        }
    }
    Ok(docs)
}

/// Every node psaflow can run: the catalog (what `nodes`, `validate` and `schema` read) and
/// the compiled, linked components. Shared by any number of [`crate::Runtime`]s.
pub struct NodeCatalog {
    pub(crate) engine: NodeEngine,
    /// WASI and the connectors' transports, for nodes whose code is loaded on first use.
    linker: Linker<NodeState>,
    cache: CompileCache,
    catalog: Catalog,
    nodes: HashMap<String, NodeCode>,
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
        self.third_party
            .iter()
            .filter_map(|id| self.catalog.get(id))
    }

    /// The connectors (WIT package names) whose transport some node imports.
    pub fn connectors(&self) -> BTreeSet<&str> {
        self.catalog
            .iter()
            .filter_map(|s| s.connector.as_deref())
            .collect()
    }

    /// The node `id`: its spec and its code, not necessarily loaded yet.
    pub(crate) fn node(&self, id: &str) -> Option<(&NodeSpec, &NodeCode)> {
        Some((self.catalog.get(id)?, self.nodes.get(id)?))
    }

    /// `node`'s compiled, linked code: loaded (from the compile cache, or compiled) the first
    /// time it is asked for, then kept. An error says why it cannot run, in words.
    pub(crate) fn ready(&self, node: &NodeCode) -> Result<Arc<ReadyNode>, String> {
        node.ready
            .get_or_init(|| {
                prepare(
                    &self.engine,
                    &self.linker,
                    &self.cache,
                    &node.source,
                    node.failure.clone(),
                )
                .map(Arc::new)
                .map_err(|err| format!("its component could not be loaded: {err:#}"))
            })
            .clone()
    }
}

/// A node's component and, once it has run (or was read at start-up), its ready code.
pub(crate) struct NodeCode {
    /// The node's id and declared calls, shared by every invocation's call policy.
    pub(crate) id: Arc<str>,
    pub(crate) capabilities: Arc<[psaflow_core::Capability]>,
    source: Source,
    /// What the node documents as its output on failure.
    pub(crate) failure: FailureShape,
    ready: std::sync::OnceLock<Result<Arc<ReadyNode>, String>>,
}

struct Source {
    /// The crate name of a built-in node, the file path of a third-party one.
    name: String,
    built_in: bool,
    /// SHA-256 of the bytes (hex).
    digest: String,
    bytes: SourceBytes,
}

/// A component's bytes: embedded in the binary (not copied, so not read until needed) or
/// read from a `--nodes` folder.
enum SourceBytes {
    BuiltIn(&'static [u8]),
    File(Arc<[u8]>),
}

impl SourceBytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            SourceBytes::BuiltIn(bytes) => bytes,
            SourceBytes::File(bytes) => bytes,
        }
    }
}

/// Adds the components of the `--nodes` folder `dir` to `sources`, and `dir` to `wit_dirs`
/// when it holds `.wit` files.
fn read_dir(
    dir: &Path,
    sources: &mut Vec<Source>,
    wit_dirs: &mut Vec<PathBuf>,
) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("reading the nodes folder {}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    if paths
        .iter()
        .any(|p| p.extension().is_some_and(|e| e == "wit"))
    {
        wit_dirs.push(dir.to_path_buf());
    }
    for path in paths
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
    {
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        sources.push(Source {
            name: path.display().to_string(),
            built_in: false,
            digest: cache::sha256_hex(&bytes),
            bytes: SourceBytes::File(Arc::from(bytes)),
        });
    }
    Ok(())
}

/// Compiles (or loads from the cache) and links one component.
fn prepare(
    engine: &NodeEngine,
    linker: &Linker<NodeState>,
    cache: &CompileCache,
    source: &Source,
    failure: FailureShape,
) -> anyhow::Result<ReadyNode> {
    let component = cache.load_digested(&engine.engine, &source.digest, source.bytes.as_slice())?;
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
    let (result, _, _) = run_blocking(invoke::call(
        engine,
        ready,
        state,
        limits,
        "describe",
        vec![],
    ));
    let result = result.map_err(|e| anyhow::anyhow!("calling describe: {e}"))?;
    let [value] = result.as_slice() else {
        anyhow::bail!(
            "describe returned {} values, not one node-info",
            result.len()
        );
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

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A private throwaway folder (cache root and key file), removed on drop.
    struct Dirs(PathBuf);
    impl Drop for Dirs {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    impl Dirs {
        fn new(name: &str) -> Dirs {
            let base = std::env::temp_dir()
                .join(format!("psaflow-load-test-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&base);
            std::fs::create_dir_all(&base).unwrap();
            std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o700)).unwrap();
            Dirs(base)
        }
        fn load(&self) -> NodeCatalog {
            NodeCatalog::builder()
                .cache_dir(Some(self.0.join("cache")))
                .cache_key_file(Some(self.0.join("config").join("cache.key")))
                .load()
                .unwrap()
        }
        fn node_entries(&self) -> Vec<PathBuf> {
            let mut found = Vec::new();
            for engine_dir in std::fs::read_dir(self.0.join("cache")).unwrap() {
                for entry in std::fs::read_dir(engine_dir.unwrap().path()).unwrap() {
                    let path = entry.unwrap().path();
                    if path.to_string_lossy().ends_with(".node.json") {
                        found.push(path);
                    }
                }
            }
            found
        }
    }

    fn catalog_json(nodes: &NodeCatalog) -> serde_json::Value {
        serde_json::to_value(nodes.catalog()).unwrap()
    }

    /// A node that declares API calls, whichever the catalog lists first.
    fn calling_node(nodes: &NodeCatalog) -> String {
        nodes
            .catalog()
            .iter()
            .find(|spec| !spec.capabilities.is_empty())
            .expect("a node that declares calls")
            .id
            .clone()
    }

    #[test]
    fn a_second_start_takes_the_catalog_from_the_cache_and_loads_code_when_a_node_runs() {
        let dirs = Dirs::new("second-start");
        let first = dirs.load();
        assert!(first.nodes.values().all(|n| n.ready.get().is_some()), "read now, ready now");
        assert_eq!(dirs.node_entries().len(), builtin::COMPONENTS.len());

        let second = dirs.load();
        assert_eq!(catalog_json(&first), catalog_json(&second));
        assert!(
            second.nodes.values().all(|n| n.ready.get().is_none()),
            "no node's code is loaded before it runs"
        );
        let (_, code) = second.node(&calling_node(&second)).unwrap();
        second.ready(code).expect("loaded on first use");
        assert!(code.ready.get().is_some());
    }

    #[test]
    fn a_catalog_entry_changed_on_disk_is_not_believed() {
        let dirs = Dirs::new("tampered");
        let first = dirs.load();
        let id = calling_node(&first);
        let (path, text) = dirs
            .node_entries()
            .into_iter()
            .map(|p| (p.clone(), std::fs::read_to_string(&p).unwrap()))
            .find(|(_, text)| {
                serde_json::from_str::<serde_json::Value>(text).unwrap()["spec"]["id"] == id.as_str()
            })
            .unwrap();
        // Someone widens what the node may call to the whole API; the MAC no longer matches.
        let mut entry: serde_json::Value = serde_json::from_str(&text).unwrap();
        entry["spec"]["capabilities"][0]["path_prefix"] = "/".into();
        std::fs::write(&path, serde_json::to_vec(&entry).unwrap()).unwrap();

        let second = dirs.load();
        assert_eq!(catalog_json(&first), catalog_json(&second), "read from the component again");
        let (_, code) = second.node(&id).unwrap();
        assert!(code.ready.get().is_some(), "the component was read, so it is ready");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "a good entry was written in its place");
    }
}
