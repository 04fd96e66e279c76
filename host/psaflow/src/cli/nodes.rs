//! `psaflow nodes [--json]` and `psaflow nodes describe NODE`

use super::{Cli, EXIT_USAGE};
use psaflow_core::NodeSpec;
use psaflow_core::names::did_you_mean;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print the catalog as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(subcommand)]
    pub action: Option<Action>,
}

#[derive(clap::Subcommand, Debug)]
pub enum Action {
    /// Every parameter of one node, with type, required-ness and description.
    Describe {
        node: String,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cli: &Cli, args: &Args) -> anyhow::Result<u8> {
    // Listing needs no connection.
    let nodes = super::load_nodes(cli)?;
    let catalog = nodes.catalog();
    match &args.action {
        None if args.json => println!(
            "{}",
            serde_json::to_string_pretty(&catalog.iter().map(spec_json).collect::<Vec<_>>())?
        ),
        None => {
            let width = catalog.ids().map(str::len).max().unwrap_or(0);
            for spec in catalog.iter() {
                let mark = if spec.is_destructive() {
                    format!(" [{}]", spec.effect)
                } else if let Some(p) = spec.param_effects.iter().find(|p| p.effect.is_destructive()) {
                    format!(" [{} with {}]", p.effect, p.condition())
                } else {
                    String::new()
                };
                println!(
                    "{:width$}  {}{mark}",
                    spec.id,
                    first_sentence(&spec.description)
                );
            }
        }
        Some(Action::Describe { node, json }) => {
            let Some(spec) = catalog.get(node) else {
                let hint = did_you_mean(node, catalog.ids());
                eprintln!("psaflow: unknown node {node}{hint}");
                return Ok(EXIT_USAGE);
            };
            if *json || args.json {
                println!("{}", serde_json::to_string_pretty(&spec_json(spec))?);
            } else {
                print!("{}", describe(spec));
            }
        }
    }
    Ok(0)
}

fn first_sentence(text: &str) -> &str {
    text.split_inclusive(". ").next().unwrap_or(text).trim()
}

/// A node as `nodes --json` shows it: the spec, with `destructive` spelled out and, on each
/// parameter whose node declares a default, that `default` as a JSON value of its type (absent
/// when none is declared; the description still says it in words).
fn spec_json(spec: &NodeSpec) -> serde_json::Value {
    let mut value = serde_json::to_value(spec).expect("a node spec is JSON");
    value["destructive"] = spec.is_destructive().into();
    if let Some(params) = value["params"].as_array_mut() {
        for (json, param) in params.iter_mut().zip(&spec.params) {
            if let Some(default) = param.declared_default() {
                json["default"] = default;
            }
        }
    }
    value
}

/// What a node declares, in one line: effect, idempotency, natural key, calls.
pub fn declaration_line(spec: &NodeSpec) -> String {
    let calls = if spec.capabilities.is_empty() {
        "no API calls".to_string()
    } else {
        spec.capabilities
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "{} from {} declares effect {}, {}; may call {calls}",
        spec.id,
        spec.source,
        spec.effect,
        if spec.idempotent {
            "idempotent"
        } else {
            "not idempotent"
        }
    )
}

pub fn describe(spec: &NodeSpec) -> String {
    let mut out = format!("{}\n  {}\n", spec.id, spec.description);
    if spec.is_destructive() {
        out.push_str(&format!(
            "  DESTRUCTIVE: {}s records (declared effect).\n",
            spec.effect
        ));
    }
    for p in spec.param_effects.iter().filter(|p| p.effect.is_destructive()) {
        out.push_str(&format!(
            "  DESTRUCTIVE with {}: {}s records (declared for that value).\n",
            p.condition(),
            p.effect
        ));
    }
    out.push_str(&format!("  source: {}\n", spec.source));
    if let Some(connector) = &spec.connector {
        out.push_str(&format!("  connector: {connector}\n"));
    }
    let mut effect = spec.effect.to_string();
    for p in &spec.param_effects {
        effect.push_str(&format!("; {} with {}", p.effect, p.condition()));
    }
    out.push_str(&format!(
        "  output: {}\n  effect: {effect}\n  idempotent: {}\n",
        spec.output_key,
        if spec.idempotent { "yes" } else { "no" }
    ));
    if !spec.natural_key.is_empty() {
        out.push_str(&format!("  natural key: {}\n", spec.natural_key.join(", ")));
    }
    out.push_str("  may call:");
    if spec.capabilities.is_empty() {
        out.push_str(" nothing\n");
    } else {
        out.push('\n');
        for capability in &spec.capabilities {
            out.push_str(&format!("    {capability}\n"));
        }
    }
    out.push_str("\nParameters:\n");
    for p in &spec.params {
        let req = if p.required { "required" } else { "optional" };
        out.push_str(&format!("  {} ({}, {req})\n", p.name, p.ty));
        if !p.description.is_empty() {
            out.push_str(&format!("      {}\n", p.description));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use psaflow_core::{ParamSpec, ParamType};
    use serde_json::json;

    fn param(name: &str, ty: ParamType, description: &str) -> ParamSpec {
        ParamSpec {
            name: name.into(),
            wit_name: name.to_lowercase(),
            ty,
            required: false,
            description: description.into(),
        }
    }

    #[test]
    fn json_params_carry_the_declared_default_and_keep_every_field() {
        let spec = NodeSpec {
            id: "halopsa.site.create".into(),
            params: vec![
                param(
                    "BlockIfDuplicate",
                    ParamType::Bool,
                    "Return the existing site. Default true.",
                ),
                param(
                    "DuplicateCheckFields",
                    ParamType::List {
                        item: Box::new(ParamType::String),
                    },
                    "Fields compared. Default [\"name\", \"client_id\"]; [] disables the check.",
                ),
                param("Notes", ParamType::String, "Notes for the site."),
            ],
            ..NodeSpec::default()
        };
        let value = spec_json(&spec);
        let params = value["params"].as_array().unwrap();
        assert_eq!(params[0]["default"], json!(true));
        assert_eq!(params[1]["default"], json!(["name", "client_id"]));
        assert!(
            params[2].get("default").is_none(),
            "no default declared: no field"
        );
        for p in params {
            for field in ["name", "wit_name", "type", "required", "description"] {
                assert!(p.get(field).is_some(), "{field} kept: {p}");
            }
        }
        assert_eq!(value["destructive"], false);
    }
}
