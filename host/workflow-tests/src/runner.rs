//! Finding test files, preparing their cases, running the cases in parallel (each with its own
//! sandbox, runtime and virtual clock), and checking what each case expects.
use psaflow_workflow::expr::text as expr;
use crate::invoker::{Call, CaseBackend, CaseInvoker, RuntimeFactory, Tracker};
use crate::matching::{self, Mismatch, Mode, show};
use crate::report::{CaseReport, Failure, FailureKind, Outcome, TestReport};
use crate::spec::{self, CaseSpec, Expect, TestFile};
use crate::yaml::Node;
use psaflow_core::names::suggest;
use psaflow_core::{
    ApiRequest, ApiResponse, BoxFuture, Catalog, Clock, NodeInvoker, Transport, TransportError,
    VirtualClock,
};
use psaflow_workflow::journal::ApprovalAnswer;
use psaflow_workflow::{
    Diagnostic, Pos, Redactor, RunEvent, RunOptions, RunReport, StepStatus, Workflow,
    format_duration,
};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

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

/// Folders never searched (they are still searched when named explicitly).
const SKIPPED_DIRS: &[&str] = &["target", "node_modules"];

/// True for `*.test.yaml` and `*.test.yml`.
pub fn is_test_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".test.yaml") || n.ends_with(".test.yml"))
}

/// The test files under `paths` (files are taken as given; folders are searched recursively
/// for `*.test.yaml`, skipping hidden folders, `target` and `node_modules`), sorted and without
/// repeats. No paths means the current folder. A path that does not exist is an error.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let default = [PathBuf::from(".")];
    let paths = if paths.is_empty() {
        &default[..]
    } else {
        paths
    };
    let mut found = Vec::new();
    for path in paths {
        if path.is_file() {
            found.push(path.clone());
        } else if path.is_dir() {
            walk(path, &mut found).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        } else {
            return Err(format!("{}: no such file or folder", path.display()));
        }
    }
    let mut seen = std::collections::HashSet::new();
    found.retain(|p| seen.insert(p.canonicalize().unwrap_or_else(|_| p.clone())));
    // `./a/b.test.yaml` reads better as `a/b.test.yaml` in messages.
    Ok(found
        .into_iter()
        .map(|p| p.strip_prefix(".").map(Path::to_path_buf).unwrap_or(p))
        .collect())
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if !name.starts_with('.') && !SKIPPED_DIRS.contains(&name) {
                walk(&path, found)?;
            }
        } else if is_test_file(&path) {
            found.push(path);
        }
    }
    Ok(())
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

/// Reads one test file and its workflow, and either queues its cases or reports why they
/// cannot run.
fn prepare_file(
    path: &Path,
    catalog: &Arc<Catalog>,
    results: &mut Vec<Option<CaseReport>>,
    jobs: &mut Vec<Job>,
) {
    let file: TestFile = spec::load(path);
    let ctx = Arc::new(FileCtx {
        display: file.display.clone(),
        suite: file.name.clone(),
        source: file.source.clone(),
    });
    let fail_all = |results: &mut Vec<Option<CaseReport>>, failures: Vec<Failure>| {
        let names: Vec<String> = if file.cases.is_empty() {
            vec![file.name.clone()]
        } else {
            file.cases.iter().map(|c| c.name.clone()).collect()
        };
        for name in names {
            let mut r = CaseReport::new(&ctx.display, &ctx.suite, &name);
            r.outcome = Outcome::Failed;
            r.failures = failures.clone();
            results.push(Some(r));
        }
    };
    if !file.problems.is_empty() {
        let failures = file
            .problems
            .iter()
            .map(|d| ctx.diagnostic_failure(d))
            .collect();
        fail_all(results, failures);
        return;
    }
    let (Some(wf_path), Some(wf_ref)) = (file.workflow_path(), file.workflow.as_ref()) else {
        return;
    };
    let workflow = match psaflow_workflow::load(&wf_path) {
        Ok(wf) => wf,
        Err(diags) => {
            let f = ctx.failure(
                FailureKind::Error,
                wf_ref.pos,
                format!("the workflow {} cannot be read", wf_path.display()),
                vec![diags.render(false).trim_end().to_string()],
            );
            fail_all(results, vec![f]);
            return;
        }
    };
    if let Err(diags) = psaflow_workflow::validate(&workflow, catalog) {
        let f = ctx.failure(
            FailureKind::Error,
            wf_ref.pos,
            format!("the workflow {} is invalid", wf_path.display()),
            vec![diags.render(false).trim_end().to_string()],
        );
        fail_all(results, vec![f]);
        return;
    }
    let workflow = Arc::new(workflow);
    for case in file.cases {
        let mut report = CaseReport::new(&ctx.display, &ctx.suite, &case.name);
        let mut failures: Vec<Failure> = case
            .problems
            .iter()
            .map(|d| ctx.diagnostic_failure(d))
            .collect();
        failures.extend(check_references(&ctx, &case, &workflow, catalog));
        // Input files ("@roster.csv") are read relative to the test file.
        let base = file.path.parent().unwrap_or(std::path::Path::new(""));
        let inputs =
            match psaflow_workflow::resolve_inputs_in(&workflow, &[], Some(case.inputs.clone()), base) {
                Ok(inputs) => inputs,
                Err(diags) => {
                    failures.push(ctx.failure(
                        FailureKind::Error,
                        case.inputs_pos,
                        "the inputs do not fit the workflow",
                        vec![diags.render(false).trim_end().to_string()],
                    ));
                    Map::new()
                }
            };
        if let Some(reason) = &case.skip {
            report.outcome = Outcome::Skipped;
            report.skip_reason = Some(reason.clone());
            results.push(Some(report));
            continue;
        }
        if !failures.is_empty() {
            let redactor = Redactor::new(case.secrets.values().cloned());
            report.outcome = Outcome::Failed;
            report.failures = failures
                .into_iter()
                .map(|f| redact_failure(f, &redactor))
                .collect();
            results.push(Some(report));
            continue;
        }
        jobs.push(Job {
            index: results.len(),
            file: ctx.clone(),
            workflow: workflow.clone(),
            case,
            inputs,
        });
        results.push(None);
    }
}

/// Names in the case that must exist in the workflow or the catalog.
fn check_references(
    ctx: &FileCtx,
    case: &CaseSpec,
    wf: &Workflow,
    catalog: &Catalog,
) -> Vec<Failure> {
    let step_ids: Vec<&str> = wf.steps().iter().map(|s| s.id()).collect();
    let mut out = Vec::new();
    let unknown = |what: &str, name: &str, pos: Pos, also_nodes: bool| {
        let candidates: Vec<&str> = if also_nodes {
            step_ids.iter().copied().chain(catalog.ids()).collect()
        } else {
            step_ids.clone()
        };
        let help = match suggest(name, candidates.iter().copied()) {
            Some(s) => format!("did you mean '{s}'?"),
            None => format!("the workflow's steps: {}", step_ids.join(", ")),
        };
        let mut f = ctx.failure(
            FailureKind::Error,
            pos,
            format!(
                "{what} '{name}' is not a step of the workflow{}",
                if also_nodes { " nor a node id" } else { "" }
            ),
            Vec::new(),
        );
        f.detail.push_str(&format!("help: {help}\n"));
        f
    };
    for m in &case.mocks {
        let key = &m.key.value;
        if !step_ids.contains(&key.as_str()) && catalog.get(key).is_none() {
            out.push(unknown("mock", key, m.key.pos, true));
        }
    }
    for s in &case.expect.steps {
        if !step_ids.contains(&s.id.value.as_str()) {
            out.push(unknown("expected step", &s.id.value, s.id.pos, false));
        }
    }
    for c in &case.expect.calls {
        let key = &c.key.value;
        if !step_ids.contains(&key.as_str()) && catalog.get(key).is_none() {
            out.push(unknown("calls of", key, c.key.pos, true));
        }
    }
    out
}

/// Masks secrets, then shortens long lines: in that order, so a cut can never leave the start
/// of a secret that masking would no longer recognise.
fn redact_failure(mut f: Failure, r: &Redactor) -> Failure {
    f.message = matching::shorten_lines(&r.text(&f.message));
    f.detail = matching::shorten_lines(&r.text(&f.detail));
    f
}

/// Runs one case: its sandbox and clock, the workflow, then every expectation.
async fn run_case(job: Job, catalog: Arc<Catalog>, factory: RuntimeFactory) -> CaseReport {
    let started = Instant::now();
    let Job {
        file,
        workflow,
        case,
        inputs,
        ..
    } = job;
    let mut report = CaseReport::new(&file.display, &file.suite, &case.name);
    let clock = Arc::new(VirtualClock::new());
    let tracker = Arc::new(Tracker::default());
    let backend = Arc::new(CaseBackend::new(
        case.sandbox.clone().unwrap_or_default(),
        factory,
        clock.clone(),
    ));
    let secrets = Redactor::new(case.secrets.values().cloned());

    // A `sandbox:` block means fixtures (or seeding) matter before the run: start it now.
    if case.sandbox.is_some()
        && let Err(err) = backend.sandbox().await
    {
        let pos = case.sandbox.as_ref().map_or(case.pos, |s| s.pos);
        report
            .failures
            .push(file.failure(FailureKind::Error, pos, err, Vec::new()));
        report.outcome = Outcome::Failed;
        report.duration = started.elapsed();
        return report;
    }

    let mocks = case
        .mocks
        .iter()
        .map(|m| (m.key.value.clone(), m.responses.clone()))
        .collect();
    let invoker = CaseInvoker::new(
        catalog,
        mocks,
        tracker.clone(),
        clock.clone(),
        backend.clone(),
    );
    // A decision for a step that does not ask for one is a mistake in the test.
    let mut wrong_decisions = Vec::new();
    for (step, decision) in &case.approvals {
        let problem = match workflow.step(step) {
            None => Some(format!("approvals.{step}: the workflow has no step '{step}'")),
            Some(s) if s.approval.is_none() => Some(format!(
                "approvals.{step}: step '{step}' has no `approval:`, so there is nothing to decide"
            )),
            Some(_) => None,
        };
        if let Some(problem) = problem {
            wrong_decisions.push(file.failure(FailureKind::Error, decision.pos, problem, Vec::new()));
        }
    }
    if !wrong_decisions.is_empty() {
        report.failures = wrong_decisions;
        report.outcome = Outcome::Failed;
        report.duration = started.elapsed();
        return report;
    }
    let mut env = case.env.clone();
    env.extend(case.secrets.clone());
    let options = RunOptions {
        inputs: inputs.clone(),
        env: env.clone(),
        secrets: case.secrets.values().cloned().collect(),
        dry_run: false,
        clock: clock.clone(),
        observer: Some(tracker.clone()),
        journal: None,
        gate: None,
        decisions: case
            .approvals
            .iter()
            .map(|(step, approve)| {
                let by = "psaflow test".to_string();
                let answer = if approve.value {
                    ApprovalAnswer::Approved { by, comment: None }
                } else {
                    ApprovalAnswer::Rejected { by, comment: None }
                };
                (step.clone(), answer)
            })
            .collect(),
        backend: Some("sandbox".into()),
    };
    let run = psaflow_workflow::run(&workflow, &invoker, options).await;
    let calls = invoker.calls();
    let redactor = run.redactor().clone();
    for s in case.secrets.values() {
        redactor.add(s);
    }

    let mut failures = Vec::new();
    for problem in invoker.problems() {
        failures.push(file.failure(FailureKind::Error, case.pos, problem, Vec::new()));
    }
    let context = expression_context(&run, &inputs, &env, &calls, &clock);
    let checker = Checker {
        file: &file,
        case: &case,
        run: &run,
        calls: &calls,
        context: &context,
        clock: &clock,
    };
    failures.extend(checker.run_expectations(&case.expect));
    failures.extend(checker.sandbox_expectations(&case.expect, &backend).await);

    report.failures = failures
        .into_iter()
        .map(|f| redact_failure(f, &redactor))
        .collect();
    report.outcome = if report.failures.is_empty() {
        Outcome::Passed
    } else {
        Outcome::Failed
    };
    report.trace = trace(&run, &calls, &tracker.events(), &clock);
    report.virtual_time = clock.elapsed();
    report.waits = clock.sleeps();
    report.calls = calls;
    report.duration = started.elapsed();
    let _ = secrets;
    report
}

/// The names `${{ }}` checks can read after the run.
fn expression_context(
    run: &RunReport,
    inputs: &Map<String, Value>,
    env: &std::collections::BTreeMap<String, String>,
    calls: &[Call],
    clock: &VirtualClock,
) -> Value {
    let steps: Map<String, Value> = run
        .steps
        .iter()
        .map(|s| (s.id.clone(), s.context_value()))
        .collect();
    let results: Map<String, Value> = run
        .steps
        .iter()
        .map(|s| {
            (
                s.id.clone(),
                json!({
                    "status": s.status.as_str(),
                    "attempts": s.attempts,
                    "error": s.error,
                    "params": s.params,
                    "node": s.node,
                }),
            )
        })
        .collect();
    json!({
        "status": run.status.as_str(),
        "error": run.error,
        "outputs": run.outputs,
        "steps": steps,
        "results": results,
        "inputs": inputs,
        "env": env,
        "calls": calls.iter().map(Call::to_json).collect::<Vec<_>>(),
        "clock": {
            "elapsed": clock.elapsed().as_secs_f64(),
            "waits": clock.sleeps().iter().map(Duration::as_secs_f64).collect::<Vec<_>>(),
        },
    })
}

/// Checks a case's expectations against its run.
struct Checker<'a> {
    file: &'a FileCtx,
    case: &'a CaseSpec,
    run: &'a RunReport,
    calls: &'a [Call],
    context: &'a Value,
    clock: &'a VirtualClock,
}

/// `expected: ... / actual: ... / diff:` lines of a failed comparison.
fn comparison_lines(
    expected: &Node,
    actual: Option<&Value>,
    mode: Mode,
    mismatches: &[Mismatch],
) -> Vec<String> {
    let how = match mode {
        Mode::Subset => " (these keys at least)",
        Mode::Exact => " (exactly)",
    };
    let mut lines = vec![
        format!("expected{how}: {}", show(&expected.to_json())),
        format!(
            "actual: {}",
            actual.map_or_else(|| "(missing)".to_string(), show)
        ),
        "diff:".to_string(),
    ];
    for m in mismatches {
        for l in m.diff_lines() {
            lines.push(format!("  {l}"));
        }
    }
    lines
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

impl Checker<'_> {
    fn fail(&self, pos: Pos, message: impl Into<String>, body: Vec<String>) -> Failure {
        self.file
            .failure(FailureKind::Assertion, pos, message, body)
    }

    /// Compares and, when different, fails at the first differing expected value.
    fn compare(
        &self,
        message: String,
        expected: &Node,
        actual: Option<&Value>,
        mode: Mode,
    ) -> Option<Failure> {
        let mismatches = matching::compare(expected, actual, mode, self.context);
        let first = mismatches.first()?;
        let pos = if first.pos.is_known() {
            first.pos
        } else {
            expected.pos
        };
        Some(self.fail(
            pos,
            message,
            comparison_lines(expected, actual, mode, &mismatches),
        ))
    }

    /// Why the run failed, in lines (for status failures).
    fn run_errors(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(e) = &self.run.error {
            lines.push(format!("run error: {e}"));
        }
        for s in &self.run.steps {
            if s.status == StepStatus::Failed {
                lines.push(format!(
                    "step '{}' failed: {}",
                    s.id,
                    s.error.as_deref().unwrap_or("failed")
                ));
            }
        }
        lines
    }

    fn run_expectations(&self, e: &Expect) -> Vec<Failure> {
        let mut out = Vec::new();
        let (want, pos) = match &e.status {
            Some(s) => (s.value.as_str(), s.pos),
            None => ("succeeded", self.case.pos),
        };
        let got = self.run.status.as_str();
        if want != got {
            let mut body = vec![format!("expected: {want}"), format!("actual: {got}")];
            if e.status.is_none() {
                body.push("(a case expects `status: succeeded` unless it says otherwise)".into());
            }
            body.extend(self.run_errors());
            out.push(self.fail(
                pos,
                format!("the run {got}, expected it to have {want}"),
                body,
            ));
        }
        if let Some(want) = &e.error {
            let mut texts: Vec<String> = self.run.error.iter().cloned().collect();
            texts.extend(self.run.steps.iter().filter_map(|s| s.error.clone()));
            if !texts.iter().any(|t| t.contains(&want.value)) {
                let mut body = vec![format!("expected an error containing: {:?}", want.value)];
                if texts.is_empty() {
                    body.push("actual: no error".into());
                } else {
                    body.extend(texts.iter().map(|t| format!("actual: {t}")));
                }
                out.push(self.fail(want.pos, "no error contains the expected text", body));
            }
        }
        for s in &e.steps {
            out.extend(self.step(s));
        }
        if let Some(outputs) = &e.outputs {
            let actual = Value::Object(self.run.outputs.clone());
            out.extend(self.compare(
                "outputs do not match".into(),
                outputs,
                Some(&actual),
                Mode::Subset,
            ));
        }
        for c in &e.calls {
            out.extend(self.calls_of(c));
        }
        if let Some(waits) = &e.waits {
            let got = self.clock.sleeps();
            let same = got.len() == waits.value.len()
                && got
                    .iter()
                    .zip(&waits.value)
                    .all(|(a, b)| a.as_millis() == b.as_millis());
            if !same {
                let show_list = |l: &[Duration]| {
                    format!(
                        "[{}]",
                        l.iter()
                            .map(|d| format_duration(*d))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                out.push(self.fail(
                    waits.pos,
                    "the virtual clock's waits do not match",
                    vec![
                        format!("expected: {}", show_list(&waits.value)),
                        format!("actual: {}", show_list(&got)),
                    ],
                ));
            }
        }
        for a in &e.assert {
            match expr::eval_string(&a.value, self.context) {
                Ok(Value::Bool(true)) => {}
                Ok(other) => out.push(self.fail(
                    a.pos,
                    "the check is not true",
                    vec![
                        format!("expected: {} to be true", a.value),
                        format!("actual: {}", show(&other)),
                    ],
                )),
                Err(err) => out.push(self.fail(
                    a.pos,
                    "the check could not be evaluated",
                    vec![
                        format!("expected: {} to be true", a.value),
                        format!("actual: error: {err}"),
                    ],
                )),
            }
        }
        out
    }

    fn step(&self, s: &spec::StepExpect) -> Vec<Failure> {
        let mut out = Vec::new();
        let Some(step) = self.run.step(&s.id.value) else {
            return out;
        };
        let what = format!("step '{}'", s.id.value);
        if let Some(want) = &s.status
            && want.value != step.status.as_str()
        {
            let mut body = vec![
                format!("expected: {}", want.value),
                format!("actual: {}", step.status.as_str()),
            ];
            if let Some(e) = step.error.as_deref().or(step.skip_reason.as_deref()) {
                body.push(format!("because: {e}"));
            }
            out.push(self.fail(
                want.pos,
                format!("{what} {}, expected {}", step.status.as_str(), want.value),
                body,
            ));
        }
        if let Some(want) = &s.attempts
            && want.value != u64::from(step.attempts)
        {
            out.push(self.fail(
                want.pos,
                format!(
                    "{what} made {}, expected {}",
                    plural(step.attempts.into(), "attempt"),
                    plural(want.value, "attempt")
                ),
                vec![
                    format!("expected: {}", want.value),
                    format!("actual: {}", step.attempts),
                ],
            ));
        }
        let envelope = step.context_value();
        if let Some(node) = &s.envelope {
            out.extend(self.compare(
                format!("{what} envelope does not match"),
                node,
                Some(&envelope),
                Mode::Subset,
            ));
        }
        if let Some(node) = &s.envelope_equals {
            out.extend(self.compare(
                format!("{what} envelope does not match"),
                node,
                Some(&envelope),
                Mode::Exact,
            ));
        }
        if let Some(node) = &s.params {
            // The parameters of the step's last call (as sent, before masking).
            let sent = self
                .calls
                .iter()
                .rev()
                .find(|c| c.step.as_deref() == Some(s.id.value.as_str()))
                .map(|c| Value::Object(c.params.clone()));
            let sent = sent.or_else(|| step.params.clone().map(Value::Object));
            out.extend(self.compare(
                format!("{what} parameters do not match"),
                node,
                sent.as_ref(),
                Mode::Subset,
            ));
        }
        if let Some(want) = &s.error {
            let got = step.error.as_deref().unwrap_or("");
            if !got.contains(&want.value) {
                out.push(self.fail(
                    want.pos,
                    format!("{what}'s error does not contain the expected text"),
                    vec![
                        format!("expected an error containing: {:?}", want.value),
                        format!("actual: {}", if got.is_empty() { "no error" } else { got }),
                    ],
                ));
            }
        }
        out
    }

    fn calls_of(&self, c: &spec::CallExpect) -> Vec<Failure> {
        let key = c.key.value.as_str();
        let by_node = key.contains('.');
        let calls: Vec<&Call> = self
            .calls
            .iter()
            .filter(|call| {
                if by_node {
                    call.node == key
                } else {
                    call.step.as_deref() == Some(key)
                }
            })
            .collect();
        let what = if by_node {
            format!("calls of {key}")
        } else {
            format!("calls made by step '{key}'")
        };
        let mut out = Vec::new();
        let summary = |calls: &[&Call]| -> Vec<String> {
            calls
                .iter()
                .enumerate()
                .map(|(i, call)| {
                    let by = call
                        .step
                        .as_deref()
                        .map(|s| format!(" by step '{s}'"))
                        .unwrap_or_default();
                    format!(
                        "  call {}{by}: {}",
                        i + 1,
                        show(&Value::Object(call.params.clone()))
                    )
                })
                .collect()
        };
        if let Some(times) = &c.times
            && times.value != calls.len() as u64
        {
            let mut body = vec![
                format!("expected: {}", plural(times.value, "call")),
                format!("actual: {}", plural(calls.len() as u64, "call")),
            ];
            body.extend(summary(&calls));
            out.push(self.fail(
                times.pos,
                format!("{what}: expected {}, got {}", times.value, calls.len()),
                body,
            ));
        }
        let Some(with) = &c.with else { return out };
        match with.as_seq() {
            Some(per_call) => {
                if per_call.len() != calls.len() && c.times.is_none() {
                    let mut body = vec![
                        format!(
                            "expected: {} (one per entry of `with`)",
                            plural(per_call.len() as u64, "call")
                        ),
                        format!("actual: {}", plural(calls.len() as u64, "call")),
                    ];
                    body.extend(summary(&calls));
                    out.push(self.fail(
                        with.pos,
                        format!("{what}: expected {}, got {}", per_call.len(), calls.len()),
                        body,
                    ));
                }
                for (i, (node, call)) in per_call.iter().zip(&calls).enumerate() {
                    let params = Value::Object(call.params.clone());
                    out.extend(self.compare(
                        format!("{what}: the parameters of call {} do not match", i + 1),
                        node,
                        Some(&params),
                        Mode::Subset,
                    ));
                }
            }
            None => {
                if calls.is_empty() && c.times.as_ref().is_none_or(|t| t.value > 0) {
                    out.push(self.fail(
                        with.pos,
                        format!(
                            "{what}: expected calls with these parameters, but there were none"
                        ),
                        vec![
                            format!("expected: {}", show(&with.to_json())),
                            "actual: no calls".into(),
                        ],
                    ));
                }
                for (i, call) in calls.iter().enumerate() {
                    let params = Value::Object(call.params.clone());
                    out.extend(self.compare(
                        format!("{what}: the parameters of call {} do not match", i + 1),
                        with,
                        Some(&params),
                        Mode::Subset,
                    ));
                }
            }
        }
        out
    }

    async fn sandbox_expectations(&self, e: &Expect, backend: &CaseBackend) -> Vec<Failure> {
        let mut out = Vec::new();
        if e.sandbox.is_empty() {
            return out;
        }
        let sandbox = match backend.sandbox().await {
            Ok(s) => s,
            Err(err) => {
                out.push(
                    self.file
                        .failure(FailureKind::Error, e.sandbox[0].pos, err, Vec::new()),
                );
                return out;
            }
        };
        for s in &e.sandbox {
            let records = sandbox.records(s.entity);
            let matching: Vec<&Value> = records
                .iter()
                .filter(|r| matching::matches(&s.filter, r, self.context))
                .collect();
            let filter = show(&s.filter.to_json());
            let (ok, wanted) = match (&s.count, s.exists) {
                (Some(n), _) => (
                    matching.len() as u64 == n.value,
                    format!("{} {} matching {filter}", n.value, s.entity_name),
                ),
                (None, true) => (
                    !matching.is_empty(),
                    format!("a {} matching {filter}", s.entity_name),
                ),
                (None, false) => (
                    matching.is_empty(),
                    format!("no {} matching {filter}", s.entity_name),
                ),
            };
            if ok {
                continue;
            }
            let mut pos = if s.filter.pos.is_known() {
                s.filter.pos
            } else {
                s.pos
            };
            let mut body = vec![
                format!("expected: {wanted}"),
                format!(
                    "actual: {} of {} {} record(s) match",
                    matching.len(),
                    records.len(),
                    s.entity_name
                ),
            ];
            if matching.is_empty() {
                // The record closest to the filter, and how it differs.
                let closest = records
                    .iter()
                    .map(|r| {
                        (
                            matching::compare(&s.filter, Some(r), Mode::Subset, self.context),
                            r,
                        )
                    })
                    .min_by_key(|(m, _)| m.len());
                if let Some((mismatches, record)) = closest {
                    // Point at the first field the closest record gets wrong.
                    if let Some(first) = mismatches.first().filter(|m| m.pos.is_known()) {
                        pos = first.pos;
                    }
                    body.push(format!("closest: {}", show(record)));
                    body.push("diff:".into());
                    for m in &mismatches {
                        body.extend(m.diff_lines().into_iter().map(|l| format!("  {l}")));
                    }
                }
            } else {
                for r in matching.iter().take(3) {
                    body.push(format!("found: {}", show(r)));
                }
            }
            out.push(self.fail(pos, format!("the sandbox does not hold {wanted}"), body));
        }
        out
    }
}

/// Each step with status, attempts and envelope; secrets masked with the run's redactor.
fn trace(run: &RunReport, calls: &[Call], events: &[RunEvent], clock: &VirtualClock) -> String {
    let r = run.redactor();
    let mut out = format!(
        "run {} (virtual time {})\n",
        run.status.as_str(),
        format_duration(clock.elapsed())
    );
    if let Some(e) = &run.error {
        out.push_str(&format!("error: {}\n", r.text(e)));
    }
    for s in &run.steps {
        let mocked = calls
            .iter()
            .any(|c| c.step.as_deref() == Some(s.id.as_str()) && c.mocked);
        let mut line = format!("step {} [{}]: {}", s.id, s.node, s.status.as_str());
        if s.status != StepStatus::Skipped {
            line.push_str(&format!(", {}", plural(s.attempts.into(), "attempt")));
        }
        if mocked {
            line.push_str(" (mocked)");
        }
        out.push_str(&r.text(&line));
        out.push('\n');
        if let Some(reason) = &s.skip_reason {
            out.push_str(&format!("  skipped: {}\n", r.text(reason)));
        }
        for ev in events {
            if let RunEvent::AttemptFailed {
                id,
                index,
                attempt,
                message,
                retry_in,
            } = ev
                && id == &s.id
            {
                let item = index.map(|i| format!(" (item {i})")).unwrap_or_default();
                let next = retry_in
                    .map(|d| format!("; retry in {}", format_duration(d)))
                    .unwrap_or_default();
                out.push_str(&format!(
                    "  attempt {attempt}{item} failed: {}{next}\n",
                    r.text(message)
                ));
            }
        }
        if let Some(e) = &s.error {
            out.push_str(&format!("  error: {}\n", r.text(e)));
        }
        let value = s.context_value();
        if !value.is_null() {
            let key = if s.items.is_some() {
                "envelopes"
            } else {
                "envelope"
            };
            out.push_str(&format!(
                "  {key}: {}\n",
                matching::shorten(&r.value(&value).to_string(), 400)
            ));
        }
    }
    if !run.outputs.is_empty() {
        out.push_str(&format!(
            "outputs: {}\n",
            matching::shorten(&Value::Object(r.map(&run.outputs)).to_string(), 400)
        ));
    }
    let waits = clock.sleeps();
    if !waits.is_empty() {
        out.push_str(&format!(
            "waits: {}\n",
            waits
                .iter()
                .map(|d| format_duration(*d))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out
}
