//! Executes queued runs inside the server: the same claim/lease/finish cycle as
//! `psaflow worker` ([`psaflow::execute::Executor`]), at most `max_runs` at a time. `POST
//! /v1/runs` enqueues (run row and queue row in one transaction) and wakes this loop; an
//! approval requeues the parked run. With `--no-executor` the server only enqueues and
//! `psaflow worker` processes sharing the store execute.
//!
//! Each run executed here has its own stop signal, so a cancel stops it at once (the store's
//! cancel also deletes the queue row, which stops a run executed by another process at its
//! next lease renewal). Leases that ran out (a server or worker that died) are swept back
//! into the queue every few seconds.
use super::app::AppState;
use psaflow::backend::Backend;
use psaflow::execute::{Connected, Executed, Executor as QueueExecutor, Stop};
use psaflow_store::now_ms;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore, watch};

/// How long a claim lasts without renewal (renewed every third of it).
pub const LEASE: Duration = Duration::from_secs(30);
/// How often leases that ran out are put back in the queue.
const SWEEP_EVERY: Duration = Duration::from_secs(5);
/// Longest wait for new work without a wake-up (work enqueued by other processes).
const POLL: Duration = Duration::from_secs(1);
/// A run whose lease was lost this many times fails.
const MAX_LOST_LEASES: u32 = 3;

/// The connection as runs use it: the runtime, how runs name it, what to mask.
pub fn connected(runtime: psaflow::Runtime, backend: Backend, secrets: Vec<String>) -> Connected {
    Connected {
        runtime,
        backend_label: psaflow::execute::backend_label(&backend),
        kind: backend.kind,
        connections: backend.connections.clone(),
        secrets,
        backend: Some(backend),
    }
}

pub struct Executor {
    /// `None` with `--no-executor`: runs wait in the queue for `psaflow worker`.
    queue: Option<QueueExecutor>,
    max_runs: usize,
    slots: Arc<Semaphore>,
    /// Stop signals of the runs executing here, by run id.
    running: Mutex<HashMap<String, watch::Sender<bool>>>,
    wake: Notify,
}

impl Executor {
    pub fn new(queue: Option<QueueExecutor>, max_runs: usize) -> Executor {
        Executor {
            queue,
            max_runs,
            slots: Arc::new(Semaphore::new(max_runs)),
            running: Mutex::new(HashMap::new()),
            wake: Notify::new(),
        }
    }

    pub fn max_runs(&self) -> usize {
        self.max_runs
    }

    pub fn executes(&self) -> bool {
        self.queue.is_some()
    }

    /// Runs executing in this process now.
    pub fn active(&self) -> usize {
        self.running.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// New work was queued: claim it now rather than at the next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Stops a run executing here (after the store cancelled it); false when it runs
    /// elsewhere or nowhere.
    pub fn stop(&self, run_id: &str) -> bool {
        match self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(run_id)
        {
            Some(tx) => tx.send(true).is_ok(),
            None => false,
        }
    }
}

/// Claims and executes queued runs until `shutdown` is raised; then lets running runs finish
/// for `grace` and gives the rest back to the queue (they continue after a restart).
pub async fn run_loop(state: Arc<AppState>, shutdown: Stop, grace: Duration) {
    let Some(queue) = state.executor.queue.clone() else {
        return;
    };
    let sweeper = tokio::spawn(sweep_loop(state.clone(), shutdown.clone()));
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let permit = tokio::select! {
            permit = state.executor.slots.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = shutdown.raised() => break,
        };
        let claimed = match queue.claim().await {
            Ok(claimed) => claimed,
            Err(err) => {
                tracing::error!(error = %format!("{err:#}"), "claiming queued runs failed");
                None
            }
        };
        let Some(work) = claimed else {
            drop(permit);
            let store = state.store.clone();
            tokio::select! {
                _ = tokio::task::spawn_blocking(move || store.wait_for_work(POLL)) => {}
                _ = state.executor.wake.notified() => {}
                _ = shutdown.raised() => break,
            }
            continue;
        };
        let id = work.run_id.clone();
        let (tx, stop) = Stop::new();
        state
            .executor
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.clone(), tx);
        let (state, queue) = (state.clone(), queue.clone());
        tasks.spawn(async move {
            let _permit = permit;
            let started = std::time::Instant::now();
            let claimed_at = now_ms();
            tracing::info!(run_id = %id, "run claimed");
            let outcome = queue.execute(work, &stop).await;
            state
                .executor
                .running
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
            match outcome {
                Ok(Executed::Finished(status)) => {
                    metrics::counter!("psaflow_runs_finished_total", "status" => status.as_str())
                        .increment(1);
                    metrics::histogram!("psaflow_run_duration_seconds")
                        .record(started.elapsed().as_secs_f64());
                    record_attempt_metrics(&state, &id, claimed_at).await;
                    if status == psaflow_store::RunState::WaitingApproval {
                        requeue_if_decided(&state, &id).await;
                    }
                    tracing::info!(run_id = %id, status = status.as_str(), "run stopped");
                }
                Ok(Executed::Released) => {
                    tracing::info!(run_id = %id, "run stopped here (cancelled, or given back to the queue)")
                }
                Ok(Executed::LeaseLost) => {
                    tracing::warn!(run_id = %id, "lost the lease on the run (cancelled, or too slow); stopped working on it")
                }
                Err(err) => {
                    tracing::error!(run_id = %id, error = %format!("{err:#}"), "the run store failed while executing the run")
                }
            }
        });
        while tasks.try_join_next().is_some() {}
    }
    sweeper.abort();
    while tasks.try_join_next().is_some() {}
    if !tasks.is_empty() {
        tracing::info!(
            runs = state.executor.active(),
            grace_s = grace.as_secs_f64(),
            "waiting for running runs"
        );
        let drained =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            for tx in state
                .executor
                .running
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .values()
            {
                let _ = tx.send(true);
            }
            while tasks.join_next().await.is_some() {}
            tracing::warn!("runs still executing after the grace period went back to the queue");
        }
    }
}

async fn sweep_loop(state: Arc<AppState>, shutdown: Stop) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
            _ = shutdown.raised() => return,
        }
        let store = state.store.clone();
        match tokio::task::spawn_blocking(move || store.sweep_expired(now_ms(), MAX_LOST_LEASES))
            .await
        {
            Ok(Ok(sweep)) => {
                for id in &sweep.requeued {
                    tracing::warn!(run_id = %id, "its executor's lease ran out; queued again");
                }
                for id in &sweep.failed {
                    tracing::warn!(run_id = %id, "failed after {MAX_LOST_LEASES} lost leases");
                }
                if !sweep.requeued.is_empty() {
                    state.executor.wake();
                }
            }
            Ok(Err(err)) => tracing::error!(error = %err, "sweeping expired leases failed"),
            Err(err) => tracing::error!(error = %err, "sweeping expired leases did not finish"),
        }
        let store = state.store.clone();
        match tokio::task::spawn_blocking(move || {
            psaflow::durable::requeue_timed_out_approvals(store.as_ref(), now_ms())
        })
        .await
        {
            Ok(Ok(queued)) => {
                for id in &queued {
                    tracing::info!(run_id = %id, "its approval timed out; queued again so on_timeout decides");
                }
                if !queued.is_empty() {
                    state.executor.wake();
                }
            }
            Ok(Err(err)) => tracing::error!(error = %err, "queueing runs whose approval timed out failed"),
            Err(err) => tracing::error!(error = %err, "queueing runs whose approval timed out did not finish"),
        }
    }
}

/// Node invocations by node and StatusCode, and retries, from the journal: every attempt
/// this execution made (attempts replayed from an earlier execution of the run are older than
/// `since` and not counted again).
async fn record_attempt_metrics(state: &AppState, run_id: &str, since: i64) {
    let store = state.store.clone();
    let id = run_id.to_string();
    let Ok(Ok(attempts)) = tokio::task::spawn_blocking(move || store.attempts(&id)).await else {
        return;
    };
    for attempt in attempts.iter().filter(|a| a.intent.at >= since) {
        let node = attempt.intent.node.clone();
        if attempt.intent.attempt > 1 {
            metrics::counter!("psaflow_step_retries_total", "node" => node.clone()).increment(1);
        }
        let code = attempt
            .result
            .as_ref()
            .map_or_else(|| "none".to_string(), |r| r.status_code.to_string());
        metrics::counter!("psaflow_node_invocations_total", "node" => node, "status_code" => code)
            .increment(1);
    }
}

/// A decision can arrive while the run is still on its way to the approval step (the API
/// records it, but the run is not waiting yet, so nothing requeues it). When the run then
/// parks with every approval already decided, it is queued again at once.
async fn requeue_if_decided(state: &Arc<AppState>, run_id: &str) {
    let store = state.store.clone();
    let id = run_id.to_string();
    let requeued =
        tokio::task::spawn_blocking(move || -> Result<bool, psaflow_store::StoreError> {
            let approvals = store.approvals(&id)?;
            if approvals.is_empty() || approvals.iter().any(|a| a.decided.is_none()) {
                return Ok(false);
            }
            store.requeue(&id, None, now_ms())?;
            Ok(true)
        })
        .await;
    match requeued {
        Ok(Ok(true)) => {
            tracing::info!(run_id = %run_id, "its approval was decided before it waited; queued again");
            state.executor.wake();
        }
        Ok(Ok(false)) => {}
        Ok(Err(err)) => {
            tracing::warn!(run_id = %run_id, error = %err, "could not requeue a decided run")
        }
        Err(err) => {
            tracing::warn!(run_id = %run_id, error = %err, "requeueing a decided run did not finish")
        }
    }
}
