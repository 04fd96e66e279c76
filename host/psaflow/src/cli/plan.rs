//! `psaflow plan FILE [--input ...] [--out PLAN] [--json]` and `psaflow apply PLAN`: look at
//! every change a workflow would make, with the records it would touch, then make exactly
//! those changes (see `psaflow_workflow::plan`).

use super::{Cli, EXIT_USAGE};
use psaflow_store::{RunState, now_ms};
use psaflow_workflow::plan::{PlanFile, Skipped as SkippedChange, apply_plan, make_plan};
use psaflow_workflow::{HumanRenderer, RunOptions, RunStatus};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct PlanArgs {
    /// The workflow file.
    pub file: PathBuf,
    /// A workflow input, read by its declared type.
    #[arg(long = "input", value_name = "NAME=VALUE")]
    pub inputs: Vec<String>,
    /// All inputs as one JSON object; --input values win.
    #[arg(long, value_name = "JSON")]
    pub inputs_json: Option<String>,
    /// Write the plan (JSON) to this file, for `psaflow apply`.
    #[arg(long, value_name = "PLAN")]
    pub out: Option<PathBuf>,
    /// Print the plan as JSON on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct ApplyArgs {
    /// A plan written by `psaflow plan --out`.
    pub plan: PathBuf,
    /// Inputs, when given, must be the plan's (apply always uses the plan's inputs).
    #[arg(long = "input", value_name = "NAME=VALUE")]
    pub inputs: Vec<String>,
    /// Print the run report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Where the apply is recorded as a run (its id, journal and audit rows).
    #[command(flatten)]
    pub state: super::state::StateArgs,
}

pub async fn plan(cli: &Cli, args: &PlanArgs) -> anyhow::Result<u8> {
    let workflow = match psaflow_workflow::load(&args.file) {
        Ok(wf) => wf,
        Err(d) => {
            eprint!("{}", super::render(&d));
            return Ok(EXIT_USAGE);
        }
    };
    let offline = super::offline_runtime(cli)?;
    if let Err(d) = psaflow_workflow::validate(&workflow, offline.catalog()) {
        eprint!("{}", super::render(&d));
        return Ok(EXIT_USAGE);
    }
    let inputs =
        match super::run::command_line_inputs(&workflow, &args.inputs, args.inputs_json.as_deref())
        {
            Ok(inputs) => inputs,
            Err(code) => return Ok(code),
        };
    let options = RunOptions {
        inputs,
        env: super::run::declared_env(&workflow),
        secrets: super::credential_values(),
        ..RunOptions::default()
    };
    let known = options.known_inputs(&workflow);
    if let Err(d) = psaflow_workflow::check_node_inputs(
        &workflow,
        &offline,
        Some(&known),
        &serde_json::json!({}),
    )
    .await
    {
        eprint!("{}", super::render(&d));
        return Ok(EXIT_USAGE);
    }
    // Only the connectors the workflow's nodes use are configured and started (as `run`).
    let connectors = psaflow::backend::Connectors::of_workflow(&workflow, offline.catalog());
    let backend = match super::open_backend_for(cli, None, connectors, &|_| None).await {
        Ok(backend) => backend,
        Err(code) => return Ok(code),
    };
    let runtime = super::build_runtime(cli, &backend)?;
    // Absolute, so the plan can be applied from any folder.
    let file = std::fs::canonicalize(&args.file)
        .unwrap_or_else(|_| args.file.clone())
        .display()
        .to_string();
    let tenant = backend.run_label();
    let (plan, report) = make_plan(
        &workflow,
        &file,
        &runtime,
        options,
        &backend.description,
        &tenant,
    )
    .await;
    let text = serde_json::to_string_pretty(&plan)?;
    if let Some(out) = &args.out {
        std::fs::write(out, format!("{text}\n"))
            .map_err(|e| anyhow::anyhow!("writing the plan to {}: {e}", out.display()))?;
        eprintln!(
            "psaflow: plan written to {}; run `psaflow apply {}`",
            out.display(),
            out.display()
        );
    }
    if args.json {
        println!("{text}");
    } else {
        print!("{}", plan.render());
    }
    if backend.sandbox.is_some() && args.out.is_some() {
        eprintln!(
            "psaflow: note: this plan was made on a fresh embedded sandbox; apply starts another one. \
             Start `psaflow sandbox` and export its HALOPSA_* variables to plan and apply against the same data."
        );
    }
    // A plan that could not see everything (a read failed) is still printed, but exits 1.
    Ok(if report.status == RunStatus::Failed {
        1
    } else {
        0
    })
}

pub async fn apply(cli: &Cli, args: &ApplyArgs) -> anyhow::Result<u8> {
    let ToApply {
        path,
        plan,
        workflow,
        inputs,
    } = match ToApply::read(args) {
        Ok(to_apply) => to_apply,
        Err(code) => return Ok(code),
    };
    let store = match args.state.open_for_recording("this apply", false) {
        Ok(store) => store,
        Err(code) => return Ok(code),
    };
    let connectors =
        psaflow::backend::Connectors::of_workflow(&workflow, super::load_nodes(cli)?.catalog());
    let backend = match super::open_backend_for(cli, None, connectors, &|_| None).await {
        Ok(backend) => backend,
        Err(code) => return Ok(code),
    };
    // Before anything is sent: a plan reviewed against one tenant never changes another.
    if let Err(e) = plan.check_tenant(&backend.run_label()) {
        eprintln!("psaflow: {e}");
        return Ok(EXIT_USAGE);
    }
    let runtime = super::build_runtime(cli, &backend)?;
    let observer = super::run::progress_renderer(runtime.catalog(), &backend);
    let mut options = RunOptions {
        inputs,
        env: super::run::declared_env(&workflow),
        secrets: super::credential_values(),
        observer: Some(observer),
        ..RunOptions::default()
    };
    super::run::say_backends(&mut options, &backend);
    let run_id = match &store {
        Some(store) => Some(record_start(
            store,
            &workflow,
            &plan,
            &path,
            &backend,
            &mut options,
        )?),
        None => None,
    };
    let (mut report, skipped) = match apply_plan(&workflow, &plan, &runtime, options).await {
        Ok(done) => done,
        Err(e) => {
            if let (Some(store), Some(id)) = (&store, &run_id) {
                let error = e.to_string();
                store.update_run(id, RunState::Failed, None, Some(&error), now_ms())?;
            }
            eprintln!("psaflow: {e}");
            return Ok(EXIT_USAGE);
        }
    };
    report.id = run_id.clone();
    let mut report_json = report.to_json();
    report_json["skipped_changes"] = skipped_json(&skipped);
    if let (Some(store), Some(id)) = (&store, &run_id) {
        let mut stored = report_json.clone();
        stored[psaflow::durable::APPLIED_PLAN] = serde_json::Value::from(path.as_str());
        super::run::record_outcome(store.as_ref(), id, &report, &stored)?;
    }
    say_outcome(&report, &skipped);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report_json)?);
    } else {
        print!("{}", HumanRenderer::outputs(&report));
    }
    Ok(match report.status {
        RunStatus::Succeeded => 0,
        RunStatus::Failed => 1,
        RunStatus::WaitingApproval => super::run::EXIT_WAITING,
    })
}

/// A plan file read and checked against its workflow and inputs as they are now, before
/// anything connects: a stale plan never reaches the tenant.
struct ToApply {
    path: String,
    plan: PlanFile,
    workflow: psaflow_workflow::Workflow,
    /// Inputs given again on the command line (secrets the plan masked); empty otherwise.
    inputs: serde_json::Map<String, serde_json::Value>,
}

impl ToApply {
    /// `Err(code)` when the apply must stop (the reason is already on stderr).
    fn read(args: &ApplyArgs) -> Result<ToApply, u8> {
        let path = args.plan.display().to_string();
        let text = std::fs::read_to_string(&args.plan).map_err(|e| {
            eprintln!("psaflow: cannot read the plan {path}: {e}");
            EXIT_USAGE
        })?;
        let plan = PlanFile::read(&path, &text).map_err(|e| {
            eprintln!("psaflow: {e}");
            EXIT_USAGE
        })?;
        let workflow =
            psaflow_workflow::load(std::path::Path::new(&plan.workflow)).map_err(|d| {
                eprint!("{}", super::render(&d));
                EXIT_USAGE
            })?;
        let raw = super::run::raw_inputs(&args.inputs)?;
        let inputs = if raw.is_empty() {
            serde_json::Map::new()
        } else {
            psaflow_workflow::resolve_inputs(&workflow, &raw, None).map_err(|d| {
                eprint!("{}", super::render(&d));
                EXIT_USAGE
            })?
        };
        let current = plan
            .check_matches(workflow.source(), &plan.inputs)
            .and_then(|()| {
                if inputs.is_empty() {
                    Ok(())
                } else {
                    plan.check_matches(workflow.source(), &inputs)
                }
            });
        if let Err(e) = current {
            eprintln!("psaflow: {e}");
            return Err(EXIT_USAGE);
        }
        // An apply cannot stop for a decision and be continued later (`psaflow approve`
        // resumes a run, which would not keep to the plan), so a plan through an approval is
        // refused before anything is sent rather than left half made.
        if !plan.approvals.is_empty() {
            eprintln!(
                "psaflow: {path} passes the approval step(s) {}; `psaflow apply` cannot wait for a decision. \
                 Run the workflow with `psaflow run` and decide with `psaflow approve`",
                plan.approvals.join(", ")
            );
            return Err(EXIT_USAGE);
        }
        Ok(ToApply {
            path,
            plan,
            workflow,
            inputs,
        })
    }
}

/// The report's `skipped_changes`: each planned change not made, and why.
fn skipped_json(skipped: &[SkippedChange]) -> serde_json::Value {
    skipped
        .iter()
        .map(|s| serde_json::json!({"step": s.step, "target": s.change.as_ref().and_then(|c| c.target.clone()), "reason": s.reason}))
        .collect()
}

/// The summary on stderr, then a line per planned change that was not made.
fn say_outcome(report: &psaflow_workflow::RunReport, skipped: &[SkippedChange]) {
    eprint!("{}", HumanRenderer::summary(report));
    for s in skipped {
        let target = s
            .change
            .as_ref()
            .and_then(|c| c.target.as_ref())
            .map(|t| format!(" #{} {}", t.id, t.name.as_str().unwrap_or("")))
            .unwrap_or_default();
        eprintln!("skipped {}{target}: {}", s.step, s.reason);
    }
}

/// Records an apply as a run before anything is sent, as `psaflow run` does (so its report has
/// an id and its changes are journaled and audited), and journals it through `options`. The
/// stored report names the plan from the start, so that nothing resumes the run even if it
/// never ends (a resume would not keep to the plan). Returns the run id.
fn record_start(
    store: &std::sync::Arc<dyn psaflow_store::RunStore>,
    workflow: &psaflow_workflow::Workflow,
    plan: &PlanFile,
    path: &str,
    backend: &psaflow::backend::Backend,
    options: &mut RunOptions,
) -> anyhow::Result<String> {
    let user = psaflow::durable::os_user(super::env_lookup);
    let run = super::run::new_run_record(
        psaflow_store::new_id(),
        workflow,
        plan.workflow.clone(),
        super::run::stored_inputs(&plan.inputs, &options.redactor(workflow)),
        user.clone(),
        backend.run_label(),
    );
    store.create_run(&run)?;
    let marked = serde_json::json!({ psaflow::durable::APPLIED_PLAN: path });
    store.update_run(&run.id, RunState::Running, Some(&marked), None, now_ms())?;
    let journal = psaflow::durable::StoreJournal::open(store.clone(), &run.id, &user)?;
    options.journal = Some(std::sync::Arc::new(journal));
    Ok(run.id)
}
