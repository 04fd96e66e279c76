//! Runs submitted workflows inside the server, at most `max_runs` at a time (the others wait
//! for a slot in submission order), each recorded through the same [`StoreJournal`] as
//! `psaflow run`, so a run the server started can be resumed, approved and audited like any
//! other. A run that waits for approval gives its slot back; the approval resumes it.
use super::app::AppState;
use psaflow::durable::StoreJournal;
use psaflow_store::{RunState, now_ms};
use psaflow_workflow::{RunOptions, RunReport, RunStatus, Workflow};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;
use tokio::task::AbortHandle;

/// One run to execute (new, or resumed after an approval).
pub struct Job {
    pub run_id: String,
    pub workflow: Workflow,
    /// The real inputs (secrets included: in memory only, never stored).
    pub inputs: Map<String, Value>,
    /// Whom the run acts for (a token's name): the actor in audit rows.
    pub actor: String,
}

pub struct Executor {
    slots: Arc<Semaphore>,
    max_runs: usize,
    running: Mutex<HashMap<String, AbortHandle>>,
}

impl Executor {
    pub fn new(max_runs: usize) -> Executor {
        Executor {
            slots: Arc::new(Semaphore::new(max_runs)),
            max_runs,
            running: Mutex::new(HashMap::new()),
        }
    }

    pub fn max_runs(&self) -> usize {
        self.max_runs
    }

    /// Runs in progress or waiting for a slot in this process.
    pub fn active(&self) -> usize {
        self.running.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Starts the job in the background.
    pub fn submit(state: &Arc<AppState>, job: Job) {
        let run_id = job.run_id.clone();
        let task_state = state.clone();
        let handle = tokio::spawn(async move {
            let id = job.run_id.clone();
            let slots = task_state.executor.slots.clone();
            // The semaphore is never closed, so acquiring only waits.
            let _slot = slots.acquire_owned().await;
            execute(&task_state, job).await;
            task_state
                .executor
                .running
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
        });
        state
            .executor
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(run_id, handle.abort_handle());
    }

    /// Stops a run this process executes; false when it runs nowhere here.
    pub fn abort(&self, run_id: &str) -> bool {
        match self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(run_id)
        {
            Some(handle) => {
                handle.abort();
                true
            }
            None => false,
        }
    }

    /// Waits until no run of this process is executing (graceful shutdown).
    pub async fn drain(&self) {
        let _all = self.slots.acquire_many(self.max_runs as u32).await;
    }
}

/// The variables the workflow declares under `env:`, from the server's environment.
fn declared_env(workflow: &Workflow) -> BTreeMap<String, String> {
    workflow
        .declared_env()
        .filter_map(|name| crate::cli::env_lookup(name).map(|v| (name.to_string(), v)))
        .collect()
}

/// Executes one run to its end (or its approval wait) and records the outcome.
async fn execute(state: &Arc<AppState>, job: Job) {
    let run_id = job.run_id.clone();
    let started = std::time::Instant::now();
    tracing::info!(run_id = %run_id, workflow = %job.workflow.name(), actor = %job.actor, "run started");
    let report = match run(state, &job).await {
        Ok(report) => report,
        Err(err) => {
            tracing::error!(run_id = %run_id, error = %err, "run could not be executed");
            let store = state.store.clone();
            let id = run_id.clone();
            let message = format!("the server could not execute the run: {err}");
            let _ = tokio::task::spawn_blocking(move || {
                store.update_run(&id, RunState::Failed, None, Some(&message), now_ms())
            })
            .await;
            metrics::counter!("psaflow_runs_finished_total", "status" => "failed").increment(1);
            return;
        }
    };
    let status = match report.status {
        RunStatus::Succeeded => "succeeded",
        RunStatus::Failed => "failed",
        RunStatus::WaitingApproval => "waiting_approval",
    };
    metrics::counter!("psaflow_runs_finished_total", "status" => status).increment(1);
    metrics::histogram!("psaflow_run_duration_seconds").record(started.elapsed().as_secs_f64());
    record_step_metrics(&report);
    tracing::info!(run_id = %run_id, status, "run stopped");
}

async fn run(state: &Arc<AppState>, job: &Job) -> anyhow::Result<RunReport> {
    let store = state.store.clone();
    let options_secrets = state.secrets.clone();
    let journal = {
        let store = store.clone();
        let id = job.run_id.clone();
        let actor = job.actor.clone();
        tokio::task::spawn_blocking(move || -> anyhow::Result<StoreJournal> {
            store.update_run(&id, RunState::Running, None, None, now_ms())?;
            Ok(StoreJournal::open(store, &id, &actor)?)
        })
        .await??
    };
    let options = RunOptions {
        inputs: job.inputs.clone(),
        env: declared_env(&job.workflow),
        secrets: options_secrets,
        journal: Some(Arc::new(journal)),
        backend: Some(state.backend.kind.as_str().to_string()),
        ..RunOptions::default()
    };
    let mut report = psaflow_workflow::run(&job.workflow, &state.runtime, options).await;
    report.id = Some(job.run_id.clone());
    let run_state = match report.status {
        RunStatus::Succeeded => RunState::Succeeded,
        RunStatus::Failed => RunState::Failed,
        RunStatus::WaitingApproval => RunState::WaitingApproval,
    };
    let error = report.error.as_deref().map(|e| report.redactor().text(e));
    let json = report.to_json();
    let id = job.run_id.clone();
    tokio::task::spawn_blocking(move || {
        store.update_run(&id, run_state, Some(&json), error.as_deref(), now_ms())
    })
    .await??;
    Ok(report)
}

/// Node invocations of a run by node and StatusCode, and its retries, from its report.
fn record_step_metrics(report: &RunReport) {
    let json = report.to_json();
    let Some(steps) = json.get("steps").and_then(Value::as_object) else {
        return;
    };
    for step in steps.values() {
        let Some(node) = step.get("node").and_then(Value::as_str) else {
            continue;
        };
        let envelopes: Vec<&Value> = match step.get("envelopes").and_then(Value::as_array) {
            Some(all) => all.iter().collect(),
            None => step.get("envelope").into_iter().collect(),
        };
        let attempts: Vec<u64> = match step.get("attempts") {
            Some(Value::Array(all)) => all.iter().filter_map(Value::as_u64).collect(),
            Some(n) => n.as_u64().into_iter().collect(),
            None => Vec::new(),
        };
        let retries: u64 = attempts.iter().map(|n| n.saturating_sub(1)).sum();
        if retries > 0 {
            metrics::counter!("psaflow_step_retries_total", "node" => node.to_string())
                .increment(retries);
        }
        for envelope in envelopes {
            if let Some(code) = envelope.get("StatusCode").and_then(Value::as_i64) {
                metrics::counter!("psaflow_node_invocations_total", "node" => node.to_string(), "status_code" => code.to_string())
                    .increment(1);
            }
        }
    }
}
