//! What a run produced. `RunReport::to_json` is the contract's `run --json` shape
//! (`status`, `outputs`, `steps.<id>.status` and `envelope`/`envelopes`) plus extra keys;
//! `RunReport::write_json` writes the same text item by item, without building it in memory.
//! The report keeps raw envelopes for programmatic checks; everything it prints or
//! serialises goes through the run's redactor.
//!
//! A for_each step can have a hundred thousand items, so its items are kept small: each
//! envelope as its JSON text ([`StoredEnvelope`]), parsed again only when read, and the items
//! are shared (`Arc`) with what later expressions read as `steps.<id>` instead of copied.
use crate::dryrun::Plan;
use crate::redact::Redactor;
use crate::spill::{Spill, SpilledText};
use psaflow_core::{CallCounts, Envelope};
use serde::ser::{SerializeMap, SerializeSeq};
use serde_json::{Map, Value, json};
use std::sync::Arc;

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
    /// The attempt's envelope was a success.
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

/// An envelope kept as the text of its output: a parsed JSON record takes several times the
/// memory of its text, and a large for_each keeps one per item until the run ends. Past a
/// step's allowance the text waits in the step's temporary file instead ([`crate::spill`]).
#[derive(Clone)]
pub struct StoredEnvelope {
    status_code: i32,
    original_status_code: i32,
    error_message: Box<str>,
    output_name: Box<str>,
    output: OutputText,
}

/// Where an envelope's output text is.
#[derive(Clone)]
enum OutputText {
    /// Compact JSON text, in memory.
    Held(Box<str>),
    /// Compact JSON text, in the step's temporary file.
    Spilled(SpilledText),
}

impl StoredEnvelope {
    /// The StatusCode the node returned. Read without touching the output text, so for an
    /// output in the step's temporary file that can no longer be read back this is still the
    /// node's code, while [`envelope`](Self::envelope) says 500.
    pub fn status_code(&self) -> i32 {
        self.status_code
    }

    /// The ErrorMessage the node returned (see [`status_code`](Self::status_code)).
    pub fn error_message(&self) -> &str {
        &self.error_message
    }

    /// The envelope, its output parsed again.
    pub fn envelope(&self) -> Envelope {
        let mut envelope = Envelope {
            status_code: self.status_code,
            original_status_code: self.original_status_code,
            error_message: self.error_message.to_string(),
            output_name: self.output_name.to_string(),
            output: Value::Null,
        };
        let text = match &self.output {
            OutputText::Held(text) => Ok(std::borrow::Cow::Borrowed(&**text)),
            OutputText::Spilled(spilled) => spilled.read().map(std::borrow::Cow::Owned),
        };
        match text {
            // The text was written from a JSON value by `From<Envelope>`, so it parses.
            Ok(text) => envelope.output = serde_json::from_str(&text).unwrap_or(Value::Null),
            // The node's answer is lost to this run (the temporary file failed under it): say
            // so in the envelope rather than show an output that was never returned.
            Err(err) => {
                envelope.status_code = 500;
                envelope.error_message = format!(
                    "psaflow could not read this item's output back from its temporary file: {err}"
                );
            }
        }
        envelope
    }

    /// The envelope's JSON form ([`Envelope::to_json`]).
    pub fn to_json(&self) -> Value {
        self.envelope().to_json()
    }

    /// Moves the output text to the step's temporary file when `spill` says it is past the
    /// step's allowance.
    pub(crate) fn spill(&mut self, spill: &mut Spill) {
        if let OutputText::Held(text) = &self.output
            && let Some(spilled) = spill.place(text)
        {
            self.output = OutputText::Spilled(spilled);
        }
    }

    #[cfg(test)]
    fn is_spilled(&self) -> bool {
        matches!(self.output, OutputText::Spilled(_))
    }
}

/// Equal when the envelopes they give back are.
impl PartialEq for StoredEnvelope {
    fn eq(&self, other: &Self) -> bool {
        self.envelope() == other.envelope()
    }
}

impl From<Envelope> for StoredEnvelope {
    fn from(envelope: Envelope) -> Self {
        StoredEnvelope {
            status_code: envelope.status_code,
            original_status_code: envelope.original_status_code,
            error_message: envelope.error_message.into_boxed_str(),
            output_name: envelope.output_name.into_boxed_str(),
            output: OutputText::Held(envelope.output.to_string().into_boxed_str()),
        }
    }
}

impl std::fmt::Debug for StoredEnvelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", Redactor::default().value(&self.to_json()))
    }
}

/// One item of a for_each step.
#[derive(Clone)]
pub struct ItemReport {
    /// The item's position in the for_each list, 0-based.
    pub index: usize,
    /// How it ended.
    pub status: StepStatus,
    /// `None` when the item was skipped (its `if` was false, or it never started). Read it
    /// with [`ItemReport::envelope`].
    pub stored: Option<StoredEnvelope>,
    /// Attempts made (1 without retries).
    pub attempts: u32,
    /// What each attempt did (empty when the item never ran).
    pub attempt_log: Vec<AttemptRecord>,
    /// Why it failed or was skipped, in words.
    pub error: Option<String>,
    /// What a `set:` step computed for this item (it has no envelope).
    pub values: Option<Box<Map<String, Value>>>,
}

impl ItemReport {
    /// The item's envelope (`None` when it did not run).
    pub fn envelope(&self) -> Option<Envelope> {
        self.stored.as_ref().map(StoredEnvelope::envelope)
    }

    /// What later expressions read for this item: the envelope, a `set:` step's values, or null.
    pub fn context_value(&self) -> Value {
        match (&self.stored, &self.values) {
            (Some(env), _) => env.to_json(),
            (None, Some(values)) => Value::Object((**values).clone()),
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
            .field("envelope", &self.stored.as_ref().map(|e| r.value(&e.to_json())))
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
    /// One entry per list item, in input order, for a for_each step that ran. Shared with
    /// what later expressions read as `steps.<id>` (see [`crate::expr::Scope`]).
    pub items: Option<Arc<Vec<ItemReport>>>,
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
    pub fn envelopes(&self) -> Option<Vec<Option<Envelope>>> {
        self.items
            .as_ref()
            .map(|items| items.iter().map(ItemReport::envelope).collect())
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

    /// What `steps.<id>` reads, sharing a for_each step's items instead of copying them.
    pub fn step_value(&self) -> crate::expr::StepValue {
        match &self.items {
            Some(items) => crate::expr::StepValue::Items(items.clone()),
            _ => crate::expr::StepValue::Value(self.context_value()),
        }
    }

    /// Counts of a for_each step's items: (succeeded, failed, skipped).
    pub fn item_counts(&self) -> (usize, usize, usize) {
        let items: &[ItemReport] = self.items.as_deref().map_or(&[], |items| items.as_slice());
        let count = |s| items.iter().filter(|i| i.status == s).count();
        (
            count(StepStatus::Succeeded),
            count(StepStatus::Failed),
            count(StepStatus::Skipped),
        )
    }

    fn to_json(&self, r: &Redactor) -> Value {
        Value::Object(
            self.fields(r)
                .into_iter()
                .map(|(key, field)| (key.to_string(), field.into_value(r)))
                .collect(),
        )
    }

    /// The keys of the step's JSON form in order; the per-item lists are left unbuilt, so
    /// [`RunReport::write_json`] can write them one item at a time.
    fn fields<'a>(&'a self, r: &Redactor) -> Vec<(&'static str, Field<'a>)> {
        let mut m: Vec<(&'static str, Field<'a>)> = Vec::new();
        m.push(("status", json!(self.status.as_str()).into()));
        if !self.set {
            m.push(("node", json!(self.node).into()));
        }
        match &self.items {
            Some(items) if self.set => {
                m.push(("values", Field::Items(items, ItemPart::Values)));
            }
            None if self.set => {
                m.push((
                    "values",
                    self.values
                        .as_ref()
                        .map_or(Value::Null, |v| Value::Object(r.map(v)))
                        .into(),
                ));
            }
            Some(items) => {
                m.push(("envelopes", Field::Items(items, ItemPart::Envelope)));
                m.push((
                    "attempts",
                    json!(items.iter().map(|i| i.attempts).collect::<Vec<_>>()).into(),
                ));
                m.push(("attempt_log", Field::Items(items, ItemPart::AttemptLog)));
                let (ok, failed, skipped) = self.item_counts();
                m.push((
                    "items",
                    json!({"total": items.len(), "succeeded": ok, "failed": failed, "skipped": skipped}).into(),
                ));
            }
            None if self.for_each => {
                m.push(("envelopes", Value::Null.into()));
                m.push(("attempts", json!([]).into()));
            }
            None => {
                m.push((
                    "envelope",
                    self.envelope
                        .as_ref()
                        .map_or(Value::Null, |e| r.value(&e.to_json()))
                        .into(),
                ));
                m.push(("attempts", json!(self.attempts).into()));
                m.push(("attempt_log", attempt_log_json(&self.attempt_log, r).into()));
            }
        }
        if let Some(e) = &self.error {
            m.push(("error", json!(r.text(e)).into()));
        }
        if let Some(s) = &self.skip_reason {
            m.push(("skip_reason", json!(r.text(s)).into()));
        }
        if let Some(p) = &self.params {
            m.push(("params", Value::Object(r.map(p)).into()));
        }
        if self.destructive {
            m.push(("destructive", json!(true).into()));
        }
        if self.deleted > 0 {
            m.push(("deleted", json!(self.deleted).into()));
        }
        if self.deactivated > 0 {
            m.push(("deactivated", json!(self.deactivated).into()));
        }
        m.push(("refused_calls", json!(self.calls.refused_calls).into()));
        m.push(("deletes_sent", json!(self.calls.deletes_sent).into()));
        if self.continue_on_error {
            m.push(("continue_on_error", json!(true).into()));
        }
        if !self.warnings.is_empty() {
            m.push((
                "warnings",
                json!(self.warnings.iter().map(|w| r.text(w)).collect::<Vec<_>>()).into(),
            ));
        }
        m
    }
}

/// Which list a for_each step's items give in its JSON form.
#[derive(Clone, Copy)]
enum ItemPart {
    /// `envelopes`: each item's envelope, or null.
    Envelope,
    /// `values` of a `set:` step: each item's values.
    Values,
    /// `attempt_log`: each item's attempts.
    AttemptLog,
}

impl ItemPart {
    fn of(self, item: &ItemReport, r: &Redactor) -> Value {
        match self {
            ItemPart::Envelope => item
                .stored
                .as_ref()
                .map_or(Value::Null, |e| r.value(&e.to_json())),
            ItemPart::Values => r.value(&item.context_value()),
            ItemPart::AttemptLog => attempt_log_json(&item.attempt_log, r),
        }
    }
}

/// One value of a step's JSON form: built already, or a list built item by item.
enum Field<'a> {
    Value(Value),
    Items(&'a [ItemReport], ItemPart),
}

impl From<Value> for Field<'_> {
    fn from(value: Value) -> Self {
        Field::Value(value)
    }
}

impl Field<'_> {
    fn into_value(self, r: &Redactor) -> Value {
        match self {
            Field::Value(value) => value,
            Field::Items(items, part) => Value::Array(items.iter().map(|i| part.of(i, r)).collect()),
        }
    }
}

/// Serialises a [`Field`] without building it: one item's value at a time.
struct FieldJson<'a, 'r> {
    field: &'a Field<'a>,
    redactor: &'r Redactor,
}

impl serde::Serialize for FieldJson<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.field {
            Field::Value(value) => value.serialize(serializer),
            Field::Items(items, part) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items.iter() {
                    seq.serialize_element(&part.of(item, self.redactor))?;
                }
                seq.end()
            }
        }
    }
}

/// A step's JSON form, serialised field by field.
struct StepJson<'a> {
    step: &'a StepReport,
    redactor: &'a Redactor,
}

impl serde::Serialize for StepJson<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let fields = self.step.fields(self.redactor);
        let mut map = serializer.serialize_map(Some(fields.len()))?;
        for (key, field) in &fields {
            map.serialize_entry(
                key,
                &FieldJson {
                    field,
                    redactor: self.redactor,
                },
            )?;
        }
        map.end()
    }
}

/// The run's JSON form, its steps serialised one at a time.
struct RunJson<'a>(&'a RunReport);

impl serde::Serialize for RunJson<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let report = self.0;
        let (head, tail) = report.json_parts();
        let mut map = serializer.serialize_map(Some(head.len() + 1 + tail.len()))?;
        for (key, value) in &head {
            map.serialize_entry(key, value)?;
        }
        map.serialize_entry("steps", &StepsJson(report))?;
        for (key, value) in &tail {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

struct StepsJson<'a>(&'a RunReport);

impl serde::Serialize for StepsJson<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let report = self.0;
        // The same id twice keeps the last step, as `to_json`'s map does, in the first place.
        let mut map = serializer.serialize_map(None)?;
        for (at, step) in report.steps.iter().enumerate() {
            if report.steps[..at].iter().any(|s| s.id == step.id) {
                continue;
            }
            let last = report.steps.iter().rev().find(|s| s.id == step.id).unwrap_or(step);
            map.serialize_entry(
                &last.id,
                &StepJson {
                    step: last,
                    redactor: &report.redactor,
                },
            )?;
        }
        map.end()
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
    /// Where requests went: `"sandbox"` or `"tenant"`, when the caller says (`RunOptions`):
    /// `"tenant"` when any connector the run uses is a tenant.
    pub backend: Option<String>,
    /// The same per connector the run uses (`{"halopsa": "sandbox", "connectwise": "tenant"}`).
    pub backends: std::collections::BTreeMap<String, String>,
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
        let (head, tail) = self.json_parts();
        let mut m = Map::new();
        m.extend(head.into_iter().map(|(k, v)| (k.to_string(), v)));
        m.insert("steps".into(), Value::Object(steps));
        m.extend(tail.into_iter().map(|(k, v)| (k.to_string(), v)));
        Value::Object(m)
    }

    /// Writes exactly the text `serde_json::to_writer(_pretty)(to_json())` would, without
    /// building the report's JSON in memory: a for_each step's envelopes are made and written
    /// one at a time.
    pub fn write_json(&self, out: impl std::io::Write, pretty: bool) -> serde_json::Result<()> {
        if pretty {
            serde_json::to_writer_pretty(out, &RunJson(self))
        } else {
            serde_json::to_writer(out, &RunJson(self))
        }
    }

    /// The keys before `steps` and after it, in order.
    #[allow(clippy::type_complexity)]
    fn json_parts(&self) -> (Vec<(&'static str, Value)>, Vec<(&'static str, Value)>) {
        let r = &self.redactor;
        let mut head: Vec<(&'static str, Value)> = Vec::new();
        if let Some(id) = &self.id {
            head.push(("id", json!(id)));
        }
        head.push(("workflow", json!(self.name)));
        head.push(("status", json!(self.status.as_str())));
        head.push(("outputs", Value::Object(r.map(&self.outputs))));
        let mut m: Vec<(&'static str, Value)> = Vec::new();
        m.push(("deleted", json!(self.deleted)));
        m.push(("deactivated", json!(self.deactivated)));
        let calls = self.calls();
        m.push(("refused_calls", json!(calls.refused_calls)));
        m.push(("deletes_sent", json!(calls.deletes_sent)));
        m.push(("dry_run", json!(self.dry_run)));
        if let Some(backend) = &self.backend {
            m.push(("backend", json!(backend)));
        }
        if !self.backends.is_empty() {
            m.push(("backends", json!(self.backends)));
        }
        if let Some(w) = &self.waiting {
            m.push((
                "waiting_approval",
                json!({"step": w.step, "message": r.text(&w.message), "approvers": w.approvers}),
            ));
        }
        if let Some(plan) = &self.plan {
            m.push(("plan", plan.to_json(r)));
        }
        if let Some(e) = &self.error {
            m.push(("error", json!(r.text(e))));
        }
        if !self.warnings.is_empty() {
            m.push((
                "warnings",
                json!(self.warnings.iter().map(|w| r.text(w)).collect::<Vec<_>>()),
            ));
        }
        (head, m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(index: usize, env: Option<Envelope>, attempts: u32) -> ItemReport {
        ItemReport {
            index,
            status: if env.is_some() {
                StepStatus::Succeeded
            } else {
                StepStatus::Skipped
            },
            stored: env.map(Into::into),
            attempts,
            attempt_log: (0..attempts)
                .map(|n| AttemptRecord {
                    succeeded: n + 1 == attempts,
                    outcome_unknown: n == 0 && attempts > 1,
                    recovered: false,
                    error: (n + 1 < attempts).then(|| "HTTP 503".to_string()),
                })
                .collect(),
            error: None,
            values: None,
        }
    }

    fn client(id: i64, password: &str) -> Envelope {
        let mut env = Envelope::system("Client", "");
        env.status_code = 200;
        env.original_status_code = 200;
        env.output = json!({"id": id, "name": format!("Client {id}"), "password": password, "rate": 1.5});
        env
    }

    fn report() -> RunReport {
        let redactor = Redactor::default();
        redactor.add("hunter2-secret");
        let mut single = StepReport::skipped("one", "halopsa.client.get", "", false);
        single.skip_reason = None;
        single.status = StepStatus::Succeeded;
        single.envelope = Some(client(1, "hunter2-secret"));
        single.attempts = 1;
        single.params = Some(serde_json::from_value(json!({"Id": 1})).unwrap());
        let mut each = StepReport::skipped("each", "halopsa.client.get", "", true);
        each.skip_reason = None;
        each.status = StepStatus::Succeeded;
        each.destructive = true;
        each.warnings.push("a warning naming hunter2-secret".into());
        each.items = Some(Arc::new(vec![
            item(0, Some(client(2, "x")), 1),
            item(1, None, 0),
            item(2, Some(client(3, "hunter2-secret")), 3),
        ]));
        let mut set = StepReport::skipped("set", "", "", true);
        set.skip_reason = None;
        set.status = StepStatus::Succeeded;
        set.set = true;
        let mut values = Map::new();
        values.insert("n".into(), json!(7));
        let mut with_values = item(0, None, 0);
        with_values.values = Some(Box::new(values));
        set.items = Some(Arc::new(vec![with_values]));
        let skipped = StepReport::skipped("later", "halopsa.client.get", "not run", true);
        RunReport {
            id: Some("run-1".into()),
            backend: Some("sandbox".into()),
            backends: Default::default(),
            waiting: None,
            name: "report".into(),
            status: RunStatus::Failed,
            outputs: serde_json::from_value(json!({"ids": [2, 3], "secret": "hunter2-secret"}))
                .unwrap(),
            steps: vec![single, each, set, skipped],
            deleted: 1,
            deactivated: 0,
            dry_run: false,
            plan: None,
            error: Some("step 'later' failed".into()),
            warnings: vec!["careful".into()],
            redactor,
        }
    }

    #[test]
    fn the_streamed_json_is_the_json_form_text_for_text() {
        let report = report();
        let built = report.to_json();
        assert!(!built.to_string().contains("hunter2-secret"), "{built}");
        for pretty in [false, true] {
            let mut streamed = Vec::new();
            report.write_json(&mut streamed, pretty).unwrap();
            let expected = if pretty {
                serde_json::to_string_pretty(&built).unwrap()
            } else {
                built.to_string()
            };
            assert_eq!(String::from_utf8(streamed).unwrap(), expected);
        }
    }

    #[test]
    fn a_stored_envelope_reads_back_as_it_was_given() {
        let env = client(9, "p");
        let stored = StoredEnvelope::from(env.clone());
        assert_eq!(stored.envelope(), env);
        assert_eq!(stored.to_json(), env.to_json());
        assert_eq!(stored.status_code(), 200);
        let report = report();
        let each = report.step("each").unwrap();
        let envelopes = each.envelopes().unwrap();
        assert_eq!(envelopes[0].as_ref().unwrap().output["id"], json!(2));
        assert!(envelopes[1].is_none());
        assert_eq!(each.context_value()[2]["Client"]["rate"], json!(1.5));
    }

    #[cfg(unix)]
    #[test]
    fn a_spilled_envelope_reads_back_as_it_was_given() {
        let env = client(9, "p");
        let mut stored = StoredEnvelope::from(env.clone());
        stored.spill(&mut Spill::new(0));
        assert!(stored.is_spilled());
        assert_eq!(stored.envelope(), env);
        assert_eq!(stored.clone(), StoredEnvelope::from(env));
    }

    #[cfg(unix)]
    #[test]
    fn an_output_that_cannot_be_read_back_says_so_in_its_envelope() {
        let mut stored = StoredEnvelope::from(client(9, "p"));
        stored.output = OutputText::Spilled(crate::spill::unreadable());
        let env = stored.envelope();
        assert_eq!(env.status_code, 500);
        assert_eq!(env.original_status_code, 200);
        assert!(
            env.error_message
                .starts_with("psaflow could not read this item's output back"),
            "{}",
            env.error_message
        );
        assert_eq!(env.output, Value::Null);
    }
}
