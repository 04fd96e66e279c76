//! `psaflow invoke NODE [--with Key=Value]... [--input JSON]`

use super::{Cli, EXIT_USAGE};
use psaflow_core::names::did_you_mean;
use psaflow_core::{NodeSpec, ParamType};
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
    let (_backend, runtime) = super::connect(cli).await?;
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
    println!("{}", serde_json::to_string_pretty(&envelope.to_json())?);
    Ok(if envelope.is_success() { 0 } else { 1 })
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
        params.insert(key.to_string(), read_value(&param.ty, raw));
    }
    Ok(params)
}

/// Reads a command-line value by the parameter's type. A value that does not fit is passed on
/// as text, so the node's validation reports it (StatusCode -1) like any other bad value.
fn read_value(ty: &ParamType, raw: &str) -> Value {
    match ty {
        ParamType::Integer { .. } => raw
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| raw.into()),
        ParamType::Float => raw
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(|| raw.into()),
        ParamType::Bool => match raw.trim() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => raw.into(),
        },
        ParamType::Json | ParamType::List { .. } | ParamType::Record { .. } => {
            serde_json::from_str(raw).unwrap_or_else(|_| raw.into())
        }
        ParamType::String | ParamType::Enum { .. } => raw.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_read_by_type() {
        assert_eq!(
            read_value(
                &ParamType::Integer {
                    signed: true,
                    bits: 64
                },
                "42"
            ),
            Value::from(42)
        );
        assert_eq!(
            read_value(
                &ParamType::Integer {
                    signed: true,
                    bits: 64
                },
                "abc"
            ),
            Value::from("abc")
        );
        assert_eq!(read_value(&ParamType::Bool, "true"), Value::Bool(true));
        assert_eq!(
            read_value(&ParamType::Json, r#"{"a":1}"#),
            serde_json::json!({"a": 1})
        );
        assert_eq!(
            read_value(&ParamType::String, "00123"),
            Value::from("00123")
        );
    }
}
