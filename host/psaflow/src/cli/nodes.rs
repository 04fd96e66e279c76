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

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<u8> {
    // Listing needs no HaloPSA.
    let runtime = super::offline_runtime(cli)?;
    let catalog = runtime.catalog();
    match &args.action {
        None if args.json => println!(
            "{}",
            serde_json::to_string_pretty(&catalog.iter().collect::<Vec<_>>())?
        ),
        None => {
            let width = catalog.ids().map(str::len).max().unwrap_or(0);
            for spec in catalog.iter() {
                let mark = if spec.destructive {
                    " [destructive]"
                } else {
                    ""
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
                println!("{}", serde_json::to_string_pretty(spec)?);
            } else {
                print!(
                    "{}",
                    describe(spec, runtime.output_name(node).unwrap_or_default())
                );
            }
        }
    }
    Ok(0)
}

fn first_sentence(text: &str) -> &str {
    text.split_inclusive(". ").next().unwrap_or(text).trim()
}

pub fn describe(spec: &NodeSpec, output_name: &str) -> String {
    let mut out = format!("{}\n  {}\n", spec.id, spec.description);
    if spec.destructive {
        out.push_str("  DESTRUCTIVE: deletes data that cannot be restored.\n");
    }
    out.push_str(&format!(
        "  source: {}\n  output: {output_name}\n\nParameters:\n",
        spec.source
    ));
    for p in &spec.params {
        let req = if p.required { "required" } else { "optional" };
        out.push_str(&format!("  {} ({}, {req})\n", p.name, p.ty));
        if !p.description.is_empty() {
            out.push_str(&format!("      {}\n", p.description));
        }
    }
    out
}
