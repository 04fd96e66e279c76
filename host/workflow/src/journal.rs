//! The seam that makes a run durable. The engine tells a [`RunJournal`] about every step,
//! attempt and finished call, and asks it what an earlier process of the same run already
//! did. Without a journal (`RunOptions::journal` is `None`, as in `psaflow test`) the engine
//! runs in memory exactly as before.
//!
//! The rule the engine keeps: before an attempt of a node whose declared effect is not
//! `read`, [`RunJournal::intent`] must have succeeded, or the request is not sent. Everything
//! handed to the journal has been through the run's redactor.
use psaflow_core::{BoxFuture, Envelope};
use serde_json::{Map, Value};
use std::time::Duration;

/// Why an attempt that was in flight when its process stopped has no answer: what the resume
/// records for it, and what its report says.
pub const STOPPED_IN_FLIGHT: &str =
    "psaflow stopped after sending this request and before recording its answer";

/// One call: a step without for_each (`item: None`) or one for_each item.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallKey {
    /// The step's id.
    pub step: String,
    /// The for_each item, 0-based; `None` without for_each.
    pub item: Option<u32>,
}

impl CallKey {
    /// The key of `step`'s call for `item`. A for_each list is far below `u32::MAX` items
    /// (parsing bounds it); saturating keeps an impossible index distinct from a wrapped one.
    pub fn new(step: impl Into<String>, item: Option<usize>) -> CallKey {
        CallKey {
            step: step.into(),
            item: item.map(|i| u32::try_from(i).unwrap_or(u32::MAX)),
        }
    }
}

impl std::fmt::Display for CallKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.item {
            Some(i) => write!(f, "step '{}' item {i}", self.step),
            None => write!(f, "step '{}'", self.step),
        }
    }
}

/// What an earlier process of this run recorded about one call.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CallHistory {
    /// The call finished: its result is taken instead of calling the node again.
    pub finished: Option<FinishedCall>,
    /// The last attempt of a node that changes something was sent (its intent committed)
    /// but no result was recorded: the change may or may not have happened.
    pub in_doubt: Option<InDoubt>,
    /// Attempts already journaled (new attempts are numbered after them).
    pub attempts_made: u32,
    /// What each of those attempts did, in order: the start of the call's `attempt_log` in
    /// the report of the process that resumes it.
    pub earlier: Vec<crate::report::AttemptRecord>,
}

/// A call that ended, as a resume replays it.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedCall {
    /// The envelope was a success.
    pub succeeded: bool,
    /// The node's envelope (redacted); `None` when the call ended before one.
    pub envelope: Option<Envelope>,
    /// The parameters sent (redacted), for the report.
    pub params: Option<Map<String, Value>>,
    /// Why it failed, in words.
    pub error: Option<String>,
    /// How many attempts it took.
    pub attempts: u32,
}

/// An attempt whose request may have been applied: sent, with no result recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct InDoubt {
    /// Which attempt, 1-based.
    pub attempt: u32,
    /// The parameters that attempt sent (redacted).
    pub params: Value,
}

/// One attempt of a node, as journaled.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptNote {
    /// Which call.
    pub call: CallKey,
    /// 1-based, counting attempts of earlier processes of the run.
    pub attempt: u32,
    /// The node id.
    pub node: String,
    /// The node's declared effect: `read`, `create`, `update`, `deactivate`, `delete`.
    pub effect: String,
    /// The parameters about to be sent (redacted).
    pub params: Value,
    /// When the attempt began (a read's attempt is journaled whole once it ended, with the
    /// time it took).
    pub started: std::time::Instant,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptEnd {
    /// The node's envelope (redacted).
    pub envelope: Envelope,
    /// The envelope was a success.
    pub succeeded: bool,
    /// The request may have reached the server without an answer coming back.
    pub outcome_unknown: bool,
    /// A create that found its own record instead of repeating.
    pub recovered: bool,
    /// The id of the record the attempt changed, when known.
    pub target: Option<String>,
    /// Why the attempt failed, in words.
    pub error: Option<String>,
}

/// A step starting or ending.
#[derive(Debug, Clone, PartialEq)]
pub struct StepNote {
    /// The step's id.
    pub step: String,
    /// The node it runs.
    pub node: String,
    /// `running`, `succeeded`, `failed`, `skipped`, `waiting_approval`.
    pub status: &'static str,
    /// The for_each list length; `None` without for_each.
    pub items: Option<usize>,
    /// Why it failed, in words.
    pub error: Option<String>,
}

/// An approval the run has reached.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalAsk {
    /// The approval step's id.
    pub step: String,
    /// What the approver is asked (expressions rendered, redacted).
    pub message: String,
    /// Who may decide; empty means anyone.
    pub approvers: Vec<String>,
    /// How long the run waits before `on_timeout` decides; `None` waits for ever.
    pub timeout: Option<Duration>,
    /// `approve` or `reject`.
    pub on_timeout: &'static str,
}

/// Where an approval stands.
#[derive(Debug, Clone, PartialEq)]
pub enum ApprovalAnswer {
    /// The step runs.
    Approved {
        /// Who approved (or `timeout`).
        by: String,
        /// The approver's reason, if given.
        comment: Option<String>,
    },
    /// The run fails at the step.
    Rejected {
        /// Who rejected (or `timeout`).
        by: String,
        /// The approver's reason, if given.
        comment: Option<String>,
    },
    /// No decision yet: the run stops, waiting.
    Waiting,
}

/// A journal operation's result; the error is a message for the run report.
pub type JournalResult<T> = Result<T, String>;

/// Where the engine records a run as it goes and reads what earlier processes of the same
/// run did (psaflow's run store implements it).
pub trait RunJournal: Send + Sync {
    /// What earlier processes of this run recorded about `call` (empty for a new run).
    fn history(&self, call: &CallKey) -> CallHistory;
    /// Commits the intent of an attempt that changes something. The request is sent only
    /// when this succeeds.
    fn intent(&self, note: AttemptNote) -> BoxFuture<'_, JournalResult<()>>;
    /// Records how an attempt ended (for a read, the whole attempt in one go).
    fn attempt_end(&self, note: AttemptNote, end: AttemptEnd) -> BoxFuture<'_, JournalResult<()>>;
    /// Records a finished call, which a resume replays.
    fn call_finished(
        &self,
        call: CallKey,
        result: FinishedCall,
    ) -> BoxFuture<'_, JournalResult<()>>;
    /// Records a step's status.
    fn step(&self, note: StepNote) -> BoxFuture<'_, JournalResult<()>>;
    /// Registers (once) that the run reached an approval and says where it stands.
    fn approval(&self, ask: ApprovalAsk) -> BoxFuture<'_, JournalResult<ApprovalAnswer>>;
}
