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
    /// The value.
    pub value: T,
    /// Where it was written: the line and column errors point at.
    pub pos: Pos,
}

impl<T> Located<T> {
    /// `value`, written at `pos`.
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
    /// The workflow's `name:`.
    pub fn name(&self) -> &str {
        &self.name.value
    }
    /// The workflow's `description:`, if any.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
    /// The `connection:` block, when the file says where the PSA is (else the environment does).
    pub fn connection(&self) -> Option<&ConnectionBlock> {
        self.connection.as_ref()
    }
    /// The environment variables the workflow declares (`env:`); `env.<NAME>` sees only these.
    pub fn declared_env(&self) -> impl Iterator<Item = &str> {
        self.env.iter().map(|n| n.value.as_str())
    }
    /// The main steps (`steps:`), in order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }
    /// A step by id, among the main steps and the `on_failure`/`finally` lists.
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.all_steps().find(|s| s.id.value == id)
    }
    /// The steps under `on_failure:`, run only when the run failed.
    pub fn on_failure(&self) -> &[Step] {
        &self.on_failure
    }
    /// The steps under `finally:`, run after everything else.
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
    /// The declared inputs (`inputs:`), in the order written.
    pub fn inputs(&self) -> &[InputDecl] {
        &self.inputs
    }
    /// The run's outputs (`outputs:`): names and the expressions that compute them.
    pub fn outputs(&self) -> impl Iterator<Item = (&str, &Template)> {
        self.outputs.iter().map(|(k, t)| (k.value.as_str(), t))
    }
    /// The file name as given to `load`/`parse`.
    pub fn file(&self) -> &str {
        &self.file
    }
    /// The YAML text the workflow was parsed from (stored with a run, so a resume runs the same text).
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
    /// The API base URL (`https://acme.halopsa.com/api`).
    pub api_url: Option<String>,
    /// The authorisation server, when it is not derived from `api_url`.
    pub auth_url: Option<String>,
    /// The hosted tenant name, sent with the token request.
    pub tenant: Option<String>,
    /// The OAuth client id (not a secret).
    pub client_id: Option<String>,
    /// The name of the environment variable holding the client secret.
    pub client_secret_env: Option<String>,
    /// The OAuth scope to ask for.
    pub scope: Option<String>,
}

/// The type an input declares (`type:`); a value given on the command line is read as it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputType {
    /// Text.
    String,
    /// A whole number.
    Integer,
    /// Any number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// A JSON/YAML list.
    List,
    /// A JSON/YAML object.
    Object,
    /// A CSV table (usually `--input name=@file.csv`): a list of objects keyed by the header row.
    Csv,
    /// Any JSON value (usually `--input name=@file.json`).
    Json,
}

impl InputType {
    /// Every type name, for "expected one of" messages.
    pub const NAMES: [&'static str; 8] = [
        "string", "integer", "number", "boolean", "list", "object", "csv", "json",
    ];

    /// The type named `name` (as written after `type:`); `None` for an unknown name.
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

    /// The name users write after `type:`.
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
    /// The input's name (`inputs.<name>` in expressions).
    pub name: Located<String>,
    /// The declared type.
    pub ty: InputType,
    /// A run without this input is refused before anything is sent.
    pub required: bool,
    /// The value used when the run does not give one.
    pub default: Option<Value>,
    /// What the input is for, shown by `psaflow validate` and the console.
    pub description: Option<String>,
}

/// One entry under `steps:`.
#[derive(Debug, Clone)]
pub struct Step {
    /// The step's `id:`, unique in the workflow (`steps.<id>` in expressions).
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
    /// `for_each:`: an expression giving the list the step runs once per item of.
    pub for_each: Option<Template>,
    /// How many for_each items run at once (`concurrency:`, 1 by default).
    pub concurrency: usize,
    /// `if:`: the step (or, with for_each, each item) is skipped when this is false.
    pub if_: Option<Template>,
    /// `retry:`: how failed attempts are repeated; `None` tries once.
    pub retry: Option<RetryPolicy>,
    /// Position of the `retry:` key (the step's when there is none), for warnings about it.
    pub retry_pos: Pos,
    /// `timeout:`: the longest one attempt may take.
    pub timeout: Option<Duration>,
    /// `continue_on_error:`: a failure of this step does not stop the run.
    pub continue_on_error: bool,
    /// `confirm:`: allows a destructive node inside for_each.
    pub confirm: bool,
    /// `approval:`: the run waits for a person's decision before this step.
    pub approval: Option<Approval>,
    /// Position of the step's `-` entry.
    pub pos: Pos,
}

impl Step {
    /// The step's id.
    pub fn id(&self) -> &str {
        &self.id.value
    }
    /// The node id it runs; empty for a `set:` step.
    pub fn node(&self) -> &str {
        &self.node.value
    }
    /// The name to show users.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id.value)
    }
    /// True for a `set:` step, which runs no node.
    pub fn is_set(&self) -> bool {
        self.set.is_some()
    }
    /// The parameter template written as `name` under `with:`, if any.
    pub fn param(&self, name: &str) -> Option<&Template> {
        self.with
            .iter()
            .find(|(k, _)| k.value == name)
            .map(|(_, t)| t)
    }

    /// The declared parameter value through which this step's calls may delete or deactivate
    /// though `spec`'s effect alone does not (`Inactive: true` on an update): written as that
    /// value, or as an expression that may give it. `None` when no call of the step can.
    pub fn destructive_param<'a>(
        &self,
        spec: &'a psaflow_core::NodeSpec,
    ) -> Option<&'a psaflow_core::ParamEffect> {
        spec.param_effects
            .iter()
            .filter(|p| p.effect.is_destructive())
            .find(|p| match self.param(&p.param) {
                None => false,
                Some(Template::Literal { value, .. }) => *value == p.equals,
                // Known only when the step runs.
                Some(_) => true,
            })
    }

    /// Whether calls of this step may delete or deactivate records: its node's effect says so,
    /// or a parameter value it is given (see [`Self::destructive_param`]).
    pub fn may_destroy(&self, spec: &psaflow_core::NodeSpec) -> bool {
        spec.is_destructive() || self.destructive_param(spec).is_some()
    }
}

/// How the wait between retries grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    /// The same wait (`initial_interval`) every time.
    Constant,
    /// Each wait `multiplier` times the one before, capped at `max_interval`.
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

/// A step's `retry:` block.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Total attempts, including the first.
    pub max_attempts: u32,
    /// How waits grow.
    pub backoff: Backoff,
    /// The wait before the second attempt.
    pub initial_interval: Duration,
    /// No wait is longer than this.
    pub max_interval: Duration,
    /// The growth factor of exponential backoff.
    pub multiplier: f64,
    /// Which failures are retried; others end the step at once.
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

/// What an approval that times out decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnTimeout {
    /// The run continues as if approved.
    Approve,
    /// The run fails at the approval step (the default).
    Reject,
}

impl OnTimeout {
    /// The name written after `on_timeout:`.
    pub fn as_str(self) -> &'static str {
        match self {
            OnTimeout::Approve => "approve",
            OnTimeout::Reject => "reject",
        }
    }
}
