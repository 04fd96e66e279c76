//! The audit row of a single node invocation that changed something (any effect but read),
//! made outside a workflow run: `psaflow invoke` and `POST /v1/nodes/{node}/invoke`. A run's
//! changes are written by its journal (see `durable.rs`); these have no run, so each gets an
//! id of its own, `invoke-<id>`.

use psaflow_core::{Envelope, NodeSpec};
use psaflow_store::{AuditEntry, new_id, now_ms};
use serde_json::{Value, json};

/// The run id an invocation's audit row carries: `invoke-` and a fresh time-ordered id.
pub const INVOKE_PREFIX: &str = "invoke-";

/// True when invoking `spec` changes records, so the invocation belongs in the audit trail.
pub fn is_change(spec: &NodeSpec) -> bool {
    spec.effect.to_string() != "read"
}

/// The audit row of `envelope`, the answer to `spec` invoked by `actor` with `params`.
/// `shown` is the envelope as the caller printed it (secrets masked), and `params` must be
/// masked too; `via` says how it was invoked (`psaflow invoke`, the API route).
pub fn entry(
    actor: &str,
    spec: &NodeSpec,
    params: Value,
    envelope: &Envelope,
    shown: &Value,
    via: &str,
) -> AuditEntry {
    AuditEntry {
        id: new_id(),
        at: now_ms(),
        actor: actor.to_string(),
        run_id: format!("{INVOKE_PREFIX}{}", new_id()),
        step_id: "invoke".into(),
        item: None,
        node: spec.id.clone(),
        // `Inactive: true` on an update is audited as the deactivation it is.
        effect: params
            .as_object()
            .map_or(spec.effect, |given| spec.effect_of(given))
            .to_string(),
        target: target_of(shown, &spec.output_key),
        outcome: if envelope.is_success() {
            "succeeded"
        } else {
            "failed"
        }
        .into(),
        approved_by: None,
        detail: Some(json!({
            "params": params,
            "status_code": envelope.status_code,
            "via": via,
        })),
    }
}

/// The id of the record an envelope's output names, when it has one.
fn target_of(envelope: &Value, output_key: &str) -> Option<String> {
    match envelope.get(output_key)?.get("id")? {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_is_the_output_records_id() {
        let shown = json!({"StatusCode": 200, "Client": {"id": 7, "name": "Acme"}});
        assert_eq!(target_of(&shown, "Client"), Some("7".into()));
        assert_eq!(target_of(&json!({"User": {"id": "u-1"}}), "User"), Some("u-1".into()));
        assert_eq!(target_of(&shown, "Site"), None);
        assert_eq!(target_of(&json!({"Client": {}}), "Client"), None);
    }
}
