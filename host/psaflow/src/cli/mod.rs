//! Command-line parsing and dispatch. One module per subcommand.

mod invoke;
mod nodes;
mod sandbox;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit status for bad usage or an invalid workflow (contract: 2).
pub const EXIT_USAGE: u8 = 2;

#[derive(Parser, Debug)]
#[command(name = "psaflow", version, about = "Runs HaloPSA automation workflows whose nodes are WebAssembly components.")]
#[command(after_help = "With no HALOPSA_* variables and no --connection file, psaflow uses its embedded HaloPSA sandbox.")]
pub struct Cli {
    /// Load extra node components (*.wasm, documented by *.wit beside them) from this folder.
    #[arg(long, global = true, value_name = "DIR")]
    pub nodes: Vec<PathBuf>,
    /// Connection file (api_url, auth_url, tenant, client_id, client_secret_env, scope).
    #[arg(long, global = true, value_name = "FILE")]
    pub connection: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run one node and print its envelope as JSON.
    Invoke(invoke::Args),
    /// List the node catalog, or describe one node.
    Nodes(nodes::Args),
    /// Serve the embedded HaloPSA sandbox until stopped.
    Sandbox(sandbox::Args),
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() { ExitCode::from(EXIT_USAGE) } else { ExitCode::SUCCESS };
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let code = runtime.block_on(async {
        match cli.command {
            Command::Invoke(ref args) => invoke::run(&cli, args).await,
            Command::Nodes(ref args) => nodes::run(&cli, args).await,
            Command::Sandbox(ref args) => sandbox::run(args).await,
        }
    });
    match code {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("psaflow: error: {err:#}");
            ExitCode::from(1)
        }
    }
}

/// Reads the process environment (one place, so tests and embedders can see what is read).
pub fn env_lookup(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Builds the runtime for a command: connection (or sandbox), nodes folders, cache.
pub async fn connect(cli: &Cli) -> anyhow::Result<(psaflow::backend::Backend, psaflow::Runtime)> {
    let choice = psaflow::backend::BackendChoice { connection_file: cli.connection.as_deref(), workflow_connection: None };
    let backend = psaflow::backend::connect(choice, env_lookup).await?;
    if backend.sandbox.is_some() {
        eprintln!("psaflow: no HALOPSA_* variables set; using {}", backend.description);
    }
    let runtime = build_runtime(cli, &backend)?;
    Ok((backend, runtime))
}

pub fn build_runtime(cli: &Cli, backend: &psaflow::backend::Backend) -> anyhow::Result<psaflow::Runtime> {
    let mut builder = psaflow::Runtime::builder().transport(backend.transport.clone());
    for dir in &cli.nodes {
        builder = builder.nodes_dir(dir);
    }
    let runtime = builder.build()?;
    for warning in runtime.warnings() {
        eprintln!("psaflow: warning: {warning}");
    }
    Ok(runtime)
}
