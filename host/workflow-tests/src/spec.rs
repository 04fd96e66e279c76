//! A test file, read into plain data with positions. Shape problems (unknown keys, wrong
//! types, bad durations) are collected, per case where they belong to one, so a broken case
//! fails with every problem listed while the other cases of the file still run.
use psaflow_workflow::expr::text as expr;
use crate::yaml::{self, Key, Kind, Node, Reader};
use psaflow_core::names::suggest;
use psaflow_halopsa_sandbox::Entity;
use psaflow_workflow::{Diagnostic, Located, Pos};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::shape::{self, DECISIONS, ENTITY_NAMES, RUN_STATUSES, STEP_STATUSES, Shape};

/// `client`, `Clients`, `ticket-type`, ... -> the sandbox entity.
pub fn entity(name: &str) -> Option<Entity> {
    Entity::from_name(name)
}

/// A parsed `*.test.yaml`.
#[derive(Debug, Clone)]
pub struct TestFile {
    pub path: PathBuf,
    /// The path as shown in messages.
    pub display: String,
    pub source: Arc<str>,
    /// `name:`, else the file name.
    pub name: String,
    /// `workflow:` as written (relative to the test file).
    pub workflow: Option<Located<String>>,
    pub cases: Vec<CaseSpec>,
    /// Problems of the file as a whole; when any, no case runs.
    pub problems: Vec<Diagnostic>,
}

impl TestFile {
    /// The workflow file, resolved against the test file's folder.
    pub fn workflow_path(&self) -> Option<PathBuf> {
        let wf = self.workflow.as_ref()?;
        let dir = self.path.parent().unwrap_or(Path::new(""));
        Some(tidy(&dir.join(&wf.value)))
    }
}

/// `a/b/../c` -> `a/c`, without touching the file system (messages show the path as written).
fn tidy(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out: Vec<Component> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir if !out.is_empty() => {}
            Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.is_empty() {
        PathBuf::from(".")
    } else {
        out.iter().collect()
    }
}

/// One entry of `cases:`.
#[derive(Debug, Clone)]
pub struct CaseSpec {
    pub name: String,
    pub pos: Pos,
    /// `skip: true` or `skip: reason`: reported as skipped, not run.
    pub skip: Option<String>,
    pub inputs: Map<String, Value>,
    pub inputs_pos: Pos,
    pub env: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, String>,
    /// `sandbox:` as written; `None` when absent (a default sandbox is started on demand).
    pub sandbox: Option<SandboxSpec>,
    pub mocks: Vec<MockSpec>,
    /// `approvals: {step_id: approve | reject}`: decisions for steps with `approval:`; a
    /// step without one makes the run wait (`status: waiting_approval`).
    pub approvals: BTreeMap<String, Located<bool>>,
    pub expect: Expect,
    /// Problems of this case; when any, it fails without running.
    pub problems: Vec<Diagnostic>,
}

#[derive(Debug, Clone)]
pub struct SandboxSpec {
    pub seed: bool,
    pub fixtures: Vec<Fixture>,
    pub pos: Pos,
}

impl Default for SandboxSpec {
    fn default() -> Self {
        SandboxSpec {
            seed: true,
            fixtures: Vec::new(),
            pos: Pos::none(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Fixture {
    pub entity: Entity,
    pub record: Value,
}

/// Canned answers for a step id (or every step running a node id).
#[derive(Debug, Clone)]
pub struct MockSpec {
    pub key: Located<String>,
    /// One per call, in order; the last one repeats.
    pub responses: Vec<MockResponse>,
}

#[derive(Debug, Clone)]
pub struct MockResponse {
    /// The envelope as written; strings may hold `${{ }}` (evaluated per call).
    pub envelope: Value,
    /// Virtual time the call takes.
    pub delay: Option<Duration>,
    pub pos: Pos,
}

/// `expect:` of a case.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    /// `succeeded` unless written otherwise.
    pub status: Option<Located<String>>,
    pub error: Option<Located<String>>,
    pub steps: Vec<StepExpect>,
    pub outputs: Option<Node>,
    pub calls: Vec<CallExpect>,
    pub sandbox: Vec<StateExpect>,
    pub waits: Option<Located<Vec<Duration>>>,
    pub assert: Vec<Located<String>>,
}

#[derive(Debug, Clone)]
pub struct StepExpect {
    pub id: Located<String>,
    pub status: Option<Located<String>>,
    pub attempts: Option<Located<u64>>,
    pub envelope: Option<Node>,
    pub envelope_equals: Option<Node>,
    pub params: Option<Node>,
    pub error: Option<Located<String>>,
}

#[derive(Debug, Clone)]
pub struct CallExpect {
    /// A node id (every call of it) or a step id (the calls of that step).
    pub key: Located<String>,
    pub times: Option<Located<u64>>,
    /// A mapping: every call matches it; a list: one entry per call, in order.
    pub with: Option<Node>,
}

/// A record that must (or must not) be in the sandbox after the run.
#[derive(Debug, Clone)]
pub struct StateExpect {
    pub entity: Entity,
    pub entity_name: String,
    pub filter: Node,
    pub exists: bool,
    pub count: Option<Located<u64>>,
    pub pos: Pos,
}

/// Reads `500ms`, `30s`, `2m`, `1h`, or a number of seconds (zero allowed here: a mock may
/// answer at once), at most psaflow's longest duration.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = (&t[..split], t[split..].trim());
    let n: f64 = number.parse().ok()?;
    let seconds = match unit {
        "ms" => n / 1000.0,
        "" | "s" | "sec" | "secs" | "seconds" => n,
        "m" | "min" | "minutes" => n * 60.0,
        "h" | "hours" => n * 3600.0,
        _ => return None,
    };
    zero_or_duration(seconds)
}

/// `0` as zero, anything else as [`psaflow_workflow::duration_from_secs`] reads it (never
/// negative, never past the limit, never a panic).
fn zero_or_duration(seconds: f64) -> Option<Duration> {
    if seconds == 0.0 {
        Some(Duration::ZERO)
    } else {
        psaflow_workflow::duration_from_secs(seconds)
    }
}

/// Reads a test file from disk.
pub fn load(path: &Path) -> TestFile {
    let display = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(source) => parse(&source, path),
        Err(err) => {
            let mut file = empty(path, &display, "".into());
            file.problems.push(Diagnostic::general(
                &display,
                format!("cannot read the test file: {err}"),
            ));
            file
        }
    }
}

fn empty(path: &Path, display: &str, source: Arc<str>) -> TestFile {
    let name = path
        .file_name()
        .map_or_else(|| display.to_string(), |n| n.to_string_lossy().into_owned());
    TestFile {
        path: path.to_path_buf(),
        display: display.to_string(),
        source,
        name,
        workflow: None,
        cases: Vec::new(),
        problems: Vec::new(),
    }
}

/// Parses test file text; `path` names it and anchors `workflow:`.
pub fn parse(source: &str, path: &Path) -> TestFile {
    let display = path.display().to_string();
    let source: Arc<str> = source.into();
    let mut file = empty(path, &display, source.clone());
    let root = match yaml::parse(&source, &display) {
        Ok(root) => root,
        Err(d) => {
            file.problems.push(*d);
            return file;
        }
    };
    let mut b = Builder {
        file: display.clone(),
        source,
        problems: Vec::new(),
    };
    let Some(top) = root.as_map() else {
        b.error(
            root.pos,
            format!(
                "a test file must be a mapping with `workflow:` and `cases:`, found {}",
                root.kind_name()
            ),
            None,
        );
        file.problems = b.problems;
        return file;
    };
    if looks_like_a_workflow(&root) {
        // One problem, not one per workflow key: the whole file is the wrong kind.
        b.error(
            root.first_key_pos(),
            format!("{display} is a workflow, not a test file"),
            Some(workflow_given_help(path)),
        );
        file.problems = b.problems;
        return file;
    }
    b.known_keys(top, &shape::TEST_FILE, "at the top level of the test file");
    match root.get("workflow") {
        Some(v) => file.workflow = b.string(v, "workflow").map(|s| Located::new(s, v.pos)),
        None => b.error(
            root.first_key_pos(),
            "the test file has no `workflow`",
            Some("add `workflow: my-workflow.yaml` (relative to this file)".into()),
        ),
    }
    if let Some(v) = root.get("name")
        && let Some(name) = b.string(v, "name")
    {
        file.name = name;
    }
    if let Some(v) = root.get("description") {
        b.string(v, "description");
    }
    match root.get("cases") {
        Some(v) => match &v.kind {
            Kind::Seq(items) if !items.is_empty() => {
                for item in items {
                    let mut cb = Builder {
                        file: b.file.clone(),
                        source: b.source.clone(),
                        problems: Vec::new(),
                    };
                    let mut case = cb.case(item);
                    case.problems = cb.problems;
                    if let Some(first) = file
                        .cases
                        .iter()
                        .find(|c| c.name == case.name && !case.name.is_empty())
                    {
                        let line = first.pos.line;
                        case.problems.push(
                            b.diag(case.pos, format!("duplicate case name '{}'", case.name))
                                .with_help(format!("the first case with this name is at line {line}; names must be unique")),
                        );
                    }
                    file.cases.push(case);
                }
            }
            Kind::Seq(_) => b.error(
                v.pos,
                "`cases` is empty",
                Some("add at least one case with `- name: ...`".into()),
            ),
            _ => b.error(
                v.pos,
                format!("`cases` must be a list, found {}", v.kind_name()),
                Some("start each case with `- name: ...`".into()),
            ),
        },
        None => b.error(
            root.first_key_pos(),
            "the test file has no `cases`",
            Some("add a `cases:` list; each case has a `name`".into()),
        ),
    }
    file.problems = b.problems;
    file
}

/// A workflow's shape (`steps:`, no `cases:`), given where a test file was expected.
fn looks_like_a_workflow(root: &yaml::Node) -> bool {
    root.get("steps").is_some() && root.get("cases").is_none()
}

/// How tests of the workflow at `path` are written and run instead.
fn workflow_given_help(path: &Path) -> String {
    let workflow = path
        .file_name()
        .map_or("my-workflow.yaml".into(), |n| n.to_string_lossy());
    let stem = workflow
        .strip_suffix(".yaml")
        .or_else(|| workflow.strip_suffix(".yml"));
    let test_file = format!("{}.test.yaml", stem.unwrap_or(&workflow));
    format!(
        "tests live in their own file beside the workflow, e.g. {test_file}:\n  \
         workflow: {workflow}\n  cases:\n    - name: a first case\nthen run `psaflow test \
         {test_file}` (`psaflow run {workflow}` runs the workflow itself)"
    )
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
    /// Records each key of `map` that `shape` does not describe (see [`crate::shape`]).
    fn known_keys(&mut self, map: &[(Key, Node)], shape: &Shape, place: &str) {
        self.unknown_keys(map, &shape.keys(), place);
    }

    /// A mapping; an empty value (`key:` with nothing after it) is an empty mapping.
    fn map<'a>(&mut self, node: &'a Node, what: &str) -> Option<&'a [(Key, Node)]> {
        match &node.kind {
            Kind::Null => Some(&[]),
            _ => self.mapping(node, what),
        }
    }

    /// Text; numbers and booleans are taken as they read.
    fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.kind {
            Kind::Float(f) => Some(f.to_string()),
            Kind::Bool(b) => Some(b.to_string()),
            _ => self.text(node, what),
        }
    }

    fn count(&mut self, node: &Node, what: &str) -> Option<Located<u64>> {
        match node.kind {
            Kind::Int(i) if i >= 0 => Some(Located::new(i.unsigned_abs(), node.pos)),
            _ => {
                self.error(
                    node.pos,
                    format!(
                        "`{what}` must be a whole number (0 or more), found {}",
                        node.to_json()
                    ),
                    None,
                );
                None
            }
        }
    }

    fn duration(&mut self, node: &Node, what: &str) -> Option<Duration> {
        let parsed = match &node.kind {
            Kind::Int(i) => zero_or_duration(*i as f64),
            Kind::Float(f) => zero_or_duration(*f),
            Kind::Str(s) => parse_duration(s),
            _ => None,
        };
        if parsed.is_none() {
            self.error(
                node.pos,
                format!("`{what}` must be a duration, found {}", node.to_json()),
                Some("write a duration like 500ms, 30s, 2m, or a number of seconds".into()),
            );
        }
        parsed
    }

    /// Checks the `${{ }}` inside a value written in an expectation or a mock.
    fn expressions(&mut self, node: &Node) {
        match &node.kind {
            Kind::Str(s) => match expr::split(s) {
                Err(message) => self.error(
                    node.pos,
                    message,
                    Some("write checks as \"${{ value > 0 }}\"".into()),
                ),
                Ok(Some(pieces)) => {
                    for piece in pieces {
                        if let expr::Piece::Expr(body) = piece
                            && let Err(message) = expr::check(&body)
                        {
                            self.error(
                                node.pos,
                                format!("expression syntax error in `{body}`: {message}"),
                                None,
                            );
                        }
                    }
                }
                Ok(None) => {}
            },
            Kind::Seq(items) => items.iter().for_each(|i| self.expressions(i)),
            Kind::Map(entries) => entries.iter().for_each(|(_, v)| self.expressions(v)),
            _ => {}
        }
    }

    fn strings(&mut self, node: &Node, what: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let Some(map) = self.map(node, what) else {
            return out;
        };
        for (k, v) in map {
            let value = match &v.kind {
                Kind::Null => Some(String::new()),
                _ => self.string(v, &format!("{what}.{}", k.name)),
            };
            if let Some(value) = value {
                out.insert(k.name.clone(), value);
            }
        }
        out
    }

    fn case(&mut self, node: &Node) -> CaseSpec {
        let mut case = CaseSpec {
            name: String::new(),
            pos: node.pos,
            skip: None,
            inputs: Map::new(),
            inputs_pos: node.pos,
            env: BTreeMap::new(),
            secrets: BTreeMap::new(),
            sandbox: None,
            mocks: Vec::new(),
            approvals: BTreeMap::new(),
            expect: Expect::default(),
            problems: Vec::new(),
        };
        let Some(map) = self.map(node, "cases[]") else {
            return case;
        };
        self.known_keys(map, &shape::CASE, "in case");
        match node.get("name") {
            Some(v) => case.name = self.string(v, "name").unwrap_or_default(),
            None => self.error(
                node.pos,
                "case has no `name`",
                Some("add `name: what this case checks`".into()),
            ),
        }
        for (k, v) in map {
            match k.name.as_str() {
                "description" => {
                    self.string(v, "description");
                }
                "skip" => {
                    case.skip = match &v.kind {
                        Kind::Bool(true) => Some(String::new()),
                        Kind::Bool(false) | Kind::Null => None,
                        Kind::Str(reason) => Some(reason.clone()),
                        _ => {
                            self.error(v.pos, "`skip` must be true, false or a reason", None);
                            None
                        }
                    }
                }
                "inputs" => {
                    case.inputs_pos = k.pos;
                    if let Some(entries) = self.map(v, "inputs") {
                        case.inputs = entries
                            .iter()
                            .map(|(k, v)| (k.name.clone(), v.to_json()))
                            .collect();
                    }
                }
                "env" => case.env = self.strings(v, "env"),
                "secrets" => case.secrets = self.strings(v, "secrets"),
                "sandbox" => case.sandbox = self.sandbox(v),
                "mocks" => case.mocks = self.mocks(v),
                "approvals" => case.approvals = self.approvals(v),
                "expect" => case.expect = self.expect(v),
                _ => {}
            }
        }
        case
    }

    /// `approvals: {step_id: approve | reject}`.
    fn approvals(&mut self, node: &Node) -> BTreeMap<String, Located<bool>> {
        let mut out = BTreeMap::new();
        let Some(map) = self.map(node, "approvals") else {
            return out;
        };
        for (k, v) in map {
            match v.as_str() {
                Some("approve") => {
                    out.insert(k.name.clone(), Located::new(true, v.pos));
                }
                Some("reject") => {
                    out.insert(k.name.clone(), Located::new(false, v.pos));
                }
                _ => self.error(
                    v.pos,
                    format!(
                        "approvals.{} must be {}, found {}",
                        k.name,
                        DECISIONS.join(" or "),
                        v.to_json()
                    ),
                    None,
                ),
            }
        }
        out
    }

    fn sandbox(&mut self, node: &Node) -> Option<SandboxSpec> {
        let mut spec = SandboxSpec {
            pos: node.pos,
            ..SandboxSpec::default()
        };
        if let Kind::Bool(b) = node.kind {
            spec.seed = b;
            return Some(spec);
        }
        let map = self.map(node, "sandbox")?;
        self.known_keys(map, &shape::SANDBOX, "in sandbox");
        if let Some(v) = node.get("seed") {
            spec.seed = self.boolean(v, "seed").unwrap_or(true);
        }
        if let Some(v) = node.get("fixtures") {
            match &v.kind {
                Kind::Seq(items) => {
                    for item in items {
                        if let Some(f) = self.fixture(item) {
                            spec.fixtures.push(f);
                        }
                    }
                }
                Kind::Null => {}
                _ => self.error(
                    v.pos,
                    "`fixtures` must be a list of { entity, record }",
                    None,
                ),
            }
        }
        Some(spec)
    }

    fn entity(&mut self, node: Option<&Node>, at: Pos) -> Option<(Entity, String)> {
        let Some(node) = node else {
            self.error(
                at,
                "`entity` is missing",
                Some(format!("one of: {}", ENTITY_NAMES.join(", "))),
            );
            return None;
        };
        let name = self.string(node, "entity")?;
        match entity(&name) {
            Some(e) => Some((e, name)),
            None => {
                let help = match suggest(&name, ENTITY_NAMES.iter().copied()) {
                    Some(s) => format!("did you mean '{s}'?"),
                    None => format!("one of: {}", ENTITY_NAMES.join(", ")),
                };
                self.error(node.pos, format!("unknown entity '{name}'"), Some(help));
                None
            }
        }
    }

    fn fixture(&mut self, node: &Node) -> Option<Fixture> {
        let map = self.map(node, "fixtures[]")?;
        self.known_keys(map, &shape::FIXTURE, "in fixture");
        let (entity, _) = self.entity(node.get("entity"), node.pos)?;
        let record = match node.get("record") {
            Some(
                r @ Node {
                    kind: Kind::Map(_), ..
                },
            ) => r.to_json(),
            Some(r) => {
                self.error(
                    r.pos,
                    format!(
                        "`record` must be a mapping of fields, found {}",
                        r.kind_name()
                    ),
                    None,
                );
                return None;
            }
            None => {
                self.error(
                    node.pos,
                    "fixture has no `record`",
                    Some("e.g. { entity: client, record: { name: Existing Ltd } }".into()),
                );
                return None;
            }
        };
        Some(Fixture { entity, record })
    }

    fn mocks(&mut self, node: &Node) -> Vec<MockSpec> {
        let Some(map) = self.map(node, "mocks") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in map {
            let responses = match &v.kind {
                Kind::Seq(items) if items.is_empty() => {
                    self.error(
                        v.pos,
                        format!("the mock for '{}' is an empty list", k.name),
                        None,
                    );
                    continue;
                }
                Kind::Seq(items) => items
                    .iter()
                    .filter_map(|i| self.mock_response(i, &k.name))
                    .collect(),
                _ => self.mock_response(v, &k.name).into_iter().collect(),
            };
            out.push(MockSpec {
                key: Located::new(k.name.clone(), k.pos),
                responses,
            });
        }
        out
    }

    fn mock_response(&mut self, node: &Node, key: &str) -> Option<MockResponse> {
        let Kind::Map(entries) = &node.kind else {
            self.error(
                node.pos,
                format!("the mock for '{key}' must be an envelope mapping (or a list of them), found {}", node.kind_name()),
                Some("e.g. { StatusCode: 200, Client: { id: 7 } }".into()),
            );
            return None;
        };
        let wrapped = node.get("envelope").is_some()
            && entries
                .iter()
                .all(|(k, _)| shape::MOCK.field(&k.name).is_some());
        let (envelope_node, delay) = if wrapped {
            let delay = node.get("delay").and_then(|d| self.duration(d, "delay"));
            (node.get("envelope").expect("checked above"), delay)
        } else if node.get("delay").is_some() {
            self.error(
                node.pos,
                "a mock with `delay` puts the envelope under `envelope:`",
                Some(
                    "e.g. { delay: 10s, envelope: { StatusCode: 200, Client: { id: 7 } } }".into(),
                ),
            );
            return None;
        } else {
            (node, None)
        };
        if envelope_node.as_map().is_none() {
            self.error(
                envelope_node.pos,
                format!(
                    "`envelope` must be a mapping, found {}",
                    envelope_node.kind_name()
                ),
                None,
            );
            return None;
        }
        self.expressions(envelope_node);
        let envelope = envelope_node.to_json();
        if !expr::has_expressions(&envelope)
            && let Err(message) = psaflow_core::Envelope::from_json(&envelope)
        {
            self.error(
                envelope_node.pos,
                format!("the mock for '{key}' is not an envelope: {message}"),
                None,
            );
            return None;
        }
        Some(MockResponse {
            envelope,
            delay,
            pos: envelope_node.pos,
        })
    }

    fn status(&mut self, node: &Node, allowed: &[&str], what: &str) -> Option<Located<String>> {
        let s = self.string(node, what)?;
        if !allowed.contains(&s.as_str()) {
            let help = match suggest(&s, allowed.iter().copied()) {
                Some(x) => format!("did you mean '{x}'?"),
                None => format!("one of: {}", allowed.join(", ")),
            };
            self.error(node.pos, format!("unknown {what} '{s}'"), Some(help));
            return None;
        }
        Some(Located::new(s, node.pos))
    }

    fn expect(&mut self, node: &Node) -> Expect {
        let mut e = Expect::default();
        let Some(map) = self.map(node, "expect") else {
            return e;
        };
        self.known_keys(map, &shape::EXPECT, "in expect");
        for (k, v) in map {
            match k.name.as_str() {
                "status" => e.status = self.status(v, RUN_STATUSES, "status"),
                "error" => e.error = self.string(v, "error").map(|s| Located::new(s, v.pos)),
                "steps" => e.steps = self.step_expects(v),
                "outputs" if self.map(v, "outputs").is_some() => {
                    self.expressions(v);
                    e.outputs = Some(v.clone());
                }
                "calls" => e.calls = self.call_expects(v),
                "sandbox" => e.sandbox = self.state_expects(v),
                "waits" => {
                    let items: Vec<&Node> = match &v.kind {
                        Kind::Seq(items) => items.iter().collect(),
                        _ => {
                            self.error(
                                v.pos,
                                "`waits` must be a list of durations, e.g. [1s, 2s]",
                                None,
                            );
                            continue;
                        }
                    };
                    let waits: Vec<Duration> = items
                        .into_iter()
                        .filter_map(|i| self.duration(i, "waits[]"))
                        .collect();
                    e.waits = Some(Located::new(waits, v.pos));
                }
                "assert" => {
                    let items: Vec<&Node> = match &v.kind {
                        Kind::Seq(items) => items.iter().collect(),
                        Kind::Str(_) => vec![v],
                        _ => {
                            self.error(
                                v.pos,
                                "`assert` must be a list of \"${{ ... }}\" checks",
                                None,
                            );
                            continue;
                        }
                    };
                    for item in items {
                        match item.as_str().and_then(expr::whole) {
                            Some(_) => {
                                self.expressions(item);
                                e.assert.push(Located::new(
                                    item.as_str().unwrap_or_default().to_string(),
                                    item.pos,
                                ));
                            }
                            None => self.error(
                                item.pos,
                                "each `assert` entry must be one \"${{ ... }}\" check",
                                Some("e.g. - \"${{ outputs.client_id > 0 }}\"".into()),
                            ),
                        }
                    }
                }
                _ => {}
            }
        }
        e
    }

    fn step_expects(&mut self, node: &Node) -> Vec<StepExpect> {
        let Some(map) = self.map(node, "steps") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in map {
            let mut s = StepExpect {
                id: Located::new(k.name.clone(), k.pos),
                status: None,
                attempts: None,
                envelope: None,
                envelope_equals: None,
                params: None,
                error: None,
            };
            match &v.kind {
                // `client: succeeded` is short for `client: { status: succeeded }`.
                Kind::Str(_) => s.status = self.status(v, STEP_STATUSES, "step status"),
                Kind::Map(entries) => {
                    self.known_keys(
                        entries,
                        &shape::STEP_EXPECT,
                        &format!("in the expectations of step '{}'", k.name),
                    );
                    for (sk, sv) in entries {
                        match sk.name.as_str() {
                            "status" => s.status = self.status(sv, STEP_STATUSES, "step status"),
                            "attempts" => s.attempts = self.count(sv, "attempts"),
                            "envelope" => {
                                self.expressions(sv);
                                s.envelope = Some(sv.clone());
                            }
                            "envelope_equals" => {
                                self.expressions(sv);
                                s.envelope_equals = Some(sv.clone());
                            }
                            "params" if self.map(sv, "params").is_some() => {
                                self.expressions(sv);
                                s.params = Some(sv.clone());
                            }
                            "error" => {
                                s.error = self.string(sv, "error").map(|t| Located::new(t, sv.pos))
                            }
                            _ => {}
                        }
                    }
                }
                _ => {
                    self.error(
                        v.pos,
                        format!(
                            "the expectations of step '{}' must be a mapping or a status",
                            k.name
                        ),
                        Some("e.g. client: { status: succeeded, attempts: 1 }".into()),
                    );
                    continue;
                }
            }
            out.push(s);
        }
        out
    }

    fn call_expects(&mut self, node: &Node) -> Vec<CallExpect> {
        let Some(map) = self.map(node, "calls") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in map {
            let mut c = CallExpect {
                key: Located::new(k.name.clone(), k.pos),
                times: None,
                with: None,
            };
            match &v.kind {
                // `halopsa.client.create: 1` is short for `{ times: 1 }`.
                Kind::Int(_) => c.times = self.count(v, "times"),
                Kind::Map(entries) => {
                    self.known_keys(entries, &shape::CALL_EXPECT, &format!("in the calls of '{}'", k.name));
                    if let Some(t) = v.get("times") {
                        c.times = self.count(t, "times");
                    }
                    if let Some(w) = v.get("with") {
                        match &w.kind {
                            Kind::Map(_) | Kind::Seq(_) => {
                                self.expressions(w);
                                c.with = Some(w.clone());
                            }
                            _ => self.error(
                                w.pos,
                                "`with` must be a mapping of parameters (or a list, one per call)",
                                None,
                            ),
                        }
                    }
                }
                _ => {
                    self.error(
                        v.pos,
                        format!(
                            "the calls of '{}' must be a count or {{ times, with }}",
                            k.name
                        ),
                        None,
                    );
                    continue;
                }
            }
            out.push(c);
        }
        out
    }

    fn state_expects(&mut self, node: &Node) -> Vec<StateExpect> {
        let Kind::Seq(items) = &node.kind else {
            self.error(
                node.pos,
                "`sandbox` must be a list of { entity, where, exists }",
                None,
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            let Some(map) = self.map(item, "sandbox[]") else {
                continue;
            };
            self.known_keys(map, &shape::STATE_EXPECT, "in a sandbox expectation");
            let Some((entity, entity_name)) = self.entity(item.get("entity"), item.pos) else {
                continue;
            };
            let filter = match item.get("where") {
                Some(w) if w.as_map().is_some() => {
                    self.expressions(w);
                    w.clone()
                }
                Some(w) => {
                    self.error(w.pos, "`where` must be a mapping of fields", None);
                    continue;
                }
                None => Node {
                    kind: Kind::Map(Vec::new()),
                    pos: item.pos,
                },
            };
            let exists = item
                .get("exists")
                .and_then(|x| self.boolean(x, "exists"))
                .unwrap_or(true);
            let count = item.get("count").and_then(|c| self.count(c, "count"));
            out.push(StateExpect {
                entity,
                entity_name,
                filter,
                exists,
                count,
                pos: item.pos,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"workflow: onboard.yaml
cases:
  - name: creates a client
    inputs: { client_name: Contoso }
    env: { REGION: eu }
    secrets: { ACME_SECRET: s3cret }
    sandbox:
      seed: false
      fixtures:
        - { entity: client, record: { name: Existing Ltd } }
    mocks:
      client: { StatusCode: 200, Client: { id: 7 } }
      flaky:
        - { StatusCode: 500, ErrorMessage: boom }
        - { StatusCode: 200, Client: { id: 7 } }
      slow: { delay: 10s, envelope: { StatusCode: 200, Client: {} } }
    expect:
      status: succeeded
      steps:
        client: { status: succeeded, attempts: 1, envelope: { Client: { id: 7 } } }
        site: skipped
      outputs: { client_id: "${{ value > 0 }}" }
      calls:
        halopsa.client.create: { times: 1, with: { Name: Contoso } }
        halopsa.site.create: 0
      sandbox:
        - { entity: clients, where: { name: Contoso }, exists: true }
      waits: [1s, 500ms]
      assert: ["${{ outputs.client_id == 7 }}"]
"#;

    #[test]
    fn reads_every_part_of_a_case() {
        let f = parse(FULL, Path::new("dir/onboard.test.yaml"));
        assert!(f.problems.is_empty(), "{:?}", f.problems);
        assert_eq!(f.workflow_path().unwrap(), Path::new("dir/onboard.yaml"));
        assert_eq!(
            tidy(Path::new("a/b/../../c/./d.yaml")),
            Path::new("c/d.yaml")
        );
        assert_eq!(tidy(Path::new("../x/../w.yaml")), Path::new("../w.yaml"));
        assert_eq!(
            tidy(Path::new("/t/fail/../workflows/w.yaml")),
            Path::new("/t/workflows/w.yaml")
        );
        let c = &f.cases[0];
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        assert_eq!(c.name, "creates a client");
        assert_eq!(c.inputs["client_name"], "Contoso");
        assert_eq!(c.secrets["ACME_SECRET"], "s3cret");
        let sb = c.sandbox.as_ref().unwrap();
        assert!(!sb.seed);
        assert_eq!(sb.fixtures[0].entity, Entity::Client);
        assert_eq!(c.mocks.len(), 3);
        assert_eq!(c.mocks[1].responses.len(), 2);
        assert_eq!(c.mocks[2].responses[0].delay, Some(Duration::from_secs(10)));
        let e = &c.expect;
        assert_eq!(e.status.as_ref().unwrap().value, "succeeded");
        assert_eq!(e.steps[0].attempts.as_ref().unwrap().value, 1);
        assert_eq!(e.steps[1].status.as_ref().unwrap().value, "skipped");
        assert_eq!(e.calls[1].times.as_ref().unwrap().value, 0);
        assert_eq!(e.sandbox[0].entity, Entity::Client);
        assert_eq!(
            e.waits.as_ref().unwrap().value,
            vec![Duration::from_secs(1), Duration::from_millis(500)]
        );
        assert_eq!(e.assert.len(), 1);
        assert_eq!((e.steps[0].id.pos.line, e.steps[0].id.pos.column), (20, 9));
    }

    #[test]
    fn shape_problems_belong_to_their_case_with_suggestions() {
        let src = "workflow: w.yaml\ncases:\n  - name: a\n    expect: { stauts: failed }\n  - name: b\n    mocks: { x: 5 }\n    expect: { steps: { s: done } }\n  - name: c\n";
        let f = parse(src, Path::new("t.test.yaml"));
        assert!(f.problems.is_empty(), "{:?}", f.problems);
        let a = &f.cases[0].problems;
        assert_eq!(a.len(), 1);
        assert_eq!((a[0].line, a[0].column), (4, 15));
        assert_eq!(a[0].help.as_deref(), Some("did you mean 'status'?"));
        let b = &f.cases[1].problems;
        assert_eq!(b.len(), 2, "{b:?}");
        assert!(f.cases[2].problems.is_empty());
    }

    #[test]
    fn a_workflow_given_as_a_test_file_is_one_problem_saying_how_to_test_it() {
        let src = "name: report\ninputs: {}\nsteps:\n  - id: a\n    node: halopsa.client.get\n";
        let f = parse(src, Path::new("examples/client-report.yaml"));
        let messages: Vec<_> = f.problems.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            ["examples/client-report.yaml is a workflow, not a test file"]
        );
        let help = f.problems[0].help.as_deref().unwrap();
        assert!(help.contains("client-report.test.yaml"), "{help}");
        assert!(help.contains("workflow: client-report.yaml"), "{help}");
    }

    #[test]
    fn file_problems_stop_the_file() {
        let f = parse("cases: []\n", Path::new("t.test.yaml"));
        let text: Vec<&str> = f.problems.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            text,
            ["the test file has no `workflow`", "`cases` is empty"]
        );
        let f = parse("workflow: [\n", Path::new("t.test.yaml"));
        assert!(f.problems[0].message.starts_with("YAML syntax error"));
    }

    #[test]
    fn entity_names_are_forgiving() {
        assert_eq!(entity("Clients"), Some(Entity::Client));
        assert_eq!(entity("ticket-type"), Some(Entity::TicketType));
        assert_eq!(entity("statuses"), Some(Entity::Status));
        assert_eq!(entity("status"), Some(Entity::Status));
        assert_eq!(entity("priorities"), Some(Entity::Priority));
        assert_eq!(entity("invoice"), None);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("soon"), None);
    }

    /// A description with one key more than `sandbox:` has.
    static SANDBOX_WITH_REGION: Shape = Shape {
        def: "sandbox",
        description: "a sandbox with a region",
        fields: &[
            shape::Field {
                name: "seed",
                ty: shape::Ty::Bool,
                required: false,
                description: "demo data",
            },
            shape::Field {
                name: "region",
                ty: shape::Ty::Text,
                required: true,
                description: "where the sandbox pretends to be",
            },
        ],
    };

    #[test]
    fn a_field_added_to_the_description_shows_up_in_both_views() {
        // The parser's view: the key is unknown until described, then accepted.
        let source: Arc<str> = "{ seed: true, region: eu }".into();
        let node = yaml::parse(&source, "t.test.yaml").unwrap();
        let map = node.as_map().unwrap();
        let mut b = Builder {
            file: "t.test.yaml".into(),
            source: source.clone(),
            problems: Vec::new(),
        };
        b.known_keys(map, &shape::SANDBOX, "in sandbox");
        assert_eq!(b.problems.len(), 1);
        assert_eq!(b.problems[0].message, "unknown key 'region' in sandbox");
        b.problems.clear();
        b.known_keys(map, &SANDBOX_WITH_REGION, "in sandbox");
        assert!(b.problems.is_empty(), "{:?}", b.problems);

        // The schema's view: the key is a property with its type, description and required-ness.
        let schema = crate::schema::object_schema(&SANDBOX_WITH_REGION, &mut Map::new());
        assert_eq!(
            schema["properties"]["region"],
            serde_json::json!({"type": "string", "description": "where the sandbox pretends to be"})
        );
        assert_eq!(schema["required"], serde_json::json!(["region"]));
        assert_eq!(schema["additionalProperties"], false);
    }

    #[test]
    fn every_required_key_of_the_description_is_required_by_the_parser() {
        // For each required key: a file that lacks only it, and a word of the problem.
        let missing = [
            ("workflow", "cases: [{ name: a }]\n"),
            ("cases", "workflow: w.yaml\n"),
            ("name", "workflow: w.yaml\ncases:\n  - { inputs: {} }\n"),
            ("record", "workflow: w.yaml\ncases:\n  - name: a\n    sandbox: { fixtures: [{ entity: client }] }\n"),
            ("entity", "workflow: w.yaml\ncases:\n  - name: a\n    sandbox: { fixtures: [{ record: {} }] }\n"),
            ("entity", "workflow: w.yaml\ncases:\n  - name: a\n    expect: { sandbox: [{ where: {} }] }\n"),
            ("envelope", "workflow: w.yaml\ncases:\n  - name: a\n    mocks: { s: { delay: 1s } }\n"),
        ];
        for (key, text) in missing {
            let f = parse(text, Path::new("t.test.yaml"));
            let problems: Vec<String> = f
                .problems
                .iter()
                .chain(f.cases.iter().flat_map(|c| &c.problems))
                .map(|d| d.message.clone())
                .collect();
            assert!(
                problems.iter().any(|m| m.contains(&format!("`{key}"))),
                "{key}: {problems:?}"
            );
        }
        // And the list above covers every required key the description has.
        let described: std::collections::BTreeSet<&str> = shape::ALL
            .iter()
            .flat_map(|s| s.fields.iter().filter(|f| f.required).map(|f| f.name))
            .collect();
        let tested: std::collections::BTreeSet<&str> = missing.iter().map(|(k, _)| *k).collect();
        assert_eq!(described, tested);
    }
}
