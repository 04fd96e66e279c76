//! `psaflow bench pacing`: many updates against a sandbox that throttles like a hosted tenant,
//! once paced by the request budget and once without it, to show what pacing buys.

use psaflow_core::{Clock, RateLimit, RequestBudget, SystemClock, WindowBudget};
use psaflow_halopsa::{ClientOptions, ConnectionConfig, HaloClient, Secret};
use psaflow_halopsa_sandbox::{Sandbox, SandboxOptions};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one pass measured.
struct Pass {
    elapsed: Duration,
    succeeded: usize,
    failed: usize,
    throttled: u64,
}

/// Runs `updates` halopsa.client.update items at `concurrency` against a sandbox limited to
/// `limit`, with and (unless `skip_unpaced`) without a matching budget, and prints the numbers.
pub async fn run(
    updates: usize,
    limit: RateLimit,
    concurrency: usize,
    latency_ms: u64,
    skip_unpaced: bool,
) -> anyhow::Result<u8> {
    let minimum = limit.min_duration(updates as u64);
    let steady = limit.per.mul_f64(updates as f64 / f64::from(limit.requests));
    println!(
        "psaflow bench pacing: {updates} x halopsa.client.update, concurrency {concurrency}, sandbox limited to {limit} ({latency_ms} ms latency)"
    );
    println!(
        "  minimum the limit allows: {:.1} s from a standing start ({:.1} s at the steady rate)",
        minimum.as_secs_f64(),
        steady.as_secs_f64()
    );
    let paced = pass(updates, limit, concurrency, latency_ms, true).await?;
    report("with the budget", &paced, minimum);
    if !skip_unpaced {
        let unpaced = pass(updates, limit, concurrency, latency_ms, false).await?;
        report("without a budget", &unpaced, minimum);
    }
    Ok(0)
}

fn report(label: &str, pass: &Pass, minimum: Duration) {
    let ratio = if minimum.is_zero() {
        0.0
    } else {
        100.0 * pass.elapsed.as_secs_f64() / minimum.as_secs_f64()
    };
    println!(
        "  {label:<17} {:>8.1} s ({ratio:.0}% of the minimum), {} succeeded, {} failed, {} answered 429",
        pass.elapsed.as_secs_f64(),
        pass.succeeded,
        pass.failed,
        pass.throttled
    );
}

async fn pass(
    updates: usize,
    limit: RateLimit,
    concurrency: usize,
    latency_ms: u64,
    paced: bool,
) -> anyhow::Result<Pass> {
    let sandbox = Sandbox::start(SandboxOptions::default()).await?;
    let config = ConnectionConfig {
        api_url: sandbox.api_url().parse()?,
        auth_url: sandbox.auth_url().parse()?,
        tenant: None,
        client_id: sandbox.client_id().to_string(),
        client_secret: Secret::new(sandbox.client_secret().to_string()),
        scope: "all".into(),
        rate_limit: None,
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::default());
    let budget = paced
        .then(|| Arc::new(WindowBudget::new(limit, clock.clone())) as Arc<dyn RequestBudget>);
    let client = HaloClient::new(
        config,
        ClientOptions {
            clock,
            budget,
            ..ClientOptions::default()
        },
    )?;
    let rt = psaflow::Runtime::builder()
        .connection(psaflow::halopsa::CONNECTOR, Arc::new(client))
        .build()?;
    // Compile before the limit and the clock start, then let that request's slot expire so the
    // measured pass starts with the whole budget.
    rt.invoke("halopsa.client.get", Map::from_iter([("Id".into(), json!(1))]))
        .await;
    if paced {
        tokio::time::sleep(limit.per + Duration::from_millis(100)).await;
    }
    sandbox
        .faults()
        .set_latency(Duration::from_millis(latency_ms));
    sandbox
        .faults()
        .set_rate_limit(Some((limit.requests, limit.per)));

    let source = format!(
        "name: bench-pacing\ninputs:\n  ids: {{ type: list, required: true }}\nsteps:\n  - id: update\n    node: halopsa.client.update\n    for_each: ${{{{ inputs.ids }}}}\n    concurrency: {concurrency}\n    continue_on_error: true\n    with:\n      Id: ${{{{ item }}}}\n      Notes: paced update ${{{{ index }}}}\n"
    );
    let wf = psaflow_workflow::parse(&source, "bench-pacing.yaml")
        .map_err(|d| anyhow::anyhow!("{d}"))?;
    let ids: Vec<Value> = (0..updates).map(|i| json!(1 + (i % 4))).collect();
    let options = psaflow_workflow::RunOptions {
        inputs: Map::from_iter([("ids".to_string(), Value::Array(ids))]),
        ..Default::default()
    };
    let started = Instant::now();
    let report = psaflow_workflow::run(&wf, &rt, options).await;
    let elapsed = started.elapsed();
    let envelopes = report.to_json()["steps"]["update"]["envelopes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let succeeded = envelopes
        .iter()
        .filter(|e| e["StatusCode"] == 200 && e["ErrorMessage"].as_str().is_none_or(str::is_empty))
        .count();
    Ok(Pass {
        elapsed,
        succeeded,
        failed: updates - succeeded,
        throttled: sandbox.faults().throttled_count(),
    })
}
