//! `${{ ... }}` in plain strings and JSON values outside a workflow file: the checks and mock
//! envelopes of test files. Same scanner, same environment (filters such as `fromjson`) and
//! same strict undefined names as workflows; the names visible are whatever `context` holds.
use super::{ENV, error_text, scan};
use serde_json::Value;

/// One piece of a string: literal text or an expression body.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    /// Literal text.
    Text(String),
    /// The body of one `${{ ... }}`, trimmed.
    Expr(String),
}

/// Splits `text` at its `${{ ... }}`s. `Ok(None)` when there is none.
pub fn split(text: &str) -> Result<Option<Vec<Piece>>, String> {
    let found = scan(text).map_err(|e| e.message)?;
    if found.is_empty() {
        return Ok(None);
    }
    let mut pieces = Vec::new();
    let mut last = 0;
    for f in found {
        if f.start > last {
            pieces.push(Piece::Text(text[last..f.start].to_string()));
        }
        pieces.push(Piece::Expr(f.body));
        last = f.end;
    }
    if last < text.len() {
        pieces.push(Piece::Text(text[last..].to_string()));
    }
    Ok(Some(pieces))
}

/// The body when `text` is exactly one `${{ ... }}` (surrounding spaces allowed).
pub fn whole(text: &str) -> Option<String> {
    match split(text.trim()) {
        Ok(Some(mut pieces)) if pieces.len() == 1 => match pieces.remove(0) {
            Piece::Expr(body) => Some(body),
            Piece::Text(_) => None,
        },
        _ => None,
    }
}

/// Checks the syntax of an expression body.
pub fn check(body: &str) -> Result<(), String> {
    super::compile(&ENV, body)
        .map(|_| ())
        .map_err(|e| error_text(&e))
}

/// Evaluates one expression body against `context` (a JSON object of visible names).
pub fn eval_body(body: &str, context: &Value) -> Result<Value, String> {
    let compiled = super::compile(&ENV, body).map_err(|e| error_text(&e))?;
    let result = compiled
        .eval(minijinja::Value::from_serialize(context))
        .map_err(|e| error_text(&e))?;
    if result.is_undefined() {
        return Err("the expression reads something undefined".into());
    }
    super::to_json_bounded(&result)
}

/// Evaluates a string that may hold expressions: one whole expression keeps its JSON type,
/// expressions inside longer text are interpolated. Text without expressions is returned as is.
pub fn eval_string(text: &str, context: &Value) -> Result<Value, String> {
    let Some(pieces) = split(text)? else {
        return Ok(Value::String(text.to_string()));
    };
    if let [Piece::Expr(body)] = pieces.as_slice() {
        return eval_body(body, context);
    }
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(&t),
            Piece::Expr(body) => out.push_str(&super::as_text(&eval_body(&body, context)?)),
        }
    }
    Ok(Value::String(out))
}

/// Evaluates every string inside `value` (mock envelopes).
pub fn eval_value(value: &Value, context: &Value) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) => eval_string(s, context)?,
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| eval_value(v, context))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), eval_value(v, context)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// True when `value` holds a `${{` anywhere.
pub fn has_expressions(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains("${{"),
        Value::Array(items) => items.iter().any(has_expressions),
        Value::Object(map) => map.values().any(has_expressions),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn splits_text_and_expressions() {
        assert_eq!(split("plain").unwrap(), None);
        assert_eq!(
            split("a ${{ x }} b ${{ {'k': 1}['k'] }}").unwrap().unwrap(),
            vec![
                Piece::Text("a ".into()),
                Piece::Expr("x".into()),
                Piece::Text(" b ".into()),
                Piece::Expr("{'k': 1}['k']".into())
            ]
        );
        assert!(split("${{ x").is_err());
        assert!(split("${{  }}").is_err());
        assert_eq!(whole(" ${{ value > 0 }} "), Some("value > 0".into()));
        assert_eq!(whole("id ${{ value }}"), None);
    }

    #[test]
    fn whole_expressions_keep_their_type_and_text_interpolates() {
        let ctx = json!({"params": {"Name": "Acme", "Id": 7}, "value": 3});
        assert_eq!(eval_string("${{ params.Id }}", &ctx).unwrap(), json!(7));
        assert_eq!(eval_string("${{ value > 0 }}", &ctx).unwrap(), json!(true));
        assert_eq!(
            eval_string("n=${{ params.Name }}/${{ params.Id }}", &ctx).unwrap(),
            json!("n=Acme/7")
        );
        assert_eq!(
            eval_value(
                &json!({"Client": {"id": "${{ params.Id }}", "name": "x"}}),
                &ctx
            )
            .unwrap(),
            json!({"Client": {"id": 7, "name": "x"}})
        );
    }

    #[test]
    fn the_workflow_filters_are_available() {
        let ctx = json!({"value": "{\"a\": [1, 2]}"});
        assert_eq!(
            eval_string("${{ (value | fromjson).a | length }}", &ctx).unwrap(),
            json!(2)
        );
        assert!(check("value | fromjson").is_ok());
        assert!(eval_body("'not json' | fromjson", &ctx)
            .unwrap_err()
            .contains("fromjson: not valid JSON"));
    }

    #[test]
    fn undefined_names_and_bad_syntax_are_errors() {
        let ctx = json!({"outputs": {}});
        assert!(eval_body("outputs.missing > 0", &ctx).is_err());
        assert!(check("1 +").is_err());
        assert!(check("outputs.a is defined").is_ok());
        assert_eq!(eval_body("outputs.a is defined", &ctx).unwrap(), json!(false));
    }
}
