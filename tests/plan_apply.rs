//! Plan and apply through the real components against the sandbox: the plan names exactly the
//! records apply changes, and a record that changed in between is skipped and reported.

use psaflow_halopsa_sandbox::Entity;
use psaflow_tests::{Harness, harness};
use psaflow_workflow::plan::{PlanError, apply_plan, make_plan};
use psaflow_workflow::{RunOptions, Workflow};
use serde_json::{Map, Value, json};

fn example(name: &str) -> (Workflow, String) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name);
    let wf = psaflow_workflow::load(&path).unwrap_or_else(|d| panic!("{d}"));
    (wf, path.display().to_string())
}

fn inputs(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

/// A site with four active users: one with an email, three without.
fn seed(h: &Harness) -> i64 {
    let client = h.sandbox.insert(Entity::Client, json!({"name": "Initech"}));
    let site = h.sandbox.insert(
        Entity::Site,
        json!({"name": "Initech HQ", "client_id": client["id"]}),
    );
    let site_id = site["id"].as_i64().unwrap();
    for (name, email) in [
        ("Ann Able", json!("ann@initech.example")),
        ("Bob Baker", json!("")),
        ("Cid Chase", Value::Null),
        ("Dee Dunn", json!("")),
    ] {
        let mut user = json!({"name": name, "site_id": site_id});
        if !email.is_null() {
            user["emailaddress"] = email;
        }
        h.sandbox.insert(Entity::User, user);
    }
    site_id
}

fn user<'a>(records: &'a [Value], name: &str) -> &'a Value {
    records.iter().find(|u| u["name"] == name).unwrap()
}

#[tokio::test]
async fn the_plan_lists_exactly_who_apply_deactivates_and_drift_is_skipped() {
    let h = harness().await;
    let site_id = seed(&h);
    let (wf, file) = example("deactivate-users-without-email.yaml");
    let opts = RunOptions {
        inputs: inputs(json!({"site_id": site_id})),
        ..RunOptions::default()
    };
    let writes_before = h.sandbox.requests().iter().filter(|r| r.method != "GET" && !r.path.contains("token")).count();
    let (plan, report) = make_plan(&wf, &file, &h.runtime, opts, "sandbox", "sandbox").await;
    assert!(report.succeeded(), "{}", report.to_json());
    assert!(plan.problems.is_empty(), "{:?}", plan.problems);
    let named: Vec<&str> = plan
        .changes
        .iter()
        .map(|c| c.target.as_ref().unwrap().name.as_str().unwrap())
        .collect();
    assert_eq!(named, ["Bob Baker", "Cid Chase", "Dee Dunn"]);
    let bob = &plan.changes[0];
    assert_eq!(bob.node, "halopsa.user.update");
    assert_eq!(bob.before["Inactive"], json!(false));
    assert_eq!(bob.after["Inactive"], json!(true));
    assert_eq!(plan.requests.writes_planned, 3);
    assert!(plan.requests.reads_made >= 4, "{:?}", plan.requests);
    let writes_after = h.sandbox.requests().iter().filter(|r| r.method != "GET" && !r.path.contains("token")).count();
    assert_eq!(writes_before, writes_after, "planning writes nothing");
    let table = plan.render();
    assert!(table.contains("Bob Baker") && table.contains("Inactive: false -> true"), "{table}");
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(json["changes"][0]["target"]["name"], json!("Bob Baker"));
    for key in ["step", "node", "target", "params", "before", "after"] {
        assert!(json["changes"][0].get(key).is_some(), "changes[].{key}");
    }

    // Between plan and apply: Cid's record is edited (still no email), Dee gets an email.
    let users = h.sandbox.records(Entity::User);
    let cid = user(&users, "Cid Chase")["id"].clone();
    let dee = user(&users, "Dee Dunn")["id"].clone();
    let mut p = Map::new();
    p.insert("Id".into(), cid.clone());
    p.insert("Notes".into(), json!("moved desks"));
    assert!(h.runtime.invoke("halopsa.user.update", p).await.is_success());
    let mut p = Map::new();
    p.insert("Id".into(), dee.clone());
    p.insert("Emailaddress".into(), json!("dee@initech.example"));
    assert!(h.runtime.invoke("halopsa.user.update", p).await.is_success());

    let (report, skipped) = apply_plan(&wf, &plan, &h.runtime, RunOptions::default())
        .await
        .unwrap();
    assert!(report.succeeded(), "{}", report.to_json());
    let users = h.sandbox.records(Entity::User);
    assert_eq!(user(&users, "Bob Baker")["inactive"], json!(true));
    assert_eq!(user(&users, "Cid Chase")["inactive"], json!(false));
    assert_eq!(user(&users, "Dee Dunn")["inactive"], json!(false));
    assert_eq!(user(&users, "Ann Able")["inactive"], json!(false));
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    let cid_skip = skipped
        .iter()
        .find(|s| s.change.as_ref().unwrap().target.as_ref().unwrap().id == cid)
        .unwrap();
    assert!(cid_skip.reason.contains("changed since the plan") && cid_skip.reason.contains("notes"), "{}", cid_skip.reason);
    let dee_skip = skipped
        .iter()
        .find(|s| s.change.as_ref().unwrap().target.as_ref().unwrap().id == dee)
        .unwrap();
    assert!(dee_skip.reason.contains("no longer selects"), "{}", dee_skip.reason);
}

#[tokio::test]
async fn apply_refuses_a_changed_workflow_or_other_inputs() {
    let h = harness().await;
    let site_id = seed(&h);
    let (wf, file) = example("deactivate-users-without-email.yaml");
    let opts = RunOptions {
        inputs: inputs(json!({"site_id": site_id})),
        ..RunOptions::default()
    };
    let (plan, _) = make_plan(&wf, &file, &h.runtime, opts, "sandbox", "sandbox").await;
    let edited = psaflow_workflow::parse(&wf.source().replace("Count: 5000", "Count: 10"), &file).unwrap();
    let err = apply_plan(&edited, &plan, &h.runtime, RunOptions::default()).await.unwrap_err();
    assert!(matches!(err, PlanError::WorkflowChanged { .. }), "{err}");
    let other = RunOptions {
        inputs: inputs(json!({"site_id": site_id + 1})),
        ..RunOptions::default()
    };
    let err = apply_plan(&wf, &plan, &h.runtime, other).await.unwrap_err();
    assert!(matches!(err, PlanError::InputsChanged { .. }), "{err}");
    let mut tampered = plan.clone();
    tampered.inputs.insert("site_id".into(), json!(999));
    let err = apply_plan(&wf, &tampered, &h.runtime, RunOptions::default()).await.unwrap_err();
    assert!(matches!(err, PlanError::InputsChanged { .. }), "{err}");
    let writes = h.sandbox.requests().iter().filter(|r| r.method != "GET" && !r.path.contains("token")).count();
    assert_eq!(writes, 0, "a refused apply sends nothing");
}
