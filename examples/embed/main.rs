//! Embedding psaflow in a host program: load the built-in nodes, give them a transport of your
//! own (here an in-memory HaloPSA stand-in; a platform would pass its proxy, or
//! `psaflow::halopsa::HaloClient` with credentials from its own vault), and run a workflow
//! written as a string.
//!
//!     cargo run -p psaflow --example embed
//!
//! `cargo test -p psaflow --example embed` runs it as a test.

use psaflow::core::{ApiRequest, ApiResponse, BoxFuture, Method, Transport, TransportError};
use psaflow::workflow::{RunOptions, RunReport};
use serde_json::{Map, Value, json};
use std::sync::{Arc, Mutex};

/// The workflow, as a platform might store it in its own database.
const WORKFLOW: &str = r#"
name: rename-client
inputs:
  client_id: { type: integer, required: true }
  new_name: { type: string, required: true }
steps:
  - id: before
    node: halopsa.client.get
    with:
      Id: ${{ inputs.client_id }}
  - id: rename
    node: halopsa.client.update
    if: ${{ steps.before.Client.name != inputs.new_name }}
    with:
      Id: ${{ inputs.client_id }}
      Name: ${{ inputs.new_name }}
outputs:
  old_name: ${{ steps.before.Client.name }}
  renamed: ${{ steps.rename is not none }}
"#;

/// A HaloPSA stand-in holding clients in memory. Components never see it: they call the
/// host's transport import, and the runtime hands each request (already checked against the
/// node's declared capabilities) to this `send`.
#[derive(Default)]
struct InMemoryHalo {
    clients: Mutex<Map<String, Value>>,
    /// Every request, as "METHOD /path", for the host's own log.
    seen: Mutex<Vec<String>>,
}

impl Transport for InMemoryHalo {
    fn send(&self, request: ApiRequest) -> BoxFuture<'_, Result<ApiResponse, TransportError>> {
        Box::pin(async move {
            let method = request.method.to_string();
            self.seen.lock().unwrap().push(format!("{method} {}", request.path));
            let mut clients = self.clients.lock().unwrap();
            let answer = |status: u16, body: Value| ApiResponse::new(status, body.to_string());
            Ok(match (request.method, request.path.as_str()) {
                (Method::Get, path) if path.starts_with("/Client/") => {
                    match clients.get(&path["/Client/".len()..]) {
                        Some(client) => answer(200, client.clone()),
                        None => answer(404, json!({"message": "not found"})),
                    }
                }
                // HaloPSA takes a list of records to create or update.
                (Method::Post, "/Client") => {
                    let body: Value = serde_json::from_str(request.body.as_deref().unwrap_or("[]"))
                        .unwrap_or(Value::Null);
                    let Some(Value::Object(change)) = body.get(0).cloned() else {
                        return Ok(answer(400, json!({"message": "a list of clients was expected"})));
                    };
                    let id = change.get("id").map(Value::to_string).unwrap_or_default();
                    let Some(Value::Object(client)) = clients.get_mut(&id) else {
                        return Ok(answer(400, json!({"message": "unknown client"})));
                    };
                    client.extend(change);
                    answer(201, Value::Object(client.clone()))
                }
                _ => answer(404, json!({"message": "not served here"})),
            })
        })
    }
}

/// Loads the nodes, connects them to `transport` and runs [`WORKFLOW`] with `inputs`.
async fn run(transport: Arc<InMemoryHalo>, inputs: Value) -> anyhow::Result<RunReport> {
    // Compiles and describes the built-in node components (cached on disk after the first time).
    let nodes = Arc::new(psaflow::runtime::NodeCatalog::builder().load()?);
    let runtime = psaflow::Runtime::builder()
        .nodes(nodes)
        .connection(psaflow::halopsa::CONNECTOR, transport)
        .build()?;
    let workflow = psaflow::workflow::parse(WORKFLOW, "rename-client.yaml")
        .map_err(|d| anyhow::anyhow!("{d}"))?;
    psaflow::workflow::validate(&workflow, runtime.catalog()).map_err(|d| anyhow::anyhow!("{d}"))?;
    let Value::Object(inputs) = inputs else {
        anyhow::bail!("inputs must be an object");
    };
    let options = RunOptions {
        inputs,
        ..RunOptions::default()
    };
    Ok(psaflow::workflow::run(&workflow, &runtime, options).await)
}

fn stand_in() -> Arc<InMemoryHalo> {
    let halo = InMemoryHalo::default();
    halo.clients
        .lock()
        .unwrap()
        .insert("7".into(), json!({"id": 7, "name": "Initech"}));
    Arc::new(halo)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let halo = stand_in();
    let report = run(halo.clone(), json!({"client_id": 7, "new_name": "Initrode"})).await?;
    println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    println!("requests: {:?}", halo.seen.lock().unwrap());
    anyhow::ensure!(report.succeeded(), "the run failed");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_embedded_run_renames_through_the_hosts_own_transport() {
        let halo = stand_in();
        let report = run(halo.clone(), json!({"client_id": 7, "new_name": "Initrode"}))
            .await
            .unwrap();
        assert!(report.succeeded(), "{}", report.to_json());
        assert_eq!(report.outputs["old_name"], "Initech");
        assert_eq!(report.outputs["renamed"], true);
        assert_eq!(halo.clients.lock().unwrap()["7"]["name"], "Initrode");

        // The second time there is nothing to do: only the read is sent.
        halo.seen.lock().unwrap().clear();
        let again = run(halo.clone(), json!({"client_id": 7, "new_name": "Initrode"}))
            .await
            .unwrap();
        assert_eq!(again.outputs["renamed"], false);
        let seen = halo.seen.lock().unwrap().clone();
        assert!(seen.iter().all(|r| r.starts_with("GET ")), "{seen:?}");
    }
}
