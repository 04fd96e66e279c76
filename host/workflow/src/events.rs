//! What a run tells its observer as it happens (the human renderer, the test runner's trace).
use crate::redact::Redactor;
use crate::report::{RunStatus, StepStatus};
use std::time::Duration;

/// Progress of a run, as it happens. Messages are already redacted.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent {
    /// The run began.
    RunStarted {
        /// The workflow's name.
        name: String,
        /// How many main steps it has.
        steps: usize,
    },
    /// A step began; `items` is the list length for a for_each step.
    StepStarted {
        /// The step's id.
        id: String,
        /// The name to show (the id when the step has none).
        name: String,
        /// The node it runs (empty for a `set:` step).
        node: String,
        /// The for_each list length; `None` without for_each.
        items: Option<usize>,
        /// The node deletes or deactivates records (renderers mark it).
        destructive: bool,
    },
    /// A step did not run.
    StepSkipped {
        /// The step's id.
        id: String,
        /// Why, in words (a false `if`, an earlier failure).
        reason: String,
    },
    /// An attempt failed; `retry_in` is set when another attempt follows after that wait.
    AttemptFailed {
        /// The step's id.
        id: String,
        /// The for_each item; `None` without for_each.
        index: Option<usize>,
        /// The attempt that failed, 1-based.
        attempt: u32,
        /// Why it failed.
        message: String,
        /// The wait before the next attempt; `None` when none follows.
        retry_in: Option<Duration>,
    },
    /// One for_each item ended.
    ItemFinished {
        /// The step's id.
        id: String,
        /// The item, 0-based.
        index: usize,
        /// How it ended.
        status: StepStatus,
        /// API requests the item sent, every attempt's (0 when it did not run).
        requests: u32,
    },
    /// A step ended.
    StepFinished {
        /// The step's id.
        id: String,
        /// How it ended.
        status: StepStatus,
        /// Why it failed, when it did.
        message: Option<String>,
    },
    /// The run ended (or stopped to wait for an approval).
    RunFinished {
        /// How it ended.
        status: RunStatus,
    },
}

impl RunEvent {
    pub(crate) fn redacted(self, r: &Redactor) -> RunEvent {
        match self {
            RunEvent::AttemptFailed {
                id,
                index,
                attempt,
                message,
                retry_in,
            } => RunEvent::AttemptFailed {
                id,
                index,
                attempt,
                message: r.text(&message),
                retry_in,
            },
            RunEvent::StepFinished {
                id,
                status,
                message,
            } => RunEvent::StepFinished {
                id,
                status,
                message: message.map(|m| r.text(&m)),
            },
            RunEvent::StepSkipped { id, reason } => RunEvent::StepSkipped {
                id,
                reason: r.text(&reason),
            },
            other => other,
        }
    }
}

/// Receives a run's [`RunEvent`]s as they happen: the CLI's progress output, `psaflow
/// serve`'s event stream, the test runner's trace.
pub trait RunObserver: Send + Sync {
    /// Called once per event, in order, from the task running the workflow: keep it quick.
    fn event(&self, event: &RunEvent);
}
