//! `psaflow invoke NODE [--with Key=Value]... [--input JSON]`

use super::{Cli, EXIT_USAGE};
use psaflow_core::names::did_you_mean;
use psaflow_core::{NodeSpec, values};
use serde_json::{Map, Value};
use std::io::{BufRead, IsTerminal, Write};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Node id, for example halopsa.client.create (see `psaflow nodes`).
    pub node: String,
    /// A parameter, read by its type: text, integer, true/false, or JSON for lists and objects.
    #[arg(long = "with", value_name = "KEY=VALUE")]
    pub with: Vec<String>,
    /// All parameters as one JSON object; --with values win.
    #[arg(long, value_name = "JSON")]
    pub input: Option<String>,
    /// Do not ask before a node that deletes or deactivates. psaflow asks only when stdin is
    /// a terminal; scripts and pipes are never prompted.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Where a change (any effect but read) is written to the audit trail.
    #[command(flatten)]
    pub state: super::state::StateArgs,
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<u8> {
    let nodes = super::load_nodes(cli)?;
    let Some(spec) = nodes.catalog().get(&args.node) else {
        let hint = did_you_mean(&args.node, nodes.catalog().ids());
        eprintln!(
            "psaflow: unknown node {}{hint}; `psaflow nodes` lists them",
            args.node
        );
        return Ok(EXIT_USAGE);
    };
    let params = match parameters(spec, args) {
        Ok(params) => params,
        Err(message) => {
            eprintln!("psaflow: {message}");
            return Ok(EXIT_USAGE);
        }
    };
    // Only the node's connector is configured, started and reported ("backend").
    let connectors = psaflow::backend::Connectors::only(spec.connector.clone());
    let backend = match super::open_backend_for(cli, None, connectors, &|_| None).await {
        Ok(backend) => backend,
        Err(code) => return Ok(code),
    };
    let runtime = super::build_runtime(cli, &backend)?;
    if needs_confirmation(spec, &params, args.yes, std::io::stdin().is_terminal()) {
        let question = format!(
            "{} will {} on {} with {}. Continue? [y/N] ",
            args.node,
            spec.effect_of(&params).name(),
            backend.description,
            Value::Object(params.clone())
        );
        let confirmed = confirm(
            &question,
            &mut std::io::stdin().lock(),
            &mut std::io::stderr(),
        );
        if !confirmed {
            eprintln!("psaflow: not confirmed; nothing was sent (--yes skips this question)");
            return Ok(1);
        }
    }
    // A change is audited, as the API's invoke and every run's are: the store is opened
    // before anything is sent, so a store the person chose but psaflow cannot open stops here.
    let audit = if psaflow::invoke_audit::is_change(spec) {
        match args.state.open_for_recording("this change", false) {
            Ok(store) => store,
            Err(code) => return Ok(code),
        }
    } else {
        None
    };
    let shown_params = redactor(&backend).value(&Value::Object(params.clone()));
    let envelope = runtime.invoke(&args.node, params).await;
    let shown = printable(&envelope, &backend);
    if let Some(store) = audit {
        let actor = psaflow::durable::os_user(super::env_lookup);
        let entry = psaflow::invoke_audit::entry(
            &actor,
            spec,
            shown_params,
            &envelope,
            &shown,
            "psaflow invoke",
        );
        if let Err(err) = store.append_audit(&entry) {
            // The change is made; say loudly that its record is missing.
            eprintln!(
                "psaflow: warning: the change was made but could not be written to the audit trail at {}: {err}",
                store.location()
            );
        }
    }
    println!("{}", serde_json::to_string_pretty(&shown)?);
    Ok(if envelope.is_success() { 0 } else { 1 })
}

/// Masks the connection's secret and every credential psaflow knows of.
fn redactor(backend: &psaflow::backend::Backend) -> psaflow_workflow::Redactor {
    let redactor = psaflow_workflow::Redactor::new(super::credential_values());
    redactor.add(backend.secret.expose());
    redactor
}

/// A call that deletes or deactivates (by the node's effect, or a parameter value such as
/// `Inactive: true`) asks first, unless `--yes` was given or nobody is at a terminal to answer
/// (a script must never hang on a question).
fn needs_confirmation(
    spec: &NodeSpec,
    params: &Map<String, Value>,
    yes: bool,
    stdin_is_terminal: bool,
) -> bool {
    spec.is_destructive_with(params) && !yes && stdin_is_terminal
}

/// Asks `question` on `out` and reads one line from `answers`: only `y` or `yes` (any case)
/// confirms; anything else, an empty line or end of input does not.
fn confirm(question: &str, answers: &mut dyn BufRead, out: &mut dyn Write) -> bool {
    let _ = write!(out, "{question}");
    let _ = out.flush();
    let mut line = String::new();
    match answers.read_line(&mut line) {
        Ok(0) | Err(_) => false,
        Ok(_) => matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes"),
    }
}

/// The envelope as printed: the connection's secret and secret-named fields masked (a node's
/// output is text we do not control), plus `"backend"`: `"sandbox"` or `"tenant"`, that of the
/// node's connector (the only one connected).
fn printable(envelope: &psaflow_core::Envelope, backend: &psaflow::backend::Backend) -> Value {
    let mut json = redactor(backend).value(&envelope.to_json());
    if let Value::Object(map) = &mut json {
        map.insert("backend".into(), Value::from(backend.kind.as_str()));
    }
    json
}

/// Collects `--input` and `--with` into parameters keyed by their contract names.
fn parameters(spec: &NodeSpec, args: &Args) -> Result<Map<String, Value>, String> {
    let mut params = match &args.input {
        None => Map::new(),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            Ok(_) => {
                return Err(
                    "--input must be a JSON object, for example {\"Name\": \"Acme\"}".into(),
                );
            }
            Err(e) => return Err(format!("--input is not valid JSON: {e}")),
        },
    };
    for pair in &args.with {
        let Some((key, raw)) = pair.split_once('=') else {
            return Err(format!("--with {pair:?} must look like Key=Value"));
        };
        let key = key.trim();
        let Some(param) = spec.param(key) else {
            return Err(spec.unknown_param_message(key));
        };
        // A value that does not fit its type is passed on as text, so the node's validation
        // reports it (StatusCode -1) like any other bad value.
        params.insert(key.to_string(), values::from_text(&param.ty, raw));
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use psaflow_core::Effect;

    fn spec(effect: Effect) -> NodeSpec {
        NodeSpec {
            id: "demo.thing.op".into(),
            effect,
            ..NodeSpec::default()
        }
    }

    #[test]
    fn only_destructive_nodes_at_a_terminal_without_yes_ask() {
        assert!(needs_confirmation(&spec(Effect::Delete), &Map::new(), false, true));
        assert!(needs_confirmation(&spec(Effect::Deactivate), &Map::new(), false, true));
        assert!(!needs_confirmation(&spec(Effect::Delete), &Map::new(), true, true), "--yes");
        assert!(!needs_confirmation(&spec(Effect::Delete), &Map::new(), false, false), "a script");
        for effect in [Effect::Read, Effect::Create, Effect::Update] {
            assert!(!needs_confirmation(&spec(effect), &Map::new(), false, true), "{effect:?}");
        }
    }

    #[test]
    fn only_y_or_yes_confirms() {
        for (answer, expected) in [
            ("y\n", true),
            ("YES\n", true),
            (" yes \n", true),
            ("n\n", false),
            ("\n", false),
            ("yess\n", false),
            ("", false),
        ] {
            let mut out = Vec::new();
            let got = confirm("Delete? ", &mut answer.as_bytes(), &mut out);
            assert_eq!(got, expected, "{answer:?}");
            assert_eq!(String::from_utf8(out).unwrap(), "Delete? ");
        }
    }
}
