//! Command-line parsing and dispatch. One module per subcommand.

pub mod approve;
mod audit;
mod bench;
mod bench_pacing;
mod bench_requests;
mod bench_workers;
mod invoke;
mod nodes;
mod plan;
pub(crate) mod run;
pub(crate) mod runs;
mod sandbox;
mod schema;
mod serve;
pub(crate) mod state;
mod test;
mod tokens;
mod validate;
mod worker;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit status for bad usage or an invalid workflow (contract: 2).
pub const EXIT_USAGE: u8 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "psaflow",
    version,
    about = "Runs HaloPSA automation workflows whose nodes are WebAssembly components."
)]
#[command(
    after_help = "With no HALOPSA_* variables and no --connection file, psaflow uses its embedded HaloPSA sandbox (unless --no-sandbox or PSAFLOW_NO_SANDBOX=1)."
)]
pub struct Cli {
    /// Load extra node components (*.wasm, documented by *.wit beside them) from this folder.
    #[arg(long, global = true, value_name = "DIR")]
    pub nodes: Vec<PathBuf>,
    /// Let a --nodes component replace a built-in node with the same id (refused otherwise).
    #[arg(long, global = true)]
    pub allow_override: bool,
    /// Most API requests one node invocation may send; a node that needs more is stopped.
    #[arg(long, global = true, value_name = "N", default_value_t = psaflow::runtime::DEFAULT_REQUEST_CAP,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub request_cap: u32,
    /// Connection file (api_url, auth_url, tenant, client_id, client_secret_env, scope).
    #[arg(long, global = true, value_name = "FILE")]
    pub connection: Option<PathBuf>,
    /// Never fall back to the embedded sandbox: with no tenant configured, stop with exit 2
    /// (also PSAFLOW_NO_SANDBOX=1). For CI jobs, where missing secrets must not pass as success.
    #[arg(long, global = true)]
    pub no_sandbox: bool,
    /// Let `run` use a workflow's `connection:` block. Without it a workflow with one is
    /// refused: the file would choose where your credentials and data go.
    #[arg(long, global = true)]
    pub allow_workflow_connection: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run one node and print its envelope as JSON.
    Invoke(invoke::Args),
    /// List the node catalog, or describe one node.
    Nodes(nodes::Args),
    /// Run a workflow file, or resume a recorded run (--resume RUN_ID).
    Run(run::Args),
    /// Show every change a workflow would make (its read steps run for real; nothing is written).
    Plan(plan::PlanArgs),
    /// Make exactly the changes of a plan, skipping records that changed since.
    Apply(plan::ApplyArgs),
    /// Recorded runs: list, show, resume, prune.
    Runs(runs::Args),
    /// Approve (or --reject) a run waiting at an approval step, then resume it.
    Approve(approve::Args),
    /// Every change psaflow made, from the append-only audit trail.
    Audit(audit::Args),
    /// Check a workflow file without running it.
    Validate(validate::Args),
    /// Serve the embedded HaloPSA and ConnectWise sandboxes until stopped.
    Sandbox(sandbox::Args),
    /// Print speed numbers: node loading and invocation, for_each throughput.
    Bench(bench::Args),
    /// Run workflow test files (*.test.yaml), each case against its own sandbox.
    Test(test::Args),
    /// Print the JSON Schema of workflow files or of test files, for editors.
    Schema(schema::Args),
    /// Serve the HTTP API under /v1 (OpenAPI at /v1/openapi.json) and the web console at /.
    Serve(serve::Args),
    /// API tokens for `psaflow serve`: create (printed once), list, revoke.
    Tokens(tokens::Args),
    /// Execute queued runs from a shared run store (--store URL) until stopped.
    Worker(worker::Args),
}

/// Exit status when the reader of stdout went away (`psaflow nodes --json | head -1`): what a
/// shell reports for a process killed by SIGPIPE (128 + 13). SIGPIPE itself stays ignored,
/// because psaflow also writes to sockets, where that signal would kill it mid-request.
pub const EXIT_STDOUT_CLOSED: u8 = 141;

/// True for the panic `println!` raises when stdout's reader is gone: std words it
/// "failed printing to stdout: Broken pipe (os error 32)".
fn is_closed_stdout_panic(payload: &str) -> bool {
    let broken_pipe = std::io::Error::from_raw_os_error(32).to_string();
    payload.starts_with("failed printing to stdout") && payload.ends_with(&broken_pipe)
}

/// True when a command stopped on an unwrapped "broken pipe" I/O error: that is how its own
/// `?` on a write to stdout ends once the reader is gone. Writes to sockets fail inside an
/// HTTP client or server, whose errors wrap the I/O error, or with context added.
fn is_closed_stdout_error(err: &anyhow::Error) -> bool {
    let broken_pipe = err
        .downcast_ref::<std::io::Error>()
        .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe);
    let unwrapped = err.chain().count() == 1;
    broken_pipe && unwrapped
}

/// Replaces the default panic message with one that masks every credential in the
/// environment: a panic message is text we did not write carefully (a library's `expect`).
/// A print to a closed stdout is no bug: the command ends quietly, as if SIGPIPE had ended it.
fn install_redacting_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".into());
        if is_closed_stdout_panic(&payload) {
            std::process::exit(EXIT_STDOUT_CLOSED.into());
        }
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "psaflow: internal error (a bug, please report it): {}{place}",
            mask_credentials(&payload, std::env::vars())
        );
    }));
}

/// The values of every credential variable in the environment (by name, see
/// [`psaflow_core::credentials`]): `CONNECTWISE_PRIVATE_KEY`, `HALOPSA_CLIENT_SECRET`, a cloud
/// key... Masked in everything psaflow prints, whichever connector reads them.
pub fn credential_values() -> Vec<String> {
    std::env::vars()
        .filter(|(name, value)| {
            psaflow_core::credentials::is_credential_variable(name) && value.len() >= 4
        })
        .map(|(_, value)| value)
        .collect()
}

/// `text` with the value of every credential variable (by name, see
/// [`psaflow_core::credentials`]) replaced by `***`.
fn mask_credentials(text: &str, vars: impl Iterator<Item = (String, String)>) -> String {
    let mut values: Vec<String> = vars
        .filter(|(name, value)| {
            psaflow_core::credentials::is_credential_variable(name) && value.len() >= 4
        })
        .map(|(_, value)| value)
        .collect();
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    values
        .iter()
        .fold(text.to_string(), |acc, v| acc.replace(v.as_str(), "***"))
}

pub fn main() -> ExitCode {
    install_redacting_panic_hook();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    // The command runs on a worker thread, not on this one: a future `block_on` polls here is
    // woken across threads every time a task it waits for ends (a futex wake and a context
    // switch per for_each item), and every task it spawns first goes through the shared queue.
    let command = runtime.spawn(async move { dispatch(&cli).await });
    let code = runtime.block_on(command).unwrap_or_else(|failure| {
        std::panic::resume_unwind(failure.into_panic())
    });
    match code {
        Ok(code) => ExitCode::from(code),
        Err(err) if is_closed_stdout_error(&err) => ExitCode::from(EXIT_STDOUT_CLOSED),
        Err(err) if err.downcast_ref::<psaflow::runtime::OverrideRefused>().is_some() => {
            eprintln!("psaflow: error: {err:#}");
            ExitCode::from(EXIT_USAGE)
        }
        Err(err) => {
            eprintln!("psaflow: error: {err:#}");
            ExitCode::from(1)
        }
    }
}

/// Runs the command `cli` names.
async fn dispatch(cli: &Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Invoke(ref args) => invoke::run(cli, args).await,
        Command::Nodes(ref args) => nodes::run(cli, args),
        Command::Run(ref args) => run::run(cli, args).await,
        Command::Plan(ref args) => plan::plan(cli, args).await,
        Command::Apply(ref args) => plan::apply(cli, args).await,
        Command::Runs(ref args) => runs::run(cli, args).await,
        Command::Approve(ref args) => approve::run(cli, args).await,
        Command::Audit(ref args) => audit::run(args),
        Command::Validate(ref args) => validate::run(cli, args).await,
        Command::Sandbox(ref args) => sandbox::run(args).await,
        Command::Bench(ref args) => bench::run(cli, args).await,
        Command::Test(ref args) => test::run(cli, args).await,
        Command::Schema(ref args) => schema::run(cli, args),
        Command::Serve(ref args) => serve::run(cli, args).await,
        Command::Tokens(ref args) => tokens::run(args),
        Command::Worker(ref args) => worker::run(cli, args).await,
    }
}

/// Reads the process environment (one place, so tests and embedders can see what is read).
pub fn env_lookup(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Variable that forbids the sandbox fallback, like `--no-sandbox`.
pub const ENV_NO_SANDBOX: &str = "PSAFLOW_NO_SANDBOX";

/// True when the sandbox fallback is forbidden: `--no-sandbox`, or PSAFLOW_NO_SANDBOX set to
/// anything but 0/false/no.
pub fn sandbox_forbidden(cli: &Cli) -> bool {
    cli.no_sandbox
        || env_lookup(ENV_NO_SANDBOX).is_some_and(|v| {
            !matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "0" | "false" | "no" | "off"
            )
        })
}

/// Decides and opens the backend. `Err(code)` when the command must stop (the reason is
/// already on stderr): a configuration that cannot be used (2), no tenant while the sandbox
/// is forbidden (2), or a sandbox that does not start (1).
pub async fn open_backend(
    cli: &Cli,
    workflow_connection: Option<psaflow_halopsa::ConnectionConfig>,
) -> Result<psaflow::backend::Backend, u8> {
    open_backend_with_budget(cli, workflow_connection, &|_| None).await
}

/// [`open_backend`], with the tenant client's request budget chosen by `budget`.
pub async fn open_backend_with_budget(
    cli: &Cli,
    workflow_connection: Option<psaflow_halopsa::ConnectionConfig>,
    budget: psaflow::backend::BudgetChoice<'_>,
) -> Result<psaflow::backend::Backend, u8> {
    open_backend_for(cli, workflow_connection, Default::default(), budget).await
}

/// [`open_backend`] for a command that sends only to `connectors` (invoke: the node's; run,
/// plan, apply: its nodes'): only their settings are read, so a mistake in another connector's variables
/// does not stop it, only their sandboxes start, and `--no-sandbox` refuses only those of them
/// that have no tenant.
pub async fn open_backend_for(
    cli: &Cli,
    workflow_connection: Option<psaflow_halopsa::ConnectionConfig>,
    connectors: psaflow::backend::Connectors,
    budget: psaflow::backend::BudgetChoice<'_>,
) -> Result<psaflow::backend::Backend, u8> {
    use psaflow::backend::{BackendChoice, ConnectWiseTarget, Connectors, Target};
    let forbid_sandbox = sandbox_forbidden(cli);
    let choice = BackendChoice {
        connection_file: cli.connection.as_deref(),
        workflow_connection,
        forbid_sandbox,
        connectors,
    };
    // Settings that cannot be used are bad usage (2), whichever connector they belong to;
    // every problem of both is said before stopping.
    let target = psaflow::backend::resolve(&choice, env_lookup);
    let connectwise = psaflow::backend::resolve_connectwise(&choice, env_lookup);
    let (target, connectwise) = match (target, connectwise) {
        (Ok(target), Ok(connectwise)) => (target, connectwise),
        (target, connectwise) => {
            for err in [target.err(), connectwise.err()].into_iter().flatten() {
                eprintln!("psaflow: {err:#}");
            }
            return Err(EXIT_USAGE);
        }
    };
    let mut refused = false;
    if matches!(target, Target::Sandbox) && forbid_sandbox {
        eprintln!(
            "psaflow: no tenant configured: set the HALOPSA_* variables or pass --connection FILE \
             (--no-sandbox / {ENV_NO_SANDBOX} forbids falling back to the embedded sandbox)"
        );
        refused = true;
    }
    // With every connector (serve, worker), a ConnectWise node is refused when it runs instead.
    if matches!(connectwise, ConnectWiseTarget::Sandbox(_))
        && forbid_sandbox
        && choice.connectors != Connectors::All
    {
        eprintln!(
            "psaflow: no ConnectWise tenant configured: set the CONNECTWISE_* variables \
             (--no-sandbox / {ENV_NO_SANDBOX} forbids falling back to the embedded sandbox)"
        );
        refused = true;
    }
    if refused {
        return Err(EXIT_USAGE);
    }
    match psaflow::backend::open_targets(target, connectwise, forbid_sandbox, budget).await {
        Ok(backend) => {
            if backend.sandbox.is_some() {
                eprintln!(
                    "psaflow: no HALOPSA_* variables set; using {} (fake data, not a tenant)",
                    backend.description
                );
            }
            Ok(backend)
        }
        Err(err) => {
            eprintln!("psaflow: error: {err:#}");
            Err(1)
        }
    }
}

/// The request budget of each connector's connection, decided as [`open_backend`] would
/// decide the connection (without connecting; a workflow's own block is not considered).
/// Once connected, [`psaflow::backend::Backend::rate_limits`] says what is in use.
pub fn rate_limits(
    cli: &Cli,
) -> anyhow::Result<Vec<(&'static str, Option<psaflow_core::RateLimit>)>> {
    let choice = psaflow::backend::BackendChoice {
        connection_file: cli.connection.as_deref(),
        workflow_connection: None,
        forbid_sandbox: sandbox_forbidden(cli),
        connectors: Default::default(),
    };
    psaflow::backend::rate_limits(&choice, env_lookup)
}

/// Builds the runtime for a command: its connections, nodes folders, cache.
pub fn build_runtime(
    cli: &Cli,
    backend: &psaflow::backend::Backend,
) -> anyhow::Result<psaflow::Runtime> {
    psaflow::Runtime::builder()
        .nodes(load_nodes(cli)?)
        .connection(psaflow::halopsa::CONNECTOR, backend.transport.clone())
        .connection(psaflow::connectwise::CONNECTOR, backend.connectwise.clone())
        .request_cap(cli.request_cap)
        .build()
}

/// A runtime with no connection, for checking node inputs: check mode sends nothing.
pub fn offline_runtime(cli: &Cli) -> anyhow::Result<psaflow::Runtime> {
    psaflow::Runtime::builder()
        .nodes(load_nodes(cli)?)
        .request_cap(cli.request_cap)
        .build()
}

/// The node catalog: built-in nodes and `--nodes` folders, loaded once per process. Needs no
/// connection (all `nodes`, `validate` and `schema` need). Loading warnings and every
/// third-party node's declared capabilities go to stderr.
pub fn load_nodes(cli: &Cli) -> anyhow::Result<std::sync::Arc<psaflow::runtime::NodeCatalog>> {
    static NODES: std::sync::OnceLock<std::sync::Arc<psaflow::runtime::NodeCatalog>> =
        std::sync::OnceLock::new();
    if let Some(nodes) = NODES.get() {
        return Ok(nodes.clone());
    }
    let mut builder = psaflow::runtime::NodeCatalog::builder().allow_override(cli.allow_override);
    for dir in &cli.nodes {
        builder = builder.nodes_dir(dir);
    }
    let nodes = builder.load()?;
    for warning in nodes.warnings() {
        eprintln!("psaflow: warning: {warning}");
    }
    for spec in nodes.third_party() {
        eprintln!("psaflow: {}", nodes::declaration_line(spec));
    }
    Ok(NODES.get_or_init(|| std::sync::Arc::new(nodes)).clone())
}

/// Diagnostics for the terminal: styled on a TTY, plain otherwise (CI logs, pipes). Ends with
/// exactly one newline, whatever each diagnostic's rendering ends with, so callers `eprint!` it
/// (a message without one runs into the shell's prompt).
pub fn render(diagnostics: &psaflow_workflow::Diagnostics) -> String {
    use std::io::IsTerminal;
    render_styled(diagnostics, std::io::stderr().is_terminal())
}

fn render_styled(diagnostics: &psaflow_workflow::Diagnostics, styled: bool) -> String {
    diagnostics
        .iter()
        .map(|d| format!("{}\n", d.render(styled).trim_end()))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_text_masks_credential_variables() {
        let vars = vec![
            ("HALOPSA_CLIENT_SECRET".to_string(), "s3cr3t-value".to_string()),
            ("CONNECTWISE_PRIVATE_KEY".to_string(), "pk-123456".to_string()),
            ("REGION".to_string(), "eu-west".to_string()),
        ];
        let masked = mask_credentials(
            "called unwrap on s3cr3t-value and pk-123456 in eu-west",
            vars.into_iter(),
        );
        assert_eq!(masked, "called unwrap on *** and *** in eu-west");
    }

    #[test]
    fn only_a_print_to_a_closed_stdout_is_a_closed_stdout() {
        let broken_pipe = std::io::Error::from_raw_os_error(32);
        assert!(is_closed_stdout_panic(&format!(
            "failed printing to stdout: {broken_pipe}"
        )));
        assert!(!is_closed_stdout_panic(&format!(
            "failed printing to stderr: {broken_pipe}"
        )));
        assert!(!is_closed_stdout_panic("index out of bounds"));

        assert!(is_closed_stdout_error(&anyhow::Error::from(broken_pipe)));
        let wrapped = anyhow::Error::from(std::io::Error::from_raw_os_error(32))
            .context("sending the request");
        assert!(!is_closed_stdout_error(&wrapped));
    }
}
