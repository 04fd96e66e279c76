//! `psaflow worker [--store URL] [--concurrency N] [--connections FILE]`: executes queued runs
//! from a shared run store until SIGTERM or SIGINT, then stops claiming, lets running runs
//! finish for `--grace`, gives the rest back to the queue and exits 0. See `psaflow::worker`.
use super::Cli;
use super::state::StateArgs;
use psaflow::core::BoxFuture;
use psaflow::execute::{Connected, Connections, Executor, Stop, backend_label, worker_id};
use psaflow::shared_budget::SharedBudget;
use psaflow::worker::{WorkerOptions, run_worker};
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub state: StateArgs,
    /// Runs executed at once by this worker.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// How long a claimed run stays this worker's without a heartbeat; after that (the worker
    /// died or stalled) another worker takes it over.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub lease: Duration,
    /// Longest wait for new work between looks at the queue (PostgreSQL wakes workers at once
    /// with LISTEN/NOTIFY; SQLite is polled at this interval).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub poll: Duration,
    /// On shutdown, how long running runs may take to finish before they are given back to
    /// the queue (a run interrupted mid-call is continued by another worker, which reconciles
    /// what was in flight).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub grace: Duration,
    /// Named connections (tenants), the same file as `psaflow serve --connections`: runs
    /// queued with `"connection": NAME` are executed through that tenant. Without it the
    /// worker has only its default connection and fails runs that name another.
    #[arg(long, value_name = "FILE")]
    pub connections: Option<std::path::PathBuf>,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    super::state::parse_flag_duration(text, "500ms, 30s, 2m")
}

/// The worker's connection: the one `psaflow run` would use (`--connection FILE`, the
/// `HALOPSA_*` variables, else the embedded sandbox), opened once for all runs so they share
/// its request budget.
struct DefaultConnection(Arc<Connected>);

impl Connections for DefaultConnection {
    fn connect<'a>(
        &'a self,
        name: Option<&'a str>,
    ) -> BoxFuture<'a, anyhow::Result<Arc<Connected>>> {
        Box::pin(async move {
            if let Some(name) = name {
                anyhow::bail!(
                    "the run uses the connection '{name}', and this worker has only its default \
                     connection (--connection FILE or the HALOPSA_* variables); give the worker \
                     the server's --connections FILE"
                );
            }
            Ok(self.0.clone())
        })
    }
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<u8> {
    let store = match args.state.open() {
        Ok(store) => store,
        Err(err) => {
            eprintln!("psaflow: {err:#}");
            return Ok(super::EXIT_USAGE);
        }
    };
    // Opened before anything is claimed: a worker that cannot reach its tenant takes no work.
    // One request budget per tenant API application across every worker on this store.
    let budget_store = store.clone();
    let shared_budget = move |app: &psaflow::backend::ApiApplication<'_>| {
        app.rate_limit.map(|limit| {
            Arc::new(SharedBudget::new(budget_store.clone(), app.key(), limit))
                as Arc<dyn psaflow::core::RequestBudget>
        })
    };
    let backend = match super::open_backend_with_budget(cli, None, &shared_budget).await {
        Ok(backend) => backend,
        Err(code) => return Ok(code),
    };
    let runtime = super::build_runtime(cli, &backend)?;
    let connected = Connected {
        runtime,
        backend_label: backend_label(&backend),
        kind: backend.kind,
        connections: backend.connections.clone(),
        secrets: vec![backend.secret.expose().to_string()],
        backend: Some(backend),
    };
    let connections: Arc<dyn Connections> = match &args.connections {
        None => Arc::new(DefaultConnection(Arc::new(connected))),
        // The named tenants, each opened once (before any claim) with its request budget
        // shared through the store like the default connection's.
        Some(file) => match crate::serve::connections::open(
            file,
            Arc::new(connected),
            super::load_nodes(cli)?,
            cli.request_cap,
            super::env_lookup,
            &shared_budget,
        )
        .await
        {
            Ok(named) => Arc::new(named),
            Err(message) => {
                eprintln!("psaflow: --connections {message}");
                return Ok(super::EXIT_USAGE);
            }
        },
    };
    let executor = Executor {
        store,
        connections,
        worker: worker_id(),
        lease: args.lease,
    };
    let options = WorkerOptions {
        concurrency: usize::from(args.concurrency),
        poll: args.poll,
        sweep_every: (args.lease / 3).max(Duration::from_millis(200)),
        grace: args.grace,
        ..WorkerOptions::default()
    };
    let (stop_tx, stop) = Stop::new();
    tokio::spawn(async move {
        wait_for_signal().await;
        eprintln!("psaflow: worker stopping (signal received)");
        let _ = stop_tx.send(true);
    });
    let stats = run_worker(executor, options, stop).await?;
    use std::sync::atomic::Ordering::Relaxed;
    eprintln!(
        "psaflow: worker stopped: {} run(s) finished, {} given back, {} lease(s) lost",
        stats.finished.load(Relaxed),
        stats.released.load(Relaxed),
        stats.lost.load(Relaxed)
    );
    Ok(0)
}

/// SIGTERM (systemd, docker stop) or SIGINT (Ctrl-C).
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
