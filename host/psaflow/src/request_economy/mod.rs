//! Request economy: how many API requests each example workflow sends, against the fewest its
//! steps need (`psaflow bench requests`, and the test that keeps every example at its minimum).
//!
//! A hosted PSA tenant throttles each API application, so a request not sent is time saved on
//! every run. This module runs every case of every example's test file (`examples/*.test.yaml`)
//! through the real engine, runtime and node components, each case against its own fresh
//! embedded sandboxes (HaloPSA and ConnectWise, seeded and given fixtures as the case says) over
//! real HTTP, and reads what the sandboxes received from their request logs. Cases with `mocks`
//! or `approvals` are left out: a mocked step sends nothing, so its requests cannot be judged.
//!
//! **The minimum.** Just before each node invocation the sandbox of the node's connector is asked
//! what that step needs at least, from the node, its parameters, the API's rules and the data it
//! holds at that moment (`psaflow_halopsa_sandbox::Sandbox::minimum_for`,
//! `psaflow_connectwise::sandbox::minimum::minimum_for`; their module docs give the table): a
//! get by id is one GET; a list without `pageinate` is answered whole, so one GET; a paged
//! listing needs the fewest pages of at most 100 records (ConnectWise: 1000) that hold the
//! records it delivered, at least one; a create, update, delete or deactivation one request;
//! resolving an agent's team by name one GET more (and no POST when the team does not exist); a
//! site create with its duplicate check one listing more (and no POST when a duplicate
//! exists); refused parameters nothing. The model never looks at a node's code or at what it
//! sent, so the difference between the two is what a node wastes. Retries are not in the
//! minimum: the sandboxes inject no faults here, so a retry is itself waste.
//!
//! **Tokens** are counted apart: HaloPSA needs one token per run (per connection) when the run
//! sends anything to it, ConnectWise none (Basic authentication on every request).
//!
//! The demo data never fills a page, so [`measure_scenarios`] (in `scenarios.rs`) also runs
//! single listings over a few hundred or thousand records, against the same model.

mod scenarios;

pub use scenarios::{ScenarioRequests, measure_scenarios, render_scenarios};

use anyhow::Context;
use psaflow_connectwise::sandbox::minimum as cw_minimum;
use psaflow_connectwise::sandbox::{Sandbox as CwSandbox, SandboxOptions as CwSandboxOptions};
use psaflow_core::{
    BoxFuture, CallLog, Catalog, Clock, Envelope, InputCheck, NodeInvoker, Transport, VirtualClock,
};
use psaflow_halopsa_sandbox::{Entity, Sandbox, SandboxOptions};
use psaflow_runtime::{NodeCatalog, Runtime};
use psaflow_workflow::yaml::{self, FileKind};
use psaflow_workflow::{RunEvent, RunObserver, RunOptions};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Requests to one PSA during one case: sent (from the sandbox's log) and the fewest needed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// API requests the sandbox received (token requests not included).
    pub sent: u64,
    /// The fewest API requests the steps need.
    pub minimum: u64,
    /// Token requests the sandbox received.
    pub tokens: u64,
    /// The fewest token requests: one per run that sends anything to HaloPSA.
    pub token_minimum: u64,
}

impl Counts {
    fn add(&mut self, other: Counts) {
        self.sent += other.sent;
        self.minimum += other.minimum;
        self.tokens += other.tokens;
        self.token_minimum += other.token_minimum;
    }

    /// Requests (API and token) sent beyond the minimum; negative when fewer were sent, which
    /// would mean the model asks for more than the API needs.
    pub fn over(&self) -> i64 {
        difference(self.sent + self.tokens, self.minimum + self.token_minimum)
    }
}

/// One step of a case: its invocations' requests (as the runtime saw them) and minimum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRequests {
    /// The step id.
    pub step: String,
    /// The node the step runs.
    pub node: String,
    /// Invocations (a for_each step has one per item that ran).
    pub invocations: u64,
    /// Requests the step's invocations sent through the host's transport.
    pub sent: u64,
    /// The fewest requests the step's invocations need.
    pub minimum: u64,
    /// Why the minimum is what it is (of the step's first invocation).
    pub why: String,
}

/// One case of an example's test file.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseRequests {
    /// The case's name in the test file.
    pub name: String,
    /// Whether the run ended as the test file expects (succeeded, or failed for failure cases).
    pub as_expected: bool,
    /// The run's status and error, for the detail output.
    pub outcome: String,
    /// Requests to the HaloPSA sandbox.
    pub halopsa: Counts,
    /// Requests to the ConnectWise sandbox.
    pub connectwise: Counts,
    /// Each step that invoked a node, in the order it first ran.
    pub steps: Vec<StepRequests>,
    /// Nodes the minimum model does not know (then the minimum is not complete).
    pub unmodelled: Vec<String>,
}

impl CaseRequests {
    /// Both PSAs together.
    pub fn total(&self) -> Counts {
        let mut t = self.halopsa;
        t.add(self.connectwise);
        t
    }
}

/// One example workflow and its measured cases.
#[derive(Debug, Clone, PartialEq)]
pub struct ExampleRequests {
    /// The workflow file name, e.g. `agent-joiner.yaml`.
    pub workflow: String,
    /// The cases measured.
    pub cases: Vec<CaseRequests>,
    /// Cases not measured, with the reason.
    pub left_out: Vec<(String, String)>,
}

impl ExampleRequests {
    /// Every measured case together.
    pub fn total(&self) -> Counts {
        let mut t = Counts::default();
        for c in &self.cases {
            t.add(c.total());
        }
        t
    }
}

const TEST_FILE: FileKind = FileKind {
    empty: "the test file is empty",
    empty_help: "a test file needs `workflow:` and `cases:`",
    syntax_help: |_, _| None,
};

/// Runs every case of every `*.test.yaml` in `dir` (not recursive) and measures its requests.
/// `nodes` are the node components to run (the built-in ones, or `--nodes` folders too).
pub async fn measure_examples(
    dir: &Path,
    nodes: Arc<NodeCatalog>,
) -> anyhow::Result<Vec<ExampleRequests>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading the examples folder {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(".test.yaml") || n.ends_with(".test.yml"))
        })
        .collect();
    files.sort();
    anyhow::ensure!(
        !files.is_empty(),
        "no *.test.yaml files in {}",
        dir.display()
    );
    let mut out = Vec::new();
    for file in files {
        out.push(measure_file(&file, &nodes).await?);
    }
    // A workflow without a test file has no inputs to run it with: listed, so it is not
    // silently missing from the numbers.
    let mut untested: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| {
            (n.ends_with(".yaml") || n.ends_with(".yml"))
                && !n.contains(".test.")
                && !out.iter().any(|e| &e.workflow == n)
        })
        .collect();
    untested.sort();
    for workflow in untested {
        out.push(ExampleRequests {
            workflow,
            cases: Vec::new(),
            left_out: vec![("(all)".into(), "no test file to take inputs from".into())],
        });
    }
    Ok(out)
}

async fn measure_file(file: &Path, nodes: &Arc<NodeCatalog>) -> anyhow::Result<ExampleRequests> {
    let source: Arc<str> = std::fs::read_to_string(file)
        .with_context(|| format!("reading {}", file.display()))?
        .into();
    let spec = yaml::parse(&source, &file.display().to_string(), &TEST_FILE)
        .map_err(|d| anyhow::anyhow!("{}: {}", file.display(), d.message))?
        .to_json();
    let base = file.parent().unwrap_or(Path::new("."));
    let workflow_name = spec["workflow"]
        .as_str()
        .with_context(|| format!("{}: no `workflow:`", file.display()))?;
    let workflow_path = base.join(workflow_name);
    let workflow = psaflow_workflow::load(&workflow_path)
        .map_err(|d| anyhow::anyhow!("{}: {}", workflow_path.display(), d.render(false)))?;
    psaflow_workflow::validate(&workflow, nodes.catalog())
        .map_err(|d| anyhow::anyhow!("{}: {}", workflow_path.display(), d.render(false)))?;
    let mut example = ExampleRequests {
        workflow: workflow_name.to_string(),
        cases: Vec::new(),
        left_out: Vec::new(),
    };
    for case in spec["cases"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
        let name = case["name"].as_str().unwrap_or("(unnamed)").to_string();
        let reason = if !case["skip"].is_null() && case["skip"] != false {
            Some("skipped in the test file")
        } else if !case["mocks"].is_null() {
            Some("mocked steps send nothing")
        } else if !case["approvals"].is_null() {
            Some("decides approvals")
        } else {
            None
        };
        if let Some(reason) = reason {
            example.left_out.push((name, reason.to_string()));
            continue;
        }
        let measured = measure_case(&workflow, base, case, nodes)
            .await
            .with_context(|| format!("{} case {name:?}", file.display()))?;
        example.cases.push(CaseRequests { name, ..measured });
    }
    Ok(example)
}

/// Remembers which step is running, as the engine announces them.
#[derive(Default)]
struct StepTracker(Mutex<Option<String>>);

impl RunObserver for StepTracker {
    fn event(&self, event: &RunEvent) {
        if let RunEvent::StepStarted { id, .. } = event {
            *self.0.lock().unwrap() = Some(id.clone());
        }
    }
}

enum Pending {
    HaloPsa(psaflow_halopsa_sandbox::Pending),
    ConnectWise(cw_minimum::Pending),
}

/// One invocation as measured.
struct Measured {
    step: String,
    node: String,
    /// Requests it sent through the host's transport.
    sent: u64,
    minimum: u64,
    why: String,
    /// Whether the node is a HaloPSA node (else ConnectWise or unknown).
    halopsa: bool,
}

/// Runs the real runtime and records, per invocation, what it sent and what it needed.
struct Measuring<'a> {
    runtime: &'a Runtime,
    halopsa: &'a Sandbox,
    steps: &'a StepTracker,
    calls: Mutex<Vec<Measured>>,
    unmodelled: Mutex<Vec<String>>,
}

impl Measuring<'_> {
    fn pending(&self, node: &str, params: &Map<String, Value>) -> Option<Pending> {
        match node.split('.').next() {
            Some(psaflow_halopsa::CONNECTOR) => {
                self.halopsa.minimum_for(node, params).map(Pending::HaloPsa)
            }
            Some(psaflow_connectwise::CONNECTOR) => {
                cw_minimum::minimum_for(node, params).map(Pending::ConnectWise)
            }
            _ => None,
        }
    }
}

impl NodeInvoker for Measuring<'_> {
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
            let step = self.steps.0.lock().unwrap().clone().unwrap_or_default();
            let pending = self.pending(node, &params);
            let envelope =
                NodeInvoker::invoke_recorded(self.runtime, node, params, calls.clone()).await;
            let sent = calls.calls().len() as u64;
            let (minimum, why, halo) = match pending {
                Some(Pending::HaloPsa(p)) => {
                    let m = p.finish(envelope.status_code, &envelope.output);
                    (m.requests, m.why, true)
                }
                Some(Pending::ConnectWise(p)) => {
                    let m = p.finish(envelope.status_code, &envelope.output);
                    (m.requests, m.why, false)
                }
                None => {
                    let mut unmodelled = self.unmodelled.lock().unwrap();
                    if !unmodelled.iter().any(|n| n == node) {
                        unmodelled.push(node.to_string());
                    }
                    (0, "no model for this node".to_string(), false)
                }
            };
            self.calls.lock().unwrap().push(Measured {
                step,
                node: node.to_string(),
                sent,
                minimum,
                why,
                halopsa: halo,
            });
            envelope
        })
    }

    fn check<'a>(
        &'a self,
        node: &'a str,
        params: Map<String, Value>,
    ) -> BoxFuture<'a, Option<InputCheck>> {
        NodeInvoker::check(self.runtime, node, params)
    }
}

/// Starts the case's sandboxes, runs the workflow and reads the sandboxes' request logs.
async fn measure_case(
    workflow: &psaflow_workflow::Workflow,
    base: &Path,
    case: &Value,
    nodes: &Arc<NodeCatalog>,
) -> anyhow::Result<CaseRequests> {
    let inputs = case["inputs"].as_object().cloned().unwrap_or_default();
    let inputs = psaflow_workflow::resolve_inputs_in(workflow, &[], Some(inputs), base)
        .map_err(|d| anyhow::anyhow!("the inputs do not fit: {}", d.render(false)))?;
    // `sandbox: false` is a sandbox without the demo data; `{seed, fixtures}` as written.
    let sandbox_spec = &case["sandbox"];
    let seed = match sandbox_spec {
        Value::Bool(b) => *b,
        Value::Object(o) => o.get("seed").and_then(Value::as_bool).unwrap_or(true),
        _ => true,
    };
    // The HaloPSA connection exactly as `psaflow run` makes it when no tenant is configured.
    let backend = crate::backend::start_sandbox(SandboxOptions {
        seed,
        ..SandboxOptions::default()
    })
    .await?;
    let halopsa = backend
        .sandbox
        .as_ref()
        .context("the sandbox backend has a sandbox")?;
    for fixture in sandbox_spec["fixtures"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
    {
        let entity_name = fixture["entity"].as_str().unwrap_or_default();
        let entity = Entity::from_name(entity_name)
            .with_context(|| format!("fixture entity {entity_name:?} is not a HaloPSA entity"))?;
        halopsa.insert(entity, fixture["record"].clone());
    }
    let connectwise = CwSandbox::start(CwSandboxOptions::default()).await?;
    // Virtual time, as `psaflow test` runs cases: a retry wait would cost nothing here.
    let clock = Arc::new(VirtualClock::new());
    let connectwise_client = psaflow_connectwise::ConnectWiseClient::new(
        psaflow_connectwise::sandbox_config(&connectwise),
        psaflow_connectwise::ClientOptions {
            clock: clock.clone() as Arc<dyn Clock>,
            ..psaflow_connectwise::ClientOptions::default()
        },
    )?;
    let runtime = Runtime::builder()
        .nodes(nodes.clone())
        .connection(psaflow_halopsa::CONNECTOR, backend.transport.clone())
        .connection(
            psaflow_connectwise::CONNECTOR,
            Arc::new(connectwise_client) as Arc<dyn Transport>,
        )
        .build()?;
    let steps = Arc::new(StepTracker::default());
    let measuring = Measuring {
        runtime: &runtime,
        halopsa,
        steps: &steps,
        calls: Mutex::new(Vec::new()),
        unmodelled: Mutex::new(Vec::new()),
    };
    // What `${{ env.X }}` reads, as `psaflow test` gives it: the case's env and secrets.
    let text_map = |key: &str| -> Vec<(String, String)> {
        case[key]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                )
            })
            .collect()
    };
    let secrets = text_map("secrets");
    let options = RunOptions {
        inputs,
        env: text_map("env").into_iter().chain(secrets.clone()).collect(),
        secrets: secrets.into_iter().map(|(_, v)| v).collect(),
        clock,
        observer: Some(steps.clone()),
        backend: Some("sandbox".into()),
        ..RunOptions::default()
    };
    let report = psaflow_workflow::run(workflow, &measuring, options).await;
    let expect_failure = case["expect"]["status"].as_str() == Some("failed");
    let as_expected = report.succeeded() != expect_failure;
    let outcome = match &report.error {
        Some(error) => format!("{}: {error}", report.status.as_str()),
        None => report.status.as_str().to_string(),
    };

    let calls = measuring.calls.into_inner().unwrap();
    let minimum_of = |halo: bool| {
        calls
            .iter()
            .filter(|c| c.halopsa == halo)
            .map(|c| c.minimum)
            .sum::<u64>()
    };
    let halopsa_log = halopsa.requests();
    let is_token = |path: &str| {
        let p = path.to_ascii_lowercase();
        p == "/token" || p.starts_with("/auth/")
    };
    let halopsa_minimum = minimum_of(true);
    let halopsa_counts = Counts {
        sent: halopsa_log.iter().filter(|r| !is_token(&r.path)).count() as u64,
        minimum: halopsa_minimum,
        tokens: halopsa_log.iter().filter(|r| is_token(&r.path)).count() as u64,
        token_minimum: u64::from(halopsa_minimum > 0),
    };
    let connectwise_counts = Counts {
        sent: connectwise.requests().len() as u64,
        minimum: minimum_of(false),
        tokens: 0,
        token_minimum: 0,
    };
    let mut steps_out: Vec<StepRequests> = Vec::new();
    for Measured {
        step,
        node,
        sent,
        minimum,
        why,
        ..
    } in calls
    {
        match steps_out
            .iter_mut()
            .find(|s| s.step == step && s.node == node)
        {
            Some(s) => {
                s.invocations += 1;
                s.sent += sent;
                s.minimum += minimum;
            }
            None => steps_out.push(StepRequests {
                step,
                node,
                invocations: 1,
                sent,
                minimum,
                why,
            }),
        }
    }
    Ok(CaseRequests {
        name: String::new(),
        as_expected,
        outcome,
        halopsa: halopsa_counts,
        connectwise: connectwise_counts,
        steps: steps_out,
        unmodelled: measuring.unmodelled.into_inner().unwrap(),
    })
}

/// The table `psaflow bench requests` prints; with `detail`, every case and step too.
pub fn render(examples: &[ExampleRequests], detail: bool) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  {:<36} {:>5} {:>6} {:>8} {:>5}   {:<12}",
        "example (cases measured)", "cases", "sent", "minimum", "over", "tokens (min)"
    );
    let mut all = Counts::default();
    let mut cases = 0;
    for example in examples {
        let t = example.total();
        all.add(t);
        cases += example.cases.len();
        let _ = writeln!(
            out,
            "  {:<36} {:>5} {:>6} {:>8} {:>5}   {} ({})",
            example.workflow,
            example.cases.len(),
            t.sent,
            t.minimum,
            signed(difference(t.sent, t.minimum)),
            t.tokens,
            t.token_minimum
        );
        for case in &example.cases {
            let c = case.total();
            let flag = if case.as_expected {
                ""
            } else {
                "  NOT AS THE TEST EXPECTS"
            };
            if detail || !case.as_expected || c.over() != 0 || !case.unmodelled.is_empty() {
                let _ = writeln!(
                    out,
                    "      case {:?}: sent {} (+{} tokens), minimum {} (+{}); {}{flag}",
                    case.name, c.sent, c.tokens, c.minimum, c.token_minimum, case.outcome
                );
                for node in &case.unmodelled {
                    let _ = writeln!(out, "        no minimum model for {node}");
                }
                for s in &case.steps {
                    if detail || s.sent != s.minimum {
                        let _ = writeln!(
                            out,
                            "        {:<16} {:<30} x{:<3} sent {:>3}  minimum {:>3}  ({})",
                            s.step, s.node, s.invocations, s.sent, s.minimum, s.why
                        );
                    }
                }
            }
        }
        for (name, reason) in &example.left_out {
            if detail {
                let _ = writeln!(out, "      case {name:?} left out: {reason}");
            }
        }
    }
    let _ = writeln!(
        out,
        "  {:<36} {:>5} {:>6} {:>8} {:>5}   {} ({})",
        "all examples",
        cases,
        all.sent,
        all.minimum,
        signed(difference(all.sent, all.minimum)),
        all.tokens,
        all.token_minimum
    );
    out
}

/// `a - b`, saturating at the ends of i64.
fn difference(a: u64, b: u64) -> i64 {
    if a >= b {
        i64::try_from(a - b).unwrap_or(i64::MAX)
    } else {
        i64::try_from(b - a).map_or(i64::MIN, |d| -d)
    }
}

fn signed(n: i64) -> String {
    if n > 0 {
        format!("+{n}")
    } else {
        n.to_string()
    }
}
