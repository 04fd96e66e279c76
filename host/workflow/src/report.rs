//! What a run produced. `RunReport::to_json` is the contract's `run --json` shape
//! (`status`, `outputs`, `steps.<id>.status` and `envelope`/`envelopes`) plus extra keys.
//! The report keeps raw envelopes for programmatic checks; everything it prints or
//! serialises goes through the run's redactor.
use crate::dryrun::Plan;
use crate::redact::Redactor;
use psaflow_core::{CallCounts, Envelope};
use serde_json::{Map, Value, json};

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// Every step succeeded or was skipped (failures under `continue_on_error` included).
    Succeeded,
    /// A step failed (or the workflow was invalid, or an output expression failed).
    Failed,
    /// Stopped before a step with `approval:`; a decision continues it.
    WaitingApproval,
}

impl RunStatus {
    /// The name in reports and the run store (`waiting_approval`).
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::WaitingApproval => "waiting_approval",
        }
    }
}

/// How a step (or one for_each item) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepStatus {
    /// Its envelope was a success (for for_each: every item that ran).
    Succeeded,
    /// It failed (for for_each: an item failed).
    Failed,
    /// It did not run.
    Skipped,
}

impl StepStatus {
    /// The name in reports (`skipped`).
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Succeeded => "succeeded",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
        }
    }
}

/// One attempt at a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    pub succeeded: bool,
    /// A request of this attempt may have changed HaloPSA without an answer coming back.
    pub outcome_unknown: bool,
    /// The attempt met an unknown outcome and still succeeded: the node found the record it
    /// had made instead of making it again.
    pub recovered: bool,
    /// Why the attempt failed, in words.
    pub error: Option<String>,
}

impl AttemptRecord {
    /// `{"attempt": n, "status", "outcome": "unknown" (when it was), "recovered": true (when it
    /// was), "error"}`.
    fn to_json(&self, number: usize, r: &Redactor) -> Value {
        let mut m = Map::new();
        m.insert("attempt".into(), json!(number));
        m.insert(
            "status".into(),
            json!(if self.succeeded { "succeeded" } else { "failed" }),
        );
        if self.outcome_unknown {
            m.insert("outcome".into(), json!("unknown"));
        }
        if self.recovered {
            m.insert("recovered".into(), json!(true));
        }
        if let Some(e) = &self.error {
            m.insert("error".into(), json!(r.text(e)));
        }
        Value::Object(m)
    }
}

fn attempt_log_json(log: &[AttemptRecord], r: &Redactor) -> Value {
    Value::Array(
        log.iter()
            .enumerate()
            .map(|(i, a)| a.to_json(i + 1, r))
            .collect(),
    )
}

/// One item of a for_each step.
#[derive(Clone)]
pub struct ItemReport {
    /// The item's position in the for_each list, 0-based.
    pub index: usize,
    /// How it ended.
    pub status: StepStatus,
    /// `None` when the item was skipped (its `if` was false, or it never started).
    pub envelope: Option<Envelope>,
    /// Attempts made (1 without retries).
    pub attempts: u32,
    /// What each attempt did (empty when the item never ran).
    pub attempt_log: Vec<AttemptRecord>,
    /// Why it failed or was skipped, in words.
    pub error: Option<String>,
    /// What a `set:` step computed for this item (it has no envelope).
    pub values: Option<Map<String, Value>>,
}

impl ItemReport {
    /// What later expressions read for this item: the envelope, a `set:` step's values, or null.
    pub fn context_value(&self) -> Value {
        match (&self.envelope, &self.values) {
            (Some(env), _) => env.to_json(),
            (None, Some(values)) => Value::Object(values.clone()),
            (None, None) => Value::Null,
        }
    }
}

/// Debug output masks secret-named fields of the envelope (an API may echo a password);
/// [`RunReport`]'s Debug also masks the run's known secret values.
impl std::fmt::Debug for ItemReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = Redactor::default();
        f.debug_struct("ItemReport")
            .field("index", &self.index)
            .field("status", &self.status)
            .field("attempts", &self.attempts)
            .field("envelope", &self.envelope.as_ref().map(|e| r.value(&e.to_json())))
            .field("error", &self.error)
            .finish()
    }
}

/// Prints the step's JSON form with secret-named fields masked.
impl std::fmt::Debug for StepReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StepReport {}", self.to_json(&Redactor::default()))
    }
}

/// One step of the run.
#[derive(Clone)]
pub struct StepReport {
    /// The step's id.
    pub id: String,
    /// The step's `name:`, if written.
    pub name: Option<String>,
    /// The node it runs (empty for a `set:` step).
    pub node: String,
    /// How it ended.
    pub status: StepStatus,
    /// The envelope of a step without for_each (`None` when skipped).
    pub envelope: Option<Envelope>,
    /// One entry per list item, in input order, for a for_each step that ran.
    pub items: Option<Vec<ItemReport>>,
    /// The step has `for_each` (its report carries `envelopes`, even when skipped).
    pub for_each: bool,
    /// Attempts made (summed over items for a for_each step).
    pub attempts: u32,
    /// What each attempt of a step without for_each did (items carry their own).
    pub attempt_log: Vec<AttemptRecord>,
    /// Why the step failed or was skipped, in words.
    pub error: Option<String>,
    /// Why it was skipped (a false `if`, an earlier failure), when it was.
    pub skip_reason: Option<String>,
    /// The parameters sent (a step without for_each), secrets masked.
    pub params: Option<Map<String, Value>>,
    /// The node deletes or deactivates records.
    pub destructive: bool,
    /// The step was allowed to fail without failing the run.
    pub continue_on_error: bool,
    /// Records deleted by this step (successful calls of a destructive node).
    pub deleted: u64,
    /// Records deactivated (successful calls of a node whose effect is deactivate).
    pub deactivated: u64,
    /// A `set:` step: what it computed (one step) — `values` in the report instead of an envelope.
    pub set: bool,
    /// What a `set:` step computed (one step without for_each).
    pub values: Option<Map<String, Value>>,
    /// Things the author should know about a step that succeeded (e.g. a list that was cut short).
    pub warnings: Vec<String>,
    /// A change of this step may have happened and psaflow could not confirm it (a resume
    /// met an intent without a result it could not reconcile): the run must stop.
    pub unreconciled: bool,
    /// What the node did over the API (every attempt and item): requests sent, calls the host
    /// refused, DELETE requests sent whatever the node declares.
    pub calls: CallCounts,
}

impl StepReport {
    pub(crate) fn skipped(
        id: &str,
        node: &str,
        reason: impl Into<String>,
        for_each: bool,
    ) -> StepReport {
        StepReport {
            id: id.to_string(),
            name: None,
            node: node.to_string(),
            status: StepStatus::Skipped,
            envelope: None,
            items: None,
            for_each,
            attempts: 0,
            attempt_log: Vec::new(),
            error: None,
            skip_reason: Some(reason.into()),
            params: None,
            destructive: false,
            continue_on_error: false,
            deleted: 0,
            deactivated: 0,
            set: false,
            values: None,
            warnings: Vec::new(),
            unreconciled: false,
            calls: CallCounts::default(),
        }
    }

    /// The envelopes of a for_each step, `None` for skipped items.
    pub fn envelopes(&self) -> Option<Vec<Option<&Envelope>>> {
        self.items
            .as_ref()
            .map(|items| items.iter().map(|i| i.envelope.as_ref()).collect())
    }

    /// What `steps.<id>` reads in later expressions: the envelope, the list of envelopes
    /// (skipped items are null), or null for a skipped step.
    pub fn context_value(&self) -> Value {
        match (&self.items, &self.envelope, &self.values) {
            (Some(items), _, _) => Value::Array(items.iter().map(ItemReport::context_value).collect()),
            (None, Some(env), _) => env.to_json(),
            (None, None, Some(values)) => Value::Object(values.clone()),
            (None, None, None) => Value::Null,
        }
    }

    /// Counts of a for_each step's items: (succeeded, failed, skipped).
    pub fn item_counts(&self) -> (usize, usize, usize) {
        let items = self.items.as_deref().unwrap_or_default();
        let count = |s| items.iter().filter(|i| i.status == s).count();
        (
            count(StepStatus::Succeeded),
            count(StepStatus::Failed),
            count(StepStatus::Skipped),
        )
    }

    fn to_json(&self, r: &Redactor) -> Value {
        let mut m = Map::new();
        m.insert("status".into(), json!(self.status.as_str()));
        if !self.set {
            m.insert("node".into(), json!(self.node));
        }
        match &self.items {
            Some(items) if self.set => {
                let values: Vec<Value> = items.iter().map(|i| r.value(&i.context_value())).collect();
                m.insert("values".into(), Value::Array(values));
            }
            None if self.set => {
                m.insert(
                    "values".into(),
                    self.values.as_ref().map_or(Value::Null, |v| Value::Object(r.map(v))),
                );
            }
            Some(items) => {
                let envs: Vec<Value> = items
                    .iter()
                    .map(|i| {
                        i.envelope
                            .as_ref()
                            .map_or(Value::Null, |e| r.value(&e.to_json()))
                    })
                    .collect();
                m.insert("envelopes".into(), Value::Array(envs));
                m.insert(
                    "attempts".into(),
                    json!(items.iter().map(|i| i.attempts).collect::<Vec<_>>()),
                );
                m.insert(
                    "attempt_log".into(),
                    Value::Array(
                        items
                            .iter()
                            .map(|i| attempt_log_json(&i.attempt_log, r))
                            .collect(),
                    ),
                );
                let (ok, failed, skipped) = self.item_counts();
                m.insert("items".into(), json!({"total": items.len(), "succeeded": ok, "failed": failed, "skipped": skipped}));
            }
            None if self.for_each => {
                m.insert("envelopes".into(), Value::Null);
                m.insert("attempts".into(), json!([]));
            }
            None => {
                m.insert(
                    "envelope".into(),
                    self.envelope
                        .as_ref()
                        .map_or(Value::Null, |e| r.value(&e.to_json())),
                );
                m.insert("attempts".into(), json!(self.attempts));
                m.insert(
                    "attempt_log".into(),
                    attempt_log_json(&self.attempt_log, r),
                );
            }
        }
        if let Some(e) = &self.error {
            m.insert("error".into(), json!(r.text(e)));
        }
        if let Some(s) = &self.skip_reason {
            m.insert("skip_reason".into(), json!(r.text(s)));
        }
        if let Some(p) = &self.params {
            m.insert("params".into(), Value::Object(r.map(p)));
        }
        if self.destructive {
            m.insert("destructive".into(), json!(true));
        }
        if self.deleted > 0 {
            m.insert("deleted".into(), json!(self.deleted));
        }
        if self.deactivated > 0 {
            m.insert("deactivated".into(), json!(self.deactivated));
        }
        m.insert("refused_calls".into(), json!(self.calls.refused_calls));
        m.insert("deletes_sent".into(), json!(self.calls.deletes_sent));
        if self.continue_on_error {
            m.insert("continue_on_error".into(), json!(true));
        }
        if !self.warnings.is_empty() {
            m.insert(
                "warnings".into(),
                json!(self.warnings.iter().map(|w| r.text(w)).collect::<Vec<_>>()),
            );
        }
        Value::Object(m)
    }
}

/// The approval a run stopped at.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitingApproval {
    /// The approval step's id.
    pub step: String,
    /// What the approver is asked (redacted).
    pub message: String,
    /// Who may decide; empty means anyone.
    pub approvers: Vec<String>,
}

/// The result of `run`.
#[derive(Clone)]
pub struct RunReport {
    /// The run's id when it is recorded in a run store.
    pub id: Option<String>,
    /// Where requests went: `"sandbox"` or `"tenant"`, when the caller says (`RunOptions`).
    pub backend: Option<String>,
    /// Set when the run stopped to wait for an approval.
    pub waiting: Option<WaitingApproval>,
    /// The workflow's `name`.
    pub name: String,
    /// How it ended.
    pub status: RunStatus,
    /// The workflow's `outputs:`, computed (empty when the run failed before them).
    pub outputs: Map<String, Value>,
    /// In workflow order.
    pub steps: Vec<StepReport>,
    /// Records deleted by the whole run.
    pub deleted: u64,
    /// Records deactivated by the whole run.
    pub deactivated: u64,
    /// Nothing was sent: the run only showed what it would do.
    pub dry_run: bool,
    /// What would run (dry runs only).
    pub plan: Option<Plan>,
    /// A problem not tied to one step (invalid workflow, bad output expression).
    pub error: Option<String>,
    /// Things the user should know although the run succeeded (continue_on_error failures).
    pub warnings: Vec<String>,
    pub(crate) redactor: Redactor,
}

/// Prints the report as its JSON form, which masks secrets; a derived `Debug` would print
/// parameters and envelopes (passwords, tokens) in clear text.
impl std::fmt::Debug for RunReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RunReport {}", self.to_json())
    }
}

impl RunReport {
    /// True when the run succeeded.
    pub fn succeeded(&self) -> bool {
        self.status == RunStatus::Succeeded
    }

    /// The report of step `id`, if the workflow has it.
    pub fn step(&self, id: &str) -> Option<&StepReport> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// The API calls of every step: requests, refused calls, DELETEs sent.
    pub fn calls(&self) -> CallCounts {
        let mut total = CallCounts::default();
        for step in &self.steps {
            total.add(step.calls);
        }
        total
    }

    /// The redactor of this run (for callers printing more than the report).
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// `{"status","outputs","steps":{id:{"status","envelope"|"envelopes",...}}, ...}`, secrets masked.
    pub fn to_json(&self) -> Value {
        let r = &self.redactor;
        let steps: Map<String, Value> = self
            .steps
            .iter()
            .map(|s| (s.id.clone(), s.to_json(r)))
            .collect();
        let mut m = Map::new();
        if let Some(id) = &self.id {
            m.insert("id".into(), json!(id));
        }
        m.insert("workflow".into(), json!(self.name));
        m.insert("status".into(), json!(self.status.as_str()));
        m.insert("outputs".into(), Value::Object(r.map(&self.outputs)));
        m.insert("steps".into(), Value::Object(steps));
        m.insert("deleted".into(), json!(self.deleted));
        m.insert("deactivated".into(), json!(self.deactivated));
        let calls = self.calls();
        m.insert("refused_calls".into(), json!(calls.refused_calls));
        m.insert("deletes_sent".into(), json!(calls.deletes_sent));
        m.insert("dry_run".into(), json!(self.dry_run));
        if let Some(backend) = &self.backend {
            m.insert("backend".into(), json!(backend));
        }
        if let Some(w) = &self.waiting {
            m.insert(
                "waiting_approval".into(),
                json!({"step": w.step, "message": r.text(&w.message), "approvers": w.approvers}),
            );
        }
        if let Some(plan) = &self.plan {
            m.insert("plan".into(), plan.to_json(r));
        }
        if let Some(e) = &self.error {
            m.insert("error".into(), json!(r.text(e)));
        }
        if !self.warnings.is_empty() {
            m.insert(
                "warnings".into(),
                json!(self.warnings.iter().map(|w| r.text(w)).collect::<Vec<_>>()),
            );
        }
        Value::Object(m)
    }
}
