//! The scale test: three `psaflow worker` processes share a PostgreSQL run store (a
//! throw-away cluster) and one HaloPSA sandbox over real HTTP that answers every request after
//! 20 ms and throttles like a tenant. Queued runs each create a client and its site. Mid-way
//! one worker is SIGKILLed and another is stopped with SIGTERM. Every run must end; no record
//! may exist twice; no run may be held by two workers at once (from the workers' own claim and
//! end times); and the sandbox must never have had to throttle, because all workers draw from
//! one request budget kept in the database.

mod common;

use common::halopsa_env;
use psaflow::sandbox::{Entity, Sandbox, SandboxOptions};
use psaflow::store::test_cluster::TestCluster;
use psaflow::store::{
    NewRun, PostgresStore, QueuedWork, RunFilter, RunState, RunStore, new_id, now_ms,
};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const RUNS: usize = 60;
/// The tenant's limit, enforced by the sandbox and configured on every worker.
/// The tenant's limit, enforced by the sandbox: low enough that the workers together would
/// exceed it without the shared budget (twelve runs at once, 20 ms per request).
const RATE_LIMIT: (u32, Duration) = (20, Duration::from_secs(1));
/// The budget the workers are given: 10% below the tenant's figure, the headroom a deployment
/// leaves too, because on a loaded 2-core machine requests reach the server with more jitter
/// than the budget's own 20 ms margin covers.
const WORKER_BUDGET: &str = "18/1s";

const WORKFLOW: &str = r#"name: scale-onboard
inputs:
  n: { type: integer, required: true }
  api_password: { type: string, required: true }
steps:
  - id: client
    node: halopsa.client.create
    with:
      Name: "Scale ${{ inputs.n }}"
  - id: site
    node: halopsa.site.create
    with:
      Name: "Scale ${{ inputs.n }} HQ"
      SiteClientId: ${{ steps.client.Client.id }}
"#;

/// The environment every psaflow process of the test gets: the sandbox as the tenant, with
/// a worker's share of its rate limit as the budget.
fn tenant_env(sandbox: &Sandbox) -> Vec<(String, String)> {
    let mut env = halopsa_env(sandbox);
    env.push(("HALOPSA_RATE_LIMIT".into(), WORKER_BUDGET.into()));
    env
}

/// `psaflow args` (see [`common::psaflow`]) with `env` added, run by user `scale-test`.
fn psaflow(env: &[(String, String)], args: &[&str]) -> Command {
    let mut cmd = common::psaflow();
    cmd.args(args)
        .env("USER", "scale-test")
        .envs(env.iter().cloned());
    cmd
}

/// A worker process whose stderr lines are collected.
struct Worker {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Worker {
    fn start(env: &[(String, String)], url: &str) -> Worker {
        let mut child = psaflow(
            env,
            &[
                "worker",
                "--store",
                url,
                "--concurrency",
                "4",
                "--lease",
                "2s",
                "--poll",
                "500ms",
                "--grace",
                "20s",
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("psaflow worker starts");
        let log = Arc::new(Mutex::new(Vec::new()));
        let lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Worker { child, log }
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn finished(store: &dyn RunStore) -> usize {
    store
        .list_runs(&RunFilter::default())
        .unwrap()
        .iter()
        .filter(|r| r.status.is_finished())
        .count()
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < limit,
            "gave up waiting for {what} after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// (run, worker) -> [(claimed at, ended at)] from the workers' logs; a run still held when its
/// worker was killed ends at the kill.
fn holdings(
    logs: &[(String, Vec<String>, Option<i64>)],
) -> BTreeMap<String, Vec<(String, i64, i64)>> {
    let mut out: BTreeMap<String, Vec<(String, i64, i64)>> = BTreeMap::new();
    for (name, lines, killed_at) in logs {
        let mut open: BTreeMap<String, i64> = BTreeMap::new();
        for line in lines {
            let Some(rest) = line.split_once(": run ").map(|(_, r)| r) else {
                continue;
            };
            let mut words = rest.split_whitespace();
            let (Some(run), Some(what)) = (words.next(), words.next()) else {
                continue;
            };
            let at = rest
                .split(" at ")
                .nth(1)
                .and_then(|t| t.split_whitespace().next())
                .and_then(|t| psaflow::worker::parse_log_time(t.trim_end_matches(';')));
            match (what, at) {
                ("claimed", Some(at)) => {
                    open.insert(run.to_string(), at);
                }
                (_, Some(at)) => {
                    if let Some(from) = open.remove(run) {
                        out.entry(run.to_string())
                            .or_default()
                            .push((name.clone(), from, at));
                    }
                }
                _ => {}
            }
        }
        for (run, from) in open {
            let until = killed_at.unwrap_or(i64::MAX);
            out.entry(run)
                .or_default()
                .push((name.clone(), from, until));
        }
    }
    out
}

#[test]
fn three_workers_one_killed_one_stopped_every_run_ends_and_nothing_is_made_twice() {
    let Some(cluster) = TestCluster::start_or_skip("scale test") else {
        return;
    };
    let url = cluster.fresh_database();
    let store = PostgresStore::connect(&url).unwrap();

    let tokio = tokio::runtime::Runtime::new().unwrap();
    let sandbox = tokio
        .block_on(Sandbox::start(SandboxOptions {
            seed: false,
            ..SandboxOptions::default()
        }))
        .expect("sandbox");
    sandbox.faults().set_latency(Duration::from_millis(20));
    sandbox.faults().set_rate_limit(Some(RATE_LIMIT));
    let env = tenant_env(&sandbox);

    // One run through the command line (`run --enqueue`), the rest through the store.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scale-onboard.yaml");
    std::fs::write(&file, WORKFLOW).unwrap();
    let out = psaflow(
        &env,
        &[
            "run",
            file.to_str().unwrap(),
            "--enqueue",
            "--store",
            &url,
            "--input",
            "n=0",
            "--input",
            "api_password=pa55-unmasked",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first_id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let first = store.run(&first_id).unwrap().expect("enqueued run");
    assert_eq!(first.status, RunState::Queued);
    assert_eq!(
        first.inputs["api_password"], "***",
        "the run row masks the secret"
    );
    for n in 1..RUNS {
        let id = new_id();
        let run = NewRun {
            id: id.clone(),
            created_at: now_ms(),
            inputs: json!({"n": n, "api_password": "***"}),
            ..NewRun {
                id: String::new(),
                workflow: first.workflow.clone(),
                workflow_file: first.workflow_file.clone(),
                workflow_hash: first.workflow_hash.clone(),
                workflow_source: first.workflow_source.clone(),
                inputs: json!({}),
                redacted_inputs: first.redacted_inputs.clone(),
                started_by: first.started_by.clone(),
                backend: first.backend.clone(),
                created_at: 0,
            }
        };
        let work = QueuedWork {
            run_id: id,
            inputs: json!({"n": n, "api_password": "pa55-unmasked"}),
            connection: None,
            dry_run: false,
            lost_leases: 0,
            enqueued_at: now_ms(),
        };
        store.enqueue(&run, &work).unwrap();
    }

    let started = Instant::now();
    let mut killed = Worker::start(&env, &url);
    let mut stopped = Worker::start(&env, &url);
    let survivor = Worker::start(&env, &url);

    wait_until("a quarter of the runs", Duration::from_secs(120), || {
        finished(&store) >= RUNS / 4
    });
    killed.child.kill().unwrap(); // SIGKILL
    let killed_at = now_ms();
    killed.child.wait().unwrap();

    wait_until("half of the runs", Duration::from_secs(120), || {
        finished(&store) >= RUNS / 2
    });
    let term = Command::new("kill")
        .args(["-TERM", &stopped.child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = stopped.child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "a stopped worker exits 0:\n{}",
        stopped.log().join("\n")
    );
    assert!(
        stopped.log().iter().any(|l| l.contains("worker stopped")),
        "{}",
        stopped.log().join("\n")
    );

    wait_until("every run", Duration::from_secs(180), || {
        finished(&store) == RUNS
    });
    assert!(
        store.queue_entries().unwrap().is_empty(),
        "finished runs leave the queue"
    );

    // Every run succeeded: a create the killed worker left in doubt was looked up by its
    // natural key when another worker took the run over, found or sent once.
    let runs = store.list_runs(&RunFilter::default()).unwrap();
    for run in &runs {
        assert_eq!(
            run.status,
            RunState::Succeeded,
            "run {} ended {}: {:?}",
            run.id,
            run.status,
            run.error
        );
    }
    let in_doubt = runs
        .iter()
        .filter(|r| {
            store.attempts(&r.id).unwrap().iter().any(|a| {
                a.result
                    .as_ref()
                    .is_none_or(|res| res.outcome == psaflow::store::Outcome::Unknown)
            })
        })
        .count();

    // Every record exactly once.
    let count = |entity: Entity| -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for r in sandbox.records(entity) {
            *counts
                .entry(r["name"].as_str().unwrap_or("").to_string())
                .or_default() += 1;
        }
        counts
    };
    let (clients, sites) = (count(Entity::Client), count(Entity::Site));
    for n in 0..RUNS {
        assert_eq!(
            clients.get(&format!("Scale {n}")),
            Some(&1),
            "client {n}: {clients:?}"
        );
        assert_eq!(
            sites.get(&format!("Scale {n} HQ")),
            Some(&1),
            "site {n}: {sites:?}"
        );
    }
    assert_eq!(clients.len(), RUNS);
    assert_eq!(sites.len(), RUNS);

    // No run was held by two workers at once.
    let logs = vec![
        ("killed".to_string(), killed.log(), Some(killed_at)),
        ("stopped".to_string(), stopped.log(), None),
        ("survivor".to_string(), survivor.log(), None),
    ];
    let held = holdings(&logs);
    assert!(
        held.len() >= RUNS - 1,
        "the logs show {} runs claimed",
        held.len()
    );
    for (run, mut spans) in held {
        spans.sort_by_key(|s| s.1);
        for pair in spans.windows(2) {
            assert!(
                pair[0].2 <= pair[1].1,
                "run {run} was held by {} until {} and claimed by {} at {}",
                pair[0].0,
                pair[0].2,
                pair[1].0,
                pair[1].1
            );
        }
    }
    // The work of the killed worker was taken over.
    let all: String = logs
        .iter()
        .flat_map(|(_, l, _)| l.iter())
        .cloned()
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        all.contains("lease ran out; queued again"),
        "no lease was swept:\n{all}"
    );

    eprintln!(
        "scale test: {RUNS} runs in {:.1} s, {} with an attempt left in doubt by the kill, {} requests to the sandbox",
        started.elapsed().as_secs_f64(),
        in_doubt,
        sandbox.requests().len()
    );
    // One budget across the workers: the tenant never had to say 429.
    assert_eq!(
        sandbox.faults().throttled_count(),
        0,
        "the sandbox throttled requests"
    );
    let secret_seen = runs
        .iter()
        .any(|r| format!("{r:?}").contains("pa55-unmasked"));
    assert!(!secret_seen, "a run row holds the secret input");
    drop(survivor);
    tokio.block_on(sandbox.shutdown());
}
