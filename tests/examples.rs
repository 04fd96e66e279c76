//! Every example in examples/ runs green on the sandbox, through the real engine, runtime and
//! components, and does to HaloPSA what it says.

use psaflow_core::SystemClock;
use psaflow_tests::{Entity, Harness, harness};
use psaflow_workflow::{RunOptions, RunReport};
use serde_json::{Value, json};
use std::sync::Arc;

async fn run_example(h: &Harness, file: &str, inputs: &[(&str, &str)]) -> RunReport {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(file);
    let wf = psaflow_workflow::load(&path).unwrap_or_else(|d| panic!("{d}"));
    psaflow_workflow::validate(&wf, h.runtime.catalog()).unwrap_or_else(|d| panic!("{d}"));
    let raw: Vec<(String, String)> = inputs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    // `name=@file` inputs are read from examples/, where the sample CSV files are.
    let inputs = psaflow_workflow::resolve_inputs_in(&wf, &raw, None, path.parent().unwrap())
        .unwrap_or_else(|d| panic!("{d}"));
    let options = RunOptions {
        inputs,
        clock: Arc::new(SystemClock::default()),
        ..RunOptions::default()
    };
    psaflow_workflow::run(&wf, &h.runtime, options).await
}

fn find<'a>(records: &'a [Value], field: &str, value: &str) -> &'a Value {
    records
        .iter()
        .find(|r| r[field] == value)
        .unwrap_or_else(|| panic!("no record with {field} = {value}"))
}

fn id(v: &Value) -> i64 {
    v.as_i64()
        .or_else(|| v.as_f64().and_then(psaflow_core::values::whole_f64))
        .unwrap()
}

#[tokio::test]
async fn onboard_client_creates_client_site_contact_and_welcome_ticket() {
    let h = harness().await;
    let report = run_example(
        &h,
        "onboard-client.yaml",
        &[
            ("client_name", "Contoso Ltd"),
            ("contact_first_name", "Ada"),
            ("contact_surname", "Lovelace"),
            ("contact_email", "ada@contoso.example"),
            ("website", "https://contoso.example"),
        ],
    )
    .await;
    assert!(report.succeeded(), "{}", report.to_json());

    let client = find(&h.sandbox.records(Entity::Client), "name", "Contoso Ltd").clone();
    assert_eq!(client["website"], "https://contoso.example");
    let site = h
        .sandbox
        .records(Entity::Site)
        .into_iter()
        .find(|s| s["name"] == "Head Office" && id(&s["client_id"]) == id(&client["id"]))
        .expect("a head office site for the new client");
    assert_eq!(site["maincontact_name"], "Ada Lovelace");
    let user = find(
        &h.sandbox.records(Entity::User),
        "emailaddress",
        "ada@contoso.example",
    )
    .clone();
    assert_eq!(id(&user["site_id"]), id(&site["id"]));
    let ticket = find(
        &h.sandbox.records(Entity::Ticket),
        "summary",
        "Welcome to the service desk, Contoso Ltd",
    )
    .clone();
    assert_eq!(id(&ticket["user_id"]), id(&user["id"]));
    assert_eq!(id(&ticket["site_id"]), id(&site["id"]));
    assert_eq!(report.outputs["client_id"], client["id"]);
    assert_eq!(report.outputs["ticket_id"], ticket["id"]);
}

#[tokio::test]
async fn a_dry_run_of_onboarding_sends_nothing() {
    let h = harness().await;
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/onboard-client.yaml");
    let wf = psaflow_workflow::load(&path).unwrap();
    let raw: Vec<(String, String)> = [
        ("client_name", "Dry Ltd"),
        ("contact_first_name", "A"),
        ("contact_surname", "B"),
        ("contact_email", "a@b.example"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let inputs = psaflow_workflow::resolve_inputs(&wf, &raw, None).unwrap();
    let options = RunOptions {
        inputs,
        dry_run: true,
        ..RunOptions::default()
    };
    let plan = psaflow_workflow::dry_run_plan(&wf, h.runtime.catalog(), &options);
    assert!(plan.contains("Name: \"Dry Ltd\""), "{plan}");
    let report = psaflow_workflow::run(&wf, &h.runtime, options).await;
    assert!(report.succeeded(), "{}", report.to_json());
    assert_eq!(h.api_requests(), 0, "a dry run sends nothing");
    assert!(
        h.sandbox
            .records(Entity::Client)
            .iter()
            .all(|c| c["name"] != "Dry Ltd")
    );
}

#[tokio::test]
async fn offboard_user_reassigns_open_tickets_and_deactivates_the_user() {
    let h = harness().await;
    // Raj Patel (user 2) has two open tickets (1002, 1008) in the seed data.
    let report = run_example(
        &h,
        "offboard-user.yaml",
        &[
            ("email", "raj.patel@acme-mfg.example"),
            ("reassign_to_agent", "3"),
        ],
    )
    .await;
    assert!(report.succeeded(), "{}", report.to_json());
    let tickets = h.sandbox.records(Entity::Ticket);
    let rajs: Vec<&Value> = tickets
        .iter()
        .filter(|t| id(&t["user_id"]) == 2 && id(&t["status_id"]) != 9)
        .collect();
    assert_eq!(rajs.len(), 2);
    assert!(rajs.iter().all(|t| id(&t["agent_id"]) == 3), "{rajs:?}");
    // Other users' tickets are untouched.
    let jane_open = tickets.iter().find(|t| id(&t["id"]) == 1001).unwrap();
    assert_eq!(id(&jane_open["agent_id"]), 2);
    let raj = h
        .sandbox
        .records(Entity::User)
        .into_iter()
        .find(|u| id(&u["id"]) == 2)
        .unwrap();
    // The user update set Inactive: the sandbox's record is the evidence. (The report's
    // `deactivated` counts only nodes that declare the deactivate effect; user.update declares
    // update whatever its input.)
    assert_eq!(raj["inactive"], true);
    assert_eq!(report.outputs["tickets_handled"], json!(2));
}

#[tokio::test]
async fn offboard_user_without_an_agent_closes_their_open_tickets() {
    let h = harness().await;
    let report = run_example(
        &h,
        "offboard-user.yaml",
        &[("email", "jane.smith@acme-mfg.example")],
    )
    .await;
    assert!(report.succeeded(), "{}", report.to_json());
    let t1001 = h
        .sandbox
        .records(Entity::Ticket)
        .into_iter()
        .find(|t| id(&t["id"]) == 1001)
        .unwrap();
    assert_eq!(id(&t1001["status_id"]), 9, "Jane's open ticket is closed");
}

#[tokio::test]
async fn offboarding_an_unknown_email_fails_before_changing_anything() {
    let h = harness().await;
    let report = run_example(
        &h,
        "offboard-user.yaml",
        &[("email", "nobody@nowhere.example")],
    )
    .await;
    assert!(!report.succeeded());
    let json = report.to_json();
    assert_eq!(json["steps"]["user"]["status"], "failed", "{json}");
    assert_eq!(json["steps"]["deactivate"]["status"], "skipped", "{json}");
    assert!(
        h.sandbox
            .records(Entity::User)
            .iter()
            .filter(|u| u["inactive"] == true)
            .count()
            == 1,
        "only the seeded inactive user"
    );
}

#[tokio::test]
async fn bulk_deactivate_users_deactivates_the_list_and_reports_the_missing_one() {
    let h = harness().await;
    let report = run_example(
        &h,
        "bulk-deactivate-users.yaml",
        &[("user_ids", "[4, 5, 999]")],
    )
    .await;
    // continue_on_error: the run succeeds with a warning, the step is failed.
    assert!(report.succeeded(), "{}", report.to_json());
    let json = report.to_json();
    assert_eq!(json["steps"]["deactivate"]["status"], "failed");
    assert_eq!(
        json["steps"]["deactivate"]["envelopes"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(report.outputs["deactivated"], json!(2));
    // user.update declares Inactive: true a deactivation, so the run counts both as such.
    assert_eq!(json["deactivated"], json!(2));
    assert_eq!(json["steps"]["deactivate"]["deactivated"], json!(2));
    let users = h.sandbox.records(Entity::User);
    for uid in [4, 5] {
        let u = users.iter().find(|u| id(&u["id"]) == uid).unwrap();
        assert_eq!(u["inactive"], true, "user {uid}");
        assert!(u["notes"].as_str().unwrap().contains("Contract ended"));
    }
    assert_eq!(
        users.iter().find(|u| id(&u["id"]) == 1).unwrap()["inactive"],
        false
    );
}

#[tokio::test]
async fn client_report_pages_past_the_server_cap() {
    let h = harness().await;
    for n in 0..230 {
        h.sandbox.insert(Entity::Client, json!({"name": format!("Bulk client {n:03}"), "inactive": n % 10 == 0, "is_vip": false}));
    }
    let report = run_example(&h, "client-report.yaml", &[]).await;
    assert!(report.succeeded(), "{}", report.to_json());
    let clients = &report.to_json()["steps"]["clients"]["envelope"]["Clients"];
    assert_eq!(
        clients["clients"].as_array().unwrap().len(),
        234,
        "every client, not just the first 100"
    );
    assert_eq!(report.outputs["total_clients"], json!(234));
    assert_eq!(report.outputs["active_clients"], json!(234 - 23 - 1));
    assert_eq!(
        report.outputs["vip_clients"],
        json!(["Acme Manufacturing Ltd"])
    );
    assert_eq!(report.outputs["total_sites"], json!(6));
}

#[tokio::test]
async fn triage_ticket_finds_status_and_type_by_name_and_adds_a_note() {
    let h = harness().await;
    // Ticket 1004 is an Incident with status New in the seed data.
    let report = run_example(
        &h,
        "triage-ticket.yaml",
        &[
            ("ticket_id", "1004"),
            ("status", "waiting on customer"),
            ("ticket_type", "PROBLEM"),
            ("note", "Boot drive failing SMART checks; asked the user when we can swap it."),
            ("minutes", "20"),
        ],
    )
    .await;
    assert!(report.succeeded(), "{}", report.to_json());
    let ticket = find(&h.sandbox.records(Entity::Ticket), "summary", "Imaging PC slow to boot").clone();
    assert_eq!(id(&ticket["id"]), 1004);
    assert_eq!(id(&ticket["status_id"]), 3, "Waiting on Customer, found by name");
    assert_eq!(id(&ticket["tickettype_id"]), 4, "Problem, found by name");
    let actions = h.sandbox.records(Entity::Action);
    assert_eq!(actions.len(), 1);
    assert_eq!(id(&actions[0]["ticket_id"]), 1004);
    assert_eq!(actions[0]["note"], "Boot drive failing SMART checks; asked the user when we can swap it.");
    assert_eq!(actions[0]["hiddenfromuser"], true);
    assert_eq!(actions[0]["timetaken"], json!(0.333333));
    assert_eq!(report.outputs["note_id"], actions[0]["id"]);

    // A ticket type HaloPSA does not have: the run fails naming the ones it has, and nothing
    // is written (the lookups are all reads).
    h.sandbox.clear_requests();
    let report = run_example(
        &h,
        "triage-ticket.yaml",
        &[("ticket_id", "1004"), ("status", "New"), ("ticket_type", "Outage"), ("note", "x")],
    )
    .await;
    assert!(!report.succeeded());
    let text = report.to_json().to_string();
    assert!(text.contains("no ticket type called 'Outage'"), "{text}");
    assert!(text.contains("Incident, Change Request, Service Request, Problem"), "{text}");
    assert_eq!(writes(&h), Vec::<String>::new());
    assert_eq!(h.sandbox.records(Entity::Action).len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Staff lifecycle recipes: each runs twice against one sandbox; the second run succeeds and
// changes nothing (no POST or DELETE reaches HaloPSA).

/// Writes (POST/DELETE) the sandbox received so far.
fn writes(h: &Harness) -> Vec<String> {
    h.sandbox
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET" && r.path.to_ascii_lowercase().starts_with("/api/"))
        .map(|r| format!("{} {} {}", r.method, r.path, r.body.unwrap_or_default()))
        .collect()
}

/// Runs `file` twice with the same inputs; returns both reports after checking the second one
/// succeeded without writing anything.
async fn run_twice(h: &Harness, file: &str, inputs: &[(&str, &str)]) -> (RunReport, RunReport) {
    let first = run_example(h, file, inputs).await;
    assert!(first.succeeded(), "{file} first run: {}", first.to_json());
    h.sandbox.clear_requests();
    let second = run_example(h, file, inputs).await;
    assert!(second.succeeded(), "{file} second run: {}", second.to_json());
    assert_eq!(writes(h), Vec::<String>::new(), "{file}: the second run changed something");
    (first, second)
}

fn agent_by_email(h: &Harness, email: &str) -> Value {
    h.sandbox
        .records(Entity::Agent)
        .into_iter()
        .find(|a| a["email"].as_str().is_some_and(|e| e.eq_ignore_ascii_case(email)))
        .unwrap_or_else(|| panic!("no agent {email}"))
}

#[tokio::test]
async fn agent_joiner_creates_once() {
    let h = harness().await;
    let inputs = [
        ("name", "Ada Byron"),
        ("email", "ada.byron@msp.example"),
        ("team", "Field Engineers"),
        ("role", "Technician"),
    ];
    let (first, second) = run_twice(&h, "agent-joiner.yaml", &inputs).await;
    let ada = agent_by_email(&h, "ada.byron@msp.example");
    assert_eq!((ada["team_id"].clone(), ada["role"].clone()), (json!(3), json!("Technician")));
    assert_eq!(first.outputs["created"], true);
    assert_eq!(second.outputs["created"], false);
    assert_eq!(second.outputs["agent_id"], ada["id"]);
    let welcome: Vec<Value> = h
        .sandbox
        .records(Entity::Ticket)
        .into_iter()
        .filter(|t| t["summary"] == "Welcome aboard, Ada Byron")
        .collect();
    assert_eq!(welcome.len(), 1, "one welcome ticket, not two");
    assert_eq!(welcome[0]["agent_id"], ada["id"]);
}

#[tokio::test]
async fn agent_leaver_reassigns_every_open_ticket_then_deactivates_once() {
    let h = harness().await;
    // More open tickets than one server page holds: every one must be handed over.
    for n in 0..120 {
        h.sandbox.insert(
            Entity::Ticket,
            json!({"summary": format!("Backlog {n}"), "tickettype_id": 1, "status_id": 2, "agent_id": 2, "user_id": 1}),
        );
    }
    let inputs = [
        ("agent_email", "SAM.CARTER@msp.example"),
        ("successor_email", "priya.natarajan@msp.example"),
    ];
    let (first, second) = run_twice(&h, "agent-leaver.yaml", &inputs).await;
    assert_eq!(first.outputs["tickets_reassigned"], json!(122));
    assert_eq!(second.outputs["tickets_reassigned"], json!(0));
    let tickets = h.sandbox.records(Entity::Ticket);
    let still_sams_open = tickets
        .iter()
        .filter(|t| id(&t["agent_id"]) == 2 && id(&t["status_id"]) != 9)
        .count();
    assert_eq!(still_sams_open, 0);
    let sam = agent_by_email(&h, "sam.carter@msp.example");
    assert_eq!(sam["isactive"], false, "deactivated, not deleted");
    let notes = sam["notes"].as_str().unwrap();
    assert_eq!(notes.matches("Left: open tickets handed to Priya Natarajan").count(), 1, "{notes}");
}

#[tokio::test]
async fn agent_mover_moves_once() {
    let h = harness().await;
    let inputs = [
        ("agent_email", "tom.becker@msp.example"),
        ("new_team", "Service Desk"),
        ("hand_over_tickets", "true"),
    ];
    let (first, second) = run_twice(&h, "agent-mover.yaml", &inputs).await;
    assert_eq!(first.outputs["moved"], true);
    assert_eq!(first.outputs["tickets_handed_over"], json!(2));
    assert_eq!(second.outputs["moved"], false);
    assert_eq!(agent_by_email(&h, "tom.becker@msp.example")["team_id"], 1);
}

#[tokio::test]
async fn hr_team_sync_converges() {
    let h = harness().await;
    let inputs = [("roster", "@hr-roster.csv"), ("deactivate_missing", "true")];
    let (first, second) = run_twice(&h, "hr-team-sync.yaml", &inputs).await;
    assert_eq!(first.outputs["created"], json!(["ada.byron@msp.example"]));
    assert_eq!(first.outputs["moved"], json!(["priya.natarajan@msp.example"]));
    assert_eq!(first.outputs["deactivated"], json!(["tom.becker@msp.example"]));
    assert_eq!(first.outputs["unchanged"], json!(["sam.carter@msp.example"]));
    assert_eq!(second.outputs["created"], json!([]));
    assert_eq!(second.outputs["moved"], json!([]));
    assert_eq!(second.outputs["deactivated"], json!([]));
    assert_eq!(
        second.outputs["unchanged"],
        json!(["sam.carter@msp.example", "priya.natarajan@msp.example", "ada.byron@msp.example"])
    );
}

#[tokio::test]
async fn a_dry_run_of_hr_team_sync_lists_the_steps_and_sends_nothing() {
    let h = harness().await;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/hr-team-sync.yaml");
    let wf = psaflow_workflow::load(&path).unwrap();
    let raw = vec![("roster".to_string(), "@hr-roster.csv".to_string())];
    let inputs = psaflow_workflow::resolve_inputs_in(&wf, &raw, None, path.parent().unwrap()).unwrap();
    let options = RunOptions { inputs, dry_run: true, ..RunOptions::default() };
    let plan = psaflow_workflow::dry_run_plan(&wf, h.runtime.catalog(), &options);
    assert!(plan.contains("halopsa.agent.create"), "{plan}");
    assert!(plan.contains("halopsa.agent.deactivate"), "{plan}");
    let report = psaflow_workflow::run(&wf, &h.runtime, options).await;
    assert!(report.succeeded(), "{}", report.to_json());
    assert_eq!(h.api_requests(), 0, "a dry run sends nothing");
}

#[tokio::test]
async fn unused_agent_seats_reports_then_deactivates_once() {
    let h = harness().await;
    let report = run_example(&h, "unused-agent-seats.yaml", &[("days", "90")]).await;
    assert!(report.succeeded(), "{}", report.to_json());
    assert_eq!(report.outputs["agents"], json!(["tom.becker@msp.example"]));
    assert_eq!(writes(&h), Vec::<String>::new(), "a report changes nothing");
    let (first, second) = run_twice(&h, "unused-agent-seats.yaml", &[("days", "90"), ("deactivate", "true")]).await;
    assert_eq!(first.outputs["deactivated"], json!(["tom.becker@msp.example"]));
    assert_eq!(second.outputs["agents"], json!([]));
    assert_eq!(agent_by_email(&h, "tom.becker@msp.example")["isactive"], false);
}

#[tokio::test]
async fn user_import_never_duplicates() {
    let h = harness().await;
    let inputs = [("users", "@users.csv"), ("site_id", "1")];
    let (first, second) = run_twice(&h, "user-import.yaml", &inputs).await;
    assert_eq!(
        first.outputs["created"],
        json!(["mia.turner@acme-mfg.example", "leo.park@acme-mfg.example"])
    );
    assert_eq!(first.outputs["missing_email"], json!(["No Email Person"]));
    assert_eq!(first.outputs["duplicate_in_file"], json!(["MIA.TURNER@acme-mfg.example"]));
    assert_eq!(first.outputs["already_in_halopsa"], json!(["jane.smith@acme-mfg.example"]));
    assert_eq!(second.outputs["created"], json!([]));
    assert_eq!(
        second.outputs["already_in_halopsa"],
        json!(["mia.turner@acme-mfg.example", "jane.smith@acme-mfg.example", "leo.park@acme-mfg.example"])
    );
    let mias = h
        .sandbox
        .records(Entity::User)
        .into_iter()
        .filter(|u| u["emailaddress"].as_str().is_some_and(|e| e.eq_ignore_ascii_case("mia.turner@acme-mfg.example")))
        .count();
    assert_eq!(mias, 1);
}

#[tokio::test]
async fn offboard_user_is_idempotent_and_appends_its_note() {
    let h = harness().await;
    let inputs = [("email", "RAJ.PATEL@acme-mfg.example"), ("reassign_to_agent", "3")];
    let (first, second) = run_twice(&h, "offboard-user.yaml", &inputs).await;
    assert_eq!(first.outputs["tickets_handled"], json!(2));
    assert_eq!(second.outputs["tickets_handled"], json!(0));
    assert_eq!(second.outputs["deactivated"], json!(false));
    // The open-ticket list is filtered by HaloPSA, not fetched whole and filtered here.
    assert!(h.sandbox.requests().iter().any(|r| r.query.contains("user_id=2")));
}
