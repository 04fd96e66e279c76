//! How to run a workflow: inputs, environment, secrets, dry run, clock, observer, journal.
use crate::events::RunObserver;
use crate::journal::{ApprovalAnswer, RunJournal};
use crate::model::Workflow;
use crate::redact::Redactor;
use psaflow_core::{Clock, SystemClock};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// How to run a workflow.
#[derive(Clone)]
pub struct RunOptions {
    /// Typed inputs (see [`crate::resolve_inputs`]). Missing ones get their default or null.
    pub inputs: Map<String, Value>,
    /// Values for the variables the workflow declares under `env:`; `env.<NAME>` reads
    /// these, and an entry the workflow does not declare is never visible.
    pub env: BTreeMap<String, String>,
    /// Values to mask as `***` wherever they would be printed.
    pub secrets: Vec<String>,
    /// Validate and print the plan; send nothing.
    pub dry_run: bool,
    /// Backoff sleeps and timeouts; a `VirtualClock` makes them instant.
    pub clock: Arc<dyn Clock>,
    /// Told about progress (e.g. [`crate::HumanRenderer`]).
    pub observer: Option<Arc<dyn RunObserver>>,
    /// Makes the run durable (journal before effect, resume, approvals); `None` runs in
    /// memory only.
    pub journal: Option<Arc<dyn RunJournal>>,
    /// Approval decisions by step id, for runs without a journal (workflow tests). A step
    /// with `approval:` and no decision here makes the run wait.
    pub decisions: BTreeMap<String, ApprovalAnswer>,
    /// Plan or apply: decides about every write before it is sent (see [`crate::plan`]).
    pub gate: Option<Arc<dyn crate::plan::WriteGate>>,
    /// Which kind of server the steps reach (`"sandbox"` or `"tenant"`), for the report.
    pub backend: Option<String>,
    /// The same per connector the run uses (`halopsa` → `"tenant"`), for the report.
    pub backends: BTreeMap<String, String>,
    /// Output text one for_each step keeps in memory; further items' outputs wait for the
    /// report in a temporary file ([`crate::SPILL_AFTER_BYTES`] by default; see `spill.rs`).
    pub spill_after_bytes: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            inputs: Map::new(),
            env: BTreeMap::new(),
            secrets: Vec::new(),
            dry_run: false,
            clock: Arc::new(SystemClock::default()),
            observer: None,
            journal: None,
            decisions: BTreeMap::new(),
            gate: None,
            backend: None,
            backends: BTreeMap::new(),
            spill_after_bytes: crate::spill::SPILL_AFTER_BYTES,
        }
    }
}

impl RunOptions {
    /// The secrets of this run: those given, env values whose names look secret, and the
    /// value of the connection's `client_secret_env` variable.
    pub fn redactor(&self, wf: &Workflow) -> Redactor {
        let r = Redactor::new(self.secrets.iter().cloned());
        let secret_env = wf.connection().and_then(|c| c.client_secret_env.as_deref());
        for (k, v) in &self.env {
            if Redactor::is_secret_name(k) || Some(k.as_str()) == secret_env {
                r.add(v);
            }
        }
        r
    }

    /// Inputs with declared defaults (or null) filled in, as expressions see them.
    pub fn known_inputs(&self, wf: &Workflow) -> Value {
        self.full_inputs(wf)
    }

    /// [`RunOptions::full_inputs`], moving the inputs out of the options.
    pub(crate) fn take_full_inputs(&mut self, wf: &Workflow) -> Value {
        with_defaults(std::mem::take(&mut self.inputs), wf)
    }

    /// Inputs with declared defaults (or null) filled in, as expressions see them.
    pub(crate) fn full_inputs(&self, wf: &Workflow) -> Value {
        with_defaults(self.inputs.clone(), wf)
    }

    /// What `env` holds in expressions: the variables the workflow declares, and only those,
    /// whatever `self.env` carries (the CLI passes the declared ones; embedders may pass more).
    /// A declared variable that is not set is `null`, so `env.X or 'fallback'` works.
    pub(crate) fn env_value(&self, wf: &Workflow) -> Value {
        Value::Object(
            wf.declared_env()
                .map(|name| {
                    let value = self.env.get(name).map_or(Value::Null, |v| Value::from(v.clone()));
                    (name.to_string(), value)
                })
                .collect(),
        )
    }
}

/// `inputs` with the workflow's declared defaults (or null) for those not given.
fn with_defaults(mut inputs: Map<String, Value>, wf: &Workflow) -> Value {
    for decl in wf.inputs() {
        inputs
            .entry(decl.name.value.clone())
            .or_insert_with(|| decl.default.clone().unwrap_or(Value::Null));
    }
    Value::Object(inputs)
}
