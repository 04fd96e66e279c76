//! Everything that can be checked before a workflow runs: structure (found while parsing),
//! nodes and parameters against the catalog, literal types, and what each expression
//! refers to. All problems are collected and returned in source order.
use crate::diagnostics::{Diagnostics, Pos};
use crate::expr::{self, Expr, Template};
use crate::model::{Step, Workflow};
use psaflow_core::names::suggest;
use psaflow_core::{Catalog, NodeSpec, ParamType};
use serde_json::Value;

/// Names minijinja provides itself; expressions may call them.
const BUILTIN_GLOBALS: &[&str] = &[
    "days_ago",
    "fail",
    "range",
    "dict",
    "namespace",
    "debug",
    "lipsum",
    "cycler",
    "joiner",
];

/// Checks a parsed workflow against the node catalog. `Ok(())` means it may run.
pub fn validate(wf: &Workflow, catalog: &Catalog) -> Result<(), Diagnostics> {
    let all: Vec<&Step> = wf.all_steps().collect();
    let mut v = Validator {
        wf,
        all: all.clone(),
        catalog,
        diags: Diagnostics(wf.problems.clone()),
    };
    for (i, step) in all.iter().enumerate() {
        v.step(i, step, catalog);
    }
    for (key, t) in &wf.outputs {
        for e in t.exprs() {
            v.expression(e, &format!("output '{}'", key.value), all.len(), None, false);
        }
    }
    v.diags.into_result()
}

struct Validator<'a> {
    wf: &'a Workflow,
    /// Main steps, then `on_failure`, then `finally`: a step may read those before it.
    all: Vec<&'a Step>,
    catalog: &'a Catalog,
    diags: Diagnostics,
}

/// Where an expression sits, for what it may read.
#[derive(Clone, Copy, PartialEq)]
enum Place {
    ForEachList,
    Other,
}

impl Validator<'_> {
    fn error(
        &mut self,
        pos: crate::diagnostics::Pos,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        let d = self.wf.diag(pos, message).with_help_opt(help);
        self.diags.push(d);
    }

    fn step(&mut self, index: usize, step: &Step, catalog: &Catalog) {
        // Expressions are checked whether or not the node is known.
        let in_loop = step.for_each.is_some();
        let mut exprs: Vec<(&Expr, Place)> = Vec::new();
        if let Some(fe) = &step.for_each {
            exprs.extend(fe.exprs().into_iter().map(|e| (e, Place::ForEachList)));
        }
        if let Some(cond) = &step.if_ {
            exprs.extend(cond.exprs().into_iter().map(|e| (e, Place::Other)));
        }
        for (_, t) in &step.with {
            exprs.extend(t.exprs().into_iter().map(|e| (e, Place::Other)));
        }
        for (_, t) in step.set.iter().flatten() {
            exprs.extend(t.exprs().into_iter().map(|e| (e, Place::Other)));
        }
        let what = format!("step '{}'", step.id.value);
        // The approval message is shown before the step runs: no `item` there.
        if let Some(approval) = &step.approval {
            for e in approval.message.exprs() {
                self.references(e, &what, index, Some(&step.id.value), false);
            }
        }
        for (e, place) in exprs {
            self.expression(
                e,
                &what,
                index,
                Some(&step.id.value),
                in_loop && place == Place::Other,
            );
        }

        if step.is_set() {
            if let Some((key, _)) = step.with.first() {
                self.error(
                    key.pos,
                    format!("step '{}' is a `set:` step; it has no `with:`", step.id.value),
                    Some("write the values under `set:` instead".into()),
                );
            }
            return;
        }
        if step.node.value.is_empty() {
            return; // already reported while parsing
        }
        let Some(spec) = catalog.get(&step.node.value) else {
            let help = match suggest(&step.node.value, catalog.ids()) {
                Some(s) => format!("did you mean '{s}'?"),
                None => "run `psaflow nodes` to list the available nodes".to_string(),
            };
            self.error(
                step.node.pos,
                format!("unknown node '{}'", step.node.value),
                Some(help),
            );
            return;
        };
        self.params(step, spec);
        if in_loop && !step.confirm && step.may_destroy(spec) {
            let what = match step.destructive_param(spec).filter(|_| !spec.is_destructive()) {
                Some(p) => format!(
                    "{} with {} (it {}s records)",
                    spec.id,
                    p.condition(),
                    p.effect
                ),
                None => format!("{} (it {}s records)", spec.id, spec.effect),
            };
            self.error(
                step.node.pos,
                format!(
                    "step '{}' runs {what} once per for_each item; this needs `confirm: true`",
                    step.id.value
                ),
                Some("add `confirm: true` to the step after checking the list with `psaflow run --dry-run`".into()),
            );
        }
    }

    fn params(&mut self, step: &Step, spec: &NodeSpec) {
        for (key, t) in &step.with {
            let Some(param) = spec.param(&key.value) else {
                let names = spec.params.iter().map(|p| p.name.as_str());
                let help = match suggest(&key.value, names) {
                    Some(s) => format!("did you mean '{s}'?"),
                    None => format!(
                        "{} takes: {}",
                        spec.id,
                        spec.params
                            .iter()
                            .map(|p| p.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                self.error(
                    key.pos,
                    format!("unknown parameter '{}' for node {}", key.value, spec.id),
                    Some(help),
                );
                continue;
            };
            if let Template::Literal { value, pos } = t {
                if value.is_null() && param.required {
                    self.error(
                        *pos,
                        format!(
                            "required parameter '{}' of {} is empty",
                            param.name, spec.id
                        ),
                        None,
                    );
                } else if !value.is_null()
                    && let Err(msg) = check_literal(value, &param.ty)
                {
                    self.error(
                        *pos,
                        format!("parameter '{}' of {} {msg}", param.name, spec.id),
                        Some(format!("{}: {}", param.name, type_hint(&param.ty))),
                    );
                } else if param.ty == ParamType::String
                    && let Some(message) =
                        reread_as_text(&param.name, value, self.wf.source(), *pos)
                {
                    self.error(
                        *pos,
                        message,
                        Some(format!(
                            "YAML reads an unquoted number or true/false as a number or boolean; \
                             {} takes text, so write it in quotes",
                            param.name
                        )),
                    );
                }
            }
        }
        // Names written under `with:` that are not parameters; a misspelt required parameter
        // is reported once, as the unknown name with its suggestion.
        let misspelt: Vec<&str> = step
            .with
            .iter()
            .filter(|(k, _)| spec.param(&k.value).is_none())
            .filter_map(|(k, _)| suggest(&k.value, spec.params.iter().map(|p| p.name.as_str())))
            .collect();
        for param in spec.params.iter().filter(|p| p.required) {
            if step.param(&param.name).is_none() && !misspelt.contains(&param.name.as_str()) {
                let desc = if param.description.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", param.description)
                };
                self.error(
                    step.with_pos,
                    format!(
                        "step '{}' is missing required parameter '{}' for {}",
                        step.id.value, param.name, spec.id
                    ),
                    Some(format!(
                        "add `{}: <{}>` under `with:`{desc}",
                        param.name, param.ty
                    )),
                );
            }
        }
    }

    /// Checks one expression: the filters and tests it uses exist, and what it reads.
    fn expression(
        &mut self,
        e: &Expr,
        what: &str,
        step_index: usize,
        own_id: Option<&str>,
        item_ok: bool,
    ) {
        for unknown in expr::unknown_filters_and_tests(&e.body) {
            let (message, help) = unknown.explain();
            self.error(e.pos, message, Some(help));
        }
        self.references(e, what, step_index, own_id, item_ok);
    }

    /// Checks `steps.<id>.<key>` against what that step gives: the envelope's status fields
    /// and the node's declared output key, a `set:` step's names, or a list for for_each.
    fn step_shape(&mut self, e: &Expr, target: &Step, path: &str) {
        let mut segs = path.split('.').skip(2);
        let Some(key) = segs.next() else { return };
        let id = &target.id.value;
        if target.for_each.is_some() {
            self.error(
                e.pos,
                format!("steps.{id}.{key}: step '{id}' runs for_each, so steps.{id} is a list (one entry per item), not one result"),
                Some(format!("pick one item (steps.{id}[0].{key}) or go over the list: steps.{id} | map(attribute='{key}') | list")),
            );
            return;
        }
        let allowed: Vec<String> = match &target.set {
            Some(values) => values.iter().map(|(k, _)| k.value.clone()).collect(),
            None => {
                let Some(spec) = self.catalog.get(&target.node.value) else {
                    return; // the unknown node is reported on its own
                };
                let output = crate::exec::output_key(spec);
                let mut keys: Vec<String> = ENVELOPE_FIELDS.iter().map(|s| s.to_string()).collect();
                if output.is_empty() {
                    return; // a node that declares no output key: nothing to check against
                }
                keys.push(output);
                keys
            }
        };
        if allowed.iter().any(|k| k == key) {
            return;
        }
        let hint = psaflow_core::names::did_you_mean(key, allowed.iter().map(String::as_str));
        let (what_it_is, help) = match &target.set {
            Some(_) => (
                format!("step '{id}' sets {}", allowed.join(", ")),
                "a `set:` step gives exactly the names written under it".to_string(),
            ),
            None => (
                format!(
                    "{} gives {}",
                    target.node.value,
                    allowed.join(", ")
                ),
                format!(
                    "its output is under `{}`, e.g. steps.{id}.{}",
                    allowed.last().map(String::as_str).unwrap_or(""),
                    allowed.last().map(String::as_str).unwrap_or("")
                ),
            ),
        };
        self.error(
            e.pos,
            format!("steps.{id}.{key}: no '{key}' in the result of step '{id}'{hint}; {what_it_is}"),
            Some(help),
        );
    }

    /// Checks what an expression reads. `step_index` is the number of steps that run before
    /// it (so `steps.<id>` of those is fine); `item_ok` says whether `item`/`index` exist.
    fn references(
        &mut self,
        e: &Expr,
        what: &str,
        step_index: usize,
        own_id: Option<&str>,
        item_ok: bool,
    ) {
        for path in expr::paths(&e.body) {
            let mut segs = path.split('.');
            let root = segs.next().unwrap_or("");
            let second = segs.next();
            match root {
                "inputs" => {
                    if let Some(name) = second
                        && !self.wf.inputs.iter().any(|i| i.name.value == name)
                    {
                        let names: Vec<&str> = self
                            .wf
                            .inputs
                            .iter()
                            .map(|i| i.name.value.as_str())
                            .collect();
                        let sugg = suggest(name, names.iter().copied());
                        let message = match sugg {
                            Some(s) => {
                                format!("inputs.{name}: no input '{name}' (did you mean '{s}'?)")
                            }
                            None => format!("inputs.{name}: no input '{name}' is declared"),
                        };
                        let help = if names.is_empty() {
                            format!(
                                "declare it under `inputs:`, e.g. {name}: {{ type: string, required: true }}"
                            )
                        } else {
                            format!("declared inputs: {}", names.join(", "))
                        };
                        self.error(e.pos, message, Some(help));
                    }
                }
                "steps" => {
                    let Some(id) = second else { continue };
                    let position = self.all.iter().position(|s| s.id.value == id);
                    match position {
                        Some(_) if Some(id) == own_id => self.error(
                            e.pos,
                            format!("steps.{id}: {what} cannot read its own result"),
                            Some("a step can only read the results of steps above it".into()),
                        ),
                        Some(p) if p >= step_index => self.error(
                            e.pos,
                            format!("steps.{id}: step '{id}' runs later, after {what}"),
                            Some("a step can only read the results of steps above it; move it or the step it reads".into()),
                        ),
                        Some(p) => {
                            let target = self.all[p];
                            self.step_shape(e, target, &path);
                        }
                        None => {
                            let earlier: Vec<&str> =
                                self.all[..step_index.min(self.all.len())].iter().map(|s| s.id.value.as_str()).collect();
                            let all: Vec<&str> = self.all.iter().map(|s| s.id.value.as_str()).collect();
                            let all = all.into_iter();
                            let message = match suggest(id, all) {
                                Some(s) => format!("steps.{id}: no step '{id}' (did you mean '{s}'?)"),
                                None => format!("steps.{id}: no step '{id}'"),
                            };
                            let help = if earlier.is_empty() {
                                "no step runs before this one".to_string()
                            } else {
                                format!("steps before this one: {}", earlier.join(", "))
                            };
                            self.error(e.pos, message, Some(help));
                        }
                    }
                }
                "item" | "index" if !item_ok => {
                    let message = format!("`{root}` is only defined in a step with `for_each`");
                    let help = if own_id.is_some() && what.starts_with("step") {
                        "add `for_each:` to this step, or read a value from inputs or steps"
                            .to_string()
                    } else {
                        "`item` and `index` exist in a for_each step's `with` and `if`, not in its `for_each` list or in outputs".to_string()
                    };
                    self.error(e.pos, message, Some(help));
                }
                "env" => {
                    if let Some(name) = second
                        && !self.wf.env.iter().any(|n| n.value == name)
                    {
                        let declared: Vec<&str> =
                            self.wf.env.iter().map(|n| n.value.as_str()).collect();
                        let message = match suggest(name, declared.iter().copied()) {
                            Some(s) => format!(
                                "env.{name}: '{name}' is not declared (did you mean '{s}'?)"
                            ),
                            None => format!("env.{name}: '{name}' is not declared"),
                        };
                        let help = if psaflow_core::credentials::is_credential_variable(name) {
                            "expressions cannot read credentials; psaflow passes them to the connection itself".to_string()
                        } else if declared.is_empty() {
                            format!("expressions see only the variables listed at the top of the workflow: add `env: [{name}]`")
                        } else {
                            format!("add it to `env:` (declared: {})", declared.join(", "))
                        };
                        self.error(e.pos, message, Some(help));
                    }
                }
                "item" | "index" => {}
                // What `on_failure`/`finally` steps (and outputs) can read about the run.
                "run" if self.reads_run_ok(step_index) => {}
                r if BUILTIN_GLOBALS.contains(&r) => {}
                other if is_called(&e.body, other) => {
                    // `dayz_ago(3)`: a function; suggest the nearest function, else a filter
                    // of that spelling (`lenght(x)` is written `x | length`).
                    let message = match (
                        suggest(other, BUILTIN_GLOBALS.iter().copied()),
                        suggest(other, expr::KNOWN_FILTERS.iter().copied()),
                    ) {
                        (Some(f), _) => format!("unknown function '{other}' (did you mean '{f}'?)"),
                        (None, Some(f)) => format!(
                            "unknown function '{other}' (did you mean the filter '{f}': value | {f}?)"
                        ),
                        (None, None) => format!("unknown function '{other}'"),
                    };
                    self.error(
                        e.pos,
                        message,
                        Some(format!("functions: {}", BUILTIN_GLOBALS.join(", "))),
                    );
                }
                other => {
                    let roots = ["inputs", "steps", "env", "item", "index"];
                    let message = match suggest(other, roots) {
                        Some(s) => format!("unknown name '{other}' (did you mean '{s}'?)"),
                        None => format!("unknown name '{other}'"),
                    };
                    self.error(
                        e.pos,
                        message,
                        Some("expressions can read inputs.<name>, steps.<id>, env.<NAME>, and item/index inside for_each".into()),
                    );
                }
            }
        }
    }
}

/// When a text parameter is given a YAML number or boolean whose text as the node would get
/// it differs from what was written (`Name: 1.10` became "1.1", `0x1F` "31", `1e3` "1000.0"),
/// the message saying so; `None` when the written text is kept (`Name: 5`).
fn reread_as_text(name: &str, value: &Value, source: &str, pos: Pos) -> Option<String> {
    let (kind, canonical) = match value {
        Value::Number(n) => ("number", n.to_string()),
        Value::Bool(b) => ("boolean", b.to_string()),
        _ => return None,
    };
    let rest = source.get(pos.offset..)?;
    let written = match rest.get(..pos.len) {
        Some(text) if pos.len > 0 => text,
        // The scalar ends at the line's end, a comment, or a flow delimiter.
        _ => rest
            .split(['\n', '\r', ',', '}', ']'])
            .next()
            .unwrap_or("")
            .split(" #")
            .next()
            .unwrap_or(""),
    }
    .trim();
    if written.is_empty() || written == canonical {
        return None;
    }
    Some(format!(
        "{name} is text; {written} is read as the {kind} {canonical} — quote it: \"{written}\""
    ))
}

/// Whether `body` calls `name` as a function (`name(`), outside a longer name or a field.
fn is_called(body: &str, name: &str) -> bool {
    body.match_indices(name).any(|(at, _)| {
        let before = body[..at].chars().next_back();
        let starts = !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.');
        starts && body[at + name.len()..].trim_start().starts_with('(')
    })
}

/// The status fields every envelope has, beside the node's output key.
const ENVELOPE_FIELDS: [&str; 3] = ["StatusCode", "OriginalStatusCode", "ErrorMessage"];

impl Validator<'_> {
    /// `run` (status, failed_step, error) exists in `on_failure` and `finally` steps.
    fn reads_run_ok(&self, step_index: usize) -> bool {
        step_index >= self.wf.steps.len() && step_index < self.all.len()
    }
}

/// How to write a value of this type (for help lines).
fn type_hint(ty: &ParamType) -> String {
    match ty {
        ParamType::String => "text, e.g. Acme Ltd".into(),
        ParamType::Bool => "true or false".into(),
        ParamType::Integer { .. } => {
            "a whole number, e.g. 42, or an expression like ${{ steps.client.Client.id }}".into()
        }
        ParamType::Float => "a number, e.g. 4.5".into(),
        ParamType::Json => "any value".into(),
        ParamType::List { item } => format!("a list of {item}, e.g. [a, b]"),
        ParamType::Record { .. } => "a mapping of fields".into(),
        ParamType::Enum { cases } => format!("one of {}", cases.join(", ")),
    }
}

fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

/// Checks a literal value written in the file against a parameter type. Quoted numbers
/// for integer parameters are fine (`Id: "5"`): nodes read values by their type.
pub(crate) fn check_literal(value: &Value, ty: &ParamType) -> Result<(), String> {
    let fail = |expected: &str| Err(format!("expects {expected}, got {}", shown(value)));
    match ty {
        ParamType::String => match value {
            Value::String(_) | Value::Number(_) | Value::Bool(_) => Ok(()),
            _ => fail("text"),
        },
        ParamType::Bool => match value {
            Value::Bool(_) => Ok(()),
            Value::String(s) if s == "true" || s == "false" => Ok(()),
            _ => fail("true or false"),
        },
        ParamType::Integer { signed, bits } => {
            let n: Option<i128> = match value {
                Value::Number(n) => n.as_i64().map(i128::from).or(n.as_u64().map(i128::from)),
                Value::String(s) => s.trim().parse::<i128>().ok(),
                _ => None,
            };
            let Some(n) = n else {
                return fail("an integer");
            };
            let (min, max) = if *signed {
                (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
            } else {
                (0, (1i128 << bits) - 1)
            };
            if n < min || n > max {
                return Err(format!("expects an integer from {min} to {max}, got {n}"));
            }
            Ok(())
        }
        ParamType::Float => match value {
            Value::Number(_) => Ok(()),
            Value::String(s) if s.trim().parse::<f64>().is_ok() => Ok(()),
            _ => fail("a number"),
        },
        ParamType::Json => Ok(()),
        ParamType::List { item } => match value {
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    check_literal(v, item).map_err(|m| format!("item {i} {m}"))?;
                }
                Ok(())
            }
            Value::String(s) if matches!(serde_json::from_str::<Value>(s), Ok(Value::Array(_))) => {
                Ok(())
            }
            _ => fail("a list"),
        },
        ParamType::Record { .. } => match value {
            Value::Object(_) => Ok(()),
            Value::String(s)
                if matches!(serde_json::from_str::<Value>(s), Ok(Value::Object(_))) =>
            {
                Ok(())
            }
            _ => fail("a mapping"),
        },
        ParamType::Enum { cases } => match value {
            Value::String(s) if cases.contains(s) => Ok(()),
            Value::String(s) => match suggest(s, cases.iter().map(String::as_str)) {
                Some(c) => Err(format!(
                    "expects one of {}, got {:?} (did you mean '{c}'?)",
                    cases.join(", "),
                    s
                )),
                None => fail(&format!("one of {}", cases.join(", "))),
            },
            _ => fail(&format!("one of {}", cases.join(", "))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn literal_types() {
        let int = ParamType::Integer {
            signed: true,
            bits: 32,
        };
        assert!(check_literal(&json!(5), &int).is_ok());
        assert!(check_literal(&json!("5"), &int).is_ok());
        assert_eq!(
            check_literal(&json!("abc"), &int).unwrap_err(),
            "expects an integer, got \"abc\""
        );
        assert!(check_literal(&json!(1.5), &int).is_err());
        assert!(
            check_literal(
                &json!(-1),
                &ParamType::Integer {
                    signed: false,
                    bits: 8
                }
            )
            .is_err()
        );
        assert!(check_literal(&json!("yes"), &ParamType::Bool).is_err());
        assert!(
            check_literal(
                &json!([1, 2]),
                &ParamType::List {
                    item: Box::new(int.clone())
                }
            )
            .is_ok()
        );
        assert!(
            check_literal(
                &json!([1, "x"]),
                &ParamType::List {
                    item: Box::new(int)
                }
            )
            .is_err()
        );
        assert!(check_literal(&json!([1]), &ParamType::String).is_err());
    }
}
