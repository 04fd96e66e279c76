//! The trait every run store backend implements.
//!
//! The methods are synchronous: SQLite answers in microseconds from this process, and a
//! networked backend can block on its own pool. Async callers run them on a blocking thread
//! (`tokio::task::spawn_blocking`), which keeps this trait simple to implement and to test.
use crate::api::{NewToken, Submission, TokenRecord};
use crate::model::*;
use thiserror::Error;

/// Why a run store operation failed. The messages are shown to users as they are, so each
/// names the run, step or file concerned.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The run id is not in the store.
    #[error("no run with id {0}")]
    RunNotFound(String),
    /// The run has no approval request at that step.
    #[error("run {run_id} has no approval waiting at step '{step_id}'")]
    ApprovalNotFound {
        /// The run asked about.
        run_id: String,
        /// The step asked about.
        step_id: String,
    },
    #[error(
        "step '{step_id}' of run {run_id} was already {} by {}; a different decision cannot replace it",
        existing.decision.as_str(),
        existing.by
    )]
    /// A decision was made already and the new one differs; decisions are final.
    ConflictingDecision {
        /// The run of the approval.
        run_id: String,
        /// The approval step.
        step_id: String,
        /// The decision already recorded, which stands.
        existing: DecisionRecord,
    },
    #[error(
        "run {0} has no queued work: its inputs were deleted when it last stopped; give them again to requeue it"
    )]
    /// The run has no queue row (its inputs are gone), so it cannot be requeued without them.
    NotQueued(String),
    /// A decision on a step of a run that is over (finished or cancelled) before the step was
    /// decided: the step will never run, so nothing is recorded (a decision and its audit row
    /// would tell a story that did not happen). Checked inside the decision's transaction, so
    /// a cancel landing at the same moment cannot slip a decision in.
    #[error("run {run_id} {}: step '{step_id}' will never run, so no decision was recorded", how_it_ended(*status, reason.as_deref()))]
    RunOver {
        /// The finished run.
        run_id: String,
        /// The step the decision was for.
        step_id: String,
        /// How the run finished.
        status: RunState,
        /// The run's recorded error (a cancel's "cancelled by ..."), when it has one.
        reason: Option<String>,
    },
    /// The run is over; only unfinished runs go back into the queue.
    #[error("run {run_id} already {status}; a finished run cannot be queued again")]
    RunFinished {
        /// The finished run.
        run_id: String,
        /// How it finished.
        status: RunState,
    },
    /// A row with this key exists (run id, token name, intent of the same attempt).
    #[error("{0} already exists")]
    Duplicate(String),
    #[error(
        "the run store at {path} is from a newer psaflow (schema version {found}, this one knows {known})"
    )]
    /// The database was migrated by a newer psaflow; this one refuses to touch it.
    NewerSchema {
        /// Where the store is (a file path or database location).
        path: String,
        /// The schema version found in the store.
        found: i64,
        /// The newest schema version this psaflow knows.
        known: i64,
    },
    /// A stored value does not parse (a JSON column, a status name).
    #[error("the run store holds a value it cannot read: {0}")]
    Corrupt(String),
    /// The database itself failed (I/O, lock, connection, SQL).
    #[error("run store: {0}")]
    Backend(String),
    /// This backend does not implement the operation.
    #[error("the {backend} run store cannot {what} yet")]
    Unsupported {
        /// The backend's kind (`sqlite`, `postgres`).
        backend: &'static str,
        /// The operation, as a verb phrase for the message.
        what: &'static str,
    },
}

/// "was cancelled by ..." for a cancelled run (its error says so), "already failed" otherwise.
fn how_it_ended(status: RunState, reason: Option<&str>) -> String {
    match reason {
        Some(reason) if reason.starts_with("cancelled") => format!("was {reason}"),
        _ => format!("already {status}"),
    }
}

/// `RunOver` when a run whose stored status is `status` is over, for `decide` (both backends).
pub(crate) fn refuse_if_over(
    run_id: &str,
    step_id: &str,
    status: &str,
    reason: Option<String>,
) -> StoreResult<()> {
    let status = RunState::parse(status)
        .ok_or_else(|| StoreError::Corrupt(format!("run {run_id} has status {status:?}")))?;
    if !status.is_finished() {
        return Ok(());
    }
    Err(StoreError::RunOver {
        run_id: run_id.to_string(),
        step_id: step_id.to_string(),
        status,
        reason,
    })
}

/// The result of every [`RunStore`] operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// Where runs, their journal, approvals, the audit trail, the run queue and `psaflow serve`'s
/// tokens are kept. Every backend passes the same checks ([`crate::conformance`]).
pub trait RunStore: Send + Sync {
    /// A short name for reports and `runs show`: `sqlite`, `postgres`.
    fn kind(&self) -> &'static str;
    /// Where the data is, for people (a file path, a database name without password).
    fn location(&self) -> String;

    // Runs.
    /// Stores a new run; an existing id is [`StoreError::Duplicate`].
    fn create_run(&self, run: &NewRun) -> StoreResult<()>;
    /// The run with this id, if any.
    fn run(&self, id: &str) -> StoreResult<Option<RunRecord>>;
    /// Newest first: by creation time, ties by id descending (ids may be chosen by callers,
    /// so their text says nothing of age).
    fn list_runs(&self, filter: &RunFilter) -> StoreResult<Vec<RunRecord>>;
    /// Sets the status, and the report/error when given. A finished status sets `finished_at`.
    fn update_run(
        &self,
        id: &str,
        status: RunState,
        report: Option<&serde_json::Value>,
        error: Option<&str>,
        at: i64,
    ) -> StoreResult<()>;

    // Steps and finished calls.
    /// Inserts or replaces the step's row.
    fn record_step(&self, step: &StepRecord) -> StoreResult<()>;
    /// Every step row of a run, in the order the steps started.
    fn steps(&self, run_id: &str) -> StoreResult<Vec<StepRecord>>;
    /// Inserts or replaces the finished call.
    fn record_call(&self, call: &CallRecord) -> StoreResult<()>;
    /// Every finished call of a run, by step then item.
    fn calls(&self, run_id: &str) -> StoreResult<Vec<CallRecord>>;

    // The journal.
    /// Commits the intent before the request is sent. An intent for the same attempt that
    /// already exists is an error (attempt numbers are never reused).
    fn record_intent(&self, intent: &Intent) -> StoreResult<()>;
    /// Completes an attempt; with `audit`, appends that audit row in the same transaction,
    /// so a change is never journaled without being audited (or the reverse).
    fn record_result(
        &self,
        key: &CallKey,
        attempt: u32,
        result: &AttemptResult,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<()>;
    /// Records a whole attempt after the fact (a read, which needs no intent first): intent
    /// and result in one transaction.
    fn record_attempt(
        &self,
        intent: &Intent,
        result: &AttemptResult,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<()>;
    /// Every attempt of a run, by step, item and attempt number.
    fn attempts(&self, run_id: &str) -> StoreResult<Vec<AttemptRecord>>;

    // Approvals.
    /// Records that a step waits for approval; a request that already exists is kept as it
    /// is (a resumed run reaching the same step again asks nothing new).
    fn request_approval(&self, request: &ApprovalRequest) -> StoreResult<()>;
    /// Every approval request of a run, with its decision when made.
    fn approvals(&self, run_id: &str) -> StoreResult<Vec<ApprovalRecord>>;
    /// Records a decision and its audit row. The same decision again is a no-op
    /// (`AlreadyDecided`); a different one is `ConflictingDecision`; an undecided step of a
    /// run that is over (finished, cancelled) is `RunOver`, with nothing written.
    fn decide(
        &self,
        run_id: &str,
        step_id: &str,
        decision: &DecisionRecord,
        audit: &AuditEntry,
    ) -> StoreResult<DecideOutcome>;

    // Audit.
    /// Appends one audit row on its own (a direct node invocation through `psaflow serve`).
    fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()>;
    /// Oldest first.
    fn audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>>;

    // Runs executed outside the queue (`psaflow run`, `run --resume`, `approve`): the process
    // executing one holds it, so a second process cannot resume it at the same time.
    /// Claims run `run_id` for `holder` until `until`, or renews `holder`'s claim. `None`:
    /// held. `Some(hold)`: another holder's claim is still valid at `now` (or was given as
    /// `take_over` but has changed since), and nothing changed. A claim that ran out, or whose
    /// holder equals `take_over` (the caller knows that process is gone), is taken over.
    fn hold_run(
        &self,
        run_id: &str,
        holder: &str,
        until: i64,
        now: i64,
        take_over: Option<&str>,
    ) -> StoreResult<Option<RunHold>>;
    /// Ends `holder`'s claim on the run; nothing when it holds none.
    fn let_go_of_run(&self, run_id: &str, holder: &str) -> StoreResult<()>;

    // The run queue (`psaflow worker`, `psaflow serve`). A worker claims a run with a lease,
    // renews it while it works (heartbeat), and finishes or releases it; a lease that runs
    // out (the worker died) is put back by `sweep_expired`.
    /// Records a new run with status `queued` and its queue row, in one transaction.
    fn enqueue(&self, run: &NewRun, work: &QueuedWork) -> StoreResult<()>;
    /// Makes an existing, unfinished run claimable again (status `queued`), for example once
    /// its approval was decided. With `work`, the queue row is (re)written with it; without,
    /// the row kept while the run waited (parked) is reused, and a run without one is
    /// `NotQueued` (its secret inputs are gone).
    fn requeue(&self, run_id: &str, work: Option<&QueuedWork>, at: i64) -> StoreResult<()>;
    /// Leases the oldest claimable run (not parked, no lease) to `worker` until
    /// `now + lease_ms` and marks the run `running`; `None` when there is none. Two workers
    /// never get the same run.
    fn claim(&self, worker: &str, lease_ms: i64, now: i64) -> StoreResult<Option<QueuedWork>>;
    /// Extends `worker`'s lease on the run to `until`. False: the worker no longer holds it
    /// (it ran out and was swept, or the run ended) and must stop working on the run.
    fn renew_lease(&self, run_id: &str, worker: &str, until: i64) -> StoreResult<bool>;
    /// Ends `worker`'s execution: sets the run's status, report and error and deletes the
    /// queue row (keeps it parked when the run waits for approval), in one transaction.
    /// False, and nothing changed, when the worker no longer holds the lease.
    fn finish(&self, run_id: &str, worker: &str, end: &RunEnd) -> StoreResult<bool>;
    /// Gives the run back without finishing it (graceful shutdown): lease cleared, status
    /// `queued`, inputs kept. False when the worker did not hold the lease.
    fn release(&self, run_id: &str, worker: &str, at: i64) -> StoreResult<bool>;
    /// Puts back every run whose lease ran out before `now`, counting the lost lease; a run
    /// that has lost `max_lost_leases` fails with a reason saying so and leaves the queue.
    fn sweep_expired(&self, now: i64, max_lost_leases: u32) -> StoreResult<Sweep>;
    /// Every queue row, oldest first.
    fn queue_entries(&self) -> StoreResult<Vec<QueueEntry>>;
    /// The parked runs (waiting in the queue for an approval) with an approval still
    /// undecided whose `expires_at` is at or before `now`, oldest queue row first: the runs
    /// the sweeper queues again so their `on_timeout` decides. One query, however long the
    /// queue is.
    fn parked_runs_with_expired_approvals(&self, now: i64) -> StoreResult<Vec<String>>;
    /// Waits up to `timeout` for the store to announce claimable work (PostgreSQL:
    /// LISTEN/NOTIFY). Backends without announcements just wait: the caller polls.
    fn wait_for_work(&self, timeout: std::time::Duration) -> StoreResult<()> {
        std::thread::sleep(timeout);
        Ok(())
    }

    // Request budgets shared by every process using the store, one per connection (the
    // tenant's API application). Each call is one short transaction on the connection's row;
    // times come from the backend's clock (PostgreSQL: the server's, so workers on machines
    // whose clocks differ still agree).
    /// Takes one request slot of `connection`'s budget, or says how long to wait.
    fn take_request_slot(&self, connection: &str, limit: SharedLimit) -> StoreResult<SlotAnswer>;
    /// The tenant answered 429: the budget halves, and nothing is sent for `pause_ms`.
    fn budget_throttled(
        &self,
        connection: &str,
        limit: SharedLimit,
        pause_ms: i64,
    ) -> StoreResult<()>;
    /// A request was answered without throttling: the budget grows back by one.
    fn budget_succeeded(&self, connection: &str, limit: SharedLimit) -> StoreResult<()>;

    /// Deletes finished runs created before `before` with their steps, calls, attempts and
    /// approvals. Unfinished runs (running, waiting for approval) and audit rows stay.
    fn prune(&self, before: i64) -> StoreResult<PruneCounts>;

    // API tokens and idempotent submissions (`psaflow serve`). The defaults say the backend
    // does not keep them, so a backend without them still builds and runs everything else.
    /// Stores a new token; an active token with the same name is `Duplicate` (a revoked one
    /// is replaced).
    fn create_token(&self, token: &NewToken) -> StoreResult<()> {
        let _ = token;
        Err(self.unsupported("keep API tokens"))
    }
    /// Every token, revoked ones included, by name.
    fn tokens(&self) -> StoreResult<Vec<TokenRecord>> {
        Err(self.unsupported("keep API tokens"))
    }
    /// Revokes the active token with this name; false when there is none.
    fn revoke_token(&self, name: &str, at: i64) -> StoreResult<bool> {
        let _ = (name, at);
        Err(self.unsupported("keep API tokens"))
    }
    /// Notes when a token was last used.
    fn token_used(&self, name: &str, at: i64) -> StoreResult<()> {
        let _ = (name, at);
        Err(self.unsupported("keep API tokens"))
    }
    /// Stores the submission unless its key is already known, and returns what is stored
    /// under the key (the first submission wins).
    fn remember_submission(&self, submission: &Submission) -> StoreResult<Submission> {
        let _ = submission;
        Err(self.unsupported("keep idempotent submissions"))
    }

    /// Stops a run that has not finished: status `failed` with `error`, and its queue row
    /// deleted in the same transaction, so no worker claims it and a worker executing it
    /// finds its lease gone at the next renewal (and writes nothing more). False when the
    /// run had already finished.
    fn cancel_run(&self, run_id: &str, error: &str, at: i64) -> StoreResult<bool> {
        let _ = (run_id, error, at);
        Err(self.unsupported("cancel runs"))
    }

    /// The submission stored under `key`, if any.
    fn submission(&self, key: &str) -> StoreResult<Option<Submission>> {
        let _ = key;
        Err(self.unsupported("keep idempotent submissions"))
    }

    #[doc(hidden)]
    fn unsupported(&self, what: &'static str) -> StoreError {
        StoreError::Unsupported {
            backend: self.kind(),
            what,
        }
    }
}
