//! `psaflow run FILE [--input name=value]... [--dry-run] [--json]`: the product's main job.

use super::{Cli, EXIT_USAGE};
use psaflow::backend::{BackendChoice, workflow_connection};
use psaflow_workflow::{HumanRenderer, RunOptions};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The workflow file.
    pub file: PathBuf,
    /// A workflow input, read by its declared type.
    #[arg(long = "input", value_name = "NAME=VALUE")]
    pub inputs: Vec<String>,
    /// All inputs as one JSON object; --input values win.
    #[arg(long, value_name = "JSON")]
    pub inputs_json: Option<String>,
    /// Validate and show what would be sent, without sending anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the run report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<u8> {
    let workflow = match psaflow_workflow::load(&args.file) {
        Ok(wf) => wf,
        Err(diagnostics) => {
            eprint!("{}", super::render(&diagnostics));
            return Ok(EXIT_USAGE);
        }
    };

    // Validate before connecting: an invalid workflow never reaches a tenant.
    let offline = super::offline_runtime(cli)?;
    if let Err(diagnostics) = psaflow_workflow::validate(&workflow, offline.catalog()) {
        eprint!("{}", super::render(&diagnostics));
        return Ok(EXIT_USAGE);
    }
    let mut raw = Vec::new();
    for pair in &args.inputs {
        let Some((name, value)) = pair.split_once('=') else {
            eprintln!("psaflow: --input {pair:?} must look like name=value");
            return Ok(EXIT_USAGE);
        };
        raw.push((name.trim().to_string(), value.to_string()));
    }
    let json_inputs = match &args.inputs_json {
        None => None,
        Some(text) => match serde_json::from_str(text) {
            Ok(serde_json::Value::Object(map)) => Some(map),
            _ => {
                eprintln!("psaflow: --inputs-json must be a JSON object");
                return Ok(EXIT_USAGE);
            }
        },
    };
    let inputs = match psaflow_workflow::resolve_inputs(&workflow, &raw, json_inputs) {
        Ok(inputs) => inputs,
        Err(diagnostics) => {
            eprint!("{}", super::render(&diagnostics));
            return Ok(EXIT_USAGE);
        }
    };

    let workflow_connection = match workflow.connection() {
        Some(block) if cli.connection.is_none() => {
            match workflow_connection(block, super::env_lookup) {
                Ok(config) => Some(config),
                Err(err) => {
                    eprintln!("psaflow: {}: {err:#}", args.file.display());
                    return Ok(EXIT_USAGE);
                }
            }
        }
        _ => None,
    };
    let mut secrets: Vec<String> = Vec::new();
    if let Some(secret) = super::env_lookup(psaflow_halopsa::ENV_CLIENT_SECRET) {
        secrets.push(secret);
    }
    if let Some(config) = &workflow_connection {
        secrets.push(config.client_secret.expose().to_string());
    }
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let observer = Arc::new(HumanRenderer::new());
    let mut options = RunOptions {
        inputs,
        env,
        secrets,
        dry_run: args.dry_run,
        observer: Some(observer),
        ..RunOptions::default()
    };

    if args.dry_run {
        // Nothing is sent, so no connection is made at all.
        options.observer = None;
        let report = psaflow_workflow::run(&workflow, &offline, options.clone()).await;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report.to_json())?);
        } else {
            print!(
                "{}",
                psaflow_workflow::dry_run_plan(&workflow, offline.catalog(), &options)
            );
        }
        return Ok(if report.succeeded() { 0 } else { 1 });
    }

    let choice = BackendChoice {
        connection_file: cli.connection.as_deref(),
        workflow_connection,
    };
    let backend = psaflow::backend::connect(choice, super::env_lookup).await?;
    if backend.sandbox.is_some() {
        eprintln!(
            "psaflow: no HALOPSA_* variables set; using {}",
            backend.description
        );
    }
    let runtime = super::build_runtime(cli, &backend)?;
    let report = psaflow_workflow::run(&workflow, &runtime, options).await;
    eprint!("{}", HumanRenderer::summary(&report));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        print!("{}", HumanRenderer::outputs(&report));
    }
    Ok(if report.succeeded() { 0 } else { 1 })
}
