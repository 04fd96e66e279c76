//! Parameters by reflection: the user's JSON parameters become the component's input record,
//! driven by the record type the component exports (so any node's record works), with
//! errors that name the parameter and what was expected.

use psaflow_core::names::kebab_to_pascal;
use psaflow_core::{Envelope, NodeSpec, ParamType};
use serde_json::{Map, Value};
use wasmtime::component::{Type, Val};

/// Builds the input record for `spec` from `params` (keys are `SiteClientId`-style names;
/// the WIT spelling `site-client-id` is accepted too).
pub fn input_record(
    spec: &NodeSpec,
    record: &Type,
    params: &Map<String, Value>,
) -> Result<Val, String> {
    let Type::Record(record) = record else {
        return Err("the node's input is not a record".into());
    };
    for key in params.keys() {
        let known = spec
            .params
            .iter()
            .any(|p| &p.name == key || &p.wit_name == key);
        if !known {
            return Err(spec.unknown_param_message(key));
        }
    }
    let mut fields = Vec::new();
    for field in record.fields() {
        let name = kebab_to_pascal(field.name);
        let declared = spec
            .params
            .iter()
            .find(|p| p.wit_name == field.name)
            .map(|p| &p.ty);
        let value = params.get(&name).or_else(|| params.get(field.name));
        let val = match (&field.ty, value) {
            (Type::Option(_), None | Some(Value::Null)) => Val::Option(None),
            (Type::Option(opt), Some(v)) => {
                Val::Option(Some(Box::new(to_val(v, &opt.ty(), declared, &name)?)))
            }
            (_, None | Some(Value::Null)) => return Err(format!("{name} is required")),
            (ty, Some(v)) => to_val(v, ty, declared, &name)?,
        };
        fields.push((field.name.to_string(), val));
    }
    Ok(Val::Record(fields))
}

fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("the text {s:?}"),
        Value::Null => "nothing (null)".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// `f` rounded to the nearest `f32`, or `None` when it is finite but beyond `f32`'s range
/// (it would silently become infinity).
fn narrow_f32(f: f64) -> Option<f32> {
    #[allow(
        clippy::cast_possible_truncation,
        reason = "rounding to the nearest f32 is what an f32 parameter means; overflow is checked"
    )]
    let narrow = f as f32;
    (narrow.is_finite() || !f.is_finite()).then_some(narrow)
}

fn to_val(
    value: &Value,
    ty: &Type,
    declared: Option<&ParamType>,
    path: &str,
) -> Result<Val, String> {
    let wrong = |expected: &str| format!("{path} must be {expected}, got {}", describe(value));
    Ok(match ty {
        Type::Bool => match value {
            Value::Bool(b) => Val::Bool(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Val::Bool(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Val::Bool(false),
            _ => return Err(wrong("true or false")),
        },
        Type::S8
        | Type::S16
        | Type::S32
        | Type::S64
        | Type::U8
        | Type::U16
        | Type::U32
        | Type::U64 => {
            // Integers arrive as 7, 7.0 (HaloPSA returns some ids as decimals) or "7".
            let n = psaflow_core::values::integer(value).ok_or_else(|| wrong("an integer"))?;
            let out_of_range =
                || format!("{path} is {n}, which is out of range for this parameter");
            match ty {
                Type::S8 => Val::S8(i8::try_from(n).map_err(|_| out_of_range())?),
                Type::S16 => Val::S16(i16::try_from(n).map_err(|_| out_of_range())?),
                Type::S32 => Val::S32(i32::try_from(n).map_err(|_| out_of_range())?),
                Type::S64 => Val::S64(i64::try_from(n).map_err(|_| out_of_range())?),
                Type::U8 => Val::U8(u8::try_from(n).map_err(|_| out_of_range())?),
                Type::U16 => Val::U16(u16::try_from(n).map_err(|_| out_of_range())?),
                Type::U32 => Val::U32(u32::try_from(n).map_err(|_| out_of_range())?),
                _ => Val::U64(u64::try_from(n).map_err(|_| out_of_range())?),
            }
        }
        Type::Float32 | Type::Float64 => {
            let f = match value {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            }
            .ok_or_else(|| wrong("a number"))?;
            if matches!(ty, Type::Float32) {
                Val::Float32(narrow_f32(f).ok_or_else(|| {
                    format!("{path} is {value}, which is out of range for this parameter")
                })?)
            } else {
                Val::Float64(f)
            }
        }
        Type::Char => match value {
            Value::String(s) if s.chars().count() == 1 => Val::Char(s.chars().next().unwrap()),
            _ => return Err(wrong("a single character")),
        },
        Type::String if matches!(declared, Some(ParamType::Json)) => {
            Val::String(json_text(value, path)?)
        }
        Type::String => match value {
            Value::String(s) => Val::String(s.clone()),
            // Numbers are accepted as text: a phone number or postcode often arrives as one.
            Value::Number(n) => Val::String(n.to_string()),
            _ => return Err(wrong("text")),
        },
        Type::List(list) => {
            let item_decl = match declared {
                Some(ParamType::List { item }) => Some(item.as_ref()),
                _ => None,
            };
            let items = match value {
                Value::Array(items) => items.clone(),
                // From the command line a list arrives as JSON text.
                Value::String(s) => match serde_json::from_str::<Value>(s) {
                    Ok(Value::Array(items)) => items,
                    _ => return Err(wrong("a JSON list, for example [\"name\", \"client_id\"]")),
                },
                _ => return Err(wrong("a list")),
            };
            let vals = items
                .iter()
                .enumerate()
                .map(|(i, item)| to_val(item, &list.ty(), item_decl, &format!("{path}[{i}]")))
                .collect::<Result<Vec<_>, _>>()?;
            Val::List(vals)
        }
        Type::Enum(e) => match value {
            Value::String(s) if e.names().any(|n| n == s) => Val::Enum(s.clone()),
            _ => {
                return Err(wrong(&format!(
                    "one of {}",
                    e.names().collect::<Vec<_>>().join(", ")
                )));
            }
        },
        Type::Option(opt) => match value {
            Value::Null => Val::Option(None),
            v => Val::Option(Some(Box::new(to_val(v, &opt.ty(), declared, path)?))),
        },
        Type::Record(record) => {
            let Value::Object(obj) = value else {
                return Err(wrong("an object"));
            };
            let nested = match declared {
                Some(ParamType::Record { fields }) => Some(fields),
                _ => None,
            };
            let mut fields = Vec::new();
            for field in record.fields() {
                let name = kebab_to_pascal(field.name);
                let decl = nested
                    .and_then(|f| f.iter().find(|p| p.wit_name == field.name))
                    .map(|p| &p.ty);
                let inner_path = format!("{path}.{name}");
                let v = obj.get(&name).or_else(|| obj.get(field.name));
                let val = match (&field.ty, v) {
                    (Type::Option(_), None | Some(Value::Null)) => Val::Option(None),
                    (_, None) => return Err(format!("{inner_path} is required")),
                    (ty, Some(v)) => to_val(v, ty, decl, &inner_path)?,
                };
                fields.push((field.name.to_string(), val));
            }
            Val::Record(fields)
        }
        other => {
            return Err(format!(
                "{path} has a type psaflow cannot pass to a node ({other:?})"
            ));
        }
    })
}

/// A `json` parameter: objects and lists are serialised; text must already be valid JSON.
fn json_text(value: &Value, path: &str) -> Result<String, String> {
    match value {
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(_) => Ok(s.clone()),
            Err(e) => Err(format!(
                // The host serves every connector: the example names no connector's fields.
                "{path} must be JSON, such as {{\"field\": \"value\"}} with the record's own field names; the text given is not JSON ({e})"
            )),
        },
        other => Ok(other.to_string()),
    }
}

/// Reads the envelope record a node returned.
pub fn envelope_from_val(val: Val, node: &str) -> Result<Envelope, String> {
    let Val::Record(fields) = val else {
        return Err(format!("{node} returned something other than an envelope"));
    };
    // Taken apart, not copied: the output text can be large.
    let (mut status_code, mut original_status_code) = (None, None);
    let (mut error_message, mut output_name, mut output_text) = (None, None, None);
    for (name, value) in fields {
        match (name.as_str(), value) {
            ("status-code", Val::S32(n)) => status_code = Some(n),
            ("original-status-code", Val::S32(n)) => original_status_code = Some(n),
            ("error-message", Val::String(s)) => error_message = Some(s),
            ("output-name", Val::String(s)) => output_name = Some(s),
            ("output", Val::String(s)) => output_text = Some(s),
            _ => {}
        }
    }
    let int = |value: Option<i32>, name: &str| {
        value.ok_or_else(|| format!("{node} returned an envelope without an integer {name}"))
    };
    let text = |value: Option<String>, name: &str| {
        value.ok_or_else(|| format!("{node} returned an envelope without text {name}"))
    };
    let output_text = text(output_text, "output")?;
    let output = if output_text.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        serde_json::from_str(&output_text)
            .map_err(|e| format!("{node} returned output that is not JSON: {e}"))?
    };
    Ok(Envelope {
        status_code: int(status_code, "status-code")?,
        original_status_code: int(original_status_code, "original-status-code")?,
        error_message: text(error_message, "error-message")?,
        output_name: text(output_name, "output-name")?,
        output,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_parameters_serialise_objects_and_check_text() {
        assert_eq!(
            json_text(&json!({"site_id": 15}), "AdditionalFields").unwrap(),
            r#"{"site_id":15}"#
        );
        assert_eq!(
            json_text(&json!(r#"{"a":1}"#), "AdditionalFields").unwrap(),
            r#"{"a":1}"#
        );
        let err = json_text(&json!("{not json"), "AdditionalFields").unwrap_err();
        assert!(err.starts_with("AdditionalFields must be JSON"), "{err}");
        // Not a HaloPSA field in a message ConnectWise nodes give too.
        assert!(!err.contains("site_id"), "{err}");
    }

    #[test]
    fn values_are_described_in_words() {
        assert_eq!(describe(&json!("x")), "the text \"x\"");
        assert_eq!(describe(&json!(null)), "nothing (null)");
        assert_eq!(describe(&json!([1])), "a list");
    }

    #[test]
    fn an_f32_parameter_refuses_what_would_become_infinity() {
        let ty = Type::Float32;
        assert_eq!(
            to_val(&json!(1.5), &ty, None, "Ratio").unwrap(),
            Val::Float32(1.5)
        );
        let err = to_val(&json!(1e300), &ty, None, "Ratio").unwrap_err();
        assert_eq!(
            err,
            "Ratio is 1e+300, which is out of range for this parameter"
        );
        // f64 parameters take it as it is.
        assert_eq!(
            to_val(&json!(1e300), &Type::Float64, None, "Ratio").unwrap(),
            Val::Float64(1e300)
        );
    }
}
