//! The failure type of every node and the mapping from HTTP answers to envelope codes.
//!
//! | what happened | StatusCode | OriginalStatusCode |
//! |---|---|---|
//! | a parameter broke a rule (nothing was sent) | -1 | 0 |
//! | HaloPSA answered 4xx (except 408 and 429): a business error | 200 | the HTTP status |
//! | HaloPSA answered 408, 429 or 5xx: retryable | 500 | the HTTP status |
//! | the API was not reached (transport error) | 500 | 0 |
//! | the outcome is unknown: a POST/DELETE got no answer, or a 502/504 | 500 | 0, or 502/504 |
//! | a 2xx answer the node cannot use (e.g. not JSON) | 500 | the HTTP status |
//!
//! The ErrorMessage is never empty on failure: it is taken from the body when HaloPSA explains
//! itself (the body shapes HaloPSA is known to use are handled by [`body_message`]), and otherwise
//! phrased from the status.

use crate::prelude::*;
use serde_json::{Map, Value};

use crate::transport::TransportError;

/// Why a node did not succeed. Every variant carries a non-empty, human-readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// A parameter broke a validation rule; no request was sent. StatusCode -1, OriginalStatusCode 0.
    Invalid(String),
    /// HaloPSA answered with status `status`. 4xx other than 408/429 (and node-detected business
    /// errors on a 2xx) give StatusCode 200; 408, 429 and 5xx give 500. OriginalStatusCode = `status`.
    Api { status: u16, message: String },
    /// The API was not reached (DNS, connect, TLS, timeout, refused by the host).
    /// StatusCode 500, OriginalStatusCode 0.
    Transport(String),
    /// HaloPSA answered `status` but the answer could not be used (for example a body that is not
    /// the expected JSON). StatusCode 500, OriginalStatusCode = `status`.
    Unexpected { status: u16, message: String },
    /// A request that changes data may or may not have been applied: it was sent but no answer
    /// came (`status` 0), or a gateway answered 502/504 for a server that may have done it.
    /// StatusCode 500, OriginalStatusCode = `status`. Trying again blindly may do it twice.
    UnknownOutcome { status: u16, message: String },
}

impl Failure {
    /// Shorthand for [`Failure::Invalid`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Failure::Invalid(message.into())
    }

    /// The envelope StatusCode: -1, 200 or 500.
    pub fn status_code(&self) -> i32 {
        match self {
            Failure::Invalid(_) => -1,
            Failure::Api { status, .. } if is_retryable_status(*status) => 500,
            Failure::Api { .. } => 200,
            Failure::Transport(_) | Failure::Unexpected { .. } | Failure::UnknownOutcome { .. } => {
                500
            }
        }
    }

    /// The envelope OriginalStatusCode: the HTTP status, or 0 when the API was not reached.
    pub fn original_status_code(&self) -> i32 {
        match self {
            Failure::Invalid(_) | Failure::Transport(_) => 0,
            Failure::Api { status, .. }
            | Failure::Unexpected { status, .. }
            | Failure::UnknownOutcome { status, .. } => i32::from(*status),
        }
    }

    /// The envelope ErrorMessage (never empty).
    pub fn message(&self) -> &str {
        match self {
            Failure::Invalid(m) | Failure::Transport(m) => m,
            Failure::Api { message, .. }
            | Failure::Unexpected { message, .. }
            | Failure::UnknownOutcome { message, .. } => message,
        }
    }

    /// The same failure with every occurrence of `secret` in its message replaced by
    /// `[redacted]`. Nodes that send a secret (a password) use it so that a server answer quoting
    /// the request cannot leak the secret into the envelope. An empty `secret` changes nothing.
    pub fn redacted(self, secret: &str) -> Failure {
        if secret.is_empty() {
            return self;
        }
        let clean = |m: String| m.replace(secret, "[redacted]");
        match self {
            Failure::Invalid(m) => Failure::Invalid(clean(m)),
            Failure::Transport(m) => Failure::Transport(clean(m)),
            Failure::Api { status, message } => Failure::Api {
                status,
                message: clean(message),
            },
            Failure::Unexpected { status, message } => Failure::Unexpected {
                status,
                message: clean(message),
            },
            Failure::UnknownOutcome { status, message } => Failure::UnknownOutcome {
                status,
                message: clean(message),
            },
        }
    }

    /// True for [`Failure::UnknownOutcome`]: a change may or may not have been applied.
    pub fn is_unknown_outcome(&self) -> bool {
        matches!(self, Failure::UnknownOutcome { .. })
    }

    /// True for [`Failure::Invalid`]: the request stopped at local validation.
    pub fn is_validation(&self) -> bool {
        matches!(self, Failure::Invalid(_))
    }
}

impl core::fmt::Display for Failure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.message())
    }
}

/// 408, 429 and every 5xx: the caller may retry, so the envelope says 500.
pub fn is_retryable_status(status: u16) -> bool {
    status == 408 || status == 429 || status >= 500
}

/// The standard reason phrase of an HTTP status ("Bad Request"), or "" when unknown.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        412 => "Precondition Failed",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

/// A status as words for messages: `"500 Internal Server Error"`, or `"HTTP 599"` when the
/// status has no standard reason phrase.
pub fn status_text(status: u16) -> String {
    match reason_phrase(status) {
        "" => format!("HTTP {status}"),
        reason => format!("{status} {reason}"),
    }
}

/// Maps a non-2xx HaloPSA answer to a [`Failure::Api`].
///
/// `not_found` is the node's wording for a 404 on a single record, e.g.
/// `"Client with ID 123 not found"`; when given it is the whole message of a 404. Otherwise the
/// message comes from the body ([`body_message`]) or, for an empty or unreadable body, from the
/// status. 401 and 403 always say what they mean (credentials, permissions) and add the body's text.
pub fn from_response(status: u16, body: &str, not_found: Option<&str>) -> Failure {
    let from_body = body_message(body);
    // The token endpoint's 404 is a wrong auth URL: the record was never asked about.
    let not_found = not_found.filter(|_| !from_token_endpoint(body));
    let message = match (status, not_found, from_body) {
        (404, Some(phrase), _) => phrase.to_string(),
        (401, _, detail) => with_detail(
            "HaloPSA refused the credentials (401 Unauthorized); check the API client ID, secret and scope",
            detail,
        ),
        (403, _, detail) => with_detail(
            "The HaloPSA API application is not permitted to do this (403 Forbidden); check its permissions",
            detail,
        ),
        (408, _, detail) => with_detail(
            "HaloPSA timed out handling the request (408 Request Timeout)",
            detail,
        ),
        (429, _, detail) => with_detail(
            "HaloPSA rate limit reached (429 Too Many Requests); retry later",
            detail,
        ),
        (s, _, detail) if s >= 500 => with_detail(
            &format!("HaloPSA server error ({})", status_text(s)),
            detail,
        ),
        (_, _, Some(detail)) => detail,
        (s, _, None) => format!("HaloPSA rejected the request ({})", status_text(s)),
    };
    Failure::Api { status, message }
}

/// Whether an answer is the host's account of HaloPSA's token endpoint refusing a token
/// (`"source": "token_endpoint"`), not an answer of the API: nothing reached the API, so a
/// 404 in it says nothing about the record.
pub fn from_token_endpoint(body: &str) -> bool {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("source").and_then(|s| s.as_str().map(|s| s == "token_endpoint")))
        .unwrap_or(false)
}

fn with_detail(lead: &str, detail: Option<String>) -> String {
    match detail {
        Some(d) => format!("{lead}: {d}"),
        None => lead.to_string(),
    }
}

/// The lead of every unknown-outcome message, so people and scripts can recognise it.
pub const OUTCOME_UNKNOWN: &str = "outcome unknown";

/// Maps a transport error to a [`Failure::Transport`] (the API was not reached, nothing was
/// applied) or, for `unknown-outcome`, a [`Failure::UnknownOutcome`].
pub fn from_transport(err: &TransportError) -> Failure {
    let (lead, detail) = match err {
        TransportError::Unreachable(d) => ("Could not reach the HaloPSA API", d),
        TransportError::Timeout(d) => ("The HaloPSA API did not answer in time", d),
        TransportError::Denied(d) => ("The host refused to send the request to HaloPSA", d),
        TransportError::UnknownOutcome(d) => return unknown_outcome(0, d),
    };
    let detail = detail.trim();
    Failure::Transport(if detail.is_empty() {
        lead.to_string()
    } else {
        format!("{lead}: {detail}")
    })
}

/// Fields that, in a 2xx answer, mean HaloPSA refused the change in the body instead of the
/// status (seed 001: "a failed seat check returns an error in the response body").
const BODY_ERROR_KEYS: &[&str] = &[
    "error",
    "errors",
    "errormessage",
    "error_message",
    "error_description",
    "exceptionmessage",
];

/// Checks a 2xx answer to a create or update: the saved record must carry its id, and must not
/// carry an error. Otherwise the answer is a business error (StatusCode 200, OriginalStatusCode
/// `status`) quoting the server's words: an error field anywhere in the answer, else its
/// `message`, else a sentence saying no record id came back. `what` names the record ("agent").
pub fn saved_record_check(status: u16, answer: &Value, what: &str) -> Result<(), Failure> {
    let map = match answer {
        Value::Object(map) => Some(map),
        _ => None,
    };
    let error_text = map.and_then(|m| {
        m.iter()
            .filter(|(k, _)| BODY_ERROR_KEYS.iter().any(|e| k.eq_ignore_ascii_case(e)))
            .find_map(|(k, v)| {
                let mut only = Map::new();
                only.insert(k.clone(), v.clone());
                match v {
                    Value::Bool(true) => text_field(m, "message").or_else(|| Some(format!("HaloPSA reported {k}: true"))),
                    Value::Bool(false) | Value::Null => None,
                    _ => object_message(&only),
                }
            })
    });
    let has_id = map
        .and_then(|m| m.get("id"))
        .and_then(crate::ids::read_id)
        .is_some_and(|id| id > 0);
    let message = match (error_text, has_id) {
        (Some(text), _) => format!("HaloPSA refused to save the {what}: {}", shorten(&text)),
        (None, true) => return Ok(()),
        (None, false) => match map.and_then(|m| text_field(m, "message")) {
            Some(text) => format!("HaloPSA did not save the {what}: {}", shorten(&text)),
            None => format!(
                "HaloPSA answered {} without the saved {what}'s id, so nothing confirms it was saved",
                status_text(status)
            ),
        },
    };
    Err(Failure::Api { status, message })
}

/// A request that changes data got no usable answer (`status` 0: none at all; 502/504: a
/// gateway's). The message says so first, then why.
pub fn unknown_outcome(status: u16, detail: &str) -> Failure {
    let detail = detail.trim();
    let lead = format!(
        "{OUTCOME_UNKNOWN}: HaloPSA may or may not have applied the request; check before trying again"
    );
    Failure::UnknownOutcome {
        status,
        message: if detail.is_empty() {
            lead
        } else {
            format!("{lead} ({detail})")
        },
    }
}

/// Longest message taken from a body, in characters; longer text is cut with an ellipsis.
const MAX_MESSAGE_CHARS: usize = 500;

/// The explanation HaloPSA put in an error body, if any.
///
/// Handles, in this order of preference:
/// - a JSON string: the string;
/// - `{"message"}` / `{"Message"}` (also with `ClassName`), `{"errorMessage"}` (with or without
///   `resultCode`), `{"error_description"}` with `{"error"}`, `{"error"}` alone, problem details
///   `{"title","detail"}`;
/// - `{"errors": [...]}` (strings or objects with a message) and `{"errors": {"Field": ["..."]}}`;
/// - an ASP.NET field map such as `{"name": "The name field is required."}` or
///   `{"[0].id": "..."}`: `"name: The name field is required."`, several joined with `"; "`;
/// - `{"resultCode": N}` alone: `"result code N"`;
/// - plain text such as `CODE:APP03/2 Please select the CAB members to approve`: the text
///   (HTML pages are not quoted).
///
/// Returns `None` for an empty body or one with nothing readable.
pub fn body_message(body: &str) -> Option<String> {
    let text = body.trim().trim_start_matches('\u{feff}');
    if text.is_empty() {
        return None;
    }
    let found = match serde_json::from_str::<Value>(text) {
        Ok(value) => json_message(&value),
        Err(_) if text.starts_with('<') => None,
        Err(_) => Some(text.to_string()),
    };
    found.map(|m| shorten(m.trim())).filter(|m| !m.is_empty())
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= MAX_MESSAGE_CHARS {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(MAX_MESSAGE_CHARS).collect();
    cut.push('…');
    cut
}

fn json_message(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => non_empty(s),
        Value::Object(map) => object_message(map),
        Value::Array(items) => list_message(items),
        _ => None,
    }
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// Reads `key` from `map` as non-empty text, matching the key case-insensitively.
fn text_field(map: &Map<String, Value>, key: &str) -> Option<String> {
    map.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .and_then(|(_, v)| v.as_str())
        .and_then(non_empty)
}

fn object_message(map: &Map<String, Value>) -> Option<String> {
    if let Some(m) = text_field(map, "message") {
        return Some(m);
    }
    if let Some(m) = text_field(map, "errorMessage") {
        return Some(m);
    }
    if let Some(desc) = text_field(map, "error_description") {
        return Some(match text_field(map, "error") {
            Some(code) => format!("{desc} ({code})"),
            None => desc,
        });
    }
    if let Some(code) = text_field(map, "error") {
        return Some(code);
    }
    if let Some((_, errors)) = map.iter().find(|(k, _)| k.eq_ignore_ascii_case("errors")) {
        let listed = match errors {
            Value::Array(items) => list_message(items),
            Value::Object(fields) => field_map_message(fields),
            Value::String(s) => non_empty(s),
            _ => None,
        };
        if listed.is_some() {
            return listed;
        }
    }
    match (text_field(map, "title"), text_field(map, "detail")) {
        (Some(t), Some(d)) => return Some(format!("{t}: {d}")),
        (Some(t), None) => return Some(t),
        (None, Some(d)) => return Some(d),
        (None, None) => {}
    }
    if let Some(m) = field_map_message(map) {
        return Some(m);
    }
    map.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("resultCode"))
        .map(|(_, v)| format!("HaloPSA result code {}", scalar_text(v)))
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `{"field": "msg"}` / `{"field": ["msg", ...]}` → `"field: msg; other: msg"`.
fn field_map_message(map: &Map<String, Value>) -> Option<String> {
    let mut parts = Vec::new();
    for (field, value) in map {
        let texts: Vec<String> = match value {
            Value::String(s) => non_empty(s).into_iter().collect(),
            Value::Array(items) => items
                .iter()
                .filter_map(|i| i.as_str())
                .filter_map(non_empty)
                .collect(),
            _ => Vec::new(),
        };
        for text in texts {
            if field.is_empty() {
                parts.push(text);
            } else {
                parts.push(format!("{field}: {text}"));
            }
        }
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// `["a", {"message": "b"}, {"field": "x", "message": "c"}]` → `"a; b; x: c"`.
fn list_message(items: &[Value]) -> Option<String> {
    let parts: Vec<String> = items
        .iter()
        .filter_map(|item| match item {
            Value::String(s) => non_empty(s),
            Value::Object(map) => {
                let msg = text_field(map, "message")
                    .or_else(|| text_field(map, "errorMessage"))
                    .or_else(|| text_field(map, "description"))
                    .or_else(|| text_field(map, "error"));
                match (
                    msg,
                    text_field(map, "field").or_else(|| text_field(map, "property")),
                ) {
                    (Some(m), Some(f)) => Some(format!("{f}: {m}")),
                    (Some(m), None) => Some(m),
                    (None, _) => field_map_message(map),
                }
            }
            _ => None,
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, body: &str) -> Failure {
        from_response(status, body, None)
    }

    #[test]
    fn codes_per_failure_class() {
        let invalid = Failure::invalid("Id must be a positive integer");
        assert_eq!(
            (invalid.status_code(), invalid.original_status_code()),
            (-1, 0)
        );
        assert!(invalid.is_validation());

        for status in [400u16, 401, 403, 404, 409, 422] {
            let f = api(status, "");
            assert_eq!(
                (f.status_code(), f.original_status_code()),
                (200, i32::from(status)),
                "{status}"
            );
            assert!(!f.message().is_empty(), "{status}");
            assert!(!f.is_validation());
        }
        for status in [408u16, 429, 500, 502, 503, 504] {
            let f = api(status, "");
            assert_eq!(
                (f.status_code(), f.original_status_code()),
                (500, i32::from(status)),
                "{status}"
            );
            assert!(!f.message().is_empty());
        }
        let t = from_transport(&TransportError::Unreachable("connection refused".into()));
        assert_eq!((t.status_code(), t.original_status_code()), (500, 0));
        assert_eq!(
            t.message(),
            "Could not reach the HaloPSA API: connection refused"
        );
        let u = Failure::Unexpected {
            status: 200,
            message: "not JSON".into(),
        };
        assert_eq!((u.status_code(), u.original_status_code()), (500, 200));
    }

    #[test]
    fn unknown_outcomes_are_system_errors_that_say_so() {
        let u = from_transport(&TransportError::UnknownOutcome(
            "the connection broke after the request was sent".into(),
        ));
        assert!(u.is_unknown_outcome());
        assert_eq!((u.status_code(), u.original_status_code()), (500, 0));
        assert!(u.message().starts_with("outcome unknown: HaloPSA may or may not"), "{u}");
        assert!(u.message().ends_with("(the connection broke after the request was sent)"), "{u}");
        let g = unknown_outcome(504, "");
        assert_eq!((g.status_code(), g.original_status_code()), (500, 504));
        assert!(!g.message().contains("()"));
        assert_eq!(
            g.clone().redacted("HaloPSA"),
            Failure::UnknownOutcome {
                status: 504,
                message: g.message().replace("HaloPSA", "[redacted]")
            }
        );
    }

    #[test]
    fn transport_variants_have_clear_messages() {
        let t = from_transport(&TransportError::Timeout("after 30s".into()));
        assert_eq!(
            t.message(),
            "The HaloPSA API did not answer in time: after 30s"
        );
        let d = from_transport(&TransportError::Denied(String::new()));
        assert_eq!(
            d.message(),
            "The host refused to send the request to HaloPSA"
        );
        assert_eq!(d.original_status_code(), 0);
    }

    #[test]
    fn message_shapes() {
        assert_eq!(
            api(400, r#"{"message":"Name is required"}"#).message(),
            "Name is required"
        );
        assert_eq!(
            api(
                400,
                r#"{"ClassName":"System.Exception","Message":"Object reference not set"}"#
            )
            .message(),
            "Object reference not set"
        );
        assert_eq!(
            api(
                400,
                r#"{"error":"invalid_request","error_description":"The site_id is unknown"}"#
            )
            .message(),
            "The site_id is unknown (invalid_request)"
        );
        assert_eq!(
            api(400, r#"{"resultCode":3,"errorMessage":"Duplicate client"}"#).message(),
            "Duplicate client"
        );
        assert_eq!(
            api(400, r#"{"resultCode":7}"#).message(),
            "HaloPSA result code 7"
        );
        assert_eq!(
            api(400, r#"{"name":"The name field is required."}"#).message(),
            "name: The name field is required."
        );
        assert_eq!(
            api(400, r#"{"id":"Bad id","[0].id":"Bad id too"}"#).message(),
            "id: Bad id; [0].id: Bad id too"
        );
        assert_eq!(
            api(400, r#"{"errors":["first problem",{"message":"second problem"},{"field":"site_id","message":"unknown"}]}"#)
                .message(),
            "first problem; second problem; site_id: unknown"
        );
        assert_eq!(
            api(400, r#"{"title":"One or more validation errors occurred.","errors":{"Name":["The Name field is required."]}}"#)
                .message(),
            "Name: The Name field is required."
        );
        assert_eq!(
            api(400, "CODE:APP03/2 Please select the CAB members to approve").message(),
            "CODE:APP03/2 Please select the CAB members to approve"
        );
        assert_eq!(
            api(
                400,
                r#""CODE:APP03/2 Please select the CAB members to approve""#
            )
            .message(),
            "CODE:APP03/2 Please select the CAB members to approve"
        );
        assert_eq!(
            api(400, "").message(),
            "HaloPSA rejected the request (400 Bad Request)"
        );
        assert_eq!(
            api(400, "   \n").message(),
            "HaloPSA rejected the request (400 Bad Request)"
        );
        assert_eq!(
            api(400, "{}").message(),
            "HaloPSA rejected the request (400 Bad Request)"
        );
        assert_eq!(
            api(418, "").message(),
            "HaloPSA rejected the request (HTTP 418)"
        );
        assert_eq!(
            api(400, "<html><body>oops</body></html>").message(),
            "HaloPSA rejected the request (400 Bad Request)"
        );
    }

    #[test]
    fn auth_and_server_errors_keep_their_meaning() {
        let f = api(401, r#"{"error":"invalid_client"}"#);
        assert!(
            f.message()
                .starts_with("HaloPSA refused the credentials (401 Unauthorized)"),
            "{f}"
        );
        assert!(f.message().ends_with(": invalid_client"), "{f}");
        assert!(api(403, "").message().contains("403 Forbidden"));
        let s = api(500, r#"{"message":"database offline"}"#);
        assert_eq!(
            s.message(),
            "HaloPSA server error (500 Internal Server Error): database offline"
        );
        assert_eq!(
            api(503, "").message(),
            "HaloPSA server error (503 Service Unavailable)"
        );
        assert!(api(429, "").message().contains("rate limit"));
    }

    #[test]
    fn a_token_endpoint_404_is_never_a_missing_record() {
        let body = r#"{"error":"token_endpoint_not_found","message":"HaloPSA's token endpoint http://h/nope/token answered 404 (check HALOPSA_AUTH_URL and HALOPSA_TENANT)","source":"token_endpoint"}"#;
        let f = from_response(404, body, Some("Client with ID 1 not found"));
        assert!(f.message().contains("check HALOPSA_AUTH_URL"), "{f}");
        assert!(!f.message().contains("Client with ID 1"), "{f}");
        assert!(from_token_endpoint(body));
        assert!(!from_token_endpoint(r#"{"message":"Not found"}"#));
        assert!(!from_token_endpoint("not json"));
    }

    #[test]
    fn not_found_uses_the_node_wording() {
        let f = from_response(
            404,
            r#"{"message":"Not found"}"#,
            Some("Client with ID 123 not found"),
        );
        assert_eq!(f.message(), "Client with ID 123 not found");
        assert_eq!((f.status_code(), f.original_status_code()), (200, 404));
        // Without a wording the body or status speaks.
        assert_eq!(
            from_response(404, "", None).message(),
            "HaloPSA rejected the request (404 Not Found)"
        );
        // The wording is only for 404.
        assert_eq!(
            from_response(400, "bad", Some("Client with ID 1 not found")).message(),
            "bad"
        );
    }

    #[test]
    fn status_texts() {
        assert_eq!(status_text(500), "500 Internal Server Error");
        assert_eq!(status_text(599), "HTTP 599");
    }

    #[test]
    fn secrets_are_redacted_from_messages() {
        let f = api(
            400,
            r#"{"password": "The password 'Hunter2!x' is too common."}"#,
        );
        let r = f.clone().redacted("Hunter2!x");
        assert_eq!(
            r.message(),
            "password: The password '[redacted]' is too common."
        );
        assert_eq!(
            (r.status_code(), r.original_status_code()),
            (f.status_code(), f.original_status_code())
        );
        assert_eq!(f.clone().redacted(""), f, "an empty secret changes nothing");
        let t = Failure::Transport("echo Hunter2!x".into()).redacted("Hunter2!x");
        assert_eq!(t, Failure::Transport("echo [redacted]".into()));
    }

    #[test]
    fn long_bodies_are_cut() {
        let body = "x".repeat(2000);
        let m = api(400, &body).message().to_string();
        assert_eq!(m.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(m.ends_with('…'));
    }

    #[test]
    fn two_hundred_answers_without_an_id_or_with_an_error_are_business_errors() {
        use serde_json::json;
        assert_eq!(saved_record_check(201, &json!({"id": 9, "name": "x"}), "agent"), Ok(()));
        let f = saved_record_check(200, &json!({"error": "No licences available"}), "agent").unwrap_err();
        assert_eq!((f.status_code(), f.original_status_code()), (200, 200));
        assert_eq!(f.message(), "HaloPSA refused to save the agent: No licences available");
        // An error beside an id still fails: the server said so.
        let f = saved_record_check(200, &json!({"id": 3, "errormessage": "Seat check failed"}), "agent").unwrap_err();
        assert_eq!(f.message(), "HaloPSA refused to save the agent: Seat check failed");
        let f = saved_record_check(200, &json!({"message": "Licence limit reached"}), "agent").unwrap_err();
        assert_eq!(f.message(), "HaloPSA did not save the agent: Licence limit reached");
        let f = saved_record_check(201, &json!({}), "client").unwrap_err();
        assert_eq!(
            f.message(),
            "HaloPSA answered 201 Created without the saved client's id, so nothing confirms it was saved"
        );
        let f = saved_record_check(200, &Value::Null, "user").unwrap_err();
        assert_eq!(f.status_code(), 200);
        let f = saved_record_check(200, &json!({"id": 0, "error": true, "message": "Seats exhausted"}), "agent").unwrap_err();
        assert_eq!(f.message(), "HaloPSA refused to save the agent: Seats exhausted");
        // A false or null error flag is no error.
        assert_eq!(saved_record_check(200, &json!({"id": 2, "error": null, "errors": []}), "x"), Ok(()));
    }
}
