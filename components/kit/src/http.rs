//! Thin wrappers over the `transport` import.
//!
//! The host adds the base URL, the bearer token, retries on 429/503 and one token refresh on 401;
//! these functions only shape requests and turn answers into `Result`s:
//! - a transport error becomes [`Failure::Transport`] (StatusCode 500, OriginalStatusCode 0);
//! - the `*_json` / [`post_array`] / [`delete`] helpers turn a non-2xx answer into
//!   [`Failure::Api`] via [`errors::from_response`], and a 2xx whose body is not JSON into
//!   [`Failure::Unexpected`].
//!
//! HaloPSA creates and updates with `POST /<Entity>` whose body is a JSON ARRAY of objects (an
//! object with `id` updates only the fields sent); it answers with the object for a one-element
//! array, or with an array. [`post_array`] sends `[body]` and accepts both answers.

use crate::prelude::*;
use serde_json::{Map, Value};

use crate::errors::{self, Failure};
use crate::transport::{self, Method, Request, Response};

/// Query parameters in order, not yet encoded (the host encodes them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// An empty query.
    pub fn new() -> Self {
        Query(Vec::new())
    }

    /// Adds `key=value` (builder style).
    pub fn with(mut self, key: &str, value: impl ToString) -> Self {
        self.push(key, value);
        self
    }

    /// Adds `key=value`.
    pub fn push(&mut self, key: &str, value: impl ToString) {
        self.0.push((key.to_string(), value.to_string()));
    }

    /// Adds `key=value` only when `value` is `Some`.
    pub fn push_opt(&mut self, key: &str, value: Option<impl ToString>) {
        if let Some(v) = value {
            self.push(key, v);
        }
    }

    /// Appends every pair of `other`.
    pub fn extend(&mut self, other: &Query) {
        self.0.extend(other.0.iter().cloned());
    }

    /// The value of the first pair named `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The pairs, in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// The pairs, for the transport request.
    pub fn into_pairs(self) -> Vec<(String, String)> {
        self.0
    }
}

/// True for 2xx statuses.
pub fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

/// Sends one request. Transport errors fail here, and so does a 502 or 504 answer to a request
/// that changes data ([`Failure::UnknownOutcome`]: the gateway cannot say whether the server
/// applied it). Any other HTTP status is returned as is.
pub fn send(
    method: Method,
    path: &str,
    query: &Query,
    body: Option<String>,
) -> Result<Response, Failure> {
    let writes = method != Method::Get;
    let request = Request {
        method,
        path: path.to_string(),
        query: query.clone().into_pairs(),
        body,
    };
    let response = transport::send(&request).map_err(|e| errors::from_transport(&e))?;
    if writes && is_gateway_failure(response.status) {
        let detail = errors::from_response(response.status, &response.body, None);
        return Err(errors::unknown_outcome(response.status, detail.message()));
    }
    Ok(response)
}

/// 502 Bad Gateway and 504 Gateway Timeout: a proxy in front of HaloPSA answered for a server
/// that may have received the request.
pub fn is_gateway_failure(status: u16) -> bool {
    status == 502 || status == 504
}

/// `GET path?query`, any status returned as is.
pub fn get(path: &str, query: &Query) -> Result<Response, Failure> {
    send(Method::Get, path, query, None)
}

/// `GET path?query` expecting 2xx JSON: returns `(status, body as JSON)` (an empty body is `null`).
/// A 404 uses `not_found` as the whole message when given (e.g. "Client with ID 123 not found").
pub fn get_json(
    path: &str,
    query: &Query,
    not_found: Option<&str>,
) -> Result<(u16, Value), Failure> {
    let response = get(path, query)?;
    json_answer(&response, not_found)
}

/// Whether the record at `path` exists: `GET path` answered 2xx → `(status, true)`, 404 →
/// `(404, false)`. Any other answer is the mapped failure (see [`presence`]).
pub fn exists(path: &str) -> Result<(u16, bool), Failure> {
    let response = get(path, &Query::new())?;
    presence(&response).map(|found| (response.status, found))
}

/// Reads a `GET` of one record as an existence check: 2xx → `true`, 404 → `false`, anything
/// else → [`errors::from_response`] (the answer says nothing about the record).
pub fn presence(response: &Response) -> Result<bool, Failure> {
    match response.status {
        s if is_success(s) => Ok(true),
        404 if !errors::from_token_endpoint(&response.body) => Ok(false),
        s => Err(errors::from_response(s, &response.body, None)),
    }
}

/// `POST path` with the JSON array `[body]` (HaloPSA's create/update). Returns `(status, record)`
/// where `record` is the answered object, or the first element of an answered array. A 404 uses
/// `not_found` as the message when given.
///
/// A 2xx answer is only a success when it carries the saved record: one without a record id, or
/// with an error field (HaloPSA reports a failed licence-seat check in the body of a 200), is a
/// business error quoting the server ([`errors::saved_record_check`]).
pub fn post_array(
    path: &str,
    body: &Map<String, Value>,
    not_found: Option<&str>,
) -> Result<(u16, Value), Failure> {
    let payload = Value::Array(vec![Value::Object(body.clone())]).to_string();
    let response = send(Method::Post, path, &Query::new(), Some(payload))?;
    let (status, value) = json_answer(&response, not_found)?;
    let record = single_record(value);
    errors::saved_record_check(status, &record, &record_noun(path))?;
    Ok((status, record))
}

/// How messages name the record behind an API path: `/Tickets` → "ticket", `/Agent` → "agent".
pub fn record_noun(path: &str) -> String {
    let resource = path
        .trim_matches('/')
        .split('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if resource.ends_with("us") || resource.ends_with("ss") {
        return resource;
    }
    match resource.strip_suffix('s') {
        Some(singular) if !singular.is_empty() => singular.to_string(),
        _ => resource,
    }
}

/// `DELETE path?query`. Returns the status and the answered JSON (`null` for an empty body, which
/// HaloPSA may send). A 404 uses `not_found` as the message when given.
pub fn delete(path: &str, query: &Query, not_found: Option<&str>) -> Result<(u16, Value), Failure> {
    let response = send(Method::Delete, path, query, None)?;
    if is_success(response.status) && serde_json::from_str::<Value>(&response.body).is_err() {
        // Some deployments answer a delete with plain text ("Success"); the status is what counts.
        return Ok((response.status, Value::Null));
    }
    json_answer(&response, not_found)
}

/// Checks a response: non-2xx → [`errors::from_response`]; 2xx → the body parsed as JSON (empty
/// body → `null`; unparseable → [`Failure::Unexpected`]).
pub fn json_answer(response: &Response, not_found: Option<&str>) -> Result<(u16, Value), Failure> {
    if !is_success(response.status) {
        return Err(errors::from_response(
            response.status,
            &response.body,
            not_found,
        ));
    }
    parse_body(response.status, &response.body).map(|v| (response.status, v))
}

/// Parses a 2xx body as JSON; an empty body is `null`.
pub fn parse_body(status: u16, body: &str) -> Result<Value, Failure> {
    let text = body.trim();
    if text.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(text).map_err(|e| Failure::Unexpected {
        status,
        message: format!("HaloPSA answered {status} with a body that is not valid JSON ({e})"),
    })
}

/// The one record of a create/update answer: an object as is, the first object of an array,
/// otherwise `{}`.
pub fn single_record(value: Value) -> Value {
    match value {
        Value::Object(_) => value,
        Value::Array(items) => items
            .into_iter()
            .find(Value::is_object)
            .unwrap_or_else(|| Value::Object(Map::new())),
        _ => Value::Object(Map::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn query_builder() {
        let mut q = Query::new().with("pageinate", true).with("page_size", 50);
        q.push_opt("search", None::<&str>);
        q.push_opt("search", Some("acme"));
        assert_eq!(q.get("pageinate"), Some("true"));
        assert_eq!(q.get("page_size"), Some("50"));
        assert_eq!(q.get("search"), Some("acme"));
        assert_eq!(q.pairs().len(), 3);
    }

    #[test]
    fn answers() {
        let ok = Response {
            status: 201,
            body: r#"{"id": 5}"#.into(),
        };
        assert_eq!(json_answer(&ok, None), Ok((201, json!({"id": 5}))));
        let empty = Response {
            status: 200,
            body: String::new(),
        };
        assert_eq!(json_answer(&empty, None), Ok((200, Value::Null)));
        let garbage = Response {
            status: 200,
            body: "<html>".into(),
        };
        let f = json_answer(&garbage, None).unwrap_err();
        assert_eq!((f.status_code(), f.original_status_code()), (500, 200));
        let missing = Response {
            status: 404,
            body: String::new(),
        };
        let f = json_answer(&missing, Some("Site with ID 9 not found")).unwrap_err();
        assert_eq!(
            (f.status_code(), f.original_status_code(), f.message()),
            (200, 404, "Site with ID 9 not found")
        );
    }

    #[test]
    fn presence_checks() {
        let answer = |status: u16, body: &str| Response {
            status,
            body: body.into(),
        };
        assert_eq!(presence(&answer(200, r#"{"id": 4}"#)), Ok(true));
        assert_eq!(presence(&answer(200, "")), Ok(true));
        assert_eq!(presence(&answer(404, "")), Ok(false));
        // A wrong auth URL's 404 does not mean the record is gone.
        let token = presence(&answer(404, r#"{"error":"token_endpoint_not_found","message":"m","source":"token_endpoint"}"#));
        assert!(token.is_err(), "{token:?}");
        let f = presence(&answer(500, "")).unwrap_err();
        assert_eq!((f.status_code(), f.original_status_code()), (500, 500));
        let f = presence(&answer(403, "")).unwrap_err();
        assert_eq!((f.status_code(), f.original_status_code()), (200, 403));
    }

    #[test]
    fn single_records() {
        assert_eq!(single_record(json!({"id": 1})), json!({"id": 1}));
        assert_eq!(
            single_record(json!([{"id": 1}, {"id": 2}])),
            json!({"id": 1})
        );
        assert_eq!(single_record(json!([])), json!({}));
        assert_eq!(single_record(Value::Null), json!({}));
    }

    #[test]
    fn record_nouns() {
        assert_eq!(record_noun("/Tickets"), "ticket");
        assert_eq!(record_noun("/Users"), "user");
        assert_eq!(record_noun("/Agent"), "agent");
        assert_eq!(record_noun("/Status"), "status");
        assert_eq!(record_noun("/Client/4"), "client");
    }
}
