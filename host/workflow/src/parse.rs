//! YAML text -> [`Workflow`]. Shape problems (unknown keys, missing `id`, bad durations,
//! a literal client secret, ...) are collected into `Workflow::problems` instead of
//! stopping, so `validate` can report them together with the catalog checks.
/// The most for_each items run at once: each runs its own node instance.
pub const MAX_CONCURRENCY: u64 = 64;

use crate::duration::{MAX_DURATION, duration_from_secs, exceeds_max_duration, format_duration, parse_duration};
use crate::diagnostics::{Diagnostic, Diagnostics, Pos};
use crate::expr::{self, Expr, Template};
use crate::model::*;
use crate::yaml::{self, Key, Kind, Node, Reader};
use psaflow_core::credentials;
use psaflow_core::names::suggest;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "connection",
    "env",
    "inputs",
    "steps",
    "on_failure",
    "finally",
    "outputs",
];
const STEP_KEYS: &[&str] = &[
    "id",
    "name",
    "node",
    "set",
    "with",
    "for_each",
    "concurrency",
    "if",
    "retry",
    "timeout",
    "continue_on_error",
    "confirm",
    "approval",
];
const APPROVAL_KEYS: &[&str] = &["message", "timeout", "on_timeout", "approvers"];
const INPUT_KEYS: &[&str] = &["type", "required", "default", "description"];
const RETRY_KEYS: &[&str] = &[
    "max_attempts",
    "backoff",
    "initial_interval",
    "max_interval",
    "multiplier",
    "retry_on",
];
const CONNECTION_KEYS: &[&str] = &[
    "api_url",
    "auth_url",
    "tenant",
    "client_id",
    "client_secret_env",
    "scope",
];

/// Reads and parses a workflow file.
pub fn load(path: &Path) -> Result<Workflow, Diagnostics> {
    let file = path.display().to_string();
    // Refuse a huge file before reading it into memory.
    if let Ok(meta) = std::fs::metadata(path)
        && meta.len() > MAX_WORKFLOW_BYTES as u64
    {
        return Err(too_large(&file, meta.len()));
    }
    let bytes = std::fs::read(path).map_err(|e| {
        Diagnostics::from(Diagnostic::general(
            &file,
            format!("cannot read the workflow file: {e}"),
        ))
    })?;
    let source = String::from_utf8(bytes)
        .map_err(|e| not_utf8(&file, e.as_bytes(), e.utf8_error().valid_up_to()))?;
    parse(&source, &file)
}

/// A workflow file that is not UTF-8 (often Windows-1252 from an old editor): the line and
/// column of the first byte that is not, and what to do.
fn not_utf8(file_name: &str, bytes: &[u8], bad: usize) -> Diagnostics {
    // The valid text before the bad byte decides the position; the snippet shows the file
    // with bad bytes replaced.
    let before = String::from_utf8_lossy(&bytes[..bad]);
    let source: Arc<str> = String::from_utf8_lossy(bytes).into();
    let pos = Pos::at(&source, before.len(), 1);
    Diagnostics::from(
        Diagnostic::at(
            file_name,
            &source,
            pos,
            format!(
                "the workflow file is not UTF-8 text: byte 0x{:02X} at line {}, column {} is not UTF-8",
                bytes[bad], pos.line, pos.column
            ),
        )
        .with_help("save the file as UTF-8 (most editors offer the encoding in \"Save as\")"),
    )
}

/// The largest workflow psaflow reads. Real workflows are a few kilobytes; a huge file is a
/// mistake (data pasted in) and would cost memory and seconds to read.
pub const MAX_WORKFLOW_BYTES: usize = 4 << 20;

fn too_large(file_name: &str, len: u64) -> Diagnostics {
    Diagnostics::from(
        Diagnostic::general(
            file_name,
            format!(
                "the workflow is {:.1} MiB; psaflow reads workflows of up to {} MiB",
                len as f64 / (1 << 20) as f64,
                MAX_WORKFLOW_BYTES >> 20
            ),
        )
        .with_help(
            "large data belongs in an input file: `--input roster=@roster.csv` with `type: csv`",
        ),
    )
}

/// Parses workflow text. Fails only when the YAML cannot be read or is not a mapping;
/// every other problem is kept in the workflow and reported by [`crate::validate`].
pub fn parse(source: &str, file_name: &str) -> Result<Workflow, Diagnostics> {
    if source.len() > MAX_WORKFLOW_BYTES {
        return Err(too_large(file_name, source.len() as u64));
    }
    let source: Arc<str> = source.into();
    let root =
        yaml::parse(&source, file_name, &yaml::WORKFLOW).map_err(|d| Diagnostics::from(*d))?;
    let mut b = Builder {
        file: file_name.to_string(),
        source: source.clone(),
        problems: Vec::new(),
    };
    let Some(top) = root.as_map() else {
        return Err(b
            .diag(
                root.pos,
                format!(
                    "a workflow must be a mapping with `name:` and `steps:`, found {}",
                    root.kind_name()
                ),
            )
            .into());
    };
    b.unknown_keys(top, TOP_KEYS, "at the top level of the workflow");
    let mut wf = Workflow {
        file: file_name.to_string(),
        source: source.clone(),
        name: Located::new(String::new(), root.pos),
        description: None,
        connection: None,
        env: Vec::new(),
        inputs: Vec::new(),
        steps: Vec::new(),
        on_failure: Vec::new(),
        finally: Vec::new(),
        outputs: Vec::new(),
        problems: Vec::new(),
    };
    match get(top, "name") {
        Some((_, v)) => {
            if let Some(s) = b.text(v, "name") {
                wf.name = Located::new(s, v.pos);
            }
        }
        None => b.problems.push(
            b.diag(root.first_key_pos(), "the workflow has no `name`")
                .with_help("add `name: my-workflow` at the top"),
        ),
    }
    if let Some((_, v)) = get(top, "description") {
        wf.description = b.text(v, "description");
    }
    if let Some((_, v)) = get(top, "connection") {
        wf.connection = b.connection(v);
    }
    if let Some((_, v)) = get(top, "env") {
        let secret_env = wf
            .connection
            .as_ref()
            .and_then(|c| c.client_secret_env.as_deref());
        wf.env = b.env_names(v, secret_env);
    }
    if let Some((_, v)) = get(top, "inputs") {
        wf.inputs = b.inputs(v);
    }
    match get(top, "steps") {
        Some((_, v)) => wf.steps = b.steps(v, "steps", &mut Vec::new()),
        None => b.problems.push(
            b.diag(root.first_key_pos(), "the workflow has no `steps`")
                .with_help("add a `steps:` list; each step has an `id` and a `node`"),
        ),
    }
    // Step ids are unique across the main list and the two hook lists.
    let mut seen: Vec<Located<String>> = wf.steps.iter().map(|s| s.id.clone()).collect();
    if let Some((_, v)) = get(top, "on_failure") {
        wf.on_failure = b.steps(v, "on_failure", &mut seen);
    }
    if let Some((_, v)) = get(top, "finally") {
        wf.finally = b.steps(v, "finally", &mut seen);
    }
    if let Some((_, v)) = get(top, "outputs") {
        wf.outputs = b.outputs(v);
    }
    wf.problems = b.problems;
    Ok(wf)
}

fn get<'a>(map: &'a [(Key, Node)], key: &str) -> Option<(&'a Key, &'a Node)> {
    map.iter().find(|(k, _)| k.name == key).map(|(k, v)| (k, v))
}

/// True for names usable after `steps.` / `inputs.` in an expression.
pub(crate) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The help for a name that is not an [`is_identifier`], with a valid name to use instead.
fn identifier_hint(name: &str) -> String {
    format!(
        "use ASCII letters, digits and _ only, not starting with a digit, e.g. {}",
        identifier_like(name)
    )
}

/// `name` made an identifier: accents dropped from Latin letters, every run of other
/// characters one `_`, and a leading `_` when it would start with a digit.
fn identifier_like(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().map(without_accent) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = match out.trim_matches('_') {
        "" => "name",
        trimmed => trimmed,
    };
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{out}")
    } else {
        out.to_string()
    }
}

/// The ASCII letter an accented Latin letter is written with (`í` → `i`); other characters
/// are returned as they are.
fn without_accent(c: char) -> char {
    const FOLDS: [(&str, char); 14] = [
        ("àáâãäåā", 'a'),
        ("ÀÁÂÃÄÅĀ", 'A'),
        ("èéêëē", 'e'),
        ("ÈÉÊËĒ", 'E'),
        ("ìíîïī", 'i'),
        ("ÌÍÎÏĪ", 'I'),
        ("òóôõöøō", 'o'),
        ("ÒÓÔÕÖØŌ", 'O'),
        ("ùúûüū", 'u'),
        ("ÙÚÛÜŪ", 'U'),
        ("ñ", 'n'),
        ("Ñ", 'N'),
        ("ç", 'c'),
        ("Ç", 'C'),
    ];
    FOLDS
        .iter()
        .find(|(accented, _)| accented.contains(c))
        .map_or(c, |&(_, plain)| plain)
}

struct Builder {
    file: String,
    source: Arc<str>,
    problems: Vec<Diagnostic>,
}

impl Reader for Builder {
    fn file(&self) -> &str {
        &self.file
    }
    fn source(&self) -> &Arc<str> {
        &self.source
    }
    fn problems(&mut self) -> &mut Vec<Diagnostic> {
        &mut self.problems
    }
}

impl Builder {
    fn duration(&mut self, node: &Node, what: &str) -> Option<Duration> {
        let parsed = match &node.kind {
            Kind::Int(i) => duration_from_secs(*i as f64),
            Kind::Float(f) => duration_from_secs(*f),
            Kind::Str(s) => parse_duration(s),
            _ => None,
        };
        let too_long = match &node.kind {
            Kind::Int(i) => *i as f64 > MAX_DURATION.as_secs_f64(),
            Kind::Float(f) => *f > MAX_DURATION.as_secs_f64(),
            Kind::Str(s) => exceeds_max_duration(s),
            _ => false,
        };
        if too_long {
            self.error(
                node.pos,
                format!(
                    "`{what}` is longer than the longest duration psaflow accepts ({})",
                    format_duration(MAX_DURATION)
                ),
                None,
            );
            return None;
        }
        if parsed.is_none() {
            let shown = match &node.kind {
                Kind::Str(s) => format!("'{s}'"),
                _ => node.to_json().to_string(),
            };
            self.error(
                node.pos,
                format!("`{what}` must be a positive duration, found {shown}"),
                Some("write a duration like 500ms, 30s, 2m, or a number of seconds".into()),
            );
        }
        parsed
    }

    fn positive_int(&mut self, node: &Node, what: &str) -> Option<u64> {
        match node.kind {
            Kind::Int(i) if i >= 1 => u64::try_from(i).ok(),
            _ => {
                self.error(
                    node.pos,
                    format!(
                        "`{what}` must be a whole number of at least 1, found {}",
                        node.to_json()
                    ),
                    None,
                );
                None
            }
        }
    }

    fn template(&mut self, node: &Node) -> Template {
        expr::template_from_node(node, &self.source, &self.file, &mut self.problems)
    }

    fn connection(&mut self, node: &Node) -> Option<ConnectionBlock> {
        let map = self.mapping(node, "connection")?;
        let mut c = ConnectionBlock::default();
        for (k, v) in map {
            let lower = k.name.to_lowercase();
            if lower == "client_secret" || lower == "password" || lower == "secret" {
                self.error(
                    k.pos,
                    format!("`connection.{}` must not be written in the workflow file", k.name),
                    Some("put the secret in a HALOPSA_* or PSAFLOW_* environment variable and name it: client_secret_env: HALOPSA_CLIENT_SECRET".into()),
                );
                continue;
            }
            let slot = match k.name.as_str() {
                "api_url" => &mut c.api_url,
                "auth_url" => &mut c.auth_url,
                "tenant" => &mut c.tenant,
                "client_id" => &mut c.client_id,
                "client_secret_env" => &mut c.client_secret_env,
                "scope" => &mut c.scope,
                _ => {
                    let help = match suggest(&k.name, CONNECTION_KEYS.iter().copied()) {
                        Some(s) => format!("did you mean '{s}'?"),
                        None => format!("allowed keys: {}", CONNECTION_KEYS.join(", ")),
                    };
                    self.error(
                        k.pos,
                        format!("unknown key '{}' in connection", k.name),
                        Some(help),
                    );
                    continue;
                }
            };
            let what = format!("connection.{}", k.name);
            *slot = self.text(v, &what);
        }
        Some(c)
    }

    /// `env: [REGION, DEFAULT_AGENT]`: the variables expressions may read. A credential (by
    /// name, or the variable the connection block reads its secret from) may not be listed:
    /// an expression could write it into a ticket or an output, past any masking.
    fn env_names(&mut self, node: &Node, secret_env: Option<&str>) -> Vec<Located<String>> {
        let Kind::Seq(items) = &node.kind else {
            self.error(
                node.pos,
                "`env` must be a list of environment variable names, e.g. env: [REGION, DEFAULT_AGENT]",
                None,
            );
            return Vec::new();
        };
        let mut out: Vec<Located<String>> = Vec::new();
        for item in items {
            let Some(name) = item.as_str() else {
                self.error(
                    item.pos,
                    format!(
                        "`env` entries are variable names, found {}",
                        item.kind_name()
                    ),
                    None,
                );
                continue;
            };
            if !credentials::is_env_name(name) {
                self.error(
                    item.pos,
                    format!("'{name}' is not an environment variable name"),
                    Some("use letters, digits and _ only, not starting with a digit".into()),
                );
                continue;
            }
            if Some(name) == secret_env || credentials::is_credential_variable(name) {
                let why = if Some(name) == secret_env {
                    "it holds the connection's client secret".to_string()
                } else {
                    format!(
                        "its name marks it as a credential (it contains one of {})",
                        credentials::CREDENTIAL_MARKERS.join(", ")
                    )
                };
                self.error(
                    item.pos,
                    format!("`env` cannot list {name}: {why}; workflows cannot read credentials"),
                    Some("psaflow passes credentials to the connection itself; a workflow never needs them. Rename the variable if it is not a credential".into()),
                );
                continue;
            }
            if out.iter().any(|n| n.value == name) {
                self.error(item.pos, format!("`env` lists {name} twice"), None);
                continue;
            }
            out.push(Located::new(name.to_string(), item.pos));
        }
        out
    }

    fn inputs(&mut self, node: &Node) -> Vec<InputDecl> {
        let Some(map) = self.mapping(node, "inputs") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in map {
            if !is_identifier(&k.name) {
                self.error(
                    k.pos,
                    format!("input name '{}' cannot be used in expressions", k.name),
                    Some(identifier_hint(&k.name)),
                );
            }
            let mut decl = InputDecl {
                name: Located::new(k.name.clone(), k.pos),
                ty: InputType::String,
                required: false,
                default: None,
                description: None,
            };
            match &v.kind {
                // `name: string` is a short form for `{ type: string }`.
                Kind::Str(t) => decl.ty = self.input_type(t, v.pos),
                Kind::Null => {}
                Kind::Map(fields) => {
                    let what = format!("in input '{}'", k.name);
                    self.unknown_keys(fields, INPUT_KEYS, &what);
                    if let Some((_, t)) = get(fields, "type")
                        && let Some(name) = self.text(t, "type")
                    {
                        decl.ty = self.input_type(&name, t.pos);
                    }
                    if let Some((_, r)) = get(fields, "required") {
                        decl.required = self.boolean(r, "required").unwrap_or(false);
                    }
                    if let Some((_, d)) = get(fields, "description") {
                        decl.description = self.text(d, "description");
                    }
                    if let Some((_, d)) = get(fields, "default") {
                        let value = d.to_json();
                        if let Err(msg) = crate::inputs::check_type(&value, decl.ty) {
                            self.error(
                                d.pos,
                                format!("default of input '{}': {msg}", k.name),
                                None,
                            );
                        }
                        decl.default = Some(value);
                    }
                }
                _ => self.error(
                    v.pos,
                    format!(
                        "input '{}' must be a mapping like {{ type: string, required: true }}",
                        k.name
                    ),
                    None,
                ),
            }
            out.push(decl);
        }
        out
    }

    fn input_type(&mut self, name: &str, pos: Pos) -> InputType {
        InputType::parse(name).unwrap_or_else(|| {
            let help = match suggest(name, InputType::NAMES) {
                Some(s) => format!("did you mean '{s}'?"),
                None => format!("types: {}", InputType::NAMES.join(", ")),
            };
            self.error(pos, format!("unknown input type '{name}'"), Some(help));
            InputType::String
        })
    }

    /// A list of steps under `key` (`steps`, `on_failure`, `finally`); `earlier` holds the
    /// ids of steps in lists above, so duplicates across lists are found too.
    fn steps(&mut self, node: &Node, key: &str, earlier: &mut Vec<Located<String>>) -> Vec<Step> {
        let Kind::Seq(items) = &node.kind else {
            self.error(
                node.pos,
                format!("`{key}` must be a list, found {}", node.kind_name()),
                Some("start each step with `- id: ...`".into()),
            );
            return Vec::new();
        };
        if items.is_empty() && key == "steps" {
            self.error(
                node.pos,
                "`steps` is empty; a workflow needs at least one step",
                None,
            );
        }
        let mut out: Vec<Step> = Vec::new();
        for item in items {
            let Some(step) = self.step(item) else {
                continue;
            };
            let first = out
                .iter()
                .map(|s| &s.id)
                .chain(earlier.iter())
                .find(|id| id.value == step.id.value && !step.id.value.is_empty())
                .cloned();
            if let Some(first) = first {
                let d = self
                    .diag(
                        step.id.pos,
                        format!("duplicate step id '{}'", step.id.value),
                    )
                    .with_help(format!(
                        "the first step with this id is at line {}; step ids must be unique",
                        first.pos.line
                    ));
                self.problems.push(d);
            }
            out.push(step);
        }
        earlier.extend(out.iter().map(|s| s.id.clone()));
        out
    }

    fn step(&mut self, node: &Node) -> Option<Step> {
        let map = self.mapping(node, "steps[]")?;
        self.unknown_keys(map, STEP_KEYS, "in step");
        let id = match get(map, "id") {
            Some((_, v)) => {
                let s = self.text(v, "id").unwrap_or_default();
                if !s.is_empty() && !is_identifier(&s) {
                    self.error(
                        v.pos,
                        format!("step id '{s}' cannot be used in expressions (steps.{s}...)"),
                        Some(identifier_hint(&s)),
                    );
                }
                Located::new(s, v.pos)
            }
            None => {
                self.error(
                    node.pos,
                    "step has no `id`",
                    Some("add `id: some_name`; later steps refer to it as steps.some_name".into()),
                );
                Located::new(String::new(), node.pos)
            }
        };
        let set = get(map, "set").map(|(_, v)| self.set_values(v));
        let node_id = match get(map, "node") {
            Some((k, _)) if set.is_some() => {
                self.error(
                    k.pos,
                    "a step has either `node:` or `set:`, not both",
                    Some("a `set:` step only computes values; put the node call in its own step".into()),
                );
                Located::new(String::new(), k.pos)
            }
            Some((_, v)) => Located::new(self.text(v, "node").unwrap_or_default(), v.pos),
            None if set.is_some() => Located::new(String::new(), node.pos),
            None => {
                let label = if id.value.is_empty() {
                    String::new()
                } else {
                    format!(" '{}'", id.value)
                };
                self.error(
                    node.pos,
                    format!("step{label} has no `node`"),
                    Some("add e.g. `node: <connector>.<resource>.<operation>` (`psaflow nodes` lists them), or `set:` with named values to compute".into()),
                );
                Located::new(String::new(), node.pos)
            }
        };
        let mut step = Step {
            id,
            name: None,
            node: node_id,
            set,
            with: Vec::new(),
            with_pos: node.pos,
            for_each: None,
            concurrency: 1,
            if_: None,
            retry: None,
            retry_pos: node.pos,
            timeout: None,
            continue_on_error: false,
            confirm: false,
            approval: None,
            pos: node.pos,
        };
        for (k, v) in map {
            match k.name.as_str() {
                "name" => step.name = self.text(v, "name"),
                "with" => {
                    step.with_pos = k.pos;
                    match &v.kind {
                        Kind::Map(params) => {
                            for (pk, pv) in params {
                                let t = self.template(pv);
                                step.with.push((Located::new(pk.name.clone(), pk.pos), t));
                            }
                        }
                        Kind::Null => {}
                        _ => self.error(
                            v.pos,
                            format!(
                                "`with` must be a mapping of parameters, found {}",
                                v.kind_name()
                            ),
                            Some("write one parameter per line: `Name: Acme`".into()),
                        ),
                    }
                }
                "for_each" => step.for_each = Some(self.for_each(v)),
                "concurrency" => {
                    let n = self.positive_int(v, "concurrency").unwrap_or(1);
                    if n > MAX_CONCURRENCY {
                        self.error(
                            v.pos,
                            format!(
                                "`concurrency` is {n}, more than the most psaflow runs at once ({MAX_CONCURRENCY})"
                            ),
                            Some(format!("use at most {MAX_CONCURRENCY}; HaloPSA rate limits make more pointless")),
                        );
                    }
                    step.concurrency = n.min(MAX_CONCURRENCY) as usize
                }
                "if" => step.if_ = Some(self.condition(v)),
                "retry" => {
                    step.retry_pos = k.pos;
                    step.retry = self.retry(v)
                }
                "timeout" => step.timeout = self.duration(v, "timeout"),
                "continue_on_error" => {
                    step.continue_on_error = self.boolean(v, "continue_on_error").unwrap_or(false)
                }
                "confirm" => step.confirm = self.boolean(v, "confirm").unwrap_or(false),
                "approval" => step.approval = self.approval(k.pos, v),
                _ => {}
            }
        }
        Some(step)
    }

    /// `approval: {message, timeout, on_timeout, approvers}`; only `message` is required.
    fn approval(&mut self, pos: Pos, node: &Node) -> Option<Approval> {
        let map = self.mapping(node, "approval")?;
        self.unknown_keys(map, APPROVAL_KEYS, "in approval");
        let mut approval = Approval {
            message: Template::Literal {
                value: serde_json::Value::String(String::new()),
                pos,
            },
            timeout: None,
            on_timeout: OnTimeout::Reject,
            approvers: Vec::new(),
            pos,
        };
        let mut has_message = false;
        for (k, v) in map {
            match k.name.as_str() {
                "message" => {
                    has_message = true;
                    approval.message = self.template(v);
                }
                "timeout" => approval.timeout = self.duration(v, "approval.timeout"),
                "on_timeout" => match v.as_str() {
                    Some("reject") => approval.on_timeout = OnTimeout::Reject,
                    Some("approve") => approval.on_timeout = OnTimeout::Approve,
                    other => {
                        let help = other
                            .and_then(|o| suggest(o, ["reject", "approve"]))
                            .map_or("use reject or approve".to_string(), |s| {
                                format!("did you mean '{s}'?")
                            });
                        self.error(
                            v.pos,
                            format!("unknown on_timeout {}", v.to_json()),
                            Some(help),
                        );
                    }
                },
                "approvers" => match &v.kind {
                    Kind::Seq(names) => {
                        for n in names {
                            if let Some(name) = self.text(n, "approvers[]") {
                                approval.approvers.push(name);
                            }
                        }
                    }
                    _ => self.wrong_kind(v, "approval.approvers", "a list of names"),
                },
                _ => {}
            }
        }
        if !has_message {
            self.error(
                pos,
                "`approval` needs a `message` telling the approver what they approve",
                Some("e.g. approval: { message: \"Delete the stale sites?\", timeout: 72h }".into()),
            );
        }
        Some(approval)
    }

    /// `if:` may be written with or without `${{ }}`.
    fn condition(&mut self, node: &Node) -> Template {
        match &node.kind {
            Kind::Str(s) if !s.contains("${{") => {
                let e = Expr::new(s.trim(), node.pos);
                if let Err(err) = e.check_syntax() {
                    self.problems
                        .push(expr::syntax_diagnostic(&self.file, &self.source, &e, &err));
                }
                Template::Expr(e)
            }
            Kind::Bool(_) | Kind::Str(_) => {
                let t = self.template(node);
                if let Template::Interp { pos, .. } = &t {
                    self.error(
                        *pos,
                        "`if` must be a single expression, not text with expressions inside",
                        Some("write the whole condition inside one ${{ }}, e.g. ${{ item.agent_id == 4 }}".into()),
                    );
                }
                t
            }
            _ => {
                self.error(
                    node.pos,
                    format!("`if` must be a condition, found {}", node.kind_name()),
                    None,
                );
                Template::Literal {
                    value: serde_json::Value::Bool(false),
                    pos: node.pos,
                }
            }
        }
    }

    fn for_each(&mut self, node: &Node) -> Template {
        let t = self.template(node);
        match &t {
            Template::Expr(_) | Template::List { .. } => {}
            Template::Literal {
                value: serde_json::Value::Array(_),
                ..
            } => {}
            Template::Literal {
                value: serde_json::Value::String(s),
                ..
            } => self.error(
                node.pos,
                "`for_each` needs a list or an expression that gives one",
                Some(format!("did you mean ${{{{ {s} }}}}?")),
            ),
            _ => self.error(
                node.pos,
                format!(
                    "`for_each` needs a list or an expression that gives one, found {}",
                    node.kind_name()
                ),
                Some("e.g. for_each: ${{ steps.open.Tickets.tickets }}".into()),
            ),
        }
        t
    }

    fn retry(&mut self, node: &Node) -> Option<RetryPolicy> {
        let map = self.mapping(node, "retry")?;
        self.unknown_keys(map, RETRY_KEYS, "in retry");
        let mut p = RetryPolicy::default();
        let mut max_interval_set = false;
        for (k, v) in map {
            match k.name.as_str() {
                "max_attempts" => {
                    if let Some(n) = self.positive_int(v, "max_attempts") {
                        p.max_attempts = u32::try_from(n).unwrap_or(u32::MAX);
                    }
                }
                "backoff" => match v.as_str() {
                    Some("exponential") => p.backoff = Backoff::Exponential,
                    Some("constant") | Some("fixed") => p.backoff = Backoff::Constant,
                    other => {
                        let help = other
                            .and_then(|o| suggest(o, ["exponential", "constant"]))
                            .map_or("use exponential or constant".to_string(), |s| {
                                format!("did you mean '{s}'?")
                            });
                        self.error(
                            v.pos,
                            format!("unknown backoff {}", v.to_json()),
                            Some(help),
                        );
                    }
                },
                "initial_interval" => {
                    if let Some(d) = self.duration(v, "initial_interval") {
                        p.initial_interval = d;
                    }
                }
                "max_interval" => {
                    if let Some(d) = self.duration(v, "max_interval") {
                        p.max_interval = d;
                        max_interval_set = true;
                    }
                }
                "multiplier" => match v.kind {
                    Kind::Int(i) if i >= 1 => p.multiplier = i as f64,
                    Kind::Float(f) if f >= 1.0 && f.is_finite() => p.multiplier = f,
                    _ => self.error(
                        v.pos,
                        format!(
                            "`multiplier` must be a number of at least 1, found {}",
                            v.to_json()
                        ),
                        None,
                    ),
                },
                "retry_on" => {
                    let items: Vec<&Node> = match &v.kind {
                        Kind::Seq(items) => items.iter().collect(),
                        Kind::Str(_) => vec![v],
                        _ => {
                            self.error(
                                v.pos,
                                "`retry_on` must be a list such as [system, business]",
                                None,
                            );
                            continue;
                        }
                    };
                    p.retry_on.clear();
                    for item in items {
                        match item.as_str() {
                            Some("system") => p.retry_on.push(RetryOn::System),
                            Some("business") => p.retry_on.push(RetryOn::Business),
                            Some("validation") => p.retry_on.push(RetryOn::Validation),
                            Some("unknown_outcome") => p.retry_on.push(RetryOn::UnknownOutcome),
                            other => {
                                let names = ["system", "business", "validation", "unknown_outcome"];
                                let help = other
                                    .and_then(|o| suggest(o, names))
                                    .map_or(
                                        "system (StatusCode 500), business (200 with an ErrorMessage), validation (-1) or unknown_outcome (a change that may or may not have been applied)".to_string(),
                                        |s| format!("did you mean '{s}'?"),
                                    );
                                self.error(
                                    item.pos,
                                    format!("unknown retry_on value {}", item.to_json()),
                                    Some(help),
                                );
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        if max_interval_set && p.max_interval < p.initial_interval {
            let pos = get(map, "max_interval").map_or(node.pos, |(_, v)| v.pos);
            self.error(
                pos,
                "`max_interval` is shorter than `initial_interval`",
                None,
            );
        }
        Some(p)
    }

    /// `set: {name: value-or-expression, ...}`.
    fn set_values(&mut self, node: &Node) -> Vec<(Located<String>, Template)> {
        let Some(map) = self.mapping(node, "set") else {
            return Vec::new();
        };
        if map.is_empty() {
            self.error(
                node.pos,
                "`set` is empty; name at least one value",
                Some("e.g. set: { site_count: ${{ steps.sites.Sites.record_count }} }".into()),
            );
        }
        let mut out = Vec::new();
        for (k, v) in map {
            if !is_identifier(&k.name) {
                self.error(
                    k.pos,
                    format!("value name '{}' cannot be used in expressions", k.name),
                    Some(identifier_hint(&k.name)),
                );
            }
            out.push((Located::new(k.name.clone(), k.pos), self.template(v)));
        }
        out
    }

    fn outputs(&mut self, node: &Node) -> Vec<(Located<String>, Template)> {
        let Some(map) = self.mapping(node, "outputs") else {
            return Vec::new();
        };
        map.iter()
            .map(|(k, v)| (Located::new(k.name.clone(), k.pos), self.template(v)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_not_utf8_names_the_first_bad_byte_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.yaml");
        std::fs::write(&path, b"name: t\nsteps:\n  - id: c # caf\xe9\n").unwrap();
        let d = load(&path).unwrap_err().0.remove(0);
        assert_eq!((d.line, d.column), (3, 16), "{}", d.message);
        assert!(d.message.contains("0xE9"), "{}", d.message);
        assert!(d.help.unwrap().contains("save the file as UTF-8"));
    }

    #[test]
    fn the_suggested_identifier_is_itself_valid() {
        for (name, suggested) in [
            ("título", "titulo"),
            ("bad id!", "bad_id"),
            ("client-name", "client_name"),
            ("2nd step", "_2nd_step"),
            ("!!!", "name"),
            ("日付", "name"),
        ] {
            assert_eq!(identifier_like(name), suggested, "for {name:?}");
            assert!(is_identifier(&identifier_like(name)), "for {name:?}");
        }
    }

    #[test]
    fn a_step_id_that_is_not_an_identifier_gets_a_valid_suggestion() {
        let src = "name: x\ninputs:\n  título: { type: string }\nsteps:\n  - id: bad id!\n    node: halopsa.client.get\n";
        let wf = parse(src, "f.yaml").unwrap();
        let helps: Vec<_> = wf.problems.iter().filter_map(|d| d.help.clone()).collect();
        let suggests = |name: &str| helps.iter().any(|h| h.ends_with(&format!("e.g. {name}")));
        assert!(suggests("titulo") && suggests("bad_id"), "{helps:?}");
        let ascii = helps.iter().all(|h| h.contains("ASCII letters"));
        assert!(ascii, "{helps:?}");
    }

    #[test]
    fn parses_the_contract_example() {
        let src = "name: onboard\ninputs:\n  client_name: { type: string, required: true }\nsteps:\n  - id: client\n    node: halopsa.client.create\n    with:\n      Name: ${{ inputs.client_name }}\n    retry: { max_attempts: 3, backoff: exponential }\n    timeout: 30s\noutputs:\n  client_id: ${{ steps.client.Client.id }}\n";
        let wf = parse(src, "f.yaml").unwrap();
        assert!(wf.problems.is_empty(), "{:?}", wf.problems);
        assert_eq!(wf.name(), "onboard");
        assert_eq!(wf.steps().len(), 1);
        let s = &wf.steps()[0];
        assert_eq!(s.retry.as_ref().unwrap().max_attempts, 3);
        assert_eq!(s.timeout, Some(Duration::from_secs(30)));
        assert!(matches!(s.param("Name"), Some(Template::Expr(_))));
        assert!(wf.inputs()[0].required);
    }
}
