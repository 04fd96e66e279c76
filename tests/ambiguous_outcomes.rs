//! Creates whose answer is lost: the sandbox commits the change and then drops the connection,
//! the way a proxy or the network fails after HaloPSA has done the work. Real components, the
//! real host and workflow engine, the sandbox over real HTTP; waits on a virtual clock.

use psaflow_core::VirtualClock;
use psaflow_tests::{Entity, Harness, harness};
use psaflow_workflow::{RunOptions, RunReport, RunStatus, parse};
use serde_json::{Value, json};
use std::sync::Arc;

async fn run_workflow(h: &Harness, yaml: &str) -> (RunReport, Value) {
    let wf = parse(yaml, "ambiguous.yaml").expect("the workflow parses");
    assert!(wf.problems().is_empty(), "{:?}", wf.problems());
    let opts = RunOptions {
        clock: Arc::new(VirtualClock::new()),
        ..RunOptions::default()
    };
    let report = psaflow_workflow::run(&wf, &h.runtime, opts).await;
    let json = report.to_json();
    (report, json)
}

fn named(h: &Harness, entity: Entity, field: &str, value: &str) -> Vec<Value> {
    h.sandbox
        .records(entity)
        .into_iter()
        .filter(|r| r[field] == value)
        .collect()
}

fn posts(h: &Harness, path: &str) -> usize {
    h.sandbox
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.eq_ignore_ascii_case(path))
        .count()
}

/// The one attempt of step `id`: it met an unknown outcome and found its record.
fn assert_recovered(report: &Value, id: &str) {
    let step = &report["steps"][id];
    assert_eq!(step["status"], "succeeded", "{step:#}");
    let log = step["attempt_log"].as_array().expect("attempt_log");
    assert_eq!(log.len(), 1, "recovery needs no second attempt: {step:#}");
    assert_eq!(
        log[0],
        json!({"attempt": 1, "status": "succeeded", "outcome": "unknown", "recovered": true})
    );
}

#[tokio::test]
async fn a_client_create_whose_answer_is_lost_finds_its_client_instead_of_making_another() {
    let h = harness().await;
    h.sandbox.faults().drop_next_answers_after_commit(1);
    let (report, json) = run_workflow(
        &h,
        "name: lost-client\nsteps:\n  - id: client\n    node: halopsa.client.create\n    with: { Name: Lost Answer Ltd }\n    retry: { max_attempts: 3 }\n",
    )
    .await;
    assert_eq!(report.status, RunStatus::Succeeded, "{json:#}");
    let clients = named(&h, Entity::Client, "name", "Lost Answer Ltd");
    assert_eq!(clients.len(), 1, "exactly one client: {clients:?}");
    assert_eq!(posts(&h, "/api/Client"), 1, "the POST is never sent again");
    assert_eq!(
        json["steps"]["client"]["envelope"]["Client"]["id"],
        clients[0]["id"]
    );
    assert_recovered(&json, "client");
}

#[tokio::test]
async fn a_site_create_whose_answer_is_lost_finds_its_site() {
    let h = harness().await;
    h.sandbox.faults().drop_next_answers_after_commit(1);
    let (report, json) = run_workflow(
        &h,
        "name: lost-site\nsteps:\n  - id: site\n    node: halopsa.site.create\n    with: { Name: Lost Depot, SiteClientId: 1 }\n    retry: { max_attempts: 3 }\n",
    )
    .await;
    assert_eq!(report.status, RunStatus::Succeeded, "{json:#}");
    let sites = named(&h, Entity::Site, "name", "Lost Depot");
    assert_eq!(sites.len(), 1, "exactly one site: {sites:?}");
    assert_eq!(posts(&h, "/api/Site"), 1);
    assert_recovered(&json, "site");
}

#[tokio::test]
async fn a_user_create_whose_answer_is_lost_finds_its_user_by_email() {
    let h = harness().await;
    h.sandbox.faults().drop_next_answers_after_commit(1);
    let (report, json) = run_workflow(
        &h,
        "name: lost-user\nsteps:\n  - id: user\n    node: halopsa.user.create\n    with: { Name: Ada, SiteId: 1, Emailaddress: ada.lost@example.com }\n    retry: { max_attempts: 3 }\n",
    )
    .await;
    assert_eq!(report.status, RunStatus::Succeeded, "{json:#}");
    let users = named(&h, Entity::User, "emailaddress", "ada.lost@example.com");
    assert_eq!(users.len(), 1, "exactly one user: {users:?}");
    assert_eq!(posts(&h, "/api/Users"), 1);
    assert_recovered(&json, "user");
}

#[tokio::test]
async fn a_user_without_email_is_found_by_name_on_its_site() {
    let h = harness().await;
    h.sandbox.faults().drop_next_answers_after_commit(1);
    let (report, json) = run_workflow(
        &h,
        "name: lost-user\nsteps:\n  - id: user\n    node: halopsa.user.create\n    with: { Name: Nameonly Lost, SiteId: 1 }\n    retry: { max_attempts: 3 }\n",
    )
    .await;
    assert_eq!(report.status, RunStatus::Succeeded, "{json:#}");
    assert_eq!(named(&h, Entity::User, "name", "Nameonly Lost").len(), 1);
    assert_recovered(&json, "user");
}

#[tokio::test]
async fn a_create_dropped_before_the_server_saw_it_is_retried_once_the_lookup_finds_nothing() {
    let h = harness().await;
    // The create's POST (the listing of clients with its name before it passes).
    h.sandbox.faults().drop_next_change_connections(1);
    let (report, json) = run_workflow(
        &h,
        "name: dropped\nsteps:\n  - id: client\n    node: halopsa.client.create\n    with: { Name: Never Arrived Ltd }\n    retry: { max_attempts: 3 }\n",
    )
    .await;
    assert_eq!(report.status, RunStatus::Succeeded, "{json:#}");
    assert_eq!(
        named(&h, Entity::Client, "name", "Never Arrived Ltd").len(),
        1
    );
    let log = json["steps"]["client"]["attempt_log"].as_array().unwrap();
    assert_eq!(log.len(), 2, "{json:#}");
    assert_eq!(log[0]["outcome"], "unknown");
    assert_eq!(log[0]["status"], "failed");
    assert!(
        log[0]["error"]
            .as_str()
            .unwrap()
            .contains("so it was not created and trying again is safe"),
        "{log:?}"
    );
    assert_eq!(log[1], json!({"attempt": 2, "status": "succeeded"}));
}

#[tokio::test]
async fn a_lost_create_tells_its_record_from_older_ones_with_the_same_name() {
    let h = harness().await;
    let older: Vec<i64> = (0..2)
        .map(|_| {
            h.sandbox
                .insert(Entity::Client, json!({"name": "Twin Ltd"}))["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    h.sandbox.faults().drop_next_answers_after_commit(1);
    let (report, json) = run_workflow(
        &h,
        "name: twins\nsteps:\n  - id: client\n    node: halopsa.client.create\n    with: { Name: Twin Ltd }\n    retry: { max_attempts: 3 }\n",
    )
    .await;
    assert_eq!(report.status, RunStatus::Succeeded, "{json:#}");
    assert_eq!(named(&h, Entity::Client, "name", "Twin Ltd").len(), 3);
    assert_eq!(posts(&h, "/api/Client"), 1);
    assert_recovered(&json, "client");
    let id = json["steps"]["client"]["envelope"]["Client"]["id"]
        .as_i64()
        .unwrap();
    assert!(
        !older.contains(&id),
        "the record it made, not an older one: {id} in {older:?}"
    );
}

/// A create that never reached the server must not take a client that already had the name
/// for the one it made: it says nothing was created, and its retry creates it.
#[tokio::test]
async fn a_create_that_never_arrived_does_not_take_an_older_record_for_its_own() {
    let h = harness().await;
    let older = h
        .sandbox
        .insert(Entity::Client, json!({"name": "Cobalt Freight Ltd"}))["id"]
        .as_i64()
        .unwrap();
    h.sandbox.faults().drop_next_change_connections(1);
    let (report, json) = run_workflow(
        &h,
        "name: cobalt\nsteps:\n  - id: client\n    node: halopsa.client.create\n    with: { Name: Cobalt Freight Ltd }\n    retry: { max_attempts: 3 }\n",
    )
    .await;
    assert_eq!(report.status, RunStatus::Succeeded, "{json:#}");
    let log = json["steps"]["client"]["attempt_log"].as_array().unwrap();
    assert_eq!(log.len(), 2, "{json:#}");
    let error = log[0]["error"].as_str().unwrap();
    assert!(
        error.contains(&format!(
            "no client named \"Cobalt Freight Ltd\" exists other than the 1 that existed before the create (id {older}), so it was not created"
        )),
        "{error}"
    );
    assert_eq!(
        named(&h, Entity::Client, "name", "Cobalt Freight Ltd").len(),
        2
    );
    let id = json["steps"]["client"]["envelope"]["Client"]["id"]
        .as_i64()
        .unwrap();
    assert_ne!(id, older);
}

#[tokio::test]
async fn a_ticket_create_whose_answer_is_lost_is_not_repeated_and_says_how_to_check() {
    let h = harness().await;
    h.sandbox.faults().drop_next_answers_after_commit(1);
    let yaml = "name: lost-ticket\nsteps:\n  - id: ticket\n    node: halopsa.ticket.create\n    with: { TickettypeId: 1, Summary: Printer on fire, Details: Third floor }\n    retry: { max_attempts: 3 }\n";
    let (report, json) = run_workflow(&h, yaml).await;
    assert_eq!(report.status, RunStatus::Failed, "{json:#}");
    assert_eq!(posts(&h, "/api/Tickets"), 1, "never sent twice");
    assert_eq!(
        named(&h, Entity::Ticket, "summary", "Printer on fire").len(),
        1
    );
    let step = &json["steps"]["ticket"];
    assert_eq!(step["attempts"], 1, "{step:#}");
    assert_eq!(step["attempt_log"][0]["outcome"], "unknown");
    let error = step["error"].as_str().unwrap();
    assert!(
        error.contains("the ticket may or may not have been created"),
        "{error}"
    );
    assert!(error.contains("Printer on fire"), "{error}");
    assert!(error.contains("retry_on: [unknown_outcome]"), "{error}");
}

#[tokio::test]
async fn a_ticket_create_may_be_repeated_when_the_workflow_opts_in() {
    let h = harness().await;
    h.sandbox.faults().drop_next_connections(1);
    let yaml = "name: lost-ticket\nsteps:\n  - id: ticket\n    node: halopsa.ticket.create\n    with: { TickettypeId: 1, Summary: Opted in, Details: x }\n    retry: { max_attempts: 3, retry_on: [system, unknown_outcome] }\n";
    let (report, json) = run_workflow(&h, yaml).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{json:#}");
    assert_eq!(posts(&h, "/api/Tickets"), 2);
    assert_eq!(json["steps"]["ticket"]["attempts"], 2);
}

#[tokio::test]
async fn a_gateway_timeout_on_a_create_is_an_unknown_outcome_too() {
    let h = harness().await;
    h.sandbox.faults().fail_next_changes(504, 1, None);
    let env = h
        .invoke("halopsa.client.create", json!({"Name": "Gateway Ltd"}))
        .await;
    // The forced 504 changed nothing, so the lookup finds nothing: safe to try again.
    assert_eq!(env["StatusCode"], 500, "{env}");
    assert_eq!(env["OriginalStatusCode"], 0, "{env}");
    let message = env["ErrorMessage"].as_str().unwrap();
    assert!(message.starts_with("outcome unknown at first"), "{message}");
    assert!(message.contains("504 Gateway Timeout"), "{message}");
    assert!(named(&h, Entity::Client, "name", "Gateway Ltd").is_empty());
}
