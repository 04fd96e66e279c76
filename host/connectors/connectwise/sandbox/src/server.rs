//! HTTP front: routing below `/v4_6_release/apis/3.0` (case-insensitive, as ConnectWise's IIS
//! is), the fault pipeline, Basic auth and `clientId` checks, paging headers and recording.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};

use crate::errors::ApiError;
use crate::store::{Entity, ListQuery};
use crate::{RecordedRequest, Shared, clock, lock, members, tickets};

/// The REST base below the server root, as in `https://api-na.myconnectwise.net/v4_6_release/apis/3.0`.
pub(crate) const API_BASE: &str = "/v4_6_release/apis/3.0";
/// The version the sandbox reports in `api-current-version`.
const CURRENT_VERSION: &str = "2025.1";

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

#[derive(Debug, PartialEq, Eq)]
enum Route {
    CompanyInfo,
    List(Entity),
    Count(Entity),
    Item(Entity, String),
    /// `POST /system/members/{id}/deactivate`.
    Deactivate(String),
    UnknownApi,
    Unknown,
}

impl Route {
    fn parse(path: &str) -> Route {
        let lower = path.to_ascii_lowercase();
        let segments: Vec<&str> = lower.split('/').filter(|s| !s.is_empty()).collect();
        let base: Vec<&str> = API_BASE.split('/').filter(|s| !s.is_empty()).collect();
        if segments.len() == 3 && segments[..2] == ["login", "companyinfo"] {
            return Route::CompanyInfo;
        }
        let Some(rest) = segments.strip_prefix(base.as_slice()) else {
            return Route::Unknown;
        };
        match Entity::from_segments(rest) {
            None => Route::UnknownApi,
            Some((entity, tail)) => match tail {
                [] => Route::List(entity),
                ["count"] => Route::Count(entity),
                [id] => Route::Item(entity, (*id).to_owned()),
                [id, "deactivate"] if entity == Entity::Member => {
                    Route::Deactivate((*id).to_owned())
                }
                _ => Route::UnknownApi,
            },
        }
    }
}

/// Unwinding out of a handler makes hyper drop the connection without an answer;
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
    let header_text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let mut recorded = RecordedRequest {
        method: method.as_str().to_owned(),
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or_default().to_owned(),
        accept: header_text("accept"),
        client_id: header_text("clientid"),
        authenticated: false,
        status: 0,
        body: (!body.is_empty()).then(|| String::from_utf8_lossy(&body).into_owned()),
    };
    let route = Route::parse(uri.path());
    if route == Route::Unknown {
        let response = error(&ApiError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            "Not found.",
        ));
        recorded.status = response.status().as_u16();
        lock(&shared.log).push(recorded);
        return response;
    }
    if route == Route::CompanyInfo {
        // Codebase discovery answers without credentials, as ConnectWise's does.
        recorded.status = 200;
        lock(&shared.log).push(recorded);
        return json_response(
            StatusCode::OK,
            json!({
                "CompanyName": "psaflow sandbox",
                "Codebase": "v4_6_release/",
                "VersionCode": format!("v{CURRENT_VERSION}"),
                "VersionNumber": CURRENT_VERSION,
                "CompanyID": shared.company_id,
                "IsCloud": false,
                "SiteUrl": shared.base_url,
            }),
        );
    }

    let latency = shared.faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if shared.faults.take_drop_before() {
        lock(&shared.log).push(recorded);
        drop_connection();
    }
    recorded.authenticated = credentials_match(&shared, header_text("authorization").as_deref());
    let response = if let Some(forced) = shared.faults.take_forced_status() {
        forced_response(forced.status, forced.retry_after)
    } else if !recorded.authenticated {
        error(&ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "The supplied authentication is incorrect: expected Basic companyId+publicKey:privateKey.",
        ))
    } else if api_member_inactive(&shared) {
        // Seed 003: API member tokens of a deactivated member cease to authenticate.
        error(&ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "The supplied authentication is incorrect: the API member these keys belong to is inactive.",
        ))
    } else if recorded.client_id.as_deref() != Some(shared.client_id.as_str()) {
        error(&ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            match recorded.client_id {
                None => {
                    "The clientId header is missing; every request must carry the integration's clientId."
                }
                Some(_) => "The clientId header does not name a registered integration.",
            },
        ))
    } else {
        route_api(&shared, route, &method, &uri, &headers, &body)
    };
    recorded.status = response.status().as_u16();
    let drop_after = shared.faults.take_drop_after();
    if drop_after {
        recorded.status = 0;
    }
    lock(&shared.log).push(recorded);
    if drop_after {
        drop_connection();
    }
    response
}

/// The member the sandbox's API keys belong to: the seeded API member (licenseClass A).
pub(crate) const API_MEMBER_ID: i64 = 1;

/// Whether the keys' API member has been deactivated (`inactiveFlag`). A store without it is not
/// locked out.
fn api_member_inactive(shared: &Shared) -> bool {
    lock(&shared.store)
        .get(Entity::Member, API_MEMBER_ID)
        .and_then(|m| m.get("inactiveFlag"))
        .and_then(Value::as_bool)
        == Some(true)
}

fn credentials_match(shared: &Shared, authorization: Option<&str>) -> bool {
    let Some(encoded) = authorization.and_then(|a| {
        a.strip_prefix("Basic ")
            .or_else(|| a.strip_prefix("basic "))
    }) else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let expected = format!(
        "{}+{}:{}",
        shared.company_id, shared.public_key, shared.private_key
    );
    // Company ids are case-insensitive at login; keys are not.
    let decoded = String::from_utf8_lossy(&decoded);
    match (decoded.split_once('+'), expected.split_once('+')) {
        (Some((company, rest)), Some((expected_company, expected_rest))) => {
            company.eq_ignore_ascii_case(expected_company) && rest == expected_rest
        }
        _ => false,
    }
}

fn route_api(
    shared: &Shared,
    route: Route,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let query = uri.query().unwrap_or_default();
    let now = clock::now();
    let result = match (route, method.clone()) {
        (Route::List(entity), Method::GET) => return list(shared, entity, uri, headers),
        (Route::List(Entity::Member), Method::POST) => {
            members::create(&mut lock(&shared.store), body, &now).map(|m| (StatusCode::CREATED, m))
        }
        (Route::Count(entity), Method::GET) => parse_query(entity, query).map(|q| {
            let count = lock(&shared.store).count(entity, &q);
            (StatusCode::OK, json!({"count": count}))
        }),
        (Route::Item(entity, id), Method::GET) => lock(&shared.store)
            .fetch(entity, &id)
            .map(|r| (StatusCode::OK, r)),
        (Route::Item(Entity::Member, id), Method::PATCH) => {
            members::update(&mut lock(&shared.store), &id, body, &now).map(|m| (StatusCode::OK, m))
        }
        (Route::Item(Entity::Member, id), Method::PUT) => {
            members::replace(&mut lock(&shared.store), &id, body, &now).map(|m| (StatusCode::OK, m))
        }
        (Route::Deactivate(id), Method::POST) => {
            members::deactivate(&mut lock(&shared.store), &id, body, &now)
                .map(|d| (StatusCode::OK, d))
        }
        (Route::Item(Entity::Ticket, id), Method::PATCH) => {
            tickets::update(&mut lock(&shared.store), &id, body, &now).map(|t| (StatusCode::OK, t))
        }
        (Route::UnknownApi, _) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("The resource {} does not exist.", uri.path()),
        )),
        (_, method) => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("The requested resource does not support the {method} method."),
        )),
    };
    match result {
        Ok((status, value)) => json_response(status, value),
        Err(err) => error(&err),
    }
}

fn pairs(query: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str(query).unwrap_or_default()
}

fn parse_query(entity: Entity, query: &str) -> Result<ListQuery, ApiError> {
    ListQuery::parse(entity, &pairs(query))
}

fn list(shared: &Shared, entity: Entity, uri: &Uri, headers: &HeaderMap) -> Response {
    let query = uri.query().unwrap_or_default();
    let mut parsed = match parse_query(entity, query) {
        Ok(q) => q,
        Err(err) => return error(&err),
    };
    parsed.forward_only = headers
        .get("pagination-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("forward-only"));
    let (page, total, last_id) = lock(&shared.store).list_page(entity, &parsed);
    let link = if parsed.forward_only {
        // More records after this page: continue after its last id.
        last_id
            .filter(|_| total > page.len())
            .map(|last| forward_link(&shared.base_url, uri.path(), query, last))
    } else {
        link_header(&shared.base_url, uri.path(), query, &parsed, total)
    };
    let mut response = json_response(StatusCode::OK, Value::Array(page));
    if let Some(link) = link
        && let Ok(value) = HeaderValue::from_str(&link)
    {
        response.headers_mut().insert(header::LINK, value);
    }
    response
}

/// Forward-only paging (connectwise-api.md §5): only `<url>; rel="next"`, the request's own
/// URL with `pageId` set to the last id of this page (and no `page`).
fn forward_link(base: &str, path: &str, query: &str, last_id: i64) -> String {
    let mut params: Vec<(String, String)> = pairs(query)
        .into_iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("page") && !k.eq_ignore_ascii_case("pageId"))
        .collect();
    params.push(("pageId".into(), last_id.to_string()));
    let encoded = serde_urlencoded::to_string(&params).unwrap_or_default();
    format!("<{base}{path}?{encoded}>; rel=\"next\"")
}

/// `<url>; rel="next", <url>; rel="last"` (and `first`/`prev` past page 1), each URL the
/// request's own with `page` replaced. No header when everything fits on one page.
fn link_header(base: &str, path: &str, query: &str, q: &ListQuery, total: usize) -> Option<String> {
    let last = total.div_ceil(q.page_size).max(1);
    if last == 1 && q.page == 1 {
        return None;
    }
    let url_for = |page: usize| {
        let mut params: Vec<(String, String)> = pairs(query)
            .into_iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("page"))
            .collect();
        params.push(("page".into(), page.to_string()));
        let encoded = serde_urlencoded::to_string(&params).unwrap_or_default();
        format!("<{base}{path}?{encoded}>")
    };
    let mut links = Vec::new();
    if q.page > 1 {
        links.push(format!("{}; rel=\"first\"", url_for(1)));
        links.push(format!("{}; rel=\"prev\"", url_for((q.page - 1).min(last))));
    }
    if q.page < last {
        links.push(format!("{}; rel=\"next\"", url_for(q.page + 1)));
        links.push(format!("{}; rel=\"last\"", url_for(last)));
    }
    Some(links.join(", "))
}

fn json_response(status: StatusCode, body: Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    headers.insert(
        "api-current-version",
        HeaderValue::from_static(CURRENT_VERSION),
    );
    response
}

fn error(err: &ApiError) -> Response {
    json_response(err.status, err.body())
}

fn forced_response(status: u16, retry_after: Option<u64>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (code, message) = match status {
        StatusCode::TOO_MANY_REQUESTS => (
            "TooManyRequests",
            "Request volume exceeds capacity limits; retry later.",
        ),
        _ => ("ServerError", status.canonical_reason().unwrap_or("Error")),
    };
    let mut response = error(&ApiError::new(status, code, message));
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(
            Route::parse("/v4_6_release/apis/3.0/system/members"),
            Route::List(Entity::Member)
        );
        assert_eq!(
            Route::parse("/V4_6_RELEASE/APIS/3.0/System/Members/Count"),
            Route::Count(Entity::Member)
        );
        assert_eq!(
            Route::parse("/v4_6_release/apis/3.0/service/tickets/12/"),
            Route::Item(Entity::Ticket, "12".into())
        );
        assert_eq!(
            Route::parse("/v4_6_release/apis/3.0/system/members/1/deactivate/x"),
            Route::UnknownApi
        );
        assert_eq!(
            Route::parse("/v4_6_release/apis/3.0/system/Members/7/Deactivate"),
            Route::Deactivate("7".into())
        );
        assert_eq!(
            Route::parse("/v4_6_release/apis/3.0/service/tickets/7/deactivate"),
            Route::UnknownApi
        );
        assert_eq!(
            Route::parse("/v4_6_release/apis/3.0/finance/invoices"),
            Route::UnknownApi
        );
        assert_eq!(
            Route::parse("/v4_6_release/apis/3.0/system/members/Types"),
            Route::List(Entity::MemberType)
        );
        assert_eq!(
            Route::parse("/v4_6_release/apis/3.0/system/members/types/2"),
            Route::Item(Entity::MemberType, "2".into())
        );
        assert_eq!(
            Route::parse("/v4_6_release/apis/3.0/system/members/typesx"),
            Route::Item(Entity::Member, "typesx".into())
        );
        assert_eq!(Route::parse("/login/companyinfo/acme"), Route::CompanyInfo);
        assert_eq!(Route::parse("/favicon.ico"), Route::Unknown);
    }
}
