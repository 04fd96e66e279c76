//! `psaflow test [PATH]... [--junit FILE]`: runs workflow test files (`*.test.yaml`) without a
//! HaloPSA tenant. Each case gets its own embedded sandbox and a virtual clock; see the
//! psaflow-testing crate for the file format. Exit status: 0 when every case passed, 1 when
//! any failed (or none was found), 2 for bad usage such as a path that does not exist.

use super::{Cli, EXIT_USAGE};
use anyhow::Context;
use psaflow_core::NodeInvoker;
use psaflow_testing::{CaseReport, RuntimeFactory, TestOptions};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Test files, or folders searched recursively for *.test.yaml (default: the current folder).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Also write a JUnit XML report to this file.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Cases run at once (default: the number of CPUs).
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<u8> {
    let files = match psaflow_testing::discover(&args.paths) {
        Ok(files) => files,
        Err(problem) => {
            eprintln!("psaflow: {problem}");
            return Ok(EXIT_USAGE);
        }
    };
    if cli.connection.is_some() || super::env_lookup("HALOPSA_API_URL").is_some() {
        eprintln!("psaflow: tests never reach a tenant; each case runs against its own embedded sandbox");
    }
    // The catalog once (this also reports problems with --nodes folders once).
    let catalog = Arc::new(super::offline_runtime(cli)?.catalog().clone());
    let nodes = cli.nodes.clone();
    let factory: RuntimeFactory = Arc::new(move |transport| {
        let mut builder = psaflow::Runtime::builder().transport(transport);
        for dir in &nodes {
            builder = builder.nodes_dir(dir);
        }
        Ok(Arc::new(builder.build()?) as Arc<dyn NodeInvoker>)
    });
    let options = TestOptions {
        runtime: factory,
        catalog: Some(catalog),
        jobs: args.jobs.map_or_else(psaflow_testing::default_jobs, usize::from),
        on_case: Some(Arc::new(|case: &CaseReport| out(&format!("{}\n", case.line())))),
    };
    let report = if files.is_empty() {
        // Reports "no *.test.yaml files found".
        psaflow_testing::run_tests(&args.paths, &options).await
    } else {
        psaflow_testing::run_files(&files, &options).await
    };
    out(&report.render_tail());
    if let Some(path) = &args.junit {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(path, psaflow_testing::junit_xml(&report))
            .with_context(|| format!("writing the JUnit report {}", path.display()))?;
    }
    Ok(if report.success() { 0 } else { 1 })
}

/// Writes to stdout; a closed pipe (`psaflow test | head`) must not crash the run.
fn out(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush());
}
