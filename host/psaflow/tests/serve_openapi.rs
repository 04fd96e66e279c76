//! `/v1/openapi.json` of the real server: a valid document (client generators need unique
//! operation ids) that says what the server does.
mod common;
mod serve_support;

use serde_json::{Value, json};
use serve_support::*;
use std::collections::HashMap;

async fn document(server: &Server) -> Value {
    client()
        .get(server.url("/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Every operation of the document: (method, path, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            all.push((method.clone(), path.clone(), operation.clone()));
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread")]
async fn every_operation_has_its_own_operation_id() {
    let server = Server::start(&[]);
    let doc = document(&server).await;
    let mut seen: HashMap<String, String> = HashMap::new();
    for (method, path, operation) in operations(&doc) {
        let id = operation["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path} has no operationId"))
            .to_string();
        if let Some(other) = seen.insert(id.clone(), format!("{method} {path}")) {
            panic!("operationId {id} is used by {other} and {method} {path}");
        }
    }
    assert_eq!(seen["listRuns"], "get /v1/runs");
    assert_eq!(seen["invokeNode"], "post /v1/nodes/{node}/invoke");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_document_describes_the_answers_the_server_gives() {
    let server = Server::start(&[]);
    let admin = create_token(&server.state, "ops", "admin");
    let doc = document(&server).await;
    let op = |path: &str, method: &str| doc["paths"][path][method].clone();
    let schema_ref = |op: &Value, code: &str| {
        op["responses"][code]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };

    // A dry run (and a repeat) answer 200 with JSON, described.
    let submit = op("/v1/runs", "post");
    assert_eq!(
        schema_ref(&submit, "200"),
        "#/components/schemas/SubmitAnswer"
    );
    assert_eq!(
        schema_ref(&op("/v1/runs/{id}", "put"), "200"),
        "#/components/schemas/SubmitAnswer"
    );
    let report = &doc["components"]["schemas"]["RunReport"];
    let (status, dry) = post(
        &server,
        &admin,
        "/v1/runs",
        &json!({"workflow": "lookup-client", "inputs": {"id": 1}, "dry_run": true}),
    )
    .await;
    assert_eq!(status, 200, "{dry}");
    for key in report["required"].as_array().unwrap() {
        assert!(dry.get(key.as_str().unwrap()).is_some(), "{key} in {dry}");
    }

    // `limit` is documented as the server checks it.
    let runs = op("/v1/runs", "get");
    let limit = runs["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap();
    assert_eq!(
        (
            limit["schema"]["minimum"].as_u64(),
            limit["schema"]["maximum"].as_u64()
        ),
        (Some(1), Some(500)),
        "{limit}"
    );
    for (limit, answer) in [(0, 400), (1, 200), (500, 200), (501, 400)] {
        let (status, _) = get(&server, &admin, &format!("/v1/runs?limit={limit}")).await;
        assert_eq!(status, answer, "limit={limit}");
    }

    // Every event the stream sends is named.
    let events = op("/v1/runs/{id}/events", "get")["responses"]["200"]["description"].clone();
    for name in ["`step`", "`progress`", "`waiting`", "`done`"] {
        assert!(events.as_str().unwrap().contains(name), "{name}: {events}");
    }

    // A record id is a positive s64, with exact bounds.
    let (_, node) = get(&server, &admin, "/v1/nodes/halopsa.client.get").await;
    let id = &node["schema"]["properties"]["Id"];
    assert_eq!(id["minimum"], 1, "{id}");
    assert_eq!(id["maximum"].as_i64(), Some(i64::MAX), "{id}");
}
