//! Lenient reading of values that arrive loosely typed: ids HaloPSA returns as decimals
//! (`21.0`), numbers typed on a command line, step parameters an expression made into text.
//!
//! One set of rules for the whole host. Nothing here fails: a value that does not fit is
//! returned as it came, so the node's own validation (or the runtime's parameter mapping)
//! reports it with the parameter's name. The guest kit keeps its own copy of the id rule
//! because components cannot depend on host crates.
use crate::catalog::ParamType;
use serde_json::{Number, Value};

/// Above this, an `f64` no longer holds every whole number exactly.
const EXACT_F64_LIMIT: f64 = 9.0e15;

/// `f` as an `i64` when it is a whole number small enough to be exact (`21.0` is 21).
#[allow(
    clippy::cast_possible_truncation,
    reason = "checked first: a whole number below EXACT_F64_LIMIT converts exactly"
)]
pub fn whole_f64(f: f64) -> Option<i64> {
    (f.fract() == 0.0 && f.abs() < EXACT_F64_LIMIT).then_some(f as i64)
}

/// An integer written as 7, 7.0 (HaloPSA returns some ids as decimals) or "7".
/// `i128` holds every `i64` and `u64`.
pub fn integer(value: &Value) -> Option<i128> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .or_else(|| n.as_f64().and_then(whole_f64).map(i128::from)),
        Value::String(s) => s.trim().parse::<i128>().ok(),
        _ => None,
    }
}

/// A record id, read as [`integer`] does; `None` when it is not one or does not fit an `i64`.
pub fn id(value: &Value) -> Option<i64> {
    integer(value).and_then(|n| i64::try_from(n).ok())
}

/// Brings a value closer to a parameter's declared type where the intent is plain: "42" for an
/// integer, `7.0` for an integer, "4.5" for a float, "true"/"false" for a boolean, a number or
/// boolean for text. Anything else is returned unchanged.
pub fn coerce(value: Value, ty: &ParamType) -> Value {
    match (ty, &value) {
        (ParamType::Integer { .. }, Value::String(s)) => {
            s.trim().parse::<i64>().map(Value::from).unwrap_or(value)
        }
        (ParamType::Integer { .. }, Value::Number(n))
            if n.as_i64().is_none() && n.as_u64().is_none() =>
        {
            n.as_f64().and_then(whole_f64).map_or(value, Value::from)
        }
        (ParamType::Float, Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map_or(value, Value::Number),
        (ParamType::String, Value::Number(_) | Value::Bool(_)) => Value::String(value.to_string()),
        (ParamType::Bool, Value::String(s)) if s == "true" || s == "false" => {
            Value::Bool(s == "true")
        }
        _ => value,
    }
}

/// Reads text typed by a person (`--with Key=Value`) by the parameter's type: a number, a
/// boolean, or JSON for lists, records and `json` parameters. Text that does not fit is passed
/// on as written.
pub fn from_text(ty: &ParamType, raw: &str) -> Value {
    match ty {
        ParamType::Json | ParamType::List { .. } | ParamType::Record { .. } => {
            serde_json::from_str(raw).unwrap_or_else(|_| raw.into())
        }
        ParamType::String | ParamType::Enum { .. } => raw.into(),
        ParamType::Integer { .. } | ParamType::Float | ParamType::Bool => {
            match coerce(Value::from(raw.trim()), ty) {
                Value::String(_) => raw.into(),
                typed => typed,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const INT: ParamType = ParamType::Integer {
        signed: true,
        bits: 64,
    };

    #[test]
    fn ids_arrive_as_integers_decimals_or_text() {
        assert_eq!(id(&json!(21)), Some(21));
        assert_eq!(id(&json!(21.0)), Some(21));
        assert_eq!(id(&json!(" 21 ")), Some(21));
        assert_eq!(id(&json!(21.5)), None);
        assert_eq!(id(&json!(1.0e16)), None, "too large to be exact as a double");
        assert_eq!(id(&json!(u64::MAX)), None, "does not fit an i64");
        assert_eq!(integer(&json!(u64::MAX)), Some(i128::from(u64::MAX)));
        assert_eq!(id(&json!(true)), None);
    }

    #[test]
    fn coerce_follows_the_declared_type_and_leaves_misfits_alone() {
        assert_eq!(coerce(json!("42"), &INT), json!(42));
        assert_eq!(coerce(json!(42.0), &INT), json!(42));
        assert_eq!(coerce(json!(42.5), &INT), json!(42.5));
        assert_eq!(coerce(json!("abc"), &INT), json!("abc"));
        assert_eq!(coerce(json!("4.5"), &ParamType::Float), json!(4.5));
        assert_eq!(coerce(json!(7), &ParamType::String), json!("7"));
        assert_eq!(coerce(json!(true), &ParamType::String), json!("true"));
        assert_eq!(coerce(json!("false"), &ParamType::Bool), json!(false));
        assert_eq!(coerce(json!("yes"), &ParamType::Bool), json!("yes"));
    }

    #[test]
    fn text_is_read_by_type() {
        assert_eq!(from_text(&INT, " 42 "), json!(42));
        assert_eq!(from_text(&INT, "abc"), json!("abc"));
        assert_eq!(from_text(&ParamType::Bool, "true"), json!(true));
        assert_eq!(from_text(&ParamType::Bool, " maybe"), json!(" maybe"));
        assert_eq!(from_text(&ParamType::Json, r#"{"a":1}"#), json!({"a": 1}));
        assert_eq!(from_text(&ParamType::Json, "{not json"), json!("{not json"));
        assert_eq!(from_text(&ParamType::String, "00123"), json!("00123"));
    }
}
