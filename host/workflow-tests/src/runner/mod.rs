//! `psaflow test`: finding test files ([`discover`]), preparing their cases ([`prepare`]),
//! running the cases in parallel, each with its own sandbox, runtime and virtual clock
//! ([`case`]), checking what each case expects ([`checker`]) and the step trace of a failed
//! case ([`trace`]). This module holds the options and the scheduling.
use crate::invoker::RuntimeFactory;
use crate::report::{CaseReport, Failure, FailureKind, Outcome, TestReport};
use crate::spec::CaseSpec;
use psaflow_core::{
    ApiRequest, ApiResponse, BoxFuture, Catalog, NodeInvoker, Transport, TransportError,
};
use psaflow_workflow::{Diagnostic, Pos, Workflow, format_duration};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

mod case;
mod checker;
mod discover;
mod prepare;
mod trace;

use case::run_case;
pub use discover::{discover, is_test_file};
use prepare::prepare_file;

/// Called with each case as it finishes.
pub type CaseObserver = Arc<dyn Fn(&CaseReport) + Send + Sync>;

/// How to run tests.
#[derive(Clone)]
pub struct TestOptions {
    /// Builds the node runtime of a case from the transport to its sandbox.
    pub runtime: RuntimeFactory,
    /// The node catalog workflows are validated against. `None`: taken from a runtime built
    /// by `runtime` (with a transport that reaches nothing).
    pub catalog: Option<Arc<Catalog>>,
    /// Cases run at once. Default: the number of CPUs.
    pub jobs: usize,
    /// Real time one case may take (a node that hangs, a sandbox that stopped answering);
    /// virtual waits do not count. Default 5 minutes.
    pub case_timeout: Duration,
    /// Told about each case as soon as it finishes (for progress output).
    pub on_case: Option<CaseObserver>,
}

impl Default for TestOptions {
    /// The built-in nodes, compiled through the default compile cache.
    fn default() -> Self {
        TestOptions {
            runtime: Arc::new(|transport| {
                // Loading compiles and describes every node: once per process, not per case.
                static NODES: std::sync::OnceLock<Arc<psaflow_runtime::NodeCatalog>> =
                    std::sync::OnceLock::new();
                let nodes = match NODES.get() {
                    Some(nodes) => nodes.clone(),
                    None => {
                        let loaded = Arc::new(psaflow_runtime::NodeCatalog::builder().load()?);
                        NODES.get_or_init(|| loaded).clone()
                    }
                };
                let runtime = psaflow_runtime::Runtime::builder()
                    .nodes(nodes)
                    .connection(psaflow_halopsa::CONNECTOR, transport)
                    .build()?;
                Ok(Arc::new(runtime) as Arc<dyn NodeInvoker>)
            }),
            catalog: None,
            jobs: default_jobs(),
            case_timeout: Duration::from_secs(300),
            on_case: None,
        }
    }
}

/// The number of CPUs (at least 1).
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A transport for building the catalog: it never reaches anything.
struct Offline;

impl Transport for Offline {
    fn send(&self, _request: ApiRequest) -> BoxFuture<'_, Result<ApiResponse, TransportError>> {
        Box::pin(async {
            Err(TransportError::Unreachable(
                "no HaloPSA while reading the catalog".into(),
            ))
        })
    }
}

/// Finds the test files under `paths` and runs them (see [`discover`] and [`run_files`]).
pub async fn run_tests(paths: &[PathBuf], options: &TestOptions) -> TestReport {
    match discover(paths) {
        Ok(files) if files.is_empty() => {
            let shown: Vec<String> = if paths.is_empty() {
                vec![".".into()]
            } else {
                paths.iter().map(|p| p.display().to_string()).collect()
            };
            TestReport {
                problems: vec![format!(
                    "no *.test.yaml files found in {}",
                    shown.join(", ")
                )],
                ..TestReport::default()
            }
        }
        Ok(files) => run_files(&files, options).await,
        Err(problem) => TestReport {
            problems: vec![problem],
            ..TestReport::default()
        },
    }
}

/// What every case of one test file shares.
struct FileCtx {
    display: String,
    suite: String,
    source: Arc<str>,
}

impl FileCtx {
    fn diagnostic(&self, pos: Pos, message: &str) -> Diagnostic {
        if pos.is_known() {
            Diagnostic::at(&self.display, &self.source, pos, message)
        } else {
            Diagnostic::general(&self.display, message)
        }
    }

    /// A failure at `pos`: the file line with a caret, then `body` lines.
    fn failure(
        &self,
        kind: FailureKind,
        pos: Pos,
        message: impl Into<String>,
        body: Vec<String>,
    ) -> Failure {
        let message = message.into();
        let diag = self.diagnostic(pos, &message);
        let mut detail = diag.render(false).trim_end().to_string();
        detail.push('\n');
        for line in body {
            detail.push_str(&line);
            detail.push('\n');
        }
        Failure {
            kind,
            location: diag.location(),
            message,
            detail,
        }
    }

    fn diagnostic_failure(&self, d: &Diagnostic) -> Failure {
        Failure {
            kind: FailureKind::Error,
            location: d.location(),
            message: d.message.clone(),
            detail: d.render(false),
        }
    }
}

/// A case ready to run.
struct Job {
    index: usize,
    file: Arc<FileCtx>,
    workflow: Arc<Workflow>,
    case: CaseSpec,
    inputs: Map<String, Value>,
}

/// Runs the given test files. Files and cases are reported in the order given, whatever order
/// they finish in.
pub async fn run_files(files: &[PathBuf], options: &TestOptions) -> TestReport {
    let started = Instant::now();
    let catalog = match &options.catalog {
        Some(c) => Ok(c.clone()),
        None => {
            let factory = options.runtime.clone();
            match tokio::task::spawn_blocking(move || factory(Arc::new(Offline))).await {
                Ok(Ok(runtime)) => Ok(Arc::new(runtime.catalog().clone())),
                Ok(Err(e)) => Err(format!("the node runtime could not be built: {e:#}")),
                Err(e) => Err(format!("the node runtime could not be built: {e}")),
            }
        }
    };
    let catalog = match catalog {
        Ok(c) => c,
        Err(problem) => {
            return TestReport {
                problems: vec![problem],
                duration: started.elapsed(),
                ..TestReport::default()
            };
        }
    };

    let mut results: Vec<Option<CaseReport>> = Vec::new();
    let mut jobs = Vec::new();
    for path in files {
        prepare_file(path, &catalog, &mut results, &mut jobs);
    }
    for r in results.iter().flatten() {
        if let Some(cb) = &options.on_case {
            cb(r);
        }
    }

    let semaphore = Arc::new(Semaphore::new(options.jobs.max(1)));
    let mut set = tokio::task::JoinSet::new();
    let mut tasks: HashMap<tokio::task::Id, (usize, String, String, String)> = HashMap::new();
    for job in jobs {
        let about = (
            job.index,
            job.file.display.clone(),
            job.file.suite.clone(),
            job.case.name.clone(),
        );
        let (semaphore, catalog, factory) =
            (semaphore.clone(), catalog.clone(), options.runtime.clone());
        let limit = options.case_timeout;
        let handle = set.spawn(async move {
            let _permit = semaphore
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            let (file, suite, name, source) = (
                job.file.display.clone(),
                job.file.suite.clone(),
                job.case.name.clone(),
                job.file.clone(),
            );
            let pos = job.case.pos;
            match tokio::time::timeout(limit, run_case(job, catalog, factory)).await {
                Ok(report) => report,
                Err(_) => {
                    let mut r = CaseReport::new(&file, &suite, &name);
                    r.outcome = Outcome::Failed;
                    r.duration = limit;
                    let message = format!(
                        "the case did not finish within {} of real time",
                        format_duration(limit)
                    );
                    r.failures
                        .push(source.failure(FailureKind::Error, pos, message, Vec::new()));
                    r
                }
            }
        });
        tasks.insert(handle.id(), about);
    }
    while let Some(joined) = set.join_next_with_id().await {
        let (id, report) = match joined {
            Ok((id, report)) => (id, report),
            Err(err) => {
                // A panic inside a case: report it against that case, by name.
                let id = err.id();
                let Some((_, file, suite, name)) = tasks.get(&id) else {
                    continue;
                };
                let mut r = CaseReport::new(file, suite, name);
                r.outcome = Outcome::Failed;
                let message =
                    format!("the case crashed (a bug in psaflow; please report it): {err}");
                r.failures.push(Failure {
                    kind: FailureKind::Error,
                    location: file.clone(),
                    detail: format!("error: {file}: {message}\n"),
                    message,
                });
                (id, r)
            }
        };
        let Some((index, ..)) = tasks.get(&id) else {
            continue;
        };
        if let Some(cb) = &options.on_case {
            cb(&report);
        }
        results[*index] = Some(report);
    }
    TestReport {
        cases: results.into_iter().flatten().collect(),
        problems: Vec::new(),
        duration: started.elapsed(),
    }
}
