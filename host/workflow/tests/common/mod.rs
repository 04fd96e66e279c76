//! A fake node invoker with a small catalog: scripted envelopes per node, every call
//! recorded, and in-flight calls counted (for concurrency checks).
#![allow(dead_code)]
use psaflow_core::{
    Effect,
    BoxFuture, Catalog, Clock, Envelope, NodeInvoker, NodeSpec, ParamSpec, ParamType, VirtualClock,
};
use psaflow_workflow::{RunOptions, RunReport, Workflow};
use serde_json::{Map, Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn param(name: &str, ty: ParamType, required: bool) -> ParamSpec {
    ParamSpec {
        name: name.into(),
        wit_name: psaflow_core::names::pascal_to_kebab(name),
        ty,
        required,
        description: String::new(),
    }
}

/// A node as its `describe` would declare it: the effect and output key are given, never
/// derived from the id.
fn node(id: &str, effect: Effect, output_key: &str, params: Vec<ParamSpec>) -> NodeSpec {
    let mut parts = id.split('.').skip(1);
    NodeSpec {
        id: id.into(),
        resource: parts.next().unwrap().into(),
        operation: parts.next().unwrap().into(),
        source: "built-in".into(),
        params,
        connector: Some("halopsa".into()),
        output_key: output_key.into(),
        effect,
        idempotent: effect != Effect::Create,
        ..NodeSpec::default()
    }
}

pub fn catalog() -> Catalog {
    let int = || ParamType::Integer {
        signed: false,
        bits: 32,
    };
    let mut c = Catalog::new();
    c.insert(node(
        "halopsa.client.create",
        Effect::Create,
        "Client",
        vec![
            param("Name", ParamType::String, true),
            param("Inactive", ParamType::Bool, false),
            param("Notes", ParamType::String, false),
        ],
    ));
    c.insert(node(
        "halopsa.client.get",
        Effect::Read,
        "Client",
        vec![param("Id", int(), true)],
    ));
    // An update that deactivates when given Inactive: true, as it declares.
    let mut client_update = node(
        "halopsa.client.update",
        Effect::Update,
        "Client",
        vec![
            param("Id", int(), true),
            param("Name", ParamType::String, false),
            param("Inactive", ParamType::Bool, false),
        ],
    );
    client_update.param_effects = vec![psaflow_core::ParamEffect {
        param: "Inactive".into(),
        equals: Value::Bool(true),
        effect: Effect::Deactivate,
    }];
    c.insert(client_update);
    c.insert(node(
        "halopsa.site.create",
        Effect::Create,
        "Site",
        vec![
            param("Name", ParamType::String, true),
            param("SiteClientId", int(), true),
        ],
    ));
    c.insert(node(
        "halopsa.user.create",
        Effect::Create,
        "User",
        vec![
            param("Name", ParamType::String, true),
            param("Password", ParamType::String, false),
            param("Emailaddress", ParamType::String, false),
        ],
    ));
    c.insert(node(
        "halopsa.user.delete",
        Effect::Delete,
        "DeletedUser",
        vec![param("Id", int(), true)],
    ));
    // A node of a kind the engine has no name for: only its declared effect makes it a
    // deactivation.
    c.insert(node(
        "connectwise.member.deactivate",
        Effect::Deactivate,
        "Member",
        vec![param("Id", int(), true)],
    ));
    c.insert(node(
        "halopsa.ticket.update",
        Effect::Update,
        "Ticket",
        vec![param("Id", int(), true), param("AgentId", int(), false)],
    ));
    c.insert(node(
        "halopsa.ticket.get-many",
        Effect::Read,
        "Tickets",
        vec![param("ClientId", int(), false)],
    ));
    c
}

pub fn ok(output_name: &str, output: Value) -> Envelope {
    Envelope {
        status_code: 200,
        original_status_code: 200,
        error_message: String::new(),
        output_name: output_name.into(),
        output,
    }
}

pub fn system_error(message: &str) -> Envelope {
    Envelope::system("Client", message)
}

pub fn business_error(message: &str) -> Envelope {
    let mut e = Envelope::system("Client", message);
    e.status_code = 200;
    e.original_status_code = 404;
    e
}

type YieldCount = Box<dyn Fn(&Map<String, Value>) -> usize + Send + Sync>;
type Responder = Box<dyn Fn(&str, &Map<String, Value>) -> Envelope + Send + Sync>;

pub struct Fake {
    catalog: Catalog,
    scripts: Mutex<HashMap<String, VecDeque<Envelope>>>,
    responder: Option<Responder>,
    pub calls: Mutex<Vec<(String, Map<String, Value>)>>,
    in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    /// Each call yields this many times (per item id, if `Id` is given: yields = f(Id)).
    yields: Option<YieldCount>,
    /// Each call advances this virtual clock by this much.
    virtual_delay: Option<(Arc<VirtualClock>, Duration)>,
}

impl Fake {
    pub fn new() -> Self {
        Fake {
            catalog: catalog(),
            scripts: Mutex::new(HashMap::new()),
            responder: None,
            calls: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            yields: None,
            virtual_delay: None,
        }
    }

    /// The next calls of `node` return these envelopes, in order; afterwards the default.
    pub fn script(self, node: &str, envs: Vec<Envelope>) -> Self {
        self.scripts
            .lock()
            .unwrap()
            .entry(node.to_string())
            .or_default()
            .extend(envs);
        self
    }

    pub fn respond(
        mut self,
        f: impl Fn(&str, &Map<String, Value>) -> Envelope + Send + Sync + 'static,
    ) -> Self {
        self.responder = Some(Box::new(f));
        self
    }

    pub fn yields(
        mut self,
        f: impl Fn(&Map<String, Value>) -> usize + Send + Sync + 'static,
    ) -> Self {
        self.yields = Some(Box::new(f));
        self
    }

    pub fn virtual_delay(mut self, clock: Arc<VirtualClock>, d: Duration) -> Self {
        self.virtual_delay = Some((clock, d));
        self
    }

    pub fn calls(&self) -> Vec<(String, Map<String, Value>)> {
        self.calls.lock().unwrap().clone()
    }

    pub fn calls_of(&self, node: &str) -> Vec<Map<String, Value>> {
        self.calls()
            .into_iter()
            .filter(|(n, _)| n == node)
            .map(|(_, p)| p)
            .collect()
    }

    /// A plausible success for each node, echoing parameters.
    fn default_envelope(&self, node: &str, params: &Map<String, Value>, n: usize) -> Envelope {
        let id = params.get("Id").cloned().unwrap_or(json!(100 + n));
        match node {
            "halopsa.client.create" | "halopsa.client.get" | "halopsa.client.update" => ok(
                "Client",
                json!({"id": id, "name": params.get("Name").cloned().unwrap_or(json!("Acme"))}),
            ),
            "halopsa.site.create" => ok(
                "Site",
                json!({"id": 500 + n, "client_id": params.get("SiteClientId")}),
            ),
            "halopsa.user.create" => ok("User", json!({"id": 700 + n, "name": params.get("Name")})),
            "halopsa.user.delete" => ok("DeletedUser", json!({"id": id, "deleted": true})),
            "halopsa.ticket.update" => ok("Ticket", json!({"id": id})),
            "halopsa.ticket.get-many" => ok(
                "Tickets",
                json!({"tickets": [{"id": 1, "agent_id": 4}, {"id": 2, "agent_id": 5}, {"id": 3, "agent_id": 4}], "record_count": 3}),
            ),
            _ => ok("", json!({})),
        }
    }
}

impl NodeInvoker for Fake {
    fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    fn invoke_recorded<'a>(
        &'a self,
        node: &'a str,
        params: Map<String, Value>,
        _calls: psaflow_core::CallLog,
    ) -> BoxFuture<'a, Envelope> {
        Box::pin(async move {
            let n = {
                let mut calls = self.calls.lock().unwrap();
                calls.push((node.to_string(), params.clone()));
                calls.len()
            };
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_in_flight.fetch_max(now, Ordering::SeqCst);
            if let Some(y) = &self.yields {
                for _ in 0..y(&params) {
                    tokio::task::yield_now().await;
                }
            }
            if let Some((clock, d)) = &self.virtual_delay {
                clock.sleep(*d).await;
            }
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            let scripted = self
                .scripts
                .lock()
                .unwrap()
                .get_mut(node)
                .and_then(VecDeque::pop_front);
            if let Some(env) = scripted {
                return env;
            }
            if let Some(r) = &self.responder {
                return r(node, &params);
            }
            self.default_envelope(node, &params, n)
        })
    }
}

pub fn parse(yaml: &str) -> Workflow {
    psaflow_workflow::parse(yaml, "wf.yaml").unwrap_or_else(|d| panic!("parse failed:\n{d}"))
}

pub fn options(clock: Arc<VirtualClock>, inputs: Value) -> RunOptions {
    RunOptions {
        inputs: inputs.as_object().cloned().unwrap_or_default(),
        clock,
        ..RunOptions::default()
    }
}

pub async fn run(yaml: &str, fake: &Fake, inputs: Value) -> (RunReport, Arc<VirtualClock>) {
    let wf = parse(yaml);
    let clock = Arc::new(VirtualClock::new());
    let report = psaflow_workflow::run(&wf, fake, options(clock.clone(), inputs)).await;
    (report, clock)
}
