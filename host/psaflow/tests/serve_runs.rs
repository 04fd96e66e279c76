//! Runs over real HTTP at their edges: cancelled runs (their report, decisions refused),
//! repeated decisions, list order with ids callers chose, and how bodies are refused.
mod common;
mod serve_support;

use serde_json::{Value, json};
use serve_support::*;

/// A `for_each` over `n` lookups: long enough to cancel while it runs.
fn many_lookups(n: usize) -> Value {
    let yaml = "name: many-lookups
inputs:
  ids: { type: json, required: true }
steps:
  - id: each
    node: halopsa.client.get
    for_each: ${{ inputs.ids }}
    with:
      Id: ${{ item }}
  - id: after
    node: halopsa.client.get
    with:
      Id: 1
outputs:
  first: ${{ steps.each[0].Client.name }}
";
    json!({"workflow_yaml": yaml, "inputs": {"ids": vec![1; n]}})
}

/// Reads the run's events until one named `name` arrives.
async fn wait_for_event(s: &Server, token: &str, id: &str, name: &str) {
    let mut r = client()
        .get(s.url(&format!("/v1/runs/{id}/events")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let mut text = String::new();
    while let Some(chunk) = r.chunk().await.unwrap() {
        text.push_str(&String::from_utf8_lossy(&chunk));
        if text.contains(&format!("event: {name}\n")) {
            return;
        }
    }
    panic!("the stream ended without {name}: {text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_cancelled_in_a_for_each_still_reports_outputs_and_steps() {
    let server = Server::start(&["--allow-inline-workflows"]);
    let admin = create_token(&server.state, "ops", "admin");
    let (status, body) = post(&server, &admin, "/v1/runs", &many_lookups(20_000)).await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    wait_for_event(&server, &admin, &id, "progress").await;
    let (status, body) = post(
        &server,
        &admin,
        &format!("/v1/runs/{id}/cancel"),
        &json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let (_, report) = get(&server, &admin, &format!("/v1/runs/{id}")).await;
    assert_eq!(report["status"], "failed", "{report}");
    assert_eq!(report["outputs"], json!({}), "{report}");
    assert_eq!(report["steps"]["each"]["status"], "failed", "{report}");
    assert_eq!(
        report["steps"]["each"]["error"], "cancelled by ops",
        "{report}"
    );
    assert_eq!(report["steps"]["after"]["status"], "skipped", "{report}");
    let timings = report["step_timings"].as_array().unwrap();
    assert!(
        timings
            .iter()
            .all(|t| t["status"] != "running" && !t["finished_at"].is_null()),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_run_refuses_every_decision_and_records_none() {
    let server = Server::start(&[]);
    let admin = create_token(&server.state, "ops", "admin");
    let (id, _) = start_until_waiting(&server, &admin, "Never").await;
    let (status, body) = post(
        &server,
        &admin,
        &format!("/v1/runs/{id}/cancel"),
        &json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    for decision in [
        json!({"decision": "approve"}),
        json!({"decision": "reject"}),
        json!({"step": "create", "decision": "approve"}),
        json!({"step": "create", "decision": "reject"}),
    ] {
        let (status, body) = post(
            &server,
            &admin,
            &format!("/v1/runs/{id}/approvals"),
            &decision,
        )
        .await;
        assert_eq!(status, 409, "{decision}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("cancelled by ops"), "{message}");
        assert!(message.contains("no decision was recorded"), "{message}");
    }
    let (_, audit) = get(&server, &admin, &format!("/v1/audit?run={id}")).await;
    assert_eq!(audit, json!([]), "nothing recorded");
    let (_, report) = get(&server, &admin, &format!("/v1/runs/{id}")).await;
    assert!(report["approvals"][0]["decision"].is_null(), "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn repeating_a_decision_without_step_answers_as_with_it() {
    let server = Server::start(&[]);
    let admin = create_token(&server.state, "ops", "admin");
    let (id, _) = start_until_waiting(&server, &admin, "Twice").await;
    let path = format!("/v1/runs/{id}/approvals");
    let (status, body) = post(&server, &admin, &path, &json!({"decision": "approve"})).await;
    assert_eq!(status, 202, "{body}");
    let (status, body) = post(&server, &admin, &path, &json!({"decision": "approve"})).await;
    assert_eq!(status, 200, "the same decision again: {body}");
    assert_eq!(body["step"], "create", "{body}");
    let (status, body) = post(&server, &admin, &path, &json!({"decision": "reject"})).await;
    assert_eq!(status, 409, "a different decision: {body}");
    let (_, audit) = get(&server, &admin, &format!("/v1/audit?run={id}")).await;
    let decisions = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["effect"] == "approve" || r["effect"] == "reject")
        .count();
    assert_eq!(decisions, 1, "one decision recorded: {audit}");
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_are_listed_newest_first_whatever_ids_callers_chose() {
    let server = Server::start(&[]);
    let admin = create_token(&server.state, "ops", "admin");
    let body = json!({"workflow": "lookup-client", "inputs": {"id": 1}});
    // A chosen id that sorts after every generated one, made first.
    let (status, _) = put(&server, &admin, "/v1/runs/zz-nightly", &body).await;
    assert_eq!(status, 202);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let (status, newer) = post(&server, &admin, "/v1/runs", &body).await;
    assert_eq!(status, 202);
    let newer = newer["id"].as_str().unwrap().to_string();

    let (_, page) = get(&server, &admin, "/v1/runs?limit=1").await;
    assert_eq!(page["runs"][0]["id"], newer.as_str(), "{page}");
    assert_eq!(page["next"], newer.as_str(), "{page}");
    let (_, page) = get(&server, &admin, &format!("/v1/runs?before={newer}")).await;
    assert_eq!(page["runs"][0]["id"], "zz-nightly", "{page}");
    assert_eq!(page["runs"].as_array().unwrap().len(), 1, "{page}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_the_server_executes_reports_backend_and_backends_as_the_cli_does() {
    let server = Server::start(&[]);
    let admin = create_token(&server.state, "ops", "admin");
    let body = json!({"workflow": "lookup-client", "inputs": {"id": 1}});
    let (status, submitted) = post(&server, &admin, "/v1/runs", &body).await;
    assert_eq!(status, 202, "{submitted}");
    let id = submitted["id"].as_str().unwrap().to_string();
    let (event, done) = follow_until_stop(&server, &admin, &id).await;
    assert_eq!(event, "done", "{done}");
    let (status, run) = get(&server, &admin, &format!("/v1/runs/{id}")).await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["backend"], "sandbox", "{run}");
    assert_eq!(run["backends"], json!({"halopsa": "sandbox"}), "{run}");
    assert!(run.get("backend_description").is_none(), "{run}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_input_is_explained_in_terms_of_the_request_body() {
    let server = Server::start(&[]);
    let admin = create_token(&server.state, "ops", "admin");
    let body = json!({"workflow": "lookup-client", "inputs": {}});
    let (status, answer) = post(&server, &admin, "/v1/runs", &body).await;
    assert_eq!(status, 422, "{answer}");
    let diagnostic = &answer["error"]["diagnostics"][0];
    assert_eq!(
        diagnostic["message"], "input 'id' is required but was not given",
        "{answer}"
    );
    assert_eq!(diagnostic["help"], r#"add "id" to "inputs""#, "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bodies_are_read_after_the_scope_and_wrong_shapes_are_invalid() {
    let server = Server::start(&[]);
    let admin = create_token(&server.state, "ops", "admin");
    let reader = create_token(&server.state, "dashboard", "read");
    let raw = |token: &str, path: &str, text: &'static str| {
        client()
            .post(server.url(path))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(text)
            .send()
    };
    for (path, scope) in [
        ("/v1/runs", "'run' scope"),
        ("/v1/nodes/halopsa.client.get/invoke", "'invoke' scope"),
    ] {
        for text in ["{not json", "{\"x\": 1}", "[1]"] {
            let r = raw(&reader, path, text).await.unwrap();
            assert_eq!(r.status().as_u16(), 403, "{path} {text}");
            let body: Value = r.json().await.unwrap();
            assert!(
                body["error"]["message"].as_str().unwrap().contains(scope),
                "{body}"
            );
        }
    }
    let r = raw(&admin, "/v1/runs", "{\"x\": 1}").await.unwrap();
    assert_eq!(r.status().as_u16(), 422);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "invalid");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timed_out_approval_refuses_a_persons_decision_and_records_none() {
    let server = Server::start(&["--allow-inline-workflows"]);
    let admin = create_token(&server.state, "ops", "admin");
    let yaml = "name: short-wait
steps:
  - id: check
    node: halopsa.client.get
    approval:
      message: Look client 1 up?
      timeout: 1s
    with:
      Id: 1
";
    let (status, body) = post(&server, &admin, "/v1/runs", &json!({"workflow_yaml": yaml})).await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    let (event, data) = follow_until_stop(&server, &admin, &id).await;
    assert_eq!(event, "waiting", "{data}");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    for decision in ["approve", "reject"] {
        let (status, body) = post(
            &server,
            &admin,
            &format!("/v1/runs/{id}/approvals"),
            &json!({"decision": decision}),
        )
        .await;
        assert_eq!(status, 409, "{decision}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("timed out at 20"), "{message}");
        assert!(message.contains("on_timeout (reject) applies"), "{message}");
    }
    let (_, audit) = get(&server, &admin, &format!("/v1/audit?run={id}")).await;
    assert!(
        audit.as_array().unwrap().iter().all(|row| row["actor"] != "ops"),
        "no decision of a person recorded: {audit}"
    );
    // Nobody has to resume it: the server's sweeper queues it again and its on_timeout
    // (reject) decides.
    let started = std::time::Instant::now();
    let report = loop {
        let (_, report) = get(&server, &admin, &format!("/v1/runs/{id}")).await;
        if report["status"] != "waiting_approval" {
            break report;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "still waiting: {report}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(report["status"], "failed", "{report}");
    assert!(report.to_string().contains("timeout"), "{report}");
}

#[test]
fn serve_logs_carry_no_colour_codes_when_stderr_is_not_a_terminal() {
    let server = Server::start(&[]);
    let (_, log) = server.stop();
    assert!(log.contains("INFO"), "{log}");
    assert!(!log.contains('\u{1b}'), "{log:?}");
}
