//! `${{ ... }}` expressions: finding them in YAML values, compiling them with minijinja,
//! and evaluating a value that may mix literal text and expressions.
//!
//! Typing rule (the contract's): a value that is exactly one `${{ }}` keeps the JSON type
//! of the result (number, list, object, bool, null); an expression inside a longer string
//! is interpolated as text.
//!
//! Test files use the same expressions outside a workflow file: see [`text`].
use crate::diagnostics::{Diagnostic, Pos};
use crate::yaml::{Kind, Node};
use minijinja::value::ValueKind;
use minijinja::{Environment, ErrorKind, UndefinedBehavior, Value as MjValue};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;

pub mod text;
mod repetition;
mod walking_filters;

/// One `${{ body }}` occurrence.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// The text between `${{` and `}}`, trimmed. Build another `Expr` (with [`Expr::new`])
    /// for another text: an expression that has been evaluated keeps the form compiled from
    /// this one.
    pub body: String,
    /// Where the `${{ ... }}` is in the file (exact for plain and single-line quoted scalars,
    /// else the start of the value).
    pub pos: Pos,
    /// The body compiled, once (see [`Compiled`]).
    compiled: Compiled,
}

impl Expr {
    /// The expression `body` written at `pos`.
    pub fn new(body: impl Into<String>, pos: Pos) -> Self {
        Self {
            body: body.into(),
            pos,
            compiled: Compiled::default(),
        }
    }

    /// Checks the body's syntax by compiling it; the compiled form is kept for the first
    /// evaluation, so loading a workflow compiles each expression once, not twice.
    pub(crate) fn check_syntax(&self) -> Result<(), minijinja::Error> {
        self.compiled.get(&self.body).map(|_| ())
    }
}

/// An expression's compiled form, made by the load-time syntax check (or at the first
/// evaluation, for an expression made without one) and shared by its clones: a `for_each`
/// evaluates the same `with:` expressions for every item, and compiling one costs more than
/// evaluating it. Not part of what makes two expressions equal.
#[derive(Clone, Default)]
struct Compiled(Arc<std::sync::OnceLock<minijinja::Expression<'static, 'static>>>);

impl Compiled {
    /// The compiled `body` (which this cell belongs to), compiling it now if it is the first
    /// time. A body that does not compile is compiled again at every call (and fails each
    /// time): the load-time check stops such a workflow before it runs.
    fn get(
        &self,
        body: &str,
    ) -> Result<&minijinja::Expression<'static, 'static>, minijinja::Error> {
        if let Some(compiled) = self.0.get() {
            return Ok(compiled);
        }
        let compiled = compile(&ENV, body)?;
        // Two items racing to compile the same expression both succeed; one result is kept.
        Ok(self.0.get_or_init(|| compiled))
    }
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "compiled"
        } else {
            "not yet compiled"
        })
    }
}

impl PartialEq for Compiled {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// A workflow value that may contain expressions.
#[derive(Debug, Clone, PartialEq)]
pub enum Template {
    /// No expression anywhere inside.
    Literal {
        /// The value as written.
        value: Value,
        /// Where it was written.
        pos: Pos,
    },
    /// The whole value is one expression: the result keeps its JSON type.
    Expr(Expr),
    /// A string with expressions inside: the result is a string.
    Interp {
        /// Text and expressions, in order.
        parts: Vec<Part>,
        /// Where the string was written.
        pos: Pos,
    },
    /// A list with an expression somewhere inside: each element is evaluated.
    List {
        /// The elements, in order.
        items: Vec<Template>,
        /// Where the list was written.
        pos: Pos,
    },
    /// A mapping with an expression somewhere inside: each value is evaluated (keys are plain).
    Map {
        /// Keys and values, in the order written.
        entries: Vec<(String, Template)>,
        /// Where the mapping was written.
        pos: Pos,
    },
}

/// One piece of an interpolated string.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// Literal text, copied as is.
    Text(String),
    /// An expression whose result is written into the string.
    Expr(Expr),
}

impl Template {
    /// Where the value was written, for errors about it.
    pub fn pos(&self) -> Pos {
        match self {
            Template::Literal { pos, .. }
            | Template::Interp { pos, .. }
            | Template::List { pos, .. }
            | Template::Map { pos, .. } => *pos,
            Template::Expr(e) => e.pos,
        }
    }

    /// The value when it holds no expression at all.
    pub fn literal(&self) -> Option<&Value> {
        match self {
            Template::Literal { value, .. } => Some(value),
            _ => None,
        }
    }

    /// Every expression inside, in order.
    pub fn exprs(&self) -> Vec<&Expr> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a Expr>) {
        match self {
            Template::Literal { .. } => {}
            Template::Expr(e) => out.push(e),
            Template::Interp { parts, .. } => out.extend(parts.iter().filter_map(|p| match p {
                Part::Expr(e) => Some(e),
                Part::Text(_) => None,
            })),
            Template::List { items, .. } => items.iter().for_each(|i| i.collect(out)),
            Template::Map { entries, .. } => entries.iter().for_each(|(_, t)| t.collect(out)),
        }
    }

    /// The value as written in the file, expressions shown as `${{ body }}` (dry runs, messages).
    pub fn display(&self) -> String {
        match self {
            Template::Literal { value, .. } => value.to_string(),
            Template::Expr(e) => format!("${{{{ {} }}}}", e.body),
            Template::Interp { parts, .. } => {
                let s: String = parts
                    .iter()
                    .map(|p| match p {
                        Part::Text(t) => t.clone(),
                        Part::Expr(e) => format!("${{{{ {} }}}}", e.body),
                    })
                    .collect();
                format!("{s:?}")
            }
            Template::List { items, .. } => {
                format!(
                    "[{}]",
                    items
                        .iter()
                        .map(Template::display)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
            Template::Map { entries, .. } => format!(
                "{{{}}}",
                entries
                    .iter()
                    .map(|(k, v)| format!("{k:?}: {}", v.display()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// A `${{` that is not closed, found while scanning.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ScanError {
    pub offset: usize,
    pub message: String,
}

/// A `${{ ... }}` found in a string: byte range of the whole thing and the trimmed body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Found {
    pub start: usize,
    pub end: usize,
    pub body: String,
}

/// Finds every `${{ ... }}` in `text`. The closing `}}` is the first one outside quotes and
/// outside `{ }` nesting, so `${{ {'a': {'b': 1}} }}` works.
pub(crate) fn scan(text: &str) -> Result<Vec<Found>, ScanError> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(rel) = text[i..].find("${{") {
        let start = i + rel;
        let body_start = start + 3;
        let mut j = body_start;
        let mut depth = 0usize;
        let mut quote: Option<u8> = None;
        let mut end = None;
        while j < bytes.len() {
            let c = bytes[j];
            match quote {
                Some(q) => {
                    if c == b'\\' {
                        j += 1;
                    } else if c == q {
                        quote = None;
                    }
                }
                None => match c {
                    b'\'' | b'"' => quote = Some(c),
                    b'{' => depth += 1,
                    b'}' if depth > 0 => depth -= 1,
                    b'}' if bytes.get(j + 1) == Some(&b'}') => {
                        end = Some(j);
                        break;
                    }
                    _ => {}
                },
            }
            j += 1;
        }
        let Some(body_end) = end else {
            return Err(ScanError {
                offset: start,
                message: "expression is not closed: `${{` without a matching `}}`".into(),
            });
        };
        let body = text[body_start..body_end].trim().to_string();
        if body.is_empty() {
            return Err(ScanError {
                offset: start,
                message: "empty expression `${{ }}`".into(),
            });
        }
        out.push(Found {
            start,
            end: body_end + 2,
            body,
        });
        i = body_end + 2;
    }
    Ok(out)
}

/// Builds a template from a YAML node, reporting unclosed or empty `${{ }}` into `diags`.
pub(crate) fn template_from_node(
    node: &Node,
    source: &Arc<str>,
    file: &str,
    diags: &mut Vec<Diagnostic>,
) -> Template {
    let t = build(node, source, file, diags);
    // Collapse fully literal lists/maps to one literal so validation can type-check them.
    if t.exprs().is_empty() {
        Template::Literal {
            value: node.to_json(),
            pos: node.pos,
        }
    } else {
        t
    }
}

fn build(node: &Node, source: &Arc<str>, file: &str, diags: &mut Vec<Diagnostic>) -> Template {
    match &node.kind {
        Kind::Str(s) => string_template(s, node.pos, source, file, diags),
        Kind::Seq(items) => Template::List {
            items: items
                .iter()
                .map(|i| build(i, source, file, diags))
                .collect(),
            pos: node.pos,
        },
        Kind::Map(entries) => Template::Map {
            entries: entries
                .iter()
                .map(|(k, v)| (k.name.clone(), build(v, source, file, diags)))
                .collect(),
            pos: node.pos,
        },
        _ => Template::Literal {
            value: node.to_json(),
            pos: node.pos,
        },
    }
}

/// Where `needle` (the literal `${{ ... }}` text) is in the scalar's source text, if it
/// appears verbatim there; else the scalar's start.
fn locate(source: &str, scalar: Pos, needle: &str, cursor: &mut usize) -> Pos {
    let end = (scalar.offset + scalar.len).min(source.len());
    if scalar.is_known()
        && let Some(raw) = source.get(scalar.offset..end)
        && let Some(rel) = raw.get(*cursor..).and_then(|r| r.find(needle))
    {
        let at = *cursor + rel;
        *cursor = at + needle.len();
        return Pos::at(source, scalar.offset + at, needle.len());
    }
    scalar
}

pub(crate) fn string_template(
    s: &str,
    pos: Pos,
    source: &Arc<str>,
    file: &str,
    diags: &mut Vec<Diagnostic>,
) -> Template {
    let found = match scan(s) {
        Ok(f) => f,
        Err(e) => {
            let needle = &s[e.offset..(e.offset + 3).min(s.len())];
            let at = locate(source, pos, needle, &mut 0);
            diags.push(
                Diagnostic::at(file, source, at, e.message)
                    .with_help("write expressions as ${{ inputs.name }}; to write a literal `${{`, put it in quotes inside an expression: ${{ '${{' }}"),
            );
            return Template::Literal {
                value: Value::String(s.to_string()),
                pos,
            };
        }
    };
    if found.is_empty() {
        return Template::Literal {
            value: Value::String(s.to_string()),
            pos,
        };
    }
    let mut cursor = 0;
    let mut exprs = Vec::new();
    for f in &found {
        let at = locate(source, pos, &s[f.start..f.end], &mut cursor);
        let expr = Expr::new(f.body.clone(), at);
        if let Err(e) = expr.check_syntax() {
            diags.push(syntax_diagnostic(file, source, &expr, &e));
        }
        exprs.push(expr);
    }
    if found.len() == 1 && found[0].start == 0 && found[0].end == s.len() {
        return Template::Expr(exprs.remove(0));
    }
    let mut parts = Vec::new();
    let mut last = 0;
    for (f, e) in found.iter().zip(exprs) {
        if f.start > last {
            parts.push(Part::Text(s[last..f.start].to_string()));
        }
        parts.push(Part::Expr(e));
        last = f.end;
    }
    if last < s.len() {
        parts.push(Part::Text(s[last..].to_string()));
    }
    Template::Interp { parts, pos }
}

/// A diagnostic for a minijinja syntax error, pointing inside the expression when we can.
pub(crate) fn syntax_diagnostic(
    file: &str,
    source: &Arc<str>,
    expr: &Expr,
    err: &minijinja::Error,
) -> Diagnostic {
    let mut pos = expr.pos;
    // minijinja reports a byte range within the body; the body starts after `${{` and spaces.
    if let Some(range) = err.range()
        && let Some(raw) = source.get(expr.pos.offset..expr.pos.offset + expr.pos.len)
        && raw.starts_with("${{")
        && let Some(body_at) = raw.find(expr.body.as_str())
    {
        let start = (expr.pos.offset + body_at + range.start).min(expr.pos.offset + expr.pos.len);
        pos = Pos::at(source, start, range.len().max(1));
    }
    Diagnostic::at(file, source, pos, format!("expression syntax error in `{}`: {}", expr.body, error_text(err)))
        .with_help("expressions use Jinja syntax, e.g. ${{ steps.client.Client.id }}, ${{ inputs.name | upper }}, ${{ item.agent_id == 4 }}")
}

/// The most one expression's result may hold, at every level together: list items and map
/// entries, and bytes of text. Building more (a `for_each` over `[0] * 1000000000`) would take
/// the host's memory; it is an error naming the limit instead.
pub const MAX_RESULT_ITEMS: usize = 1_000_000;
/// See [`MAX_RESULT_ITEMS`]; the same cap as an API answer.
pub const MAX_RESULT_BYTES: usize = 32 << 20;
/// How deeply a result may nest.
const MAX_RESULT_DEPTH: usize = 128;
/// The work one expression may do (minijinja instructions): far above any real workflow's
/// needs, low enough that a runaway expression stops in well under a second.
pub const EXPRESSION_FUEL: u64 = 5_000_000;

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // Strict: a typo such as `inputs.nmae` is an error, never an empty string.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(EXPRESSION_FUEL));
    // Fuel does not reach inside a filter call: the filters that walk a sequence count it,
    // and every `*` goes through a function that bounds what a repetition makes.
    walking_filters::install(&mut env);
    env.add_function(repetition::FUNCTION, repetition::times);
    env.add_filter(
        "fromjson",
        |text: String| -> Result<MjValue, minijinja::Error> {
            serde_json::from_str::<Value>(&text)
                .map(MjValue::from_serialize)
                .map_err(|e| {
                    minijinja::Error::new(
                        ErrorKind::InvalidOperation,
                        format!("fromjson: not valid JSON: {e}"),
                    )
                })
        },
    );
    env.add_function("days_ago", crate::dates::days_ago);
    // `fail("no agent has that email")`: stops the step with the workflow author's own words,
    // e.g. `x if found else fail("...")`.
    env.add_function(
        "fail",
        |message: String| -> Result<MjValue, minijinja::Error> {
            Err(minijinja::Error::new(ErrorKind::InvalidOperation, message)
                .with_source(AuthorsFailure))
        },
    );
    env
}

/// The expression environment every workflow shares: building one registers all the
/// built-in filters, and its compiled expressions live as long as it (see [`Compiled`]).
static ENV: std::sync::LazyLock<Environment<'static>> = std::sync::LazyLock::new(environment);

/// Compiles an expression body the way psaflow runs it: every `a * b` checked (see
/// `repetition.rs`). Every expression is compiled through here, checks included, since
/// minijinja folds constant operations while compiling.
fn compile<'e>(
    env: &'e Environment<'static>,
    body: &str,
) -> Result<minijinja::Expression<'e, 'static>, minijinja::Error> {
    env.compile_expression_owned(repetition::checked_source(body).into_owned())
}

/// A filter or test an expression uses that does not exist.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Unknown {
    Filter(String),
    Test(String),
}

/// Filters and tests users reach for, for "did you mean" (existence is asked of minijinja).
pub(crate) const KNOWN_FILTERS: &[&str] = &[
    "abs", "attr", "batch", "bool", "capitalize", "count", "default", "dictsort", "escape",
    "first", "float", "fromjson", "groupby", "indent", "int", "items", "join", "last", "length",
    "lines", "list", "lower", "map", "max", "min", "reject", "rejectattr", "replace", "reverse",
    "round", "select", "selectattr", "slice", "sort", "split", "string", "sum", "title", "tojson",
    "trim", "unique", "upper", "urlencode",
];
const KNOWN_TESTS: &[&str] = &[
    "defined", "undefined", "none", "true", "false", "number", "integer", "float", "string",
    "sequence", "mapping", "iterable", "odd", "even", "divisibleby", "eq", "equalto", "ne", "lt",
    "gt", "le", "ge", "in", "startingwith", "endingwith", "containing", "lower", "upper",
    "boolean", "safe", "escaped", "filter", "test",
];

impl Unknown {
    /// The message and the help line for a diagnostic.
    pub(crate) fn explain(&self) -> (String, String) {
        let (kind, name, known) = match self {
            Unknown::Filter(n) => ("filter", n, KNOWN_FILTERS),
            Unknown::Test(n) => ("test", n, KNOWN_TESTS),
        };
        let hint = psaflow_core::names::did_you_mean(name, known.iter().copied());
        (
            format!("unknown {kind} '{name}'{hint}"),
            format!("{kind}s include: {}", known.join(", ")),
        )
    }
}

/// The filters (`x | name`) and tests (`x is name`) an expression names that minijinja does
/// not know. Found by reading the expression's tokens (string literals skipped), so a typo
/// such as `| lenght` is caught before the workflow runs, not when the step is reached.
pub(crate) fn unknown_filters_and_tests(body: &str) -> Vec<Unknown> {
    let mut out = Vec::new();
    for used in filters_and_tests(body) {
        let probe = match &used {
            Unknown::Filter(n) => format!("none | {n}"),
            Unknown::Test(n) => format!("none is {n}"),
        };
        let missing = match ENV.compile_expression(&probe) {
            Ok(e) => matches!(
                e.eval(()),
                Err(err) if matches!(err.kind(), ErrorKind::UnknownFilter | ErrorKind::UnknownTest)
            ),
            Err(err) => matches!(err.kind(), ErrorKind::UnknownFilter | ErrorKind::UnknownTest),
        };
        if missing && !out.contains(&used) {
            out.push(used);
        }
    }
    out
}

/// Every filter and test name used in an expression, in order.
fn filters_and_tests(body: &str) -> Vec<Unknown> {
    // Tokens outside string literals: identifiers and single punctuation characters.
    let mut tokens: Vec<String> = Vec::new();
    let chars: Vec<char> = body.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' || c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            tokens.push("<str>".into());
            i += 1;
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect());
        } else {
            if !c.is_whitespace() {
                tokens.push(c.to_string());
            }
            i += 1;
        }
    }
    let is_ident = |t: &str| t.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_');
    let mut out = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        let prev_is_dot = i > 0 && tokens[i - 1] == ".";
        if t == "|" {
            if let Some(name) = tokens.get(i + 1).filter(|n| is_ident(n)) {
                out.push(Unknown::Filter(name.clone()));
            }
        } else if t == "is" && !prev_is_dot {
            let mut j = i + 1;
            if tokens.get(j).map(String::as_str) == Some("not") {
                j += 1;
            }
            if let Some(name) = tokens.get(j).filter(|n| is_ident(n)) {
                out.push(Unknown::Test(name.clone()));
            }
        }
    }
    out
}

/// The variables an expression reads, as dotted paths (`steps.client.Client.id`, `item`).
pub(crate) fn paths(body: &str) -> Vec<String> {
    match compile(&ENV, body) {
        Ok(e) => e
            .undeclared_variables(true)
            .into_iter()
            .filter(|name| name != repetition::FUNCTION)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The top-level names an expression reads (`steps`, `inputs`, `item`, ...).
pub(crate) fn roots(body: &str) -> BTreeSet<String> {
    paths(body)
        .into_iter()
        .map(|p| p.split('.').next().unwrap_or("").to_string())
        .collect()
}

/// Marks the error of `fail("...")`: its message is the workflow author's, shown as written.
#[derive(Debug)]
struct AuthorsFailure;

impl std::fmt::Display for AuthorsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fail() was called")
    }
}

impl std::error::Error for AuthorsFailure {}

/// A minijinja error as one readable line, without its internal location suffix.
pub(crate) fn error_text(err: &minijinja::Error) -> String {
    let authors = std::error::Error::source(err).is_some_and(|s| s.is::<AuthorsFailure>());
    if authors && let Some(detail) = err.detail() {
        return detail.to_string();
    }
    if err.kind() == ErrorKind::OutOfFuel {
        return format!(
            "the expression does too much work (more than {EXPRESSION_FUEL} steps, psaflow's limit for one expression)"
        );
    }
    let kind = err.kind().to_string();
    match err.detail() {
        Some(detail) => format!("{kind}: {detail}"),
        None => kind,
    }
}

/// An expression's result as JSON, refused when it is larger than [`MAX_RESULT_ITEMS`] /
/// [`MAX_RESULT_BYTES`] or nests deeper than 128 levels. The size is measured first, stopping
/// as soon as a limit is passed, so a huge lazy sequence is never built.
pub(crate) fn to_json_bounded(value: &MjValue) -> Result<Value, String> {
    within_limits(value)?;
    serde_json::to_value(value).map_err(|e| format!("the result cannot be used as a value: {e}"))
}

/// Whether `value`, at every level together, stays within [`MAX_RESULT_ITEMS`] items,
/// [`MAX_RESULT_BYTES`] of text and 128 levels; the list items and map entries it holds, all
/// levels counted. Counts as it goes (a lazy sequence's stated length is not relied on) and
/// stops at the first limit passed.
pub(crate) fn within_limits(value: &MjValue) -> Result<usize, String> {
    let mut size = Size::default();
    size.measure(value, 0)?;
    Ok(size.items)
}

#[derive(Default)]
struct Size {
    items: usize,
    bytes: usize,
}

impl Size {
    fn measure(&mut self, value: &MjValue, depth: usize) -> Result<(), String> {
        if depth > MAX_RESULT_DEPTH {
            return Err(format!(
                "the result nests more than {MAX_RESULT_DEPTH} levels deep (psaflow's limit)"
            ));
        }
        match value.kind() {
            ValueKind::String => self.add_bytes(value.as_str().map_or(0, str::len))?,
            ValueKind::Bytes => self.add_bytes(value.as_bytes().map_or(0, <[u8]>::len))?,
            ValueKind::Seq | ValueKind::Iterable | ValueKind::Map => {
                if let Some(len) = value.len() {
                    self.add_items(len)?;
                    self.items -= len;
                }
                let is_map = value.kind() == ValueKind::Map;
                let entries = value
                    .try_iter()
                    .map_err(|e| format!("the result cannot be used as a value: {}", error_text(&e)))?;
                for entry in entries {
                    self.add_items(1)?;
                    self.measure(&entry, depth + 1)?;
                    if is_map {
                        let item = value.get_item(&entry).unwrap_or_default();
                        self.measure(&item, depth + 1)?;
                    }
                }
            }
            _ => self.add_bytes(8)?,
        }
        Ok(())
    }

    fn add_items(&mut self, n: usize) -> Result<(), String> {
        self.items = self.items.saturating_add(n);
        if self.items > MAX_RESULT_ITEMS {
            return Err(format!(
                "the result has more than {MAX_RESULT_ITEMS} list items or map entries (psaflow's limit for one expression)"
            ));
        }
        Ok(())
    }

    fn add_bytes(&mut self, n: usize) -> Result<(), String> {
        self.bytes = self.bytes.saturating_add(n);
        if self.bytes > MAX_RESULT_BYTES {
            return Err(format!(
                "the result is larger than {} MiB (psaflow's limit for one expression)",
                MAX_RESULT_BYTES >> 20
            ));
        }
        Ok(())
    }
}

/// What `steps.<id>` reads for one step that ran.
#[derive(Clone)]
pub enum StepValue {
    /// A step's envelope, values, or null.
    Value(Value),
    /// A for_each step's items, shared with its report: each item becomes the value
    /// expressions read (its envelope or values) only when an expression reaches it, so a
    /// large step's results are not held a second time.
    Items(Arc<Vec<crate::report::ItemReport>>),
}

impl StepValue {
    fn to_minijinja(&self) -> MjValue {
        match self {
            StepValue::Value(value) => MjValue::from_serialize(value),
            StepValue::Items(items) => MjValue::from_object(ItemsView(items.clone())),
        }
    }
}

/// A for_each step's items as a list for expressions (see [`StepValue::Items`]).
#[derive(Debug)]
struct ItemsView(Arc<Vec<crate::report::ItemReport>>);

impl minijinja::value::Object for ItemsView {
    fn repr(self: &Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        let item = self.0.get(key.as_usize()?)?;
        Some(MjValue::from_serialize(item.context_value()))
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Seq(self.0.len())
    }
}

/// The names an expression can see while a step is evaluated.
#[derive(Debug, Clone)]
pub struct Scope {
    value: MjValue,
    /// Steps whose results do not exist yet (writes a plan did not send): expressions reading
    /// them evaluate to `<steps.x.y>` placeholders instead of failing.
    unknown: Arc<BTreeSet<String>>,
}

impl Scope {
    /// `inputs`, `env` and the envelopes of the `steps` run so far.
    pub fn new(inputs: &Value, env: &Value, steps: &Value) -> Scope {
        let value = MjValue::from_iter([
            ("inputs", MjValue::from_serialize(inputs)),
            ("env", MjValue::from_serialize(env)),
            ("steps", MjValue::from_serialize(steps)),
        ]);
        Scope {
            value,
            unknown: Arc::default(),
        }
    }

    /// `inputs`, `env` and what the steps run so far give, in order (a later entry with the
    /// same id wins).
    pub fn with_steps(inputs: &Value, env: &Value, steps: &[(String, StepValue)]) -> Scope {
        let steps = MjValue::from_iter(steps.iter().map(|(id, v)| (id.clone(), v.to_minijinja())));
        let value = MjValue::from_iter([
            ("inputs", MjValue::from_serialize(inputs)),
            ("env", MjValue::from_serialize(env)),
            ("steps", steps),
        ]);
        Scope {
            value,
            unknown: Arc::default(),
        }
    }

    /// This scope with these steps' results marked as not known (planned writes).
    pub fn with_unknown_steps(mut self, ids: BTreeSet<String>) -> Scope {
        self.unknown = Arc::new(ids);
        self
    }

    /// True when the expression reads the result of a step whose result is not known.
    fn reads_unknown(&self, e: &Expr) -> bool {
        !self.unknown.is_empty()
            && paths(&e.body).iter().any(|p| {
                let mut segs = p.split('.');
                segs.next() == Some("steps") && segs.next().is_some_and(|id| self.unknown.contains(id))
            })
    }

    /// This scope plus `run` (what `on_failure` and `finally` steps know about the run).
    pub fn with_run(&self, run: &Value) -> Scope {
        self.with_entries(vec![(MjValue::from("run"), MjValue::from_serialize(run))])
    }

    fn with_entries(&self, extra: Vec<(MjValue, MjValue)>) -> Scope {
        let mut entries: Vec<(MjValue, MjValue)> = Vec::new();
        if let Ok(keys) = self.value.try_iter() {
            for k in keys {
                let v = self.value.get_item(&k).unwrap_or_default();
                entries.push((k, v));
            }
        }
        entries.extend(extra);
        Scope {
            value: MjValue::from_iter(entries),
            unknown: self.unknown.clone(),
        }
    }

    /// This scope plus `item` and `index` for one for_each item. Cheap: values are shared.
    pub fn with_item(&self, item: &Value, index: usize) -> Scope {
        self.with_item_value(MjValue::from_serialize(item), index)
    }

    fn with_item_value(&self, item: MjValue, index: usize) -> Scope {
        let mut entries: Vec<(MjValue, MjValue)> = Vec::new();
        if let Ok(keys) = self.value.try_iter() {
            for k in keys {
                let v = self.value.get_item(&k).unwrap_or_default();
                entries.push((k, v));
            }
        }
        entries.push((MjValue::from("item"), item));
        entries.push((MjValue::from("index"), MjValue::from(index)));
        Scope {
            value: MjValue::from_iter(entries),
            unknown: self.unknown.clone(),
        }
    }
}

/// An expression that could not be evaluated, and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalError {
    /// What went wrong, with a hint when one helps (`| default('')`).
    pub message: String,
    /// The expression's position.
    pub pos: Pos,
}

/// How to treat expressions that read step results or loop items (which a dry run does not have).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Everything is available: a real run.
    Full,
    /// Expressions reading `steps`, `item` or `index` become `<body>` placeholders.
    Plan,
}

/// Evaluates one expression to JSON.
pub fn eval_expr(expr: &Expr, scope: &Scope) -> Result<Value, EvalError> {
    let value = eval_value(expr, scope)?;
    to_json_bounded(&value).map_err(|why| failed(expr, &why))
}

/// `expr` failed because of `why`: the message names the expression, at its position.
fn failed(expr: &Expr, why: &str) -> EvalError {
    EvalError {
        message: format!("`${{{{ {} }}}}`: {why}", expr.body),
        pos: expr.pos,
    }
}

/// Evaluates one expression, leaving the result as the expression engine's value (which may
/// share what the scope holds).
fn eval_value(expr: &Expr, scope: &Scope) -> Result<MjValue, EvalError> {
    let compiled = expr.compiled.get(&expr.body).map_err(|e| EvalError {
        message: error_text(&e),
        pos: expr.pos,
    })?;
    let result = match compiled.eval(&scope.value) {
        Ok(v) if v.is_undefined() => Err(None),
        Ok(v) => Ok(v),
        Err(e) if e.kind() == ErrorKind::UndefinedError => Err(None),
        Err(e) => Err(Some(error_text(&e))),
    };
    result.map_err(|text| {
        let why = explain_undefined(&expr.body, &scope.value)
            .or(text)
            .unwrap_or_else(|| "a value used in it is undefined".to_string());
        failed(expr, &why)
    })
}

/// A `for_each` list. Its items are handed out one at a time and stay shared with the scope
/// they came from: a list of 100,000 input rows is not copied for the step.
pub struct ItemList(MjValue);

impl ItemList {
    /// How many items.
    pub fn len(&self) -> usize {
        self.0.len().unwrap_or(0)
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A scope for item `index` (see [`Scope::with_item`]).
    pub fn scope_for(&self, scope: &Scope, index: usize) -> Scope {
        let item = self.0.get_item_by_index(index).unwrap_or_default();
        scope.with_item_value(item, index)
    }
}

/// Evaluates a `for_each` template: `Ok(Ok(list))`, or `Ok(Err(value))` when it gives
/// something that is not a list.
pub fn eval_list(t: &Template, scope: &Scope, mode: Mode) -> Result<Result<ItemList, Value>, EvalError> {
    if let Template::Expr(e) = t
        && !((mode == Mode::Plan && needs_run(e)) || scope.reads_unknown(e))
    {
        let value = eval_value(e, scope)?;
        if value.kind() == ValueKind::Seq {
            // Measured like any result, but kept as it is: its items stay shared.
            within_limits(&value).map_err(|why| failed(e, &why))?;
            return Ok(Ok(ItemList(value)));
        }
        let json = to_json_bounded(&value).map_err(|why| failed(e, &why))?;
        return Ok(match json {
            Value::Array(_) => Ok(ItemList(MjValue::from_serialize(&json))),
            other => Err(other),
        });
    }
    Ok(match eval(t, scope, mode)? {
        json @ Value::Array(_) => Ok(ItemList(MjValue::from_serialize(&json))),
        other => Err(other),
    })
}

/// Evaluates a template: literals as written, whole expressions typed, strings interpolated.
pub fn eval(t: &Template, scope: &Scope, mode: Mode) -> Result<Value, EvalError> {
    match t {
        Template::Literal { value, .. } => Ok(value.clone()),
        Template::Expr(e) => {
            if (mode == Mode::Plan && needs_run(e)) || scope.reads_unknown(e) {
                return Ok(Value::String(format!("<{}>", e.body)));
            }
            eval_expr(e, scope)
        }
        Template::Interp { parts, .. } => {
            let mut out = String::new();
            for p in parts {
                match p {
                    Part::Text(s) => out.push_str(s),
                    Part::Expr(e) if (mode == Mode::Plan && needs_run(e)) || scope.reads_unknown(e) => {
                        out.push('<');
                        out.push_str(&e.body);
                        out.push('>');
                    }
                    Part::Expr(e) => out.push_str(&as_text(&eval_expr(e, scope)?)),
                }
            }
            Ok(Value::String(out))
        }
        Template::List { items, .. } => items
            .iter()
            .map(|i| eval(i, scope, mode))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Template::Map { entries, .. } => entries
            .iter()
            .map(|(k, v)| eval(v, scope, mode).map(|v| (k.clone(), v)))
            .collect::<Result<serde_json::Map<_, _>, _>>()
            .map(Value::Object),
    }
}

/// True when an expression reads values that only exist while the workflow runs.
pub(crate) fn needs_run(e: &Expr) -> bool {
    roots(&e.body)
        .iter()
        .any(|r| matches!(r.as_str(), "steps" | "item" | "index"))
}

/// How a value reads when interpolated into a string.
pub fn as_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(_) | Value::Number(_) => v.to_string(),
        Value::Array(_) | Value::Object(_) => v.to_string(),
    }
}

/// The truth of a condition's value, as users expect from Jinja/Python.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Walks the dotted paths an expression reads and says which part is missing, with a
/// suggestion: "steps.client.Client has no field 'idd' (did you mean 'id'?)".
fn explain_undefined(body: &str, root: &MjValue) -> Option<String> {
    for path in paths(body) {
        let segments: Vec<&str> = path.split('.').collect();
        // Functions of the environment (`days_ago`, `fail`, `range`, ...) are not data.
        if ENV.globals().any(|(name, _)| name == segments[0]) {
            continue;
        }
        let mut current = root.clone();
        let mut walked = String::new();
        for (i, seg) in segments.iter().enumerate() {
            let here = if walked.is_empty() {
                seg.to_string()
            } else {
                format!("{walked}.{seg}")
            };
            if current.is_none() {
                let hint = if segments[0] == "steps" && i == 2 {
                    format!(" (step '{}' was skipped or produced nothing)", segments[1])
                } else {
                    String::new()
                };
                return Some(format!(
                    "{walked} is null{hint}, so it has no field '{seg}'"
                ));
            }
            if matches!(current.kind(), minijinja::value::ValueKind::Seq) {
                let n = current.len().unwrap_or(0);
                return Some(format!(
                    "{walked} is a list of {n} item(s), so it has no field '{seg}'; pick one ({walked}[0].{seg}) or use for_each"
                ));
            }
            if !matches!(current.kind(), minijinja::value::ValueKind::Map) {
                return Some(format!(
                    "{walked} is {}, so it has no field '{seg}'",
                    current.kind()
                ));
            }
            let next = current.get_attr(seg).unwrap_or_default();
            if next.is_undefined() {
                let keys: Vec<String> = current
                    .try_iter()
                    .map(|it| it.filter_map(|k| k.as_str().map(str::to_string)).collect())
                    .unwrap_or_default();
                let suggestion = psaflow_core::names::suggest(seg, keys.iter().map(String::as_str))
                    .map(|s| format!(" (did you mean '{s}'?)"))
                    .unwrap_or_default();
                if walked.is_empty() {
                    return Some(format!("unknown name '{seg}'{suggestion}"));
                }
                let listed = if keys.is_empty() {
                    String::new()
                } else if keys.len() <= 12 {
                    format!("; it has: {}", keys.join(", "))
                } else {
                    format!("; it has: {}, ...", keys[..12].join(", "))
                };
                // The missing-field rule: an absent key is an error, never an empty value;
                // say how to make it optional.
                let optional = if matches!(segments[0], "item" | "steps" | "inputs") {
                    format!("; if it may be absent, write `{here} | default(...)`")
                } else {
                    String::new()
                };
                return Some(format!(
                    "{walked} has no field '{seg}'{suggestion}{listed}{optional}"
                ));
            }
            current = next;
            walked = here;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tpl(s: &str) -> (Template, Vec<Diagnostic>) {
        let source: Arc<str> = format!("v: {s}\n").into();
        let pos = Pos::at(&source, 3, s.len());
        let mut diags = Vec::new();
        (
            string_template(s, pos, &source, "f.yaml", &mut diags),
            diags,
        )
    }

    fn scope() -> Scope {
        Scope::new(
            &json!({"name": "Acme", "count": 3, "users": ["a", "b"], "flag": true}),
            &json!({"REGION": "eu"}),
            &json!({"client": {"StatusCode": 200, "Client": {"id": 7, "name": "Acme"}}, "skipped": null}),
        )
    }

    #[test]
    fn an_expression_is_compiled_once_at_load_and_its_clones_share_it() {
        let (Template::Expr(e), diags) = tpl("${{ item * 2 + inputs.count }}") else {
            panic!("not one expression")
        };
        assert!(diags.is_empty(), "{diags:?}");
        // The load-time syntax check compiled it and kept what it compiled.
        let loaded: *const _ = e.compiled.0.get().expect("compiled at load");
        // Cloned, as a workflow's steps are when a run starts.
        let copy = e.clone();
        let base = scope();
        for (item, want) in [(1, 5), (10, 23)] {
            let s = base.with_item(&json!(item), 0);
            assert_eq!(eval_expr(&copy, &s).unwrap(), json!(want));
        }
        assert!(Arc::ptr_eq(&e.compiled.0, &copy.compiled.0));
        assert!(
            std::ptr::eq(copy.compiled.0.get().unwrap(), loaded),
            "evaluating compiled nothing again"
        );
        // An expression made without the check is compiled at its first evaluation.
        let made = Expr::new("item * 3", e.pos);
        assert!(made.compiled.0.get().is_none());
        assert_eq!(eval_expr(&made, &base.with_item(&json!(2), 0)).unwrap(), json!(6));
        assert!(made.compiled.0.get().is_some());
        assert_eq!(
            e,
            Expr::new(e.body.clone(), e.pos),
            "compiling changes no equality"
        );
        // A different body is a different expression, compiled or not.
        assert_ne!(e, made);
    }

    #[test]
    fn fail_stops_with_the_authors_words_and_days_ago_is_a_date() {
        let s = scope();
        let (t, _) = tpl("${{ inputs.name if inputs.count > 5 else fail('too few: ' ~ inputs.count) }}");
        let err = eval(&t, &s, Mode::Full).unwrap_err();
        assert!(err.message.contains("too few: 3"), "{}", err.message);
        assert!(!err.message.contains("invalid operation"), "{}", err.message);
        assert!(!err.message.contains("unknown name"), "{}", err.message);
        let (t, _) = tpl("${{ days_ago(1) < days_ago(0) }}");
        assert_eq!(eval(&t, &s, Mode::Full).unwrap(), json!(true));
    }

    #[test]
    fn scan_finds_nested_braces_and_quotes() {
        let f = scan("a ${{ {'x': {'y': '}}'}} }} b ${{ c }}").unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].body, "{'x': {'y': '}}'}}");
        assert_eq!(f[1].body, "c");
        assert!(scan("${{ a").is_err());
        assert!(scan("${{  }}").is_err());
    }

    #[test]
    fn whole_expression_keeps_json_type() {
        let s = scope();
        for (text, want) in [
            ("${{ inputs.count }}", json!(3)),
            ("${{ inputs.users }}", json!(["a", "b"])),
            ("${{ inputs.flag }}", json!(true)),
            (
                "${{ steps.client.Client }}",
                json!({"id": 7, "name": "Acme"}),
            ),
            ("${{ steps.skipped }}", json!(null)),
            ("${{ inputs.count + 1 }}", json!(4)),
        ] {
            let (t, d) = tpl(text);
            assert!(d.is_empty());
            assert_eq!(eval(&t, &s, Mode::Full).unwrap(), want, "{text}");
        }
    }

    #[test]
    fn expressions_inside_strings_are_interpolated() {
        let (t, _) = tpl(
            "Client ${{ steps.client.Client.id }} of ${{ inputs.name | upper }} ${{ inputs.users | join(',') }}",
        );
        assert_eq!(
            eval(&t, &scope(), Mode::Full).unwrap(),
            json!("Client 7 of ACME a,b")
        );
    }

    #[test]
    fn filters_users_expect() {
        let s = scope();
        for (text, want) in [
            ("${{ inputs.users | length }}", json!(2)),
            ("${{ inputs.name | lower }}", json!("acme")),
            ("${{ inputs.missing | default('x') }}", json!("x")),
            ("${{ inputs.users | tojson }}", json!("[\"a\",\"b\"]")),
            ("${{ '{\"a\": 1}' | fromjson }}", json!({"a": 1})),
        ] {
            let (t, d) = tpl(text);
            assert!(d.is_empty(), "{d:?}");
            assert_eq!(eval(&t, &s, Mode::Full).unwrap(), want, "{text}");
        }
    }

    #[test]
    fn undefined_is_an_error_with_a_suggestion() {
        let (t, _) = tpl("${{ steps.client.Client.idd }}");
        let err = eval(&t, &scope(), Mode::Full).unwrap_err();
        assert!(
            err.message
                .contains("steps.client.Client has no field 'idd' (did you mean 'id'?)"),
            "{}",
            err.message
        );
        let (t, _) = tpl("id ${{ inputs.nmae }}");
        let err = eval(&t, &scope(), Mode::Full).unwrap_err();
        assert!(
            err.message
                .contains("inputs has no field 'nmae' (did you mean 'name'?)"),
            "{}",
            err.message
        );
        let (t, _) = tpl("${{ steps.skipped.Client.id }}");
        let err = eval(&t, &scope(), Mode::Full).unwrap_err();
        assert!(
            err.message
                .contains("steps.skipped is null (step 'skipped' was skipped"),
            "{}",
            err.message
        );
    }

    #[test]
    fn expression_position_is_inside_the_scalar() {
        let (t, _) = tpl("Hello ${{ inputs.name }}");
        let Template::Interp { parts, .. } = t else {
            panic!()
        };
        let Part::Expr(e) = &parts[1] else { panic!() };
        assert_eq!((e.pos.line, e.pos.column), (1, 10));
    }

    #[test]
    fn syntax_errors_are_reported() {
        let (_, d) = tpl("${{ inputs.name + }}");
        assert_eq!(d.len(), 1);
        assert!(
            d[0].message.contains("expression syntax error"),
            "{}",
            d[0].message
        );
        let (_, d) = tpl("${{ inputs.name");
        assert!(d[0].message.contains("not closed"));
    }

    #[test]
    fn plan_mode_leaves_step_references_as_placeholders() {
        let (t, _) = tpl("${{ steps.x.Client.id }}");
        assert_eq!(
            eval(&t, &scope(), Mode::Plan).unwrap(),
            json!("<steps.x.Client.id>")
        );
        let (t, _) = tpl("${{ inputs.name }}-${{ steps.x.y }}");
        assert_eq!(
            eval(&t, &scope(), Mode::Plan).unwrap(),
            json!("Acme-<steps.x.y>")
        );
    }

    #[test]
    fn unknown_filters_and_tests_are_found_without_running() {
        assert_eq!(
            unknown_filters_and_tests("steps.x.Clients.clients | lenght"),
            vec![Unknown::Filter("lenght".into())]
        );
        assert_eq!(
            unknown_filters_and_tests("item.email is emtpy or item.name is not defined"),
            vec![Unknown::Test("emtpy".into())]
        );
        // Text inside string literals is not a filter; known filters and tests pass.
        assert!(unknown_filters_and_tests("'a | b' ~ (x | length) ~ (y | default('z'))").is_empty());
        assert!(unknown_filters_and_tests("x | fromjson | selectattr('a', 'equalto', 1) | list").is_empty());
        assert!(unknown_filters_and_tests("x is none").is_empty());
        let (message, _) = Unknown::Filter("lenght".into()).explain();
        assert!(message.contains("did you mean length"), "{message}");
    }

    #[test]
    fn a_missing_field_says_how_to_make_it_optional() {
        let (t, _) = tpl("${{ item.email }}");
        let s = scope().with_item(&json!({"id": 9}), 0);
        let err = eval(&t, &s, Mode::Full).unwrap_err();
        assert!(
            err.message.contains("item has no field 'email'")
                && err.message.contains("`item.email | default(...)`"),
            "{}",
            err.message
        );
    }

    #[test]
    fn item_scope_adds_item_and_index() {
        let (t, _) = tpl("${{ item.id }}/${{ index }}/${{ inputs.name }}");
        let s = scope().with_item(&json!({"id": 9}), 2);
        assert_eq!(eval(&t, &s, Mode::Full).unwrap(), json!("9/2/Acme"));
    }
}
