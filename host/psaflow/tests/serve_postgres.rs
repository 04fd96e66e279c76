//! `psaflow serve` on a shared PostgreSQL run store with `--no-executor`, and a separate
//! `psaflow worker` process executing what it queues: the deployment where several servers
//! and workers share one store. Uses a throw-away cluster (initdb/pg_ctl) or
//! PSAFLOW_TEST_DATABASE_URL; skipped without PostgreSQL unless PSAFLOW_REQUIRE_POSTGRES=1.
mod common;
mod serve_support;

use psaflow_store::test_cluster::TestCluster;
use serde_json::json;
use serve_support::*;
use std::process::Stdio;

#[tokio::test(flavor = "multi_thread")]
async fn serve_queues_on_postgres_and_a_worker_process_executes_and_resumes_after_approval() {
    let Some(cluster) = TestCluster::start_or_skip("serve on PostgreSQL") else {
        return;
    };
    let url = cluster.fresh_database();
    let out = psaflow()
        .args([
            "tokens", "create", "pg-admin", "--scopes", "admin", "--store", &url,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string();
    let server = Server::start(&["--store", &url, "--no-executor"]);
    let mut worker = psaflow()
        .args([
            "worker",
            "--store",
            &url,
            "--concurrency",
            "2",
            "--poll",
            "200ms",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("psaflow worker starts");

    let ready: serde_json::Value = client()
        .get(server.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["store"], "postgres", "{ready}");
    assert_eq!(ready["executes_runs"], false, "{ready}");

    let (status, body) = post(
        &server,
        &token,
        "/v1/runs",
        &json!({"workflow": "lookup-client", "inputs": {"id": 1}}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "queued");
    let id = body["id"].as_str().unwrap().to_string();
    let events = follow(&server, &token, &id).await;
    assert_eq!(
        events.last().unwrap().1["status"],
        "succeeded",
        "{events:?}"
    );
    let (_, report) = get(&server, &token, &format!("/v1/runs/{id}")).await;
    assert_eq!(report["started_by"], "pg-admin");
    assert!(report["outputs"]["name"].is_string(), "{report}");

    // An approval through the server requeues the parked run; the worker continues it.
    let (waiting, _) = start_until_waiting(&server, &token, "Shared Store Ltd").await;
    let (status, body) = post(
        &server,
        &token,
        &format!("/v1/runs/{waiting}/approvals"),
        &json!({"step": "create", "decision": "approve"}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let (event, data) = follow_until_stop(&server, &token, &waiting).await;
    assert_eq!(
        (event.as_str(), data["status"].as_str()),
        ("done", Some("succeeded")),
        "{data}"
    );

    let _ = worker.kill();
    let _ = worker.wait();
}

#[test]
fn a_store_that_refuses_the_connection_says_why_in_the_servers_words() {
    let Some(cluster) = TestCluster::start_or_skip("connection errors") else {
        return;
    };
    // The same server and user, a database that does not exist, and a password in the URL.
    let url = cluster.fresh_database();
    let (server, _) = url.rsplit_once('/').unwrap();
    let server = server.replacen("postgres://postgres@", "postgres://postgres:hunter2@", 1);
    let out = psaflow()
        .args(["worker", "--store", &format!("{server}/nosuchdb")])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot connect to the run store"),
        "{stderr}"
    );
    assert!(
        stderr.contains("database \"nosuchdb\" does not exist"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
}
