//! The request-economy rules on data large enough to page, which the examples' demo data is
//! not: each scenario fills a fresh sandbox, runs one node once and compares the API requests the
//! sandbox received with the same minimum model the examples are judged by.

use psaflow_connectwise::sandbox::minimum as cw_minimum;
use psaflow_connectwise::sandbox::{
    Entity as CwEntity, Sandbox as CwSandbox, SandboxOptions as CwSandboxOptions,
};
use psaflow_core::{Envelope, NodeInvoker, Transport};
use psaflow_halopsa_sandbox::{Entity, SandboxOptions};
use psaflow_runtime::{NodeCatalog, Runtime};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// One node call on a large list: what it sent and the fewest it needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioRequests {
    /// The node and its parameters, as a reader would write them.
    pub call: String,
    /// Records the call delivered.
    pub records: usize,
    /// API requests the sandbox received (token requests not included).
    pub sent: u64,
    /// The fewest the call needs.
    pub minimum: u64,
    /// What the scenario shows.
    pub note: &'static str,
}

/// The records of a get-many output (`{"<plural>": [...], ...}`).
fn listed(output: &Value) -> usize {
    output
        .as_object()
        .and_then(|o| o.values().find_map(Value::as_array))
        .map_or(0, Vec::len)
}

fn params(value: &Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

/// HaloPSA: 250 agents beside the demo ones, listed in several ways.
async fn halopsa(nodes: &Arc<NodeCatalog>) -> anyhow::Result<Vec<ScenarioRequests>> {
    let backend = crate::backend::start_sandbox(SandboxOptions::default()).await?;
    let sandbox = backend
        .sandbox
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("the sandbox backend has no sandbox"))?;
    for n in 0..250 {
        sandbox.insert(
            Entity::Agent,
            json!({"name": format!("Bulk Agent {n}"), "email": format!("bulk{n}@msp.example"),
                   "isactive": true, "isdisabled": false}),
        );
    }
    let runtime = Runtime::builder()
        .nodes(nodes.clone())
        .connection(psaflow_halopsa::CONNECTOR, backend.transport.clone())
        .build()?;
    let node = "halopsa.agent.get-many";
    let calls: [(Value, &'static str); 5] = [
        (
            json!({"PageSize": 250}),
            "a page larger than the cap: pages of 100, the rest in one",
        ),
        (
            json!({"PageSize": 250, "PageNo": 2}),
            "the few records left: one request, no empty page",
        ),
        (
            json!({"PageSize": 30, "PageNo": 4}),
            "records 90-119: one page of 30, not two of 100",
        ),
        (
            json!({"Count": 150, "PageSize": 150}),
            "Count inside a large page",
        ),
        (
            json!({"Paginate": false}),
            "everything: one request without pageinate",
        ),
    ];
    let mut out = Vec::new();
    for (p, note) in calls {
        let pending = sandbox
            .minimum_for(node, &params(&p))
            .ok_or_else(|| anyhow::anyhow!("no minimum model for {node}"))?;
        sandbox.clear_requests();
        let api_requests = || {
            sandbox
                .requests()
                .iter()
                .filter(|r| r.path.to_ascii_lowercase().starts_with("/api/"))
                .count() as u64
        };
        out.push(
            measure(&runtime, node, &p, note, api_requests, |envelope| {
                pending.finish(envelope.status_code, &envelope.output).requests
            })
            .await?,
        );
    }
    Ok(out)
}

/// ConnectWise: member lists ending on a full page, and on a page of the user's size.
async fn connectwise(nodes: &Arc<NodeCatalog>) -> anyhow::Result<Vec<ScenarioRequests>> {
    // (active members wanted, parameters, note); the demo data has 4 active members.
    let cases: [(usize, Value, &'static str); 3] = [
        (
            2000,
            json!({}),
            "two full pages: the Link header says the second is the last",
        ),
        (
            50,
            json!({"PageSize": 25}),
            "the user's pages of 25, the last one full",
        ),
        (
            1000,
            json!({}),
            "one full page without a Link header: asked once more, not to lose records",
        ),
    ];
    let node = "connectwise.member.get-many";
    let mut out = Vec::new();
    for (members, p, note) in cases {
        let sandbox = CwSandbox::start(CwSandboxOptions::default()).await?;
        for i in 0..members.saturating_sub(4) {
            sandbox.insert(
                CwEntity::Member,
                json!({"identifier": format!("bulk{i:05}"), "firstName": "Bulk", "lastName": format!("{i}"),
                       "licenseClass": "F", "officeEmail": format!("b{i}@msp.example"),
                       "securityRole": {"id": 2}, "defaultLocation": {"id": 1}, "defaultDepartment": {"id": 1}}),
            );
        }
        let client = psaflow_connectwise::ConnectWiseClient::new(
            psaflow_connectwise::sandbox_config(&sandbox),
            psaflow_connectwise::ClientOptions::default(),
        )?;
        let runtime = Runtime::builder()
            .nodes(nodes.clone())
            .connection(
                psaflow_connectwise::CONNECTOR,
                Arc::new(client) as Arc<dyn Transport>,
            )
            .build()?;
        let pending = cw_minimum::minimum_for(node, &params(&p))
            .ok_or_else(|| anyhow::anyhow!("no minimum model for {node}"))?;
        sandbox.clear_requests();
        let all_requests = || sandbox.requests().len() as u64;
        out.push(
            measure(&runtime, node, &p, note, all_requests, |envelope| {
                pending.finish(envelope.status_code, &envelope.output).requests
            })
            .await?,
        );
    }
    Ok(out)
}

/// Runs `node` once with `p` and compares the API requests the sandbox received (`sent`, read
/// after the call) with the minimum model's count for the envelope the node gave.
async fn measure(
    runtime: &Runtime,
    node: &str,
    p: &Value,
    note: &'static str,
    sent: impl FnOnce() -> u64,
    minimum: impl FnOnce(&Envelope) -> u64,
) -> anyhow::Result<ScenarioRequests> {
    let envelope = NodeInvoker::invoke(runtime, node, params(p)).await;
    anyhow::ensure!(
        envelope.status_code == 200,
        "{node} {p} failed: {}",
        envelope.to_json()
    );
    Ok(ScenarioRequests {
        call: format!("{node} {p}"),
        records: listed(&envelope.output),
        sent: sent(),
        minimum: minimum(&envelope),
        note,
    })
}

/// Runs every scenario.
pub async fn measure_scenarios(nodes: Arc<NodeCatalog>) -> anyhow::Result<Vec<ScenarioRequests>> {
    let mut out = halopsa(&nodes).await?;
    out.extend(connectwise(&nodes).await?);
    Ok(out)
}

/// The scenarios' table.
pub fn render_scenarios(scenarios: &[ScenarioRequests]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  {:<58} {:>7} {:>5} {:>8} {:>5}",
        "one call on a large list", "records", "sent", "minimum", "over"
    );
    for s in scenarios {
        let _ = writeln!(
            out,
            "  {:<58} {:>7} {:>5} {:>8} {:>5}\n      {}",
            s.call,
            s.records,
            s.sent,
            s.minimum,
            super::signed(super::difference(s.sent, s.minimum)),
            s.note
        );
    }
    out
}
