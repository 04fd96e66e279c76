//! Reading a test file and its workflow into runnable cases, or the reasons they cannot run.
use super::{FileCtx, Job};
use crate::matching::{self};
use crate::report::{CaseReport, Failure, FailureKind, Outcome};
use crate::spec::{self, CaseSpec, TestFile};
use psaflow_core::Catalog;
use psaflow_core::names::suggest;
use psaflow_workflow::{Pos, Redactor, Workflow};
use serde_json::Map;
use std::path::Path;
use std::sync::Arc;

/// Reads one test file and its workflow, and either queues its cases or reports why they
/// cannot run.
pub(super) fn prepare_file(
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
        let inputs = match psaflow_workflow::resolve_inputs_in(
            &workflow,
            &[],
            Some(case.inputs.clone()),
            base,
        ) {
            Ok(inputs) => inputs,
            Err(diags) => {
                failures.push(ctx.failure(
                    FailureKind::Error,
                    case.inputs_pos,
                    "the inputs do not fit the workflow",
                    vec![in_case_terms(&diags).render(false).trim_end().to_string()],
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
pub(super) fn check_references(
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
pub(super) fn redact_failure(mut f: Failure, r: &Redactor) -> Failure {
    f.message = matching::shorten_lines(&r.text(&f.message));
    f.detail = matching::shorten_lines(&r.text(&f.detail));
    f
}

/// Input problems as a test file fixes them: a missing input goes in the case's `inputs:`,
/// not on a command line (`pass --input client_name=text`).
fn in_case_terms(diags: &psaflow_workflow::Diagnostics) -> psaflow_workflow::Diagnostics {
    let mut out = psaflow_workflow::Diagnostics::new();
    for d in diags.iter() {
        let mut d = d.clone();
        if let Some(rest) = d
            .help
            .as_deref()
            .and_then(|h| h.strip_prefix("pass --input "))
            && let Some((name, _)) = rest.split_once('=')
        {
            d.help = Some(format!(
                "give it in the case's inputs, e.g. `inputs: {{{name}: ...}}`"
            ));
        }
        out.push(d);
    }
    out
}
