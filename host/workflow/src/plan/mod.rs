//! Plan and apply. `psaflow plan` runs a workflow's read-only steps for real and stops every
//! write at the door: each would-be change is recorded (node, target record with its current
//! values, parameters) instead of sent. `psaflow apply` runs the workflow again with the plan
//! at the door: a write goes out only when the plan holds the same change and its target has
//! not changed since; anything else is skipped and reported.
//!
//! Which steps are read-only, and which node reads a write's target back, come from what the
//! nodes declare in the catalog ([`semantics`]), never from their names.
mod apply;
mod file;
mod record;
pub(crate) mod semantics;

pub use apply::{ApplyGate, Skipped};
pub use file::{PlanFile, PlanError, sha256_hex};
pub use record::{Change, PlanGate, Target};

use crate::model::Step;
use psaflow_core::{BoxFuture, Envelope, NodeInvoker, NodeSpec};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// What happens to one write the workflow is about to send.
#[derive(Debug, Clone)]
pub enum Gate {
    /// Send it.
    Send,
    /// Do not send it; use this envelope as its result (a planned change).
    Answer(Envelope),
    /// Do not send it; the item is skipped for this reason (drift, not in the plan).
    Skip(String),
}

/// Stands between the engine and every call of a node that changes something.
pub trait WriteGate: Send + Sync {
    /// Decides what happens to one call of a node that changes something, before it is sent.
    fn before_write<'a>(
        &'a self,
        invoker: &'a dyn NodeInvoker,
        step: &'a Step,
        spec: &'a NodeSpec,
        params: &'a Map<String, Value>,
        item: Option<usize>,
    ) -> BoxFuture<'a, Gate>;

    /// Steps whose results are not known (their writes were planned, not sent).
    fn unknown_steps(&self) -> BTreeSet<String> {
        BTreeSet::new()
    }

    /// Steps with `approval:` run without waiting (a plan lists them instead).
    fn waives_approvals(&self) -> bool {
        false
    }
}

/// A target record's display name: its `name`, else its `summary`.
pub(crate) fn record_name(record: &Value) -> Value {
    ["name", "summary"]
        .iter()
        .find_map(|k| record.get(*k).filter(|v| v.is_string()).cloned())
        .unwrap_or(Value::Null)
}

/// The record field a parameter sets: same letters, ignoring case and underscores
/// (`Inactive` -> `inactive`, `SiteId` -> `site_id`).
pub(crate) fn field_for<'r>(record: &'r Value, param: &str) -> Option<&'r Value> {
    let want: String = param.to_lowercase();
    record.as_object()?.iter().find_map(|(k, v)| {
        (k.replace('_', "").to_lowercase() == want).then_some(v)
    })
}

use crate::model::Workflow;
use crate::options::RunOptions;
use crate::report::{RunReport, StepStatus};
use std::sync::Arc;

/// Makes a plan: runs the workflow with every write stopped and recorded. `file` is the
/// workflow's path as apply will read it; `backend` says where the reads went.
pub async fn make_plan(
    wf: &Workflow,
    file: &str,
    invoker: &dyn NodeInvoker,
    mut opts: RunOptions,
    backend: &str,
    tenant: &str,
) -> (PlanFile, RunReport) {
    let gate = Arc::new(PlanGate::new());
    opts.gate = Some(gate.clone());
    let inputs = opts.inputs.clone();
    let report = crate::exec::run(wf, invoker, opts).await;
    let changes = gate.changes();
    let catalog = invoker.catalog();
    let step_reads: u64 = report
        .steps
        .iter()
        .filter(|s| catalog.get(&s.node).is_some_and(semantics::is_read))
        .map(|s| u64::from(s.attempts))
        .sum();
    let mut problems: Vec<String> = report
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Failed)
        .map(|s| {
            format!(
                "step '{}' failed while planning: {}",
                s.id,
                report.redactor().text(s.error.as_deref().unwrap_or("failed"))
            )
        })
        .collect();
    if let Some(e) = &report.error
        && problems.is_empty()
    {
        problems.push(report.redactor().text(e));
    }
    let approvals = wf
        .all_steps()
        .filter(|s| s.approval.is_some())
        .filter(|s| report.step(s.id()).is_some_and(|r| r.status != StepStatus::Skipped))
        .map(|s| s.id().to_string())
        .collect();
    let plan = PlanFile {
        format: file::FORMAT.to_string(),
        workflow: file.to_string(),
        workflow_name: wf.name().to_string(),
        workflow_sha256: sha256_hex(wf.source().as_bytes()),
        inputs_sha256: file::inputs_sha256(&inputs),
        inputs,
        backend: backend.to_string(),
        tenant: Some(tenant.to_string()),
        on_failure: wf
            .on_failure()
            .iter()
            .filter(|s| catalog.get(s.node()).is_some_and(|spec| !semantics::is_read(spec)))
            .map(|s| file::FailureStep {
                step: s.id().to_string(),
                node: s.node().to_string(),
            })
            .collect(),
        requests: file::Requests {
            reads_made: step_reads + gate.target_reads(),
            writes_planned: changes.len() as u64,
            drift_checks: changes.iter().filter(|c| c.observed.is_some()).count() as u64,
        },
        changes,
        approvals,
        problems,
    };
    (plan, report)
}

/// Applies a plan: refuses when the workflow text or inputs differ from the plan's; else runs
/// the workflow with only the planned, undrifted writes let through. Returns the run report
/// and every planned change that was not made, with why.
pub async fn apply_plan(
    wf: &Workflow,
    plan: &PlanFile,
    invoker: &dyn NodeInvoker,
    mut opts: RunOptions,
) -> Result<(RunReport, Vec<Skipped>), PlanError> {
    plan.check_matches(wf.source(), &plan.inputs)?;
    if !opts.inputs.is_empty() {
        plan.check_matches(wf.source(), &opts.inputs)?;
    }
    opts.inputs = plan.inputs.clone();
    let rollback = wf.on_failure().iter().map(|s| s.id().to_string()).collect();
    let gate = Arc::new(ApplyGate::new(plan.changes.clone(), rollback));
    opts.gate = Some(gate.clone());
    let report = crate::exec::run(wf, invoker, opts).await;
    Ok((report, gate.skipped()))
}
