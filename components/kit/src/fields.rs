//! Fields of a JSON object matched the way HaloPSA matches them: ignoring ASCII letter case.
//!
//! HaloPSA binds request fields case-insensitively, so `{"Site_ID": 3}` sets `site_id`. When a
//! node merges `AdditionalFields` with its explicit parameters, an explicit value must replace
//! every spelling of its field, not only the lower-case one; otherwise the body would carry both
//! and which one HaloPSA keeps would be up to the server. These helpers do that.

use crate::prelude::*;
use serde_json::{Map, Value};

/// True when `fields` has `key` in any letter case.
pub fn contains(fields: &Map<String, Value>, key: &str) -> bool {
    fields.keys().any(|k| k.eq_ignore_ascii_case(key))
}

/// The value of `key` in any letter case (the first one in the object's order).
pub fn get<'a>(fields: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    fields
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// Removes `key` in every letter case; returns the first removed value in the object's order.
pub fn remove(fields: &mut Map<String, Value>, key: &str) -> Option<Value> {
    let spellings: Vec<String> = fields
        .keys()
        .filter(|k| k.eq_ignore_ascii_case(key))
        .cloned()
        .collect();
    let mut first = None;
    for spelling in spellings {
        let value = fields.shift_remove(&spelling);
        if first.is_none() {
            first = value;
        }
    }
    first
}

/// Sets `key` (spelt exactly as given) to `value`, after removing every other spelling of it.
pub fn set(fields: &mut Map<String, Value>, key: &str, value: Value) {
    remove(fields, key);
    fields.insert(key.to_string(), value);
}

/// Moves the fields of `extra` into `body` that `body` does not already have in any letter
/// case: the explicit fields already in `body` win. Keeps `extra`'s order.
pub fn merge_under(body: &mut Map<String, Value>, extra: Map<String, Value>) {
    for (key, value) in extra {
        if !contains(body, &key) {
            body.insert(key, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn lookups_ignore_case() {
        let f = object(json!({"Site_ID": 3, "tags": "a"}));
        assert!(contains(&f, "site_id"));
        assert!(!contains(&f, "site"));
        assert_eq!(get(&f, "SITE_id"), Some(&json!(3)));
        assert_eq!(get(&f, "missing"), None);
    }

    #[test]
    fn set_replaces_every_spelling() {
        let mut f = object(json!({"Agent_Id": 1, "tags": "a", "agent_id": 2, "AGENT_ID": 3}));
        set(&mut f, "agent_id", json!(9));
        assert_eq!(Value::Object(f), json!({"tags": "a", "agent_id": 9}));
    }

    #[test]
    fn remove_returns_the_first_spelling() {
        let mut f = object(json!({"Startdate": "a", "x": 1, "startdate": "b"}));
        assert_eq!(remove(&mut f, "STARTDATE"), Some(json!("a")));
        assert_eq!(Value::Object(f.clone()), json!({"x": 1}));
        assert_eq!(remove(&mut f, "startdate"), None);
    }

    #[test]
    fn explicit_fields_win_a_merge() {
        let mut body = object(json!({"summary": "Explicit", "tickettype_id": 1}));
        let extra = object(json!({"Summary": "From extra", "site_id": 15, "tags": "urgent"}));
        merge_under(&mut body, extra);
        assert_eq!(
            Value::Object(body),
            json!({"summary": "Explicit", "tickettype_id": 1, "site_id": 15, "tags": "urgent"})
        );
    }
}
