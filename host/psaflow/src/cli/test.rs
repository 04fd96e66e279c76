//! `psaflow test [PATH]... [--junit FILE]`: runs workflow test files (`*.test.yaml`) without a
//! HaloPSA tenant. Each case gets its own embedded sandbox and a virtual clock; see the
//! psaflow-workflow-tests crate for the file format. Exit status: 0 when every case passed, 1 when
//! any failed (or none was found), 2 for bad usage such as a path that does not exist.

use super::{Cli, EXIT_USAGE};
use anyhow::Context;
use psaflow_core::NodeInvoker;
use psaflow_workflow_tests::{CaseReport, RuntimeFactory, TestOptions};
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
    run_to(cli, args, Arc::new(out)).await
}

/// Runs the tests, writing the human output through `write` (stdout for the command).
async fn run_to(
    cli: &Cli,
    args: &Args,
    write: Arc<dyn Fn(&str) + Send + Sync>,
) -> anyhow::Result<u8> {
    let files = match psaflow_workflow_tests::discover(&args.paths) {
        Ok(files) => files,
        Err(problem) => {
            eprintln!("psaflow: {problem}");
            return Ok(EXIT_USAGE);
        }
    };
    if cli.connection.is_some()
        || super::env_lookup("HALOPSA_API_URL").is_some()
        || super::env_lookup("CONNECTWISE_API_URL").is_some()
    {
        eprintln!(
            "psaflow: tests never reach a tenant; each case runs against its own embedded sandbox"
        );
    }
    // The catalog once (this also reports problems with --nodes folders once).
    let nodes = super::load_nodes(cli)?;
    let catalog = Arc::new(nodes.catalog().clone());
    let request_cap = cli.request_cap;
    let factory: RuntimeFactory = Arc::new(move |transport| {
        // Each case also gets its own ConnectWise sandbox, started only if a ConnectWise node
        // of the case runs (never a tenant, whatever CONNECTWISE_* says).
        let connectwise = psaflow::connectwise::connect_lazily(
            |_| None,
            psaflow::connectwise::ClientOptions::default(),
            |_| {},
        )?;
        let runtime = psaflow::Runtime::builder()
            .nodes(nodes.clone())
            .connection(psaflow::halopsa::CONNECTOR, transport)
            .connection(psaflow::connectwise::CONNECTOR, connectwise)
            .request_cap(request_cap)
            .build()?;
        Ok(Arc::new(runtime) as Arc<dyn NodeInvoker>)
    });
    let options = TestOptions {
        runtime: factory,
        catalog: Some(catalog),
        jobs: args
            .jobs
            .map_or_else(psaflow_workflow_tests::default_jobs, usize::from),
        on_case: Some({
            let write = write.clone();
            Arc::new(move |case: &CaseReport| write(&format!("{}\n", case.line())))
        }),
        ..TestOptions::default()
    };
    let report = if files.is_empty() {
        // Reports "no *.test.yaml files found".
        psaflow_workflow_tests::run_tests(&args.paths, &options).await
    } else {
        psaflow_workflow_tests::run_files(&files, &options).await
    };
    write(&report.render_tail());
    if let Some(path) = &args.junit {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(path, psaflow_workflow_tests::junit_xml(&report))
            .with_context(|| format!("writing the JUnit report {}", path.display()))?;
    }
    Ok(if report.success() { 0 } else { 1 })
}

/// Writes to stdout; a closed pipe (`psaflow test | head`) must not crash the run.
fn out(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Command;
    use clap::Parser;
    use std::sync::Mutex;

    fn fixtures(rel: &str) -> String {
        format!(
            "{}/../workflow-tests/tests/fixtures/{rel}",
            env!("CARGO_MANIFEST_DIR")
        )
    }

    /// Runs `psaflow <argv>` (a `test` command) and returns the exit code and the output.
    fn psaflow_test(argv: &[&str]) -> (u8, String) {
        let cli = Cli::try_parse_from(std::iter::once("psaflow").chain(argv.iter().copied()))
            .expect("arguments parse");
        let Command::Test(args) = &cli.command else {
            panic!("not a test command")
        };
        let text = Arc::new(Mutex::new(String::new()));
        let sink = text.clone();
        let write: Arc<dyn Fn(&str) + Send + Sync> =
            Arc::new(move |s: &str| sink.lock().unwrap().push_str(s));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let code = rt
            .block_on(run_to(&cli, args, write))
            .expect("the command runs");
        let text = text.lock().unwrap().clone();
        (code, text)
    }

    #[test]
    fn exit_status_follows_the_contract_and_junit_is_written() {
        let dir = std::env::temp_dir().join(format!("psaflow-cli-test-{}", std::process::id()));
        let junit = dir.join("reports/psaflow.xml");
        let (code, text) = psaflow_test(&[
            "test",
            &fixtures("pass"),
            "--junit",
            junit.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{text}");
        assert_eq!(
            text.lines().last(),
            Some("7 passed, 0 failed, 1 skipped"),
            "{text}"
        );
        assert_eq!(
            text.lines().filter(|l| l.starts_with("PASS  ")).count(),
            7,
            "one line per case: {text}"
        );
        let xml =
            std::fs::read_to_string(&junit).expect("the JUnit file is written, its folder created");
        assert!(
            xml.starts_with("<?xml") && xml.contains("<testsuites") && xml.contains("tests=\"8\""),
            "{xml}"
        );
        let _ = std::fs::remove_dir_all(&dir);

        let (code, text) = psaflow_test(&["test", &fixtures("fail/retry-too-few.test.yaml")]);
        assert_eq!(code, 1, "{text}");
        assert!(text.lines().any(|l| l == "0 passed, 1 failed"), "{text}");
        assert!(text.contains("retry-too-few.test.yaml:11:15"), "{text}");

        let (code, text) = psaflow_test(&["test", &fixtures("workflows")]);
        assert_eq!(code, 1, "no test files is a failure: {text}");
        assert!(text.contains("no *.test.yaml files found"), "{text}");

        let (code, _) = psaflow_test(&["test", &fixtures("no-such-folder")]);
        assert_eq!(code, EXIT_USAGE);
    }

    #[test]
    fn jobs_must_be_positive() {
        assert!(Cli::try_parse_from(["psaflow", "test", "-j", "0"]).is_err());
        assert!(Cli::try_parse_from(["psaflow", "test", "-j", "2", "a", "b"]).is_ok());
    }
}
