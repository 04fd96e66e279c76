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

/// One call: a step without for_each (`item: None`) or one for_each item.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallKey {
    pub step: String,
    pub item: Option<u32>,
}

impl CallKey {
    pub fn new(step: impl Into<String>, item: Option<usize>) -> CallKey {
        CallKey {
            step: step.into(),
            item: item.map(|i| i as u32),
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
}

#[derive(Debug, Clone, PartialEq)]
pub struct FinishedCall {
    pub succeeded: bool,
    pub envelope: Option<Envelope>,
    pub params: Option<Map<String, Value>>,
    pub error: Option<String>,
    pub attempts: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InDoubt {
    pub attempt: u32,
    /// The parameters that attempt sent (redacted).
    pub params: Value,
}

/// One attempt of a node, as journaled.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptNote {
    pub call: CallKey,
    /// 1-based, counting attempts of earlier processes of the run.
    pub attempt: u32,
    pub node: String,
    /// The node's declared effect: `read`, `create`, `update`, `deactivate`, `delete`.
    pub effect: String,
    pub params: Value,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptEnd {
    pub envelope: Envelope,
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
    pub step: String,
    pub node: String,
    /// `running`, `succeeded`, `failed`, `skipped`, `waiting_approval`.
    pub status: &'static str,
    pub items: Option<usize>,
    pub error: Option<String>,
}

/// An approval the run has reached.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalAsk {
    pub step: String,
    pub message: String,
    pub approvers: Vec<String>,
    pub timeout: Option<Duration>,
    /// `approve` or `reject`.
    pub on_timeout: &'static str,
}

/// Where an approval stands.
#[derive(Debug, Clone, PartialEq)]
pub enum ApprovalAnswer {
    Approved { by: String, comment: Option<String> },
    Rejected { by: String, comment: Option<String> },
    Waiting,
}

pub type JournalResult<T> = Result<T, String>;

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
