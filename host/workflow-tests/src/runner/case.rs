//! Running one case: its sandbox and clock, the workflow, then every expectation.
use super::Job;
use super::checker::Checker;
use super::prepare::redact_failure;
use super::trace::trace;
use crate::invoker::{Call, CaseBackend, CaseInvoker, RuntimeFactory, Tracker};
use crate::report::{CaseReport, FailureKind, Outcome};
use psaflow_core::{Catalog, Clock, VirtualClock};
use psaflow_workflow::journal::ApprovalAnswer;
use psaflow_workflow::{Redactor, RunOptions, RunReport};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs one case: its sandbox and clock, the workflow, then every expectation.
pub(super) async fn run_case(
    job: Job,
    catalog: Arc<Catalog>,
    factory: RuntimeFactory,
) -> CaseReport {
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
            None => Some(format!(
                "approvals.{step}: the workflow has no step '{step}'"
            )),
            Some(s) if s.approval.is_none() => Some(format!(
                "approvals.{step}: step '{step}' has no `approval:`, so there is nothing to decide"
            )),
            Some(_) => None,
        };
        if let Some(problem) = problem {
            wrong_decisions.push(file.failure(
                FailureKind::Error,
                decision.pos,
                problem,
                Vec::new(),
            ));
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
        ..RunOptions::default()
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
pub(super) fn expression_context(
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
