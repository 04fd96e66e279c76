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
    Succeeded,
    Failed,
    /// Stopped at an approval step; `psaflow approve` continues it.
    WaitingApproval,
}

impl RunState {
    pub const ALL: [RunState; 5] = [
        RunState::Queued,
        RunState::Running,
        RunState::Succeeded,
        RunState::Failed,
        RunState::WaitingApproval,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
            RunState::WaitingApproval => "waiting_approval",
        }
    }

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
    pub id: String,
    pub workflow: String,
    pub workflow_file: String,
    pub workflow_hash: String,
    pub workflow_source: String,
    /// Inputs with secret values masked.
    pub inputs: Value,
    /// Names of the inputs whose values were masked (a resume must be given them again).
    pub redacted_inputs: Vec<String>,
    pub started_by: String,
    pub backend: String,
    pub created_at: i64,
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub id: String,
    pub workflow: String,
    pub workflow_file: String,
    pub workflow_hash: String,
    pub workflow_source: String,
    pub inputs: Value,
    pub redacted_inputs: Vec<String>,
    pub status: RunState,
    pub started_by: String,
    pub backend: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
    /// The latest run report (`run --json`), redacted.
    pub report: Option<Value>,
    pub error: Option<String>,
}

/// Which runs `list_runs` returns, newest first.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub status: Option<RunState>,
    pub limit: Option<u32>,
}

/// A call: one step without for_each (`item: None`) or one for_each item.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallKey {
    pub run_id: String,
    pub step_id: String,
    pub item: Option<u32>,
}

impl CallKey {
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
    Running,
    Succeeded,
    Failed,
    Skipped,
    WaitingApproval,
}

impl StepState {
    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Running => "running",
            StepState::Succeeded => "succeeded",
            StepState::Failed => "failed",
            StepState::Skipped => "skipped",
            StepState::WaitingApproval => "waiting_approval",
        }
    }

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

#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    pub run_id: String,
    pub step_id: String,
    pub node: String,
    pub status: StepState,
    pub item_count: Option<u64>,
    pub error: Option<String>,
    pub started_at: i64,
    pub finished_at: Option<i64>,
}

/// A finished call: what a resume replays instead of calling again.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    pub key: CallKey,
    pub succeeded: bool,
    pub envelope: Option<Value>,
    pub params: Option<Value>,
    pub error: Option<String>,
    pub attempts: u32,
    pub started_at: i64,
    pub finished_at: i64,
}

/// What a node does to the PSA, as the node declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    Read,
    Create,
    Update,
    Deactivate,
    Delete,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Read => "read",
            Effect::Create => "create",
            Effect::Update => "update",
            Effect::Deactivate => "deactivate",
            Effect::Delete => "delete",
        }
    }

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
    Succeeded,
    Failed,
    /// The request may have reached the server but no answer came.
    Unknown,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Unknown => "unknown",
        }
    }

    pub fn parse(text: &str) -> Option<Outcome> {
        [Outcome::Succeeded, Outcome::Failed, Outcome::Unknown]
            .into_iter()
            .find(|o| o.as_str() == text)
    }
}

/// The journal entry written before an attempt is sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Intent {
    pub key: CallKey,
    /// 1-based.
    pub attempt: u32,
    pub node: String,
    pub effect: Effect,
    pub params: Value,
    pub at: i64,
}

/// What an attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptResult {
    pub outcome: Outcome,
    pub status_code: i64,
    pub envelope: Value,
    pub error: Option<String>,
    pub target: Option<String>,
    /// A create that found its own record instead of repeating.
    pub recovered: bool,
    pub at: i64,
}

/// One attempt as stored; `result` is `None` for an intent whose outcome was never written
/// (the process stopped while the request was in flight).
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    pub intent: Intent,
    pub result: Option<AttemptResult>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalRequest {
    pub run_id: String,
    pub step_id: String,
    pub message: String,
    /// Who may decide; empty means anyone.
    pub approvers: Vec<String>,
    /// What happens when `expires_at` passes with no decision.
    pub on_timeout: Decision,
    pub requested_at: i64,
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approved,
    Rejected,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approved => "approved",
            Decision::Rejected => "rejected",
        }
    }

    pub fn parse(text: &str) -> Option<Decision> {
        match text {
            "approved" => Some(Decision::Approved),
            "rejected" => Some(Decision::Rejected),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DecisionRecord {
    pub decision: Decision,
    pub by: String,
    pub comment: Option<String>,
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalRecord {
    pub request: ApprovalRequest,
    pub decided: Option<DecisionRecord>,
}

/// What `decide` did.
#[derive(Debug, Clone, PartialEq)]
pub enum DecideOutcome {
    Recorded,
    /// The same decision was already recorded: nothing changed.
    AlreadyDecided(DecisionRecord),
}

/// One row of the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub id: String,
    pub at: i64,
    pub actor: String,
    pub run_id: String,
    pub step_id: String,
    pub item: Option<u32>,
    pub node: String,
    /// `create`, `update`, `deactivate`, `delete`, or `approve`/`reject` for a decision.
    pub effect: String,
    pub target: Option<String>,
    pub outcome: String,
    pub approved_by: Option<String>,
    pub detail: Option<Value>,
}

/// Which audit rows `audit` returns, oldest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub since: Option<i64>,
    /// `*` any text, `?` one character.
    pub node_glob: Option<String>,
    pub target: Option<String>,
    pub run_id: Option<String>,
}

/// What `prune` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneCounts {
    pub runs: u64,
    pub steps: u64,
    pub items: u64,
    pub attempts: u64,
    pub approvals: u64,
}

/// A run's place in the run queue: what a worker needs to execute it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedWork {
    pub run_id: String,
    /// The run's inputs, resolved (as `psaflow_workflow::resolve_inputs` returns them) and NOT
    /// masked: a worker must be able to run a workflow with a password input. The queue row,
    /// and with it these values, is deleted when the run finishes.
    pub inputs: Value,
    /// The connection the run uses, by name (`serve --connections`); `None`: the default.
    pub connection: Option<String>,
    pub dry_run: bool,
    /// How many workers lost their lease on this run before (died, stalled).
    pub lost_leases: u32,
    pub enqueued_at: i64,
}

/// A queue row as stored, with its lease (for status pages and tests).
#[derive(Debug, Clone, PartialEq)]
pub struct QueueEntry {
    pub work: QueuedWork,
    /// The worker holding the lease, when one does.
    pub lease_owner: Option<String>,
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
    pub report: Option<Value>,
    pub error: Option<String>,
    pub at: i64,
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
    pub requests: u32,
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
