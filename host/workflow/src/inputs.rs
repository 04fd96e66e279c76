//! Workflow inputs given at run time: `name=value` strings (from `--input`) and/or a JSON
//! object. Each is converted by its declared type; defaults fill the rest. `name=@path` reads
//! the value from a file (see [`crate::file_inputs`]).
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::file_inputs::{self, TextError};
use crate::model::{InputDecl, InputType, Workflow};
use psaflow_core::names::suggest;
use serde_json::{Map, Value};
use std::path::Path;

/// Checks a JSON value against an input type; the error says what was expected.
pub(crate) fn check_type(value: &Value, ty: InputType) -> Result<(), String> {
    let ok = match ty {
        InputType::String => value.is_string(),
        InputType::Integer => value.is_i64() || value.is_u64(),
        InputType::Number => value.is_number(),
        InputType::Boolean => value.is_boolean(),
        InputType::List => value.is_array(),
        InputType::Object => value.is_object(),
        InputType::Csv => value
            .as_array()
            .is_some_and(|rows| rows.iter().all(Value::is_object)),
        InputType::Json => true,
    };
    if ok || value.is_null() {
        Ok(())
    } else if ty == InputType::Csv {
        Err(format!(
            "expected CSV rows (a list of objects, or CSV text, or @file.csv), got {}",
            describe(value)
        ))
    } else {
        Err(format!(
            "expected {} {}, got {}",
            article(ty),
            ty.name(),
            describe(value)
        ))
    }
}

fn article(ty: InputType) -> &'static str {
    if matches!(ty, InputType::Integer | InputType::Object) {
        "an"
    } else {
        "a"
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the text {s:?}"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// Converts a command-line string by the declared type.
pub(crate) fn convert(raw: &str, ty: InputType) -> Result<Value, String> {
    let t = raw.trim();
    match ty {
        InputType::String => Ok(Value::String(raw.to_string())),
        InputType::Integer => t
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("expected a whole number like 42, got {raw:?}")),
        InputType::Number => t
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .and_then(|f| match psaflow_core::values::whole_f64(f) {
                Some(whole) => Some(Value::from(whole)),
                None => serde_json::Number::from_f64(f).map(Value::Number),
            })
            .ok_or_else(|| format!("expected a number like 4.5, got {raw:?}")),
        InputType::Boolean => match t.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Ok(Value::Bool(true)),
            "false" | "no" | "0" => Ok(Value::Bool(false)),
            _ => Err(format!(
                "expected true or false (also yes/no or 1/0), got {raw:?}"
            )),
        },
        InputType::List => match serde_json::from_str::<Value>(t) {
            Ok(v @ Value::Array(_)) => Ok(v),
            _ => Err(format!(
                "expected a JSON list like [\"a\", \"b\"], got {raw:?}"
            )),
        },
        InputType::Object => match serde_json::from_str::<Value>(t) {
            Ok(v @ Value::Object(_)) => Ok(v),
            _ => Err(format!(
                "expected a JSON object like {{\"key\": \"value\"}}, got {raw:?}"
            )),
        },
        // Inline CSV text; a JSON list of objects is accepted too.
        InputType::Csv => match serde_json::from_str::<Value>(t) {
            Ok(v @ Value::Array(_)) => check_type(&v, ty).map(|()| v),
            _ => file_inputs::parse_csv(raw).map_err(|e| match e.line {
                0 => e.message,
                line => format!("CSV line {line}: {}", e.message),
            }),
        },
        InputType::Json => file_inputs::json_without_duplicate_keys(t)
            .map_err(|e| format!("expected JSON, got {raw:?} ({e})")),
    }
}

/// A value given as `@path`: the path, or `None` for an ordinary value (`@@x` is the text `@x`).
fn file_reference(text: &str) -> Option<&str> {
    text.strip_prefix('@').filter(|rest| !rest.starts_with('@'))
}

/// `@@x` stands for the literal text `@x`.
fn unescape(text: &str) -> &str {
    if text.starts_with("@@") {
        &text[1..]
    } else {
        text
    }
}

/// Reads the file an input names and converts its content by the input's type. A problem in the
/// file is a diagnostic pinned to the file and line.
#[allow(
    clippy::result_large_err,
    reason = "runs once per input given as a file; boxing the diagnostic buys nothing here"
)]
fn from_file(wf: &Workflow, decl: &InputDecl, path: &str, base: &Path) -> Result<Value, Diagnostic> {
    let name = &decl.name.value;
    let full = base.join(path);
    let text = file_inputs::read_text(&full).map_err(|e| bad_value(wf, decl, e.message))?;
    let parsed: Result<Value, TextError> = match decl.ty {
        InputType::Csv => file_inputs::parse_csv(&text),
        InputType::Json => file_inputs::parse_json(&text),
        InputType::String => Ok(Value::String(text.clone())),
        ty => convert(&text, ty).map_err(|m| TextError { line: 0, message: m }),
    };
    parsed.map_err(|e| e.diagnostic(path, &text, name))
}

fn unknown(wf: &Workflow, name: &str) -> Diagnostic {
    let names: Vec<&str> = wf.inputs.iter().map(|i| i.name.value.as_str()).collect();
    let help = match suggest(name, names.iter().copied()) {
        Some(s) => format!("did you mean '{s}'?"),
        None if names.is_empty() => "this workflow declares no inputs".to_string(),
        None => format!("declared inputs: {}", names.join(", ")),
    };
    Diagnostic::general(&wf.file, format!("unknown input '{name}'")).with_help(help)
}

fn bad_value(wf: &Workflow, decl: &InputDecl, msg: String) -> Diagnostic {
    Diagnostic::general(&wf.file, format!("input '{}': {msg}", decl.name.value)).with_help(format!(
        "'{}' is declared at line {} as {}",
        decl.name.value,
        decl.name.pos.line,
        decl.ty.name()
    ))
}

/// Turns caller-given inputs into the `inputs` object expressions see. Unknown names,
/// values of the wrong type and missing required inputs are all reported together.
/// Optional inputs without a value or default are `null` (so `inputs.x` is defined).
/// `name=@path` files are read relative to the current directory.
pub fn resolve_inputs(
    wf: &Workflow,
    raw: &[(String, String)],
    json: Option<Map<String, Value>>,
) -> Result<Map<String, Value>, Diagnostics> {
    resolve_inputs_in(wf, raw, json, Path::new(""))
}

/// [`resolve_inputs`] with files (`name=@path` on the command line; a JSON string `"@path"` for
/// an input of type csv or json, as test cases write them) read relative to `base`.
pub fn resolve_inputs_in(
    wf: &Workflow,
    raw: &[(String, String)],
    json: Option<Map<String, Value>>,
    base: &Path,
) -> Result<Map<String, Value>, Diagnostics> {
    let mut diags = Diagnostics::new();
    let mut given: Map<String, Value> = Map::new();
    // Inputs given with a value that failed: already reported, so not "required but not given".
    let mut failed: Vec<String> = Vec::new();
    for (name, value) in json.into_iter().flatten() {
        let Some(decl) = wf.inputs.iter().find(|d| d.name.value == name) else {
            diags.push(unknown(wf, &name));
            continue;
        };
        let value = match (&value, decl.ty) {
            (Value::String(text), InputType::Csv | InputType::Json) => {
                match file_reference(text) {
                    Some(path) => from_file(wf, decl, path, base),
                    None if decl.ty == InputType::Csv => {
                        convert(unescape(text), decl.ty).map_err(|m| bad_value(wf, decl, m))
                    }
                    None => Ok(value.clone()),
                }
            }
            _ => check_type(&value, decl.ty)
                .map(|()| value.clone())
                .map_err(|m| bad_value(wf, decl, m)),
        };
        match value {
            Ok(v) => {
                given.insert(name, v);
            }
            Err(d) => {
                diags.push(d);
                failed.push(name);
            }
        }
    }
    // `name=value` pairs override JSON (the command line is the more specific source).
    for (name, text) in raw {
        let Some(decl) = wf.inputs.iter().find(|d| &d.name.value == name) else {
            diags.push(unknown(wf, name));
            continue;
        };
        let value = match file_reference(text) {
            Some(path) => from_file(wf, decl, path, base),
            None => convert(unescape(text), decl.ty).map_err(|m| bad_value(wf, decl, m)),
        };
        match value {
            Ok(v) => {
                given.insert(name.clone(), v);
            }
            Err(d) => {
                diags.push(d);
                failed.push(name.clone());
            }
        }
    }
    let mut out = Map::new();
    for decl in &wf.inputs {
        let name = &decl.name.value;
        let value = match given.remove(name) {
            Some(v) => v,
            None if failed.contains(name) => continue,
            None => match (&decl.default, decl.required) {
                (Some(d), _) => d.clone(),
                (None, true) => {
                    let example = match decl.ty {
                        InputType::String => "text",
                        InputType::Integer => "42",
                        InputType::Number => "4.5",
                        InputType::Boolean => "true",
                        InputType::List => "'[\"a\",\"b\"]'",
                        InputType::Object => "'{\"key\":\"value\"}'",
                        InputType::Csv => "@file.csv",
                        InputType::Json => "@file.json",
                    };
                    let d = wf
                        .diag(
                            decl.name.pos,
                            format!("input '{name}' is required but was not given"),
                        )
                        .with_help(format!("pass --input {name}={example}"));
                    diags.push(d);
                    continue;
                }
                (None, false) => Value::Null,
            },
        };
        out.insert(name.clone(), value);
    }
    diags.into_result().map(|()| out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn wf() -> Workflow {
        crate::parse(
            "name: t\ninputs:\n  client_name: { type: string, required: true }\n  count: { type: integer, default: 2 }\n  ratio: number\n  vip: { type: boolean }\n  users: { type: list, default: [] }\n  extra: { type: object }\nsteps:\n  - id: a\n    node: x.y\n",
            "wf.yaml",
        )
        .unwrap()
    }

    fn raw(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn converts_by_type_and_applies_defaults() {
        let got = resolve_inputs(
            &wf(),
            &raw(&[
                ("client_name", "Acme"),
                ("ratio", "1.5"),
                ("vip", "true"),
                ("extra", "{\"a\":1}"),
            ]),
            None,
        )
        .unwrap();
        assert_eq!(
            Value::Object(got),
            json!({"client_name": "Acme", "count": 2, "ratio": 1.5, "vip": true, "users": [], "extra": {"a": 1}})
        );
    }

    #[test]
    fn json_inputs_are_type_checked() {
        let mut m = Map::new();
        m.insert("client_name".into(), json!("Acme"));
        m.insert("count".into(), json!("three"));
        let err = resolve_inputs(&wf(), &[], Some(m)).unwrap_err();
        assert_eq!(err.len(), 1);
        assert_eq!(
            err.0[0].message,
            "input 'count': expected an integer, got the text \"three\""
        );
    }

    #[test]
    fn reports_every_problem() {
        let err = resolve_inputs(
            &wf(),
            &raw(&[("count", "abc"), ("client_nme", "x"), ("vip", "maybe")]),
            None,
        )
        .unwrap_err();
        let msgs: Vec<_> = err
            .iter()
            .map(|d| (d.message.clone(), d.help.clone()))
            .collect();
        assert!(
            msgs.contains(&(
                "unknown input 'client_nme'".into(),
                Some("did you mean 'client_name'?".into())
            )),
            "{msgs:?}"
        );
        assert!(
            msgs.iter()
                .any(|(m, _)| m == "input 'count': expected a whole number like 42, got \"abc\""),
            "{msgs:?}"
        );
        let vip = "input 'vip': expected true or false (also yes/no or 1/0), got \"maybe\"";
        assert!(msgs.iter().any(|(m, _)| m == vip), "{msgs:?}");
        let missing = err.iter().find(|d| d.message.contains("required")).unwrap();
        assert_eq!((missing.line, missing.column), (3, 3));
        assert_eq!(
            missing.help.as_deref(),
            Some("pass --input client_name=text")
        );
    }

    fn roster_wf() -> Workflow {
        crate::parse(
            "name: t\ninputs:\n  roster: { type: csv, required: true }\n  extra: { type: json }\n  note: string\nsteps:\n  - id: a\n    node: x.y\n",
            "wf.yaml",
        )
        .unwrap()
    }

    #[test]
    fn files_are_read_by_the_declared_type() {
        let dir = std::env::temp_dir().join(format!("psaflow-inputs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("hr.csv"), "name,email\r\nAda,ada@x.example\r\n").unwrap();
        std::fs::write(dir.join("extra.json"), "{\"a\": [1, 2]}").unwrap();
        std::fs::write(dir.join("note.txt"), "hello\n").unwrap();
        let got = resolve_inputs_in(
            &roster_wf(),
            &raw(&[("roster", "@hr.csv"), ("extra", "@extra.json"), ("note", "@note.txt")]),
            None,
            &dir,
        )
        .unwrap();
        assert_eq!(
            Value::Object(got),
            json!({"roster": [{"name": "Ada", "email": "ada@x.example"}], "extra": {"a": [1, 2]}, "note": "hello\n"})
        );
        // Test cases give files as "@path" strings, and CSV inline.
        let mut m = Map::new();
        m.insert("roster".into(), json!("@hr.csv"));
        let got = resolve_inputs_in(&roster_wf(), &[], Some(m), &dir).unwrap();
        assert_eq!(got["roster"][0]["name"], "Ada");
        let mut m = Map::new();
        m.insert("roster".into(), json!("name,email\nBo,bo@x.example\n"));
        let got = resolve_inputs_in(&roster_wf(), &[], Some(m), &dir).unwrap();
        assert_eq!(got["roster"], json!([{"name": "Bo", "email": "bo@x.example"}]));
        // `@@` is a literal @.
        let got = resolve_inputs_in(
            &roster_wf(),
            &raw(&[("roster", "@hr.csv"), ("note", "@@handle")]),
            None,
            &dir,
        )
        .unwrap();
        assert_eq!(got["note"], "@handle");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_files_name_the_file_and_line() {
        let dir = std::env::temp_dir().join(format!("psaflow-inputs-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("hr.csv"), "name,email\nAda,ada@x\nBo\n").unwrap();
        let err = resolve_inputs_in(&roster_wf(), &raw(&[("roster", "@hr.csv")]), None, &dir)
            .unwrap_err();
        assert_eq!(err.len(), 1);
        assert_eq!(err.0[0].location(), "hr.csv:3:1");
        assert_eq!(
            err.0[0].message,
            "input 'roster': this row has 1 cells but the header has 2 (name, email)"
        );
        let err = resolve_inputs_in(&roster_wf(), &raw(&[("roster", "@nope.csv")]), None, &dir)
            .unwrap_err();
        assert!(err.0[0].message.contains("cannot read"), "{}", err.0[0].message);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
