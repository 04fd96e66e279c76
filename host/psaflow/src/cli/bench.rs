//! `psaflow bench`: prints speed numbers. Speed targets are checked here, by measurement on
//! the machine at hand, never by timed assertions in tests.

use psaflow_core::{ApiRequest, ApiResponse, BoxFuture, Transport, TransportError};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub what: What,
}

#[derive(clap::Subcommand, Debug)]
pub enum What {
    /// Loading nodes cold and warm, and one invocation of halopsa.client.get inside the host
    /// (with and without HTTP). A replacement loaded with `--nodes --allow-override` is the
    /// one measured, here and in for-each and journal.
    Invoke {
        #[arg(long, default_value_t = 300)]
        iterations: usize,
    },
    /// A for_each of halopsa.client.get over many items on the sandbox, at several concurrencies.
    ForEach {
        #[arg(long, default_value_t = 1000)]
        items: usize,
        #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
        concurrency: Vec<usize>,
        /// Latency the sandbox adds to every API request, like a real tenant's round trip.
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
        /// Run the sandbox inside the measured process instead of in one of its own (its
        /// request handling and latency timers then take turns with psaflow's own work on the
        /// same runtime threads, which a tenant's never do).
        #[arg(long)]
        sandbox_in_process: bool,
    },
    /// Peak memory (VmHWM) of a for_each of halopsa.client.get on the sandbox, its JSON report
    /// written out, each size measured in a fresh `psaflow` process of its own. The sandbox
    /// runs in a process of its own too, as a tenant would (`psaflow sandbox`), so the figure
    /// is psaflow's alone.
    Memory {
        #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
        items: Vec<usize>,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Run the sandbox inside the measured process instead (its data and request log then
        /// count in the figure).
        #[arg(long)]
        sandbox_in_process: bool,
    },
    /// One measurement of `bench memory`, in this process (run by `bench memory`).
    #[command(hide = true)]
    MemoryRun {
        #[arg(long)]
        items: usize,
        #[arg(long)]
        concurrency: usize,
        /// The HALOPSA_* variables point at the sandbox process `bench memory` started;
        /// without this flag the embedded sandbox starts in this process.
        #[arg(long)]
        sandbox_process: bool,
    },
    /// Run-store overhead: a for_each of halopsa.client.get with and without the journal, and
    /// the size of the SQLite file after many journaled invocations.
    Journal {
        #[arg(long, default_value_t = 1000)]
        items: usize,
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
        /// Invocations journaled before the database size is measured.
        #[arg(long, default_value_t = 10_000)]
        size_invocations: usize,
    },
    /// Workflows of mixed nodes (creates included) against a sandbox with random faults (10%
    /// 429/503, 1% connections dropped before and 1% after the server commits, tokens expiring):
    /// checks the final state and prints invocations, lost, duplicated, leaks, panics, latency.
    Soak {
        #[arg(long, default_value_t = 10_000)]
        invocations: usize,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Token lifetime in seconds (tokens also expire on this period).
        #[arg(long, default_value_t = 30)]
        token_ttl_secs: u64,
    },
    /// Updates against a sandbox that throttles like a hosted tenant, paced by the request
    /// budget and then without it: elapsed time against the minimum, 429s, failures.
    Pacing {
        #[arg(long, default_value_t = 1000)]
        updates: usize,
        /// The sandbox's limit, and the budget configured to match it.
        #[arg(long, default_value = "100/10s")]
        limit: psaflow_core::RateLimit,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        #[arg(long, default_value_t = 20)]
        latency_ms: u64,
        /// Measure only the paced pass.
        #[arg(long)]
        skip_unpaced: bool,
    },
    /// Every example workflow's test cases on fresh embedded sandboxes (HaloPSA and
    /// ConnectWise): API requests sent against the fewest the steps need, tokens apart.
    Requests {
        /// The folder of example workflows and their `*.test.yaml` files.
        #[arg(long, default_value = "examples")]
        examples: std::path::PathBuf,
        /// Also print every case and step with its minimum and why.
        #[arg(long)]
        detail: bool,
    },
    /// `psaflow worker` processes on one PostgreSQL run store (a throw-away cluster, or
    /// PSAFLOW_TEST_DATABASE_URL) against a sandbox with latency: runs/minute per number of
    /// workers, claim latency, enqueue-to-claim latency, and a dead worker's runs taken over.
    Workers {
        #[arg(long, default_value_t = 120)]
        runs: usize,
        #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
        workers: Vec<usize>,
        /// Runs each worker executes at once.
        #[arg(long, default_value_t = 4)]
        concurrency: u16,
        #[arg(long, default_value_t = 20)]
        latency_ms: u64,
        /// The lease of the workers in the take-over measurement, in seconds.
        #[arg(long, default_value_t = 5)]
        lease_secs: u64,
    },
}

pub async fn run(cli: &super::Cli, args: &Args) -> anyhow::Result<u8> {
    match &args.what {
        What::Soak {
            invocations,
            concurrency,
            seed,
            token_ttl_secs,
        } => soak(*invocations, *concurrency, *seed, *token_ttl_secs).await,
        What::Invoke { iterations } => invoke(cli, *iterations).await,
        What::ForEach {
            items,
            concurrency,
            latency_ms,
            sandbox_in_process,
        } => for_each(cli, *items, concurrency, *latency_ms, *sandbox_in_process).await,
        What::Journal {
            items,
            concurrency,
            size_invocations,
        } => journal(cli, *items, *concurrency, *size_invocations).await,
        What::Memory {
            items,
            concurrency,
            sandbox_in_process,
        } => memory(items, *concurrency, *sandbox_in_process),
        What::MemoryRun {
            items,
            concurrency,
            sandbox_process,
        } => memory_run(*items, *concurrency, *sandbox_process).await,
        What::Workers {
            runs,
            workers,
            concurrency,
            latency_ms,
            lease_secs,
        } => {
            super::bench_workers::run(*runs, workers, *concurrency, *latency_ms, *lease_secs).await
        }
        What::Requests { examples, detail } => super::bench_requests::run(examples, *detail).await,
        What::Pacing {
            updates,
            limit,
            concurrency,
            latency_ms,
            skip_unpaced,
        } => {
            super::bench_pacing::run(*updates, *limit, *concurrency, *latency_ms, *skip_unpaced)
                .await
        }
    }
}

async fn soak(
    invocations: usize,
    concurrency: usize,
    seed: u64,
    token_ttl_secs: u64,
) -> anyhow::Result<u8> {
    let cache = std::env::temp_dir().join(format!("psaflow-bench-cache-{}", std::process::id()));
    let started = Instant::now();
    let r = psaflow::soak::soak(psaflow::soak::SoakOptions {
        invocations,
        concurrency,
        seed,
        token_ttl: Duration::from_secs(token_ttl_secs.max(1)),
        cache_dir: Some(cache.clone()),
    })
    .await?;
    let _ = std::fs::remove_dir_all(&cache);
    println!(
        "soak: {} workflows, {} invocations in {:.1} s (faults: 10% 429/503, 1% dropped before, 1% dropped after commit, tokens expire every {token_ttl_secs} s)",
        r.workflows,
        r.invocations,
        started.elapsed().as_secs_f64()
    );
    println!(
        "  attempts with an unknown outcome: {}, recovered by lookup: {}, workflows failed (reported): {}",
        r.unknown_outcome_attempts, r.recovered_attempts, r.failed_workflows
    );
    println!(
        "  lost: {}  duplicated: {}  secret leaks: {}  panics: {}",
        r.lost, r.duplicated, r.secret_leaks, r.panics
    );
    println!(
        "  latency per invocation: p50 {}  p99 {}",
        ms(r.percentile(0.5)),
        ms(r.percentile(0.99))
    );
    let clean = r.lost == 0 && r.duplicated == 0 && r.secret_leaks == 0 && r.panics == 0;
    Ok(if clean { 0 } else { 1 })
}

/// Answers every request with one canned client, so a measurement sees only the host.
struct Canned;
impl Transport for Canned {
    fn send(&self, _request: ApiRequest) -> BoxFuture<'_, Result<ApiResponse, TransportError>> {
        Box::pin(async {
            Ok(ApiResponse::new(
                200,
                r#"{"id":1,"name":"Acme Manufacturing Ltd","inactive":false}"#,
            ))
        })
    }
}

fn params(id: i64) -> Map<String, Value> {
    let mut p = Map::new();
    p.insert("Id".into(), json!(id));
    p
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// A sample count as the `u32` a `Duration` divides by (bench runs are far smaller).
fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The mean of `samples`, which is not empty.
fn mean(samples: &[Duration]) -> Duration {
    samples.iter().sum::<Duration>() / count(samples.len())
}

fn percentiles(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let at = |q: f64| samples[psaflow::percentile::rank(samples.len(), q)];
    format!(
        "mean {}  p50 {}  p95 {}  p99 {}  (n={})",
        ms(mean(&samples)),
        ms(at(0.5)),
        ms(at(0.95)),
        ms(at(0.99)),
        samples.len()
    )
}

async fn invoke(cli: &super::Cli, iterations: usize) -> anyhow::Result<u8> {
    let cache = std::env::temp_dir().join(format!("psaflow-bench-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    let backend = psaflow::backend::start_sandbox(Default::default()).await?;
    // Loaded afresh each time (the loads are what is measured), `--nodes` folders included:
    // a node built elsewhere that replaces halopsa.client.get (`--allow-override`) is the one
    // measured.
    let build = |transport: Arc<dyn Transport>| {
        let mut builder = psaflow::Runtime::builder()
            .connection(psaflow::halopsa::CONNECTOR, transport)
            .cache_dir(Some(cache.clone()))
            .allow_override(cli.allow_override);
        for dir in &cli.nodes {
            builder = builder.nodes_dir(dir);
        }
        builder.build()
    };

    println!("psaflow bench invoke (halopsa.client.get)");
    let t = Instant::now();
    let rt = build(backend.transport.clone())?;
    println!(
        "  runtime start, cold cache (compile, cache and describe {} nodes): {}",
        rt.catalog().len(),
        ms(t.elapsed())
    );

    let t = Instant::now();
    let env = rt.invoke("halopsa.client.get", params(1)).await;
    anyhow::ensure!(
        env.is_success(),
        "benchmark invocation failed: {}",
        env.to_json()
    );
    println!(
        "  first invocation (instantiate + HTTP): {}",
        ms(t.elapsed())
    );

    let t = Instant::now();
    let rt_warm = build(backend.transport.clone())?;
    println!(
        "  runtime start, warm cache (load compiled code, describe {} nodes): {}",
        rt_warm.catalog().len(),
        ms(t.elapsed())
    );

    let mut with_http = Vec::with_capacity(iterations);
    for i in 0..iterations {
        let t = Instant::now();
        let env = rt_warm
            .invoke("halopsa.client.get", params([1, 2, 3, 4][i % 4]))
            .await;
        with_http.push(t.elapsed());
        anyhow::ensure!(env.is_success(), "{}", env.to_json());
    }
    println!(
        "  steady invocation against the sandbox over HTTP: {}",
        percentiles(with_http)
    );

    let rt_canned = build(Arc::new(Canned))?;
    for _ in 0..iterations.min(50) {
        // Warm up: every pool slot this loop uses is made once, outside the measurement.
        rt_canned.invoke("halopsa.client.get", params(1)).await;
    }
    let mut total = Vec::with_capacity(iterations);
    let mut in_guest = Vec::with_capacity(iterations);
    let mut instantiate = Vec::with_capacity(iterations);
    let mut overhead = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let t = Instant::now();
        let (env, stats) = rt_canned
            .invoke_with_stats("halopsa.client.get", params(1))
            .await;
        let elapsed = t.elapsed();
        anyhow::ensure!(env.is_success(), "{}", env.to_json());
        // The guest's own work: its `run` call, less the time its transport calls took.
        let guest = stats.guest_time.saturating_sub(stats.host_time);
        total.push(elapsed);
        in_guest.push(guest);
        instantiate.push(stats.instantiate_time);
        overhead.push(elapsed.saturating_sub(guest));
    }
    println!(
        "  steady invocation, in-memory transport (params + slot + instantiate + call + envelope): {}",
        percentiles(total)
    );
    println!(
        "    inside the guest's run call (its own work, lifting and lowering): {}",
        percentiles(in_guest)
    );
    println!(
        "    of the host's part, instantiating the node:                      {}",
        percentiles(instantiate)
    );
    let overhead_mean = mean(&overhead);
    println!(
        "  host overhead per invocation (total minus the guest's run call): {}",
        percentiles(overhead)
    );
    println!(
        "  target: host overhead <= 0.010 ms per invocation: {} (mean {:.2} µs)",
        if overhead_mean <= Duration::from_micros(10) {
            "met"
        } else {
            "not met"
        },
        overhead_mean.as_secs_f64() * 1e6
    );
    let _ = std::fs::remove_dir_all(&cache);
    Ok(0)
}

async fn for_each(
    cli: &super::Cli,
    items: usize,
    concurrencies: &[usize],
    latency_ms: u64,
    sandbox_in_process: bool,
) -> anyhow::Result<u8> {
    // By default the sandbox stands in for a tenant as in `bench memory`: in a process of its
    // own, with the latency set when it starts.
    let (backend, _sandbox_process) = if sandbox_in_process {
        (psaflow::backend::start_sandbox(Default::default()).await?, None)
    } else {
        let exe = std::env::current_exe()?;
        let process = SandboxProcess::start(&exe, &["--latency-ms".into(), latency_ms.to_string()])?;
        // Only the variables that process printed: a benchmark never goes to a tenant the
        // person running it happens to have configured.
        let backend = psaflow::backend::connect(Default::default(), |name| process.var(name)).await?;
        (backend, Some(process))
    };
    // The nodes as every command loads them, `--nodes` folders included.
    let rt = psaflow::Runtime::builder()
        .nodes(super::load_nodes(cli)?)
        .connection(psaflow::halopsa::CONNECTOR, backend.transport.clone())
        .build()?;
    rt.invoke("halopsa.client.get", params(1)).await; // compile outside the measurement
    if let Some(sandbox) = &backend.sandbox {
        sandbox.faults().set_latency(Duration::from_millis(latency_ms));
    }
    println!(
        "psaflow bench for-each: {items} x halopsa.client.get on the embedded sandbox ({}), {latency_ms} ms added latency",
        if sandbox_in_process { "in this process" } else { "in a process of its own, like a tenant" }
    );
    for &concurrency in concurrencies {
        let (wf, inputs) = gets_workflow(items, concurrency)?;
        let options = psaflow_workflow::RunOptions {
            inputs,
            ..Default::default()
        };
        let t = Instant::now();
        let report = psaflow_workflow::run(&wf, &rt, options).await;
        let elapsed = t.elapsed();
        anyhow::ensure!(
            report.succeeded(),
            "benchmark run failed: {}",
            report.to_json()
        );
        let rate = items as f64 / elapsed.as_secs_f64();
        // With added latency, `concurrency` requests at a time can finish at most
        // concurrency / latency items per second.
        let bound = if latency_ms > 0 {
            let bound = concurrency as f64 * 1000.0 / latency_ms as f64;
            // Items start as others finish, so they go in whole rounds of `concurrency`: the
            // last round is partly empty, and no client can beat rounds x latency.
            let rounds = items.div_ceil(concurrency.max(1));
            let in_rounds = items as f64 * 1000.0 / (rounds as f64 * latency_ms as f64);
            format!(
                ", {:.1}% of the latency bound of {bound:.0}/s; {rounds} rounds of {latency_ms} ms allow {in_rounds:.0}/s",
                100.0 * rate / bound
            )
        } else {
            String::new()
        };
        println!(
            "  concurrency {concurrency:>3}: {:>9}  ({rate:.0} items/s, {:.3} ms per item{bound})",
            format!("{:.2} s", elapsed.as_secs_f64()),
            elapsed.as_secs_f64() * 1000.0 / items as f64
        );
        if latency_ms > 0 {
            // What the sandbox and this machine allow without psaflow: the same requests
            // through the same HTTP client, `concurrency` at a time, no node and no workflow.
            let (api_elapsed, api_rate) =
                api_calls_alone(&backend.transport, items, concurrency).await?;
            println!(
                "       the same API calls alone: {:>9}  ({api_rate:.0} items/s); psaflow reached {:.1}% of that",
                format!("{:.2} s", api_elapsed.as_secs_f64()),
                100.0 * rate / api_rate
            );
        }
    }
    if latency_ms > 0 {
        // What one request alone takes here: the sandbox's sleep overshoots on a busy machine
        // (timer ticks are 1 ms and waking up takes time), which no concurrency can win back.
        // The same request sent straight through the HTTP client, without a node, splits that
        // into the sandbox's round trip and what the node and the host add to it.
        let (mut alone, mut api_only, mut in_transport) = (Vec::new(), Vec::new(), Vec::new());
        let (mut instantiating, mut in_guest) = (Vec::new(), Vec::new());
        for i in 0..20 {
            let t = Instant::now();
            let (_, stats) = rt
                .invoke_with_stats("halopsa.client.get", params(1 + (i % 4)))
                .await;
            alone.push(t.elapsed());
            in_transport.push(stats.host_time);
            instantiating.push(stats.instantiate_time);
            in_guest.push(stats.guest_time);
            let t = Instant::now();
            get_client_directly(&*backend.transport, 1 + (i % 4)).await?;
            api_only.push(t.elapsed());
        }
        let (node, api) = (mean(&alone), mean(&api_only));
        println!(
            "  one invocation alone with the {latency_ms} ms latency: {}",
            percentiles(alone)
        );
        println!(
            "    of which waiting for the API inside the node's call: {}",
            percentiles(in_transport)
        );
        println!("    making the instance: {}", percentiles(instantiating));
        println!(
            "    the run call while it was being polled (the guest's work, copying in and out, sending): {}",
            percentiles(in_guest)
        );
        println!(
            "  the same API call alone, through the HTTP client without a node: {}",
            percentiles(api_only)
        );
        println!(
            "  the node and the host add {:.3} ms to the sandbox's round trip of {} (mean)",
            (node.as_secs_f64() - api.as_secs_f64()) * 1000.0,
            ms(api)
        );
    }
    Ok(0)
}

/// Sends `items` GETs of clients straight through `transport`, `concurrency` at a time, as
/// the for_each above does through its nodes; the elapsed time and the rate.
async fn api_calls_alone(
    transport: &Arc<dyn Transport>,
    items: usize,
    concurrency: usize,
) -> anyhow::Result<(Duration, f64)> {
    use futures_util::StreamExt;
    let started = Instant::now();
    let mut answers = futures_util::stream::iter(0..items)
        .map(|i| get_client_directly(&**transport, 1 + (i % 4)))
        .buffer_unordered(concurrency.max(1));
    while let Some(answered) = answers.next().await {
        answered?;
    }
    let elapsed = started.elapsed();
    Ok((elapsed, items as f64 / elapsed.as_secs_f64()))
}

/// `GET /Client/{id}` sent straight through `transport`, no node: the API's part of what a
/// halopsa.client.get invocation does. Fails unless the answer is 200.
async fn get_client_directly(
    transport: &dyn Transport,
    id: impl std::fmt::Display,
) -> anyhow::Result<()> {
    let answer = transport
        .send(ApiRequest {
            method: psaflow_core::Method::Get,
            path: format!("/Client/{id}"),
            query: Vec::new(),
            body: None,
        })
        .await?;
    anyhow::ensure!(answer.status == 200, "the sandbox answered {}", answer.status);
    Ok(())
}

/// Runs `bench memory-run` in a child process per size, so each peak is that run's alone,
/// against a sandbox in a third process unless `sandbox_in_process`.
fn memory(sizes: &[usize], concurrency: usize, sandbox_in_process: bool) -> anyhow::Result<u8> {
    let exe = std::env::current_exe()?;
    // Compile (or check) every node once here, so no measured process pays for compiling.
    drop(psaflow::Runtime::builder().build()?);
    let sandbox = if sandbox_in_process {
        None
    } else {
        Some(SandboxProcess::start(&exe, &[])?)
    };
    println!(
        "psaflow bench memory: for_each of halopsa.client.get, concurrency {concurrency}, report written as JSON; each size in a psaflow process of its own; the sandbox {}",
        if sandbox_in_process {
            "inside the measured process"
        } else {
            "in a process of its own (over HTTP, like a tenant)"
        }
    );
    for &items in sizes {
        let mut command = std::process::Command::new(&exe);
        command
            .args(["bench", "memory-run", "--items"])
            .arg(items.to_string())
            .arg("--concurrency")
            .arg(concurrency.to_string())
            .stderr(std::process::Stdio::inherit());
        if let Some(sandbox) = &sandbox {
            command
                .arg("--sandbox-process")
                .envs(sandbox.env.iter().map(|(k, v)| (k, v)));
        }
        let out = command.output()?;
        anyhow::ensure!(
            out.status.success(),
            "the measurement of {items} items failed ({})",
            out.status
        );
        print!("{}", String::from_utf8_lossy(&out.stdout));
    }
    if let Some(sandbox) = sandbox {
        println!(
            "  the sandbox process (standing in for the tenant, not counted above): peak RSS {:.1} MiB",
            sandbox.peak_mib().unwrap_or(f64::NAN)
        );
    }
    Ok(0)
}

/// `psaflow sandbox` in a child process, killed on drop.
struct SandboxProcess {
    child: std::process::Child,
    /// The `HALOPSA_*` / `CONNECTWISE_*` variables it printed.
    env: Vec<(String, String)>,
}

impl SandboxProcess {
    /// `psaflow sandbox` with `extra` arguments, once it printed its variables.
    fn start(exe: &std::path::Path, extra: &[String]) -> anyhow::Result<Self> {
        use std::io::BufRead;
        let mut child = std::process::Command::new(exe)
            .arg("sandbox")
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut env = Vec::new();
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line?;
            if let Some((name, value)) = line
                .strip_prefix("export ")
                .and_then(|rest| rest.split_once('='))
            {
                env.push((name.to_string(), value.to_string()));
                // The last variable `psaflow sandbox` prints.
                if name == "CONNECTWISE_CLIENT_ID" {
                    return Ok(Self { child, env });
                }
            }
        }
        let _ = child.kill();
        anyhow::bail!("`psaflow sandbox` stopped before printing its variables")
    }

    /// One of the variables it printed.
    fn var(&self, name: &str) -> Option<String> {
        self.env.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    }

    fn peak_mib(&self) -> Option<f64> {
        status_mib_of(&format!("/proc/{}/status", self.child.id()), "VmHWM:")
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A line of /proc/self/status in MiB (`VmHWM`: peak resident set; `VmRSS`: now).
fn status_mib(field: &str) -> Option<f64> {
    status_mib_of("/proc/self/status", field)
}

/// A line of a process's status file in MiB.
fn status_mib_of(path: &str, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(path).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Counts the bytes written to it and keeps none.
#[derive(Default)]
struct CountingSink(u64);
impl std::io::Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn memory_run(items: usize, concurrency: usize, sandbox_process: bool) -> anyhow::Result<u8> {
    // Only with the flag are HALOPSA_* read: a benchmark never goes to a tenant the person
    // running it happens to have configured.
    let backend = if sandbox_process {
        psaflow::backend::connect(Default::default(), |name| std::env::var(name).ok()).await?
    } else {
        psaflow::backend::start_sandbox(Default::default()).await?
    };
    let rt = psaflow::Runtime::builder()
        .connection(psaflow::halopsa::CONNECTOR, backend.transport.clone())
        .build()?;
    rt.invoke("halopsa.client.get", params(1)).await;
    let before = status_mib("VmRSS:").unwrap_or(f64::NAN);
    let (wf, inputs) = gets_workflow(items, concurrency)?;
    let options = psaflow_workflow::RunOptions {
        inputs,
        ..Default::default()
    };
    let t = Instant::now();
    let report = psaflow_workflow::run(&wf, &rt, options).await;
    anyhow::ensure!(
        report.succeeded(),
        "benchmark run failed: {:?}",
        report.error
    );
    let mut sink = std::io::BufWriter::new(CountingSink::default());
    report.write_json(&mut sink, true)?;
    let written = sink.into_inner().map_err(|e| e.into_error())?.0;
    let elapsed = t.elapsed();
    let peak = status_mib("VmHWM:").unwrap_or(f64::NAN);
    // The report is still held here, so this is close to the peak. Pages of the psaflow
    // executable itself count in RSS as they are touched, in 64 KiB runs around each one;
    // how many depends on how a build laid its code out (22-28 MiB across builds here).
    let (anon, file) = (status_mib("RssAnon:"), status_mib("RssFile:"));
    println!(
        "  {items:>7} items: peak RSS {peak:.1} MiB (before the run {before:.1} MiB: {}); {:.1} s; JSON report {:.1} MiB",
        if backend.sandbox.is_some() {
            "nodes ready, sandbox up"
        } else {
            "nodes ready"
        },
        elapsed.as_secs_f64(),
        written as f64 / 1_048_576.0
    );
    println!(
        "           at the end: {:.1} MiB allocated, {:.1} MiB of the executable's own pages",
        anon.unwrap_or(f64::NAN),
        file.unwrap_or(f64::NAN)
    );
    Ok(0)
}

/// A workflow of `items` gets, and its inputs.
fn gets_workflow(
    items: usize,
    concurrency: usize,
) -> anyhow::Result<(psaflow_workflow::Workflow, Map<String, Value>)> {
    let source = format!(
        "name: bench\ninputs:\n  ids: {{ type: list, required: true }}\nsteps:\n  - id: get\n    node: halopsa.client.get\n    for_each: ${{{{ inputs.ids }}}}\n    concurrency: {concurrency}\n    with:\n      Id: ${{{{ item }}}}\n"
    );
    let wf = psaflow_workflow::parse(&source, "bench.yaml").map_err(|d| anyhow::anyhow!("{d}"))?;
    let ids: Vec<Value> = (0..items).map(|i| json!(1 + (i % 4))).collect();
    let mut inputs = Map::new();
    inputs.insert("ids".into(), Value::Array(ids));
    Ok((wf, inputs))
}

/// Runs the gets, journaled into `store` when given; returns the wall time.
async fn timed_gets(
    rt: &psaflow::Runtime,
    items: usize,
    concurrency: usize,
    store: Option<Arc<dyn psaflow_store::RunStore>>,
) -> anyhow::Result<Duration> {
    let (wf, inputs) = gets_workflow(items, concurrency)?;
    let mut options = psaflow_workflow::RunOptions {
        inputs,
        ..Default::default()
    };
    if let Some(store) = store {
        let id = psaflow_store::new_id();
        store.create_run(&psaflow_store::NewRun {
            id: id.clone(),
            workflow: "bench".into(),
            workflow_file: "bench.yaml".into(),
            workflow_hash: String::new(),
            workflow_source: wf.source().to_string(),
            inputs: json!({}),
            redacted_inputs: Vec::new(),
            started_by: "bench".into(),
            backend: "sandbox".into(),
            created_at: psaflow_store::now_ms(),
        })?;
        let journal = psaflow::durable::StoreJournal::open(store, &id, "bench")?;
        options.journal = Some(Arc::new(journal));
    }
    let t = Instant::now();
    let report = psaflow_workflow::run(&wf, rt, options).await;
    let elapsed = t.elapsed();
    anyhow::ensure!(
        report.succeeded(),
        "benchmark run failed: {}",
        report.to_json()
    );
    Ok(elapsed)
}

fn file_size(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

async fn journal(
    cli: &super::Cli,
    items: usize,
    concurrency: usize,
    size_invocations: usize,
) -> anyhow::Result<u8> {
    let backend = psaflow::backend::start_sandbox(Default::default()).await?;
    // The nodes as every command loads them, `--nodes` folders included.
    let rt = psaflow::Runtime::builder()
        .nodes(super::load_nodes(cli)?)
        .connection(psaflow::halopsa::CONNECTOR, backend.transport.clone())
        .build()?;
    rt.invoke("halopsa.client.get", params(1)).await; // compile outside the measurement
    let dir = std::env::temp_dir().join(format!("psaflow-bench-journal-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store: Arc<dyn psaflow_store::RunStore> =
        Arc::new(psaflow_store::SqliteStore::open_dir(&dir)?);
    println!(
        "psaflow bench journal: {items} x halopsa.client.get on the embedded sandbox, concurrency {concurrency}, SQLite (WAL, synchronous=FULL) in {}",
        dir.display()
    );
    // Alternate the two kinds so drift of a shared machine hits both alike.
    let (mut plain, mut journaled) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..2 {
        plain += timed_gets(&rt, items, concurrency, None).await?;
        journaled += timed_gets(&rt, items, concurrency, Some(store.clone())).await?;
    }
    let per = |d: Duration| d.as_secs_f64() * 1000.0 / (2 * items) as f64;
    println!("  without the store: {:.3} ms per invocation", per(plain));
    println!(
        "  with the store:    {:.3} ms per invocation",
        per(journaled)
    );
    println!(
        "  journal overhead:  {:.3} ms per invocation (each call commits its attempt and its result, each with an fsync)",
        per(journaled) - per(plain)
    );
    drop(store);

    let size_dir = dir.join("size");
    let store: Arc<dyn psaflow_store::RunStore> =
        Arc::new(psaflow_store::SqliteStore::open_dir(&size_dir)?);
    let t = timed_gets(
        &rt,
        size_invocations,
        concurrency.max(8),
        Some(store.clone()),
    )
    .await?;
    drop(store);
    let db = size_dir.join(psaflow_store::DEFAULT_FILE);
    let wal = size_dir.join(format!("{}-wal", psaflow_store::DEFAULT_FILE));
    let total = file_size(&db) + file_size(&wal);
    println!(
        "  database after {size_invocations} journaled invocations: {:.1} MiB ({} bytes, {:.0} bytes per invocation; journaled in {:.1} s)",
        total as f64 / 1_048_576.0,
        total,
        total as f64 / size_invocations as f64,
        t.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(0)
}
