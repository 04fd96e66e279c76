//! The parsed workflow: plain data with source positions. Built by `parse.rs`,
//! checked by `validate.rs`, run by `exec/`.
use crate::diagnostics::{Diagnostic, Pos};
use crate::expr::Template;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// A value together with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Located<T> {
    pub value: T,
    pub pos: Pos,
}

impl<T> Located<T> {
    pub fn new(value: T, pos: Pos) -> Self {
        Self { value, pos }
    }
}

/// A workflow file, parsed. Problems found while reading its structure are kept in
/// `problems` and reported by [`crate::validate`] together with catalog checks, so
/// users see every error in one go.
#[derive(Debug, Clone)]
pub struct Workflow {
    pub(crate) file: String,
    pub(crate) source: Arc<str>,
    pub(crate) name: Located<String>,
    pub(crate) description: Option<String>,
    pub(crate) connection: Option<ConnectionBlock>,
    /// The environment variables expressions may read (`env:`), in the order written.
    pub(crate) env: Vec<Located<String>>,
    pub(crate) inputs: Vec<InputDecl>,
    pub(crate) steps: Vec<Step>,
    /// Steps run when the main steps failed (`on_failure:`), with access to what succeeded.
    pub(crate) on_failure: Vec<Step>,
    /// Steps run after everything else, whether the run succeeded or failed (`finally:`).
    pub(crate) finally: Vec<Step>,
    pub(crate) outputs: Vec<(Located<String>, Template)>,
    pub(crate) problems: Vec<Diagnostic>,
}

impl Workflow {
    pub fn name(&self) -> &str {
        &self.name.value
    }
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
    pub fn connection(&self) -> Option<&ConnectionBlock> {
        self.connection.as_ref()
    }
    /// The environment variables the workflow declares (`env:`); `env.<NAME>` sees only these.
    pub fn declared_env(&self) -> impl Iterator<Item = &str> {
        self.env.iter().map(|n| n.value.as_str())
    }
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }
    /// A step by id, among the main steps and the `on_failure`/`finally` lists.
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.all_steps().find(|s| s.id.value == id)
    }
    pub fn on_failure(&self) -> &[Step] {
        &self.on_failure
    }
    pub fn finally(&self) -> &[Step] {
        &self.finally
    }
    /// Main steps, then `on_failure`, then `finally`: the order in which they may run.
    pub fn all_steps(&self) -> impl Iterator<Item = &Step> {
        self.steps
            .iter()
            .chain(&self.on_failure)
            .chain(&self.finally)
    }
    pub fn inputs(&self) -> &[InputDecl] {
        &self.inputs
    }
    pub fn outputs(&self) -> impl Iterator<Item = (&str, &Template)> {
        self.outputs.iter().map(|(k, t)| (k.value.as_str(), t))
    }
    /// The file name as given to `load`/`parse`.
    pub fn file(&self) -> &str {
        &self.file
    }
    pub fn source(&self) -> &str {
        &self.source
    }
    /// Structural problems found while parsing (also returned by `validate`).
    pub fn problems(&self) -> &[Diagnostic] {
        &self.problems
    }
    pub(crate) fn diag(&self, pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic::at(&self.file, &self.source, pos, message)
    }
}

/// Where the HaloPSA API is. The secret itself is never in the file: only the name of
/// the environment variable that holds it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnectionBlock {
    pub api_url: Option<String>,
    pub auth_url: Option<String>,
    pub tenant: Option<String>,
    pub client_id: Option<String>,
    pub client_secret_env: Option<String>,
    pub scope: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputType {
    String,
    Integer,
    Number,
    Boolean,
    List,
    Object,
    /// A CSV table (usually `--input name=@file.csv`): a list of objects keyed by the header row.
    Csv,
    /// Any JSON value (usually `--input name=@file.json`).
    Json,
}

impl InputType {
    pub const NAMES: [&'static str; 8] = [
        "string", "integer", "number", "boolean", "list", "object", "csv", "json",
    ];

    pub fn parse(name: &str) -> Option<InputType> {
        Some(match name {
            "string" => InputType::String,
            "integer" => InputType::Integer,
            "number" => InputType::Number,
            "boolean" => InputType::Boolean,
            "list" => InputType::List,
            "object" => InputType::Object,
            "csv" => InputType::Csv,
            "json" => InputType::Json,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            InputType::String => "string",
            InputType::Integer => "integer",
            InputType::Number => "number",
            InputType::Boolean => "boolean",
            InputType::List => "list",
            InputType::Object => "object",
            InputType::Csv => "csv",
            InputType::Json => "json",
        }
    }
}

/// One entry under `inputs:`.
#[derive(Debug, Clone)]
pub struct InputDecl {
    pub name: Located<String>,
    pub ty: InputType,
    pub required: bool,
    pub default: Option<Value>,
    pub description: Option<String>,
}

/// One entry under `steps:`.
#[derive(Debug, Clone)]
pub struct Step {
    pub id: Located<String>,
    /// Display name (`name:`); the id is shown when absent.
    pub name: Option<String>,
    /// Empty for a `set:` step.
    pub node: Located<String>,
    /// A `set:` step's named values, in the order written: it runs no node, and later
    /// expressions read each as `steps.<id>.<name>`.
    pub set: Option<Vec<(Located<String>, Template)>>,
    /// Parameters in the order written.
    pub with: Vec<(Located<String>, Template)>,
    /// Position of the `with:` key (or the step) for "missing parameter" errors.
    pub with_pos: Pos,
    pub for_each: Option<Template>,
    pub concurrency: usize,
    pub if_: Option<Template>,
    pub retry: Option<RetryPolicy>,
    /// Position of the `retry:` key (the step's when there is none), for warnings about it.
    pub retry_pos: Pos,
    pub timeout: Option<Duration>,
    pub continue_on_error: bool,
    pub confirm: bool,
    /// `approval:`: the run waits for a person's decision before this step.
    pub approval: Option<Approval>,
    /// Position of the step's `-` entry.
    pub pos: Pos,
}

impl Step {
    pub fn id(&self) -> &str {
        &self.id.value
    }
    pub fn node(&self) -> &str {
        &self.node.value
    }
    /// The name to show users.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id.value)
    }
    pub fn is_set(&self) -> bool {
        self.set.is_some()
    }
    pub fn param(&self, name: &str) -> Option<&Template> {
        self.with
            .iter()
            .find(|(k, _)| k.value == name)
            .map(|(_, t)| t)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    Constant,
    Exponential,
}

/// Which failures a retry policy retries (see the contract's StatusCode meanings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryOn {
    /// StatusCode 500: network or system error.
    System,
    /// StatusCode 200 with an ErrorMessage.
    Business,
    /// StatusCode -1: the node rejected a parameter.
    Validation,
    /// A change whose outcome is unknown (the request may have reached HaloPSA, no answer
    /// came) by a node whose repeat is not harmless, such as a create that could not look for
    /// its record. Retrying it may apply the change twice, so only a workflow that says so does.
    UnknownOutcome,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Total attempts, including the first.
    pub max_attempts: u32,
    pub backoff: Backoff,
    pub initial_interval: Duration,
    pub max_interval: Duration,
    pub multiplier: f64,
    pub retry_on: Vec<RetryOn>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            backoff: Backoff::Exponential,
            initial_interval: Duration::from_secs(1),
            max_interval: Duration::from_secs(30),
            multiplier: 2.0,
            retry_on: vec![RetryOn::System],
        }
    }
}

/// A step's `approval:` block: before the step runs, the run stops and waits for a decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Approval {
    /// What the approver is asked; may contain `${{ }}` (evaluated when the run gets there).
    pub message: Template,
    /// How long to wait; `None` waits until someone decides.
    pub timeout: Option<Duration>,
    /// What a timeout decides.
    pub on_timeout: OnTimeout,
    /// Who may decide (names as `psaflow approve` records them); empty means anyone.
    pub approvers: Vec<String>,
    /// Position of the `approval:` key.
    pub pos: Pos,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnTimeout {
    Approve,
    Reject,
}

impl OnTimeout {
    pub fn as_str(self) -> &'static str {
        match self {
            OnTimeout::Approve => "approve",
            OnTimeout::Reject => "reject",
        }
    }
}
