//! `psaflow runs list|show|resume|prune`: run history from the run store.
use super::run::{Resume, resume};
use super::state::{Existing, StateArgs, parse_age, show_time};
use super::{Cli, EXIT_USAGE};
use psaflow_store::{RunFilter, RunRecord, RunState, RunStore, now_ms};
use serde_json::{Value, json};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: RunsCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum RunsCommand {
    /// Recorded runs, newest first.
    List(ListArgs),
    /// One run: its report (as `run --json`) plus id, attempts and timings.
    Show(ShowArgs),
    /// Continue an interrupted run, or one waiting for approval (same as run --resume).
    Resume(ResumeArgs),
    /// Delete finished runs older than a duration. Audit rows are never deleted.
    Prune(PruneArgs),
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Only runs in this state: running, succeeded, failed, waiting_approval.
    #[arg(long, value_name = "STATUS")]
    pub status: Option<String>,
    /// At most this many runs.
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub state: StateArgs,
}

#[derive(clap::Args, Debug)]
pub struct ShowArgs {
    pub run_id: String,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub state: StateArgs,
}

#[derive(clap::Args, Debug)]
pub struct ResumeArgs {
    pub run_id: String,
    /// A masked input (a secret) given again: name=value.
    #[arg(long = "input", value_name = "NAME=VALUE")]
    pub inputs: Vec<String>,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub state: StateArgs,
}

#[derive(clap::Args, Debug)]
pub struct PruneArgs {
    /// Runs created longer ago than this (e.g. 30d) are deleted, when finished.
    #[arg(long, value_name = "DURATION")]
    pub older_than: String,
    #[command(flatten)]
    pub state: StateArgs,
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<u8> {
    match &args.command {
        RunsCommand::List(a) => list(a),
        RunsCommand::Show(a) => show(a),
        RunsCommand::Resume(a) => {
            let inputs = match super::run::raw_inputs(&a.inputs) {
                Ok(inputs) => inputs,
                Err(code) => return Ok(code),
            };
            let request = Resume {
                run_id: a.run_id.clone(),
                file: None,
                inputs,
                json: a.json,
            };
            resume(cli, &a.state, &request).await
        }
        RunsCommand::Prune(a) => prune(a),
    }
}

/// The store these commands read, never created by them ([`Existing::Missing`] when there is
/// none where it would be: nothing was recorded there); `Err(code)` when it cannot be opened.
fn open(state: &StateArgs) -> Result<Existing, u8> {
    state.open_existing().map_err(|err| {
        eprintln!("psaflow: {err:#}");
        EXIT_USAGE
    })
}

fn summary_json(r: &RunRecord) -> Value {
    let (backend, description) = backend_of(r);
    let mut summary = json!({
        "id": r.id,
        "workflow": r.workflow,
        "status": r.status.as_str(),
        "started_by": r.started_by,
        "backend": backend,
        "created_at": r.created_at,
        "finished_at": r.finished_at,
        "error": run_error(r),
    });
    if let Some(description) = description {
        summary["backend_description"] = json!(description);
    }
    summary
}

/// `backend` as `run --json` says it ("sandbox" or "tenant"): the stored report's, else the
/// kind the run's recorded label names; and, for a run that reached a tenant, that label
/// ("HaloPSA at https://...") for `backend_description`. Lists and `runs show` agree.
pub fn backend_of(r: &RunRecord) -> (String, Option<&str>) {
    let reported = r.report.as_ref().and_then(|report| report.get("backend")?.as_str());
    let kind = match reported {
        Some(kind) => kind.to_string(),
        None if r.backend == "sandbox" => "sandbox".to_string(),
        None => "tenant".to_string(),
    };
    (kind, (r.backend != "sandbox").then_some(r.backend.as_str()))
}

/// Why a run failed, in one line: the run's own error (a lost lease, a cancel, an invalid
/// workflow), else the report's, else the step that failed it, as `runs show` lists it
/// (`step 'get' failed: Client with ID 9 not found ...`). `None` for a run that did not fail.
pub fn run_error(r: &RunRecord) -> Option<String> {
    if let Some(error) = &r.error {
        return Some(error.clone());
    }
    if r.status != RunState::Failed {
        return None;
    }
    let report = r.report.as_ref()?;
    if let Some(error) = report["error"].as_str() {
        return Some(error.to_string());
    }
    // Steps are in workflow order; one failing under continue_on_error did not fail the run.
    report["steps"]
        .as_object()?
        .iter()
        .find(|(_, s)| s["status"] == "failed" && s["continue_on_error"] != true)
        .map(|(id, s)| match s["error"].as_str() {
            Some(error) => format!("step '{id}' failed: {error}"),
            None => format!("step '{id}' failed"),
        })
}

fn list(a: &ListArgs) -> anyhow::Result<u8> {
    let status = match &a.status {
        None => None,
        Some(s) => match RunState::parse(s) {
            Some(st) => Some(st),
            None => {
                let names: Vec<&str> = RunState::ALL.iter().map(|s| s.as_str()).collect();
                eprintln!(
                    "psaflow: unknown status {s:?}; use one of {}",
                    names.join(", ")
                );
                return Ok(EXIT_USAGE);
            }
        },
    };
    let store = match open(&a.state) {
        Ok(Existing::Store(store)) => store,
        Ok(Existing::Missing(path)) => {
            if a.json {
                println!("[]");
            } else {
                println!(
                    "no runs recorded: there is no run store at {}",
                    path.display()
                );
            }
            return Ok(0);
        }
        Err(code) => return Ok(code),
    };
    let runs = store.list_runs(&RunFilter {
        status,
        limit: a.limit,
        ..RunFilter::default()
    })?;
    if a.json {
        let list: Vec<Value> = runs.iter().map(summary_json).collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(0);
    }
    if runs.is_empty() {
        match status {
            // Runs may well be recorded, just none in that state.
            Some(st) => println!("no run in {} has the status {st}", store.location()),
            None => println!("no runs recorded in {}", store.location()),
        }
        return Ok(0);
    }
    println!(
        "{:<26}  {:<16}  {:<20}  {:<10}  workflow",
        "id", "status", "started", "by"
    );
    for r in &runs {
        println!(
            "{:<26}  {:<16}  {:<20}  {:<10}  {}",
            r.id,
            r.status.as_str(),
            show_time(r.created_at),
            r.started_by,
            r.workflow
        );
    }
    Ok(0)
}

/// The run report as `run --json` prints it, plus id, timings, and every attempt.
pub fn show_json(store: &dyn RunStore, r: &RunRecord) -> anyhow::Result<Value> {
    let mut report = match &r.report {
        Some(Value::Object(m)) => m.clone(),
        _ => serde_json::Map::new(),
    };
    report.insert("id".into(), json!(r.id));
    report.insert("workflow".into(), json!(r.workflow));
    report.insert("status".into(), json!(r.status.as_str()));
    let (kind, description) = backend_of(r);
    report.insert("backend".into(), json!(kind));
    if let Some(description) = description {
        report.insert("backend_description".into(), json!(description));
    }
    report.insert("started_by".into(), json!(r.started_by));
    report.insert("workflow_file".into(), json!(r.workflow_file));
    report.insert("workflow_hash".into(), json!(r.workflow_hash));
    report.insert("inputs".into(), r.inputs.clone());
    report.insert(
        "timings".into(),
        json!({
            "created_at": r.created_at,
            "updated_at": r.updated_at,
            "finished_at": r.finished_at,
            "duration_ms": r.finished_at.map(|f| f - r.created_at),
        }),
    );
    let steps: Vec<Value> = store
        .steps(&r.id)?
        .into_iter()
        .map(|s| {
            json!({
                "step": s.step_id,
                "node": s.node,
                "status": s.status.as_str(),
                "items": s.item_count,
                "started_at": s.started_at,
                "finished_at": s.finished_at,
                "duration_ms": s.finished_at.map(|f| f - s.started_at),
                "error": s.error,
            })
        })
        .collect();
    report.insert("step_timings".into(), Value::Array(steps));
    let attempts: Vec<Value> = store
        .attempts(&r.id)?
        .into_iter()
        .map(|a| {
            let mut m = json!({
                "step": a.intent.key.step_id,
                "item": a.intent.key.item,
                "attempt": a.intent.attempt,
                "node": a.intent.node,
                "effect": a.intent.effect.as_str(),
                "started_at": a.intent.at,
            });
            match &a.result {
                Some(res) => {
                    m["outcome"] = json!(res.outcome.as_str());
                    m["finished_at"] = json!(res.at);
                    m["duration_ms"] = json!(res.at - a.intent.at);
                    m["status_code"] = json!(res.status_code);
                    if let Some(t) = &res.target {
                        m["target"] = json!(t);
                    }
                    if let Some(e) = &res.error {
                        m["error"] = json!(e);
                    }
                    if res.recovered {
                        m["recovered"] = json!(true);
                    }
                }
                None => {
                    m["outcome"] = json!("in_flight");
                }
            }
            m
        })
        .collect();
    report.insert("attempt_log".into(), Value::Array(attempts));
    let approvals: Vec<Value> = store
        .approvals(&r.id)?
        .into_iter()
        .map(|a| {
            json!({
                "step": a.request.step_id,
                "message": a.request.message,
                "approvers": a.request.approvers,
                "requested_at": a.request.requested_at,
                "expires_at": a.request.expires_at,
                "decision": a.decided.as_ref().map(|d| d.decision.as_str()),
                "decided_by": a.decided.as_ref().map(|d| d.by.clone()),
                "comment": a.decided.as_ref().and_then(|d| d.comment.clone()),
                "decided_at": a.decided.as_ref().map(|d| d.at),
            })
        })
        .collect();
    if !approvals.is_empty() {
        report.insert("approvals".into(), Value::Array(approvals));
    }
    Ok(Value::Object(report))
}

fn show(a: &ShowArgs) -> anyhow::Result<u8> {
    let store = match open(&a.state) {
        Ok(Existing::Store(store)) => store,
        Ok(Existing::Missing(path)) => {
            eprintln!(
                "psaflow: no run with id {}: there is no run store at {}",
                a.run_id,
                path.display()
            );
            return Ok(EXIT_USAGE);
        }
        Err(code) => return Ok(code),
    };
    let Some(run) = store.run(&a.run_id)? else {
        eprintln!(
            "psaflow: no run with id {} in the run store at {}",
            a.run_id,
            store.location()
        );
        return Ok(EXIT_USAGE);
    };
    let full = show_json(store.as_ref(), &run)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&full)?);
        return Ok(0);
    }
    println!("run {}  {}  ({})", run.id, run.status, run.workflow);
    println!(
        "  file:     {}  sha256 {}",
        run.workflow_file,
        &run.workflow_hash[..12.min(run.workflow_hash.len())]
    );
    println!(
        "  started:  {} by {}",
        show_time(run.created_at),
        run.started_by
    );
    if let Some(f) = run.finished_at {
        println!("  finished: {} ({} ms)", show_time(f), f - run.created_at);
    }
    println!("  backend:  {}", run.backend);
    println!("  inputs:   {}", run.inputs);
    for s in full["step_timings"].as_array().into_iter().flatten() {
        let items = s["items"]
            .as_u64()
            .map(|n| format!(" {n} items"))
            .unwrap_or_default();
        let took = s["duration_ms"]
            .as_i64()
            .map(|d| format!(" {d} ms"))
            .unwrap_or_default();
        println!(
            "  step {:<20} {:<16}{items}{took}",
            s["step"].as_str().unwrap_or_default(),
            s["status"].as_str().unwrap_or_default()
        );
        if let Some(e) = s["error"].as_str() {
            println!("       {e}");
        }
    }
    let attempts = full["attempt_log"].as_array().map_or(0, Vec::len);
    println!(
        "  attempts: {attempts} (runs show {} --json lists them)",
        run.id
    );
    for a in full["approvals"].as_array().into_iter().flatten() {
        let decided = match a["decision"].as_str() {
            Some(d) => format!("{d} by {}", a["decided_by"].as_str().unwrap_or("?")),
            None => "waiting".to_string(),
        };
        println!(
            "  approval at {}: {} ({decided})",
            a["step"].as_str().unwrap_or_default(),
            a["message"].as_str().unwrap_or_default()
        );
    }
    if let Some(e) = &run.error {
        println!("  error: {e}");
    }
    Ok(0)
}

fn prune(a: &PruneArgs) -> anyhow::Result<u8> {
    let age = match parse_age("--older-than", &a.older_than) {
        Ok(age) => age,
        Err(message) => {
            eprintln!("psaflow: {message}");
            return Ok(EXIT_USAGE);
        }
    };
    let store = match open(&a.state) {
        Ok(Existing::Store(store)) => store,
        Ok(Existing::Missing(path)) => {
            println!(
                "pruned 0 run(s): there is no run store at {}",
                path.display()
            );
            return Ok(0);
        }
        Err(code) => return Ok(code),
    };
    let counts = store.prune(now_ms() - age)?;
    println!(
        "pruned {} run(s) ({} steps, {} calls, {} attempts, {} approvals); audit rows are kept",
        counts.runs, counts.steps, counts.items, counts.attempts, counts.approvals
    );
    Ok(0)
}
