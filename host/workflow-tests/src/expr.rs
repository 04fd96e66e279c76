//! `${{ ... }}` in test files: checks in expectations (`"${{ value > 0 }}"`) and values in
//! mock envelopes (`"${{ params.Name }}"`). The syntax is the workflows' (Jinja expressions
//! through minijinja, undefined names are errors); the names visible differ per place and are
//! listed in the crate docs.
use minijinja::{Environment, UndefinedBehavior, Value as MjValue};
use serde_json::Value;

/// One piece of a string: literal text or an expression body.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Text(String),
    Expr(String),
}

/// Splits `text` at its `${{ ... }}`s. `Ok(None)` when there is none. The closing `}}` is
/// the first one outside quotes and outside `{ }` nesting.
pub fn split(text: &str) -> Result<Option<Vec<Piece>>, String> {
    if !text.contains("${{") {
        return Ok(None);
    }
    let bytes = text.as_bytes();
    let mut pieces = Vec::new();
    let mut rest_start = 0;
    let mut search = 0;
    while let Some(rel) = text[search..].find("${{") {
        let start = search + rel;
        let body_start = start + 3;
        let mut depth = 0usize;
        let mut quote: Option<u8> = None;
        let mut end = None;
        let mut j = body_start;
        while j < bytes.len() {
            let c = bytes[j];
            if let Some(q) = quote {
                if c == b'\\' {
                    j += 1;
                } else if c == q {
                    quote = None;
                }
            } else {
                match c {
                    b'\'' | b'"' => quote = Some(c),
                    b'{' => depth += 1,
                    b'}' if depth > 0 => depth -= 1,
                    b'}' if bytes.get(j + 1) == Some(&b'}') => {
                        end = Some(j);
                        break;
                    }
                    _ => {}
                }
            }
            j += 1;
        }
        let Some(body_end) = end else {
            return Err("`${{` without a matching `}}`".into());
        };
        let body = text[body_start..body_end].trim();
        if body.is_empty() {
            return Err("empty expression `${{ }}`".into());
        }
        if start > rest_start {
            pieces.push(Piece::Text(text[rest_start..start].to_string()));
        }
        pieces.push(Piece::Expr(body.to_string()));
        rest_start = body_end + 2;
        search = rest_start;
    }
    if rest_start < text.len() {
        pieces.push(Piece::Text(text[rest_start..].to_string()));
    }
    Ok(Some(pieces))
}

/// The body when `text` is exactly one `${{ ... }}` (surrounding spaces allowed).
pub fn whole(text: &str) -> Option<String> {
    match split(text.trim()) {
        Ok(Some(pieces)) if pieces.len() == 1 => match &pieces[0] {
            Piece::Expr(body) => Some(body.clone()),
            Piece::Text(_) => None,
        },
        _ => None,
    }
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env
}

thread_local! {
    static ENV: Environment<'static> = environment();
}

/// Checks the syntax of an expression body.
pub fn check(body: &str) -> Result<(), String> {
    ENV.with(|env| {
        env.compile_expression(body)
            .map(|_| ())
            .map_err(|e| describe(&e))
    })
}

/// Evaluates one expression body against `context` (a JSON object of visible names).
pub fn eval(body: &str, context: &Value) -> Result<Value, String> {
    ENV.with(|env| {
        let compiled = env.compile_expression(body).map_err(|e| describe(&e))?;
        let result = compiled
            .eval(MjValue::from_serialize(context))
            .map_err(|e| describe(&e))?;
        if result.is_undefined() {
            return Err("the expression reads something undefined".into());
        }
        serde_json::to_value(&result)
            .map_err(|e| format!("the result cannot be used as a value: {e}"))
    })
}

/// Evaluates a string that may hold expressions: one whole expression keeps its JSON type,
/// expressions inside longer text are interpolated. Text without expressions is returned as is.
pub fn eval_string(text: &str, context: &Value) -> Result<Value, String> {
    let Some(pieces) = split(text)? else {
        return Ok(Value::String(text.to_string()));
    };
    if let [Piece::Expr(body)] = pieces.as_slice() {
        return eval(body, context);
    }
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(&t),
            Piece::Expr(body) => match eval(&body, context)? {
                Value::Null => {}
                Value::String(s) => out.push_str(&s),
                other => out.push_str(&other.to_string()),
            },
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

/// A minijinja error in one line, without its template-location suffix.
fn describe(err: &minijinja::Error) -> String {
    match err.detail() {
        Some(detail) => format!("{}: {detail}", err.kind()),
        None => err.kind().to_string(),
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
    fn undefined_names_and_bad_syntax_are_errors() {
        let ctx = json!({"outputs": {}});
        assert!(eval("outputs.missing > 0", &ctx).is_err());
        assert!(check("1 +").is_err());
        assert!(check("outputs.a is defined").is_ok());
        assert_eq!(eval("outputs.a is defined", &ctx).unwrap(), json!(false));
    }
}
