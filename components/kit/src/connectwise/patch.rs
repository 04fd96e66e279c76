//! JSON Patch bodies for ConnectWise PATCH: one `replace` per given field, nothing else.

use crate::prelude::*;
use serde_json::{Map, Value, json};

/// `[{"op": "replace", "path": "<field>", "value": <value>}, ...]` in the map's order.
pub fn replace_all(fields: &Map<String, Value>) -> Value {
    Value::Array(
        fields
            .iter()
            .map(|(path, value)| json!({"op": "replace", "path": path, "value": value}))
            .collect(),
    )
}

/// A reference value as ConnectWise takes it: `{"id": n}`.
pub fn reference(id: i64) -> Value {
    json!({"id": id})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_replace_per_field() {
        let mut fields = Map::new();
        fields.insert("firstName".into(), json!("Ada"));
        fields.insert("securityRole".into(), reference(2));
        assert_eq!(
            replace_all(&fields),
            json!([
                {"op": "replace", "path": "firstName", "value": "Ada"},
                {"op": "replace", "path": "securityRole", "value": {"id": 2}}
            ])
        );
    }
}
