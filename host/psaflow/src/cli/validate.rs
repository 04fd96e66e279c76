//! `psaflow validate FILE`: checks a workflow without running it. Errors name file:line:column.

use super::{Cli, EXIT_USAGE};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The workflow file.
    pub file: PathBuf,
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<u8> {
    let runtime = super::offline_runtime(cli)?;
    let workflow = match psaflow_workflow::load(&args.file) {
        Ok(wf) => wf,
        Err(diagnostics) => {
            eprint!("{}", super::render(&diagnostics));
            return Ok(EXIT_USAGE);
        }
    };
    match psaflow_workflow::validate(&workflow, runtime.catalog()) {
        Ok(()) => {
            if workflow.connection().is_some() {
                eprintln!(
                    "psaflow: note: {} has a `connection:` block; `psaflow run` refuses it unless given --allow-workflow-connection",
                    args.file.display()
                );
            }
            println!(
                "{}: valid ({} steps)",
                args.file.display(),
                workflow.steps().len()
            );
            Ok(0)
        }
        Err(diagnostics) => {
            eprint!("{}", super::render(&diagnostics));
            Ok(EXIT_USAGE)
        }
    }
}
