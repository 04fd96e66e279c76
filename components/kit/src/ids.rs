//! Reading ids however HaloPSA writes them, and cleaning them up in output records.
//!
//! HaloPSA returns some ids as decimals (`"client_id": 21.0` on sites, `site_id` on users) and
//! some as strings. Workflows compare and pass ids along, so the nodes hand out plain integers.

use crate::prelude::*;
use serde_json::{Number, Value};

/// Reads an integral id from `21`, `21.0` or `"21"` (surrounding spaces allowed). Returns `None`
/// for anything else: fractions (`21.5`), non-numeric strings (GUIDs), booleans, null, objects.
pub fn read_id(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => number_to_i64(n),
        Value::String(s) => {
            let s = s.trim();
            if let Ok(v) = s.parse::<i64>() {
                return Some(v);
            }
            s.parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .and_then(float_to_i64)
        }
        _ => None,
    }
}

/// Reads `key` of a JSON object as an id (see [`read_id`]).
pub fn field_id(record: &Value, key: &str) -> Option<i64> {
    record.get(key).and_then(read_id)
}

/// Reads a count such as `record_count` (`717`, `717.0` or `"717"`); negatives give `None`.
pub fn read_count(value: &Value) -> Option<u64> {
    read_id(value).and_then(|v| u64::try_from(v).ok())
}

fn number_to_i64(n: &Number) -> Option<i64> {
    n.as_i64().or_else(|| n.as_f64().and_then(float_to_i64))
}

fn float_to_i64(f: f64) -> Option<i64> {
    // Only integral values that fit exactly; 2^53 keeps the conversion lossless.
    (f.abs() <= 9_007_199_254_740_992.0 && (f as i64) as f64 == f).then_some(f as i64)
}

/// True for the keys treated as ids: `id` and every `*_id` (`client_id`, `toplevel_id`...),
/// in any letter case.
pub fn is_id_key(key: &str) -> bool {
    // Compared in place: this runs for every key of every record a node returns.
    let bytes = key.as_bytes();
    bytes.eq_ignore_ascii_case(b"id")
        || (bytes.len() > 3 && bytes[bytes.len() - 3..].eq_ignore_ascii_case(b"_id"))
}

/// Rewrites, in place and at every depth, the values of `id` / `*_id` keys that are integral
/// floats (`21.0`) or canonical integer strings (`"21"`, `"-1"`) as JSON integers. Other values
/// are left alone: GUID strings, fractions, strings with leading zeros (`"007"`), null.
pub fn normalize(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                if is_id_key(key)
                    && let Some(clean) = clean_id(item)
                {
                    *item = Value::from(clean);
                    continue;
                }
                normalize(item);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalize),
        _ => {}
    }
}

/// Returns `value` with its ids normalised (see [`normalize`]).
pub fn normalized(mut value: Value) -> Value {
    normalize(&mut value);
    value
}

fn clean_id(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) if n.is_i64() || n.is_u64() => None, // already clean
        Value::Number(n) => n.as_f64().and_then(float_to_i64),
        Value::String(s) => {
            let v: i64 = s.parse().ok()?;
            // Only the canonical spelling, so "007" or "+5" keep their text.
            (v.to_string() == *s).then_some(v)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_ids_in_every_spelling() {
        assert_eq!(read_id(&json!(21)), Some(21));
        assert_eq!(read_id(&json!(21.0)), Some(21));
        assert_eq!(read_id(&json!("21")), Some(21));
        assert_eq!(read_id(&json!(" 21 ")), Some(21));
        assert_eq!(read_id(&json!("21.0")), Some(21));
        assert_eq!(read_id(&json!(-1)), Some(-1));
        assert_eq!(read_id(&json!(21.5)), None);
        assert_eq!(read_id(&json!("abc")), None);
        assert_eq!(
            read_id(&json!("6f1c2b3e-0000-4000-8000-000000000000")),
            None
        );
        assert_eq!(read_id(&json!(null)), None);
        assert_eq!(read_id(&json!(true)), None);
        assert_eq!(read_id(&json!(1e300)), None);
        assert_eq!(field_id(&json!({"client_id": 21.0}), "client_id"), Some(21));
        assert_eq!(field_id(&json!({"client_id": 21.0}), "site_id"), None);
        assert_eq!(read_count(&json!("717")), Some(717));
        assert_eq!(read_count(&json!(-3)), None);
    }

    #[test]
    fn id_keys() {
        assert!(is_id_key("id"));
        assert!(is_id_key("ID"));
        assert!(is_id_key("client_id"));
        assert!(is_id_key("toplevel_id"));
        assert!(is_id_key("Client_ID"));
        assert!(is_id_key("é_id"));
        assert!(!is_id_key("éid"));
        assert!(!is_id_key("_id"));
        assert!(!is_id_key("idonly"));
        assert!(!is_id_key("paid"));
        assert!(!is_id_key("client_ids"));
    }

    #[test]
    fn normalizes_nested_records() {
        let mut v = json!({
            "id": "7",
            "name": "Head office",
            "client_id": 21.0,
            "sla_id": -1,
            "maincontact_id": "007",
            "priority_id": "6f1c2b3e",
            "phonenumber": "0123",
            "ratio": 21.0,
            "score_id": 2.5,
            "site_update": [{"id": 3.0, "client_id": "21"}],
            "client": {"id": 21.0, "toplevel_id": null}
        });
        normalize(&mut v);
        assert_eq!(
            v,
            json!({
                "id": 7,
                "name": "Head office",
                "client_id": 21,
                "sla_id": -1,
                "maincontact_id": "007",
                "priority_id": "6f1c2b3e",
                "phonenumber": "0123",
                "ratio": 21.0,
                "score_id": 2.5,
                "site_update": [{"id": 3, "client_id": 21}],
                "client": {"id": 21, "toplevel_id": null}
            })
        );
        assert!(v["id"].is_i64());
        assert!(v["client_id"].is_i64());
        assert!(v["ratio"].is_f64(), "only id fields change");
    }

    #[test]
    fn normalizes_lists_of_records() {
        let v = normalized(json!([{"id": 1.0}, {"id": "2"}, {"id": 3}]));
        assert_eq!(v, json!([{"id": 1}, {"id": 2}, {"id": 3}]));
    }
}
