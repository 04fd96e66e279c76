//! What a test case runs its workflow against: mocked steps answer from the test file,
//! every other step runs the real node component through the real runtime against the case's
//! own sandbox. Every call, mocked or real, is recorded for `calls:` assertions and the trace.
//!
//! The workflow engine asks an invoker to run a *node*; mocks are written per *step*. Steps
//! run one after another, and the engine announces each (`RunEvent::StepStarted`) before it
//! calls the node, so the case's [`Tracker`] (the run's observer) knows which step is calling.
use psaflow_workflow::expr::text as expr;
use crate::spec::{MockResponse, SandboxSpec};
use psaflow_core::{
    BoxFuture, CallLog, Catalog, Clock, Envelope, NodeInvoker, Transport, VirtualClock,
};
use psaflow_halopsa::{ClientOptions, ConnectionConfig, HaloClient, Secret};
use psaflow_halopsa_sandbox::{Sandbox, SandboxOptions};
use psaflow_workflow::{RunEvent, RunObserver};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// Builds the node runtime for one case, given the transport to that case's sandbox. The
/// `psaflow` command passes one that honours `--nodes`; [`crate::TestOptions::default`] builds
/// the built-in nodes with the default compile cache.
pub type RuntimeFactory =
    Arc<dyn Fn(Arc<dyn Transport>) -> anyhow::Result<Arc<dyn NodeInvoker>> + Send + Sync>;

/// One node invocation made during a case.
#[derive(Debug, Clone)]
pub struct Call {
    /// The step that made it (`None` only if the engine called outside a step).
    pub step: Option<String>,
    /// The node id.
    pub node: String,
    /// The parameters it was called with.
    pub params: Map<String, Value>,
    /// What it returned (or the mock's envelope).
    pub envelope: Envelope,
    /// Answered by a mock; the node did not run.
    pub mocked: bool,
}

impl Call {
    /// `{step, node, params, envelope, mocked}`, as `calls` reads in expressions.
    pub fn to_json(&self) -> Value {
        json!({
            "step": self.step,
            "node": self.node,
            "params": self.params,
            "envelope": self.envelope.to_json(),
            "mocked": self.mocked,
        })
    }
}

/// The run's observer: remembers the current step and the events (for the trace).
#[derive(Default)]
pub struct Tracker {
    current: Mutex<Option<String>>,
    events: Mutex<Vec<RunEvent>>,
}

impl Tracker {
    pub fn current(&self) -> Option<String> {
        self.current.lock().unwrap().clone()
    }
    pub fn events(&self) -> Vec<RunEvent> {
        self.events.lock().unwrap().clone()
    }
}

impl RunObserver for Tracker {
    fn event(&self, event: &RunEvent) {
        if let RunEvent::StepStarted { id, .. } = event {
            *self.current.lock().unwrap() = Some(id.clone());
        }
        self.events.lock().unwrap().push(event.clone());
    }
}

/// The sandbox and runtime of one case, started when first needed.
pub struct CaseBackend {
    spec: SandboxSpec,
    factory: RuntimeFactory,
    clock: Arc<VirtualClock>,
    sandbox: OnceCell<Result<Sandbox, String>>,
    runtime: OnceCell<Result<Arc<dyn NodeInvoker>, String>>,
}

impl CaseBackend {
    pub fn new(spec: SandboxSpec, factory: RuntimeFactory, clock: Arc<VirtualClock>) -> Self {
        CaseBackend {
            spec,
            factory,
            clock,
            sandbox: OnceCell::new(),
            runtime: OnceCell::new(),
        }
    }

    /// The case's sandbox: started, seeded (unless `seed: false`) and given its fixtures on first use.
    pub async fn sandbox(&self) -> Result<&Sandbox, String> {
        let started = self
            .sandbox
            .get_or_init(|| async {
                let options = SandboxOptions {
                    seed: self.spec.seed,
                    ..SandboxOptions::default()
                };
                let sandbox = Sandbox::start(options)
                    .await
                    .map_err(|e| format!("the sandbox did not start: {e}"))?;
                for f in &self.spec.fixtures {
                    sandbox.insert(f.entity, f.record.clone());
                }
                Ok(sandbox)
            })
            .await;
        started.as_ref().map_err(Clone::clone)
    }

    /// The node runtime, connected to the case's sandbox over real HTTP and OAuth.
    pub async fn runtime(&self) -> Result<Arc<dyn NodeInvoker>, String> {
        let built = self
            .runtime
            .get_or_init(|| async {
                let sandbox = self.sandbox().await?;
                let config = ConnectionConfig {
                    api_url: sandbox
                        .api_url()
                        .parse()
                        .map_err(|e| format!("sandbox URL: {e}"))?,
                    auth_url: sandbox
                        .auth_url()
                        .parse()
                        .map_err(|e| format!("sandbox URL: {e}"))?,
                    tenant: None,
                    client_id: sandbox.client_id().to_string(),
                    client_secret: Secret::new(sandbox.client_secret().to_string()),
                    scope: "all".into(),
                    rate_limit: None,
                };
                // The case's clock: the transport's own 429/503 backoff is virtual too.
                let clock: Arc<dyn Clock> = self.clock.clone();
                let options = ClientOptions {
                    clock,
                    ..ClientOptions::default()
                };
                let client = HaloClient::new(config, options)
                    .map_err(|e| format!("the sandbox client: {e}"))?;
                let transport: Arc<dyn Transport> = Arc::new(client);
                let factory = self.factory.clone();
                // Building a runtime reads every component; keep that off the async workers.
                tokio::task::spawn_blocking(move || factory(transport))
                    .await
                    .map_err(|e| format!("the node runtime could not be built: {e}"))?
                    .map_err(|e| format!("the node runtime could not be built: {e:#}"))
            })
            .await;
        built.clone()
    }
}

/// The invoker a case's workflow runs against.
pub struct CaseInvoker {
    catalog: Arc<Catalog>,
    /// By step id or node id.
    mocks: HashMap<String, Vec<MockResponse>>,
    used: Mutex<HashMap<String, usize>>,
    tracker: Arc<Tracker>,
    clock: Arc<VirtualClock>,
    backend: Arc<CaseBackend>,
    calls: Mutex<Vec<Call>>,
    /// Problems of the test itself (a mock expression failed, the runtime did not start).
    problems: Mutex<Vec<String>>,
}

impl CaseInvoker {
    pub fn new(
        catalog: Arc<Catalog>,
        mocks: HashMap<String, Vec<MockResponse>>,
        tracker: Arc<Tracker>,
        clock: Arc<VirtualClock>,
        backend: Arc<CaseBackend>,
    ) -> Self {
        CaseInvoker {
            catalog,
            mocks,
            used: Mutex::new(HashMap::new()),
            tracker,
            clock,
            backend,
            calls: Mutex::new(Vec::new()),
            problems: Mutex::new(Vec::new()),
        }
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    pub fn problems(&self) -> Vec<String> {
        self.problems.lock().unwrap().clone()
    }

    fn problem(&self, text: String) {
        let mut problems = self.problems.lock().unwrap();
        if !problems.contains(&text) {
            problems.push(text);
        }
    }

    /// The mock for this call: the step's own, else the node's. Returns the key, the answer and
    /// the 1-based number of this use of the mock.
    fn mock_for(&self, step: Option<&str>, node: &str) -> Option<(String, MockResponse, usize)> {
        let key = step
            .filter(|s| self.mocks.contains_key(*s))
            .or(Some(node).filter(|n| self.mocks.contains_key(*n)))?;
        let responses = &self.mocks[key];
        let mut used = self.used.lock().unwrap();
        let n = used.entry(key.to_string()).or_insert(0);
        *n += 1;
        let answer = responses[(*n - 1).min(responses.len() - 1)].clone();
        Some((key.to_string(), answer, *n))
    }

    async fn answer(
        &self,
        node: &str,
        params: Map<String, Value>,
        calls: CallLog,
    ) -> (Envelope, bool) {
        let step = self.tracker.current();
        let spec = self.catalog.get(node);
        let fallback_output = spec.map(|s| s.output_key.clone()).unwrap_or_default();
        if let Some((key, mock, n)) = self.mock_for(step.as_deref(), node) {
            if let Some(delay) = mock.delay {
                self.clock.sleep(delay).await;
            }
            let context = json!({"params": params, "call": n, "step": step, "node": node});
            let value = match expr::eval_value(&mock.envelope, &context) {
                Ok(v) => v,
                Err(err) => {
                    let text = format!("the mock for '{key}' (line {}): {err}", mock.pos.line);
                    self.problem(text.clone());
                    return (Envelope::system(fallback_output, text), true);
                }
            };
            let envelope = match Envelope::from_json(&value) {
                Ok(mut e) => {
                    if e.output_name.is_empty() {
                        e.output_name = fallback_output;
                    }
                    e
                }
                Err(err) => {
                    let text = format!(
                        "the mock for '{key}' (line {}) is not an envelope: {err}",
                        mock.pos.line
                    );
                    self.problem(text.clone());
                    Envelope::system(fallback_output, text)
                }
            };
            return (envelope, true);
        }
        match self.backend.runtime().await {
            Ok(runtime) => (runtime.invoke_recorded(node, params, calls).await, false),
            Err(err) => {
                self.problem(err.clone());
                (Envelope::system(fallback_output, err), false)
            }
        }
    }
}

impl NodeInvoker for CaseInvoker {
    fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    fn invoke_recorded<'a>(
        &'a self,
        node: &'a str,
        params: Map<String, Value>,
        calls: CallLog,
    ) -> BoxFuture<'a, Envelope> {
        Box::pin(async move {
            let step = self.tracker.current();
            let (envelope, mocked) = self.answer(node, params.clone(), calls).await;
            self.calls.lock().unwrap().push(Call {
                step,
                node: node.to_string(),
                params,
                envelope: envelope.clone(),
                mocked,
            });
            envelope
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use psaflow_core::{NodeSpec, ParamSpec, ParamType};
    use psaflow_workflow::Pos;
    use std::time::Duration;

    fn spec(id: &str) -> NodeSpec {
        let mut parts = id.split('.').skip(1);
        NodeSpec {
            id: id.into(),
            resource: parts.next().unwrap().into(),
            operation: parts.next().unwrap().into(),
            description: String::new(),
            source: "built-in".into(),
            params: vec![ParamSpec {
                name: "Name".into(),
                wit_name: "name".into(),
                ty: ParamType::String,
                required: true,
                description: String::new(),
            }],
            output_key: "Client".into(),
            ..NodeSpec::default()
        }
    }

    fn response(envelope: Value, delay: Option<Duration>) -> MockResponse {
        MockResponse {
            envelope,
            delay,
            pos: Pos::none(),
        }
    }

    fn invoker(
        mocks: Vec<(&str, Vec<MockResponse>)>,
    ) -> (CaseInvoker, Arc<Tracker>, Arc<VirtualClock>) {
        let mut catalog = Catalog::new();
        catalog.insert(spec("halopsa.client.create"));
        let tracker = Arc::new(Tracker::default());
        let clock = Arc::new(VirtualClock::new());
        let factory: RuntimeFactory = Arc::new(|_| anyhow::bail!("no runtime in unit tests"));
        let backend = Arc::new(CaseBackend::new(
            SandboxSpec::default(),
            factory,
            clock.clone(),
        ));
        let mocks = mocks.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        (
            CaseInvoker::new(
                Arc::new(catalog),
                mocks,
                tracker.clone(),
                clock.clone(),
                backend,
            ),
            tracker,
            clock,
        )
    }

    fn started(tracker: &Tracker, id: &str) {
        tracker.event(&RunEvent::StepStarted {
            id: id.into(),
            name: id.into(),
            node: "halopsa.client.create".into(),
            items: None,
            destructive: false,
        });
    }

    #[tokio::test]
    async fn sequences_answer_per_call_and_the_last_repeats() {
        let (inv, tracker, _) = invoker(vec![(
            "flaky",
            vec![
                response(json!({"StatusCode": 500, "ErrorMessage": "boom"}), None),
                response(json!({"Client": {"id": 7}}), None),
            ],
        )]);
        started(&tracker, "flaky");
        let codes: Vec<i32> = [
            inv.invoke("halopsa.client.create", Map::new()).await,
            inv.invoke("halopsa.client.create", Map::new()).await,
            inv.invoke("halopsa.client.create", Map::new()).await,
        ]
        .iter()
        .map(|e| e.status_code)
        .collect();
        assert_eq!(codes, [500, 200, 200]);
        let calls = inv.calls();
        assert_eq!(calls.len(), 3);
        assert!(
            calls
                .iter()
                .all(|c| c.mocked && c.step.as_deref() == Some("flaky"))
        );
        // The output key a mock leaves out is the node's.
        assert_eq!(
            calls[0].envelope.to_json(),
            json!({"StatusCode": 500, "OriginalStatusCode": 0, "ErrorMessage": "boom", "Client": {}})
        );
    }

    #[tokio::test]
    async fn mocks_advance_virtual_time_and_can_echo_parameters() {
        let (inv, tracker, clock) = invoker(vec![(
            "halopsa.client.create",
            vec![response(
                json!({"Client": {"name": "${{ params.Name }}", "n": "${{ call }}"}}),
                Some(Duration::from_secs(10)),
            )],
        )]);
        started(&tracker, "any_step");
        let mut params = Map::new();
        params.insert("Name".into(), json!("Contoso"));
        let env = inv.invoke("halopsa.client.create", params).await;
        assert_eq!(env.output, json!({"name": "Contoso", "n": 1}));
        assert_eq!(clock.sleeps(), vec![Duration::from_secs(10)]);
    }

    #[tokio::test]
    async fn unmocked_calls_report_a_runtime_that_cannot_start() {
        let (inv, tracker, _) = invoker(vec![]);
        started(&tracker, "client");
        let env = inv.invoke("halopsa.client.create", Map::new()).await;
        assert_eq!(env.status_code, 500);
        assert!(
            inv.problems()[0].contains("no runtime in unit tests"),
            "{:?}",
            inv.problems()
        );
        assert!(!inv.calls()[0].mocked);
    }
}
