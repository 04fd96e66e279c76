//! Applying a plan: a write goes out only when the plan holds the same change (same step,
//! same target, same parameters) and a fresh read of its target matches what the plan saw.
//! Everything else is skipped and reported, so apply never does more than the plan showed.
use super::record::{Change, read_target};
use super::semantics::reader_for;
use super::{Gate, WriteGate};
use crate::model::Step;
use psaflow_core::{BoxFuture, NodeInvoker, NodeSpec};
use serde_json::{Map, Value};
use std::sync::Mutex;

/// A planned change apply did not make, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    /// The change, when the skipped call was planned.
    pub change: Option<Change>,
    /// The step it belongs to.
    pub step: String,
    /// Why apply did not send it (the record changed since planning, not in the plan).
    pub reason: String,
}

/// The gate of `psaflow apply`.
pub struct ApplyGate {
    /// Each planned change and whether apply has used it.
    changes: Mutex<Vec<(Change, bool)>>,
    skipped: Mutex<Vec<Skipped>>,
    /// The workflow's `on_failure` steps: they run only when the apply failed, to undo what it
    /// made (the plan lists them), so their writes go through unplanned.
    rollback: Vec<String>,
}

impl ApplyGate {
    /// A gate that lets exactly `changes` through, and the writes of the `rollback` steps.
    pub fn new(changes: Vec<Change>, rollback: Vec<String>) -> Self {
        ApplyGate {
            changes: Mutex::new(changes.into_iter().map(|c| (c, false)).collect()),
            skipped: Mutex::new(Vec::new()),
            rollback,
        }
    }

    /// Planned changes apply skipped (drifted, different parameters) or never reached (the
    /// workflow no longer selects them), and writes the plan did not hold.
    pub fn skipped(&self) -> Vec<Skipped> {
        let mut out = self.skipped.lock().unwrap().clone();
        for (c, used) in self.changes.lock().unwrap().iter() {
            if !used && !out.iter().any(|s| s.change.as_ref() == Some(c)) {
                out.push(Skipped {
                    change: Some(c.clone()),
                    step: c.step.clone(),
                    reason: "not applied: the workflow no longer selects it (its data changed since the plan)".into(),
                });
            }
        }
        out
    }

    fn skip(&self, change: Option<Change>, step: &str, reason: String) -> Gate {
        self.skipped.lock().unwrap().push(Skipped {
            change,
            step: step.to_string(),
            reason: reason.clone(),
        });
        Gate::Skip(reason)
    }

    async fn decide(
        &self,
        invoker: &dyn NodeInvoker,
        step: &Step,
        spec: &NodeSpec,
        params: &Map<String, Value>,
        item: Option<usize>,
    ) -> Gate {
        if self.rollback.iter().any(|id| id == step.id()) {
            return Gate::Send;
        }
        let reader = reader_for(invoker.catalog(), spec);
        let target_id = reader.and_then(|(_, p)| params.get(p));
        let found = {
            let mut changes = self.changes.lock().unwrap();
            let slot = changes.iter_mut().find(|(c, used)| {
                !used
                    && c.step == step.id()
                    && match (&c.target, target_id) {
                        (Some(t), Some(id)) => same_id(&t.id, id),
                        (None, None) => c.item == item,
                        _ => false,
                    }
            });
            slot.map(|(c, used)| {
                *used = true;
                c.clone()
            })
        };
        let Some(change) = found else {
            let what = target_id.map_or(String::new(), |id| format!(" for record {id}"));
            return self.skip(
                None,
                step.id(),
                format!("not in the plan: step '{}' would run {}{what}, which the plan did not show; run psaflow plan again", step.id(), spec.id),
            );
        };
        if let Some(diff) = param_difference(&change.params, params) {
            return self.skip(Some(change), step.id(), format!("parameters differ from the plan: {diff}"));
        }
        if let (Some((reader, id_param)), Some(observed), Some(id)) =
            (reader, &change.observed, target_id)
        {
            let now = read_target(invoker, reader, id_param, id).await.unwrap_or(Value::Null);
            if &now != observed {
                let fields = changed_fields(observed, &now);
                return self.skip(
                    Some(change),
                    step.id(),
                    format!("record {id} changed since the plan ({fields}); skipped, run psaflow plan again to include it"),
                );
            }
        }
        Gate::Send
    }
}

/// Ids compare by value whether written 7, 7.0 or "7".
fn same_id(a: &Value, b: &Value) -> bool {
    psaflow_core::values::integer(a).is_some_and(|x| psaflow_core::values::integer(b) == Some(x))
        || a == b
}

/// The first planned parameter whose value is not what apply would send now. Values shown
/// as `<steps.x.y>` in the plan were unknown then and are not compared.
fn param_difference(planned: &Map<String, Value>, now: &Map<String, Value>) -> Option<String> {
    for (k, v) in planned {
        if matches!(v, Value::String(s) if s.starts_with('<') && s.ends_with('>')) {
            continue;
        }
        if now.get(k) != Some(v) {
            return Some(format!(
                "{k} was {v} in the plan, now {}",
                now.get(k).map_or("absent".to_string(), Value::to_string)
            ));
        }
    }
    now.keys()
        .find(|k| !planned.contains_key(*k))
        .map(|k| format!("{k} was not in the plan"))
}

/// `emailaddress: "" -> "bob@x.example"`, for a drift message.
fn changed_fields(before: &Value, now: &Value) -> String {
    let (Some(b), Some(n)) = (before.as_object(), now.as_object()) else {
        return "it could not be read".into();
    };
    let mut out: Vec<String> = b
        .iter()
        .filter(|(k, v)| n.get(*k) != Some(*v))
        .map(|(k, v)| format!("{k}: {v} -> {}", n.get(k).map_or("absent".into(), Value::to_string)))
        .collect();
    out.extend(n.keys().filter(|k| !b.contains_key(*k)).map(|k| format!("{k}: new")));
    out.truncate(5);
    out.join(", ")
}

impl WriteGate for ApplyGate {
    fn before_write<'a>(
        &'a self,
        invoker: &'a dyn NodeInvoker,
        step: &'a Step,
        spec: &'a NodeSpec,
        params: &'a Map<String, Value>,
        item: Option<usize>,
    ) -> BoxFuture<'a, Gate> {
        Box::pin(self.decide(invoker, step, spec, params, item))
    }
}
