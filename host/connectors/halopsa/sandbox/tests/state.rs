//! `psaflow sandbox --state FILE`: what a client created is still there after a restart, ids
//! go on counting, and a damaged state file stops the start with a message naming it.
mod common;

use common::start;
use psaflow_halopsa_sandbox::{Sandbox, SandboxError, SandboxOptions};
use serde_json::json;
use std::path::{Path, PathBuf};

fn state_file(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("psaflow-sandbox-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

fn with_state(path: &Path) -> SandboxOptions {
    SandboxOptions {
        state_file: Some(path.to_path_buf()),
        ..SandboxOptions::default()
    }
}

#[tokio::test]
async fn changes_survive_a_restart_and_ids_go_on() {
    let path = state_file("restart.json");
    let api = start(with_state(&path)).await;
    assert!(path.exists(), "the seeded data is written at once");
    let made = api.post("/Client", json!([{"name": "Kept Ltd"}])).await;
    assert_eq!(made.status, 201, "{}", made.text);
    let kept_id = made.json["id"].as_i64().unwrap();
    let gone = api.post("/Client", json!([{"name": "Gone Ltd"}])).await;
    let gone_id = gone.json["id"].as_i64().unwrap();
    assert_eq!(api.delete(&format!("/Client/{gone_id}")).await.status, 200);
    api.sandbox.shutdown().await;

    let api = start(with_state(&path)).await;
    let kept = api.get(&format!("/Client/{kept_id}")).await;
    assert_eq!(kept.status, 200, "{}", kept.text);
    assert_eq!(kept.json["name"], "Kept Ltd");
    assert_eq!(
        api.get(&format!("/Client/{gone_id}")).await.status,
        404,
        "a delete is kept too"
    );
    assert_eq!(api.get("/Client/1").await.status, 200, "the demo data is kept");
    let next = api.post("/Client", json!([{"name": "Next"}])).await;
    assert_eq!(next.json["id"].as_i64(), Some(gone_id + 1), "ids are never reused");
    api.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_damaged_state_file_stops_the_start_naming_it() {
    let path = state_file("damaged.json");
    std::fs::write(&path, "{\"version\": 1, \"tables\": {\"client\": {\"rows\": [{\"name\": 1}]}}}").unwrap();
    let err = Sandbox::start(with_state(&path)).await.err().expect("refused");
    assert!(matches!(err, SandboxError::State { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("damaged.json"), "{text}");
    assert!(text.contains("table \"client\", row 1"), "{text}");

    std::fs::write(&path, "{not json").unwrap();
    let text = Sandbox::start(with_state(&path)).await.err().unwrap().to_string();
    assert!(text.contains("not valid JSON (line 1, column 2)"), "{text}");
}
