//! The node catalog (`GET /v1/nodes`, `GET /v1/nodes/{node}` with the parameters' JSON
//! Schema) and single invocations (`POST /v1/nodes/{node}/invoke`), as `psaflow nodes` and
//! `psaflow invoke` do them.
use super::app::AppState;
use super::auth::Caller;
use super::error::{ApiError, JsonBody};
use super::tokens::Scope;
use axum::Json;
use axum::extract::{Path, Query, State};
use psaflow_core::names::did_you_mean;
use psaflow_core::{NodeSpec, ParamSpec, ParamType};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use utoipa::IntoParams;

/// A node as `psaflow nodes --json` shows it, with `destructive` spelled out.
fn spec_json(spec: &NodeSpec) -> Value {
    let mut value = serde_json::to_value(spec).unwrap_or(Value::Null);
    value["destructive"] = spec.is_destructive().into();
    value
}

/// JSON Schema (2020-12) of the parameters object `invoke` takes.
pub fn params_schema(spec: &NodeSpec) -> Value {
    let props: Map<String, Value> = spec
        .params
        .iter()
        .map(|p| {
            let mut schema = param_schema(p);
            if let Value::Object(m) = &mut schema
                && !p.description.is_empty()
            {
                m.insert("description".into(), json!(p.description));
            }
            (p.name.clone(), schema)
        })
        .collect();
    let required: Vec<&str> = spec
        .params
        .iter()
        .filter(|p| p.required)
        .map(|p| p.name.as_str())
        .collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": format!("Parameters of {}", spec.id),
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": false
    })
}

/// A parameter's JSON Schema, with integer bounds a client can trust: written as exact
/// integers (the catalog writes floats, and 2^63-1 as a float is 2^63, past the largest s64),
/// and at least 1 for a parameter its node documents as "a positive integer" (the record ids
/// every get, update and delete takes), since the node refuses anything less.
fn param_schema(p: &ParamSpec) -> Value {
    let mut schema = p.ty.json_schema();
    if let ParamType::Integer { signed, bits } = p.ty {
        let (min, max): (i128, i128) = if signed {
            (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
        } else {
            (0, (1i128 << bits) - 1)
        };
        let min = if p.description.contains("a positive integer") {
            1
        } else {
            min
        };
        schema["minimum"] = exact(min);
        schema["maximum"] = exact(max);
    }
    schema
}

/// An integer bound as a JSON integer (every s64 and u64 bound fits one of the two).
fn exact(n: i128) -> Value {
    i64::try_from(n)
        .map(Value::from)
        .or_else(|_| u64::try_from(n).map(Value::from))
        .unwrap_or(Value::Null)
}

fn find<'a>(state: &'a AppState, node: &str) -> Result<&'a NodeSpec, ApiError> {
    let catalog = state.runtime.catalog();
    catalog.get(node).ok_or_else(|| {
        ApiError::not_found(format!(
            "unknown node {node}{}; GET /v1/nodes lists them",
            did_you_mean(node, catalog.ids())
        ))
    })
}

#[utoipa::path(get, path = "/v1/nodes", operation_id = "listNodes", tag = "nodes",
    responses((status = 200, description = "every node: id, description, parameters, effect, idempotency, natural key, calls, destructive", body = Vec<Object>)),
    security(("bearer" = [])))]
/// The node catalog.
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Vec<Value>>, ApiError> {
    caller.require(Scope::Read)?;
    Ok(Json(
        state.runtime.catalog().iter().map(spec_json).collect(),
    ))
}

#[utoipa::path(get, path = "/v1/nodes/{node}", operation_id = "getNode", tag = "nodes",
    params(("node" = String, Path, description = "a node id from GET /v1/nodes")),
    responses((status = 200, description = "the node, with `schema`: the JSON Schema of its parameters", body = Object),
              (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
/// One node, with the JSON Schema of its parameters.
pub async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(node): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::Read)?;
    let spec = find(&state, &node)?;
    let mut value = spec_json(spec);
    value["schema"] = params_schema(spec);
    Ok(Json(value))
}

/// Options of an invocation.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InvokeQuery {
    /// Needed for a node that deletes or deactivates records (declared effect).
    #[serde(default)]
    pub confirm: Option<bool>,
    /// The connection to send through, by name (`--connections`); default: the server's.
    #[serde(default)]
    pub connection: Option<String>,
}

#[utoipa::path(post, path = "/v1/nodes/{node}/invoke", operation_id = "invokeNode", tag = "nodes",
    params(("node" = String, Path, description = "a node id from GET /v1/nodes"), InvokeQuery),
    request_body(content = Object, description = "the parameters, e.g. {\"Id\": 7}"),
    responses((status = 200, description = "the envelope (StatusCode, OriginalStatusCode, ErrorMessage, the output) plus \"backend\", whatever its StatusCode: -1 when a parameter is missing, unknown or of the wrong type (nothing sent), 200 when the request completed (ErrorMessage says what the PSA refused), 500 when it failed on the way", body = Object),
              (status = 400, body = super::error::ErrorBody, description = "the body is not a JSON object"),
              (status = 404, body = super::error::ErrorBody),
              (status = 409, body = super::error::ErrorBody, description = "a destructive node without ?confirm=true")),
    security(("bearer" = [])))]
/// Runs one node with these parameters, as `psaflow invoke` does, and answers its envelope.
/// A change (any effect but read) is written to the audit trail with the token's name.
pub async fn invoke(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(node): Path<String>,
    Query(query): Query<InvokeQuery>,
    params: Result<JsonBody<Value>, ApiError>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::Invoke)?;
    let JsonBody(params) = params?;
    let spec = find(&state, &node)?;
    let Value::Object(params) = params else {
        return Err(ApiError::bad_request(
            "the body must be the parameters as a JSON object, e.g. {\"Id\": 7}",
        ));
    };
    // A parameter the node does not have is the node's answer, as for `psaflow invoke
    // --input`: an envelope with StatusCode -1 naming it (nothing is sent).
    if spec.is_destructive_with(&params) && query.confirm != Some(true) {
        let effect = spec.effect_of(&params);
        let why = if effect == spec.effect {
            "its declared effect".to_string()
        } else {
            let given = spec
                .param_effects
                .iter()
                .filter(|p| p.effect == effect && p.is_given(&params))
                .map(|p| p.condition())
                .collect::<Vec<_>>()
                .join(", ");
            format!("as the node declares for {given}")
        };
        return Err(ApiError::conflict(format!(
            "{node} {effect}s records ({why}); repeat with ?confirm=true to do it"
        )));
    }
    let connection = state
        .connections
        .get(query.connection.as_deref())
        .map_err(ApiError::bad_request)?;
    let changes = psaflow::invoke_audit::is_change(spec);
    let shown_params = Value::Object(params.clone());
    let started = std::time::Instant::now();
    let envelope = connection.runtime.invoke(&node, params.clone()).await;
    metrics::histogram!("psaflow_node_invoke_duration_seconds", "node" => node.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!("psaflow_node_invocations_total", "node" => node.clone(), "status_code" => envelope.status_code.to_string())
        .increment(1);
    let mut secrets = state.secrets.clone();
    secrets.extend(connection.secrets.iter().cloned());
    let redactor = psaflow_workflow::Redactor::new(secrets);
    let mut json = redactor.value(&envelope.to_json());
    if changes {
        let entry = psaflow::invoke_audit::entry(
            caller.name(),
            spec,
            redactor.value(&shown_params),
            &envelope,
            &json,
            "POST /v1/nodes/{node}/invoke",
        );
        let store = state.store.clone();
        super::runs::blocking(move || store.append_audit(&entry)).await?;
    }
    if let Value::Object(map) = &mut json {
        map.insert("backend".into(), json!(connection.kind.as_str()));
    }
    Ok(Json(json))
}
