//! The top-level loop: validate, then run steps in order, stop at the first failing step
//! (unless it has `continue_on_error`), evaluate outputs, and build the report.
use super::Ctx;
use super::approval::{self, Gate};
use super::durable;
use super::for_each::run_for_each;
use super::step::run_single;
use crate::dryrun;
use crate::events::RunEvent;
use crate::expr::{self, Mode, Scope, StepValue};
use crate::journal::ApprovalAnswer;
use crate::model::Workflow;
use crate::options::RunOptions;
use crate::report::{RunReport, RunStatus, StepReport, StepStatus};
use crate::validate::validate;
use psaflow_core::NodeInvoker;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

fn all_skipped(wf: &Workflow, reason: &str) -> Vec<StepReport> {
    wf.all_steps()
        .map(|s| StepReport::skipped(s.id(), s.node(), reason, s.for_each.is_some()))
        .collect()
}

/// What `steps.<id>` reads, in the order the steps ran.
#[derive(Default)]
struct Seen(Vec<(String, StepValue)>);

impl Seen {
    fn insert(&mut self, id: String, value: StepValue) {
        match self.0.iter_mut().find(|(seen, _)| *seen == id) {
            Some(entry) => entry.1 = value,
            None => self.0.push((id, value)),
        }
    }
}

/// Walks one list of steps, adding to the run's report and to what `steps.<id>` reads.
struct Walk<'w, 'c> {
    ctx: &'w Ctx<'c>,
    inputs: &'w Value,
    env: &'w Value,
    seen: &'w mut Seen,
    report: &'w mut RunReport,
    /// The step that stopped this list (later steps in it are skipped).
    stopped_by: Option<String>,
    /// Why later steps are skipped, when it is not a failure (a rejection, a wait).
    stop_reason: Option<String>,
    /// Approval decisions for runs without a journal.
    decisions: &'w BTreeMap<String, ApprovalAnswer>,
    /// `run` as `on_failure`/`finally` steps see it.
    run_info: Option<Value>,
    /// Each step runs whatever the ones before it did (`finally:`, cleanup): a failure fails
    /// the run but skips nothing after it.
    independent: bool,
}

impl Walk<'_, '_> {
    /// Asks the step's approval, if it has one. `false` means the step does not run: the
    /// run waits, was rejected, or the approval could not be asked; the report says which.
    async fn approved(&mut self, step: &crate::model::Step, scope: &Scope) -> bool {
        let ctx = self.ctx;
        // A plan stops writes at its own gate and lists approval points instead of waiting.
        if ctx.gate.as_ref().is_some_and(|g| g.waives_approvals()) {
            return true;
        }
        let id = step.id().to_string();
        let (reason, failed) = match approval::gate(ctx, step, scope, self.decisions).await {
            Gate::Go => return true,
            Gate::Wait(waiting) => {
                durable::step_note(ctx, step, "waiting_approval", None, None).await;
                let reason = format!("waiting for approval: {}", waiting.message);
                self.report.status = RunStatus::WaitingApproval;
                self.report.waiting = Some(waiting);
                self.stop_reason = Some(format!("not run yet: step '{id}' waits for approval"));
                (reason, None)
            }
            Gate::Rejected(reason) => {
                durable::step_note(ctx, step, "skipped", None, Some(reason.clone())).await;
                self.report.status = RunStatus::Failed;
                self.report.error = Some(format!("step '{id}' was {reason}"));
                self.stop_reason = Some(format!("not run: step '{id}' was rejected"));
                (reason, None)
            }
            Gate::Failed(message) => (String::new(), Some(message)),
        };
        let mut r = StepReport::skipped(&id, step.node(), reason.clone(), step.for_each.is_some());
        r.name = step.name.clone();
        match failed {
            None => ctx.emit(RunEvent::StepSkipped {
                id: id.clone(),
                reason,
            }),
            Some(message) => {
                r.skip_reason = None;
                r.status = StepStatus::Failed;
                r.error = Some(message.clone());
                ctx.emit(RunEvent::StepFinished {
                    id: id.clone(),
                    status: StepStatus::Failed,
                    message: Some(message),
                });
                self.report.status = RunStatus::Failed;
            }
        }
        self.report.steps.push(r);
        self.stopped_by = Some(id.clone());
        self.seen.insert(id, StepValue::Value(Value::Null));
        false
    }

    fn skip_all(&mut self, steps: &[crate::model::Step], reason: &str) {
        for step in steps {
            self.report.steps.push(StepReport::skipped(
                step.id(),
                step.node(),
                reason,
                step.for_each.is_some(),
            ));
            self.seen.insert(step.id().to_string(), StepValue::Value(Value::Null));
        }
    }

    async fn steps(&mut self, steps: &[crate::model::Step]) {
        let ctx = self.ctx;
        for step in steps {
            let id = step.id().to_string();
            if let Some(failed) = &self.stopped_by {
                let reason = self
                    .stop_reason
                    .clone()
                    .unwrap_or_else(|| format!("not run: step '{failed}' failed"));
                ctx.emit(RunEvent::StepSkipped {
                    id: id.clone(),
                    reason: reason.clone(),
                });
                self.report.steps.push(StepReport::skipped(
                    &id,
                    step.node(),
                    reason,
                    step.for_each.is_some(),
                ));
                self.seen.insert(id, StepValue::Value(Value::Null));
                continue;
            }
            let mut scope = Scope::with_steps(self.inputs, self.env, &self.seen.0);
            if let Some(run) = &self.run_info {
                scope = scope.with_run(run);
            }
            if let Some(gate) = &self.ctx.gate {
                scope = scope.with_unknown_steps(gate.unknown_steps());
            }
            if !self.approved(step, &scope).await {
                continue;
            }
            let mut r = if step.for_each.is_some() {
                run_for_each(ctx, step, &scope).await
            } else {
                ctx.emit(RunEvent::StepStarted {
                    id: id.clone(),
                    name: step.display_name().to_string(),
                    node: step.node().to_string(),
                    items: None,
                    destructive: ctx.catalog.get(step.node()).is_some_and(|spec| step.may_destroy(spec)),
                });
                durable::step_note(ctx, step, "running", None, None).await;
                run_single(ctx, step, &scope).await
            };
            r.name = step.name.clone();
            durable::step_finished(ctx, step, &r).await;
            match r.status {
                StepStatus::Skipped => ctx.emit(RunEvent::StepSkipped {
                    id: id.clone(),
                    reason: r.skip_reason.clone().unwrap_or_default(),
                }),
                status => ctx.emit(RunEvent::StepFinished {
                    id: id.clone(),
                    status,
                    message: r.error.clone(),
                }),
            }
            if r.status == StepStatus::Failed {
                if r.unreconciled {
                    // A change may have happened that psaflow cannot confirm: never go on.
                    self.report.status = RunStatus::Failed;
                    self.report.error = r.error.clone();
                    self.stopped_by = Some(id.clone());
                } else if step.continue_on_error {
                    self.report.warnings.push(format!(
                        "step '{id}' failed but has continue_on_error, so the run went on: {}",
                        r.error.as_deref().unwrap_or("failed")
                    ));
                } else {
                    self.report.status = RunStatus::Failed;
                    if self.independent {
                        if self.report.error.is_none() {
                            self.report.error = r.error.clone();
                        }
                    } else {
                        self.stopped_by = Some(id.clone());
                    }
                }
            }
            for w in &r.warnings {
                self.report.warnings.push(format!("step '{id}': {w}"));
            }
            self.report.deleted += r.deleted;
            self.report.deactivated += r.deactivated;
            self.seen.insert(id, r.step_value());
            self.report.steps.push(r);
        }
    }
}

/// Runs a workflow. It is validated first against the invoker's catalog; an invalid
/// workflow sends nothing and fails. With `dry_run`, the invoker is never called.
pub async fn run(wf: &Workflow, invoker: &dyn NodeInvoker, mut opts: RunOptions) -> RunReport {
    let catalog = invoker.catalog();
    let redactor = opts.redactor(wf);
    let mut report = RunReport {
        id: None,
        backend: opts.backend.clone(),
        backends: opts.backends.clone(),
        waiting: None,
        name: wf.name().to_string(),
        status: RunStatus::Succeeded,
        outputs: Map::new(),
        steps: Vec::new(),
        deleted: 0,
        deactivated: 0,
        dry_run: opts.dry_run,
        plan: None,
        error: None,
        warnings: Vec::new(),
        redactor: redactor.clone(),
    };
    if let Err(diags) = validate(wf, catalog) {
        report.status = RunStatus::Failed;
        report.error = Some(format!("the workflow is invalid; nothing was run\n{diags}"));
        report.steps = all_skipped(wf, "the workflow is invalid");
        return report;
    }
    // The nodes' own input checks on every value known now: a mistake found here means
    // nothing is sent, not an orphan record left by the steps before it.
    // Moved out of the options, not copied: a large input list is held once. (A dry run
    // plans from the options and keeps them whole.)
    let inputs = if opts.dry_run {
        opts.full_inputs(wf)
    } else {
        opts.take_full_inputs(wf)
    };
    if let Err(diags) =
        crate::precheck::check_node_inputs(wf, invoker, Some(&inputs), &opts.env_value(wf)).await
    {
        report.status = RunStatus::Failed;
        report.error = Some(format!("the workflow is invalid; nothing was run\n{diags}"));
        report.steps = all_skipped(wf, "the workflow is invalid");
        return report;
    }
    if opts.dry_run {
        let plan = dryrun::plan(wf, catalog, &opts);
        if !plan.problems().is_empty() {
            report.status = RunStatus::Failed;
            report.error = Some(plan.problems().join("\n"));
        }
        report.plan = Some(plan);
        report.steps = all_skipped(wf, "dry run");
        return report;
    }

    let ctx = Ctx {
        invoker,
        catalog,
        clock: opts.clock.clone(),
        observer: opts.observer.clone(),
        redactor,
        journal: opts.journal.clone(),
        gate: opts.gate.clone(),
        file: wf.file().to_string(),
        spill_after_bytes: opts.spill_after_bytes,
    };
    ctx.emit(RunEvent::RunStarted {
        name: wf.name().to_string(),
        steps: wf.steps().len(),
    });
    let env = opts.env_value(wf);
    let mut seen = Seen::default();
    let mut walk = Walk {
        ctx: &ctx,
        inputs: &inputs,
        env: &env,
        seen: &mut seen,
        report: &mut report,
        stopped_by: None,
        stop_reason: None,
        decisions: &opts.decisions,
        run_info: None,
        independent: false,
    };
    walk.steps(wf.steps()).await;
    // A run waiting for approval is not over: on_failure, finally and outputs come when it
    // is resumed.
    if walk.report.status == RunStatus::WaitingApproval {
        let reason = "not run yet: the run waits for approval";
        walk.skip_all(wf.on_failure(), reason);
        walk.skip_all(wf.finally(), reason);
        ctx.emit(RunEvent::RunFinished {
            status: report.status,
        });
        return report;
    }

    // `on_failure` runs only when the main steps failed; `finally` always. Both see what
    // succeeded (`steps.<id>`) and the run so far (`run.status`, `run.failed_step`, `run.error`).
    let main_failed = walk.report.status == RunStatus::Failed;
    let failed_step = walk.stopped_by.take();
    walk.run_info = Some(json!({
        "status": walk.report.status.as_str(),
        "failed_step": failed_step,
        "error": failed_step.as_ref().and_then(|id| walk.report.step(id)).and_then(|s| s.error.clone()),
    }));
    if main_failed {
        walk.steps(wf.on_failure()).await;
    } else {
        walk.skip_all(wf.on_failure(), "the run did not fail");
    }
    walk.stopped_by = None;
    walk.stop_reason = None;
    // Cleanup steps each get their turn, as `if: always()` steps do in CI systems: one that
    // fails does not leave the others undone.
    walk.independent = true;
    walk.steps(wf.finally()).await;
    // Outputs: on a failed run, whatever can still be computed.
    let mut scope = Scope::with_steps(&inputs, &env, &seen.0);
    if let Some(gate) = &ctx.gate {
        scope = scope.with_unknown_steps(gate.unknown_steps());
    }
    for (key, t) in &wf.outputs {
        match expr::eval(t, &scope, Mode::Full) {
            Ok(v) => {
                report.outputs.insert(key.value.clone(), v);
            }
            Err(err) if report.status == RunStatus::Succeeded => {
                report.status = RunStatus::Failed;
                report.error = Some(format!(
                    "output '{}': {}",
                    key.value,
                    super::step::located(&ctx, &err)
                ));
            }
            Err(_) => {}
        }
    }
    ctx.emit(RunEvent::RunFinished {
        status: report.status,
    });
    report
}
