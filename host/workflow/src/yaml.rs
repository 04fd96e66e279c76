//! YAML text -> a small tree where every key and value knows its place in the source.
//! serde-saphyr's `Spanned<T>` gives the positions; we keep our own tree so the model
//! builder can report unknown keys and wrong shapes itself, all at once, instead of
//! stopping at serde's first error.
use crate::diagnostics::{Diagnostic, Pos};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_saphyr::Spanned;
use std::fmt;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub kind: Kind,
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

#[derive(Debug, Clone)]
pub(crate) struct Key {
    pub name: String,
    pub pos: Pos,
}

impl Node {
    /// What the user wrote, for messages: `a string`, `a list`, ...
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "nothing (null)",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) => "an integer",
            Kind::Float(_) => "a number",
            Kind::Str(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Key, Node)]> {
        match &self.kind {
            Kind::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The plain JSON value (no positions).
    pub fn to_json(&self) -> Value {
        match &self.kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Int(i) => Value::from(*i),
            Kind::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Kind::Str(s) => Value::String(s.clone()),
            Kind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Kind::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// What serde-saphyr hands us before positions are converted.
enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<String>, Spanned<Raw>)>),
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
        Raw::deserialize(d)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Raw, E> {
        Ok(Raw::Int(i))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Raw, E> {
        Ok(i64::try_from(u).map_or(Raw::Float(u as f64), Raw::Int))
    }
    fn visit_i128<E>(self, i: i128) -> Result<Raw, E> {
        Ok(i64::try_from(i).map_or(Raw::Float(i as f64), Raw::Int))
    }
    fn visit_u128<E>(self, u: u128) -> Result<Raw, E> {
        Ok(i64::try_from(u).map_or(Raw::Float(u as f64), Raw::Int))
    }
    fn visit_f64<E>(self, f: f64) -> Result<Raw, E> {
        Ok(Raw::Float(f))
    }
    fn visit_str<E>(self, s: &str) -> Result<Raw, E> {
        Ok(Raw::Str(s.to_string()))
    }
    fn visit_string<E>(self, s: String) -> Result<Raw, E> {
        Ok(Raw::Str(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = a.next_element()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = a.next_key::<Spanned<String>>()? {
            let value = a.next_value()?;
            entries.push((key, value));
        }
        Ok(Raw::Map(entries))
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Raw, E> {
        Err(E::custom("binary values are not supported in workflows"))
    }
}

fn pos_of(source: &str, loc: &serde_saphyr::Location) -> Pos {
    let span = loc.span();
    match span.byte_offset() {
        Some(off) => Pos::at(source, off as usize, span.byte_len().unwrap_or(0) as usize),
        None => {
            // Fall back to line/column (char based) when no byte offset is known.
            let line = loc.line() as usize;
            let col = loc.column() as usize;
            let line_start: usize = source
                .split_inclusive('\n')
                .take(line.saturating_sub(1))
                .map(str::len)
                .sum();
            let off = line_start
                + source[line_start..]
                    .chars()
                    .take(col.saturating_sub(1))
                    .map(char::len_utf8)
                    .sum::<usize>();
            Pos {
                line,
                column: col,
                offset: off,
                len: 1,
            }
        }
    }
}

fn convert(source: &str, raw: Spanned<Raw>) -> Node {
    let pos = pos_of(source, &raw.referenced);
    let kind = match raw.value {
        Raw::Null => Kind::Null,
        Raw::Bool(b) => Kind::Bool(b),
        Raw::Int(i) => Kind::Int(i),
        Raw::Float(f) => Kind::Float(f),
        Raw::Str(s) => Kind::Str(s),
        Raw::Seq(items) => Kind::Seq(items.into_iter().map(|i| convert(source, i)).collect()),
        Raw::Map(entries) => Kind::Map(
            entries
                .into_iter()
                .map(|(k, v)| {
                    let mut kpos = pos_of(source, &k.referenced);
                    kpos.len = kpos.len.max(k.value.len());
                    (
                        Key {
                            name: k.value,
                            pos: kpos,
                        },
                        convert(source, v),
                    )
                })
                .collect(),
        ),
    };
    Node { kind, pos }
}

/// Parses one YAML document. A syntax error becomes a diagnostic at the place the parser stopped.
pub(crate) fn parse(source: &Arc<str>, file: &str) -> Result<Node, Box<Diagnostic>> {
    if source.trim().is_empty() {
        return Err(Box::new(
            Diagnostic::general(file, "the workflow file is empty")
                .with_help("a workflow needs at least `name:` and `steps:`"),
        ));
    }
    // YAML 1.2 booleans only: `id: off` or `Name: yes` stay text (the "Norway problem"),
    // and `0123` (a phone number, a postcode) stays text instead of becoming 123.
    let options = serde_saphyr::options! {
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
    };
    match serde_saphyr::from_str_with_options::<Spanned<Raw>>(source, options) {
        Ok(raw) => Ok(convert(source, raw)),
        Err(err) => Err(Box::new(syntax_error(source, file, &err))),
    }
}

fn syntax_error(source: &Arc<str>, file: &str, err: &serde_saphyr::Error) -> Diagnostic {
    let text = err.without_snippet().to_string();
    // The parser appends "at line N, column M"; we show the position ourselves.
    let message = match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    let message = format!("YAML syntax error: {message}");
    let Some(loc) = err.location() else {
        return Diagnostic::general(file, message);
    };
    let mut pos = pos_of(source, &loc);
    pos.len = pos.len.max(1);
    let line_text = source.lines().nth(pos.line.saturating_sub(1)).unwrap_or("");
    let help = if line_text.contains("${{") && line_text.contains('{') {
        Some("an expression inside `{ ... }` or `[ ... ]` must be quoted: Name: \"${{ inputs.name }}\"".to_string())
    } else if line_text.trim_start().starts_with("${{")
        || line_text.contains(": ${{") && line_text.contains(": ")
    {
        Some(
            "if the value contains `: ` or starts with a special character, put it in quotes"
                .to_string(),
        )
    } else if message.contains("duplicate mapping key") {
        Some("each key may appear only once in a mapping".to_string())
    } else {
        None
    };
    Diagnostic::at(file, source, pos, message).with_help_opt(help)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_have_positions() {
        let src: Arc<str> = "name: x\nsteps:\n  - id: a\n    with: { Id: 5, N: \"5\" }\n".into();
        let node = parse(&src, "f.yaml").unwrap();
        let Kind::Map(top) = &node.kind else { panic!() };
        assert_eq!(
            (
                top[1].0.name.as_str(),
                top[1].0.pos.line,
                top[1].0.pos.column
            ),
            ("steps", 2, 1)
        );
        let Kind::Seq(steps) = &top[1].1.kind else {
            panic!()
        };
        let Kind::Map(step) = &steps[0].kind else {
            panic!()
        };
        let Kind::Map(with) = &step[1].1.kind else {
            panic!()
        };
        assert_eq!((with[0].1.pos.line, with[0].1.pos.column), (4, 17));
        assert!(matches!(with[0].1.kind, Kind::Int(5)));
        assert!(
            matches!(&with[1].1.kind, Kind::Str(s) if s == "5"),
            "quoted stays a string"
        );
    }

    #[test]
    fn yaml_1_1_booleans_and_leading_zeros_stay_text() {
        let src: Arc<str> = "a: off\nb: yes\nc: true\nd: 0123\n".into();
        let node = parse(&src, "f.yaml").unwrap();
        assert_eq!(
            node.to_json(),
            serde_json::json!({"a": "off", "b": "yes", "c": true, "d": "0123"})
        );
    }

    #[test]
    fn syntax_error_has_position_and_hint_for_unquoted_expression_in_flow_map() {
        let src: Arc<str> =
            "name: x\nsteps:\n  - id: a\n    with: { Name: ${{ inputs.n }} }\n".into();
        let d = parse(&src, "f.yaml").unwrap_err();
        assert_eq!(d.line, 4);
        assert!(d.message.starts_with("YAML syntax error"), "{}", d.message);
        assert!(d.help.unwrap().contains("must be quoted"));
    }
}
