//! Test files as a YAML tree in which every key and value remembers where it was written, so
//! that a failing assertion can name `file:line:column`. serde-saphyr's `Spanned<T>` supplies
//! the locations; the tree is ours so the spec builder can report every shape problem at once.
use psaflow_workflow::{Diagnostic, Pos};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_saphyr::{Location, Spanned};
use std::fmt;
use std::sync::Arc;

/// A YAML value and its place in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: Kind,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

/// A mapping key and its place.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub pos: Pos,
}

impl Node {
    /// How messages name what was written: `a string`, `a list`, ...
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

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            Kind::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The entry `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    /// The value without positions.
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

/// The value as serde-saphyr delivers it, before positions become [`Pos`].
enum Tree {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Tree>>),
    Map(Vec<(Spanned<String>, Spanned<Tree>)>),
}

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TreeVisitor)
    }
}

struct TreeVisitor;

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Tree;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_unit<E>(self) -> Result<Tree, E> {
        Ok(Tree::Null)
    }
    fn visit_none<E>(self) -> Result<Tree, E> {
        Ok(Tree::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Tree, D::Error> {
        Tree::deserialize(d)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Tree, E> {
        Ok(Tree::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Tree, E> {
        Ok(Tree::Int(i))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Tree, E> {
        Ok(match i64::try_from(u) {
            Ok(i) => Tree::Int(i),
            Err(_) => Tree::Float(u as f64),
        })
    }
    fn visit_i128<E>(self, i: i128) -> Result<Tree, E> {
        Ok(match i64::try_from(i) {
            Ok(i) => Tree::Int(i),
            Err(_) => Tree::Float(i as f64),
        })
    }
    fn visit_u128<E>(self, u: u128) -> Result<Tree, E> {
        Ok(match i64::try_from(u) {
            Ok(i) => Tree::Int(i),
            Err(_) => Tree::Float(u as f64),
        })
    }
    fn visit_f64<E>(self, f: f64) -> Result<Tree, E> {
        Ok(Tree::Float(f))
    }
    fn visit_str<E>(self, s: &str) -> Result<Tree, E> {
        Ok(Tree::Str(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Tree, E> {
        Ok(Tree::Str(s))
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Tree, E> {
        Err(E::custom("binary values are not supported in test files"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tree, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Tree>>()? {
            items.push(item);
        }
        Ok(Tree::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tree, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let value = map.next_value::<Spanned<Tree>>()?;
            entries.push((key, value));
        }
        Ok(Tree::Map(entries))
    }
}

/// Where a serde-saphyr location is, as a [`Pos`] (1-based line and char column, byte span).
fn position(source: &str, loc: &Location) -> Pos {
    let span = loc.span();
    if let Some(offset) = span.byte_offset() {
        return Pos::at(
            source,
            offset as usize,
            span.byte_len().unwrap_or(0) as usize,
        );
    }
    let (line, column) = (loc.line() as usize, loc.column() as usize);
    if line == 0 {
        return Pos::none();
    }
    let line_start: usize = source
        .split_inclusive('\n')
        .take(line - 1)
        .map(str::len)
        .sum();
    let in_line: usize = source[line_start.min(source.len())..]
        .chars()
        .take(column.saturating_sub(1))
        .map(char::len_utf8)
        .sum();
    Pos {
        line,
        column,
        offset: line_start + in_line,
        len: 1,
    }
}

fn build(source: &str, tree: Spanned<Tree>) -> Node {
    let pos = position(source, &tree.referenced);
    let kind = match tree.value {
        Tree::Null => Kind::Null,
        Tree::Bool(b) => Kind::Bool(b),
        Tree::Int(i) => Kind::Int(i),
        Tree::Float(f) => Kind::Float(f),
        Tree::Str(s) => Kind::Str(s),
        Tree::Seq(items) => Kind::Seq(items.into_iter().map(|item| build(source, item)).collect()),
        Tree::Map(entries) => Kind::Map(
            entries
                .into_iter()
                .map(|(key, value)| {
                    let mut kpos = position(source, &key.referenced);
                    kpos.len = kpos.len.max(key.value.len());
                    (
                        Key {
                            name: key.value,
                            pos: kpos,
                        },
                        build(source, value),
                    )
                })
                .collect(),
        ),
    };
    Node { kind, pos }
}

/// Parses one YAML document; a syntax error becomes a diagnostic where the parser stopped.
pub fn parse(source: &Arc<str>, file: &str) -> Result<Node, Box<Diagnostic>> {
    if source.trim().is_empty() {
        return Err(Box::new(
            Diagnostic::general(file, "the test file is empty")
                .with_help("a test file needs `workflow:` and a list of `cases:`"),
        ));
    }
    // The same YAML 1.2 reading as workflows: `off`/`yes` and `0123` stay text.
    let options = serde_saphyr::options! {
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
    };
    match serde_saphyr::from_str_with_options::<Spanned<Tree>>(source, options) {
        Ok(tree) => Ok(build(source, tree)),
        Err(err) => {
            let text = err.without_snippet().to_string();
            let message = match text.rfind(" at line ") {
                Some(i) => format!("YAML syntax error: {}", &text[..i]),
                None => format!("YAML syntax error: {text}"),
            };
            let Some(loc) = err.location() else {
                return Err(Box::new(Diagnostic::general(file, message)));
            };
            let mut pos = position(source, &loc);
            pos.len = pos.len.max(1);
            let line = source.lines().nth(pos.line.saturating_sub(1)).unwrap_or("");
            let help = line.contains("${{").then(|| {
                "a value with `${{ ... }}` inside `{ ... }` or `[ ... ]` must be quoted: \"${{ value > 0 }}\"".to_string()
            });
            Err(Box::new(
                Diagnostic::at(file, source, pos, message).with_help_opt(help),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_and_values_know_line_and_column() {
        let src: Arc<str> =
            "workflow: a.yaml\ncases:\n  - name: x\n    expect: { status: failed }\n".into();
        let root = parse(&src, "t.test.yaml").unwrap();
        let cases = root.get("cases").unwrap().as_seq().unwrap();
        let expect = cases[0].get("expect").unwrap();
        let (key, value) = &expect.as_map().unwrap()[0];
        assert_eq!(
            (key.name.as_str(), key.pos.line, key.pos.column),
            ("status", 4, 15)
        );
        assert_eq!((value.pos.line, value.pos.column), (4, 23));
        assert_eq!(value.as_str(), Some("failed"));
    }

    #[test]
    fn yaml_1_1_words_stay_text() {
        let src: Arc<str> = "a: off\nb: 0042\nc: true\nd: 1.5\n".into();
        assert_eq!(
            parse(&src, "t").unwrap().to_json(),
            json!({"a": "off", "b": "0042", "c": true, "d": 1.5})
        );
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let src: Arc<str> =
            "cases:\n  - name: x\n    expect: { outputs: { a: ${{ 1 }} } }\n".into();
        let d = parse(&src, "t.test.yaml").unwrap_err();
        assert_eq!(d.line, 3);
        assert!(d.message.starts_with("YAML syntax error"), "{}", d.message);
        assert!(d.help.unwrap().contains("must be quoted"));
    }
}
