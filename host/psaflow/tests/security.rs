//! The trust boundary, attacked through the real binary: a workflow file, an expression or a
//! planted file must not reach credentials or send them anywhere the operator did not choose.
//! Each test is one attack from the security model (README, "Security model") and shows it
//! fails.

mod common;

use common::{halopsa_env, text, tmp};
use psaflow_halopsa_sandbox::{Entity, Sandbox, SandboxOptions};
use serde_json::Value;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Output;

/// The tenant's client secret in these tests: distinctive, so any trace of it is found.
const SECRET: &str = "zq9Xk2Lw7Vb4Nt8Rp3Hy6Jd1Mc5Fg0";
const CLIENT_ID: &str = "trusted-app";

/// A fresh folder for one test (workflow files, config folder, JUnit output).
fn scratch(name: &str) -> PathBuf {
    let dir = tmp("security").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs psaflow (see [`common::psaflow`]) with `vars` added, backtraces on so that a panic
/// shows where.
fn psaflow_with(args: &[&str], vars: &[(&str, &str)]) -> Output {
    common::psaflow()
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .envs(vars.iter().copied())
        .output()
        .expect("psaflow runs")
}

fn write(dir: &Path, name: &str, content: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path.display().to_string()
}

async fn tenant() -> Sandbox {
    Sandbox::start(SandboxOptions {
        client_id: CLIENT_ID.into(),
        client_secret: SECRET.into(),
        ..Default::default()
    })
    .await
    .unwrap()
}

/// Runs psaflow off the async workers (the sandbox serves on them meanwhile).
async fn run_async(args: Vec<String>, vars: Vec<(String, String)>) -> Output {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        psaflow_with(&args, &vars)
    })
    .await
    .unwrap()
}

fn owned(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// A listener standing in for an attacker's server: it never answers, and `touched` says
/// whether any connection reached it.
struct Trap(TcpListener);

impl Trap {
    fn new() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        Trap(listener)
    }
    fn port(&self) -> u16 {
        self.0.local_addr().unwrap().port()
    }
    fn touched(&self) -> bool {
        // A connection made (even one closed since) waits in the accept queue.
        self.0.accept().is_ok()
    }
}

fn assert_no_secret(what: &str, output: &str) {
    assert!(!output.contains(SECRET), "{what} shows the secret:\n{output}");
    let reversed: String = SECRET.chars().rev().collect();
    assert!(!output.contains(&reversed), "{what} shows the reversed secret:\n{output}");
    assert!(
        !output.contains(&SECRET[..10]),
        "{what} shows the start of the secret:\n{output}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_connection_block_reaches_no_server_unless_the_operator_allows_it() {
    let dir = scratch("connection-block");
    let trap = Trap::new();
    let evil = write(
        &dir,
        "evil.yaml",
        &format!(
            "name: evil\nconnection:\n  api_url: http://127.0.0.1:{}/api\n  client_id: x\nsteps:\n  - id: c\n    node: halopsa.client.get\n    with: {{ Id: 1 }}\n",
            trap.port()
        ),
    );
    let server = tenant().await;

    // Before: the block won over HALOPSA_* and the secret was POSTed to its token URL.
    // Now: refused (exit 2, naming the flag), with or without a configured tenant.
    for vars in [vec![("HALOPSA_CLIENT_SECRET".to_string(), SECRET.to_string())], halopsa_env(&server)] {
        let out = run_async(owned(&["run", &evil]), vars).await;
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("--allow-workflow-connection"),
            "{}",
            text(&out.stderr)
        );
        assert_no_secret("stderr", &text(&out.stderr));
    }
    assert!(!trap.touched(), "no request may reach the workflow's server");
    assert!(server.requests().is_empty(), "and none the tenant's: nothing ran");

    // Allowed, but naming an unrelated secret variable: refused before anything is sent.
    let foreign = write(
        &dir,
        "foreign.yaml",
        &format!(
            "name: foreign\nconnection:\n  api_url: http://127.0.0.1:{}/api\n  client_id: x\n  client_secret_env: AWS_SECRET_ACCESS_KEY\nsteps:\n  - id: c\n    node: halopsa.client.get\n    with: {{ Id: 1 }}\n",
            trap.port()
        ),
    );
    let out = run_async(
        owned(&["run", &foreign, "--allow-workflow-connection"]),
        vec![("AWS_SECRET_ACCESS_KEY".into(), SECRET.into())],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("HALOPSA_* or PSAFLOW_*"),
        "{}",
        text(&out.stderr)
    );
    assert!(!trap.touched());

    // Allowed and well-formed: psaflow says where requests and the secret go, then uses it.
    let allowed = write(
        &dir,
        "allowed.yaml",
        &format!(
            "name: allowed\nconnection:\n  api_url: {}\n  auth_url: {}\n  client_id: {CLIENT_ID}\n  client_secret_env: PSAFLOW_TEST_SECRET\nsteps:\n  - id: c\n    node: halopsa.client.get\n    with: {{ Id: 1 }}\n",
            server.api_url(),
            server.auth_url()
        ),
    );
    let out = run_async(
        owned(&["run", &allowed, "--allow-workflow-connection"]),
        vec![("PSAFLOW_TEST_SECRET".into(), SECRET.into())],
    )
    .await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let host = format!("127.0.0.1:{}", server.local_addr().port());
    assert!(
        stderr.contains(&format!("API requests go to {host}, the client secret goes to {host}")),
        "{stderr}"
    );
    assert!(stderr.lines().next().unwrap().contains("--allow-workflow-connection"), "{stderr}");
    assert!(!server.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expressions_cannot_read_the_client_secret() {
    let dir = scratch("env-secret");
    let server = tenant().await;
    let vars = halopsa_env(&server);

    // Before: `${{ env.HALOPSA_CLIENT_SECRET | reverse }}` wrote the secret into a ticket,
    // past the masking. Now: declaring it is a validation error with its position.
    let steal = write(
        &dir,
        "steal.yaml",
        "name: steal\nenv: [HALOPSA_CLIENT_SECRET]\nsteps:\n  - id: c\n    node: halopsa.client.create\n    with:\n      Name: \"${{ env.HALOPSA_CLIENT_SECRET | reverse }}\"\n",
    );
    for command in ["validate", "run"] {
        let out = run_async(owned(&[command, &steal]), vars.clone()).await;
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {stderr}");
        assert!(
            stderr.contains(&format!("{steal}:2:7")) && stderr.contains("`env` cannot list HALOPSA_CLIENT_SECRET"),
            "{command}: {stderr}"
        );
        assert!(
            stderr.contains(&format!("{steal}:7:14")),
            "the expression reading it is flagged too: {stderr}"
        );
        assert_no_secret("stderr", &stderr);
        assert_no_secret("stdout", &text(&out.stdout));
    }
    assert!(server.requests().is_empty(), "an invalid workflow sends nothing");

    // Without declaring anything, `env` is empty: dumping it whole gives `{}`.
    let dump = write(
        &dir,
        "dump.yaml",
        "name: dump\nenv: [REGION]\nsteps:\n  - id: c\n    node: halopsa.client.create\n    with:\n      Name: \"dump ${{ env | tojson }}\"\n",
    );
    let mut with_region = vars.clone();
    with_region.push(("REGION".into(), "eu".into()));
    with_region.push(("AWS_SECRET_ACCESS_KEY".into(), SECRET.into()));
    let out = run_async(owned(&["run", &dump, "--json"]), with_region).await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["backend"], "tenant");
    let names: Vec<String> = server
        .records(Entity::Client)
        .iter()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .filter(|n| n.starts_with("dump "))
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    let dumped: Value = serde_json::from_str(&names[0]["dump ".len()..]).unwrap();
    assert_eq!(dumped, serde_json::json!({"REGION": "eu"}), "only the declared variable is visible");
    for request in server.requests() {
        assert_no_secret("a request query", &request.query);
        assert_no_secret("a request body", request.body.as_deref().unwrap_or(""));
        assert_no_secret("a request path", &request.path);
    }
    assert_no_secret("stdout", &stdout);
    assert_no_secret("stderr", &stderr);
}

#[test]
fn no_sandbox_turns_a_missing_tenant_into_exit_2() {
    let wf = "examples/client-report.yaml";
    // Before: no HALOPSA_* meant fake data and exit 0, with one line on stderr.
    for (args, vars) in [
        (vec!["invoke", "halopsa.client.get", "--with", "Id=1", "--no-sandbox"], vec![]),
        (vec!["run", wf, "--no-sandbox"], vec![]),
        (vec!["run", wf], vec![("PSAFLOW_NO_SANDBOX", "1")]),
        (vec!["invoke", "halopsa.client.get", "--with", "Id=1"], vec![("PSAFLOW_NO_SANDBOX", "true")]),
    ] {
        let out = psaflow_with(&args, &vars);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?} {vars:?}: {stderr}");
        assert!(stderr.contains("no tenant configured"), "{stderr}");
        assert!(out.stdout.is_empty(), "nothing ran: {}", text(&out.stdout));
    }

    // Without the switch the sandbox still works, and says so wherever results appear.
    let out = psaflow_with(&["invoke", "halopsa.client.get", "--with", "Id=1"], &[("PSAFLOW_NO_SANDBOX", "0")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let envelope: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(envelope["backend"], "sandbox");
    let out = psaflow_with(&["run", wf, "--json"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["backend"], "sandbox");
    let summary = text(&out.stderr);
    let first = summary
        .lines()
        .find(|l| l.starts_with("Run "))
        .unwrap_or_else(|| panic!("{summary}"));
    assert!(first.contains("SANDBOX"), "{first}");
}

#[test]
fn a_planted_compiled_component_is_rejected_and_recompiled() {
    let dir = scratch("planted");
    let cache = dir.join("cache");
    let run = |args: &[&str]| {
        // A cache and integrity key of its own: the test plants files in them.
        common::psaflow()
            .args(args)
            .env("PSAFLOW_CACHE_DIR", &cache)
            .env("XDG_CONFIG_HOME", dir.join("config"))
            .output()
            .unwrap()
    };
    // Fill the cache with two genuine entries.
    let get = ["invoke", "halopsa.client.get", "--with", "Id=1"];
    assert_eq!(run(&get).status.code(), Some(0));
    let out = run(&["invoke", "halopsa.client.delete", "--with", "Id=99999"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));

    let engine_dir = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("engine-"))
        .expect("the cache has an engine folder");
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&engine_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
        .collect();
    entries.sort();
    assert!(entries.len() >= 2, "{entries:?}");

    // Plant: every entry is replaced by another genuine entry's code and integrity record,
    // so `halopsa.client.get` would run another node's code (e.g. the delete) if trusted.
    let originals: Vec<(Vec<u8>, Vec<u8>)> = entries
        .iter()
        .map(|p| (std::fs::read(p).unwrap(), std::fs::read(p.with_extension("mac")).unwrap()))
        .collect();
    for (i, path) in entries.iter().enumerate() {
        let (code, mac) = &originals[(i + 1) % entries.len()];
        std::fs::write(path, code).unwrap();
        std::fs::write(path.with_extension("mac"), mac).unwrap();
    }

    let out = run(&get);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let envelope: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(envelope["Client"]["id"], 1, "the genuine node ran");
    assert!(stderr.contains("rejected") && stderr.contains("integrity check failed"), "{stderr}");

    // The rejected entry was compiled again and rewritten: the next run trusts it silently.
    let out = run(&get);
    assert_eq!(out.status.code(), Some(0));
    assert!(!text(&out.stderr).contains("rejected"), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secret_appears_in_no_output_of_any_command() {
    let dir = scratch("every-channel");
    let server = tenant().await;
    let vars = halopsa_env(&server);

    // A workflow test whose failure text carries the secret (as a case secret) right where
    // a value shown in a failure used to be cut (240 characters), so cutting before masking
    // would leave its first characters; and a JUnit file to look into as well.
    let padding = "p".repeat(228);
    write(
        &dir,
        "leak.yaml",
        "name: leak\ninputs:\n  note: { type: string, required: true }\nsteps:\n  - id: c\n    node: halopsa.client.create\n    with: { Name: \"${{ inputs.note }}\" }\noutputs:\n  note: ${{ inputs.note }}\n",
    );
    write(
        &dir,
        "leak.test.yaml",
        &format!(
            "workflow: leak.yaml\ncases:\n  - name: shows a long value\n    inputs: {{ note: x }}\n    secrets: {{ HALO_SECRET: {SECRET} }}\n    mocks:\n      c: {{ Client: {{ id: 7, name: \"{padding}{SECRET}\" }} }}\n    expect:\n      steps:\n        c: {{ envelope: {{ Client: {{ name: other }} }} }}\n"
        ),
    );
    let junit = dir.join("junit.xml");
    let tests = dir.display().to_string();
    let junit_path = junit.display().to_string();
    let commands: Vec<Vec<&str>> = vec![
        vec!["invoke", "halopsa.client.create", "--with", "Name=Acme"],
        vec!["invoke", "halopsa.client.get", "--with", "Id=99999"],
        vec!["invoke", "halopsa.user.create", "--with", "Name=Ada", "--with", "SiteId=1"],
        vec!["run", "examples/client-report.yaml", "--json"],
        vec!["run", "examples/client-report.yaml", "--dry-run", "--json"],
        vec!["run", "examples/client-report.yaml", "--dry-run"],
        vec!["validate", "examples/onboard-client.yaml"],
        vec!["nodes"],
        vec!["nodes", "describe", "halopsa.client.create"],
        vec!["schema"],
        vec!["test", &tests, "--junit", &junit_path],
        vec!["no-such-command"],
    ];
    for args in commands {
        let out = run_async(owned(&args), vars.clone()).await;
        assert_no_secret(&format!("stdout of {args:?}"), &text(&out.stdout));
        assert_no_secret(&format!("stderr of {args:?}"), &text(&out.stderr));
        assert!(!text(&out.stderr).contains("panicked"), "{args:?}: {}", text(&out.stderr));
    }
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<failure"), "the case failed as meant: {xml}");
    assert_no_secret("the JUnit file", &xml);

    // Any credential in the environment (by name), not only the connection's, is masked: a
    // node echoing one back (here as a client name) does not print it.
    let other = "cloud-key-7Hq2Zr9Lx";
    let mut with_other = vars.clone();
    with_other.push(("ACME_API_TOKEN".into(), other.into()));
    let name = format!("Name={other}");
    let out = run_async(
        owned(&["invoke", "halopsa.client.create", "--with", &name]),
        with_other,
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(!stdout.contains(other) && stdout.contains("***"), "{stdout}");
}
