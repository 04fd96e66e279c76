//! `psaflow serve` driven over real HTTP: the real binary on a free port, its embedded
//! sandbox, tokens made with the real `psaflow tokens` command.
mod common;
mod serve_support;

use serde_json::{Value, json};
use serve_support::*;

#[tokio::test(flavor = "multi_thread")]
async fn tokens_runs_events_idempotency_approvals_and_metrics_over_http() {
    // The server reads tokens from its run store on every request, so tokens made by the
    // CLI after it started work at once.
    let server = Server::start(&[]);
    let admin = create_token(&server.state, "ops-admin", "admin");
    let reader = create_token(&server.state, "dashboard", "read");

    // Health needs no token; /v1 does.
    let health = client().get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let (status, body) = get(&server, "", "/v1/runs").await;
    assert_eq!(status, 401, "{body}");
    let r = client().get(server.url("/v1/runs")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Bearer")
    );
    let (status, _) = get(&server, "psf_0000", "/v1/runs").await;
    assert_eq!(status, 401);

    // A read token cannot start runs: 403 naming the scope.
    let (status, body) = post(
        &server,
        &reader,
        "/v1/runs",
        &json!({"workflow": "lookup-client", "inputs": {"id": 1}}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("'run' scope"),
        "{body}"
    );

    // Submit, then follow the events to the end.
    let (status, body) = post(
        &server,
        &admin,
        "/v1/runs",
        &json!({"workflow": "lookup-client", "inputs": {"id": 1}}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    assert!(
        matches!(body["status"].as_str(), Some("running" | "queued")),
        "{body}"
    );
    let events = follow(&server, &reader, &id).await;
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.last(), Some(&"done"), "{events:?}");
    assert_eq!(
        events.last().unwrap().1["status"],
        "succeeded",
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|(n, d)| n == "step" && d["step"] == "client" && d["status"] == "succeeded"),
        "{events:?}"
    );
    let (status, report) = get(&server, &reader, &format!("/v1/runs/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(report["id"], id.as_str());
    assert_eq!(report["status"], "succeeded");
    assert_eq!(report["started_by"], "ops-admin");
    assert!(report["outputs"]["name"].is_string(), "{report}");

    // Listed, filtered, paged.
    let (status, page) = get(
        &server,
        &reader,
        "/v1/runs?status=succeeded&workflow=lookup-client&limit=1",
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["runs"][0]["id"], id.as_str());
    let (_, page) = get(&server, &reader, "/v1/runs?workflow=another-one&since=1h").await;
    assert_eq!(page, json!({"runs": [], "next": null}), "{page}");
    let (_, page) = get(&server, &reader, &format!("/v1/runs?since=1h&before={id}")).await;
    assert!(
        page["runs"].as_array().unwrap().iter().all(|r| r["id"].as_str() < Some(id.as_str())),
        "{page}"
    );
    let (status, body) = get(&server, &reader, "/v1/runs?status=done").await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown status")
    );

    // Idempotent PUT: the same body is the same run; another body is a 409.
    let body = json!({"workflow": "lookup-client", "inputs": {"id": 1}});
    let nightly = "/v1/runs/nightly-2026-11-30";
    let (status, _) = put(&server, &admin, nightly, &body).await;
    assert_eq!(status, 202);
    let (status, again) = put(&server, &admin, nightly, &body).await;
    assert_eq!(status, 200);
    assert_eq!(again["id"], "nightly-2026-11-30");
    let other = json!({"workflow": "lookup-client", "inputs": {"id": 2}});
    let (status, conflict) = put(&server, &admin, nightly, &other).await;
    assert_eq!(status, 409);
    assert_eq!(conflict["error"]["code"], "conflict");
    // The same through POST with an Idempotency-Key.
    let key_post = |b: &Value| {
        client()
            .post(server.url("/v1/runs"))
            .bearer_auth(&admin)
            .header("Idempotency-Key", "k-1")
            .json(b)
            .send()
    };
    let first: Value = key_post(&body).await.unwrap().json().await.unwrap();
    let again = key_post(&body).await.unwrap();
    assert_eq!(again.status().as_u16(), 200);
    assert_eq!(again.json::<Value>().await.unwrap()["id"], first["id"]);
    assert_eq!(key_post(&other).await.unwrap().status().as_u16(), 409);

    // Unknown workflow and bad inputs: JSON errors.
    let (status, body) = post(
        &server,
        &admin,
        "/v1/runs",
        &json!({"workflow": "lookup-clint"}),
    )
    .await;
    assert_eq!(status, 404);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did you mean lookup-client"),
        "{body}"
    );
    let (status, body) = post(
        &server,
        &admin,
        "/v1/runs",
        &json!({"workflow": "lookup-client", "inputs": {"id": "seven"}}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["diagnostics"]
            .as_array()
            .is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    let r = client()
        .post(server.url("/v1/runs"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "bad_request"
    );

    // A step with `approval:` waits; approving it through the API resumes the run to success.
    let (waiting_id, data) = start_until_waiting(&server, &admin, "Approved Over HTTP").await;
    assert_eq!(data["approvals"][0]["step"], "create");
    assert_eq!(
        data["approvals"][0]["message"],
        "Create client Approved Over HTTP?"
    );
    let (status, body) = post(
        &server,
        &reader,
        &format!("/v1/runs/{waiting_id}/approvals"),
        &json!({"decision": "approve"}),
    )
    .await;
    assert_eq!(status, 403, "a read token cannot approve: {body}");
    let (status, body) = post(
        &server,
        &admin,
        &format!("/v1/runs/{waiting_id}/approvals"),
        &json!({"step": "create", "decision": "approve", "comment": "looks right"}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let (event, data) = follow_until_stop(&server, &admin, &waiting_id).await;
    assert_eq!(
        (event.as_str(), data["status"].as_str()),
        ("done", Some("succeeded")),
        "{data}"
    );
    let (_, report) = get(&server, &admin, &format!("/v1/runs/{waiting_id}")).await;
    assert!(report["outputs"]["id"].as_i64().is_some(), "{report}");
    assert_eq!(report["approvals"][0]["decided_by"], "ops-admin");
    let (status, body) = post(
        &server,
        &admin,
        &format!("/v1/runs/{waiting_id}/approvals"),
        &json!({"step": "create", "decision": "reject"}),
    )
    .await;
    assert_eq!(status, 409, "a different decision: {body}");
    let (status, audit) = get(&server, &reader, &format!("/v1/audit?run={waiting_id}")).await;
    assert_eq!(status, 200);
    let rows = audit.as_array().unwrap();
    assert!(
        rows.iter()
            .any(|r| r["effect"] == "approve" && r["actor"] == "ops-admin"),
        "{audit}"
    );
    assert!(
        rows.iter()
            .any(|r| r["effect"] == "create" && r["approved_by"] == "ops-admin"),
        "{audit}"
    );

    // Cancel a run waiting for approval.
    let (cancel_id, _) = start_until_waiting(&server, &admin, "Never").await;
    let (status, body) = post(
        &server,
        &admin,
        &format!("/v1/runs/{cancel_id}/cancel"),
        &json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, report) = get(&server, &admin, &format!("/v1/runs/{cancel_id}")).await;
    assert_eq!(report["status"], "failed");
    assert_eq!(report["error"], "cancelled by ops-admin");

    // Nodes: the catalog, one node with its JSON Schema, an invocation.
    let (status, nodes) = get(&server, &reader, "/v1/nodes").await;
    assert_eq!(status, 200);
    assert!(
        nodes
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["id"] == "halopsa.client.get")
    );
    let (status, node) = get(&server, &reader, "/v1/nodes/halopsa.client.get").await;
    assert_eq!(status, 200);
    assert_eq!(node["schema"]["type"], "object");
    assert!(node["schema"]["properties"]["Id"].is_object(), "{node}");
    let (status, envelope) = post(
        &server,
        &admin,
        "/v1/nodes/halopsa.client.get/invoke",
        &json!({"Id": 1}),
    )
    .await;
    assert_eq!(status, 200, "{envelope}");
    assert_eq!(envelope["StatusCode"], 200);
    assert_eq!(envelope["Client"]["id"], 1);
    assert_eq!(envelope["backend"], "sandbox");
    let (status, body) = post(
        &server,
        &admin,
        "/v1/nodes/halopsa.client.get/invoke",
        &json!({"Idd": 1}),
    )
    .await;
    // An unknown parameter is the node's answer, as `psaflow invoke --input` prints it.
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["StatusCode"], -1, "{body}");
    assert!(
        body["ErrorMessage"].as_str().unwrap().contains("no parameter Idd"),
        "{body}"
    );
    let (status, _) = post(
        &server,
        &reader,
        "/v1/nodes/halopsa.client.get/invoke",
        &json!({"Id": 1}),
    )
    .await;
    assert_eq!(status, 403);
    let (status, body) = post(
        &server,
        &admin,
        "/v1/nodes/halopsa.client.delete/invoke",
        &json!({"Id": 2}),
    )
    .await;
    assert_eq!(
        status, 409,
        "a destructive node needs ?confirm=true: {body}"
    );
    // An update given the value its node declares a deactivation needs it too; another
    // value does not.
    let (status, body) = post(
        &server,
        &admin,
        "/v1/nodes/halopsa.user.update/invoke",
        &json!({"Id": 2, "Inactive": true}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("deactivates records (as the node declares for Inactive: true)"),
        "{body}"
    );
    let (status, body) = post(
        &server,
        &admin,
        "/v1/nodes/halopsa.user.update/invoke",
        &json!({"Id": 2, "Inactive": false}),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // Workflows and validation with line and column.
    let (status, list) = get(&server, &reader, "/v1/workflows").await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    let bad =
        "name: broken\nsteps:\n  - id: c\n    node: halopsa.client.gett\n    with: { Id: 1 }\n";
    let (status, result) = post(
        &server,
        &reader,
        "/v1/workflows/validate",
        &json!({"yaml": bad}),
    )
    .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["valid"], false);
    let d = &result["diagnostics"][0];
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(4), Some(11)),
        "{result}"
    );
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .contains("halopsa.client.gett"),
        "{result}"
    );
    let (_, result) = post(
        &server,
        &reader,
        "/v1/workflows/validate",
        &json!({"yaml": LOOKUP}),
    )
    .await;
    assert_eq!(result["valid"], true, "{result}");
    assert_eq!(result["warnings"], json!([]), "{result}");
    // Valid, with a warning at the `retry:` key of a create that cannot recover.
    let retried = "name: t\nsteps:\n  - id: t\n    node: halopsa.ticket.create\n    with: { Summary: S, Details: D, TickettypeId: 1 }\n    retry: { max_attempts: 3 }\n";
    let (_, result) = post(
        &server,
        &reader,
        "/v1/workflows/validate",
        &json!({"yaml": retried}),
    )
    .await;
    assert_eq!(result["valid"], true, "{result}");
    assert_eq!(result["warnings"][0]["line"], 6, "{result}");
    assert!(
        result["warnings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("cannot look for a ticket"),
        "{result}"
    );

    // Metrics moved; the OpenAPI document lists the paths.
    let text = client()
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .map(str::to_string)
    };
    assert!(line("psaflow_http_requests_total").is_some(), "{text}");
    assert!(
        text.contains(
            "psaflow_node_invocations_total{node=\"halopsa.client.get\",status_code=\"200\"}"
        ),
        "{text}"
    );
    assert!(
        text.contains("psaflow_runs_finished_total{status=\"succeeded\"}"),
        "{text}"
    );
    assert!(
        text.contains("psaflow_psa_requests_total{connector=\"halopsa\""),
        "{text}"
    );
    assert!(
        text.contains("psaflow_runs{status=\"succeeded\"}"),
        "{text}"
    );
    assert!(
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .all(|l| l.starts_with("psaflow_")),
        "{text}"
    );
    let before = counter(
        &text,
        "psaflow_node_invocations_total{node=\"halopsa.client.get\",status_code=\"200\"}",
    );
    post(
        &server,
        &admin,
        "/v1/nodes/halopsa.client.get/invoke",
        &json!({"Id": 1}),
    )
    .await;
    let text = client()
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        counter(
            &text,
            "psaflow_node_invocations_total{node=\"halopsa.client.get\",status_code=\"200\"}"
        ),
        before + 1.0
    );

    let doc: Value = client()
        .get(server.url("/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{doc}");
    for path in [
        "/v1/runs",
        "/v1/runs/{id}",
        "/v1/runs/{id}/events",
        "/v1/runs/{id}/approvals",
        "/v1/nodes/{node}/invoke",
        "/v1/workflows/validate",
        "/v1/audit",
        "/healthz",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }

    // A revoked token is refused from its next request.
    let out = psaflow()
        .args(["tokens", "revoke", "dashboard", "--state"])
        .arg(&server.state)
        .output()
        .unwrap();
    assert!(out.status.success());
    let (status, _) = get(&server, &reader, "/v1/runs").await;
    assert_eq!(status, 401);

    // Unknown endpoints answer JSON too; the log never shows a token.
    let (status, body) = get(&server, &admin, "/v1/nothing").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
    let (code, log) = server.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(
        !log.contains(&admin) && !log.contains(&reader),
        "a token was logged"
    );
}

fn counter(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn tokens_are_listed_revoked_and_refused_after() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let token = create_token(&state, "ci", "run,read");
    let list = |args: &[&str]| {
        let out = psaflow()
            .args(["tokens"])
            .args(args)
            .arg("--state")
            .arg(&state)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, stdout, _) = list(&["list", "--json"]);
    assert_eq!(code, Some(0));
    let tokens: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(tokens[0]["name"], "ci");
    assert_eq!(tokens[0]["scopes"], json!(["run", "read"]));
    assert!(
        !stdout.contains(&token),
        "the token itself is never shown again"
    );
    let (code, _, stderr) = list(&["create", "ci", "--scopes", "read"]);
    assert_eq!(code, Some(2), "{stderr}");
    let (code, _, stderr) = list(&["create", "x", "--scopes", "raed"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("unknown scope 'raed'"), "{stderr}");
    let (code, _, _) = list(&["revoke", "ci"]);
    assert_eq!(code, Some(0));
    let (code, _, _) = list(&["revoke", "ci"]);
    assert_eq!(code, Some(2));
    let (_, stdout, _) = list(&["list", "--json"]);
    let tokens: Value = serde_json::from_str(&stdout).unwrap();
    assert!(tokens[0]["revoked_at"].is_i64());
}

#[tokio::test(flavor = "multi_thread")]
async fn with_no_executor_runs_wait_in_the_queue_for_workers() {
    let server = Server::start(&["--no-executor"]);
    let token = create_token(&server.state, "portal", "run,read");
    let (status, body) = post(
        &server,
        &token,
        "/v1/runs",
        &json!({"workflow": "lookup-client", "inputs": {"id": 1}}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "queued");
    let id = body["id"].as_str().unwrap();
    let ready: Value = client()
        .get(server.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["executes_runs"], false, "{ready}");
    // Nothing here takes it: it is still queued, with its inputs kept for a worker.
    let (_, report) = get(&server, &token, &format!("/v1/runs/{id}")).await;
    assert_eq!(report["status"], "queued", "{report}");
    assert!(server.log().contains("--no-executor"));
}

#[tokio::test(flavor = "multi_thread")]
async fn named_connections_route_runs_and_invocations_to_their_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("connections.toml");
    // `second` is a tenant of its own (an embedded sandbox here): what is made there is not
    // in the default one.
    std::fs::write(&file, "[connections.second]\nsandbox = true\n").unwrap();
    let server = Server::start(&["--connections", file.to_str().unwrap()]);
    let token = create_token(&server.state, "router", "run,invoke,read");
    let ready: Value = client()
        .get(server.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        ready["connections"],
        json!(["default", "second"]),
        "{ready}"
    );

    let invoke = |connection: &'static str, node: &'static str, body: Value| {
        let url = server.url(&format!("/v1/nodes/{node}/invoke?connection={connection}"));
        let token = token.clone();
        async move {
            let r = client()
                .post(url)
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, made) = invoke(
        "second",
        "halopsa.client.create",
        json!({"Name": "Only In Second"}),
    )
    .await;
    assert_eq!(status, 200, "{made}");
    let id = made["Client"]["id"].as_i64().unwrap();
    let (_, there) = invoke("second", "halopsa.client.get", json!({"Id": id})).await;
    assert_eq!(there["Client"]["name"], "Only In Second", "{there}");
    let (_, here) = invoke("default", "halopsa.client.get", json!({"Id": id})).await;
    assert_ne!(here["Client"]["name"], "Only In Second", "{here}");

    // A run names its connection; an unknown one is refused before anything is recorded.
    let (status, body) = post(
        &server,
        &token,
        "/v1/runs",
        &json!({"workflow": "lookup-client", "inputs": {"id": id}, "connection": "second"}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let run = body["id"].as_str().unwrap().to_string();
    let events = follow(&server, &token, &run).await;
    assert_eq!(
        events.last().unwrap().1["status"],
        "succeeded",
        "{events:?}"
    );
    let (_, report) = get(&server, &token, &format!("/v1/runs/{run}")).await;
    assert_eq!(report["outputs"]["name"], "Only In Second", "{report}");
    let (status, body) = post(
        &server,
        &token,
        "/v1/runs",
        &json!({"workflow": "lookup-client", "inputs": {"id": 1}, "connection": "third"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown connection 'third'"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_given_the_connections_file_executes_runs_that_name_a_connection() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("connections.toml");
    std::fs::write(&file, "[connections.second]\nsandbox = true\n").unwrap();
    let server = Server::start(&["--connections", file.to_str().unwrap(), "--no-executor"]);
    let token = create_token(&server.state, "router", "run,read");
    let worker = |extra: &[&str]| {
        psaflow()
            .arg("worker")
            .arg("--state")
            .arg(&server.state)
            .args(["--poll", "100ms"])
            .args(extra)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("psaflow worker starts")
    };
    // A broken file stops the worker before it claims anything.
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "[connections.x]\nhalopsa = 3\n").unwrap();
    let out = worker(&["--connections", broken.to_str().unwrap()])
        .wait_with_output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("connections.x.halopsa must be a table"), "{stderr}");

    let mut running = worker(&["--connections", file.to_str().unwrap()]);
    let (status, body) = post(
        &server,
        &token,
        "/v1/runs",
        &json!({"workflow": "lookup-client", "inputs": {"id": 1}, "connection": "second"}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let run = body["id"].as_str().unwrap().to_string();
    let events = follow(&server, &token, &run).await;
    let _ = running.kill();
    let _ = running.wait();
    assert_eq!(
        events.last().unwrap().1["status"],
        "succeeded",
        "the worker ran it through its own 'second' connection: {events:?}"
    );
}

#[test]
fn a_connections_file_naming_an_unset_secret_stops_serve_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("connections.toml");
    std::fs::write(
        &file,
        "[connections.acme-halo]\nhalopsa = { api_url = \"https://acme.halopsa.com/api\", client_id = \"x\", client_secret_env = \"PSAFLOW_TEST_UNSET_SECRET\" }\n",
    )
    .unwrap();
    let out = psaflow()
        .args(["serve", "--bind", "127.0.0.1:0", "--state"])
        .arg(dir.path().join("state"))
        .arg("--connections")
        .arg(&file)
        .env_remove("PSAFLOW_TEST_UNSET_SECRET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("connections.acme-halo.halopsa.client_secret_env names PSAFLOW_TEST_UNSET_SECRET, which is not set"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_cert_and_key_serve_https() {
    // A self-signed certificate for 127.0.0.1 made for this test only (tests/fixtures).
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let cert = fixtures.join("serve-test.crt");
    let key = fixtures.join("serve-test.key");
    let server = Server::start(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    assert!(server.base.starts_with("https://"), "{}", server.base);
    let token = create_token(&server.state, "tls-client", "read");
    // Five clients connect and never start their handshake. Handshakes run side by side, so
    // they hold up nobody: with one handshake at a time (10 s limit each) the request below
    // would wait 50 s and fail its 20 s timeout.
    let addr = server.base.trim_start_matches("https://").to_string();
    let mut silent = Vec::new();
    for _ in 0..5 {
        silent.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    let trusted = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(&cert).unwrap()).unwrap(),
        )
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .unwrap();
    let r = trusted
        .get(server.url("/v1/nodes"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    drop(silent);
    // The console's session cookie is marked Secure when the server speaks HTTPS.
    let no_redirects = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(&cert).unwrap()).unwrap(),
        )
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = no_redirects
        .post(server.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status().as_u16(), 303);
    let cookie = login.headers()["set-cookie"].to_str().unwrap();
    for part in ["HttpOnly", "SameSite=Strict", "Secure"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    // Plain HTTP to the TLS port gets no answer; a client that does not trust the certificate
    // refuses it.
    let plain = server.base.replacen("https://", "http://", 1);
    assert!(
        client()
            .get(format!("{plain}/healthz"))
            .send()
            .await
            .is_err()
    );
    assert!(client().get(server.url("/healthz")).send().await.is_err());
}

#[test]
fn a_tls_key_that_is_not_pem_stops_serve_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let bad = dir.path().join("bad.key");
    std::fs::write(&bad, "not a key").unwrap();
    let out = psaflow()
        .args(["serve", "--bind", "127.0.0.1:0", "--state"])
        .arg(dir.path().join("state"))
        .arg("--tls-cert")
        .arg(fixtures.join("serve-test.crt"))
        .arg("--tls-key")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--tls-key"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_and_body_limit_answer_json_429_and_413() {
    let server = Server::start(&["--rate-limit", "4/1h", "--body-limit", "200"]);
    let token = create_token(&server.state, "busy", "read");
    for _ in 0..4 {
        let (status, _) = get(&server, &token, "/v1/workflows").await;
        assert_eq!(status, 200);
    }
    let r = client()
        .get(server.url("/v1/workflows"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("more than 4 requests"),
        "{body}"
    );
    let metrics = client()
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("psaflow_http_rate_limited_total 1"),
        "{metrics}"
    );

    let other = create_token(&server.state, "big-body", "read");
    let r = client()
        .post(server.url("/v1/workflows/validate"))
        .bearer_auth(&other)
        .json(&json!({"yaml": "x".repeat(1000)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_large", "{body}");
}
