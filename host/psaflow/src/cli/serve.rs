//! `psaflow serve [--bind 127.0.0.1:8080] [--workflows DIR] ...`: the HTTP API and web
//! console (see `crate::serve`). Logs go to stderr (`--log-format json` for one JSON object
//! per line); SIGTERM or Ctrl-C stops accepting requests, lets running runs finish for the
//! grace period, and exits 0.
use super::state::StateArgs;
use super::{Cli, EXIT_USAGE};
use crate::serve::app::{AppState, router};
use crate::serve::auth::RateLimiter;
use crate::serve::connections::{self, ServerConnections};
use crate::serve::executor;
use crate::serve::metrics::MeteredTransport;
use psaflow::execute::Stop;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Address to listen on. Loopback by default: put TLS in front with a reverse proxy.
    #[arg(
        long,
        env = "PSAFLOW_BIND",
        default_value = "127.0.0.1:8080",
        value_name = "ADDR"
    )]
    pub bind: String,
    /// Named connections (tenants) runs and invocations may choose; see the README's
    /// "Service" section for the file.
    #[arg(long, env = "PSAFLOW_CONNECTIONS", value_name = "FILE")]
    pub connections: Option<PathBuf>,
    /// Folder of workflow files that POST /v1/runs can run by name.
    #[arg(long, env = "PSAFLOW_WORKFLOWS", value_name = "DIR")]
    pub workflows: Option<PathBuf>,
    /// Let POST /v1/runs take a workflow's YAML in the body (`workflow_yaml`).
    #[arg(long)]
    pub allow_inline_workflows: bool,
    /// Only queue submitted runs; `psaflow worker` processes sharing the run store execute
    /// them (for a store that several machines share).
    #[arg(long)]
    pub no_executor: bool,
    /// Most runs executing at once in this server; more wait in the queue.
    #[arg(long, env = "PSAFLOW_MAX_RUNS", default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub max_runs: u16,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "PSAFLOW_BODY_LIMIT", default_value_t = 1024 * 1024, value_name = "BYTES")]
    pub body_limit: usize,
    /// Requests per token: <requests>/<duration> (e.g. 600/1m), or off.
    #[arg(
        long,
        env = "PSAFLOW_RATE_LIMIT",
        default_value = "1200/1m",
        value_name = "N/SPAN"
    )]
    pub rate_limit: String,
    /// How long a stop waits for running runs before exiting; runs still going then are given
    /// back to the queue and continue after a restart (or on a worker).
    #[arg(
        long,
        env = "PSAFLOW_SHUTDOWN_GRACE",
        default_value = "30s",
        value_name = "DURATION"
    )]
    pub shutdown_grace: String,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key); else plain HTTP, for
    /// loopback or behind a reverse proxy that terminates TLS.
    #[arg(
        long,
        env = "PSAFLOW_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(
        long,
        env = "PSAFLOW_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    #[arg(long, env = "PSAFLOW_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(flatten)]
    pub state: StateArgs,
}

fn init_logs(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("PSAFLOW_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour only on a terminal: redirected to a file or a journal, escape codes are noise.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<u8> {
    let limit = match RateLimiter::parse(&args.rate_limit) {
        Ok(limit) => limit,
        Err(message) => {
            eprintln!("psaflow: {message}");
            return Ok(EXIT_USAGE);
        }
    };
    let grace = match super::state::parse_flag_duration(&args.shutdown_grace, "30s, 2m") {
        Ok(grace) => grace,
        Err(problem) => {
            eprintln!("psaflow: --shutdown-grace {problem}");
            return Ok(EXIT_USAGE);
        }
    };
    if let Some(dir) = &args.workflows
        && !dir.is_dir()
    {
        eprintln!("psaflow: --workflows {}: not a folder", dir.display());
        return Ok(EXIT_USAGE);
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => match crate::serve::tls::acceptor(cert, key) {
            Ok(acceptor) => Some(acceptor),
            Err(message) => {
                eprintln!("psaflow: {message}");
                return Ok(EXIT_USAGE);
            }
        },
        _ => None,
    };
    let store = match args.state.open() {
        Ok(store) => store,
        Err(err) => {
            eprintln!("psaflow: {err:#}");
            return Ok(EXIT_USAGE);
        }
    };
    init_logs(args.log_format);
    let backend = match super::open_backend(cli, None).await {
        Ok(backend) => backend,
        Err(code) => return Ok(code),
    };
    let nodes = super::load_nodes(cli)?;
    let runtime = psaflow::Runtime::builder()
        .nodes(nodes.clone())
        .connection(
            psaflow::halopsa::CONNECTOR,
            MeteredTransport::wrap(backend.transport.clone(), "halopsa"),
        )
        .connection(
            psaflow_connectwise::CONNECTOR,
            MeteredTransport::wrap(backend.connectwise.clone(), "connectwise"),
        )
        .request_cap(cli.request_cap)
        .build()?;
    let offline = psaflow::Runtime::builder()
        .nodes(nodes.clone())
        .request_cap(cli.request_cap)
        .build()?;
    let mut secrets = super::credential_values();
    secrets.push(backend.secret.expose().to_string());
    let mut csrf_key = [0u8; 32];
    getrandom::fill(&mut csrf_key)
        .map_err(|e| anyhow::anyhow!("no random bytes for the console's CSRF key: {e}"))?;
    let backend_kind = backend.kind;
    let connection = Arc::new(executor::connected(
        runtime.clone(),
        backend,
        secrets.clone(),
    ));
    let backend_label = connection.backend_label.clone();
    let connections = match &args.connections {
        None => ServerConnections {
            default_name: "default".into(),
            by_name: [("default".to_string(), connection)].into_iter().collect(),
        },
        Some(file) => {
            // Each tenant keeps its client's own request budget here; `psaflow worker`
            // processes share theirs through the run store.
            match connections::open(
                file,
                connection,
                nodes,
                cli.request_cap,
                super::env_lookup,
                &|_| None,
            )
            .await
            {
                Ok(c) => c,
                Err(message) => {
                    eprintln!("psaflow: --connections {message}");
                    return Ok(EXIT_USAGE);
                }
            }
        }
    };
    let connections = Arc::new(connections);
    let queue = (!args.no_executor).then(|| psaflow::execute::Executor {
        store: store.clone(),
        connections: connections.clone(),
        worker: format!("serve:{}", psaflow::execute::worker_id()),
        lease: executor::LEASE,
    });
    let state = Arc::new(AppState {
        store,
        runtime,
        offline,
        backend_kind,
        backend_label,
        workflows: args.workflows.clone(),
        allow_inline: args.allow_inline_workflows,
        executor: executor::Executor::new(queue, usize::from(args.max_runs)),
        connections,
        secrets,
        metrics: crate::serve::metrics::install()?,
        limiter: RateLimiter::new(limit),
        touched: Default::default(),
        shutting_down: AtomicBool::new(false),
        csrf_key,
        secure_cookies: tls.is_some(),
    });
    let listener = match tokio::net::TcpListener::bind(&args.bind).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("psaflow: cannot listen on {}: {e}", args.bind);
            return Ok(EXIT_USAGE);
        }
    };
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    eprintln!(
        "psaflow: listening on {scheme}://{addr} (API under /v1, console at /; run store {})",
        state.store.location()
    );
    tracing::info!(%addr, store = %state.store.location(), backend = %state.backend_label, "serving");
    if !state.executor.executes() {
        eprintln!(
            "psaflow: --no-executor: submitted runs wait in the queue for psaflow worker processes sharing this run store"
        );
    }
    let (stop_tx, stop) = Stop::new();
    let executing = tokio::spawn(executor::run_loop(state.clone(), stop, grace));
    let app = router(state.clone(), args.body_limit);
    let stopping = state.clone();
    let shutdown = async move {
        stop_signal().await;
        stopping.shutting_down.store(true, Ordering::Relaxed);
        let _ = stop_tx.send(true);
        tracing::info!("stopping: no new requests; waiting for running runs");
    };
    match tls {
        Some(acceptor) => {
            let listener = crate::serve::tls::TlsListener::new(listener, acceptor)?;
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await?
        }
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await?
        }
    }
    // Running runs get the grace period, then go back to the queue.
    let _ = executing.await;
    eprintln!("psaflow: stopped");
    Ok(0)
}

/// Ctrl-C, or SIGTERM on Unix.
async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
