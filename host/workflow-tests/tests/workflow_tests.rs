//! `psaflow test` end to end: fixture test files under tests/fixtures run through the real
//! runner, with real node components and a real sandbox for the cases that are not mocked.
//! `fixtures/pass` must pass as a whole; every case in `fixtures/fail` fails on purpose.
use psaflow_core::{ApiRequest, ApiResponse, BoxFuture, NodeInvoker, Transport, TransportError};
use psaflow_runtime::Runtime;
use psaflow_workflow_tests::{
    CaseReport, FailureKind, Outcome, TestOptions, TestReport, junit_xml, run_tests,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
}

fn fixture(rel: &str) -> PathBuf {
    fixtures().join(rel)
}

/// Built-in nodes with the compile cache every test binary of the workspace shares.
fn options() -> TestOptions {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("psaflow-cache");
    TestOptions {
        runtime: Arc::new(move |transport| {
            let runtime = Runtime::builder()
                .connection(psaflow_halopsa::CONNECTOR, transport)
                .cache_dir(Some(cache.clone()))
                .build()?;
            Ok(Arc::new(runtime) as Arc<dyn NodeInvoker>)
        }),
        ..TestOptions::default()
    }
}

async fn run(paths: &[PathBuf]) -> TestReport {
    run_tests(paths, &options()).await
}

fn case<'a>(report: &'a TestReport, name: &str) -> &'a CaseReport {
    report
        .cases
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no case {name:?} in\n{}", report.render()))
}

/// The failures of a case as one text.
fn failure_text(c: &CaseReport) -> String {
    c.failures
        .iter()
        .map(|f| f.detail.clone())
        .collect::<Vec<_>>()
        .join("\n")
}

/// 1-based line and column of the `nth` (0-based) occurrence of `needle` in a fixture.
fn position_of(rel: &str, needle: &str, nth: usize) -> (usize, usize) {
    let text = std::fs::read_to_string(fixture(rel)).unwrap();
    let offset = text
        .match_indices(needle)
        .nth(nth)
        .unwrap_or_else(|| panic!("{needle:?} not in {rel}"))
        .0;
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before[before.rfind('\n').map_or(0, |i| i + 1)..]
        .chars()
        .count()
        + 1;
    (line, column)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_sequence_passes_with_three_attempts_on_virtual_time() {
    let report = run(&[fixture("pass/retry.test.yaml")]).await;
    let c = case(&report, "two 500s then success");
    assert_eq!(c.outcome, Outcome::Passed, "{}", report.render());
    // Backoff 1s then 2s, on the virtual clock only.
    assert_eq!(
        c.waits,
        vec![Duration::from_secs(1), Duration::from_secs(2)]
    );
    assert_eq!(c.virtual_time, Duration::from_secs(3));
    assert_eq!(c.calls.len(), 3);
    assert!(
        c.calls
            .iter()
            .all(|call| call.mocked && call.step.as_deref() == Some("lookup"))
    );
    assert!(
        c.trace
            .contains("step lookup [halopsa.client.get]: succeeded, 3 attempts (mocked)"),
        "{}",
        c.trace
    );
    assert!(
        c.trace
            .contains("attempt 1 failed: HaloPSA could not be reached"),
        "{}",
        c.trace
    );
    assert!(c.trace.contains("retry in 2s"), "{}", c.trace);
    assert!(report.success());
    assert_eq!(report.summary_line(), "1 passed, 0 failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_sequence_fails_when_the_step_gives_up_after_two_attempts() {
    let report = run(&[fixture("fail/retry-too-few.test.yaml")]).await;
    let c = case(&report, "two 500s then success");
    assert_eq!(c.outcome, Outcome::Failed);
    assert!(!report.success());
    assert_eq!(report.summary_line(), "0 passed, 1 failed");
    // One wait before the second (last) attempt.
    assert_eq!(c.waits, vec![Duration::from_secs(1)]);
    assert_eq!(c.calls.len(), 2);
    let text = failure_text(c);
    assert!(
        text.contains("the run failed, expected it to have succeeded"),
        "{text}"
    );
    assert!(
        text.contains("step 'lookup' failed: HaloPSA could not be reached"),
        "{text}"
    );
    assert!(
        text.contains("step 'lookup' made 2 attempts, expected 3 attempts"),
        "{text}"
    );
    assert!(c.failures.iter().all(|f| f.kind == FailureKind::Assertion));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_assertion_shows_expected_actual_and_where() {
    let rel = "fail/assertions.test.yaml";
    let report = run(&[fixture(rel)]).await;
    let c = case(&report, "wrong client name");
    assert_eq!(c.outcome, Outcome::Failed);
    assert_eq!(c.failures.len(), 1, "{}", failure_text(c));
    let f = &c.failures[0];
    // The place of the expected value `Contoso` inside `envelope: { Client: { name: Contoso } }`.
    let (line, column) = position_of(rel, "{ name: Contoso }", 0);
    let location = format!(
        "{}:{line}:{}",
        fixture(rel).display(),
        column + "{ name: ".len()
    );
    assert_eq!(f.location, location);
    assert!(f.detail.contains(&location), "{}", f.detail);
    assert_eq!(f.message, "step 'client' envelope does not match");
    assert!(
        f.detail
            .contains(r#"expected (these keys at least): {"Client":{"name":"Contoso"}}"#),
        "{}",
        f.detail
    );
    assert!(f.detail.contains(r#"actual: {"StatusCode":200,"OriginalStatusCode":200,"ErrorMessage":"","Client":{"id":7,"name":"Contoso Ltd"}}"#), "{}", f.detail);
    assert!(
        f.detail
            .contains("  - Client.name: \"Contoso\"\n  + Client.name: \"Contoso Ltd\""),
        "{}",
        f.detail
    );
    // The test file line is shown with a caret.
    assert!(
        f.detail.contains("envelope: { Client: { name: Contoso } }"),
        "{}",
        f.detail
    );
    assert!(f.detail.contains("^^^^^^^"), "{}", f.detail);
    // And the human output carries it all, with the summary line alone on its line.
    let text = report.render();
    assert!(text.contains(&location), "{text}");
    assert!(text.lines().any(|l| l == "0 passed, 3 failed"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_and_sandbox_failures_say_what_came() {
    let report = run(&[fixture("fail/assertions.test.yaml")]).await;
    let c = case(&report, "calls and sandbox expectations that do not hold");
    let text = failure_text(c);
    assert_eq!(c.failures.len(), 2, "{text}");
    assert!(
        text.contains("calls of halopsa.client.create: expected 2, got 1"),
        "{text}"
    );
    assert!(
        text.contains(r#"call 1 by step 'client': {"Name":"Contoso"}"#),
        "{text}"
    );
    assert!(
        text.contains(r#"the sandbox does not hold a client matching {"name":"Contoso"}"#),
        "{text}"
    );
    assert!(text.contains("actual: 0 of"), "{text}");
    assert!(text.contains("closest: "), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_masked_in_failures_traces_and_junit() {
    let report = run(&[fixture("fail/assertions.test.yaml")]).await;
    let c = case(&report, "a secret never shows");
    assert_eq!(c.outcome, Outcome::Failed);
    let text = failure_text(c);
    assert!(text.contains("- Client.name: \"other\""), "{text}");
    assert!(text.contains("+ Client.name: \"***\""), "{text}");
    assert!(c.trace.contains(r#""name":"***""#), "{}", c.trace);
    for shown in [report.render(), junit_xml(&report), c.trace.clone()] {
        assert!(!shown.contains("hunter2-secret"), "{shown}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_case_creates_the_client_for_real() {
    let report = run(&[fixture("pass/onboard-sandbox.test.yaml")]).await;
    let c = case(&report, "creates the client and its site in the sandbox");
    assert_eq!(c.outcome, Outcome::Passed, "{}", report.render());
    assert_eq!(c.calls.len(), 2);
    assert!(
        c.calls.iter().all(|call| !call.mocked),
        "the nodes ran for real"
    );
    let client = c.calls[0].envelope.to_json();
    assert_eq!(client["OriginalStatusCode"], 201, "{client}");
    assert!(client["Client"]["id"].as_i64().unwrap() > 0, "{client}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mocks_answer_instead_of_nodes_and_calls_are_checked() {
    let report = run(&[fixture("pass/onboard-mocked.test.yaml")]).await;
    assert!(report.success(), "{}", report.render());
    assert_eq!(report.summary_line(), "3 passed, 0 failed, 1 skipped");
    let c = case(&report, "mocked client and site");
    let params: Vec<_> = c
        .calls
        .iter()
        .map(|call| {
            (
                call.node.as_str(),
                serde_json::Value::Object(call.params.clone()),
            )
        })
        .collect();
    assert_eq!(
        params,
        vec![
            (
                "halopsa.client.create",
                serde_json::json!({"Name": "Contoso"})
            ),
            (
                "halopsa.site.create",
                serde_json::json!({"Name": "Head office", "SiteClientId": 7})
            ),
        ]
    );
    let skipped = case(&report, "not run yet");
    assert_eq!(skipped.outcome, Outcome::Skipped);
    assert_eq!(
        skipped.skip_reason.as_deref(),
        Some("waiting for the user nodes")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_passing_fixture_passes_and_mock_delays_make_timeouts_instant() {
    let report = run(&[fixtures().join("pass")]).await;
    assert!(report.success(), "{}", report.render());
    assert_eq!(report.failed(), 0);
    // Every fixture file was found and contributed its cases.
    for entry in std::fs::read_dir(fixtures().join("pass")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            report.cases.iter().any(|c| c.file.ends_with(&name)),
            "no case from {name}: {}",
            report.render()
        );
    }
    let slow = case(&report, "a slow answer times out without waiting");
    assert_eq!(slow.virtual_time, Duration::from_secs(10));
    // Files come in path order, cases in file order, whatever order they finished in.
    let files: Vec<&str> = report
        .cases
        .iter()
        .map(|c| c.file.rsplit('/').next().unwrap())
        .collect();
    let mut sorted = files.clone();
    sorted.sort();
    assert_eq!(files, sorted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_workflow_fails_its_cases_with_the_diagnostic() {
    let report = run(&[fixture("fail/invalid-workflow.test.yaml")]).await;
    let c = case(&report, "never runs");
    assert_eq!(c.outcome, Outcome::Failed);
    assert_eq!(c.failures[0].kind, FailureKind::Error);
    let text = failure_text(c);
    assert!(text.contains("is invalid"), "{text}");
    assert!(text.contains("invalid.yaml:4:11"), "{text}");
    assert!(
        text.contains("halopsa.client.create"),
        "the diagnostic suggests the right node: {text}"
    );
    assert!(c.calls.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junit_xml_reads_back_with_real_parsers() {
    let report = run(&[fixtures().join("pass"), fixtures().join("fail")]).await;
    let xml = junit_xml(&report);

    // quick-junit's own deserializer.
    let parsed = quick_junit::Report::deserialize_from_str(&xml).expect("valid JUnit");
    assert_eq!(parsed.tests, report.cases.len());
    assert_eq!(parsed.failures + parsed.errors, report.failed());
    assert_eq!(parsed.test_suites.len(), 7);

    // An independent XML parser, reading the structure CI tools read.
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let suites: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 7);
    let suite = suites
        .iter()
        .find(|s| {
            s.attribute("name")
                .is_some_and(|n| n.ends_with("fail/assertions.test.yaml"))
        })
        .expect("a suite per test file, named by its path");
    assert_eq!(suite.attribute("tests"), Some("3"));
    assert_eq!(suite.attribute("failures"), Some("3"));
    let cases: Vec<_> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    let names: Vec<_> = cases.iter().filter_map(|c| c.attribute("name")).collect();
    assert_eq!(
        names,
        [
            "wrong client name",
            "calls and sandbox expectations that do not hold",
            "a secret never shows"
        ]
    );
    let failure = cases[0]
        .children()
        .find(|n| n.has_tag_name("failure"))
        .expect("a failure element");
    let message = failure.attribute("message").unwrap();
    assert!(
        message.contains("assertions.test.yaml:")
            && message.ends_with("step 'client' envelope does not match"),
        "{message}"
    );
    assert!(
        failure
            .text()
            .unwrap_or("")
            .contains("+ Client.name: \"Contoso Ltd\"")
    );
    let out = cases[0]
        .children()
        .find(|n| n.has_tag_name("system-out"))
        .and_then(|n| n.text())
        .unwrap();
    assert!(
        out.contains("step client [halopsa.client.create]: succeeded, 1 attempt (mocked)"),
        "{out}"
    );
    assert!(out.contains("envelope: {"), "{out}");

    // Passing and skipped cases.
    let retry = suites
        .iter()
        .find(|s| {
            s.attribute("name")
                .is_some_and(|n| n.ends_with("pass/retry.test.yaml"))
        })
        .unwrap();
    assert_eq!(
        (retry.attribute("tests"), retry.attribute("failures")),
        (Some("1"), Some("0"))
    );
    let skipped = doc
        .descendants()
        .filter(|n| n.has_tag_name("skipped"))
        .count();
    assert_eq!(skipped, 1);
    // The invalid workflow is an error, not an assertion failure.
    assert!(doc.descendants().any(|n| n.has_tag_name("error")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_paths_and_empty_folders_are_reported() {
    let report = run(&[fixture("does-not-exist")]).await;
    assert!(!report.success());
    assert!(
        report.problems[0].contains("no such file or folder"),
        "{:?}",
        report.problems
    );
    let empty = fixture("workflows");
    let report = run(&[empty]).await;
    assert!(
        report.problems[0].starts_with("no *.test.yaml files found"),
        "{:?}",
        report.problems
    );
    assert_eq!(report.summary_line(), "0 passed, 1 failed");
}

/// A runtime whose nodes never answer.
struct Hangs(Runtime);

impl NodeInvoker for Hangs {
    fn catalog(&self) -> &psaflow_core::Catalog {
        self.0.catalog()
    }
    fn invoke_recorded<'a>(
        &'a self,
        _: &'a str,
        _: serde_json::Map<String, serde_json::Value>,
        _: psaflow_core::CallLog,
    ) -> BoxFuture<'a, psaflow_core::Envelope> {
        Box::pin(std::future::pending())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_that_hangs_fails_after_the_real_time_limit() {
    let options = TestOptions {
        runtime: Arc::new(|transport| {
            let runtime = Runtime::builder()
                .connection(psaflow_halopsa::CONNECTOR, transport)
                .cache_dir(None)
                .build()?;
            Ok(Arc::new(Hangs(runtime)) as Arc<dyn NodeInvoker>)
        }),
        case_timeout: Duration::from_millis(300),
        ..TestOptions::default()
    };
    let rel = "pass/onboard-sandbox.test.yaml";
    let report = run_tests(&[fixture(rel)], &options).await;
    let c = case(&report, "creates the client and its site in the sandbox");
    assert_eq!(c.outcome, Outcome::Failed);
    assert_eq!(c.failures[0].kind, FailureKind::Error);
    assert_eq!(
        c.failures[0].message,
        "the case did not finish within 300ms of real time"
    );
    let (line, column) = position_of(rel, "- name: creates", 0);
    assert_eq!(
        c.failures[0].location,
        format!("{}:{line}:{}", fixture(rel).display(), column + 2)
    );
}

/// A transport for a runtime that only lists nodes.
struct Nowhere;

impl Transport for Nowhere {
    fn send(&self, _: ApiRequest) -> BoxFuture<'_, Result<ApiResponse, TransportError>> {
        Box::pin(async {
            Err(TransportError::Unreachable(
                "no network in this test".into(),
            ))
        })
    }
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
}

#[test]
fn the_schema_accepts_what_psaflow_accepts_and_flags_mistakes() {
    let runtime = Runtime::builder()
        .connection(psaflow_halopsa::CONNECTOR, Arc::new(Nowhere))
        .cache_dir(None)
        .build()
        .unwrap();
    let catalog = runtime.catalog();
    let schema = psaflow_workflow_tests::combined_schema(catalog);
    assert!(
        jsonschema::meta::is_valid(&schema),
        "the schema itself is valid draft-07"
    );
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors = |doc: &serde_json::Value| -> Vec<String> {
        validator.iter_errors(doc).map(|e| e.to_string()).collect()
    };

    // Every workflow psaflow validates, and every test file it reads, passes the schema.
    let mut files = Vec::new();
    yaml_files(&fixtures(), &mut files);
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    if examples.is_dir() {
        yaml_files(&examples, &mut files);
    }
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let doc: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
        let is_test = psaflow_workflow_tests::is_test_file(file);
        let accepted = is_test
            || psaflow_workflow::load(file)
                .is_ok_and(|wf| psaflow_workflow::validate(&wf, catalog).is_ok());
        let found = errors(&doc);
        if accepted {
            assert!(found.is_empty(), "{}: {found:?}", file.display());
            checked += 1;
        } else {
            assert!(
                !found.is_empty(),
                "{} is invalid but the schema accepts it",
                file.display()
            );
        }
    }
    assert!(checked >= 12, "{checked}");

    let workflow = |with: serde_json::Value| serde_json::json!({"name": "x", "steps": [{"id": "a", "node": "halopsa.site.create", "with": with}]});
    assert!(
        errors(&workflow(
            serde_json::json!({"Name": "HQ", "SiteClientId": "${{ steps.c.Client.id }}"})
        ))
        .is_empty()
    );
    for (mistake, doc) in [
        (
            "a misspelt parameter",
            workflow(serde_json::json!({"Name": "HQ", "SiteClientId": 1, "Nmae": "x"})),
        ),
        (
            "a missing required parameter",
            workflow(serde_json::json!({"Name": "HQ"})),
        ),
        (
            "text for an integer",
            workflow(serde_json::json!({"Name": "HQ", "SiteClientId": "one"})),
        ),
        (
            "an unknown node",
            serde_json::json!({"name": "x", "steps": [{"id": "a", "node": "halopsa.site.craete"}]}),
        ),
        (
            "a misspelt expectation",
            serde_json::json!({"workflow": "w.yaml", "cases": [{"name": "a", "expect": {"stauts": "failed"}}]}),
        ),
        (
            "a bad delay",
            serde_json::json!({"workflow": "w.yaml", "cases": [{"name": "a", "mocks": {"s": {"delay": "soon", "envelope": {}}}}]}),
        ),
    ] {
        assert!(!errors(&doc).is_empty(), "the schema misses {mistake}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_worded_for_a_test_file() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("worded-for-a-test-file");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("waits.yaml"),
        "name: waits
inputs:
  client_name: { type: string, required: true }
steps:
  - id: lookup
    node: halopsa.client.get
    approval:
      message: Look ${{ inputs.client_name }} up?
    with:
      Id: 7
",
    )
    .unwrap();
    let file = dir.join("waits.test.yaml");
    std::fs::write(
        &file,
        "workflow: waits.yaml
cases:
  - name: no input
  - name: not decided
    inputs: { client_name: Contoso }
    mocks:
      lookup:
        - { StatusCode: 200, Client: { id: 7, name: Contoso } }
",
    )
    .unwrap();
    let report = run(&[file]).await;
    let text = failure_text(case(&report, "no input"));
    assert!(text.contains("input 'client_name' is required"), "{text}");
    assert!(
        text.contains("give it in the case's inputs, e.g. `inputs: {client_name: ...}`"),
        "{text}"
    );
    assert!(!text.contains("--input"), "{text}");
    let text = failure_text(case(&report, "not decided"));
    assert!(
        text.contains("the run is waiting for approval, expected it to have succeeded"),
        "{text}"
    );
}
