//! YAML text -> a small tree where every key and value knows its place in the source.
//!
//! serde-saphyr's `Spanned<T>` gives the positions; we keep our own tree so a model builder
//! can report unknown keys and wrong shapes itself, all at once and each at its place,
//! instead of stopping at serde's first error. Workflows are read with it, and so are the
//! workflow test files of psaflow-workflow-tests.
//!
//! - [`parse`] reads one document into a [`Node`]; unreadable YAML becomes one [`Diagnostic`]
//!   at the place the parser stopped, its wording chosen by a [`FileKind`].
//! - [`Reader`] is what a model builder implements to get the shared shape checks
//!   (unknown keys, "must be a mapping/text/true or false") with positioned diagnostics.
//!
//! YAML 1.2 reading: only `true`/`false` are booleans (`off`, `yes` stay text) and numbers
//! with leading zeros (`0123`) stay text.
use crate::diagnostics::{Diagnostic, Pos};
use psaflow_core::names::suggest;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_saphyr::{Location, Spanned};
use std::fmt;
use std::sync::Arc;

/// A YAML value and its place in the source.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// What the node holds.
    pub kind: Kind,
    /// Where it starts in the source.
    pub pos: Pos,
}

/// What a [`Node`] holds. Integers that do not fit `i64` are read as numbers.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// `null`, `~` or nothing.
    Null,
    /// `true`/`false`.
    Bool(bool),
    /// An integer that fits `i64`.
    Int(i64),
    /// Any other number.
    Float(f64),
    /// A string (plain or quoted).
    Str(String),
    /// A list, in order.
    Seq(Vec<Node>),
    /// Entries in the order they were written.
    Map(Vec<(Key, Node)>),
}

/// A mapping key and its place (the caret covers the whole key).
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// The key's text.
    pub name: String,
    /// Where the key is.
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

    /// The string, when the node is one.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The entries, when the node is a mapping.
    pub fn as_map(&self) -> Option<&[(Key, Node)]> {
        match &self.kind {
            Kind::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The items, when the node is a list.
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

    /// Where a missing key of this mapping is reported: its first key, else the node itself.
    pub fn first_key_pos(&self) -> Pos {
        match self.as_map() {
            Some([(k, _), ..]) => k.pos,
            _ => self.pos,
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

/// How [`parse`] speaks of the kind of file it reads: what an empty file is told, and the
/// help added to a YAML syntax error.
#[derive(Debug, Clone, Copy)]
pub struct FileKind {
    /// The message for an empty file, e.g. `the workflow file is empty`.
    pub empty: &'static str,
    /// The help for an empty file: what such a file needs at least.
    pub empty_help: &'static str,
    /// The help for a syntax error, given the source line where the parser stopped and the
    /// message (`YAML syntax error: ...`); `None` for no help.
    pub syntax_help: fn(line: &str, message: &str) -> Option<String>,
}

/// Workflow files.
pub(crate) const WORKFLOW: FileKind = FileKind {
    empty: "the workflow file is empty",
    empty_help: "a workflow needs at least `name:` and `steps:`",
    syntax_help: workflow_syntax_help,
};

fn workflow_syntax_help(line: &str, _message: &str) -> Option<String> {
    if line.contains("${{") && line.contains('{') {
        Some("an expression inside `{ ... }` or `[ ... ]` must be quoted: Name: \"${{ inputs.name }}\"".to_string())
    } else if line.trim_start().starts_with("${{") || line.contains(": ${{") && line.contains(": ")
    {
        Some(
            "if the value contains `: ` or starts with a special character, put it in quotes"
                .to_string(),
        )
    } else {
        None
    }
}

/// Parses one YAML document (the source is `file` in messages). An empty document or a
/// syntax error becomes one diagnostic, at the place the parser stopped when it says where.
pub fn parse(source: &Arc<str>, file: &str, kind: &FileKind) -> Result<Node, Box<Diagnostic>> {
    if source.trim().is_empty() {
        return Err(Box::new(
            Diagnostic::general(file, kind.empty).with_help(kind.empty_help),
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
        Err(err) => Err(Box::new(syntax_error(source, file, kind, &err))),
    }
}

fn syntax_error(
    source: &Arc<str>,
    file: &str,
    kind: &FileKind,
    err: &serde_saphyr::Error,
) -> Diagnostic {
    if let Some(breach) = budget_breach(err) {
        return Diagnostic::general(file, too_much_yaml(breach)).with_help(
            "a psaflow file is a few hundred lines; remove the anchors (&name) that are \
             repeated through aliases (*name), or split the file",
        );
    }
    if let serde_saphyr::Error::DuplicateMappingKey { key, location } = err.without_snippet() {
        return duplicate_key(source, file, key.as_deref(), location);
    }
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
    // The parser notices a tab only where it ends a scalar (often the line before the tab);
    // point at the tab itself and say why.
    if message.contains("tab")
        && let Some(tab) = indenting_tab(source, pos.line)
    {
        return Diagnostic::at(
            file,
            source,
            tab,
            "YAML syntax error: a tab indents this line".to_string(),
        )
        .with_help("YAML indents with spaces, never tabs: replace the tab with spaces");
    }
    let line_text = source.lines().nth(pos.line.saturating_sub(1)).unwrap_or("");
    let help = (kind.syntax_help)(line_text, &message);
    Diagnostic::at(file, source, pos, message).with_help_opt(help)
}

/// The first tab in a line's indentation, from line `from` (1-based) on.
fn indenting_tab(source: &str, from: usize) -> Option<Pos> {
    let mut offset = 0;
    for (i, line) in source.split_inclusive('\n').enumerate() {
        if i + 1 >= from {
            let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
            if let Some(at) = line[..indent].find('\t') {
                return Some(Pos::at(source, offset + at, 1));
            }
        }
        offset += line.len();
    }
    None
}

/// A key written twice in one mapping: where, and where it was first (found by reading the
/// file again with duplicates passed through, which only this error path pays for).
fn duplicate_key(
    source: &Arc<str>,
    file: &str,
    key: Option<&str>,
    location: &Location,
) -> Diagnostic {
    let mut pos = pos_of(source, location);
    let name = key.map_or_else(|| "this key".to_string(), |k| format!("key '{k}'"));
    let options = serde_saphyr::options! {
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::PassThrough,
    };
    let first = serde_saphyr::from_str_with_options::<Spanned<Raw>>(source, options)
        .ok()
        .and_then(|raw| first_of_duplicate(&convert(source, raw), pos.offset));
    let message = match first {
        Some(first) => format!(
            "{name} appears twice in this mapping (first at line {})",
            first.line
        ),
        None => format!("{name} appears twice in this mapping"),
    };
    if let Some(k) = key {
        pos.len = pos.len.max(k.len());
    }
    pos.len = pos.len.max(1);
    Diagnostic::at(file, source, pos, message)
        .with_help("each key may appear only once in a mapping: remove or rename one of them")
}

/// Where the first of two equal keys is, given the offset of the second.
fn first_of_duplicate(node: &Node, second: usize) -> Option<Pos> {
    match &node.kind {
        Kind::Map(entries) => {
            if let Some(i) = entries.iter().position(|(k, _)| k.pos.offset == second) {
                let name = &entries[i].0.name;
                if let Some((k, _)) = entries[..i].iter().find(|(k, _)| &k.name == name) {
                    return Some(k.pos);
                }
            }
            entries
                .iter()
                .find_map(|(_, v)| first_of_duplicate(v, second))
        }
        Kind::Seq(items) => items.iter().find_map(|v| first_of_duplicate(v, second)),
        _ => None,
    }
}

/// The reading limit the parser stopped at, when it stopped at one (a "billion laughs" file
/// of aliases that expand without end, or one nested or sized beyond any workflow).
fn budget_breach(err: &serde_saphyr::Error) -> Option<&serde_saphyr::budget::BudgetBreach> {
    match err {
        serde_saphyr::Error::Budget { breach, .. } => Some(breach),
        serde_saphyr::Error::AliasError { error, .. }
        | serde_saphyr::Error::WithSnippet { error, .. } => budget_breach(error),
        _ => None,
    }
}

/// What a reading limit means, in words (the parser's own text is its internal state).
fn too_much_yaml(breach: &serde_saphyr::budget::BudgetBreach) -> String {
    use serde_saphyr::budget::BudgetBreach;
    let what = match breach {
        BudgetBreach::Depth { depth } => format!("nests too deeply ({depth} levels)"),
        BudgetBreach::InputBytes { .. } | BudgetBreach::ScalarBytes { .. } => {
            "is too large".to_string()
        }
        _ => "expands to too much data once its aliases (*name) are expanded, or is too large"
            .to_string(),
    };
    format!("the file {what} to be read; psaflow refuses it rather than exhaust memory")
}

/// A builder that reads a [`Node`] tree into a model, collecting every shape problem as a
/// diagnostic at its place instead of stopping at the first. Implement the three accessors;
/// the checks come with them.
pub trait Reader {
    /// The file name diagnostics give.
    fn file(&self) -> &str;
    /// The text the tree was read from.
    fn source(&self) -> &Arc<str>;
    /// Where problems go.
    fn problems(&mut self) -> &mut Vec<Diagnostic>;

    /// A diagnostic at `pos`, or one for the whole file when `pos` is not known.
    fn diag(&self, pos: Pos, message: impl Into<String>) -> Diagnostic {
        if pos.is_known() {
            Diagnostic::at(self.file(), self.source(), pos, message)
        } else {
            Diagnostic::general(self.file(), message)
        }
    }

    /// Records a problem at `pos`.
    fn error(&mut self, pos: Pos, message: impl Into<String>, help: Option<String>) {
        let d = self.diag(pos, message).with_help_opt(help);
        self.problems().push(d);
    }

    /// Records each key of `map` that is not `allowed` (`place` ends the message, e.g.
    /// `in step`), suggesting the closest allowed key or listing them all.
    fn unknown_keys(&mut self, map: &[(Key, Node)], allowed: &[&str], place: &str) {
        for (k, _) in map {
            if !allowed.contains(&k.name.as_str()) {
                let help = match suggest(&k.name, allowed.iter().copied()) {
                    Some(s) => format!("did you mean '{s}'?"),
                    None => format!("allowed keys: {}", allowed.join(", ")),
                };
                self.error(
                    k.pos,
                    format!("unknown key '{}' {place}", k.name),
                    Some(help),
                );
            }
        }
    }

    /// Records that `what` must be `expected` (`text`, `a list`, ...) and says what it is.
    fn wrong_kind(&mut self, node: &Node, what: &str, expected: &str) {
        self.error(
            node.pos,
            format!("`{what}` must be {expected}, found {}", node.kind_name()),
            None,
        );
    }

    /// The entries of a mapping; anything else is a problem.
    fn mapping<'a>(&mut self, node: &'a Node, what: &str) -> Option<&'a [(Key, Node)]> {
        let map = node.as_map();
        if map.is_none() {
            self.wrong_kind(node, what, "a mapping (key: value lines)");
        }
        map
    }

    /// A string, or an integer as its digits; anything else is a problem.
    fn text(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.kind {
            Kind::Str(s) => Some(s.clone()),
            Kind::Int(i) => Some(i.to_string()),
            _ => {
                self.wrong_kind(node, what, "text");
                None
            }
        }
    }

    /// `true` or `false`; anything else is a problem.
    fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        match node.kind {
            Kind::Bool(b) => Some(b),
            _ => {
                self.wrong_kind(node, what, "true or false");
                None
            }
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
    // serde-saphyr hands `!!binary` scalars over as strings; this is for any other bytes.
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Raw, E> {
        Err(E::custom("binary values are not supported"))
    }
}

/// A serde-saphyr position (u64) as the usize [`Pos`] holds; a source that large cannot be
/// loaded on a 32-bit target anyway, so saturating loses nothing real.
fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Where a serde-saphyr location is, as a [`Pos`] (1-based line and char column, byte span).
fn pos_of(source: &str, loc: &Location) -> Pos {
    let span = loc.span();
    if let Some(offset) = span.byte_offset() {
        return Pos::at(
            source,
            to_usize(offset),
            to_usize(span.byte_len().unwrap_or(0)),
        );
    }
    // Fall back to line/column (char based) when no byte offset is known.
    let (line, column) = (to_usize(loc.line()), to_usize(loc.column()));
    if line == 0 {
        return Pos::none();
    }
    let line_start: usize = source
        .split_inclusive('\n')
        .take(line - 1)
        .map(str::len)
        .sum();
    let in_line: usize = source[line_start..]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_have_positions() {
        let src: Arc<str> = "name: x\nsteps:\n  - id: a\n    with: { Id: 5, N: \"5\" }\n".into();
        let node = parse(&src, "f.yaml", &WORKFLOW).unwrap();
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
        let node = parse(&src, "f.yaml", &WORKFLOW).unwrap();
        assert_eq!(
            node.to_json(),
            serde_json::json!({"a": "off", "b": "yes", "c": true, "d": "0123"})
        );
    }

    #[test]
    fn syntax_error_has_position_and_hint_for_unquoted_expression_in_flow_map() {
        let src: Arc<str> =
            "name: x\nsteps:\n  - id: a\n    with: { Name: ${{ inputs.n }} }\n".into();
        let d = parse(&src, "f.yaml", &WORKFLOW).unwrap_err();
        assert_eq!(d.line, 4);
        assert!(d.message.starts_with("YAML syntax error"), "{}", d.message);
        assert!(d.help.unwrap().contains("must be quoted"));
    }

    #[test]
    fn a_tab_is_reported_where_it_is_with_a_hint() {
        let src: Arc<str> = "name: t\nsteps:\n  - id: c\n\tnode: x\n".into();
        let d = parse(&src, "f.yaml", &WORKFLOW).unwrap_err();
        assert_eq!((d.line, d.column), (4, 1), "{}", d.message);
        assert!(d.help.unwrap().contains("spaces"));
    }

    #[test]
    fn a_duplicate_key_names_its_first_place_without_library_advice() {
        let src: Arc<str> = "name: t\nsteps:\n  - id: a\n    node: x\n    id: b\n".into();
        let d = parse(&src, "f.yaml", &WORKFLOW).unwrap_err();
        assert_eq!(
            d.message,
            "key 'id' appears twice in this mapping (first at line 3)"
        );
        assert_eq!((d.line, d.column), (5, 5));
        assert!(!format!("{d:?}").contains("DuplicateKeyPolicy"));
    }

    #[test]
    fn a_billion_laughs_file_is_refused_in_words() {
        let mut src = String::from("a: &a [x, x, x, x, x, x, x, x, x]\n");
        for (name, previous) in "bcdefgh".chars().zip("abcdefg".chars()) {
            let aliases = vec![format!("*{previous}"); 9].join(", ");
            src.push_str(&format!("{name}: &{name} [{aliases}]\n"));
        }
        let d = parse(&src.into(), "bomb.yaml", &WORKFLOW).unwrap_err();
        let message = &d.message;
        assert!(message.contains("expands to too much data"), "{message}");
        assert!(!message.contains("budget"), "{message}");
        assert!(d.help.unwrap().contains("anchors"));
    }
}
