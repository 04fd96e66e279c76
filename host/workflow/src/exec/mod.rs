//! Running a workflow. `run.rs` walks the steps in order; `step.rs` evaluates and runs one
//! step (its `if`, parameters, retries, timeout); `for_each.rs` runs a step once per list
//! item with bounded concurrency; `retry.rs` decides whether and when to try again.
mod approval;
mod durable;
mod for_each;
mod in_flight;
mod retry;
mod run;
mod step;

pub use run::run;

/// The envelope key of a node's output (`Client`, `Sites`), as the catalog declares it.
pub(crate) fn output_key(spec: &psaflow_core::NodeSpec) -> String {
    step::output_name(Some(spec))
}

use crate::events::{RunEvent, RunObserver};
use crate::journal::RunJournal;
use crate::redact::Redactor;
use psaflow_core::{Catalog, Clock, NodeInvoker};
use std::sync::Arc;

/// What every part of a run needs.
pub(crate) struct Ctx<'a> {
    pub invoker: &'a dyn NodeInvoker,
    pub catalog: &'a Catalog,
    pub clock: Arc<dyn Clock>,
    pub observer: Option<Arc<dyn RunObserver>>,
    pub redactor: Redactor,
    /// Where the run is made durable; `None` runs in memory only.
    pub journal: Option<Arc<dyn RunJournal>>,
    /// Plan or apply: stands between the run and every write (see `crate::plan`).
    pub gate: Option<Arc<dyn crate::plan::WriteGate>>,
    /// The workflow file, for positions in run-time expression errors.
    pub file: String,
    /// Output text one for_each step holds in memory before spilling (see `crate::spill`).
    pub spill_after_bytes: usize,
}

impl Ctx<'_> {
    /// Sends an event to the observer, with secrets masked in every message.
    pub fn emit(&self, event: RunEvent) {
        if let Some(obs) = &self.observer {
            obs.event(&event.redacted(&self.redactor));
        }
    }
}
