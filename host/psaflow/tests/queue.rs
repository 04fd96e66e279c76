//! Queued runs executed by the library's executor (what `psaflow worker` and `psaflow serve`
//! call): real components, the embedded sandbox over real HTTP, a SQLite store. A run is
//! enqueued with a secret input, claimed, executed through the journal and finished with its
//! queue row (and the secret) gone; a worker that loses its lease stops; a stop gives the run
//! back; a run interrupted mid-way is continued by another worker without repeating a create.

mod common;

use psaflow::backend::{BackendKind, start_sandbox};
use psaflow::core::BoxFuture;
use psaflow::execute::{Connected, Connections, Executed, Executor, Stop, backend_label};
use psaflow::sandbox::{Entity, SandboxOptions};
use psaflow::store::{NewRun, QueuedWork, RunState, RunStore, SqliteStore, new_id, now_ms};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

const WORKFLOW: &str = r#"
name: queued-clients
inputs:
  prefix: { type: string, required: true }
  api_password: { type: string, required: true }
steps:
  - id: clients
    node: halopsa.client.create
    for_each: [1, 2, 3]
    with:
      Name: "${{ inputs.prefix }} ${{ item }}"
"#;

/// One sandbox connection, opened once and shared by every run.
struct OneSandbox(Arc<Connected>);

impl Connections for OneSandbox {
    fn connect<'a>(
        &'a self,
        name: Option<&'a str>,
    ) -> BoxFuture<'a, anyhow::Result<Arc<Connected>>> {
        Box::pin(async move {
            anyhow::ensure!(name.is_none(), "no connection named {name:?}");
            Ok(self.0.clone())
        })
    }
}

async fn sandbox(latency: Duration) -> Arc<Connected> {
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("psaflow-queue-cache");
    let nodes = psaflow::runtime::NodeCatalog::builder()
        .cache_dir(Some(cache))
        .load()
        .expect("nodes load");
    let backend = start_sandbox(SandboxOptions {
        seed: false,
        ..SandboxOptions::default()
    })
    .await
    .expect("sandbox");
    backend
        .sandbox
        .as_ref()
        .unwrap()
        .faults()
        .set_latency(latency);
    let runtime = psaflow::Runtime::builder()
        .nodes(Arc::new(nodes))
        .connection(psaflow::halopsa::CONNECTOR, backend.transport.clone())
        .build()
        .expect("runtime");
    Arc::new(Connected {
        runtime,
        backend_label: backend_label(&backend),
        kind: BackendKind::Sandbox,
        connections: backend.connections.clone(),
        secrets: vec![backend.secret.expose().to_string()],
        backend: Some(backend),
    })
}

fn enqueue(store: &dyn RunStore, prefix: &str) -> String {
    let id = new_id();
    let run = NewRun {
        id: id.clone(),
        workflow: "queued-clients".into(),
        workflow_file: "queued-clients.yaml".into(),
        workflow_hash: "h".into(),
        workflow_source: WORKFLOW.into(),
        inputs: json!({"prefix": prefix, "api_password": "***"}),
        redacted_inputs: vec!["api_password".into()],
        started_by: "grace".into(),
        backend: "sandbox".into(),
        created_at: now_ms(),
    };
    let work = QueuedWork {
        run_id: id.clone(),
        inputs: json!({"prefix": prefix, "api_password": "pa55-word-unmasked"}),
        connection: None,
        dry_run: false,
        lost_leases: 0,
        enqueued_at: now_ms(),
    };
    store.enqueue(&run, &work).unwrap();
    id
}

fn executor(
    store: Arc<dyn RunStore>,
    connected: &Arc<Connected>,
    worker: &str,
    lease: Duration,
) -> Executor {
    Executor {
        store,
        connections: Arc::new(OneSandbox(connected.clone())),
        worker: worker.into(),
        lease,
    }
}

fn client_names(connected: &Connected, prefix: &str) -> Vec<String> {
    let sandbox = connected
        .backend
        .as_ref()
        .unwrap()
        .sandbox
        .as_ref()
        .unwrap();
    let mut names: Vec<String> = sandbox
        .records(Entity::Client)
        .iter()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_queued_run_is_claimed_executed_and_leaves_no_secret_behind() {
    let connected = sandbox(Duration::ZERO).await;
    let store: Arc<dyn RunStore> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let id = enqueue(store.as_ref(), "Queued");
    assert_eq!(store.run(&id).unwrap().unwrap().status, RunState::Queued);

    let ex = executor(store.clone(), &connected, "w1", Duration::from_secs(30));
    let work = ex.claim().await.unwrap().expect("the run is claimable");
    assert_eq!(work.inputs["api_password"], "pa55-word-unmasked");
    let outcome = ex.execute(work, &Stop::never()).await.unwrap();
    assert_eq!(outcome, Executed::Finished(RunState::Succeeded));

    let run = store.run(&id).unwrap().unwrap();
    assert_eq!(run.status, RunState::Succeeded, "{:?}", run.error);
    assert_eq!(run.report.as_ref().unwrap()["id"], json!(id));
    assert_eq!(
        client_names(&connected, "Queued"),
        ["Queued 1", "Queued 2", "Queued 3"]
    );
    assert!(
        store.queue_entries().unwrap().is_empty(),
        "queue row deleted"
    );
    let everything = format!(
        "{:?}{:?}{:?}",
        run,
        store.attempts(&id).unwrap(),
        store.calls(&id).unwrap()
    );
    assert!(
        !everything.contains("pa55-word-unmasked"),
        "the secret input was stored"
    );
    // Audit rows name who enqueued the run.
    let audit = store
        .audit(&psaflow::store::AuditFilter {
            run_id: Some(id.clone()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(audit.len(), 3);
    assert!(audit.iter().all(|a| a.actor == "grace"));
    assert_eq!(ex.claim().await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_that_loses_its_lease_stops_and_another_finishes_without_repeating() {
    // Every request takes 400 ms, so the run is still going when the lease is taken away.
    let connected = sandbox(Duration::from_millis(400)).await;
    let store: Arc<dyn RunStore> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let id = enqueue(store.as_ref(), "Lost");

    let first = executor(store.clone(), &connected, "w1", Duration::from_millis(300));
    let work = first.claim().await.unwrap().unwrap();
    let running = tokio::spawn({
        let first = first.clone();
        async move { first.execute(work, &Stop::never()).await }
    });
    // The sweeper sees the lease as expired (as if w1 had stalled for a minute).
    let swept = store.sweep_expired(now_ms() + 60_000, 3).unwrap();
    assert_eq!(swept.requeued, std::slice::from_ref(&id));
    let outcome = running.await.unwrap().unwrap();
    assert_eq!(outcome, Executed::LeaseLost);

    connected
        .backend
        .as_ref()
        .unwrap()
        .sandbox
        .as_ref()
        .unwrap()
        .faults()
        .set_latency(Duration::ZERO);
    let second = executor(store.clone(), &connected, "w2", Duration::from_secs(30));
    let work = second.claim().await.unwrap().expect("requeued");
    assert_eq!(work.lost_leases, 1);
    let outcome = second.execute(work, &Stop::never()).await.unwrap();
    let run = store.run(&id).unwrap().unwrap();
    // The first worker may have left a create in doubt when it stopped: the second looks the
    // client up by name before sending anything, so the run finishes and nothing is doubled.
    assert_eq!(outcome, Executed::Finished(RunState::Succeeded), "{:?}", run.error);
    assert_eq!(client_names(&connected, "Lost"), ["Lost 1", "Lost 2", "Lost 3"]);
    let names = client_names(&connected, "Lost");
    let mut unique = names.clone();
    unique.dedup();
    assert_eq!(names, unique, "a client was created twice");
    assert!(store.queue_entries().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stop_gives_the_run_back_to_the_queue() {
    let connected = sandbox(Duration::from_millis(300)).await;
    let store: Arc<dyn RunStore> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let id = enqueue(store.as_ref(), "Stopped");
    let ex = executor(store.clone(), &connected, "w1", Duration::from_secs(30));
    let work = ex.claim().await.unwrap().unwrap();
    let (stop_tx, stop) = Stop::new();
    stop_tx.send(true).unwrap();
    let outcome = ex.execute(work, &stop).await.unwrap();
    assert_eq!(outcome, Executed::Released);
    assert_eq!(store.run(&id).unwrap().unwrap().status, RunState::Queued);
    let entry = &store.queue_entries().unwrap()[0];
    assert_eq!(entry.lease_owner, None);
    assert_eq!(entry.work.lost_leases, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_whose_workflow_no_longer_validates_fails_with_the_reason() {
    let connected = sandbox(Duration::ZERO).await;
    let store: Arc<dyn RunStore> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let id = new_id();
    let run = NewRun {
        id: id.clone(),
        workflow: "broken".into(),
        workflow_file: "broken.yaml".into(),
        workflow_hash: "h".into(),
        workflow_source: "name: broken\nsteps:\n  - id: x\n    node: halopsa.nothing.here\n".into(),
        inputs: json!({}),
        redacted_inputs: vec![],
        started_by: "grace".into(),
        backend: "sandbox".into(),
        created_at: now_ms(),
    };
    let work = QueuedWork {
        run_id: id.clone(),
        inputs: json!({}),
        connection: None,
        dry_run: false,
        lost_leases: 0,
        enqueued_at: now_ms(),
    };
    store.enqueue(&run, &work).unwrap();
    let ex = executor(store.clone(), &connected, "w1", Duration::from_secs(30));
    let work = ex.claim().await.unwrap().unwrap();
    assert_eq!(
        ex.execute(work, &Stop::never()).await.unwrap(),
        Executed::Finished(RunState::Failed)
    );
    let error = store.run(&id).unwrap().unwrap().error.unwrap();
    assert!(
        error.contains("not valid") && error.contains("halopsa.nothing.here"),
        "{error}"
    );
    assert!(store.queue_entries().unwrap().is_empty());
}

/// `psaflow args --state state` (see [`common::psaflow`]) run by user `grace`, on the
/// embedded sandbox.
fn cli(state: &std::path::Path, args: &[&str]) -> std::process::Output {
    common::psaflow()
        .args(args)
        .arg("--state")
        .arg(state)
        .env("USER", "grace")
        .output()
        .expect("psaflow runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_queued_run_waits_for_approval_in_the_queue_and_approve_queues_it_again() {
    let connected = sandbox(Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("approved.yaml");
    std::fs::write(
        &file,
        r#"name: queued-approval
inputs:
  prefix: { type: string, required: true }
  api_password: { type: string, required: true }
steps:
  - id: clients
    node: halopsa.client.create
    approval: { message: "Create the client?" }
    with:
      Name: "${{ inputs.prefix }} 1"
"#,
    )
    .unwrap();
    let state = dir.path().join("state");
    let out = cli(
        &state,
        &[
            "run",
            file.to_str().unwrap(),
            "--enqueue",
            "--input",
            "prefix=Approved",
            "--input",
            "api_password=pw-unmasked",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();

    // The queue owns it: resuming it by hand as well would run it twice.
    let out = cli(&state, &["run", "--resume", &id]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is queued"));

    let store: Arc<dyn RunStore> = Arc::new(SqliteStore::open_dir(&state).unwrap());
    let ex = executor(store.clone(), &connected, "w1", Duration::from_secs(30));
    let work = ex.claim().await.unwrap().expect("queued");
    assert_eq!(
        ex.execute(work, &Stop::never()).await.unwrap(),
        Executed::Finished(RunState::WaitingApproval)
    );
    assert!(
        store.queue_entries().unwrap()[0].parked,
        "parked with its inputs"
    );
    assert!(client_names(&connected, "Approved").is_empty());

    let out = cli(&state, &["approve", &id]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("queued again"), "{err}");
    assert_eq!(store.run(&id).unwrap().unwrap().status, RunState::Queued);

    let work = ex.claim().await.unwrap().expect("queued again");
    assert_eq!(work.inputs["api_password"], "pw-unmasked");
    assert_eq!(
        ex.execute(work, &Stop::never()).await.unwrap(),
        Executed::Finished(RunState::Succeeded)
    );
    assert_eq!(client_names(&connected, "Approved"), ["Approved 1"]);
    assert!(
        store.queue_entries().unwrap().is_empty(),
        "no secret left behind"
    );
    let audit = store
        .audit(&psaflow::store::AuditFilter {
            run_id: Some(id.clone()),
            ..Default::default()
        })
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.effect == "create" && a.approved_by.as_deref() == Some("grace"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn creates_left_in_doubt_are_looked_up_before_anything_is_sent_again() {
    let connected = sandbox(Duration::ZERO).await;
    let sandbox = connected
        .backend
        .as_ref()
        .unwrap()
        .sandbox
        .as_ref()
        .unwrap();
    let store: Arc<dyn RunStore> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let id = enqueue(store.as_ref(), "Doubt");
    // A worker died after sending two creates: the first reached the tenant, the second did
    // not; neither answer was recorded.
    sandbox.insert(Entity::Client, json!({"name": "Doubt 1"}));
    for item in [0, 1] {
        store
            .record_intent(&psaflow::store::Intent {
                key: psaflow::store::CallKey::new(id.clone(), "clients", Some(item)),
                attempt: 1,
                node: "halopsa.client.create".into(),
                effect: psaflow::store::Effect::Create,
                params: json!({"Name": format!("Doubt {}", item + 1)}),
                at: now_ms(),
            })
            .unwrap();
    }
    let ex = executor(store.clone(), &connected, "w2", Duration::from_secs(30));
    let work = ex.claim().await.unwrap().unwrap();
    assert_eq!(
        ex.execute(work, &Stop::never()).await.unwrap(),
        Executed::Finished(RunState::Succeeded),
        "{:?}",
        store.run(&id).unwrap().unwrap().error
    );
    assert_eq!(
        client_names(&connected, "Doubt"),
        ["Doubt 1", "Doubt 2", "Doubt 3"]
    );
    let attempts = store.attempts(&id).unwrap();
    let first = attempts
        .iter()
        .rfind(|a| a.intent.key.item == Some(0))
        .unwrap();
    assert!(
        first.result.as_ref().unwrap().recovered,
        "found, not created again"
    );
    assert_eq!(first.intent.attempt, 2);
    // The second: looked up (nothing there), then sent as attempt 3.
    let second: Vec<u32> = attempts
        .iter()
        .filter(|a| a.intent.key.item == Some(1))
        .map(|a| a.intent.attempt)
        .collect();
    assert_eq!(second, [1, 2, 3]);
}

#[test]
fn a_stopped_worker_counts_only_the_runs_still_in_progress() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path()).unwrap();
    let id = enqueue(&store, "Idle Stop");
    let child = common::psaflow()
        .args(["worker", "--poll", "100ms", "--state"])
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("psaflow worker starts");
    let started = std::time::Instant::now();
    while !store.run(&id).unwrap().unwrap().status.is_finished() {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the worker did not finish run {id}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The run is over (and its task has ended); the worker idles until stopped.
    std::thread::sleep(Duration::from_secs(1));
    let stopped = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let out = child.wait_with_output().unwrap();
    let stderr = common::text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains(&format!("run {id}")), "{stderr}");
    assert!(!stderr.contains("in progress"), "{stderr}");
    // Its log shows readable times (RFC 3339, UTC), not milliseconds since the epoch.
    let claimed = stderr
        .lines()
        .find_map(|l| l.split_once(&format!("run {id} claimed at ")))
        .map(|(_, at)| at.trim().to_string())
        .unwrap_or_else(|| panic!("no claim line: {stderr}"));
    assert!(
        psaflow::worker::parse_log_time(&claimed).is_some(),
        "claimed at {claimed:?}"
    );
    assert!(
        claimed.starts_with("20") && claimed.ends_with('Z'),
        "{claimed}"
    );
}
