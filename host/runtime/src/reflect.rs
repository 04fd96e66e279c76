//! Reading a node from its component: which input record `run` takes (the node's id and
//! parameters), and the WIT docs that describe it. Works for any component that follows the
//! rule in wit/README.md, so third-party nodes need no host code.

use crate::failure_shape::FailureShape;
use anyhow::{Context, anyhow, bail};
use psaflow_core::names::kebab_to_pascal;
use psaflow_core::{NodeSpec, ParamSpec, ParamType};
use wit_parser::decoding::{DecodedWasm, decode};
use wit_parser::{Resolve, Type, TypeDefKind, TypeId, TypeOwner, WorldItem, WorldKey};

const ENVELOPE_FIELDS: [&str; 5] = [
    "status-code",
    "original-status-code",
    "error-message",
    "output-name",
    "output",
];

/// A node as read from its component, before its `describe` and the catalog add the rest.
#[derive(Debug, Clone)]
pub struct Reflected {
    /// The id, parameters and docs read from the WIT; `describe` fills in the rest.
    pub spec: NodeSpec,
    /// The connector transport it imports (`psaflow:halopsa/transport@0.1.0`), if any.
    pub transport_import: Option<String>,
    /// What the node documents as its output on failure (see [`FailureShape`]).
    pub failure: FailureShape,
}

/// WIT source packages that document nodes (the built-in package, plus any `.wit` shipped in a
/// `--nodes` folder). Components lose their doc comments when linked, so docs come from here.
#[derive(Default)]
pub struct WitDocs {
    resolve: Resolve,
}

impl WitDocs {
    /// Adds one package given as (file name, source) pairs.
    pub fn add_package(&mut self, files: &[(&str, &str)]) -> anyhow::Result<()> {
        let mut map = wit_parser::SourceMap::new();
        for (name, source) in files {
            map.push(std::path::Path::new(name), *source);
        }
        let group = map.parse().map_err(|(_, err)| anyhow!("{err}"))?;
        self.resolve.push_group(group)?;
        Ok(())
    }

    /// Adds every package in a directory of `.wit` files.
    pub fn add_dir(&mut self, dir: &std::path::Path) -> anyhow::Result<()> {
        self.resolve
            .push_dir(dir)
            .with_context(|| format!("reading WIT in {}", dir.display()))?;
        Ok(())
    }

    /// The documented record `iface.record` of package `namespace:name`, with the docs of the
    /// world whose `run` takes it.
    fn find(
        &self,
        namespace: &str,
        package: &str,
        iface: &str,
        record: &str,
    ) -> Option<(&Resolve, TypeId, String)> {
        let resolve = &self.resolve;
        let (pkg_id, pkg) = resolve
            .packages
            .iter()
            .find(|(_, p)| p.name.namespace == namespace && p.name.name == package)?;
        let iface_id = *pkg.interfaces.get(iface)?;
        let type_id = *resolve.interfaces[iface_id].types.get(record)?;
        let world_docs = resolve
            .worlds
            .iter()
            .filter(|(_, w)| w.package == Some(pkg_id))
            .find_map(|(_, w)| {
                let run = run_export(w)?;
                let Type::Id(id) = run.params.first()?.ty else {
                    return None;
                };
                (dealias(resolve, id) == type_id)
                    .then(|| w.docs.contents.clone().unwrap_or_default())
            })
            .unwrap_or_default();
        Some((resolve, type_id, world_docs))
    }
}

fn run_export(world: &wit_parser::World) -> Option<&wit_parser::Function> {
    world
        .exports
        .iter()
        .find_map(|(key, item)| match (key, item) {
            (WorldKey::Name(name), WorldItem::Function(f)) if name == "run" => Some(f),
            _ => None,
        })
}

fn dealias(resolve: &Resolve, mut id: TypeId) -> TypeId {
    while let TypeDefKind::Type(Type::Id(next)) = resolve.types[id].kind {
        id = next;
    }
    id
}

/// Reads a node from component bytes.
pub fn reflect(bytes: &[u8], docs: &WitDocs) -> anyhow::Result<Reflected> {
    let DecodedWasm::Component(resolve, world_id) =
        decode(bytes).context("not a WebAssembly component")?
    else {
        bail!("this is a WIT package, not a component");
    };
    let transport_import = check_imports(&resolve, &resolve.worlds[world_id])?;
    let world = &resolve.worlds[world_id];
    let run = run_export(world).ok_or_else(|| {
        anyhow!("the component exports no `run` function (see wit/README.md for the node rule)")
    })?;
    check_describe(world)?;
    let [param] = run.params.as_slice() else {
        bail!(
            "`run` must take exactly one input record, it takes {}",
            run.params.len()
        );
    };
    let Type::Id(input_id) = param.ty else {
        bail!("`run` must take a record")
    };
    let input_id = dealias(&resolve, input_id);
    let input = &resolve.types[input_id];
    let record_name = input
        .name
        .clone()
        .ok_or_else(|| anyhow!("`run` takes an anonymous type"))?;
    let TypeOwner::Interface(iface_id) = input.owner else {
        bail!(
            "the input record `{record_name}` must be defined in an interface (its name is the node's resource)"
        );
    };
    let iface = &resolve.interfaces[iface_id];
    let iface_name = iface
        .name
        .clone()
        .ok_or_else(|| anyhow!("the input record's interface has no name"))?;
    let pkg = &resolve.packages[iface
        .package
        .ok_or_else(|| anyhow!("the input interface has no package"))?]
    .name;
    let operation = record_name.strip_suffix("-input").ok_or_else(|| {
        anyhow!("the input record is called `{record_name}`; node input records are named `<operation>-input`")
    })?;
    check_envelope(&resolve, run.result.as_ref())?;

    // Prefer the documented source of the same record; fall back to the component's own types.
    let (types, record_id, world_docs) =
        match docs.find(&pkg.namespace, &pkg.name, &iface_name, &record_name) {
            Some(found) => found,
            None => (&resolve, input_id, String::new()),
        };
    let TypeDefKind::Record(record) = &types.types[record_id].kind else {
        bail!("`{record_name}` is not a record")
    };
    let mut params = Vec::new();
    for field in &record.fields {
        let (ty, required) = param_type(types, &field.ty)
            .with_context(|| format!("parameter `{}` of `{record_name}`", field.name))?;
        params.push(ParamSpec {
            name: kebab_to_pascal(&field.name),
            wit_name: field.name.clone(),
            ty,
            required,
            description: field
                .docs
                .contents
                .clone()
                .unwrap_or_default()
                .replace('\n', " "),
        });
    }

    // "Output on failure:" lines in the world's docs give the output of host-built failures.
    let (world_docs, failure) = FailureShape::split(&world_docs)?;
    let description = if world_docs.trim().is_empty() {
        types.types[record_id]
            .docs
            .contents
            .clone()
            .unwrap_or_default()
    } else {
        world_docs
    };
    let description = description.split_whitespace().collect::<Vec<_>>().join(" ");
    let spec = NodeSpec {
        id: format!("{}.{}.{}", pkg.name, iface_name, operation),
        resource: iface_name.clone(),
        operation: operation.to_string(),
        description,
        params,
        connector: transport_import
            .as_deref()
            .and_then(crate::limits::transport_connector)
            .map(str::to_string),
        ..NodeSpec::default()
    };
    Ok(Reflected {
        spec,
        transport_import,
        failure,
    })
}

/// Every node exports `describe: func() -> node-info` (see wit/README.md).
fn check_describe(world: &wit_parser::World) -> anyhow::Result<()> {
    let describe = world.exports.iter().find_map(|(key, item)| match (key, item) {
        (WorldKey::Name(name), WorldItem::Function(f)) if name == "describe" => Some(f),
        _ => None,
    });
    match describe {
        Some(f) if f.params.is_empty() && f.result.is_some() => Ok(()),
        Some(_) => bail!("`describe` must take nothing and return the node-info record"),
        None => bail!(
            "the component exports no `describe` function: every node declares its output key, effect and API calls (see wit/README.md)"
        ),
    }
}

/// Refuses imports psaflow does not provide; returns the connector transport imported, if any
/// (a node talks to one connector).
fn check_imports(
    resolve: &Resolve,
    world: &wit_parser::World,
) -> anyhow::Result<Option<String>> {
    let mut transport = None;
    for (name, has_functions) in world_imports(resolve, world) {
        if !crate::limits::import_allowed(&name, has_functions) {
            bail!(
                "the component imports `{name}`, which psaflow does not provide to nodes (only a psaflow connector transport and an empty WASI)"
            );
        }
        if has_functions && crate::limits::transport_connector(&name).is_some() {
            if let Some(first) = &transport {
                bail!(
                    "the component imports two connector transports ({first} and {name}); a node talks to one connector"
                );
            }
            transport = Some(name);
        }
    }
    Ok(transport)
}

/// What `world` imports, by name (`psaflow:halopsa/transport@0.1.0`, `wasi:io/streams@0.2.6`),
/// and whether each has functions (an interface of types only links nothing). Types the world
/// uses from its own interfaces are left out.
fn world_imports<'a>(
    resolve: &'a Resolve,
    world: &'a wit_parser::World,
) -> impl Iterator<Item = (String, bool)> + 'a {
    world
        .imports
        .iter()
        .filter_map(|(key, item)| match item {
            WorldItem::Interface { id, .. } => Some((
                resolve
                    .id_of(*id)
                    .unwrap_or_else(|| resolve.name_world_key(key)),
                !resolve.interfaces[*id].functions.is_empty(),
            )),
            WorldItem::Function(_) => Some((resolve.name_world_key(key), true)),
            WorldItem::Type { .. } => None,
        })
}

fn check_envelope(resolve: &Resolve, result: Option<&Type>) -> anyhow::Result<()> {
    let ok = match result {
        Some(Type::Id(id)) => match &resolve.types[dealias(resolve, *id)].kind {
            TypeDefKind::Record(r) => r.fields.iter().map(|f| f.name.as_str()).eq(ENVELOPE_FIELDS),
            _ => false,
        },
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        bail!(
            "`run` must return the psaflow envelope record ({})",
            ENVELOPE_FIELDS.join(", ")
        )
    }
}

/// Maps a WIT field type to the user-facing type; the bool is "required" (not an option).
fn param_type(resolve: &Resolve, ty: &Type) -> anyhow::Result<(ParamType, bool)> {
    if let Type::Id(id) = ty
        && let TypeDefKind::Option(inner) = &resolve.types[*id].kind
    {
        return Ok((value_type(resolve, inner)?, false));
    }
    Ok((value_type(resolve, ty)?, true))
}

fn value_type(resolve: &Resolve, ty: &Type) -> anyhow::Result<ParamType> {
    Ok(match ty {
        Type::Bool => ParamType::Bool,
        Type::String | Type::Char => ParamType::String,
        Type::U8 => ParamType::Integer {
            signed: false,
            bits: 8,
        },
        Type::U16 => ParamType::Integer {
            signed: false,
            bits: 16,
        },
        Type::U32 => ParamType::Integer {
            signed: false,
            bits: 32,
        },
        Type::U64 => ParamType::Integer {
            signed: false,
            bits: 64,
        },
        Type::S8 => ParamType::Integer {
            signed: true,
            bits: 8,
        },
        Type::S16 => ParamType::Integer {
            signed: true,
            bits: 16,
        },
        Type::S32 => ParamType::Integer {
            signed: true,
            bits: 32,
        },
        Type::S64 => ParamType::Integer {
            signed: true,
            bits: 64,
        },
        Type::F32 | Type::F64 => ParamType::Float,
        Type::Id(id) => {
            let def = &resolve.types[*id];
            match &def.kind {
                // The `json` alias is text on the wire but any JSON value to the user.
                TypeDefKind::Type(_) if def.name.as_deref() == Some("json") => ParamType::Json,
                TypeDefKind::Type(inner) => value_type(resolve, inner)?,
                TypeDefKind::List(inner) => ParamType::List {
                    item: Box::new(value_type(resolve, inner)?),
                },
                TypeDefKind::Enum(e) => ParamType::Enum {
                    cases: e.cases.iter().map(|c| c.name.clone()).collect(),
                },
                TypeDefKind::Record(r) => {
                    let mut fields = Vec::new();
                    for f in &r.fields {
                        let (ty, required) = param_type(resolve, &f.ty)?;
                        fields.push(ParamSpec {
                            name: kebab_to_pascal(&f.name),
                            wit_name: f.name.clone(),
                            ty,
                            required,
                            description: f.docs.contents.clone().unwrap_or_default(),
                        });
                    }
                    ParamType::Record { fields }
                }
                other => bail!("unsupported parameter type {}", other.as_str()),
            }
        }
        other => bail!("unsupported parameter type {other:?}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every interface and function `bytes`' component imports, by name.
    fn imported_interfaces(bytes: &[u8]) -> Vec<String> {
        let Ok(DecodedWasm::Component(resolve, world)) = decode(bytes) else {
            panic!("not a component");
        };
        world_imports(&resolve, &resolve.worlds[world])
            .map(|(name, _)| name)
            .collect()
    }

    #[test]
    fn built_in_nodes_import_only_their_connector() {
        // The nodes are no_std (components/kit/src/guest_runtime.rs): a node that imports WASI
        // again (through std, or a crate that needs it) makes every invocation cost the host
        // its imports at instantiation.
        assert!(!crate::builtin::COMPONENTS.is_empty());
        for node in crate::builtin::COMPONENTS {
            let imports = imported_interfaces(node.bytes);
            let foreign: Vec<_> = imports
                .iter()
                .filter(|name| !name.starts_with("psaflow:"))
                .collect();
            assert!(foreign.is_empty(), "{} imports {foreign:?}", node.name);
            assert!(
                imports.iter().any(|name| name.ends_with("/transport@0.1.0")),
                "{} imports no transport: {imports:?}",
                node.name
            );
        }
    }

    #[test]
    fn a_node_built_with_std_imports_wasi() {
        // The check above can fail: the chaos test node is built with std.
        let chaos = std::fs::read(
            std::path::Path::new(crate::builtin::BUILT_COMPONENTS_DIR).join("chaos.wasm"),
        )
        .expect("the chaos test node is built with the others");
        assert!(
            imported_interfaces(&chaos)
                .iter()
                .any(|name| name.starts_with("wasi:")),
            "chaos should import WASI through std"
        );
    }
}
