//! Planning: every write is recorded as a [`Change`] instead of being sent. For updates,
//! deactivations and deletes the target is read first (with its reader node), so the plan
//! shows who is changed, by name, and each field's current value next to the new one.
use super::semantics::reader_for;
use super::{Gate, WriteGate, field_for, record_name};
use crate::model::Step;
use psaflow_core::{BoxFuture, Envelope, NodeInvoker, NodeSpec};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The record a change is made to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// The record's id (JSON as the API gave it; null when unknown).
    pub id: Value,
    /// The record's name, for people reading the plan.
    pub name: Value,
}

/// One change the workflow would make.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The step that would make it.
    pub step: String,
    /// The for_each item, when the step has one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub item: Option<usize>,
    /// The node id.
    pub node: String,
    /// The node's declared effect: `create`, `update`, `deactivate`, `delete`.
    pub operation: String,
    /// `null` for a create (the record does not exist yet).
    pub target: Option<Target>,
    /// The parameters it would send; `<steps.x.y>` stands for a value known only after an
    /// earlier planned write.
    pub params: Map<String, Value>,
    /// For each parameter that sets a field of the target: its current value.
    pub before: Map<String, Value>,
    /// The parameters' new values (for a create: what would be created).
    pub after: Map<String, Value>,
    /// The target as read while planning; apply compares it with a fresh read.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub observed: Option<Value>,
    /// The step waits for an approval before it runs.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub approval: bool,
}

/// The gate of `psaflow plan`.
#[derive(Default)]
pub struct PlanGate {
    changes: Mutex<Vec<Change>>,
    planned_steps: Mutex<BTreeSet<String>>,
    reads: AtomicU64,
}

impl PlanGate {
    /// A gate that has recorded nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The changes recorded, in the order the workflow reached them (items in input order).
    pub fn changes(&self) -> Vec<Change> {
        let mut changes = self.changes.lock().unwrap().clone();
        changes.sort_by_key(|c| c.item);
        // Stable: keeps step order, orders a for_each step's items.
        let mut by_step: Vec<String> = Vec::new();
        for c in &changes {
            if !by_step.contains(&c.step) {
                by_step.push(c.step.clone());
            }
        }
        let order = |c: &Change| by_step.iter().position(|s| *s == c.step);
        changes.sort_by_key(|c| (order(c), c.item));
        changes
    }

    /// Target reads made while planning (beside the workflow's own read steps).
    pub fn target_reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    async fn record(
        &self,
        invoker: &dyn NodeInvoker,
        step: &Step,
        spec: &NodeSpec,
        params: &Map<String, Value>,
        item: Option<usize>,
    ) -> Envelope {
        let mut change = Change {
            step: step.id().to_string(),
            item,
            node: spec.id.clone(),
            operation: spec.effect_of(params).name().to_string(),
            target: None,
            params: params.clone(),
            before: Map::new(),
            after: Map::new(),
            observed: None,
            approval: step.approval.is_some(),
        };
        match reader_for(invoker.catalog(), spec) {
            Some((reader, id_param)) => {
                let id = params.get(id_param).cloned().unwrap_or(Value::Null);
                let record = read_target(invoker, reader, id_param, &id).await;
                self.reads.fetch_add(1, Ordering::Relaxed);
                let record = record.unwrap_or(Value::Null);
                change.target = Some(Target {
                    id,
                    name: record_name(&record),
                });
                for (k, v) in params.iter().filter(|(k, _)| k.as_str() != id_param) {
                    change.before.insert(
                        k.clone(),
                        field_for(&record, k).cloned().unwrap_or(Value::Null),
                    );
                    change.after.insert(k.clone(), v.clone());
                }
                change.observed = (!record.is_null()).then_some(record);
            }
            None => change.after = params.clone(),
        }
        self.changes.lock().unwrap().push(change);
        self.planned_steps.lock().unwrap().insert(step.id().to_string());
        let output = crate::exec::output_key(spec);
        Envelope {
            status_code: 200,
            original_status_code: 0,
            error_message: String::new(),
            output_name: output,
            output: json!({"planned": true}),
        }
    }
}

/// Reads the target record with its reader node; `None` when it cannot be read.
pub(crate) async fn read_target(
    invoker: &dyn NodeInvoker,
    reader: &NodeSpec,
    id_param: &str,
    id: &Value,
) -> Option<Value> {
    let mut p = Map::new();
    p.insert(id_param.to_string(), id.clone());
    let env = invoker.invoke(&reader.id, p).await;
    env.is_success().then_some(env.output)
}

impl WriteGate for PlanGate {
    fn before_write<'a>(
        &'a self,
        invoker: &'a dyn NodeInvoker,
        step: &'a Step,
        spec: &'a NodeSpec,
        params: &'a Map<String, Value>,
        item: Option<usize>,
    ) -> BoxFuture<'a, Gate> {
        Box::pin(async move { Gate::Answer(self.record(invoker, step, spec, params, item).await) })
    }

    fn unknown_steps(&self) -> BTreeSet<String> {
        self.planned_steps.lock().unwrap().clone()
    }

    fn waives_approvals(&self) -> bool {
        true
    }
}
