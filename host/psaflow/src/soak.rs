//! The soak: many workflows of mixed nodes (creates included) against the embedded sandbox
//! while it misbehaves at random (429/503 answers, connections dropped before the server
//! handles a request and after it commits one, tokens that expire), then a check of the
//! sandbox's final state against what each workflow meant to do.
//!
//! Counted: **lost** (a step reported success but its record is missing), **duplicated** (a
//! record meant once exists more than once), **secret leaks** (the client secret in any report),
//! **panics** (a workflow task that panicked), and the latency of each node invocation. Backoff
//! waits run on a virtual clock, so the latency is the host's and the sandbox's work.

use crate::runtime::Runtime;
use psaflow_core::{BoxFuture, CallLog, Catalog, Envelope, NodeInvoker, VirtualClock};
use psaflow_halopsa::{ClientOptions, ConnectionConfig, HaloClient, Secret};
use psaflow_halopsa_sandbox::{Entity, RandomFaults, Sandbox, SandboxOptions};
use psaflow_workflow::{RunOptions, RunStatus, StepStatus};
use serde_json::{Map, Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Node invocations per workflow of the soak (see [`WORKFLOW`]).
const NODES_PER_WORKFLOW: usize = 5;

/// Three creates with retries, a read and a listing: every effect kind the soak checks.
const WORKFLOW: &str = r#"name: soak
inputs:
  name: { type: string, required: true }
  email: { type: string, required: true }
steps:
  - id: client
    node: halopsa.client.create
    with: { Name: "${{ inputs.name }}" }
    retry: { max_attempts: 5 }
  - id: site
    node: halopsa.site.create
    with: { Name: "${{ inputs.name }} HQ", SiteClientId: "${{ steps.client.Client.id }}" }
    retry: { max_attempts: 5 }
  - id: user
    node: halopsa.user.create
    with: { Name: "${{ inputs.name }}", SiteId: "${{ steps.site.Site.id }}", Emailaddress: "${{ inputs.email }}" }
    retry: { max_attempts: 5 }
  - id: read
    node: halopsa.client.get
    with: { Id: "${{ steps.client.Client.id }}" }
    retry: { max_attempts: 5 }
  - id: list
    node: halopsa.site.get-many
    with: { Search: "${{ inputs.name }}" }
    retry: { max_attempts: 5 }
"#;

/// How hard to soak.
#[derive(Debug, Clone)]
pub struct SoakOptions {
    /// Node invocations wanted (rounded up to whole workflows of five).
    pub invocations: usize,
    /// Workflows running at once.
    pub concurrency: usize,
    /// Seed of the sandbox's random faults.
    pub seed: u64,
    /// Lifetime of the sandbox's tokens (they also expire on this period in real time).
    pub token_ttl: Duration,
    /// Where compiled components are cached.
    pub cache_dir: Option<std::path::PathBuf>,
}

/// What the soak found.
#[derive(Debug, Clone, Default)]
pub struct SoakReport {
    /// Workflows run.
    pub workflows: usize,
    /// Node invocations made by them.
    pub invocations: usize,
    /// Workflows that failed (a step gave up, e.g. an unknown outcome not retried): reported,
    /// so not lost.
    pub failed_workflows: usize,
    /// Create attempts that met an unknown outcome and found their record instead of repeating.
    pub recovered_attempts: usize,
    /// Attempts whose outcome was unknown (the request may have been applied).
    pub unknown_outcome_attempts: usize,
    /// Records a step reported created that are missing: must be 0.
    pub lost: usize,
    /// Extra copies of records meant to exist once: must be 0.
    pub duplicated: usize,
    /// Reports that contain the client secret: must be 0.
    pub secret_leaks: usize,
    /// Workflow tasks that panicked: must be 0.
    pub panics: usize,
    /// Each node invocation's wall time, sorted.
    pub latencies: Vec<Duration>,
}

impl SoakReport {
    /// The `q` quantile (0.0 to 1.0) of the invocation latencies, by nearest rank.
    pub fn percentile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        self.latencies[crate::percentile::rank(self.latencies.len(), q)]
    }
}

/// Times every invocation of the wrapped runtime.
struct Timed {
    runtime: Runtime,
    samples: Mutex<Vec<Duration>>,
}

impl NodeInvoker for Timed {
    fn catalog(&self) -> &Catalog {
        self.runtime.catalog()
    }
    fn invoke_recorded<'a>(
        &'a self,
        node: &'a str,
        params: Map<String, Value>,
        calls: CallLog,
    ) -> BoxFuture<'a, Envelope> {
        Box::pin(async move {
            let started = Instant::now();
            let (env, _) = self.runtime.invoke_recorded(node, params, calls).await;
            let took = started.elapsed();
            self.samples
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(took);
            env
        })
    }
}

/// Runs the soak; see the module documentation.
pub async fn soak(options: SoakOptions) -> anyhow::Result<SoakReport> {
    let sandbox = Arc::new(
        Sandbox::start(SandboxOptions {
            token_ttl: options.token_ttl,
            ..SandboxOptions::default()
        })
        .await?,
    );
    sandbox.faults().set_random(RandomFaults {
        busy: 0.10,
        drop_before: 0.01,
        drop_after_commit: 0.01,
        seed: options.seed,
    });
    let base = sandbox.base_url();
    let config = ConnectionConfig {
        api_url: format!("{base}/api").parse()?,
        auth_url: format!("{base}/auth").parse()?,
        tenant: None,
        client_id: sandbox.client_id().to_string(),
        client_secret: Secret::new(sandbox.client_secret().to_string()),
        scope: "all".into(),
        // The soak measures faults, not pacing.
        rate_limit: None,
    };
    let client = HaloClient::new(
        config,
        ClientOptions {
            request_timeout: Duration::from_secs(10),
            clock: Arc::new(VirtualClock::new()),
            ..ClientOptions::default()
        },
    )?;
    let runtime = Runtime::builder()
        .connection(crate::halopsa::CONNECTOR, Arc::new(client))
        .cache_dir(options.cache_dir.clone())
        .build()?;
    let invoker = Arc::new(Timed {
        runtime,
        samples: Mutex::new(Vec::new()),
    });
    let workflow = Arc::new(
        psaflow_workflow::parse(WORKFLOW, "soak.yaml")
            .map_err(|e| anyhow::anyhow!("the soak workflow does not parse: {e:?}"))?,
    );

    // Tokens also expire on their period in real time, whatever the client believes.
    let expiry = {
        let sandbox = sandbox.clone();
        let period = options.token_ttl;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.tick().await;
            loop {
                tick.tick().await;
                sandbox.faults().expire_tokens();
            }
        })
    };

    let workflows = options.invocations.div_ceil(NODES_PER_WORKFLOW).max(1);
    let gate = Arc::new(tokio::sync::Semaphore::new(options.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..workflows {
        let (invoker, workflow, gate) = (invoker.clone(), workflow.clone(), gate.clone());
        let seed = options.seed;
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await;
            let name = format!("Soak {seed}-{i}");
            let email = format!("soak.{seed}.{i}@example.com");
            let mut inputs = Map::new();
            inputs.insert("name".into(), json!(name));
            inputs.insert("email".into(), json!(email));
            let opts = RunOptions {
                inputs,
                clock: Arc::new(VirtualClock::new()),
                ..RunOptions::default()
            };
            let report = psaflow_workflow::run(&workflow, invoker.as_ref(), opts).await;
            (name, email, report)
        });
    }

    let mut found = SoakReport {
        workflows,
        ..SoakReport::default()
    };
    let secret = sandbox.client_secret().to_string();
    let mut finished = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(done) => finished.push(done),
            Err(e) if e.is_panic() => found.panics += 1,
            Err(e) => return Err(e.into()),
        }
    }
    expiry.abort();

    let clients = sandbox.records(Entity::Client);
    let sites = sandbox.records(Entity::Site);
    let users = sandbox.records(Entity::User);
    let count = |records: &[Value], field: &str, value: &str| {
        records.iter().filter(|r| r[field] == value).count()
    };
    for (name, email, report) in &finished {
        if report.status != RunStatus::Succeeded {
            found.failed_workflows += 1;
        }
        let text = report.to_json().to_string();
        if text.contains(&secret) {
            found.secret_leaks += 1;
        }
        for step in &report.steps {
            for attempt in &step.attempt_log {
                found.unknown_outcome_attempts += usize::from(attempt.outcome_unknown);
                found.recovered_attempts += usize::from(attempt.recovered);
            }
            let (records, field, value) = match step.id.as_str() {
                "client" => (&clients, "name", name.clone()),
                "site" => (&sites, "name", format!("{name} HQ")),
                "user" => (&users, "emailaddress", email.clone()),
                _ => continue,
            };
            let n = count(records, field, &value);
            if n > 1 {
                found.duplicated += n - 1;
            }
            if step.status == StepStatus::Succeeded && n == 0 {
                found.lost += 1;
            }
        }
    }
    let mut latencies = std::mem::take(
        &mut *invoker.samples.lock().unwrap_or_else(|e| e.into_inner()),
    );
    latencies.sort();
    found.invocations = latencies.len();
    found.latencies = latencies;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soak_workflow_parses_without_problems() {
        let wf = psaflow_workflow::parse(WORKFLOW, "soak.yaml").unwrap();
        assert!(wf.problems().is_empty(), "{:?}", wf.problems());
        assert_eq!(wf.steps().len(), NODES_PER_WORKFLOW);
    }
}
