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

pub fn run(cli: &Cli, args: &Args) -> anyhow::Result<u8> {
    let schema = match args.kind {
        Kind::All => psaflow_workflow_tests::combined_schema(super::load_nodes(cli)?.catalog()),
        Kind::Workflow => psaflow_workflow_tests::workflow_schema(super::load_nodes(cli)?.catalog()),
        Kind::Test => psaflow_workflow_tests::test_schema(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Command;
    use clap::Parser;

    #[test]
    fn writes_each_kind_of_schema() {
        assert!(Cli::try_parse_from(["psaflow", "schema", "--kind", "bogus"]).is_err());
        let dir = std::env::temp_dir().join(format!("psaflow-schema-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        for (kind, title) in [
            ("all", "psaflow workflow or workflow test"),
            ("workflow", "psaflow workflow"),
            ("test", "psaflow workflow test"),
        ] {
            let file = dir.join(format!("{kind}.json"));
            let cli = Cli::try_parse_from([
                "psaflow",
                "schema",
                "--kind",
                kind,
                "-o",
                file.to_str().unwrap(),
            ])
            .unwrap();
            let Command::Schema(args) = &cli.command else {
                panic!()
            };
            // Inside the runtime, as the command runs (loading nodes may need it).
            assert_eq!(rt.block_on(async { run(&cli, args) }).unwrap(), 0);
            let schema: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            assert_eq!(schema["title"], title);
            assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
        }
        let all: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("all.json")).unwrap()).unwrap();
        let nodes = &all["definitions"]["step"]["properties"]["node"]["oneOf"];
        assert!(
            nodes
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["const"] == "halopsa.client.create"),
            "built from the catalog"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
