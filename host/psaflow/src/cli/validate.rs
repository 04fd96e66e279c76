//! `psaflow validate FILE`: checks a workflow without running it. Errors name file:line:column;
//! warnings (valid but probably unintended, e.g. `retry` around a create that cannot recover)
//! are printed too and do not change the exit code, unless `--strict` (then they are exit 2, as
//! they are for `psaflow run --strict`).

use super::{Cli, EXIT_USAGE};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The workflow file.
    pub file: PathBuf,
    /// Warnings make the workflow invalid (exit 2), as `psaflow run --strict` refuses them.
    #[arg(long)]
    pub strict: bool,
}

/// For `--strict`: says the workflow's warnings and that they stop it; true when it has any.
pub(super) fn refused_for_warnings(
    workflow: &psaflow_workflow::Workflow,
    catalog: &psaflow_core::Catalog,
) -> bool {
    let warnings = psaflow_workflow::warnings(workflow, catalog);
    if warnings.is_empty() {
        return false;
    }
    eprint!("{}", super::render(&warnings));
    eprintln!(
        "psaflow: --strict: {} has {} warning(s); change what they point at, or leave out --strict",
        workflow.file(),
        warnings.len()
    );
    true
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
    // Static checks, then the nodes' own input checks on the values written in the file
    // (nothing is sent); every problem of both kinds is reported together.
    let mut problems = match psaflow_workflow::validate(&workflow, runtime.catalog()) {
        Ok(()) => Vec::new(),
        Err(diagnostics) => diagnostics.0,
    };
    if let Err(more) =
        psaflow_workflow::check_node_inputs(&workflow, &runtime, None, &serde_json::json!({})).await
    {
        problems.extend(more.0);
    }
    let checked = psaflow_workflow::Diagnostics(problems).into_result();
    // Warnings (valid, but probably not what the author meant) come after any errors.
    let warnings = psaflow_workflow::warnings(&workflow, runtime.catalog());
    let warned = warnings.len();
    let print_warnings = || {
        if !warnings.is_empty() {
            eprint!("{}", super::render(&warnings));
        }
    };
    match checked {
        Ok(()) if args.strict && refused_for_warnings(&workflow, runtime.catalog()) => {
            Ok(EXIT_USAGE)
        }
        Ok(()) => {
            print_warnings();
            if workflow.connection().is_some() {
                eprintln!(
                    "psaflow: note: {} has a `connection:` block; `psaflow run` refuses it unless given --allow-workflow-connection",
                    args.file.display()
                );
            }
            let n = workflow.steps().len();
            let plural = if n == 1 { "" } else { "s" };
            let caveat = match warned {
                0 => String::new(),
                1 => ", 1 warning".to_string(),
                w => format!(", {w} warnings"),
            };
            println!("{}: valid ({n} step{plural}{caveat})", args.file.display());
            Ok(0)
        }
        Err(diagnostics) => {
            eprint!("{}", super::render(&diagnostics));
            print_warnings();
            Ok(EXIT_USAGE)
        }
    }
}
