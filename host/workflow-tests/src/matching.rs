//! Comparing what a test expects (a YAML node, with positions) with what a run produced (JSON).
//!
//! - **Subset** (`envelope:`, `outputs:`, `with:`, `where:`): every key written must be there
//!   with a matching value; other keys are ignored. Lists must have the same length and match
//!   item by item.
//! - **Exact** (`envelope_equals:`): as subset, and objects may not have keys that were not written.
//! - A string that is one `${{ ... }}` is evaluated with `value` bound to the actual value at
//!   that place (plus the run's names, see the crate docs). A true/false result is the verdict;
//!   any other result is the expected value. Text with expressions inside is interpolated and
//!   compared as text.
//! - Numbers compare by value (`7` matches `7.0`).
use psaflow_workflow::expr::text as expr;
use crate::yaml::{Kind, Node};
use psaflow_workflow::Pos;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Subset,
    Exact,
}

/// One place where expected and actual differ.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// `Client.name`, `tickets[2].id`; empty for the value itself.
    pub path: String,
    /// Where the expected value is written.
    pub pos: Pos,
    /// What was expected, as shown to users (`"Contoso"`, `${{ value > 0 }}`, `(absent)`).
    pub expected: String,
    /// What came (`(missing)` when there was nothing).
    pub actual: String,
    /// Why, when the two lines alone do not say it.
    pub note: Option<String>,
}

impl Mismatch {
    /// The `- expected` / `+ actual` lines, and the note.
    pub fn diff_lines(&self) -> Vec<String> {
        let path = if self.path.is_empty() {
            "(value)".to_string()
        } else {
            self.path.clone()
        };
        let mut lines = vec![
            format!("- {path}: {}", self.expected),
            format!("+ {path}: {}", self.actual),
        ];
        if let Some(note) = &self.note {
            lines.push(format!("  ({note})"));
        }
        lines
    }
}

/// Longest line of a failure message once it is finished (see [`shorten_lines`]).
pub const LINE_MAX: usize = 320;

/// A value as one line of JSON, in full. Failure text is shortened only after secrets are
/// masked ([`shorten_lines`]): cutting first could leave the start of a secret that the mask
/// then no longer recognises.
pub fn show(value: &Value) -> String {
    value.to_string()
}

/// Every line of `text` cut to [`LINE_MAX`] chars. Call it on text that is already redacted.
pub fn shorten_lines(text: &str) -> String {
    let mut out: Vec<String> = text.split('\n').map(|l| shorten(l, LINE_MAX)).collect();
    if text.ends_with('\n') {
        out.pop();
        out.push(String::new());
    }
    out.join("\n")
}

/// `text` cut to `max` chars with an ellipsis.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    format!("{cut}…")
}

fn child_path(path: &str, key: &str) -> String {
    let simple = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    match (path.is_empty(), simple) {
        (true, true) => key.to_string(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{key:?}]"),
    }
}

fn numbers_equal(a: &serde_json::Number, b: &serde_json::Number) -> bool {
    match (a.as_i64(), b.as_i64()) {
        (Some(x), Some(y)) => x == y,
        _ => a.as_f64() == b.as_f64(),
    }
}

/// Deep equality with numbers compared by value.
pub fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => numbers_equal(x, y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

/// Compares `expected` with `actual` (`None`: the value is missing). `context` holds the names
/// expressions can read; `value` is added per place.
pub fn compare(
    expected: &Node,
    actual: Option<&Value>,
    mode: Mode,
    context: &Value,
) -> Vec<Mismatch> {
    let mut out = Vec::new();
    walk(expected, actual, mode, context, "", &mut out);
    out
}

fn missing() -> String {
    "(missing)".to_string()
}

fn walk(
    expected: &Node,
    actual: Option<&Value>,
    mode: Mode,
    context: &Value,
    path: &str,
    out: &mut Vec<Mismatch>,
) {
    let mismatch = |expected_text: String, note: Option<String>| Mismatch {
        path: path.to_string(),
        pos: expected.pos,
        expected: expected_text,
        actual: actual.map_or_else(missing, show),
        note,
    };
    match &expected.kind {
        Kind::Str(text) if text.contains("${{") => {
            let mut ctx = context.clone();
            if let Value::Object(map) = &mut ctx {
                map.insert("value".into(), actual.cloned().unwrap_or(Value::Null));
            }
            match (expr::whole(text), expr::eval_string(text, &ctx)) {
                (_, Err(err)) => out.push(mismatch(
                    text.clone(),
                    Some(format!("the expression failed: {err}")),
                )),
                (Some(_), Ok(Value::Bool(true))) => {}
                (Some(_), Ok(Value::Bool(false))) => {
                    out.push(mismatch(text.clone(), Some("the check is false".into())))
                }
                (_, Ok(wanted)) => {
                    if !actual.is_some_and(|a| json_equal(&wanted, a)) {
                        out.push(mismatch(
                            show(&wanted),
                            Some(format!("{text} gave {}", show(&wanted))),
                        ));
                    }
                }
            }
        }
        Kind::Map(entries) => {
            let Some(Value::Object(obj)) = actual else {
                out.push(mismatch(
                    show(&expected.to_json()),
                    actual.map(|_| "expected an object".to_string()),
                ));
                return;
            };
            for (key, node) in entries {
                walk(
                    node,
                    obj.get(&key.name),
                    mode,
                    context,
                    &child_path(path, &key.name),
                    out,
                );
            }
            if mode == Mode::Exact {
                for (k, v) in obj {
                    if !entries.iter().any(|(key, _)| &key.name == k) {
                        out.push(Mismatch {
                            path: child_path(path, k),
                            pos: expected.pos,
                            expected: "(absent)".into(),
                            actual: show(v),
                            note: Some("an exact match allows no other keys".into()),
                        });
                    }
                }
            }
        }
        Kind::Seq(items) => {
            let Some(Value::Array(list)) = actual else {
                out.push(mismatch(
                    show(&expected.to_json()),
                    actual.map(|_| "expected a list".to_string()),
                ));
                return;
            };
            if items.len() != list.len() {
                out.push(mismatch(
                    show(&expected.to_json()),
                    Some(format!(
                        "expected {} item(s), got {}",
                        items.len(),
                        list.len()
                    )),
                ));
            }
            for (i, (node, value)) in items.iter().zip(list).enumerate() {
                walk(
                    node,
                    Some(value),
                    mode,
                    context,
                    &format!("{path}[{i}]"),
                    out,
                );
            }
        }
        _ => {
            let wanted = expected.to_json();
            if !actual.is_some_and(|a| json_equal(&wanted, a)) {
                out.push(mismatch(show(&wanted), None));
            }
        }
    }
}

/// True when `actual` matches `expected` as a subset (no expressions needed).
pub fn matches(expected: &Node, actual: &Value, context: &Value) -> bool {
    compare(expected, Some(actual), Mode::Subset, context).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;
    use serde_json::json;
    use std::sync::Arc;

    fn node(src: &str) -> Node {
        let src: Arc<str> = src.into();
        yaml::parse(&src, "t").unwrap()
    }

    #[test]
    fn subset_ignores_extra_keys_and_reports_each_differing_path() {
        let expected = node("Client: { name: Contoso, id: 7 }\nStatusCode: 200\n");
        let actual = json!({"StatusCode": 200, "ErrorMessage": "", "Client": {"id": 7.0, "name": "Contoso Ltd", "x": 1}});
        let ms = compare(&expected, Some(&actual), Mode::Subset, &json!({}));
        assert_eq!(ms.len(), 1, "{ms:?}");
        assert_eq!(ms[0].path, "Client.name");
        assert_eq!(
            ms[0].diff_lines(),
            vec![
                "- Client.name: \"Contoso\"",
                "+ Client.name: \"Contoso Ltd\""
            ]
        );
        assert_eq!((ms[0].pos.line, ms[0].pos.column), (1, 17));
    }

    #[test]
    fn exact_reports_unexpected_keys() {
        let expected = node("a: 1\n");
        let ms = compare(
            &expected,
            Some(&json!({"a": 1, "b": 2})),
            Mode::Exact,
            &json!({}),
        );
        assert_eq!(ms.len(), 1);
        assert_eq!(
            ms[0].diff_lines()[..2],
            ["- b: (absent)".to_string(), "+ b: 2".to_string()]
        );
        assert!(compare(&expected, Some(&json!({"a": 1})), Mode::Exact, &json!({})).is_empty());
    }

    #[test]
    fn missing_values_and_list_lengths_are_reported() {
        let expected = node("a: { b: 1 }\nl: [1, 2]\n");
        let ms = compare(
            &expected,
            Some(&json!({"l": [1]})),
            Mode::Subset,
            &json!({}),
        );
        assert_eq!(ms.len(), 2, "{ms:?}");
        assert_eq!(ms[0].actual, "(missing)");
        assert!(
            ms[1]
                .note
                .as_deref()
                .unwrap()
                .contains("expected 2 item(s), got 1")
        );
    }

    #[test]
    fn expressions_check_or_give_the_expected_value() {
        let ctx = json!({"outputs": {"client_id": 7}});
        let expected = node(
            "id: \"${{ value > 0 }}\"\nsame: \"${{ outputs.client_id }}\"\nbig: \"${{ value > 100 }}\"\n",
        );
        let actual = json!({"id": 7, "same": 7, "big": 5});
        let ms = compare(&expected, Some(&actual), Mode::Subset, &ctx);
        assert_eq!(ms.len(), 1, "{ms:?}");
        assert_eq!(ms[0].path, "big");
        assert_eq!(ms[0].note.as_deref(), Some("the check is false"));
        let bad = node("id: \"${{ nothing.here }}\"\n");
        let ms = compare(&bad, Some(&actual), Mode::Subset, &ctx);
        assert!(
            ms[0]
                .note
                .as_deref()
                .unwrap()
                .starts_with("the expression failed"),
            "{ms:?}"
        );
    }

    #[test]
    fn checks_can_parse_json_text_with_fromjson() {
        // Checks use the workflows' expression environment, filters included.
        let expected = node(
            "Body: \"${{ (value | fromjson).id == 7 }}\"\nOther: \"${{ (value | fromjson).id == 8 }}\"\n",
        );
        let actual = json!({"Body": "{\"id\": 7}", "Other": "{\"id\": 7}"});
        let ms = compare(&expected, Some(&actual), Mode::Subset, &json!({}));
        assert_eq!(ms.len(), 1, "{ms:?}");
        assert_eq!(ms[0].path, "Other");
        assert_eq!(ms[0].note.as_deref(), Some("the check is false"));
    }

    #[test]
    fn long_lines_are_shortened_after_the_fact() {
        let long = Value::String("x".repeat(1000));
        let text = format!("actual: {}\nshort\n", show(&long));
        let shortened = shorten_lines(&text);
        let lines: Vec<&str> = shortened.split('\n').collect();
        assert_eq!(lines.len(), 3, "{shortened}");
        assert_eq!(lines[0].chars().count(), LINE_MAX + 1, "cut with an ellipsis");
        assert_eq!(lines[1], "short");
    }
}
