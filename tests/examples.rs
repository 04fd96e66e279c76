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
    let inputs =
        psaflow_workflow::resolve_inputs(&wf, &raw, None).unwrap_or_else(|d| panic!("{d}"));
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
    v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)).unwrap()
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
    assert_eq!(raj["inactive"], true);
    assert_eq!(report.outputs["tickets_handled"], json!(2));
    assert_eq!(report.deactivated, 1);
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
