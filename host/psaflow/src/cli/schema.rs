//! `psaflow schema [--kind all|workflow|test] [--output FILE]`: JSON Schema (draft-07) for
//! workflow files (built from the node catalog, `--nodes` folders included), for test files,
//! or for both (the default: a document with `cases:` is read as a test file), for editors'
//! YAML language servers.

use super::Cli;
use anyhow::Context;
use std::path::PathBuf;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Workflow files and test files in one schema (told apart by `cases:`).
    All,
    /// Workflow files, with every node's parameters.
    Workflow,
    /// Workflow test files (*.test.yaml).
    Test,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Which files the schema describes.
    #[arg(long, value_enum, default_value_t = Kind::All)]
    pub kind: Kind,
    /// Write the schema to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<u8> {
    let schema = match args.kind {
        Kind::All => psaflow_testing::combined_schema(super::offline_runtime(cli)?.catalog()),
        Kind::Workflow => psaflow_testing::workflow_schema(super::offline_runtime(cli)?.catalog()),
        Kind::Test => psaflow_testing::test_schema(),
    };
    let text = format!("{}\n", serde_json::to_string_pretty(&schema)?);
    match &args.output {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("psaflow: wrote the JSON Schema to {}", path.display());
        }
        None => {
            use std::io::Write;
            // A closed pipe (`psaflow schema | head`) is not an error.
            match std::io::stdout().lock().write_all(text.as_bytes()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e.into()),
                _ => {}
            }
        }
    }
    Ok(0)
}
