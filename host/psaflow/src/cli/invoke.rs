//! `psaflow invoke NODE [--with Key=Value]... [--input JSON]`

use super::{Cli, EXIT_USAGE};
use psaflow_core::names::did_you_mean;
use psaflow_core::{NodeSpec, values};
use serde_json::{Map, Value};

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
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<u8> {
    let (backend, runtime) = match super::connect(cli).await? {
        Ok(connected) => connected,
        Err(code) => return Ok(code),
    };
    let Some(spec) = runtime.catalog().get(&args.node) else {
        let hint = did_you_mean(&args.node, runtime.catalog().ids());
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
    let envelope = runtime.invoke(&args.node, params).await;
    println!(
        "{}",
        serde_json::to_string_pretty(&printable(&envelope, &backend))?
    );
    Ok(if envelope.is_success() { 0 } else { 1 })
}

/// The envelope as printed: the connection's secret and secret-named fields masked (a node's
/// output is text we do not control), plus `"backend"`: `"sandbox"` or `"tenant"`.
fn printable(envelope: &psaflow_core::Envelope, backend: &psaflow::backend::Backend) -> Value {
    let redactor = psaflow_workflow::Redactor::new(super::credential_values());
    redactor.add(backend.secret.expose());
    let mut json = redactor.value(&envelope.to_json());
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
