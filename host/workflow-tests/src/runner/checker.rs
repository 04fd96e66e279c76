//! Checking a case's expectations (status, error, outputs, steps, calls, sandbox records,
//! `${{ }}` assertions) against its run, as failures with positions in the test file.
use super::FileCtx;
use crate::invoker::{Call, CaseBackend};
use crate::matching::{self, Mismatch, Mode, show};
use crate::report::{Failure, FailureKind};
use crate::spec::{self, CaseSpec, Expect};
use crate::yaml::Node;
use psaflow_core::VirtualClock;
use psaflow_workflow::expr::text as expr;
use psaflow_workflow::{Pos, RunReport, StepStatus, format_duration};
use serde_json::Value;
use std::time::Duration;

/// Checks a case's expectations against its run.
pub(super) struct Checker<'a> {
    pub(super) file: &'a FileCtx,
    pub(super) case: &'a CaseSpec,
    pub(super) run: &'a RunReport,
    pub(super) calls: &'a [Call],
    pub(super) context: &'a Value,
    pub(super) clock: &'a VirtualClock,
}

/// `expected: ... / actual: ... / diff:` lines of a failed comparison.
fn comparison_lines(
    expected: &Node,
    actual: Option<&Value>,
    mode: Mode,
    mismatches: &[Mismatch],
) -> Vec<String> {
    let how = match mode {
        Mode::Subset => " (these keys at least)",
        Mode::Exact => " (exactly)",
    };
    let mut lines = vec![
        format!("expected{how}: {}", show(&expected.to_json())),
        format!(
            "actual: {}",
            actual.map_or_else(|| "(missing)".to_string(), show)
        ),
        "diff:".to_string(),
    ];
    for m in mismatches {
        for l in m.diff_lines() {
            lines.push(format!("  {l}"));
        }
    }
    lines
}

pub(super) fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

impl Checker<'_> {
    fn fail(&self, pos: Pos, message: impl Into<String>, body: Vec<String>) -> Failure {
        self.file
            .failure(FailureKind::Assertion, pos, message, body)
    }

    /// Compares and, when different, fails at the first differing expected value.
    fn compare(
        &self,
        message: String,
        expected: &Node,
        actual: Option<&Value>,
        mode: Mode,
    ) -> Option<Failure> {
        let mismatches = matching::compare(expected, actual, mode, self.context);
        let first = mismatches.first()?;
        let pos = if first.pos.is_known() {
            first.pos
        } else {
            expected.pos
        };
        Some(self.fail(
            pos,
            message,
            comparison_lines(expected, actual, mode, &mismatches),
        ))
    }

    /// Why the run failed, in lines (for status failures).
    fn run_errors(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(e) = &self.run.error {
            lines.push(format!("run error: {e}"));
        }
        for s in &self.run.steps {
            if s.status == StepStatus::Failed {
                lines.push(format!(
                    "step '{}' failed: {}",
                    s.id,
                    s.error.as_deref().unwrap_or("failed")
                ));
            }
        }
        lines
    }

    pub(super) fn run_expectations(&self, e: &Expect) -> Vec<Failure> {
        let mut out = Vec::new();
        let (want, pos) = match &e.status {
            Some(s) => (s.value.as_str(), s.pos),
            None => ("succeeded", self.case.pos),
        };
        let got = self.run.status.as_str();
        if want != got {
            let mut body = vec![format!("expected: {want}"), format!("actual: {got}")];
            if e.status.is_none() {
                body.push("(a case expects `status: succeeded` unless it says otherwise)".into());
            }
            body.extend(self.run_errors());
            out.push(self.fail(
                pos,
                format!("the run {}, expected it to {}", ended(got), expected(want)),
                body,
            ));
        }
        if let Some(want) = &e.error {
            let mut texts: Vec<String> = self.run.error.iter().cloned().collect();
            texts.extend(self.run.steps.iter().filter_map(|s| s.error.clone()));
            if !texts.iter().any(|t| t.contains(&want.value)) {
                let mut body = vec![format!("expected an error containing: {:?}", want.value)];
                if texts.is_empty() {
                    body.push("actual: no error".into());
                } else {
                    body.extend(texts.iter().map(|t| format!("actual: {t}")));
                }
                out.push(self.fail(want.pos, "no error contains the expected text", body));
            }
        }
        for s in &e.steps {
            out.extend(self.step(s));
        }
        if let Some(outputs) = &e.outputs {
            let actual = Value::Object(self.run.outputs.clone());
            out.extend(self.compare(
                "outputs do not match".into(),
                outputs,
                Some(&actual),
                Mode::Subset,
            ));
        }
        for c in &e.calls {
            out.extend(self.calls_of(c));
        }
        if let Some(waits) = &e.waits {
            let got = self.clock.sleeps();
            let same = got.len() == waits.value.len()
                && got
                    .iter()
                    .zip(&waits.value)
                    .all(|(a, b)| a.as_millis() == b.as_millis());
            if !same {
                let show_list = |l: &[Duration]| {
                    format!(
                        "[{}]",
                        l.iter()
                            .map(|d| format_duration(*d))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                out.push(self.fail(
                    waits.pos,
                    "the virtual clock's waits do not match",
                    vec![
                        format!("expected: {}", show_list(&waits.value)),
                        format!("actual: {}", show_list(&got)),
                    ],
                ));
            }
        }
        for a in &e.assert {
            match expr::eval_string(&a.value, self.context) {
                Ok(Value::Bool(true)) => {}
                Ok(other) => out.push(self.fail(
                    a.pos,
                    "the check is not true",
                    vec![
                        format!("expected: {} to be true", a.value),
                        format!("actual: {}", show(&other)),
                    ],
                )),
                Err(err) => out.push(self.fail(
                    a.pos,
                    "the check could not be evaluated",
                    vec![
                        format!("expected: {} to be true", a.value),
                        format!("actual: error: {err}"),
                    ],
                )),
            }
        }
        out
    }

    fn step(&self, s: &spec::StepExpect) -> Vec<Failure> {
        let mut out = Vec::new();
        let Some(step) = self.run.step(&s.id.value) else {
            return out;
        };
        let what = format!("step '{}'", s.id.value);
        if let Some(want) = &s.status
            && want.value != step.status.as_str()
        {
            let mut body = vec![
                format!("expected: {}", want.value),
                format!("actual: {}", step.status.as_str()),
            ];
            if let Some(e) = step.error.as_deref().or(step.skip_reason.as_deref()) {
                body.push(format!("because: {e}"));
            }
            out.push(self.fail(
                want.pos,
                format!("{what} {}, expected {}", step.status.as_str(), want.value),
                body,
            ));
        }
        if let Some(want) = &s.attempts
            && want.value != u64::from(step.attempts)
        {
            out.push(self.fail(
                want.pos,
                format!(
                    "{what} made {}, expected {}",
                    plural(step.attempts.into(), "attempt"),
                    plural(want.value, "attempt")
                ),
                vec![
                    format!("expected: {}", want.value),
                    format!("actual: {}", step.attempts),
                ],
            ));
        }
        let envelope = step.context_value();
        if let Some(node) = &s.envelope {
            out.extend(self.compare(
                format!("{what} envelope does not match"),
                node,
                Some(&envelope),
                Mode::Subset,
            ));
        }
        if let Some(node) = &s.envelope_equals {
            out.extend(self.compare(
                format!("{what} envelope does not match"),
                node,
                Some(&envelope),
                Mode::Exact,
            ));
        }
        if let Some(node) = &s.params {
            // The parameters of the step's last call (as sent, before masking).
            let sent = self
                .calls
                .iter()
                .rev()
                .find(|c| c.step.as_deref() == Some(s.id.value.as_str()))
                .map(|c| Value::Object(c.params.clone()));
            let sent = sent.or_else(|| step.params.clone().map(Value::Object));
            out.extend(self.compare(
                format!("{what} parameters do not match"),
                node,
                sent.as_ref(),
                Mode::Subset,
            ));
        }
        if let Some(want) = &s.error {
            let got = step.error.as_deref().unwrap_or("");
            if !got.contains(&want.value) {
                out.push(self.fail(
                    want.pos,
                    format!("{what}'s error does not contain the expected text"),
                    vec![
                        format!("expected an error containing: {:?}", want.value),
                        format!("actual: {}", if got.is_empty() { "no error" } else { got }),
                    ],
                ));
            }
        }
        out
    }

    fn calls_of(&self, c: &spec::CallExpect) -> Vec<Failure> {
        let key = c.key.value.as_str();
        let by_node = key.contains('.');
        let calls: Vec<&Call> = self
            .calls
            .iter()
            .filter(|call| {
                if by_node {
                    call.node == key
                } else {
                    call.step.as_deref() == Some(key)
                }
            })
            .collect();
        let what = if by_node {
            format!("calls of {key}")
        } else {
            format!("calls made by step '{key}'")
        };
        let mut out = Vec::new();
        let summary = |calls: &[&Call]| -> Vec<String> {
            calls
                .iter()
                .enumerate()
                .map(|(i, call)| {
                    let by = call
                        .step
                        .as_deref()
                        .map(|s| format!(" by step '{s}'"))
                        .unwrap_or_default();
                    format!(
                        "  call {}{by}: {}",
                        i + 1,
                        show(&Value::Object(call.params.clone()))
                    )
                })
                .collect()
        };
        if let Some(times) = &c.times
            && times.value != calls.len() as u64
        {
            let mut body = vec![
                format!("expected: {}", plural(times.value, "call")),
                format!("actual: {}", plural(calls.len() as u64, "call")),
            ];
            body.extend(summary(&calls));
            out.push(self.fail(
                times.pos,
                format!("{what}: expected {}, got {}", times.value, calls.len()),
                body,
            ));
        }
        let Some(with) = &c.with else { return out };
        match with.as_seq() {
            Some(per_call) => {
                if per_call.len() != calls.len() && c.times.is_none() {
                    let mut body = vec![
                        format!(
                            "expected: {} (one per entry of `with`)",
                            plural(per_call.len() as u64, "call")
                        ),
                        format!("actual: {}", plural(calls.len() as u64, "call")),
                    ];
                    body.extend(summary(&calls));
                    out.push(self.fail(
                        with.pos,
                        format!("{what}: expected {}, got {}", per_call.len(), calls.len()),
                        body,
                    ));
                }
                for (i, (node, call)) in per_call.iter().zip(&calls).enumerate() {
                    let params = Value::Object(call.params.clone());
                    out.extend(self.compare(
                        format!("{what}: the parameters of call {} do not match", i + 1),
                        node,
                        Some(&params),
                        Mode::Subset,
                    ));
                }
            }
            None => {
                if calls.is_empty() && c.times.as_ref().is_none_or(|t| t.value > 0) {
                    out.push(self.fail(
                        with.pos,
                        format!(
                            "{what}: expected calls with these parameters, but there were none"
                        ),
                        vec![
                            format!("expected: {}", show(&with.to_json())),
                            "actual: no calls".into(),
                        ],
                    ));
                }
                for (i, call) in calls.iter().enumerate() {
                    let params = Value::Object(call.params.clone());
                    out.extend(self.compare(
                        format!("{what}: the parameters of call {} do not match", i + 1),
                        with,
                        Some(&params),
                        Mode::Subset,
                    ));
                }
            }
        }
        out
    }

    pub(super) async fn sandbox_expectations(
        &self,
        e: &Expect,
        backend: &CaseBackend,
    ) -> Vec<Failure> {
        let mut out = Vec::new();
        if e.sandbox.is_empty() {
            return out;
        }
        let sandbox = match backend.sandbox().await {
            Ok(s) => s,
            Err(err) => {
                out.push(
                    self.file
                        .failure(FailureKind::Error, e.sandbox[0].pos, err, Vec::new()),
                );
                return out;
            }
        };
        for s in &e.sandbox {
            let records = sandbox.records(s.entity);
            let matching: Vec<&Value> = records
                .iter()
                .filter(|r| matching::matches(&s.filter, r, self.context))
                .collect();
            let filter = show(&s.filter.to_json());
            let (ok, wanted) = match (&s.count, s.exists) {
                (Some(n), _) => (
                    matching.len() as u64 == n.value,
                    format!("{} {} matching {filter}", n.value, s.entity_name),
                ),
                (None, true) => (
                    !matching.is_empty(),
                    format!("a {} matching {filter}", s.entity_name),
                ),
                (None, false) => (
                    matching.is_empty(),
                    format!("no {} matching {filter}", s.entity_name),
                ),
            };
            if ok {
                continue;
            }
            let mut pos = if s.filter.pos.is_known() {
                s.filter.pos
            } else {
                s.pos
            };
            let mut body = vec![
                format!("expected: {wanted}"),
                format!(
                    "actual: {} of {} {} record(s) match",
                    matching.len(),
                    records.len(),
                    s.entity_name
                ),
            ];
            if matching.is_empty() {
                // The record closest to the filter, and how it differs.
                let closest = records
                    .iter()
                    .map(|r| {
                        (
                            matching::compare(&s.filter, Some(r), Mode::Subset, self.context),
                            r,
                        )
                    })
                    .min_by_key(|(m, _)| m.len());
                if let Some((mismatches, record)) = closest {
                    // Point at the first field the closest record gets wrong.
                    if let Some(first) = mismatches.first().filter(|m| m.pos.is_known()) {
                        pos = first.pos;
                    }
                    body.push(format!("closest: {}", show(record)));
                    body.push("diff:".into());
                    for m in &mismatches {
                        body.extend(m.diff_lines().into_iter().map(|l| format!("  {l}")));
                    }
                }
            } else {
                for r in matching.iter().take(3) {
                    body.push(format!("found: {}", show(r)));
                }
            }
            out.push(self.fail(pos, format!("the sandbox does not hold {wanted}"), body));
        }
        out
    }
}

/// How a run ended, after "the run ": `failed`, `is waiting for approval`.
fn ended(status: &str) -> String {
    match status {
        "waiting_approval" => "is waiting for approval".to_string(),
        other => other.to_string(),
    }
}

/// What a case expected, after "expected it to ": `have succeeded`, `wait for approval`.
fn expected(status: &str) -> String {
    match status {
        "waiting_approval" => "wait for approval".to_string(),
        other => format!("have {other}"),
    }
}

#[cfg(test)]
pub(super) mod tests {
    //! The checker against real runs of a two-step workflow through a canned invoker (no
    //! components, no sandbox): each kind of expectation passes when it holds and fails with
    //! a message, a position in the test file and the expected/actual lines when it does not.
    use super::*;
    use psaflow_core::{
        BoxFuture, Catalog, Effect, Envelope, NodeInvoker, NodeSpec, ParamSpec, ParamType,
    };
    use psaflow_workflow::RunOptions;
    use serde_json::{Map, json};
    use std::path::Path;

    const WORKFLOW: &str = "\
name: rename
inputs:
  id: { type: integer, required: true }
steps:
  - id: find
    node: demo.thing.get
    with:
      Id: ${{ inputs.id }}
  - id: rename
    node: demo.thing.update
    with:
      Id: ${{ steps.find.Thing.id }}
      Name: renamed
outputs:
  name: ${{ steps.rename.Thing.name }}
";

    pub(in crate::runner) fn node(id: &str, effect: Effect, params: &[&str]) -> NodeSpec {
        let mut parts = id.split('.').skip(1);
        NodeSpec {
            id: id.into(),
            resource: parts.next().unwrap().into(),
            operation: parts.next().unwrap().into(),
            source: "built-in".into(),
            params: params
                .iter()
                .map(|p| ParamSpec {
                    name: (*p).into(),
                    wit_name: psaflow_core::names::pascal_to_kebab(p),
                    ty: if *p == "Id" {
                        ParamType::Integer {
                            signed: true,
                            bits: 64,
                        }
                    } else {
                        ParamType::String
                    },
                    required: *p == "Id",
                    description: String::new(),
                })
                .collect(),
            connector: Some("demo".into()),
            output_key: "Thing".into(),
            effect,
            idempotent: true,
            ..NodeSpec::default()
        }
    }

    /// Answers every node with `{"Thing": {"id": <Id>, "name": <Name or "old">}}`.
    pub(in crate::runner) struct Canned(pub(in crate::runner) Catalog);

    impl NodeInvoker for Canned {
        fn catalog(&self) -> &Catalog {
            &self.0
        }
        fn invoke_recorded<'a>(
            &'a self,
            _node: &'a str,
            params: Map<String, Value>,
            _calls: psaflow_core::CallLog,
        ) -> BoxFuture<'a, Envelope> {
            Box::pin(async move {
                let name = params.get("Name").cloned().unwrap_or(json!("old"));
                Envelope::from_json(&json!({
                    "StatusCode": 200, "OriginalStatusCode": 200, "ErrorMessage": "",
                    "Thing": {"id": params["Id"], "name": name}
                }))
                .unwrap()
            })
        }
    }

    /// Runs the workflow with `id`, then checks the one case of `test_file` against it.
    async fn check(test_file: &str) -> Vec<Failure> {
        let mut catalog = Catalog::new();
        catalog.insert(node("demo.thing.get", Effect::Read, &["Id"]));
        catalog.insert(node("demo.thing.update", Effect::Update, &["Id", "Name"]));
        let invoker = Canned(catalog);
        let wf = psaflow_workflow::parse(WORKFLOW, "rename.yaml").expect("workflow parses");
        let spec = spec::parse(test_file, Path::new("rename.test.yaml"));
        assert!(spec.problems.is_empty(), "{:?}", spec.problems);
        let case = spec.cases.into_iter().next().expect("one case");
        let inputs: Map<String, Value> = case
            .inputs
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let run = psaflow_workflow::run(
            &wf,
            &invoker,
            RunOptions {
                inputs: inputs.clone(),
                ..RunOptions::default()
            },
        )
        .await;
        assert!(run.succeeded(), "{}", run.to_json());
        let calls: Vec<Call> = run
            .steps
            .iter()
            .map(|s| Call {
                step: Some(s.id.clone()),
                node: s.node.clone(),
                params: s.params.clone().unwrap_or_default(),
                envelope: s.envelope.clone().expect("every step ran"),
                mocked: false,
            })
            .collect();
        let clock = VirtualClock::new();
        let context = json!({"outputs": run.outputs, "status": run.status.as_str()});
        let file = FileCtx {
            display: "rename.test.yaml".into(),
            suite: "rename".into(),
            source: spec.source.clone(),
        };
        let checker = Checker {
            file: &file,
            case: &case,
            run: &run,
            calls: &calls,
            context: &context,
            clock: &clock,
        };
        checker.run_expectations(&case.expect)
    }

    fn case(expect: &str) -> String {
        format!(
            "workflow: rename.yaml\ncases:\n  - name: c\n    inputs: {{ id: 7 }}\n    expect:\n{expect}"
        )
    }

    #[tokio::test]
    async fn expectations_that_hold_pass() {
        let failures = check(&case(
            "      outputs: { name: renamed }\n      calls:\n        demo.thing.update: { times: 1, with: { Id: 7 } }\n      steps:\n        find: { params: { Id: 7 } }\n",
        ))
        .await;
        assert!(failures.is_empty(), "{failures:#?}");
    }

    #[tokio::test]
    async fn a_wrong_output_fails_at_the_value_with_a_diff() {
        let failures = check(&case("      outputs: { name: other }\n")).await;
        assert_eq!(failures.len(), 1, "{failures:#?}");
        let f = &failures[0];
        assert_eq!(f.message, "outputs do not match");
        assert_eq!(f.location, "rename.test.yaml:6:24", "{f:?}");
        assert!(f.detail.contains("- name: \"other\""), "{}", f.detail);
        assert!(f.detail.contains("+ name: \"renamed\""), "{}", f.detail);
    }

    #[tokio::test]
    async fn a_wrong_call_count_names_the_calls_made() {
        let failures = check(&case(
            "      calls:\n        demo.thing.update: { times: 2 }\n",
        ))
        .await;
        assert_eq!(failures.len(), 1, "{failures:#?}");
        let f = &failures[0];
        assert!(f.message.contains("demo.thing.update"), "{}", f.message);
        assert!(f.detail.contains("call 1 by step 'rename'"), "{}", f.detail);
    }

    #[tokio::test]
    async fn a_call_with_other_parameters_fails() {
        let failures = check(&case(
            "      calls:\n        demo.thing.update: { times: 1, with: { Name: kept } }\n",
        ))
        .await;
        assert_eq!(failures.len(), 1, "{failures:#?}");
        assert!(
            failures[0].detail.contains("renamed"),
            "{}",
            failures[0].detail
        );
    }

    #[tokio::test]
    async fn an_expected_failure_that_did_not_happen_says_so() {
        let failures = check(&case("      status: failed\n")).await;
        assert_eq!(failures.len(), 1, "{failures:#?}");
        let f = &failures[0];
        assert!(f.detail.contains("expected: failed"), "{}", f.detail);
        assert!(f.detail.contains("actual: succeeded"), "{}", f.detail);
        assert_eq!(f.kind, FailureKind::Assertion);
    }
}

