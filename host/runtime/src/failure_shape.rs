//! The output a node documents for its failures, so that envelopes the host builds itself (a
//! parameter that cannot be converted, a trap, a timeout) keep the operation's shape instead of
//! `{}` (seed 004: `DeleteResult` stays `{"success": false, "deleted_id": 0}`; `DeletedSite`
//! and `DeletedTicket` echo the requested id).
//!
//! A node declares it in its world's doc comment, beside its `Output:` line:
//!
//! ```text
//! /// Output: `DeletedSite`.
//! /// Output on failure: `{"success": false, "deleted_id": "$Id"}`.
//! /// Output on invalid input: `{}`.
//! ```
//!
//! The value is JSON; a string `"$Name"` stands for the parameter `Name` as given (`0` when it
//! is missing or not a number). Without the lines, failures give `{}`.

use serde_json::{Map, Value};

const ON_FAILURE: &str = "Output on failure:";
const ON_INVALID: &str = "Output on invalid input:";

/// A node's documented failure outputs.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FailureShape {
    /// For system failures the host reports (trap, timeout, limits, load errors).
    pub on_failure: Option<Value>,
    /// For parameters the host refuses before the node runs.
    pub on_invalid: Option<Value>,
}

impl FailureShape {
    /// Takes the two lines out of a world's docs; returns the rest of the docs and the shape.
    /// A line whose value is not JSON is an error naming it.
    pub fn split(docs: &str) -> anyhow::Result<(String, FailureShape)> {
        let mut shape = FailureShape::default();
        let mut kept = Vec::new();
        for line in docs.lines() {
            let trimmed = line.trim();
            let (slot, rest) = if let Some(rest) = trimmed.strip_prefix(ON_FAILURE) {
                (&mut shape.on_failure, rest)
            } else if let Some(rest) = trimmed.strip_prefix(ON_INVALID) {
                (&mut shape.on_invalid, rest)
            } else {
                kept.push(line);
                continue;
            };
            let text = rest.trim().trim_end_matches('.').trim().trim_matches('`');
            let value: Value = serde_json::from_str(text)
                .map_err(|e| anyhow::anyhow!("`{trimmed}` is not JSON: {e}"))?;
            *slot = Some(value);
        }
        Ok((kept.join("\n"), shape))
    }

    /// The output of a host-built system failure for these parameters.
    pub fn failure_output(&self, params: &Map<String, Value>) -> Value {
        render(self.on_failure.as_ref(), params)
    }

    /// The output of a host-built validation failure for these parameters.
    pub fn invalid_output(&self, params: &Map<String, Value>) -> Value {
        render(self.on_invalid.as_ref(), params)
    }
}

fn render(template: Option<&Value>, params: &Map<String, Value>) -> Value {
    match template {
        None => Value::Object(Map::new()),
        Some(t) => fill(t, params),
    }
}

fn fill(template: &Value, params: &Map<String, Value>) -> Value {
    match template {
        Value::String(s) if s.starts_with('$') => {
            let given = params.get(&s[1..]);
            given
                .and_then(|v| match v {
                    Value::Number(_) => Some(v.clone()),
                    Value::String(text) => text.trim().parse::<i64>().ok().map(Value::from),
                    _ => None,
                })
                .unwrap_or(Value::from(0))
        }
        Value::Array(items) => Value::Array(items.iter().map(|i| fill(i, params)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), fill(v, params)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn lines_are_taken_out_of_the_docs() {
        let docs = "Deletes a site.\n\nOutput: `DeletedSite`.\nOutput on failure: `{\"success\": false, \"deleted_id\": \"$Id\"}`.";
        let (rest, shape) = FailureShape::split(docs).unwrap();
        assert_eq!(rest, "Deletes a site.\n\nOutput: `DeletedSite`.");
        assert_eq!(
            shape.failure_output(&params(json!({"Id": 12}))),
            json!({"success": false, "deleted_id": 12})
        );
        assert_eq!(
            shape.failure_output(&params(json!({"Id": "12"}))),
            json!({"success": false, "deleted_id": 12})
        );
        assert_eq!(
            shape.failure_output(&params(json!({"Id": "twelve"}))),
            json!({"success": false, "deleted_id": 0})
        );
        assert_eq!(shape.invalid_output(&params(json!({}))), json!({}));
    }

    #[test]
    fn fixed_shapes_and_errors() {
        let (_, shape) = FailureShape::split(
            "Output on failure: `{\"success\": false, \"deleted_id\": 0}`.\nOutput on invalid input: `{\"success\": false, \"deleted_id\": 0}`.",
        )
        .unwrap();
        assert_eq!(shape.invalid_output(&Map::new()), json!({"success": false, "deleted_id": 0}));
        assert!(FailureShape::split("Output on failure: `{oops`").is_err());
        let (_, none) = FailureShape::split("Just docs.").unwrap();
        assert_eq!(none.failure_output(&Map::new()), json!({}));
    }
}
