//! Running workflows against a fake invoker on a virtual clock.
mod common;

use common::{Fake, business_error, ok, run, system_error};
use psaflow_core::{Clock, VirtualClock};
use psaflow_workflow::{HumanRenderer, RunObserver, RunOptions, RunStatus, StepStatus};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ONBOARD: &str = r#"name: onboard-client
inputs:
  client_name: { type: string, required: true }
  count: { type: integer, default: 3 }
steps:
  - id: client
    node: halopsa.client.create
    with:
      Name: ${{ inputs.client_name }}
  - id: site
    node: halopsa.site.create
    with:
      Name: "Site of ${{ inputs.client_name | upper }} (${{ inputs.count }})"
      SiteClientId: ${{ steps.client.Client.id }}
outputs:
  client_id: ${{ steps.client.Client.id }}
  site: ${{ steps.site.Site }}
"#;

#[tokio::test]
async fn sequential_steps_pass_typed_values_and_interpolate_strings() {
    let fake = Fake::new();
    let (report, _) = run(ONBOARD, &fake, json!({"client_name": "Acme"})).await;
    assert!(report.succeeded(), "{:?}", report.error);
    let calls = fake.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].1.get("Name"), Some(&json!("Acme")));
    // A whole-value expression keeps its JSON type: an integer, not "101".
    assert_eq!(calls[1].1.get("SiteClientId"), Some(&json!(101)));
    assert_eq!(calls[1].1.get("Name"), Some(&json!("Site of ACME (3)")));
    assert_eq!(report.outputs.get("client_id"), Some(&json!(101)));
    assert_eq!(
        report.outputs.get("site"),
        Some(&json!({"id": 502, "client_id": 101}))
    );
}

#[tokio::test]
async fn report_json_has_the_contract_shape() {
    let fake = Fake::new();
    let (report, _) = run(ONBOARD, &fake, json!({"client_name": "Acme"})).await;
    let j = report.to_json();
    assert_eq!(j["status"], json!("succeeded"));
    assert_eq!(j["outputs"]["client_id"], json!(101));
    assert_eq!(j["steps"]["client"]["status"], json!("succeeded"));
    assert_eq!(
        j["steps"]["client"]["envelope"],
        json!({"StatusCode": 200, "OriginalStatusCode": 200, "ErrorMessage": "", "Client": {"id": 101, "name": "Acme"}})
    );
    let keys: Vec<&String> = j["steps"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["client", "site"], "steps keep workflow order");
}

#[tokio::test]
async fn an_undefined_field_fails_the_step_with_a_suggestion_and_sends_nothing() {
    let yaml = ONBOARD.replace(
        "SiteClientId: ${{ steps.client.Client.id }}",
        "SiteClientId: ${{ steps.client.Client.idd }}",
    );
    let fake = Fake::new();
    let (report, _) = run(&yaml, &fake, json!({"client_name": "Acme"})).await;
    assert_eq!(report.status, RunStatus::Failed);
    let site = report.step("site").unwrap();
    assert_eq!(site.status, StepStatus::Failed);
    let err = site.error.as_deref().unwrap();
    assert!(err.starts_with("wf.yaml:14:21: "), "{err}");
    assert!(
        err.contains("steps.client.Client has no field 'idd' (did you mean 'id'?)"),
        "{err}"
    );
    assert_eq!(site.envelope.as_ref().unwrap().status_code, -1);
    assert!(fake.calls_of("halopsa.site.create").is_empty());
}

#[tokio::test]
async fn if_false_skips_the_step_and_later_steps_see_null() {
    let yaml = r#"name: t
inputs:
  vip: { type: boolean, default: false }
steps:
  - id: a
    node: halopsa.client.create
    if: inputs.vip
    with: { Name: x }
  - id: b
    node: halopsa.client.create
    if: ${{ steps.a == none }}
    with: { Name: y }
"#;
    let fake = Fake::new();
    let (report, _) = run(yaml, &fake, json!({})).await;
    assert!(report.succeeded());
    assert_eq!(report.step("a").unwrap().status, StepStatus::Skipped);
    assert_eq!(report.step("b").unwrap().status, StepStatus::Succeeded);
    assert_eq!(fake.calls().len(), 1);
    assert_eq!(report.to_json()["steps"]["a"]["envelope"], Value::Null);

    let fake = Fake::new();
    let (report, _) = run(yaml, &fake, json!({"vip": true})).await;
    assert_eq!(report.step("a").unwrap().status, StepStatus::Succeeded);
    assert_eq!(report.step("b").unwrap().status, StepStatus::Skipped);
}

const LOOP: &str = r#"name: t
steps:
  - id: open
    node: halopsa.ticket.get-many
  - id: close_each
    node: halopsa.ticket.update
    for_each: ${{ steps.open.Tickets.tickets }}
    if: ${{ item.agent_id == 4 }}
    with:
      Id: ${{ item.id }}
outputs:
  closed: ${{ steps.close_each | select | list | length }}
"#;

#[tokio::test]
async fn for_each_with_per_item_if_keeps_input_order_and_nulls_for_skipped_items() {
    let fake = Fake::new();
    let (report, _) = run(LOOP, &fake, json!({})).await;
    assert!(report.succeeded(), "{:?}", report.error);
    let ids: Vec<_> = fake
        .calls_of("halopsa.ticket.update")
        .iter()
        .map(|p| p["Id"].clone())
        .collect();
    assert_eq!(ids, vec![json!(1), json!(3)]);
    let j = report.to_json();
    let envs = j["steps"]["close_each"]["envelopes"].as_array().unwrap();
    assert_eq!(envs.len(), 3);
    assert_eq!(envs[0]["Ticket"]["id"], json!(1));
    assert_eq!(envs[1], Value::Null, "an item skipped by `if` is null");
    assert_eq!(envs[2]["Ticket"]["id"], json!(3));
    assert_eq!(report.outputs["closed"], json!(2));
    assert_eq!(report.step("close_each").unwrap().item_counts(), (2, 0, 1));
}

#[tokio::test]
async fn for_each_concurrency_is_bounded_and_results_stay_in_input_order() {
    let yaml = r#"name: t
inputs:
  ids: { type: list }
steps:
  - id: upd
    node: halopsa.ticket.update
    for_each: ${{ inputs.ids }}
    concurrency: 3
    with: { Id: "${{ item }}" }
"#;
    // Later items finish first: item Id n yields (20 - n) times.
    let fake = Fake::new().yields(|p| 20 - usize::try_from(p["Id"].as_u64().unwrap()).unwrap());
    let ids: Vec<u64> = (1..=10).collect();
    let (report, _) = run(yaml, &fake, json!({"ids": ids})).await;
    assert!(report.succeeded());
    let max = fake.max_in_flight.load(std::sync::atomic::Ordering::SeqCst);
    assert!(max <= 3, "at most 3 in flight, saw {max}");
    assert!(max >= 2, "items do overlap, saw {max}");
    let step = report.step("upd").unwrap();
    let got: Vec<Value> = step
        .envelopes()
        .unwrap()
        .iter()
        .map(|e| e.as_ref().unwrap().output["id"].clone())
        .collect();
    assert_eq!(got, ids.iter().map(|i| json!(i)).collect::<Vec<_>>());
}

#[tokio::test]
async fn outputs_spilled_to_the_temporary_file_read_back_as_they_were_given() {
    let yaml = r#"name: t
inputs:
  ids: { type: list }
steps:
  - id: upd
    node: halopsa.client.update
    for_each: ${{ inputs.ids }}
    concurrency: 4
    if: ${{ item != 5 }}
    with: { Id: "${{ item }}", Name: "Client ${{ item }} — naïve café" }
outputs:
  third: ${{ steps.upd[2] }}
  twelfth: ${{ steps.upd[11].Client.name }}
  skipped: ${{ steps.upd[4] }}
"#;
    let ids: Vec<u64> = (1..=12).collect();
    let report_with = |allowance: usize| {
        let ids = ids.clone();
        async move {
            let fake = Fake::new();
            let wf = common::parse(yaml);
            let mut options = common::options(Arc::new(VirtualClock::new()), json!({"ids": ids}));
            options.spill_after_bytes = allowance;
            let mut report = psaflow_workflow::run(&wf, &fake, options).await;
            report.id = None;
            report.to_json()
        }
    };
    // Everything held, nothing held, and a step that spills part-way through.
    let held = report_with(usize::MAX).await;
    assert_eq!(held["status"], json!("succeeded"), "{held}");
    assert_eq!(held["outputs"]["third"]["Client"]["id"], json!(3));
    assert_eq!(held["outputs"]["twelfth"], json!("Client 12 — naïve café"));
    assert_eq!(held["outputs"]["skipped"], Value::Null);
    for allowance in [0, 200] {
        assert_eq!(report_with(allowance).await, held, "allowance {allowance}");
    }
}

#[tokio::test]
async fn for_each_failure_stops_new_items() {
    let yaml = r#"name: t
steps:
  - id: upd
    node: halopsa.ticket.update
    for_each: [1, 2, 3, 4]
    with: { Id: "${{ item }}" }
  - id: after
    node: halopsa.client.get
    with: { Id: 1 }
"#;
    let fake = Fake::new().script(
        "halopsa.ticket.update",
        vec![ok("Ticket", json!({"id": 1})), system_error("boom")],
    );
    let (report, _) = run(yaml, &fake, json!({})).await;
    assert_eq!(report.status, RunStatus::Failed);
    assert_eq!(
        fake.calls().len(),
        2,
        "items 3 and 4 never start; `after` never runs"
    );
    let step = report.step("upd").unwrap();
    assert_eq!(step.item_counts(), (1, 1, 2));
    assert!(
        step.error
            .as_deref()
            .unwrap()
            .starts_with("1 of 4 items failed; first: item 1: boom"),
        "{:?}",
        step.error
    );
    assert_eq!(report.step("after").unwrap().status, StepStatus::Skipped);
}

const RETRY: &str = r#"name: t
steps:
  - id: get
    node: halopsa.client.get
    with: { Id: 7 }
    retry: { max_attempts: 3, backoff: exponential, initial_interval: 1s, multiplier: 2 }
"#;

#[tokio::test]
async fn retry_with_exponential_backoff_until_success() {
    let fake = Fake::new().script(
        "halopsa.client.get",
        vec![system_error("down"), system_error("down")],
    );
    let (report, clock) = run(RETRY, &fake, json!({})).await;
    assert!(report.succeeded());
    assert_eq!(report.step("get").unwrap().attempts, 3);
    assert_eq!(
        clock.sleeps(),
        vec![Duration::from_secs(1), Duration::from_secs(2)]
    );
    assert_eq!(report.to_json()["steps"]["get"]["attempts"], json!(3));
}

#[tokio::test]
async fn retry_until_exhaustion_fails_with_the_last_envelope() {
    let fake = Fake::new().script(
        "halopsa.client.get",
        vec![
            system_error("down 1"),
            system_error("down 2"),
            system_error("down 3"),
            ok("Client", json!({})),
        ],
    );
    let (report, clock) = run(RETRY, &fake, json!({})).await;
    assert_eq!(report.status, RunStatus::Failed);
    let step = report.step("get").unwrap();
    assert_eq!(step.attempts, 3);
    assert_eq!(step.envelope.as_ref().unwrap().error_message, "down 3");
    assert_eq!(
        clock.sleeps(),
        vec![Duration::from_secs(1), Duration::from_secs(2)]
    );
    assert_eq!(fake.calls().len(), 3);
}

#[tokio::test]
async fn business_errors_are_not_retried_by_default() {
    let fake = Fake::new().script(
        "halopsa.client.get",
        vec![business_error("Client not found")],
    );
    let (report, clock) = run(RETRY, &fake, json!({})).await;
    assert_eq!(report.status, RunStatus::Failed);
    assert_eq!(report.step("get").unwrap().attempts, 1);
    assert!(clock.sleeps().is_empty());
    // ... but are with retry_on: [business].
    let yaml = RETRY.replace("multiplier: 2 }", "multiplier: 2, retry_on: [business] }");
    let fake = Fake::new().script(
        "halopsa.client.get",
        vec![business_error("Client not found")],
    );
    let (report, clock) = run(&yaml, &fake, json!({})).await;
    assert!(report.succeeded());
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(1)]);
}

#[tokio::test]
async fn timeout_on_a_virtual_clock() {
    let yaml = "name: t\nsteps:\n  - id: get\n    node: halopsa.client.get\n    with: { Id: 7 }\n    timeout: 30s\n";
    let clock = Arc::new(VirtualClock::new());
    let fake = Fake::new().virtual_delay(clock.clone(), Duration::from_secs(45));
    let wf = common::parse(yaml);
    let report = psaflow_workflow::run(&wf, &fake, common::options(clock.clone(), json!({}))).await;
    assert_eq!(report.status, RunStatus::Failed);
    let env = report.step("get").unwrap().envelope.clone().unwrap();
    assert_eq!(env.status_code, 500);
    assert_eq!(env.error_message, "timed out after 30s");
    assert_eq!(env.output_name, "Client");

    // Within the limit it succeeds.
    let clock = Arc::new(VirtualClock::new());
    let fake = Fake::new().virtual_delay(clock.clone(), Duration::from_secs(10));
    let report = psaflow_workflow::run(&wf, &fake, common::options(clock, json!({}))).await;
    assert!(report.succeeded());
}

#[tokio::test]
async fn continue_on_error_lets_the_run_go_on_and_warns() {
    let yaml = r#"name: t
steps:
  - id: a
    node: halopsa.client.get
    with: { Id: 1 }
    continue_on_error: true
  - id: b
    node: halopsa.client.get
    with: { Id: 2 }
"#;
    let fake = Fake::new().script(
        "halopsa.client.get",
        vec![business_error("Client 1 not found")],
    );
    let (report, _) = run(yaml, &fake, json!({})).await;
    assert!(
        report.succeeded(),
        "a failed step with continue_on_error does not fail the run"
    );
    assert_eq!(report.step("a").unwrap().status, StepStatus::Failed);
    assert_eq!(report.step("b").unwrap().status, StepStatus::Succeeded);
    assert_eq!(report.warnings.len(), 1);
    let summary = HumanRenderer::summary(&report);
    assert!(
        summary.contains("warning: step 'a' failed but has continue_on_error"),
        "{summary}"
    );
    assert!(summary.contains("Client 1 not found"), "{summary}");
    assert_eq!(report.to_json()["steps"]["a"]["status"], json!("failed"));
}

#[tokio::test]
async fn the_run_stops_at_the_first_failing_step() {
    let yaml = r#"name: t
steps:
  - id: a
    node: halopsa.client.get
    with: { Id: 1 }
  - id: b
    node: halopsa.client.get
    with: { Id: 2 }
  - id: c
    node: halopsa.client.get
    with: { Id: 3 }
"#;
    let fake = Fake::new().script(
        "halopsa.client.get",
        vec![ok("Client", json!({"id": 1})), system_error("down")],
    );
    let (report, _) = run(yaml, &fake, json!({})).await;
    assert_eq!(report.status, RunStatus::Failed);
    assert_eq!(fake.calls().len(), 2);
    let j = report.to_json();
    assert_eq!(j["status"], json!("failed"));
    assert_eq!(j["steps"]["a"]["status"], json!("succeeded"));
    assert_eq!(j["steps"]["b"]["status"], json!("failed"));
    assert_eq!(j["steps"]["c"]["status"], json!("skipped"));
    assert_eq!(
        j["steps"]["c"]["skip_reason"],
        json!("not run: step 'b' failed")
    );
    let summary = HumanRenderer::summary(&report);
    assert!(
        summary.starts_with("Run FAILED 't': 3 step(s): 1 succeeded, 1 failed, 1 skipped"),
        "{summary}"
    );
}

#[tokio::test]
async fn dry_run_sends_nothing_and_shows_placeholders() {
    let yaml = r#"name: t
inputs:
  client_name: { type: string, required: true }
  ids: { type: list, default: [5, 6] }
steps:
  - id: client
    node: halopsa.client.create
    with: { Name: "${{ inputs.client_name }}" }
  - id: site
    node: halopsa.site.create
    with:
      Name: HQ of ${{ inputs.client_name }}
      SiteClientId: ${{ steps.client.Client.id }}
  - id: purge
    node: halopsa.user.delete
    for_each: ${{ inputs.ids }}
    confirm: true
    with: { Id: "${{ item }}" }
"#;
    let fake = Fake::new();
    let wf = common::parse(yaml);
    let mut opts = common::options(
        Arc::new(VirtualClock::new()),
        json!({"client_name": "Acme"}),
    );
    opts.dry_run = true;
    let report = psaflow_workflow::run(&wf, &fake, opts).await;
    assert!(fake.calls().is_empty(), "a dry run never calls the invoker");
    assert!(report.succeeded());
    assert!(report.dry_run);
    let plan = report.plan.as_ref().unwrap();
    assert_eq!(plan.steps[0].params["Name"], json!("Acme"));
    assert_eq!(plan.steps[1].params["Name"], json!("HQ of Acme"));
    assert_eq!(
        plan.steps[1].params["SiteClientId"],
        json!("<steps.client.Client.id>")
    );
    assert!(plan.steps[2].destructive);
    assert_eq!(plan.steps[2].items, Some(2));
    let text = HumanRenderer::summary(&report);
    assert!(
        text.contains("SiteClientId: <steps.client.Client.id>"),
        "{text}"
    );
    assert!(
        text.contains("3. purge  [halopsa.user.delete]  !! DELETES RECORDS"),
        "{text}"
    );
    assert!(text.contains("would delete up to 2 records"), "{text}");
    assert_eq!(
        report.to_json()["steps"]["client"]["status"],
        json!("skipped")
    );
}

#[tokio::test]
async fn an_invalid_workflow_runs_nothing() {
    let yaml = "name: t\nsteps:\n  - id: a\n    node: halopsa.client.get\n    with: { Idd: 1 }\n";
    let fake = Fake::new();
    let (report, _) = run(yaml, &fake, json!({})).await;
    assert_eq!(report.status, RunStatus::Failed);
    assert!(fake.calls().is_empty());
    assert!(
        report
            .error
            .as_deref()
            .unwrap()
            .contains("did you mean 'Id'?")
    );
}

#[tokio::test]
async fn destructive_and_deactivation_counts() {
    let yaml = r#"name: t
steps:
  - id: purge
    node: halopsa.user.delete
    for_each: [1, 2, 3]
    confirm: true
    with: { Id: "${{ item }}" }
  - id: off
    node: connectwise.member.deactivate
    with: { Id: 9 }
  - id: declared_for_the_value
    node: halopsa.client.update
    with: { Id: 9, Inactive: true }
  - id: another_value
    node: halopsa.client.update
    with: { Id: 9, Inactive: false }
  - id: not_a_deactivation
    node: halopsa.ticket.update
    with: { Id: 9, AgentId: 1 }
"#;
    let fake = Fake::new();
    let (report, _) = run(yaml, &fake, json!({})).await;
    assert!(
        report.succeeded(),
        "{:?} {}",
        report.error,
        HumanRenderer::summary(&report)
    );
    assert_eq!((report.deleted, report.deactivated), (3, 2));
    assert_eq!(report.step("purge").unwrap().deleted, 3);
    // The update given the declared value is a deactivation, and marked as such; with
    // another value it is an update.
    let declared = report.step("declared_for_the_value").unwrap();
    assert_eq!(declared.deactivated, 1);
    assert!(declared.destructive);
    let other = report.step("another_value").unwrap();
    assert_eq!(other.deactivated, 0);
    assert!(!other.destructive);
    let j = report.to_json();
    assert_eq!(
        (j["deleted"].clone(), j["deactivated"].clone()),
        (json!(3), json!(2))
    );
    let summary = HumanRenderer::summary(&report);
    assert!(
        summary.contains("records deleted: 3, deactivated: 2"),
        "{summary}"
    );
}

/// Collects human progress output.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn secrets_are_masked_in_report_progress_and_summary() {
    let yaml = r#"name: t
inputs:
  note: { type: string }
  pw: { type: string }
steps:
  - id: user
    node: halopsa.user.create
    with:
      Name: Jo
      Password: ${{ inputs.pw }}
    retry: { max_attempts: 2, initial_interval: 1s }
  - id: client
    node: halopsa.client.create
    with: { Name: "${{ inputs.note }}" }
"#;
    // The node echoes every parameter into its error message and output.
    let fake = Fake::new().respond(|node, params| {
        let text = format!("{node} got {}", Value::Object(params.clone()));
        let mut e = system_error(&text);
        e.output = json!({"echo": text, "Password": params.get("Password")});
        e
    });
    let wf = common::parse(yaml);
    let sink = Sink::default();
    let renderer = Arc::new(HumanRenderer::to_writer(Box::new(sink.clone())));
    let opts = RunOptions {
        inputs: json!({"note": "key sk-LIVE-12345", "pw": "Correct-Horse-9"})
            .as_object()
            .cloned()
            .unwrap(),
        secrets: vec!["sk-LIVE-12345".into()],
        clock: Arc::new(VirtualClock::new()),
        observer: Some(renderer.clone() as Arc<dyn RunObserver>),
        ..RunOptions::default()
    };
    let report = psaflow_workflow::run(&wf, &fake, opts).await;
    assert_eq!(report.status, RunStatus::Failed);
    // The node did receive the real password.
    assert_eq!(fake.calls()[0].1["Password"], json!("Correct-Horse-9"));
    let json_text = report.to_json().to_string();
    let summary = HumanRenderer::summary(&report);
    let progress = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    for text in [&json_text, &summary, &progress] {
        assert!(!text.contains("Correct-Horse-9"), "password leaked: {text}");
        assert!(!text.contains("sk-LIVE-12345"), "secret leaked: {text}");
    }
    assert!(json_text.contains("***"), "{json_text}");
    assert!(progress.contains("attempt 1 failed"), "{progress}");
    assert_eq!(
        report.to_json()["steps"]["user"]["params"]["Password"],
        json!("***")
    );
}

#[tokio::test]
async fn observer_sees_attempts_and_step_results() {
    #[derive(Default)]
    struct Events(Mutex<Vec<psaflow_workflow::RunEvent>>);
    impl RunObserver for Events {
        fn event(&self, e: &psaflow_workflow::RunEvent) {
            self.0.lock().unwrap().push(e.clone());
        }
    }
    let events = Arc::new(Events::default());
    let fake = Fake::new().script("halopsa.client.get", vec![system_error("down")]);
    let wf = common::parse(RETRY);
    let clock = Arc::new(VirtualClock::new());
    let opts = RunOptions {
        clock: clock.clone(),
        observer: Some(events.clone()),
        ..RunOptions::default()
    };
    let report = psaflow_workflow::run(&wf, &fake, opts).await;
    assert!(report.succeeded());
    let got = events.0.lock().unwrap().clone();
    use psaflow_workflow::RunEvent::*;
    assert!(got.contains(&AttemptFailed {
        id: "get".into(),
        index: None,
        attempt: 1,
        message: "down (system error, StatusCode 500)".into(),
        retry_in: Some(Duration::from_secs(1)),
    }));
    assert!(got.contains(&StepFinished {
        id: "get".into(),
        status: StepStatus::Succeeded,
        message: None
    }));
    assert_eq!(clock.elapsed(), Duration::from_secs(1));
}

#[test]
fn the_run_future_is_send() {
    fn assert_send<T: Send>(_: T) {}
    let fake = Fake::new();
    let wf = common::parse(RETRY);
    assert_send(psaflow_workflow::run(&wf, &fake, RunOptions::default()));
}

#[tokio::test]
async fn a_set_step_computes_values_that_later_steps_and_outputs_read() {
    let yaml = r#"name: t
inputs:
  client_name: { type: string, required: true }
steps:
  - id: client
    node: halopsa.client.create
    with:
      Name: ${{ inputs.client_name }}
  - id: names
    set:
      site_name: "${{ steps.client.Client.name }} HQ"
      client_id: ${{ steps.client.Client.id }}
  - id: per_item
    for_each: [1, 2, 3]
    set:
      double: ${{ item * 2 }}
  - id: site
    node: halopsa.site.create
    with:
      Name: ${{ steps.names.site_name }}
      SiteClientId: ${{ steps.names.client_id }}
outputs:
  doubles: ${{ steps.per_item | map(attribute='double') | list }}
"#;
    let fake = Fake::new();
    let (report, _) = run(yaml, &fake, json!({"client_name": "Acme"})).await;
    assert!(report.succeeded(), "{}", report.to_json());
    let site = &fake.calls_of("halopsa.site.create")[0];
    assert_eq!(site.get("Name"), Some(&json!("Acme HQ")));
    assert_eq!(site.get("SiteClientId"), Some(&json!(101)));
    assert_eq!(report.outputs["doubles"], json!([2, 4, 6]));
    let j = report.to_json();
    assert_eq!(
        j["steps"]["names"]["values"],
        json!({"site_name": "Acme HQ", "client_id": 101})
    );
    assert_eq!(j["steps"]["names"]["status"], json!("succeeded"));
    assert_eq!(fake.calls().len(), 2, "a set step sends nothing");
}

const COMPENSATE: &str = r#"name: t
steps:
  - id: client
    node: halopsa.client.create
    with:
      Name: Acme
  - id: site
    node: halopsa.site.create
    with:
      Name: HQ
      SiteClientId: ${{ steps.client.Client.id }}
on_failure:
  - id: undo_client
    node: halopsa.client.update
    if: ${{ steps.client is not none }}
    with:
      Id: ${{ steps.client.Client.id }}
      Inactive: true
finally:
  - id: note
    set:
      outcome: "${{ run.status }} (failed step: ${{ run.failed_step }})"
"#;

#[tokio::test]
async fn on_failure_steps_run_after_a_failure_and_see_what_succeeded() {
    let fake = Fake::new().script("halopsa.site.create", vec![business_error("duplicate site")]);
    let (report, _) = run(COMPENSATE, &fake, json!({})).await;
    assert_eq!(report.status, RunStatus::Failed);
    let undo = &fake.calls_of("halopsa.client.update")[0];
    assert_eq!(undo.get("Id"), Some(&json!(101)));
    assert_eq!(undo.get("Inactive"), Some(&json!(true)));
    assert_eq!(report.step("undo_client").unwrap().status, StepStatus::Succeeded);
    let note = report.step("note").unwrap();
    assert_eq!(
        note.values.as_ref().unwrap()["outcome"],
        json!("failed (failed step: site)")
    );
}

#[tokio::test]
async fn on_failure_is_skipped_on_success_and_finally_always_runs() {
    let fake = Fake::new();
    let (report, _) = run(COMPENSATE, &fake, json!({})).await;
    assert!(report.succeeded(), "{}", report.to_json());
    assert!(fake.calls_of("halopsa.client.update").is_empty());
    let undo = report.step("undo_client").unwrap();
    assert_eq!(undo.status, StepStatus::Skipped);
    assert_eq!(undo.skip_reason.as_deref(), Some("the run did not fail"));
    assert_eq!(
        report.step("note").unwrap().values.as_ref().unwrap()["outcome"],
        json!("succeeded (failed step: )")
    );
}

/// Cleanup steps are independent: one that fails fails the run, and the next still runs.
#[tokio::test]
async fn a_failing_finally_step_does_not_skip_the_next() {
    let yaml = r#"name: t
steps:
  - id: client
    node: halopsa.client.get
    with: { Id: 1 }
finally:
  - id: release
    node: halopsa.client.update
    with: { Id: 1, Name: released }
  - id: note
    set:
      outcome: "${{ run.status }}"
"#;
    let fake = Fake::new().script("halopsa.client.update", vec![business_error("locked")]);
    let (report, _) = run(yaml, &fake, json!({})).await;
    assert_eq!(report.status, RunStatus::Failed);
    assert_eq!(report.step("release").unwrap().status, StepStatus::Failed, "{}", report.to_json());
    let note = report.step("note").unwrap();
    assert_eq!(note.status, StepStatus::Succeeded, "{}", report.to_json());
    assert!(report.error.as_deref().is_some_and(|e| e.contains("locked")), "{:?}", report.error);
}

#[tokio::test]
async fn a_missing_item_field_fails_with_the_default_hint() {
    let yaml = r#"name: t
steps:
  - id: each
    node: halopsa.client.create
    for_each: [{ "name": "a" }, { "title": "b" }]
    with:
      Name: ${{ item.name }}
"#;
    let fake = Fake::new();
    let (report, _) = run(yaml, &fake, json!({})).await;
    assert_eq!(report.status, RunStatus::Failed);
    let err = report.step("each").unwrap().error.clone().unwrap();
    assert!(
        err.contains("item has no field 'name'") && err.contains("`item.name | default(...)`"),
        "{err}"
    );
}

#[tokio::test]
async fn expressions_see_only_declared_environment_variables() {
    let yaml = r#"name: t
env: [REGION]
steps:
  - id: c
    node: halopsa.client.create
    with: { Name: "${{ env.REGION }} ${{ env | length }} ${{ env.HALOPSA_CLIENT_SECRET | default('hidden') }}" }
"#;
    let fake = Fake::new();
    let wf = psaflow_workflow::parse(yaml, "wf.yaml").unwrap();
    let opts = RunOptions {
        env: [
            ("REGION".to_string(), "eu".to_string()),
            ("HALOPSA_CLIENT_SECRET".to_string(), "sk-env-98765".to_string()),
        ]
        .into_iter()
        .collect(),
        clock: Arc::new(VirtualClock::new()),
        ..RunOptions::default()
    };
    // (Validation refuses `env.HALOPSA_CLIENT_SECRET`; run() validates first, so the engine's
    // own filter is shown with validation passing: an undeclared name through `env | length`.)
    let report = psaflow_workflow::run(&wf, &fake, opts.clone()).await;
    assert_eq!(report.status, RunStatus::Failed, "invalid workflow refused");
    assert!(fake.calls().is_empty(), "nothing sent");

    let yaml = "name: t\nenv: [REGION]\nsteps:\n  - id: c\n    node: halopsa.client.create\n    with: { Name: \"${{ env.REGION }} ${{ env | length }}\" }\n";
    let wf = psaflow_workflow::parse(yaml, "wf.yaml").unwrap();
    let report = psaflow_workflow::run(&wf, &fake, opts).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report);
    assert_eq!(fake.calls()[0].1["Name"], json!("eu 1"), "only REGION is visible");
}

#[tokio::test]
async fn debug_output_of_a_report_masks_secrets() {
    let yaml = "name: t\ninputs:\n  pw: { type: string }\nsteps:\n  - id: u\n    node: halopsa.user.create\n    with: { Name: x, Password: \"${{ inputs.pw }}\" }\n";
    let wf = psaflow_workflow::parse(yaml, "wf.yaml").unwrap();
    let opts = RunOptions {
        inputs: json!({"pw": "Correct-Horse-9"}).as_object().cloned().unwrap(),
        secrets: vec!["sk-LIVE-12345".into()],
        clock: Arc::new(VirtualClock::new()),
        ..RunOptions::default()
    };
    let report = psaflow_workflow::run(&wf, &Fake::new(), opts).await;
    let debug = format!("{report:?} {:#?} {:?}", report, report.redactor());
    assert!(!debug.contains("Correct-Horse-9"), "{debug}");
    assert!(!debug.contains("sk-LIVE-12345"), "{debug}");
}

#[tokio::test]
async fn a_list_shorter_than_record_count_carries_a_warning() {
    let yaml = "name: t\nsteps:\n  - id: list\n    node: halopsa.client.get\n    with: { Id: 1 }\n";
    let fake = Fake::new().script(
        "halopsa.client.get",
        vec![ok("Clients", json!({"clients": [{"id": 1}], "record_count": 150}))],
    );
    let (report, _) = run(yaml, &fake, json!({})).await;
    assert!(report.succeeded());
    let step = report.step("list").unwrap();
    assert_eq!(step.warnings.len(), 1, "{:?}", step.warnings);
    assert!(step.warnings[0].contains("returned 1 of 150 clients"), "{}", step.warnings[0]);
    let summary = HumanRenderer::summary(&report);
    assert!(summary.contains("Paginate: false"), "{summary}");
    assert!(report.to_json()["steps"]["list"]["warnings"].is_array());
}

/// The dry run's call count: node steps once, for_each steps once per known item, `set:`
/// steps and steps whose `if` is false not at all, unknown lists named.
#[test]
fn the_plan_counts_node_calls_per_connector() {
    let wf = psaflow_workflow::parse(
        r#"name: count
inputs:
  ids: { type: json, default: [1, 2, 3] }
steps:
  - id: one
    node: halopsa.client.get
    with: { Id: 1 }
  - id: each
    node: halopsa.client.get
    for_each: ${{ inputs.ids }}
    with:
      Id: ${{ item }}
  - id: later
    node: halopsa.client.get
    for_each: ${{ [steps.one.Client.id] }}
    with:
      Id: ${{ item }}
  - id: never
    node: halopsa.client.get
    if: ${{ false }}
    with: { Id: 1 }
  - id: values
    set:
      n: ${{ 1 }}
"#,
        "count.yaml",
    )
    .unwrap();
    let plan = psaflow_workflow::plan(&wf, &common::catalog(), &psaflow_workflow::RunOptions::default());
    let estimate = plan.call_estimate(&common::catalog());
    assert_eq!(estimate.by_connector.get("halopsa"), Some(&4), "{estimate:?}");
    assert_eq!(estimate.unknown_steps, vec!["later".to_string()]);
    assert!(!estimate.at_most);
}
