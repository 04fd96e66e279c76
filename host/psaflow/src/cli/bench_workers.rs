//! `psaflow bench workers`: throughput of `psaflow worker` processes sharing a PostgreSQL run
//! store (a throw-away cluster, or `PSAFLOW_TEST_DATABASE_URL`) against one sandbox with a
//! tenant's latency; claim latency; wake-up latency (enqueue to claim by an idle worker); and
//! the time from a worker's death to its runs being taken over.
use psaflow_halopsa_sandbox::{Sandbox, SandboxOptions};
use psaflow_store::test_cluster::TestCluster;
use psaflow_store::{NewRun, PostgresStore, QueuedWork, RunFilter, RunStore, new_id, now_ms};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WORKFLOW: &str = r#"name: bench-onboard
inputs:
  n: { type: integer, required: true }
steps:
  - id: client
    node: halopsa.client.create
    with:
      Name: "Bench ${{ inputs.n }}"
  - id: site
    node: halopsa.site.create
    with:
      Name: "Bench ${{ inputs.n }} HQ"
      SiteClientId: ${{ steps.client.Client.id }}
"#;

/// A worker process whose stderr lines are kept.
struct Worker {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Worker {
    fn start(
        sandbox: &Sandbox,
        url: &str,
        concurrency: u16,
        lease: &str,
    ) -> anyhow::Result<Worker> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["worker", "--store", url, "--lease", lease, "--poll", "1s"])
            .args(["--concurrency", &concurrency.to_string()])
            .env("HALOPSA_API_URL", sandbox.api_url())
            .env("HALOPSA_AUTH_URL", sandbox.auth_url())
            .env("HALOPSA_CLIENT_ID", sandbox.client_id())
            .env("HALOPSA_CLIENT_SECRET", sandbox.client_secret())
            .env("HALOPSA_RATE_LIMIT", "off")
            .env_remove("HALOPSA_TENANT")
            .env_remove("PSAFLOW_DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        let lines = BufReader::new(child.stderr.take().expect("piped")).lines();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap_or_else(|e| e.into_inner()).push(line);
            }
        });
        Ok(Worker { child, log })
    }

    /// Run id -> (claimed at, ended at) from this worker's log.
    fn spans(&self) -> BTreeMap<String, (i64, Option<i64>)> {
        let mut spans = BTreeMap::new();
        for line in self.log.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let Some((_, rest)) = line.split_once(": run ") else {
                continue;
            };
            let mut words = rest.split_whitespace();
            let (Some(run), Some(what)) = (words.next(), words.next()) else {
                continue;
            };
            let Some(at) = rest
                .split(" at ")
                .nth(1)
                .and_then(|t| t.split_whitespace().next())
                .and_then(|t| psaflow::worker::parse_log_time(t.trim_end_matches(';')))
            else {
                continue;
            };
            if what == "claimed" {
                spans.insert(run.to_string(), (at, None));
            } else if let Some(span) = spans.get_mut(run) {
                span.1 = Some(at);
            }
        }
        spans
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn enqueue(store: &dyn RunStore, backend: &str, n: usize) -> anyhow::Result<(String, i64)> {
    let id = new_id();
    let at = now_ms();
    store.enqueue(
        &NewRun {
            id: id.clone(),
            workflow: "bench-onboard".into(),
            workflow_file: "bench-onboard.yaml".into(),
            workflow_hash: super::run::sha256_hex(WORKFLOW),
            workflow_source: WORKFLOW.into(),
            inputs: json!({"n": n}),
            redacted_inputs: vec![],
            started_by: "bench".into(),
            backend: backend.into(),
            created_at: at,
        },
        &QueuedWork {
            run_id: id.clone(),
            inputs: json!({"n": n}),
            connection: None,
            dry_run: false,
            lost_leases: 0,
            enqueued_at: at,
        },
    )?;
    Ok((id, at))
}

fn finished(store: &dyn RunStore) -> anyhow::Result<Vec<i64>> {
    Ok(store
        .list_runs(&RunFilter::default())?
        .iter()
        .filter_map(|r| r.finished_at)
        .collect())
}

async fn wait_for(
    what: &str,
    limit: Duration,
    mut done: impl FnMut() -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    while !done()? {
        anyhow::ensure!(
            started.elapsed() < limit,
            "gave up waiting for {what} after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[psaflow::percentile::rank(sorted.len(), p)]
}

pub async fn run(
    runs: usize,
    workers: &[usize],
    concurrency: u16,
    latency_ms: u64,
    lease_secs: u64,
) -> anyhow::Result<u8> {
    let cluster = TestCluster::start()
        .map_err(|e| anyhow::anyhow!("no PostgreSQL for the benchmark: {e}"))?;
    let sandbox = Sandbox::start(SandboxOptions {
        seed: false,
        ..SandboxOptions::default()
    })
    .await?;
    sandbox
        .faults()
        .set_latency(Duration::from_millis(latency_ms));
    let backend = format!("HaloPSA at {}", sandbox.api_url());
    println!(
        "psaflow bench workers: {runs} runs (a client and its site each), sandbox latency {latency_ms} ms, \
         --concurrency {concurrency} per worker, PostgreSQL at {}",
        if std::env::var(psaflow_store::test_cluster::ENV_TEST_DATABASE_URL).is_ok() {
            "PSAFLOW_TEST_DATABASE_URL"
        } else {
            "a throw-away local cluster"
        }
    );

    // Throughput with 1, 2, 3... workers.
    for &count in workers {
        let url = cluster.fresh_database();
        let store = PostgresStore::connect(&url)?;
        for n in 0..runs {
            enqueue(&store, &backend, n)?;
        }
        let started: Vec<Worker> = (0..count)
            .map(|_| Worker::start(&sandbox, &url, concurrency, "30s"))
            .collect::<anyhow::Result<_>>()?;
        wait_for("every run", Duration::from_secs(600), || {
            Ok(finished(&store)?.len() == runs)
        })
        .await?;
        let first_claim = started
            .iter()
            .flat_map(|w| w.spans().into_values().map(|(claimed, _)| claimed))
            .min()
            .unwrap_or(0);
        let last_end = finished(&store)?.into_iter().max().unwrap_or(first_claim);
        let failed = store
            .list_runs(&RunFilter {
                status: Some(psaflow_store::RunState::Failed),
                ..RunFilter::default()
            })?
            .len();
        let secs = (last_end - first_claim).max(1) as f64 / 1000.0;
        println!(
            "  {count} worker(s): {runs} runs in {secs:.1} s = {:.0} runs/minute ({failed} failed)",
            runs as f64 * 60.0 / secs
        );
        for w in started {
            w.stop();
        }
    }

    // The claim statement: 300 claims against a queue of 300, from one connection.
    let url = cluster.fresh_database();
    let store = PostgresStore::connect(&url)?;
    for n in 0..300 {
        enqueue(&store, &backend, n)?;
    }
    let mut claims = Vec::new();
    loop {
        let t = Instant::now();
        let got = store.claim("bench", 60_000, now_ms())?;
        claims.push(t.elapsed().as_secs_f64() * 1000.0);
        if got.is_none() {
            break;
        }
    }
    claims.sort_by(f64::total_cmp);
    println!(
        "  claim (one statement, FOR UPDATE SKIP LOCKED): p50 {:.2} ms, p99 {:.2} ms over {} claims",
        percentile(&claims, 0.5),
        percentile(&claims, 0.99),
        claims.len()
    );

    // Wake-up: an idle worker, runs enqueued one at a time; enqueue to claim.
    let url = cluster.fresh_database();
    let store = PostgresStore::connect(&url)?;
    let idle = Worker::start(&sandbox, &url, concurrency, "30s")?;
    wait_for("the worker to start", Duration::from_secs(120), || {
        Ok(idle
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|l| l.contains("takes runs")))
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut enqueued = Vec::new();
    for n in 0..20 {
        enqueued.push(enqueue(&store, &backend, n)?);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    wait_for("the runs", Duration::from_secs(120), || {
        Ok(finished(&store)?.len() == 20)
    })
    .await?;
    let spans = idle.spans();
    let mut wake: Vec<f64> = enqueued
        .iter()
        .filter_map(|(id, at)| spans.get(id).map(|(claimed, _)| (claimed - at) as f64))
        .collect();
    wake.sort_by(f64::total_cmp);
    println!(
        "  enqueue to claim by an idle worker (LISTEN/NOTIFY, poll 1 s): p50 {:.0} ms, p99 {:.0} ms over {} runs",
        percentile(&wake, 0.5),
        percentile(&wake, 0.99),
        wake.len()
    );
    idle.stop();

    // A worker dies: how long until another worker has its runs.
    let url = cluster.fresh_database();
    let store = PostgresStore::connect(&url)?;
    sandbox
        .faults()
        .set_latency(Duration::from_millis(latency_ms.max(200)));
    let lease = format!("{lease_secs}s");
    let victim = Worker::start(&sandbox, &url, concurrency, &lease)?;
    wait_for(
        "the first worker to start",
        Duration::from_secs(120),
        || {
            Ok(victim
                .log
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .any(|l| l.contains("takes runs")))
        },
    )
    .await?;
    for n in 0..usize::from(concurrency) * 3 {
        enqueue(&store, &backend, n)?;
    }
    wait_for(
        "the first worker to hold runs",
        Duration::from_secs(60),
        || {
            Ok(victim
                .spans()
                .values()
                .filter(|(_, end)| end.is_none())
                .count()
                >= usize::from(concurrency))
        },
    )
    .await?;
    let survivor = Worker::start(&sandbox, &url, concurrency, &lease)?;
    wait_for(
        "the second worker to start",
        Duration::from_secs(120),
        || {
            Ok(survivor
                .log
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .any(|l| l.contains("takes runs")))
        },
    )
    .await?;
    let mut victim = victim;
    let held: Vec<String> = victim
        .spans()
        .into_iter()
        .filter(|(_, (_, end))| end.is_none())
        .map(|(id, _)| id)
        .collect();
    victim.child.kill()?; // SIGKILL
    let killed_at = now_ms();
    let _ = victim.child.wait();
    wait_for(
        "the dead worker's runs to be taken over",
        Duration::from_secs(lease_secs * 4 + 60),
        || {
            let spans = survivor.spans();
            Ok(held.iter().all(|id| spans.contains_key(id)))
        },
    )
    .await?;
    let spans = survivor.spans();
    let mut taken: Vec<f64> = held
        .iter()
        .filter_map(|id| {
            spans
                .get(id)
                .map(|(claimed, _)| (claimed - killed_at) as f64 / 1000.0)
        })
        .collect();
    taken.sort_by(f64::total_cmp);
    println!(
        "  worker killed (SIGKILL) holding {} runs, --lease {lease}: taken over after {:.1} s (first) to {:.1} s (last)",
        held.len(),
        taken.first().copied().unwrap_or(0.0),
        taken.last().copied().unwrap_or(0.0)
    );
    survivor.stop();
    sandbox.shutdown().await;
    Ok(0)
}
