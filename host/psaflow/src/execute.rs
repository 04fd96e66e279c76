//! Executing one run claimed from the run queue: what `psaflow worker` and `psaflow serve` do
//! with each [`QueuedWork`] they claim.
//!
//! A claimed run is continued exactly as `psaflow run --resume` continues a run: the stored
//! workflow, the same [`StoreJournal`] (calls that finished are replayed, attempts left in
//! doubt by a worker that died are reconciled before anything is sent again), and the run's
//! status and report written at the end, here together with the queue row's removal
//! ([`RunStore::finish`]). While it runs, the lease is renewed every third of its length; a
//! renewal that finds the lease gone (the worker stalled and the sweeper gave the run to
//! another) stops the run at once and writes nothing more.
//!
//! ```ignore
//! let executor = Executor { store, connections, worker: worker_id(), lease: Duration::from_secs(30) };
//! if let Some(work) = executor.claim().await? {
//!     let outcome = executor.execute(work, &stop).await?;
//! }
//! ```
use crate::backend::{Backend, BackendKind, Connectors, UsedConnection};
use crate::durable::StoreJournal;
use psaflow_core::BoxFuture;
use psaflow_runtime::Runtime;
use psaflow_store::{QueuedWork, RunEnd, RunRecord, RunState, RunStore, StoreError, now_ms};
use psaflow_workflow::{RunOptions, RunStatus, Workflow};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// A connection ready for runs: the runtime whose nodes send through it, and how runs name it.
pub struct Connected {
    /// Nodes plus the connection's transports (its request budget is shared by every run
    /// executed with this value).
    pub runtime: Runtime,
    /// Where requests go, as a run records it (`sandbox`, `HaloPSA at https://...`); a run
    /// started against another tenant is not continued here.
    pub backend_label: String,
    /// Whether the HaloPSA connection is the sandbox or a tenant.
    pub kind: BackendKind,
    /// Each connector's connection and its kind, for the report's `"backend"` and
    /// `"backends"` (see [`crate::backend::say_backends`]).
    pub connections: Vec<UsedConnection>,
    /// Values masked in everything a run stores or prints (the client secret).
    pub secrets: Vec<String>,
    /// Keeps an embedded sandbox alive while the connection is in use.
    pub backend: Option<Backend>,
}

/// Opens connections by the name a queued run carries (`None`: the default connection).
/// Implementations open each one once and hand out the same [`Connected`] after, so all runs
/// through one connection in this process share its request budget.
pub trait Connections: Send + Sync {
    /// The connection called `name` (`None`: the default), opened on first use.
    fn connect<'a>(
        &'a self,
        name: Option<&'a str>,
    ) -> BoxFuture<'a, anyhow::Result<Arc<Connected>>>;
}

/// How a run's label is written for a backend: `sandbox`, or where the requests go.
pub fn backend_label(backend: &Backend) -> String {
    if backend.sandbox.is_some() {
        "sandbox".to_string()
    } else {
        backend.description.clone()
    }
}

/// A signal to stop: executions end early (their lease released) once it is raised.
#[derive(Clone)]
pub struct Stop(watch::Receiver<bool>);

impl Stop {
    /// A stop signal and the handle that raises it.
    pub fn new() -> (watch::Sender<bool>, Stop) {
        let (tx, rx) = watch::channel(false);
        (tx, Stop(rx))
    }

    /// A signal that is never raised.
    pub fn never() -> Stop {
        let (tx, rx) = watch::channel(false);
        // Dropping the sender would end `raised()` at once; keep it alive forever.
        std::mem::forget(tx);
        Stop(rx)
    }

    /// True once the stop was raised.
    pub fn is_raised(&self) -> bool {
        *self.0.borrow()
    }

    /// Waits until the signal is raised.
    pub async fn raised(&self) {
        let mut rx = self.0.clone();
        // An error means the sender is gone: nobody can raise it any more, so wait forever.
        if rx.wait_for(|v| *v).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// How an execution ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Executed {
    /// The run stopped (succeeded, failed, or waits for approval) and that was recorded.
    Finished(RunState),
    /// The lease was lost while running: another worker may have the run now, so nothing
    /// more was written.
    LeaseLost,
    /// A stop was raised: the run was interrupted and given back to the queue.
    Released,
}

/// Claims and executes queued runs for one worker identity.
#[derive(Clone)]
pub struct Executor {
    /// Where the queue and the runs are.
    pub store: Arc<dyn RunStore>,
    /// The connections queued runs name.
    pub connections: Arc<dyn Connections>,
    /// The lease owner's name, unique among all workers (see [`worker_id`]).
    pub worker: String,
    /// How long a claim lasts without renewal; renewed every third of it.
    pub lease: Duration,
}

/// A worker name unique across machines and processes: host, process id and a random part.
pub fn worker_id() -> String {
    let host = crate::run_hold::host_name();
    let random = psaflow_store::new_id();
    format!(
        "{host}:{}:{}",
        std::process::id(),
        &random[random.len() - 6..]
    )
}

/// Runs a store call on a blocking thread.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| anyhow::anyhow!("the run store call did not finish: {e}"))?
        .map_err(anyhow::Error::from)
}

impl Executor {
    fn lease_ms(&self) -> i64 {
        psaflow_store::duration_ms(self.lease)
    }

    /// Claims the oldest claimable run, if any.
    pub async fn claim(&self) -> anyhow::Result<Option<QueuedWork>> {
        let store = self.store.clone();
        let worker = self.worker.clone();
        let lease = self.lease_ms();
        blocking(move || store.claim(&worker, lease, now_ms())).await
    }

    /// Executes a run this executor claimed, renewing its lease while it runs, and records
    /// how it ended. Errors are the store's (the run's own failures are a `Finished(Failed)`).
    pub async fn execute(&self, work: QueuedWork, stop: &Stop) -> anyhow::Result<Executed> {
        let (lost_tx, mut lost_rx) = watch::channel(false);
        let heartbeat = tokio::spawn(heartbeat(
            self.store.clone(),
            work.run_id.clone(),
            self.worker.clone(),
            self.lease,
            lost_tx,
        ));
        enum Ended {
            Ran(RunEnd),
            Lost,
            Stopped,
        }
        let ended = tokio::select! {
            end = self.run_to_end(&work) => Ended::Ran(end),
            _ = async { let _ = lost_rx.wait_for(|lost| *lost).await; } => Ended::Lost,
            _ = stop.raised() => Ended::Stopped,
        };
        heartbeat.abort();
        let end = match ended {
            Ended::Ran(end) => end,
            Ended::Lost => return Ok(Executed::LeaseLost),
            Ended::Stopped => {
                let (store, id, worker) =
                    (self.store.clone(), work.run_id.clone(), self.worker.clone());
                blocking(move || store.release(&id, &worker, now_ms())).await?;
                return Ok(Executed::Released);
            }
        };
        let status = end.status;
        let (store, id, worker) = (self.store.clone(), work.run_id.clone(), self.worker.clone());
        let recorded = blocking(move || store.finish(&id, &worker, &end)).await?;
        Ok(if recorded {
            Executed::Finished(status)
        } else {
            Executed::LeaseLost
        })
    }

    /// Runs the workflow and says how it ended; problems before the first step (an unknown
    /// run, a workflow that no longer validates, a connection that cannot open) fail the run
    /// with a message saying so.
    async fn run_to_end(&self, work: &QueuedWork) -> RunEnd {
        match self.try_run(work).await {
            Ok(end) => end,
            Err(err) => RunEnd {
                status: RunState::Failed,
                report: None,
                error: Some(format!("{err:#}")),
                at: now_ms(),
            },
        }
    }

    async fn try_run(&self, work: &QueuedWork) -> anyhow::Result<RunEnd> {
        let store = self.store.clone();
        let id = work.run_id.clone();
        let run: RunRecord = blocking(move || store.run(&id)).await?.ok_or_else(|| {
            anyhow::anyhow!("run {} is queued but its run row is gone", work.run_id)
        })?;
        let workflow = psaflow_workflow::parse(&run.workflow_source, &run.workflow_file)
            .map_err(|d| anyhow::anyhow!("the stored workflow does not parse: {}", render(&d)))?;
        let connected = self.connections.connect(work.connection.as_deref()).await?;
        if let Err(d) = psaflow_workflow::validate(&workflow, connected.runtime.catalog()) {
            anyhow::bail!(
                "the stored workflow is not valid with this worker's nodes: {}",
                render(&d)
            );
        }
        if run.backend != connected.backend_label && run.backend != "sandbox" {
            anyhow::bail!(
                "run {} sends its requests to {}; this worker's connection {} sends them to {}. \
                 Give the worker the same connection to continue it",
                run.id,
                run.backend,
                work.connection.as_deref().unwrap_or("(default)"),
                connected.backend_label
            );
        }
        let inputs = work.inputs.as_object().cloned().ok_or_else(|| {
            anyhow::anyhow!("the queued inputs of run {} are not an object", run.id)
        })?;
        let mut secrets = credential_values();
        secrets.extend(connected.secrets.iter().cloned());
        let mut options = RunOptions {
            inputs,
            env: declared_env(&workflow),
            secrets,
            dry_run: work.dry_run,
            ..RunOptions::default()
        };
        // As `psaflow run` reports it: the connections of the workflow's connectors.
        let used = Connectors::of_workflow(&workflow, connected.runtime.catalog());
        crate::backend::say_backends(&mut options, &connected.connections, &used, connected.kind);
        if !work.dry_run {
            let store = self.store.clone();
            let (id, actor) = (run.id.clone(), run.started_by.clone());
            let journal =
                tokio::task::spawn_blocking(move || StoreJournal::open(store, &id, &actor))
                    .await
                    .map_err(|e| anyhow::anyhow!("opening the journal did not finish: {e}"))??;
            options.journal = Some(Arc::new(journal));
        }
        let mut report = psaflow_workflow::run(&workflow, &connected.runtime, options).await;
        report.id = Some(run.id.clone());
        let status = match report.status {
            RunStatus::Succeeded => RunState::Succeeded,
            RunStatus::Failed => RunState::Failed,
            RunStatus::WaitingApproval => RunState::WaitingApproval,
        };
        let error = report.error.as_deref().map(|e| report.redactor().text(e));
        Ok(RunEnd {
            status,
            report: Some(report.to_json()),
            error,
            at: now_ms(),
        })
    }
}

/// Renews the lease every third of its length; raises `lost` when a renewal finds it gone.
/// A store that cannot be reached is tried again until the lease would have run out.
async fn heartbeat(
    store: Arc<dyn RunStore>,
    run_id: String,
    worker: String,
    lease: Duration,
    lost: watch::Sender<bool>,
) {
    let mut valid_until = now_ms() + psaflow_store::duration_ms(lease);
    loop {
        tokio::time::sleep(lease / 3).await;
        let until = now_ms() + psaflow_store::duration_ms(lease);
        let (s, id, w) = (store.clone(), run_id.clone(), worker.clone());
        match blocking(move || s.renew_lease(&id, &w, until)).await {
            Ok(true) => valid_until = until,
            Ok(false) => break,
            Err(err) => {
                eprintln!("psaflow: worker {worker}: renewing the lease on run {run_id}: {err:#}");
                if now_ms() >= valid_until {
                    break;
                }
            }
        }
    }
    let _ = lost.send(true);
}

fn render(d: &psaflow_workflow::Diagnostics) -> String {
    d.iter()
        .map(|d| d.render(false))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The variables the workflow declares under `env:`, from this process's environment.
fn declared_env(workflow: &Workflow) -> BTreeMap<String, String> {
    workflow
        .declared_env()
        .filter_map(|name| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .map(|value| (name.to_string(), value))
        })
        .collect()
}

/// The values of the credential variables in this process's environment, masked everywhere.
fn credential_values() -> Vec<String> {
    std::env::vars()
        .filter(|(name, value)| {
            psaflow_core::credentials::is_credential_variable(name) && value.len() >= 4
        })
        .map(|(_, value)| value)
        .collect()
}
