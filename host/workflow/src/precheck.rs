//! Catching a node's input mistakes before anything is sent. For every node step, the
//! parameter values known before the run (literals; expressions over `inputs` and `env` once
//! the inputs are given) are handed to the node itself in check mode
//! ([`NodeInvoker::check`]): the node runs its own validation against a transport that
//! refuses every request. A weak literal password or `Website: initech.com` is therefore
//! found by `validate`, with its position, by the same code that would refuse it at run time.
//!
//! Steps with an `if` not known to be true are left to run time (the `if` may guard the very
//! values the node would refuse). Values not known yet (step results, `item`) are replaced by a stand-in of the parameter's
//! type; a refusal that names such a parameter says nothing about the workflow and is dropped.
use crate::diagnostics::{Diagnostic, Diagnostics, Pos};
use psaflow_core::values::coerce;
use crate::expr::{self, Mode, Scope, Template};
use crate::model::{Step, Workflow};
use psaflow_core::{InputCheck, NodeInvoker, NodeSpec, ParamType};
use serde_json::{Map, Value, json};

/// Checks every node step's known parameter values with the node itself. `inputs` are the
/// run's typed inputs (with defaults), or `None` before they are known (`psaflow validate`).
pub async fn check_node_inputs(
    wf: &Workflow,
    invoker: &dyn NodeInvoker,
    inputs: Option<&Value>,
    env: &Value,
) -> Result<(), Diagnostics> {
    let mut diags = Diagnostics(Vec::new());
    let scope = inputs.map(|i| Scope::new(i, env, &Value::Object(Map::new())));
    for step in wf.all_steps() {
        if step.is_set() {
            continue;
        }
        let Some(spec) = invoker.catalog().get(step.node()) else {
            continue;
        };
        if let Some(d) = check_step(wf, invoker, step, spec, scope.as_ref()).await {
            diags.push(d);
        }
    }
    diags.into_result()
}

async fn check_step(
    wf: &Workflow,
    invoker: &dyn NodeInvoker,
    step: &Step,
    spec: &NodeSpec,
    scope: Option<&Scope>,
) -> Option<Diagnostic> {
    // A step runs only when its `if` holds, and the `if` may guard exactly the values the
    // node would refuse (`if: inputs.agent > 0` with `AgentId: inputs.agent`). Without
    // knowing it is true, a refusal could be a false alarm, so such steps are judged at run time.
    if let Some(cond) = &step.if_
        && !known_value(cond, scope).is_some_and(|v| expr::truthy(&v))
    {
        return None;
    }
    let mut params = Map::new();
    let mut known: Vec<(&str, Pos)> = Vec::new();
    let mut stand_ins: Vec<&str> = Vec::new();
    for (key, t) in &step.with {
        let param = spec.param(&key.value)?; // unknown parameters are validate's to report
        match known_value(t, scope) {
            // Left out, as at run time; a refusal about it may be what an `if` guards against.
            Some(Value::Null) => stand_ins.push(&key.value),
            Some(v) => {
                params.insert(key.value.clone(), coerce(v, &param.ty));
                known.push((&key.value, t.pos()));
            }
            None => {
                params.insert(key.value.clone(), stand_in(&param.ty));
                stand_ins.push(&key.value);
            }
        }
    }
    if known.is_empty() || spec.params.iter().any(|p| p.required && !params.contains_key(&p.name)) {
        return None; // nothing to judge yet, or a missing parameter validate already reports
    }
    let InputCheck::Invalid(message) = invoker.check(step.node(), params).await? else {
        return None;
    };
    if stand_ins.iter().any(|name| names(&message, name)) {
        return None;
    }
    let pos = known
        .iter()
        .find(|(name, _)| names(&message, name))
        .map_or(step.with_pos, |(_, pos)| *pos);
    Some(
        wf.diag(
            pos,
            format!("step '{}': {} refuses this input: {message}", step.id(), spec.id),
        )
        .with_help("psaflow ran the node's own checks on the values known before the run; nothing was sent"),
    )
}

/// The value of a parameter if it is known before the run.
fn known_value(t: &Template, scope: Option<&Scope>) -> Option<Value> {
    if let Template::Literal { value, .. } = t {
        return Some(value.clone());
    }
    let scope = scope?;
    let run_only = t.exprs().iter().any(|e| {
        expr::roots(&e.body)
            .iter()
            .any(|r| matches!(r.as_str(), "steps" | "item" | "index" | "run"))
    });
    if run_only {
        return None;
    }
    expr::eval(t, scope, Mode::Full).ok()
}

/// A plausible value of a type, for parameters whose value is only known while running.
fn stand_in(ty: &ParamType) -> Value {
    match ty {
        ParamType::String => json!("psaflow-check"),
        ParamType::Bool => json!(false),
        ParamType::Integer { .. } => json!(1),
        ParamType::Float => json!(1.0),
        ParamType::Json | ParamType::Record { .. } => json!({}),
        ParamType::List { .. } => json!([]),
        ParamType::Enum { cases } => json!(cases.first().cloned().unwrap_or_default()),
    }
}

/// True when `message` names the parameter as a word (`Website must ...`, `AdditionalFields.x`).
fn names(message: &str, param: &str) -> bool {
    message.match_indices(param).any(|(at, _)| {
        let before = message[..at].chars().next_back();
        let after = message[at + param.len()..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric()) && !after.is_some_and(|c| c.is_alphanumeric())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parameter_is_named_as_a_word() {
        assert!(names("Website must include the protocol", "Website"));
        assert!(names("AdditionalFields.startdate must be ISO 8601", "AdditionalFields"));
        assert!(!names("SiteClientId must be positive", "Id"));
        assert!(names("Id must be a positive integer", "Id"));
    }
}
