//! What the `psaflow serve` tests share: workflows, the real binary on a free port, tokens
//! made with the real `psaflow tokens` command, small HTTP helpers.
#![allow(dead_code)]
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

pub const LOOKUP: &str = "name: lookup-client
inputs:
  id: { type: integer, required: true }
steps:
  - id: client
    node: halopsa.client.get
    with:
      Id: ${{ inputs.id }}
outputs:
  name: ${{ steps.client.Client.name }}
";

pub const APPROVAL: &str = "name: approved-create
inputs:
  name: { type: string, required: true }
steps:
  - id: check
    node: halopsa.client.get
    with:
      Id: 1
  - id: create
    node: halopsa.client.create
    approval:
      message: Create client ${{ inputs.name }}?
    with:
      Name: ${{ inputs.name }}
outputs:
  id: ${{ steps.create.Client.id }}
";

/// The real binary (see [`crate::common::psaflow`]).
pub use crate::common::psaflow;

/// `psaflow tokens create NAME --scopes SCOPES`: the token is the last line of stdout.
pub fn create_token(state: &Path, name: &str, scopes: &str) -> String {
    let out = psaflow()
        .args(["tokens", "create", name, "--scopes", scopes, "--state"])
        .arg(state)
        .output()
        .expect("psaflow tokens runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let token = stdout.lines().last().expect("a line").trim().to_string();
    assert!(token.starts_with("psf_"), "{stdout}");
    token
}

pub struct Server {
    child: Child,
    pub base: String,
    log: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
    pub state: PathBuf,
}

impl Server {
    pub fn start(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let workflows = dir.path().join("workflows");
        std::fs::create_dir_all(&workflows).unwrap();
        std::fs::write(workflows.join("lookup.yaml"), LOOKUP).unwrap();
        std::fs::write(workflows.join("approved-create.yaml"), APPROVAL).unwrap();
        // No rate limit unless the test sets one: tests send bursts.
        let rate_limit: &[&str] = if extra.contains(&"--rate-limit") {
            &[]
        } else {
            &["--rate-limit", "off"]
        };
        let mut child = psaflow()
            .args(["serve", "--bind", "127.0.0.1:0"])
            .args(rate_limit)
            .arg("--state")
            .arg(&state)
            .arg("--workflows")
            .arg(&workflows)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("psaflow serve starts");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or("").to_string();
                    let _ = tx.send(addr);
                }
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let base = rx
            .recv_timeout(std::time::Duration::from_secs(600))
            .unwrap_or_else(|_| panic!("serve did not start: {}", log.lock().unwrap()));
        Server {
            child,
            base,
            log,
            _dir: dir,
            state,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// SIGTERM, then the exit status.
    pub fn stop(mut self) -> (Option<i32>, String) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let status = self.child.wait().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
        (status.code(), self.log())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// Sends `request` with the bearer `token`: the status and the JSON body (null when none).
async fn send(request: reqwest::RequestBuilder, token: &str) -> (u16, Value) {
    let r = request.bearer_auth(token).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

pub async fn get(s: &Server, token: &str, path: &str) -> (u16, Value) {
    send(client().get(s.url(path)), token).await
}

pub async fn post(s: &Server, token: &str, path: &str, body: &Value) -> (u16, Value) {
    send(client().post(s.url(path)).json(body), token).await
}

pub async fn put(s: &Server, token: &str, path: &str, body: &Value) -> (u16, Value) {
    send(client().put(s.url(path)).json(body), token).await
}

/// Starts the `approved-create` workflow for a client called `name` and follows it until it
/// waits at its approval: the run id and the `waiting` event's data.
pub async fn start_until_waiting(s: &Server, token: &str, name: &str) -> (String, Value) {
    let (status, body) = post(
        s,
        token,
        "/v1/runs",
        &serde_json::json!({"workflow": "approved-create", "inputs": {"name": name}}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    let (event, data) = follow_until_stop(s, token, &id).await;
    assert_eq!(event, "waiting", "{data}");
    (id, data)
}

/// Reads the run's event stream to its end: (event, data) pairs.
pub async fn follow(s: &Server, token: &str, id: &str) -> Vec<(String, Value)> {
    let mut r = client()
        .get(s.url(&format!("/v1/runs/{id}/events")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut text = String::new();
    while let Some(chunk) = r.chunk().await.unwrap() {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let mut events = Vec::new();
    for block in text.split("\n\n") {
        let mut name = None;
        let mut data = String::new();
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("event:") {
                name = Some(v.trim().to_string());
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push_str(v.trim());
            }
        }
        if let Some(name) = name {
            events.push((name, serde_json::from_str(&data).unwrap_or(Value::Null)));
        }
    }
    events
}

/// Reads the run's events until it waits for approval or is done; returns the last event.
pub async fn follow_until_stop(s: &Server, token: &str, id: &str) -> (String, Value) {
    let mut r = client()
        .get(s.url(&format!("/v1/runs/{id}/events")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let mut text = String::new();
    while let Some(chunk) = r.chunk().await.unwrap() {
        text.push_str(&String::from_utf8_lossy(&chunk));
        for name in ["waiting", "done"] {
            if let Some(at) = text.find(&format!("event: {name}\n")) {
                let rest = &text[at..];
                if let Some(end) = rest.find("\n\n") {
                    let data = rest[..end]
                        .lines()
                        .find_map(|l| l.strip_prefix("data:"))
                        .unwrap_or("null");
                    return (name.to_string(), serde_json::from_str(data.trim()).unwrap());
                }
            }
        }
    }
    panic!("the stream ended without waiting or done: {text}");
}
