//! Dry runs: what each step would do, with every expression resolved that can be
//! (inputs, env, literals); values only known while running (`steps.*`, `item`, `index`)
//! are shown as placeholders like `<steps.client.Client.id>`. Nothing is sent.
use crate::options::RunOptions;
use crate::expr::{self, Mode, Scope};
use crate::model::{Backoff, Workflow};
use crate::duration::format_duration;
use crate::redact::Redactor;
use psaflow_core::{Catalog, Effect, NodeSpec};
use serde_json::{Map, Value, json};

/// One step as it would run.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedStep {
    /// The step's id.
    pub id: String,
    /// The step's `name:`, if written.
    pub name: Option<String>,
    /// The node it would run.
    pub node: String,
    /// The node declares the delete effect.
    pub destructive: bool,
    /// The node declares the deactivate effect.
    pub deactivates: bool,
    /// Parameters with expressions resolved or shown as placeholders; secrets masked.
    pub params: Map<String, Value>,
    /// The list expression of a for_each step, as written.
    pub for_each: Option<String>,
    /// The number of items, when the list is known before running.
    pub items: Option<usize>,
    /// How many items would run at once.
    pub concurrency: usize,
    /// The condition, resolved when possible ("false" means the step would be skipped).
    pub condition: Option<String>,
    /// The retry policy, in words.
    pub retry: Option<String>,
    /// The per-attempt timeout, in words (`30s`).
    pub timeout: Option<String>,
    /// A failure would not stop the run.
    pub continue_on_error: bool,
    /// The step waits for a person's approval first: its message and terms, in words.
    pub approval: Option<String>,
    /// Expressions that could not be evaluated even without step results.
    pub problems: Vec<String>,
}

/// The whole dry run.
#[derive(Clone)]
pub struct Plan {
    /// The workflow's name.
    pub workflow: String,
    /// Every step, in workflow order.
    pub steps: Vec<PlannedStep>,
    redactor: Redactor,
}

/// Prints the plan's masked JSON form, never the redactor's secrets.
impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Plan {} {}", self.workflow, self.to_json(&self.redactor))
    }
}

impl Plan {
    /// Every problem found while planning, with the step it belongs to.
    pub fn problems(&self) -> Vec<String> {
        self.steps
            .iter()
            .flat_map(|s| {
                s.problems
                    .iter()
                    .map(move |p| format!("step '{}': {p}", s.id))
            })
            .collect()
    }

    /// The steps as JSON (the `plan` of `run --dry-run --json`), secrets masked by `r`.
    pub fn to_json(&self, r: &Redactor) -> Value {
        Value::Array(
            self.steps
                .iter()
                .map(|s| {
                    json!({
                        "id": s.id,
                        "node": s.node,
                        "destructive": s.destructive,
                        "deactivates": s.deactivates,
                        "params": r.map(&s.params),
                        "for_each": s.for_each,
                        "items": s.items,
                        "concurrency": s.concurrency,
                        "if": s.condition.as_deref().map(|c| r.text(c)),
                        "retry": s.retry,
                        "timeout": s.timeout,
                        "continue_on_error": s.continue_on_error,
                        "approval": s.approval.as_deref().map(|a| r.text(a)),
                        "problems": s.problems.iter().map(|p| r.text(p)).collect::<Vec<_>>(),
                    })
                })
                .collect(),
        )
    }

    /// The plan as text for people.
    pub fn render(&self) -> String {
        let r = &self.redactor;
        let mut out = format!(
            "Dry run of '{}': {} step(s); nothing will be sent.\n\
             This is the offline plan: no reads are made, so values from earlier steps show as <...>. \
             `psaflow plan` runs the read steps and lists exactly which records would change.\n",
            self.workflow,
            self.steps.len()
        );
        let destructive = self
            .steps
            .iter()
            .filter(|s| s.destructive || s.deactivates)
            .count();
        if destructive > 0 {
            out.push_str(&format!(
                "{destructive} step(s) delete or deactivate records (marked !!).\n"
            ));
        }
        for (n, s) in self.steps.iter().enumerate() {
            out.push('\n');
            let mark = if s.destructive {
                "  !! DELETES RECORDS"
            } else if s.deactivates {
                "  !! DEACTIVATES RECORDS"
            } else {
                ""
            };
            let title = s
                .name
                .as_deref()
                .map(|n| format!(" \"{n}\""))
                .unwrap_or_default();
            out.push_str(&format!("{}. {}{title}  [{}]{mark}\n", n + 1, s.id, s.node));
            if let Some(a) = &s.approval {
                out.push_str(&format!("   WAITS FOR APPROVAL: {}\n", r.text(a)));
            }
            if let Some(fe) = &s.for_each {
                let count = s
                    .items
                    .map_or_else(|| "each item".to_string(), |n| format!("each of {n} items"));
                out.push_str(&format!(
                    "   for {count} of {}, {} at a time\n",
                    r.text(fe),
                    s.concurrency
                ));
                if s.destructive
                    && let Some(n) = s.items
                {
                    out.push_str(&format!("   would delete up to {n} records\n"));
                }
            }
            if let Some(c) = &s.condition {
                out.push_str(&format!("   if: {}\n", r.text(c)));
            }
            for (k, v) in r.map(&s.params) {
                let shown = match &v {
                    Value::String(text) if text.starts_with('<') && text.ends_with('>') => {
                        text.clone()
                    }
                    other => other.to_string(),
                };
                out.push_str(&format!("   {k}: {shown}\n"));
            }
            if let Some(retry) = &s.retry {
                out.push_str(&format!("   retry: {retry}\n"));
            }
            if let Some(t) = &s.timeout {
                out.push_str(&format!("   timeout: {t} per attempt\n"));
            }
            if s.continue_on_error {
                out.push_str("   continue_on_error: the run goes on if this step fails\n");
            }
            for p in &s.problems {
                out.push_str(&format!("   problem: {}\n", r.text(p)));
            }
        }
        out
    }
}

/// How many node calls a plan would make, per connector: the basis of the request and time
/// estimate a dry run prints. Each node call sends at least one API request (a read of many
/// records sends one per page).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallEstimate {
    /// Connector name -> node calls.
    pub by_connector: std::collections::BTreeMap<String, u64>,
    /// Some steps have an `if` not known to be true, so fewer calls may be made.
    pub at_most: bool,
    /// Steps whose for_each list is known only when the run reads it (not counted).
    pub unknown_steps: Vec<String>,
}

impl Plan {
    /// Counts the node calls of the plan's steps (see [`CallEstimate`]).
    pub fn call_estimate(&self, catalog: &Catalog) -> CallEstimate {
        let mut estimate = CallEstimate::default();
        for s in &self.steps {
            let Some(spec) = catalog.get(&s.node) else {
                continue; // a `set:` step calls nothing
            };
            if s.condition.as_deref().is_some_and(|c| c.starts_with("false")) {
                continue;
            }
            if s.condition.as_deref().is_some_and(|c| c != "true") {
                estimate.at_most = true;
            }
            let calls = match (&s.for_each, s.items) {
                (None, _) => 1,
                (Some(_), Some(n)) => n as u64,
                (Some(_), None) => {
                    estimate.unknown_steps.push(s.id.clone());
                    continue;
                }
            };
            let connector = spec.connector.clone().unwrap_or_else(|| "(none)".into());
            *estimate.by_connector.entry(connector).or_default() += calls;
        }
        estimate
    }
}

/// What a step's calls do, as far as a plan can tell: the node's effect, or that of a declared
/// parameter value (`Inactive: true` on an update deactivates). A parameter known only when
/// the run reads it (`<item>`) may be that value, so it counts as the stronger effect.
fn planned_effect(spec: &NodeSpec, params: &Map<String, Value>) -> Effect {
    let unknown = |v: &Value| matches!(v, Value::String(s) if s.starts_with('<'));
    spec.effect_where(|p| p.is_given(params) || params.get(&p.param).is_some_and(unknown))
}

/// Plans a (valid) workflow without calling anything.
pub fn plan(wf: &Workflow, catalog: &Catalog, opts: &RunOptions) -> Plan {
    let redactor = opts.redactor(wf);
    let scope = Scope::new(
        &opts.full_inputs(wf),
        &opts.env_value(wf),
        &Value::Object(Map::new()),
    );
    let mut steps = Vec::new();
    for step in wf.steps() {
        let spec = catalog.get(step.node());
        let mut problems = Vec::new();
        let mut params = Map::new();
        for (k, t) in &step.with {
            let v = match expr::eval(t, &scope, Mode::Plan) {
                Ok(v) => v,
                Err(e) => {
                    problems.push(format!("{}: {}", k.value, e.message));
                    Value::String(format!("<{}>", t.display()))
                }
            };
            if Redactor::is_secret_name(&k.value) && !v.is_null() {
                redactor.add(&expr::as_text(&v));
            }
            params.insert(k.value.clone(), v);
        }
        let (for_each, items) = match &step.for_each {
            None => (None, None),
            Some(t) => match expr::eval(t, &scope, Mode::Plan) {
                Ok(Value::Array(a)) => (Some(t.display()), Some(a.len())),
                Ok(Value::String(s)) if s.starts_with('<') => (Some(s), None),
                Ok(other) => {
                    problems.push(format!("for_each must give a list, got {other}"));
                    (Some(t.display()), None)
                }
                Err(e) => {
                    problems.push(format!("for_each: {}", e.message));
                    (Some(t.display()), None)
                }
            },
        };
        let condition = step
            .if_
            .as_ref()
            .map(|c| match expr::eval(c, &scope, Mode::Plan) {
                Ok(Value::String(s)) if s.starts_with('<') => s,
                Ok(v) if expr::truthy(&v) => "true".to_string(),
                Ok(_) => "false (the step would be skipped)".to_string(),
                Err(e) => {
                    problems.push(format!("if: {}", e.message));
                    c.display()
                }
            });
        let retry = step.retry.as_ref().map(|p| {
            let backoff = match p.backoff {
                Backoff::Exponential => format!(
                    "exponential backoff from {} (x{}, at most {})",
                    format_duration(p.initial_interval),
                    p.multiplier,
                    format_duration(p.max_interval)
                ),
                Backoff::Constant => {
                    format!("{} between attempts", format_duration(p.initial_interval))
                }
            };
            format!("up to {} attempts, {backoff}", p.max_attempts)
        });
        let approval = step.approval.as_ref().map(|a| {
            let message = match expr::eval(&a.message, &scope, Mode::Plan) {
                Ok(v) => expr::as_text(&v),
                Err(_) => a.message.display(),
            };
            let mut terms = Vec::new();
            if !a.approvers.is_empty() {
                terms.push(format!("approvers: {}", a.approvers.join(", ")));
            }
            if let Some(t) = a.timeout {
                terms.push(format!(
                    "after {} without a decision: {}",
                    format_duration(t),
                    a.on_timeout.as_str()
                ));
            }
            if terms.is_empty() {
                message
            } else {
                format!("{message} ({})", terms.join("; "))
            }
        });
        steps.push(PlannedStep {
            approval,
            id: step.id().to_string(),
            name: step.name.clone(),
            node: step.node().to_string(),
            destructive: spec.is_some_and(|s| planned_effect(s, &params) == Effect::Delete),
            deactivates: spec.is_some_and(|s| planned_effect(s, &params) == Effect::Deactivate),
            params,
            for_each,
            items,
            concurrency: step.concurrency,
            condition,
            retry,
            timeout: step.timeout.map(format_duration),
            continue_on_error: step.continue_on_error,
            problems,
        });
    }
    Plan {
        workflow: wf.name().to_string(),
        steps,
        redactor,
    }
}

/// The dry-run plan as text (secrets masked). Sends nothing.
pub fn dry_run_plan(wf: &Workflow, catalog: &Catalog, opts: &RunOptions) -> String {
    plan(wf, catalog, opts).render()
}
