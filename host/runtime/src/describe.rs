//! Reading a node's `describe` result (the WIT `node-info` record) into its `NodeSpec`. Read by
//! field and case names, so a third-party package with its own copy of the types works too.

use anyhow::{anyhow, bail};
use psaflow_core::{Capability, Effect, NodeSpec, ParamEffect};
use wasmtime::component::Val;

/// Fills the declared part of `spec` from a `node-info` value, checking every declaration.
pub fn fill(spec: &mut NodeSpec, info: &Val) -> anyhow::Result<()> {
    let Val::Record(fields) = info else {
        bail!("describe must return the node-info record");
    };
    let field = |name: &str| field_of(fields, name, "node-info");
    let output_key = text(field("output-key")?, "output-key")?;
    if output_key.trim().is_empty() {
        bail!("node-info output-key is empty; it names the envelope's output, e.g. \"Client\"");
    }
    let effect = effect_case(field("effect")?, "node-info effect")?;
    let idempotent = match field("idempotent")? {
        Val::Bool(b) => *b,
        _ => bail!("node-info idempotent must be a bool"),
    };
    let natural_key = list(field("natural-key")?, "natural-key")?
        .iter()
        .map(|v| text(v, "natural-key"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    for key in &natural_key {
        if spec.param(key).is_none() {
            bail!("node-info natural-key names {key}, which is not a parameter of the node");
        }
    }
    let mut capabilities = Vec::new();
    for value in list(field("capabilities")?, "capabilities")? {
        let Val::Record(cap) = value else {
            bail!("node-info capabilities must be capability records");
        };
        let get = |name: &str| field_of(cap, name, "capability");
        let capability = Capability {
            method: text(get("method")?, "capability method")?,
            path_prefix: text(get("path-prefix")?, "capability path-prefix")?,
        };
        capability.check().map_err(|e| anyhow!("node-info: {e}"))?;
        capabilities.push(capability);
    }
    // Optional: nodes built against the node-info of before param-effects still load.
    let param_effects = match fields.iter().find(|(n, _)| n == "param-effects") {
        Some((_, value)) => param_effects(spec, value)?,
        None => Vec::new(),
    };
    if spec.connector.is_none() && !capabilities.is_empty() {
        bail!("node-info declares API calls but the component imports no psaflow transport");
    }
    spec.output_key = output_key;
    spec.effect = effect;
    spec.param_effects = param_effects;
    spec.idempotent = idempotent;
    spec.natural_key = natural_key;
    spec.capabilities = capabilities;
    Ok(())
}

/// The declared `param-effects`: each names a parameter of the node and a JSON value of its
/// type.
fn param_effects(spec: &NodeSpec, value: &Val) -> anyhow::Result<Vec<ParamEffect>> {
    let mut declared = Vec::new();
    for item in list(value, "param-effects")? {
        let Val::Record(fields) = item else {
            bail!("node-info param-effects must be param-effect records");
        };
        let get = |name: &str| field_of(fields, name, "param-effect");
        let param = text(get("param")?, "param-effect param")?;
        let Some(param_spec) = spec.param(&param) else {
            bail!("node-info param-effects names {param}, which is not a parameter of the node");
        };
        let written = text(get("equals")?, "param-effect equals")?;
        let equals: serde_json::Value = serde_json::from_str(&written).map_err(|e| {
            anyhow!("node-info param-effects: the value for {param} ({written:?}) is not JSON: {e}")
        })?;
        if !param_spec.accepts(&equals) {
            bail!(
                "node-info param-effects: {param} can never be {written}, which is not a value of its type"
            );
        }
        let effect = effect_case(get("effect")?, "node-info param-effect effect")?;
        declared.push(ParamEffect {
            param,
            equals,
            effect,
        });
    }
    Ok(declared)
}

/// The field `name` of a `record` value's fields, or an error naming both.
fn field_of<'a>(fields: &'a [(String, Val)], name: &str, record: &str) -> anyhow::Result<&'a Val> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
        .ok_or_else(|| anyhow!("{record} has no field `{name}`"))
}

/// An `effect` enum case (`what` names where it was read, for the error).
fn effect_case(value: &Val, what: &str) -> anyhow::Result<Effect> {
    match value {
        Val::Enum(case) => Effect::from_name(case).ok_or_else(|| {
            anyhow!("{what} `{case}` is not one of {}", Effect::NAMES.join(", "))
        }),
        _ => bail!("{what} must be the effect enum"),
    }
}

fn text(value: &Val, what: &str) -> anyhow::Result<String> {
    match value {
        Val::String(s) => Ok(s.clone()),
        _ => bail!("node-info {what} must be text"),
    }
}

fn list<'a>(value: &'a Val, what: &str) -> anyhow::Result<&'a [Val]> {
    match value {
        Val::List(items) => Ok(items),
        _ => bail!("node-info {what} must be a list"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use psaflow_core::{ParamSpec, ParamType};

    fn info(effect: &str, key: &[&str], caps: &[(&str, &str)]) -> Val {
        Val::Record(vec![
            ("output-key".into(), Val::String("Site".into())),
            ("effect".into(), Val::Enum(effect.into())),
            ("idempotent".into(), Val::Bool(false)),
            (
                "natural-key".into(),
                Val::List(key.iter().map(|k| Val::String(k.to_string())).collect()),
            ),
            (
                "capabilities".into(),
                Val::List(
                    caps.iter()
                        .map(|(m, p)| {
                            Val::Record(vec![
                                ("method".into(), Val::String(m.to_string())),
                                ("path-prefix".into(), Val::String(p.to_string())),
                            ])
                        })
                        .collect(),
                ),
            ),
        ])
    }

    fn spec() -> NodeSpec {
        NodeSpec {
            id: "acme.site.create".into(),
            connector: Some("halopsa".into()),
            params: vec![ParamSpec {
                name: "Name".into(),
                wit_name: "name".into(),
                ty: ParamType::String,
                required: true,
                description: String::new(),
            }],
            ..NodeSpec::default()
        }
    }

    #[test]
    fn fills_the_declared_fields() {
        let mut s = spec();
        fill(&mut s, &info("create", &["Name"], &[("POST", "/Site"), ("GET", "/Site")])).unwrap();
        assert_eq!(s.output_key, "Site");
        assert_eq!(s.effect, Effect::Create);
        assert!(!s.idempotent);
        assert_eq!(s.natural_key, ["Name"]);
        assert_eq!(s.capabilities.len(), 2);
        assert!(s.allowed_by("GET", "/Site/4").is_some());
    }

    fn with_param_effect(param: &str, equals: &str, effect: &str) -> Val {
        let Val::Record(mut fields) = info("update", &[], &[("POST", "/Site")]) else {
            unreachable!()
        };
        fields.push((
            "param-effects".into(),
            Val::List(vec![Val::Record(vec![
                ("param".into(), Val::String(param.into())),
                ("equals".into(), Val::String(equals.into())),
                ("effect".into(), Val::Enum(effect.into())),
            ])]),
        ));
        Val::Record(fields)
    }

    #[test]
    fn param_effects_are_read_when_declared_and_checked() {
        let mut s = spec();
        fill(&mut s, &info("update", &[], &[("POST", "/Site")])).unwrap();
        assert!(s.param_effects.is_empty(), "an older node-info has none");
        let mut s = spec();
        fill(&mut s, &with_param_effect("Name", "\"gone\"", "deactivate")).unwrap();
        assert_eq!(
            s.param_effects,
            [ParamEffect {
                param: "Name".into(),
                equals: serde_json::json!("gone"),
                effect: Effect::Deactivate,
            }]
        );
        let err = |v: Val| fill(&mut spec(), &v).unwrap_err().to_string();
        assert!(err(with_param_effect("Inactive", "true", "deactivate")).contains("Inactive, which is not a parameter"));
        assert!(err(with_param_effect("Name", "yes", "deactivate")).contains("not JSON"));
        assert!(err(with_param_effect("Name", "true", "deactivate")).contains("not a value of its type"));
        assert!(err(with_param_effect("Name", "\"x\"", "erase")).contains("`erase`"));
    }

    #[test]
    fn bad_declarations_are_refused_with_the_reason() {
        let err = |v: Val| fill(&mut spec(), &v).unwrap_err().to_string();
        assert!(err(info("erase", &[], &[])).contains("effect `erase`"));
        assert!(err(info("create", &["Email"], &[])).contains("Email"));
        assert!(err(info("read", &[], &[("GET", "/")])).contains("whole API"));
        let mut no_transport = spec();
        no_transport.connector = None;
        assert!(
            fill(&mut no_transport, &info("read", &[], &[("GET", "/Site")]))
                .unwrap_err()
                .to_string()
                .contains("imports no psaflow transport")
        );
    }
}
