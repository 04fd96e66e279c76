//! `/v1/openapi.json` of the real server: a valid document (client generators need unique
//! operation ids) that says what the server does.
mod common;
mod serve_support;

use serde_json::Value;
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
