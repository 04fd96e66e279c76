//! `psaflow run FILE [--input name=value]... [--dry-run] [--json] [--state DIR]` and
//! `psaflow run --resume RUN_ID`: the product's main job. Every real run is recorded in the
//! run store (see `durable.rs`), so it can be resumed, audited and listed.

use super::state::StateArgs;
use super::{Cli, EXIT_USAGE};
use psaflow::backend::{connection_hosts, workflow_connection};
use psaflow::durable::{StoreJournal, os_user};
use psaflow_store::{NewRun, RunRecord, RunState, RunStore, new_id, now_ms};
use psaflow_workflow::{HumanRenderer, Redactor, RunOptions, RunReport, RunStatus, Workflow};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

/// Exit status of a run that stopped to wait for an approval (contract: 4).
pub const EXIT_WAITING: u8 = 4;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The workflow file (optional with --resume: the run keeps the workflow it started with).
    #[arg(required_unless_present = "resume")]
    pub file: Option<PathBuf>,
    /// A workflow input, read by its declared type. With --resume: only inputs whose values
    /// were masked when the run was stored (secrets) are given again.
    #[arg(long = "input", value_name = "NAME=VALUE")]
    pub inputs: Vec<String>,
    /// All inputs as one JSON object; --input values win.
    #[arg(long, value_name = "JSON", conflicts_with = "resume")]
    pub inputs_json: Option<String>,
    /// The offline plan: validate and show each step with what can be resolved without
    /// reading the tenant; sends nothing (`psaflow plan` reads, to name the records changed).
    #[arg(long, conflicts_with = "resume")]
    pub dry_run: bool,
    /// Print the run report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Continue an interrupted run, or one waiting for approval, from where it stopped.
    #[arg(long, value_name = "RUN_ID")]
    pub resume: Option<String>,
    /// Record the run as queued and return at once (its id on stdout): a `psaflow worker` on
    /// the same store (--store URL) executes it.
    #[arg(long, conflicts_with_all = ["resume", "dry_run"])]
    pub enqueue: bool,
    /// Refuse to start (exit 2) a workflow with warnings (as `psaflow validate` shows them) or
    /// a run that cannot be recorded in the run store, even at its default location.
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub state: StateArgs,
}

/// `--input name=value` pairs, or the exit status for a malformed one.
pub(super) fn raw_inputs(pairs: &[String]) -> Result<Vec<(String, String)>, u8> {
    let mut raw = Vec::new();
    for pair in pairs {
        let Some((name, value)) = pair.split_once('=') else {
            eprintln!("psaflow: --input {pair:?} must look like name=value");
            return Err(EXIT_USAGE);
        };
        let name = name.trim().to_string();
        // Keeping the last silently would run with a value the caller may not have meant.
        if raw.iter().any(|(given, _)| *given == name) {
            eprintln!("psaflow: --input {name} is given twice; give each input once");
            return Err(EXIT_USAGE);
        }
        raw.push((name, value.to_string()));
    }
    Ok(raw)
}

/// The workflow's inputs from `--input name=value` pairs and `--inputs-json`, resolved against
/// its declarations; on a problem, says it on stderr and gives the exit status.
pub(super) fn command_line_inputs(
    workflow: &psaflow_workflow::Workflow,
    pairs: &[String],
    inputs_json: Option<&str>,
) -> Result<serde_json::Map<String, serde_json::Value>, u8> {
    let raw = raw_inputs(pairs)?;
    let json_inputs = match inputs_json {
        None => None,
        Some(text) => match serde_json::from_str(text) {
            Ok(serde_json::Value::Object(map)) => Some(map),
            _ => {
                eprintln!("psaflow: --inputs-json must be a JSON object");
                return Err(EXIT_USAGE);
            }
        },
    };
    psaflow_workflow::resolve_inputs(workflow, &raw, json_inputs).map_err(|diagnostics| {
        eprint!("{}", super::render(&diagnostics));
        EXIT_USAGE
    })
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<u8> {
    if let Some(id) = &args.resume {
        let raw = match raw_inputs(&args.inputs) {
            Ok(raw) => raw,
            Err(code) => return Ok(code),
        };
        let request = Resume {
            run_id: id.clone(),
            file: args.file.clone(),
            inputs: raw,
            json: args.json,
        };
        return resume(cli, &args.state, &request).await;
    }
    let file = args
        .file
        .as_ref()
        .expect("clap requires FILE without --resume");
    let workflow = match psaflow_workflow::load(file) {
        Ok(wf) => wf,
        Err(diagnostics) => {
            eprint!("{}", super::render(&diagnostics));
            return Ok(EXIT_USAGE);
        }
    };

    // Validate before connecting: an invalid workflow never reaches a tenant.
    let nodes = super::load_nodes(cli)?;
    if let Err(diagnostics) = psaflow_workflow::validate(&workflow, nodes.catalog()) {
        eprint!("{}", super::render(&diagnostics));
        return Ok(EXIT_USAGE);
    }
    if args.strict && super::validate::refused_for_warnings(&workflow, nodes.catalog()) {
        return Ok(EXIT_USAGE);
    }
    let inputs = match command_line_inputs(&workflow, &args.inputs, args.inputs_json.as_deref())
    {
        Ok(inputs) => inputs,
        Err(code) => return Ok(code),
    };
    // With the inputs known, the nodes check every value they can before anything is sent.
    let known = psaflow_workflow::RunOptions {
        inputs: inputs.clone(),
        ..Default::default()
    }
    .known_inputs(&workflow);
    let env_for_check = serde_json::Value::Object(
        std::env::vars()
            .map(|(k, v)| (k, serde_json::Value::String(v)))
            .collect(),
    );
    let offline = super::offline_runtime(cli)?;
    if let Err(diagnostics) =
        psaflow_workflow::check_node_inputs(&workflow, &offline, Some(&known), &env_for_check).await
    {
        eprint!("{}", super::render(&diagnostics));
        return Ok(EXIT_USAGE);
    }

    if args.dry_run {
        // Nothing is sent, so no connection is made and nothing is recorded.
        let options = RunOptions {
            inputs,
            env: declared_env(&workflow),
            dry_run: true,
            ..RunOptions::default()
        };
        // A runtime without connections could not send anything even if it were asked to.
        let offline = psaflow::Runtime::builder().nodes(nodes.clone()).build()?;
        let report = psaflow_workflow::run(&workflow, &offline, options.clone()).await;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report.to_json())?);
        } else {
            let plan = psaflow_workflow::plan(&workflow, nodes.catalog(), &options);
            print!("{}", plan.render());
            let estimate = plan.call_estimate(nodes.catalog());
            match super::rate_limits(cli) {
                Ok(limits) => print!("{}", render_estimate(&estimate, &limits)),
                Err(err) => eprintln!("psaflow: no time estimate: {err:#}"),
            }
        }
        return Ok(if report.succeeded() { 0 } else { 1 });
    }

    // The store is opened before anything is sent: a run that cannot be journaled where the
    // user asked for it does not start. Only the default location may be missing.
    let store = match args.state.open_for_recording("this run", args.strict) {
        Ok(store) => store,
        Err(code) => return Ok(code),
    };
    let target = Target {
        workflow,
        file: file.display().to_string(),
        inputs,
    };
    if args.enqueue {
        let Some(store) = store else {
            eprintln!("psaflow: --enqueue needs a run store the workers share (--store URL)");
            return Ok(EXIT_USAGE);
        };
        return enqueue(cli, target, store.as_ref(), args.json);
    }
    execute(cli, target, store, None, args.json).await
}

/// What a run executes: the workflow and its inputs (secrets included, in memory only).
struct Target {
    workflow: Workflow,
    file: String,
    inputs: Map<String, Value>,
}

/// A run to continue.
pub struct Resume {
    pub run_id: String,
    /// When given, it must be the workflow the run started with.
    pub file: Option<PathBuf>,
    /// Masked inputs given again.
    pub inputs: Vec<(String, String)>,
    pub json: bool,
}

/// Lower-case hex SHA-256 of `text` (the same digest plans pin workflows with).
pub fn sha256_hex(text: &str) -> String {
    psaflow_workflow::plan::sha256_hex(text.as_bytes())
}

/// The run store's record of a new run of `workflow` read from `file`: its exact text and
/// hash (a resume runs that text, not the file), the inputs as [`stored_inputs`] masked them,
/// who started it and where its requests go.
pub fn new_run_record(
    id: String,
    workflow: &Workflow,
    file: String,
    (inputs, redacted_inputs): (serde_json::Value, Vec<String>),
    started_by: String,
    backend: String,
) -> NewRun {
    NewRun {
        id,
        workflow: workflow.name().to_string(),
        workflow_file: file,
        workflow_hash: sha256_hex(workflow.source()),
        workflow_source: workflow.source().to_string(),
        inputs,
        redacted_inputs,
        started_by,
        backend,
        created_at: now_ms(),
    }
}

/// Inputs as stored: secret-named inputs and any value holding a known secret are masked,
/// and their names listed so a resume can ask for them again.
pub(crate) fn stored_inputs(inputs: &Map<String, Value>, redactor: &Redactor) -> (Value, Vec<String>) {
    let mut shown = Map::new();
    let mut masked = Vec::new();
    for (k, v) in inputs {
        let safe = if Redactor::is_secret_name(k) {
            Value::String("***".into())
        } else {
            redactor.value(v)
        };
        if &safe != v {
            masked.push(k.clone());
        }
        shown.insert(k.clone(), safe);
    }
    (Value::Object(shown), masked)
}

/// The variables the workflow declares under `env:`, from the process environment: all that
/// its expressions can see (credentials cannot be declared; see the README's security model).
pub(super) fn declared_env(workflow: &Workflow) -> BTreeMap<String, String> {
    workflow
        .declared_env()
        .filter_map(|name| super::env_lookup(name).map(|value| (name.to_string(), value)))
        .collect()
}

/// Options for a real run: the declared environment variables for `env.*` and the secrets to
/// mask everywhere (progress on stderr is added once the nodes are known, see
/// [`progress_renderer`]; stdout carries only the `--json` report).
fn run_options(workflow: &Workflow, inputs: Map<String, Value>, secrets: Vec<String>) -> RunOptions {
    RunOptions {
        inputs,
        env: declared_env(workflow),
        secrets,
        ..RunOptions::default()
    }
}

/// The progress renderer of a run on `backend`: its for_each lines estimate the time left with
/// the request budgets the nodes draw from.
pub(super) fn progress_renderer(
    catalog: &psaflow_core::Catalog,
    backend: &psaflow::backend::Backend,
) -> Arc<dyn psaflow_workflow::RunObserver> {
    let connections = backend.budgets();
    // Node id -> the budget of the connection its connector uses.
    let budgets: HashMap<String, Arc<dyn psaflow_core::RequestBudget>> = catalog
        .iter()
        .filter_map(|spec| {
            let connector = spec.connector.as_deref()?;
            let budget = connections
                .iter()
                .find(|(c, _)| *c == connector)?
                .1
                .clone()?;
            Some((spec.id.clone(), budget))
        })
        .collect();
    Arc::new(HumanRenderer::new().with_budgets(budgets))
}

/// Connects, runs (recording the run when there is a store), prints, and returns the exit
/// status. `existing` is the run being resumed.
async fn execute(
    cli: &Cli,
    target: Target,
    store: Option<Arc<dyn RunStore>>,
    existing: Option<RunRecord>,
    json: bool,
) -> anyhow::Result<u8> {
    let workflow = &target.workflow;
    let workflow_connection = match allowed_workflow_connection(cli, &target.file, workflow) {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    let mut secrets: Vec<String> = super::credential_values();
    if let Some(secret) = super::env_lookup(psaflow_halopsa::ENV_CLIENT_SECRET) {
        secrets.push(secret);
    }
    if let Some(config) = &workflow_connection {
        secrets.push(config.client_secret.expose().to_string());
    }
    let mut options = run_options(workflow, target.inputs.clone(), secrets);
    let redactor = options.redactor(workflow);

    // Only the connectors the workflow's nodes use are configured, started and reported.
    let connectors =
        psaflow::backend::Connectors::of_workflow(workflow, super::load_nodes(cli)?.catalog());
    let backend =
        match super::open_backend_for(cli, workflow_connection, connectors, &|_| None).await {
            Ok(backend) => backend,
            Err(code) => return Ok(code),
        };
    // Whatever variable the connection reads its secret from, the workflow must not see it.
    if let Some((name, _)) = options
        .env
        .iter()
        .find(|(_, value)| value.as_str() == backend.secret.expose())
    {
        eprintln!(
            "psaflow: {}: `env` lists {name}, which holds the connection's client secret; workflows cannot read credentials",
            target.file
        );
        return Ok(EXIT_USAGE);
    }
    redactor.add(backend.secret.expose());
    options.secrets.push(backend.secret.expose().to_string());
    say_backends(&mut options, &backend);
    let backend_label = backend.run_label();
    let user = os_user(super::env_lookup);

    // Record the run (or check the one being resumed) before anything is sent, and hold it
    // for this process until it ends (see run_hold.rs): nobody resumes it meanwhile.
    let mut run_id = None;
    let mut _held = None;
    if let Some(store) = &store {
        let id = match &existing {
            Some(run) => {
                if run.backend != backend_label && run.backend != "sandbox" {
                    eprintln!(
                        "psaflow: run {} sent its requests to {}; this resume would send them to {}. Point psaflow at the same tenant to resume it.",
                        run.id, run.backend, backend_label
                    );
                    return Ok(EXIT_USAGE);
                }
                if run.backend == "sandbox" {
                    eprintln!(
                        "psaflow: warning: run {} used an embedded sandbox, whose records ended with its process; resuming against a new one",
                        run.id
                    );
                }
                match psaflow::run_hold::hold(store.clone(), &run.id)? {
                    Ok(held) => _held = Some(held),
                    Err(refusal) => {
                        eprintln!("psaflow: {refusal}");
                        return Ok(EXIT_USAGE);
                    }
                }
                // Read again under the hold: the process that held it may have finished it.
                if let Some(now) = store.run(&run.id)?
                    && now.status.is_finished()
                {
                    eprintln!(
                        "psaflow: run {} already {}; there is nothing to resume",
                        run.id, now.status
                    );
                    return Ok(EXIT_USAGE);
                }
                store.update_run(&run.id, RunState::Running, None, None, now_ms())?;
                run.id.clone()
            }
            None => {
                let run = new_run_record(
                    new_id(),
                    workflow,
                    target.file.clone(),
                    stored_inputs(&target.inputs, &redactor),
                    user.clone(),
                    backend_label.clone(),
                );
                store.create_run(&run)?;
                match psaflow::run_hold::hold(store.clone(), &run.id)? {
                    Ok(held) => _held = Some(held),
                    // Nobody else knows the new id yet; a hold refused here is a store fault.
                    Err(refusal) => anyhow::bail!("{refusal}"),
                }
                run.id
            }
        };
        let journal = StoreJournal::open(store.clone(), &id, &user)?;
        if existing.is_some() {
            eprintln!(
                "psaflow: resuming run {id}: {} call(s) already done are taken from the journal",
                journal.finished_calls()
            );
        }
        options.journal = Some(Arc::new(journal));
        run_id = Some(id);
    }

    let runtime = super::build_runtime(cli, &backend)?;
    options.observer = Some(progress_renderer(runtime.catalog(), &backend));
    let mut report = psaflow_workflow::run(workflow, &runtime, options).await;
    report.id = run_id.clone();
    if let (Some(store), Some(id)) = (&store, &run_id) {
        record_outcome(store.as_ref(), id, &report, &report.to_json())?;
    }
    finish(&report, json)
}

/// Records the run as queued for a worker: the run row (inputs masked) and the queue row
/// (inputs as given, deleted when the run finishes). Nothing is sent from here.
fn enqueue(cli: &Cli, target: Target, store: &dyn RunStore, json: bool) -> anyhow::Result<u8> {
    let workflow = &target.workflow;
    if workflow.connection().is_some() {
        eprintln!(
            "psaflow: {}: a workflow with a `connection:` block cannot be queued; workers use their own connection",
            target.file
        );
        return Ok(EXIT_USAGE);
    }
    // Where the worker will send the requests, as `psaflow run` would decide it here.
    let choice = psaflow::backend::BackendChoice {
        connection_file: cli.connection.as_deref(),
        workflow_connection: None,
        forbid_sandbox: super::sandbox_forbidden(cli),
        connectors: Default::default(),
    };
    let backend = match psaflow::backend::resolve(&choice, super::env_lookup) {
        Ok(psaflow::backend::Target::Tenant(config)) => format!("HaloPSA at {}", config.api_url),
        Ok(psaflow::backend::Target::Sandbox | psaflow::backend::Target::NotUsed) => {
            "sandbox".to_string()
        }
        Err(err) => {
            eprintln!("psaflow: {err:#}");
            return Ok(EXIT_USAGE);
        }
    };
    let options = run_options(workflow, target.inputs.clone(), super::credential_values());
    let run = new_run_record(
        new_id(),
        workflow,
        target.file.clone(),
        stored_inputs(&target.inputs, &options.redactor(workflow)),
        os_user(super::env_lookup),
        backend,
    );
    let now = run.created_at;
    let work = psaflow_store::QueuedWork {
        run_id: run.id.clone(),
        inputs: Value::Object(target.inputs),
        connection: None,
        dry_run: false,
        lost_leases: 0,
        enqueued_at: now,
    };
    store.enqueue(&run, &work)?;
    eprintln!(
        "psaflow: run {} queued in the {} store at {}",
        run.id,
        store.kind(),
        store.location()
    );
    if json {
        println!("{}", serde_json::json!({"id": run.id, "status": "queued"}));
    } else {
        println!("{}", run.id);
    }
    Ok(0)
}

fn finish(report: &RunReport, json: bool) -> anyhow::Result<u8> {
    eprint!("{}", HumanRenderer::summary(report));
    if json {
        // Written as it is made: a large for_each's report is never held as one JSON value.
        use std::io::Write;
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        report.write_json(&mut out, true)?;
        writeln!(out)?;
        out.flush()?;
    } else {
        print!("{}", HumanRenderer::outputs(report));
    }
    Ok(match report.status {
        RunStatus::Succeeded => 0,
        RunStatus::Failed => 1,
        RunStatus::WaitingApproval => EXIT_WAITING,
    })
}

/// Continues a recorded run that was interrupted or waits for approval.
pub async fn resume(cli: &Cli, state: &StateArgs, request: &Resume) -> anyhow::Result<u8> {
    let store = match state.open() {
        Ok(store) => store,
        Err(err) => {
            eprintln!("psaflow: {err:#}");
            return Ok(EXIT_USAGE);
        }
    };
    let Some(run) = store.run(&request.run_id)? else {
        eprintln!(
            "psaflow: no run with id {} in the run store at {}",
            request.run_id,
            store.location()
        );
        return Ok(EXIT_USAGE);
    };
    if let Some(plan) = psaflow::durable::applied_plan(&run)
        && !run.status.is_finished()
    {
        // Resuming would run the workflow without the plan's limits on what it may change.
        eprintln!(
            "psaflow: run {} applied the plan {plan} and stopped; an apply is not resumed. \
             Make a new plan (`psaflow plan`): it reads what the run already changed",
            run.id
        );
        return Ok(EXIT_USAGE);
    }
    if run.status.is_finished() {
        eprintln!(
            "psaflow: run {} already {}; there is nothing to resume",
            run.id, run.status
        );
        return Ok(EXIT_USAGE);
    }
    // A queued run belongs to the workers: resuming it here as well would run it twice.
    if let Some(entry) = store
        .queue_entries()?
        .into_iter()
        .find(|e| e.work.run_id == run.id)
    {
        let place = match (&entry.lease_owner, entry.parked) {
            (Some(worker), _) => format!("is being executed by worker {worker}"),
            (None, true) => "waits for an approval in the run queue; `psaflow approve` queues it again".to_string(),
            (None, false) => "is queued; a `psaflow worker` on this store executes it".to_string(),
        };
        eprintln!("psaflow: run {} {place}", run.id);
        return Ok(EXIT_USAGE);
    }
    let workflow = match psaflow_workflow::parse(&run.workflow_source, &run.workflow_file) {
        Ok(wf) => wf,
        Err(diagnostics) => {
            eprint!("{}", super::render(&diagnostics));
            return Ok(EXIT_USAGE);
        }
    };
    if let Some(file) = &request.file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
        if sha256_hex(&text) != run.workflow_hash {
            // The run's own file edited since, or another file altogether: say which.
            let started = std::path::Path::new(&run.workflow_file);
            let same_file = file.as_path() == started
                || file
                    .canonicalize()
                    .is_ok_and(|a| started.canonicalize().is_ok_and(|b| a == b));
            if same_file {
                eprintln!(
                    "psaflow: {} changed since run {} started; a resume always runs the workflow the run started with (leave FILE out to do that)",
                    file.display(),
                    run.id
                );
            } else {
                eprintln!(
                    "psaflow: run {} was of {} (workflow '{}'), not {}; a resume always runs the workflow the run started with (leave FILE out to do that)",
                    run.id,
                    run.workflow_file,
                    run.workflow,
                    file.display()
                );
            }
            return Ok(EXIT_USAGE);
        }
    }
    let nodes = super::load_nodes(cli)?;
    if let Err(diagnostics) = psaflow_workflow::validate(&workflow, nodes.catalog()) {
        eprint!("{}", super::render(&diagnostics));
        return Ok(EXIT_USAGE);
    }
    // Stored inputs, minus the masked ones, which must be given again.
    let mut known = run.inputs.as_object().cloned().unwrap_or_default();
    for name in &run.redacted_inputs {
        known.remove(name);
    }
    for (name, _) in &request.inputs {
        if !run.redacted_inputs.contains(name) {
            eprintln!(
                "psaflow: input '{name}' is fixed by run {}; only masked inputs ({}) are given again",
                run.id,
                if run.redacted_inputs.is_empty() {
                    "none".to_string()
                } else {
                    run.redacted_inputs.join(", ")
                }
            );
            return Ok(EXIT_USAGE);
        }
    }
    let missing: Vec<&String> = run
        .redacted_inputs
        .iter()
        .filter(|n| !request.inputs.iter().any(|(k, _)| k == *n))
        .collect();
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        eprintln!(
            "psaflow: run {} stored its input(s) {} masked; give them again with --input {}=...",
            run.id,
            names.join(", "),
            names[0]
        );
        return Ok(EXIT_USAGE);
    }
    let inputs = match psaflow_workflow::resolve_inputs(&workflow, &request.inputs, Some(known)) {
        Ok(inputs) => inputs,
        Err(diagnostics) => {
            eprint!("{}", super::render(&diagnostics));
            return Ok(EXIT_USAGE);
        }
    };
    let target = Target {
        workflow,
        file: run.workflow_file.clone(),
        inputs,
    };
    execute(cli, target, Some(store), Some(run), request.json).await
}

/// The workflow's `connection:` block as settings, when the person running psaflow allowed it
/// (`--allow-workflow-connection`); `Err(exit code)` when the run must stop. Without the flag a
/// workflow with a block is refused, whatever else is configured: a contributed file must not
/// decide where the credentials and data go, and silently ignoring the block would run the
/// workflow against a tenant its author did not mean.
fn allowed_workflow_connection(
    cli: &Cli,
    file: &str,
    workflow: &Workflow,
) -> Result<Option<psaflow_halopsa::ConnectionConfig>, u8> {
    let Some(block) = workflow.connection() else {
        return Ok(None);
    };
    if !cli.allow_workflow_connection {
        eprintln!(
            "psaflow: {file}: this workflow has a `connection:` block, which would choose where your \
             credentials and data go; refusing it. Configure the connection yourself (HALOPSA_* \
             variables or --connection FILE) and remove the block, or pass \
             --allow-workflow-connection if you trust this file"
        );
        return Err(EXIT_USAGE);
    }
    if cli.connection.is_some() {
        eprintln!(
            "psaflow: {file}: --allow-workflow-connection and --connection both name a connection; use one"
        );
        return Err(EXIT_USAGE);
    }
    match workflow_connection(block, super::env_lookup) {
        Ok(config) => {
            let (api, token) = connection_hosts(&config);
            eprintln!(
                "psaflow: using the connection in {file} (--allow-workflow-connection): API requests go to {api}, the client secret goes to {token}"
            );
            Ok(Some(config))
        }
        Err(err) => {
            eprintln!("psaflow: {file}: {err:#}");
            Err(EXIT_USAGE)
        }
    }
}

/// The dry run's last lines: node calls per connector and, for a connector with a request
/// budget, the least time the budget allows for them.
fn render_estimate(
    estimate: &psaflow_workflow::CallEstimate,
    limits: &[(&str, Option<psaflow_core::RateLimit>)],
) -> String {
    if estimate.by_connector.is_empty() && estimate.unknown_steps.is_empty() {
        return String::new();
    }
    let up_to = if estimate.at_most { "up to " } else { "" };
    let mut out = String::from("\nRequests:\n");
    for (connector, calls) in &estimate.by_connector {
        let plural = if *calls == 1 { "" } else { "s" };
        out.push_str(&format!(
            "  {connector}: {up_to}{calls} node call{plural}, each at least one API request (reads of many records send one per page)"
        ));
        match limits.iter().find(|(c, _)| c == connector).and_then(|(_, l)| *l) {
            Some(limit) => {
                let least = limit.min_duration(*calls);
                if least.is_zero() {
                    out.push_str(&format!(
                        "; within the request budget of {limit}, so no waiting\n"
                    ));
                } else {
                    out.push_str(&format!(
                        "; the request budget of {limit} allows them in no less than {}\n",
                        psaflow_workflow::format_duration(least)
                    ));
                }
            }
            None => out.push_str("; no request budget is set\n"),
        }
    }
    if !estimate.unknown_steps.is_empty() {
        out.push_str(&format!(
            "  not counted: the for_each steps {} (their lists are known only when the run reads them; `psaflow plan` counts them)\n",
            estimate
                .unknown_steps
                .iter()
                .map(|s| format!("'{s}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out
}

/// What the run report says of where requests went: `"backend"` is "tenant" when any
/// connector the run uses is a tenant; `"backends"` says which.
/// The backend was opened for the workflow's connectors only, so all of its connections count.
pub(super) fn say_backends(options: &mut RunOptions, backend: &psaflow::backend::Backend) {
    psaflow::backend::say_backends(
        options,
        &backend.connections,
        &psaflow::backend::Connectors::All,
        backend.kind,
    );
}

/// Writes how a recorded run ended to the store: its state, error and `report_json` (its
/// report, perhaps with more said).
pub(super) fn record_outcome(
    store: &dyn RunStore,
    id: &str,
    report: &RunReport,
    report_json: &Value,
) -> anyhow::Result<()> {
    let state = match report.status {
        RunStatus::Succeeded => RunState::Succeeded,
        RunStatus::Failed => RunState::Failed,
        RunStatus::WaitingApproval => RunState::WaitingApproval,
    };
    let error = report.error.as_deref().map(|e| report.redactor().text(e));
    store.update_run(id, state, Some(report_json), error.as_deref(), now_ms())?;
    Ok(())
}



#[cfg(test)]
mod estimate_tests {
    use super::*;
    use psaflow_core::RateLimit;
    use std::time::Duration;

    #[test]
    fn the_estimate_gives_calls_and_the_least_time_the_budget_allows() {
        let mut estimate = psaflow_workflow::CallEstimate::default();
        estimate.by_connector.insert("halopsa".into(), 300);
        estimate.by_connector.insert("connectwise".into(), 1);
        estimate.unknown_steps.push("reassign".into());
        let limit = RateLimit {
            requests: 100,
            per: Duration::from_secs(10),
        };
        let text = render_estimate(
            &estimate,
            &[("halopsa", Some(limit)), ("connectwise", None)],
        );
        assert!(
            text.contains("halopsa: 300 node calls, each at least one API request"),
            "{text}"
        );
        assert!(
            text.contains("the request budget of 100/10s allows them in no less than 20s"),
            "{text}"
        );
        assert!(text.contains("connectwise: 1 node call, each"), "{text}");
        let small = render_estimate(&estimate, &[("halopsa", Some(RateLimit::HOSTED_HALOPSA))]);
        assert!(small.contains("within the request budget of 500/3m, so no waiting"), "{small}");
        assert!(text.contains("no request budget is set"), "{text}");
        assert!(text.contains("not counted: the for_each steps 'reassign'"), "{text}");
        estimate.at_most = true;
        assert!(render_estimate(&estimate, &[]).contains("halopsa: up to 300 node calls"));
        assert_eq!(
            render_estimate(&psaflow_workflow::CallEstimate::default(), &[]),
            ""
        );
    }
}
