//! What a run tells its observer as it happens (the human renderer, the test runner's trace).
use crate::redact::Redactor;
use crate::report::{RunStatus, StepStatus};
use std::time::Duration;

/// Progress of a run, as it happens. Messages are already redacted.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent {
    RunStarted {
        name: String,
        steps: usize,
    },
    /// `items` is the list length for a for_each step.
    StepStarted {
        id: String,
        name: String,
        node: String,
        items: Option<usize>,
        destructive: bool,
    },
    StepSkipped {
        id: String,
        reason: String,
    },
    /// An attempt failed; `retry_in` is set when another attempt follows after that wait.
    AttemptFailed {
        id: String,
        index: Option<usize>,
        attempt: u32,
        message: String,
        retry_in: Option<Duration>,
    },
    ItemFinished {
        id: String,
        index: usize,
        status: StepStatus,
    },
    StepFinished {
        id: String,
        status: StepStatus,
        message: Option<String>,
    },
    RunFinished {
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

pub trait RunObserver: Send + Sync {
    fn event(&self, event: &RunEvent);
}
