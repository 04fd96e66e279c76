//! The records the store keeps. Plain data: times are milliseconds since the Unix epoch,
//! JSON values are already redacted by the caller (the store never sees a secret).
use serde::Serialize;
use serde_json::Value;
use std::fmt;

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Waiting in the run queue for a worker (`psaflow worker`, `psaflow serve`) to claim it.
    Queued,
    /// Started and not finished: in progress, or interrupted (killed, machine lost).
    Running,
    /// Finished with every step succeeded or skipped.
    Succeeded,
    /// Finished with a failure: a step failed, an approval was rejected, or the run was given up.
    Failed,
    /// Stopped at an approval step; `psaflow approve` continues it.
    WaitingApproval,
}

impl RunState {
    /// Every state, in the order a run moves through them (for filters and metrics).
    pub const ALL: [RunState; 5] = [
        RunState::Queued,
        RunState::Running,
        RunState::Succeeded,
        RunState::Failed,
        RunState::WaitingApproval,
    ];

    /// The stored and printed name (`waiting_approval`).
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
            RunState::WaitingApproval => "waiting_approval",
        }
    }

    /// The state named `text` as [`RunState::as_str`] writes it; `None` for anything else.
    pub fn parse(text: &str) -> Option<RunState> {
        RunState::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Succeeded and failed runs are over; the others can still be resumed.
    pub fn is_finished(self) -> bool {
        matches!(self, RunState::Succeeded | RunState::Failed)
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A run about to start.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRun {
    /// The run's id: time-ordered text made by the store's id generator.
    pub id: String,
    /// The workflow's `name`.
    pub workflow: String,
    /// The path it was run from, for people reading `psaflow runs`.
    pub workflow_file: String,
    /// sha256 of `workflow_source`, to tell two versions of a file apart.
    pub workflow_hash: String,
    /// The exact YAML run; a resume runs this, not the file (which may have changed).
    pub workflow_source: String,
    /// Inputs with secret values masked.
    pub inputs: Value,
    /// Names of the inputs whose values were masked (a resume must be given them again).
    pub redacted_inputs: Vec<String>,
    /// Who started it: the OS user, or an API token's name.
    pub started_by: String,
    /// Where its requests go: `sandbox`, or the API base URL.
    pub backend: String,
    /// When it was created (ms since the epoch).
    pub created_at: i64,
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// See [`NewRun::id`].
    pub id: String,
    /// See [`NewRun::workflow`].
    pub workflow: String,
    /// See [`NewRun::workflow_file`].
    pub workflow_file: String,
    /// See [`NewRun::workflow_hash`].
    pub workflow_hash: String,
    /// See [`NewRun::workflow_source`].
    pub workflow_source: String,
    /// Inputs with secret values masked.
    pub inputs: Value,
    /// Names of the inputs whose values were masked.
    pub redacted_inputs: Vec<String>,
    /// Where the run stands now.
    pub status: RunState,
    /// See [`NewRun::started_by`].
    pub started_by: String,
    /// See [`NewRun::backend`].
    pub backend: String,
    /// When it was created (ms since the epoch).
    pub created_at: i64,
    /// The last change to the row (status, report).
    pub updated_at: i64,
    /// When it succeeded or failed; `None` while it can still continue.
    pub finished_at: Option<i64>,
    /// The latest run report (`run --json`), redacted.
    pub report: Option<Value>,
    /// Why it failed when no single step explains it (a lost lease, an invalid workflow).
    pub error: Option<String>,
}

/// Which runs `list_runs` returns, newest first.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// Only runs in this state; `None` for all.
    pub status: Option<RunState>,
    /// At most this many; `None` for no limit.
    pub limit: Option<u32>,
    /// Only runs of this workflow (its `name`).
    pub workflow: Option<String>,
    /// Only runs created at or after this time (ms since the epoch).
    pub created_since: Option<i64>,
    /// Only runs listed after this one (older, or as old with a smaller id): the next page
    /// after a page ending there. An unknown id gives an empty page.
    pub before_id: Option<String>,
}

/// A call: one step without for_each (`item: None`) or one for_each item.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallKey {
    /// The run the call belongs to.
    pub run_id: String,
    /// The step's `id` in the workflow.
    pub step_id: String,
    /// The 0-based for_each item; `None` for a step without for_each.
    pub item: Option<u32>,
}

impl CallKey {
    /// The key of one call; `item` as in [`CallKey::item`].
    pub fn new(run_id: impl Into<String>, step_id: impl Into<String>, item: Option<u32>) -> Self {
        CallKey {
            run_id: run_id.into(),
            step_id: step_id.into(),
            item,
        }
    }

    /// The stored form of `item`: -1 for a step without for_each.
    pub(crate) fn item_column(&self) -> i64 {
        self.item.map_or(-1, i64::from)
    }

    pub(crate) fn item_from_column(column: i64) -> Option<u32> {
        u32::try_from(column).ok()
    }
}

impl fmt::Display for CallKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.item {
            Some(i) => write!(f, "step '{}' item {i}", self.step_id),
            None => write!(f, "step '{}'", self.step_id),
        }
    }
}

/// Step status as stored (the engine's statuses plus two of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    /// Started; not finished (or interrupted).
    Running,
    /// Finished with a successful envelope (for for_each: every item).
    Succeeded,
    /// Finished with a failed envelope or an error.
    Failed,
    /// Not run (see the run report for why: a false `if`, an earlier failure).
    Skipped,
    /// An approval step waiting for its decision.
    WaitingApproval,
}

impl StepState {
    /// The stored name (`waiting_approval`).
    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Running => "running",
            StepState::Succeeded => "succeeded",
            StepState::Failed => "failed",
            StepState::Skipped => "skipped",
            StepState::WaitingApproval => "waiting_approval",
        }
    }

    /// The state named `text` as [`StepState::as_str`] writes it; `None` for anything else.
    pub fn parse(text: &str) -> Option<StepState> {
        [
            StepState::Running,
            StepState::Succeeded,
            StepState::Failed,
            StepState::Skipped,
            StepState::WaitingApproval,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// One step of a run as stored: one row per step that started.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    /// The run the step belongs to.
    pub run_id: String,
    /// The step's `id` in the workflow.
    pub step_id: String,
    /// The node id it runs (`halopsa.client.create`).
    pub node: String,
    /// Where the step stands.
    pub status: StepState,
    /// The list length of a for_each step; `None` without for_each.
    pub item_count: Option<u64>,
    /// Why it failed, in words.
    pub error: Option<String>,
    /// When it started (ms since the epoch).
    pub started_at: i64,
    /// When it finished; `None` while running.
    pub finished_at: Option<i64>,
}

/// A finished call: what a resume replays instead of calling again.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    /// Which call.
    pub key: CallKey,
    /// True when the envelope was a success.
    pub succeeded: bool,
    /// The envelope the node returned, redacted; `None` when the call ended in an error before one.
    pub envelope: Option<Value>,
    /// The parameters sent, redacted.
    pub params: Option<Value>,
    /// Why it failed, in words.
    pub error: Option<String>,
    /// How many attempts the call took (retries included).
    pub attempts: u32,
    /// When the first attempt started (ms since the epoch).
    pub started_at: i64,
    /// When the last attempt ended.
    pub finished_at: i64,
}

/// What a node does to the PSA, as the node declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Changes nothing; its attempts are written after the fact, with no intent first.
    Read,
    /// Makes a record; an unknown outcome makes a resume look for it before creating again.
    Create,
    /// Changes fields of a record.
    Update,
    /// Makes a record inactive.
    Deactivate,
    /// Removes a record.
    Delete,
}

impl Effect {
    /// The stored name, as WIT spells the effect.
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Read => "read",
            Effect::Create => "create",
            Effect::Update => "update",
            Effect::Deactivate => "deactivate",
            Effect::Delete => "delete",
        }
    }

    /// The effect named `text`; `None` for anything else.
    pub fn parse(text: &str) -> Option<Effect> {
        [
            Effect::Read,
            Effect::Create,
            Effect::Update,
            Effect::Deactivate,
            Effect::Delete,
        ]
        .into_iter()
        .find(|e| e.as_str() == text)
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The node returned a successful envelope.
    Succeeded,
    /// The node answered with a failure: nothing was changed, or the failure says what.
    Failed,
    /// The request may have reached the server but no answer came.
    Unknown,
}

impl Outcome {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Unknown => "unknown",
        }
    }

    /// The outcome named `text`; `None` for anything else.
    pub fn parse(text: &str) -> Option<Outcome> {
        [Outcome::Succeeded, Outcome::Failed, Outcome::Unknown]
            .into_iter()
            .find(|o| o.as_str() == text)
    }
}

/// The journal entry written before an attempt is sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Intent {
    /// Which call the attempt belongs to.
    pub key: CallKey,
    /// 1-based.
    pub attempt: u32,
    /// The node id.
    pub node: String,
    /// What the node declares it changes; decides whether an unknown outcome needs care.
    pub effect: Effect,
    /// The parameters about to be sent, redacted.
    pub params: Value,
    /// When the intent was written (ms since the epoch), before the request.
    pub at: i64,
}

/// What an attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptResult {
    /// How it ended.
    pub outcome: Outcome,
    /// The envelope's StatusCode.
    pub status_code: i64,
    /// The envelope, redacted.
    pub envelope: Value,
    /// Why it failed, in words.
    pub error: Option<String>,
    /// The id of the record the attempt changed, when known (for the audit trail).
    pub target: Option<String>,
    /// A create that found its own record instead of repeating.
    pub recovered: bool,
    /// When the outcome was written (ms since the epoch).
    pub at: i64,
}

/// One attempt as stored; `result` is `None` for an intent whose outcome was never written
/// (the process stopped while the request was in flight).
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    /// What was about to be sent.
    pub intent: Intent,
    /// How it ended, once known.
    pub result: Option<AttemptResult>,
}

/// An approval step waiting for a person's decision.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalRequest {
    /// The run that waits.
    pub run_id: String,
    /// The approval step's id.
    pub step_id: String,
    /// What the approver is asked, as the workflow wrote it (expressions rendered).
    pub message: String,
    /// Who may decide; empty means anyone.
    pub approvers: Vec<String>,
    /// What happens when `expires_at` passes with no decision.
    pub on_timeout: Decision,
    /// When the run reached the step (ms since the epoch).
    pub requested_at: i64,
    /// When `on_timeout` applies; `None`: it waits for ever.
    pub expires_at: Option<i64>,
}

/// A person's answer to an approval request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The run continues past the approval step.
    Approved,
    /// The run fails at the approval step.
    Rejected,
}

impl Decision {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approved => "approved",
            Decision::Rejected => "rejected",
        }
    }

    /// The decision named `text`; `None` for anything else.
    pub fn parse(text: &str) -> Option<Decision> {
        match text {
            "approved" => Some(Decision::Approved),
            "rejected" => Some(Decision::Rejected),
            _ => None,
        }
    }
}

/// A decision as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionRecord {
    /// What was decided.
    pub decision: Decision,
    /// Who decided: an approver's name, or `timeout` when `on_timeout` applied.
    pub by: String,
    /// The approver's reason, if given.
    pub comment: Option<String>,
    /// When (ms since the epoch).
    pub at: i64,
}

/// An approval request and, once made, its decision.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalRecord {
    /// What was asked.
    pub request: ApprovalRequest,
    /// The decision; `None` while the run waits.
    pub decided: Option<DecisionRecord>,
}

/// What `decide` did.
#[derive(Debug, Clone, PartialEq)]
pub enum DecideOutcome {
    /// The decision was stored; the caller requeues or fails the run.
    Recorded,
    /// The same decision was already recorded: nothing changed.
    AlreadyDecided(DecisionRecord),
}

/// One row of the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    /// Time-ordered id of the row.
    pub id: String,
    /// When the change was made (ms since the epoch).
    pub at: i64,
    /// Who made it: the run's `started_by`, or the approver for a decision.
    pub actor: String,
    /// The run that made the change.
    pub run_id: String,
    /// The step that made it.
    pub step_id: String,
    /// The for_each item; `None` for a step without for_each.
    pub item: Option<u32>,
    /// The node id that ran.
    pub node: String,
    /// `create`, `update`, `deactivate`, `delete`, or `approve`/`reject` for a decision.
    pub effect: String,
    /// The id of the record changed, when known.
    pub target: Option<String>,
    /// `succeeded`, `failed` or `unknown`, as in [`Outcome`].
    pub outcome: String,
    /// Who approved the step that made the change, if it was approved.
    pub approved_by: Option<String>,
    /// What else is worth keeping: the attempt, parameters (redacted), status code, error.
    pub detail: Option<Value>,
}

/// Which audit rows `audit` returns, oldest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only rows at or after this time (ms since the epoch).
    pub since: Option<i64>,
    /// `*` any text, `?` one character.
    pub node_glob: Option<String>,
    /// Only changes to this record id.
    pub target: Option<String>,
    /// Only changes made by this run.
    pub run_id: Option<String>,
}

/// What `prune` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneCounts {
    /// Runs removed.
    pub runs: u64,
    /// Step rows removed.
    pub steps: u64,
    /// Finished-call rows removed.
    pub items: u64,
    /// Journal (attempt) rows removed.
    pub attempts: u64,
    /// Approval rows removed.
    pub approvals: u64,
}

/// A run's place in the run queue: what a worker needs to execute it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedWork {
    /// The run to execute (its row in `runs` holds the workflow).
    pub run_id: String,
    /// The run's inputs, resolved (as `psaflow_workflow::resolve_inputs` returns them) and NOT
    /// masked: a worker must be able to run a workflow with a password input. The queue row,
    /// and with it these values, is deleted when the run finishes.
    pub inputs: Value,
    /// The connection the run uses, by name (`serve --connections`); `None`: the default.
    pub connection: Option<String>,
    /// Send no changes: the run is a dry run.
    pub dry_run: bool,
    /// How many workers lost their lease on this run before (died, stalled).
    pub lost_leases: u32,
    /// When it entered the queue (ms since the epoch); the oldest is claimed first.
    pub enqueued_at: i64,
}

/// A queue row as stored, with its lease (for status pages and tests).
#[derive(Debug, Clone, PartialEq)]
pub struct QueueEntry {
    /// The queued run.
    pub work: QueuedWork,
    /// The worker holding the lease, when one does.
    pub lease_owner: Option<String>,
    /// When the lease runs out unless renewed (ms since the epoch).
    pub lease_until: Option<i64>,
    /// True while the run waits for an approval: no worker claims it until it is requeued.
    pub parked: bool,
}

/// How a worker's execution of a queued run ended, written by `finish` in one transaction
/// with the queue row's removal.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEnd {
    /// Succeeded, failed, or waiting for approval (the queue row is then kept, parked, so the
    /// run can be requeued with its inputs once decided).
    pub status: RunState,
    /// The final run report (`run --json`), redacted.
    pub report: Option<Value>,
    /// Why it failed, when no single step explains it.
    pub error: Option<String>,
    /// When it ended (ms since the epoch).
    pub at: i64,
}

/// A process's claim to be executing a run outside the run queue (see `RunStore::hold_run`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunHold {
    /// Who holds it: the process, as its holder string names it.
    pub holder: String,
    /// Until when (ms since the epoch); the holder renews it while it runs.
    pub until: i64,
}

/// What `sweep_expired` did with the leases that ran out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sweep {
    /// Runs put back in the queue for another worker.
    pub requeued: Vec<String>,
    /// Runs failed because their lease was lost too many times.
    pub failed: Vec<String>,
}

/// A request budget shared through the store: at most `requests` in any span of `per_ms`
/// (callers add their jitter margin to the span).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedLimit {
    /// Sends allowed in any span of `per_ms`.
    pub requests: u32,
    /// The span, in milliseconds.
    pub per_ms: i64,
}

/// What taking a slot of a shared budget came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotAnswer {
    /// `None`: the slot is taken, send now. Otherwise wait this long (ms) and ask again.
    pub wait_ms: Option<i64>,
    /// Sends per span allowed now (the limit, less after 429s).
    pub allowed: u32,
}
