//! HTTP front: case-insensitive dispatch, the fault pipeline, bearer checks and request recording.
//!
//! axum's router matches paths case-sensitively while Halo does not, so every request goes to one
//! fallback handler that lowercases the path and dispatches itself.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::faults::{AgentQuirk, UserDeleteQuirk};
use crate::model::{Entity, Rejection};
use crate::store::ListQuery;
use crate::{RecordedRequest, Shared, auth, clock, lock, rules};

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

/// Where a request goes, decided on the lowercased path.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    Token,
    AuthInfo,
    Resource { entity: Entity, id: Option<String> },
    UnknownApi,
    Unknown,
}

impl Route {
    fn parse(path: &str) -> Route {
        let segments: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_ascii_lowercase)
            .collect();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        match segments.as_slice() {
            ["auth", "token"] | ["token"] => Route::Token,
            ["api", "authinfo"] => Route::AuthInfo,
            ["api", resource, rest @ ..] if rest.len() <= 1 => match Entity::from_segment(resource)
            {
                Some(entity) => Route::Resource {
                    entity,
                    id: rest.first().map(|s| s.to_string()),
                },
                None => Route::UnknownApi,
            },
            ["api", ..] => Route::UnknownApi,
            _ => Route::Unknown,
        }
    }
}

/// Unwinding out of a handler makes hyper drop the connection without writing a response;
/// `resume_unwind` skips the panic hook, so nothing is printed.
fn drop_connection() -> ! {
    std::panic::resume_unwind(Box::new("connection dropped on purpose"))
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if shared.stopped.load(Ordering::SeqCst) {
        drop_connection();
    }
    let route = Route::parse(uri.path());
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let mut recorded = RecordedRequest {
        method: method.as_str().to_owned(),
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or_default().to_owned(),
        had_auth: headers.contains_key(header::AUTHORIZATION),
        status: 0,
        body: None,
    };

    let response = match route {
        Route::Token => token_endpoint(
            &shared,
            &method,
            uri.query().unwrap_or_default(),
            &body,
            authorization,
        ),
        Route::AuthInfo if method == Method::GET => json_response(
            StatusCode::OK,
            json!({
                "auth_url": format!("{}/auth", shared.base_url),
                "tenant_id": shared.tenant.clone().unwrap_or_default(),
            }),
        ),
        Route::AuthInfo => method_not_allowed(),
        Route::Resource { .. } | Route::UnknownApi => {
            if !body.is_empty() {
                recorded.body = Some(String::from_utf8_lossy(&body).into_owned());
            }
            let latency = shared.faults.latency();
            if !latency.is_zero() {
                shared.latency_clock.wait(latency).await;
            }
            if shared.faults.take_drop(method != Method::GET) {
                shared.record(recorded);
                drop_connection();
            }
            let scope = token_scope(&shared, authorization);
            let missing = match (&route, &scope) {
                (Route::Resource { entity, .. }, Some(granted)) => {
                    auth::missing_scope(granted, *entity, method != Method::GET)
                }
                _ => None,
            };
            if let Some(retry_after) = shared.faults.take_throttle() {
                forced_response(429, Some(retry_after))
            } else if let Some(forced) = shared.faults.take_forced_status(method != Method::GET) {
                forced_response(forced.status, forced.retry_after)
            } else if scope.is_none() {
                unauthorized()
            } else if rules::api_agent_disabled(&lock(&shared.store)) {
                // Tokens issued before the API agent was deactivated stop working with it.
                unauthorized_because(
                    "The access token belongs to an API application whose agent is inactive.",
                )
            } else if let Some(needed) = missing {
                message(
                    StatusCode::FORBIDDEN,
                    &format!("The API application's token does not have the {needed} scope."),
                )
            } else {
                let answer = match route {
                    Route::Resource { entity, id } => resource(
                        &shared,
                        entity,
                        id.as_deref(),
                        &method,
                        uri.query().unwrap_or_default(),
                        &body,
                    ),
                    _ => not_found("The requested resource does not exist."),
                };
                if method != Method::GET {
                    shared.persist();
                }
                if method != Method::GET && shared.faults.take_drop_after_commit() {
                    // The change is made; the client never hears of it (recorded with status 0,
                    // like every request that got no answer).
                    shared.record(recorded);
                    drop_connection();
                }
                answer
            }
        }
        Route::Unknown => not_found("The requested resource does not exist."),
    };

    recorded.status = response.status().as_u16();
    shared.record(recorded);
    response
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn message(status: StatusCode, text: &str) -> Response {
    json_response(status, json!({ "message": text }))
}

fn not_found(text: &str) -> Response {
    message(StatusCode::NOT_FOUND, text)
}

fn method_not_allowed() -> Response {
    message(
        StatusCode::METHOD_NOT_ALLOWED,
        "The requested method is not supported for this resource.",
    )
}

fn rejection(rejection: Rejection) -> Response {
    let status = rejection.status();
    match rejection {
        Rejection::Fields(fields) => json_response(status, Value::Object(fields)),
        Rejection::Message(_, text) => message(status, &text),
        Rejection::Body(_, body) => json_response(status, body),
        Rejection::Text(_, text) => (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            text,
        )
            .into_response(),
    }
}

fn token_endpoint(
    shared: &Shared,
    method: &Method,
    query: &str,
    body: &[u8],
    authorization: Option<&str>,
) -> Response {
    if method != Method::POST {
        return method_not_allowed();
    }
    let (status, body) = auth::token(
        shared,
        auth::TokenRequest {
            query,
            body,
            authorization,
        },
    );
    let mut response = json_response(status, body);
    // Token responses must not be cached (RFC 6749 §5.1).
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The scope of the request's bearer token; `None` when it has no valid token.
fn token_scope(shared: &Shared, authorization: Option<&str>) -> Option<String> {
    let token = auth::bearer(authorization)?;
    lock(&shared.tokens)
        .scope(token, shared.faults.token_epoch())
        .map(str::to_owned)
}

fn unauthorized() -> Response {
    unauthorized_because("The access token is missing, invalid or expired.")
}

/// A 401 `invalid_token` with `description`.
fn unauthorized_because(description: &str) -> Response {
    let mut response = json_response(
        StatusCode::UNAUTHORIZED,
        json!({
            "error": "invalid_token",
            "error_description": description,
        }),
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    response
}

fn forced_response(status: u16, retry_after: Option<u64>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let text = match status {
        StatusCode::TOO_MANY_REQUESTS => "Too many requests. Please slow down and retry later.",
        _ => status.canonical_reason().unwrap_or("Error"),
    };
    let mut response = message(status, text);
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn resource(
    shared: &Shared,
    entity: Entity,
    id: Option<&str>,
    method: &Method,
    query: &str,
    body: &[u8],
) -> Response {
    match (method, id) {
        (&Method::GET, None) => list(shared, entity, query),
        (&Method::GET, Some(id)) => match parse_id(entity, id) {
            Some(id) => match lock(&shared.store).fetch(entity, id) {
                Ok(mut record) => {
                    agent_status_fields(shared, entity, &mut record);
                    json_response(StatusCode::OK, record)
                }
                Err(err) => rejection(err),
            },
            None => not_found(&format!("{} {id} not found.", entity.label())),
        },
        (&Method::POST, None) => save(shared, entity, body),
        (&Method::DELETE, Some(id)) => match parse_id(entity, id) {
            Some(id) => delete(shared, entity, id),
            None => not_found(&format!("{} {id} not found.", entity.label())),
        },
        _ => method_not_allowed(),
    }
}

/// `/api/Agent/me` is the agent the token acts as: the API agent.
fn parse_id(entity: Entity, id: &str) -> Option<i64> {
    if entity == Entity::Agent && id == "me" {
        return Some(rules::API_AGENT_ID);
    }
    id.parse().ok()
}

fn list(shared: &Shared, entity: Entity, query: &str) -> Response {
    let mut pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    // `type`/`domain` are the teams' (reqs, opps, prjs); other lists take values of their own
    // there (clients use `/Status?type=ticket`), which the sandbox does not filter on.
    if entity != Entity::Team {
        pairs.retain(|(k, _)| !k.eq_ignore_ascii_case("type") && !k.eq_ignore_ascii_case("domain"));
    }
    match ListQuery::parse(&pairs) {
        // Halo lists actions one ticket at a time (HaloAPI's Get-HaloAction requires TicketID).
        Ok(q) if entity == Entity::Action && q.ticket_id.is_none() => rejection(Rejection::field(
            "ticket_id",
            "The ticket_id field is required.",
        )),
        Ok(q) => {
            let mut body = lock(&shared.store).list(entity, &q);
            let items = match &mut body {
                Value::Array(items) => Some(items),
                Value::Object(map) => entity
                    .list_key()
                    .and_then(|k| map.get_mut(k))
                    .and_then(Value::as_array_mut),
                _ => None,
            };
            for item in items.into_iter().flatten() {
                agent_status_fields(shared, entity, item);
            }
            json_response(StatusCode::OK, body)
        }
        Err(err) => rejection(err),
    }
}

fn save(shared: &Shared, entity: Entity, body: &[u8]) -> Response {
    let parsed: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(err) => {
            return message(
                StatusCode::BAD_REQUEST,
                &format!("The request body is not valid JSON: {err}."),
            );
        }
    };
    let Value::Array(mut items) = parsed else {
        return message(
            StatusCode::BAD_REQUEST,
            &format!(
                "The request body must be a JSON array of {} objects.",
                entity.label()
            ),
        );
    };
    if items.is_empty() {
        return message(
            StatusCode::BAD_REQUEST,
            "The request body must contain at least one object.",
        );
    }
    let creates = items.iter().any(|item| {
        item.get("id")
            .and_then(crate::model::id_value)
            .is_none_or(|id| id == 0 || id == -1)
    });
    let quirk = shared.faults.agent();
    if entity == Entity::Agent && quirk == AgentQuirk::IgnoresDeactivation {
        for item in &mut items {
            if let Value::Object(map) = item {
                map.remove("isactive");
                map.remove("isdisabled");
            }
        }
    }
    let result = lock(&shared.store).save(entity, items, &clock::now());
    match result {
        Ok(mut saved) => {
            for record in &mut saved {
                agent_status_fields(shared, entity, record);
                if entity == Entity::Agent && quirk == AgentQuirk::SparseSaveAnswer {
                    *record = json!({"id": record["id"].clone(), "name": record["name"].clone()});
                }
            }
            let status = if creates {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            // One object in, one object out; several in, an array out.
            let body = if saved.len() == 1 {
                saved.remove(0)
            } else {
                Value::Array(saved)
            };
            json_response(status, body)
        }
        Err(err) => rejection(err),
    }
}

/// Drops the agent status field this install does not have (see [`AgentQuirk`]).
fn agent_status_fields(shared: &Shared, entity: Entity, record: &mut Value) {
    if entity != Entity::Agent {
        return;
    }
    let Value::Object(map) = record else {
        return;
    };
    match shared.faults.agent() {
        AgentQuirk::IsActiveOnly => {
            map.remove("isdisabled");
        }
        AgentQuirk::IsDisabledOnly => {
            map.remove("isactive");
        }
        _ => {}
    }
}

fn delete(shared: &Shared, entity: Entity, id: i64) -> Response {
    let quirk = if entity == Entity::User {
        shared.faults.user_delete()
    } else {
        UserDeleteQuirk::Off
    };
    let mut store = lock(&shared.store);
    if quirk != UserDeleteQuirk::Off && store.get(entity, id).is_some() {
        if quirk == UserDeleteQuirk::Error500EmptyBodyButDeleted {
            // Users have nothing hanging off them, so this delete cannot be refused.
            let _ = store.delete(entity, id, &clock::now());
        }
        return (StatusCode::INTERNAL_SERVER_ERROR, Body::empty()).into_response();
    }
    match store.delete(entity, id, &clock::now()) {
        Ok(deleted) => json_response(StatusCode::OK, deleted),
        Err(err) => rejection(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_ignore_case_and_trailing_slashes() {
        assert_eq!(Route::parse("/AUTH/Token"), Route::Token);
        assert_eq!(Route::parse("/token"), Route::Token);
        assert_eq!(Route::parse("/api/AuthInfo"), Route::AuthInfo);
        assert_eq!(
            Route::parse("/api/tickets/"),
            Route::Resource {
                entity: Entity::Ticket,
                id: None
            }
        );
        assert_eq!(
            Route::parse("/Api/CLIENT/12"),
            Route::Resource {
                entity: Entity::Client,
                id: Some("12".to_owned())
            }
        );
        assert_eq!(Route::parse("/api/Client/12/extra"), Route::UnknownApi);
        assert_eq!(Route::parse("/api/Invoice"), Route::UnknownApi);
        assert_eq!(Route::parse("/favicon.ico"), Route::Unknown);
    }
}
