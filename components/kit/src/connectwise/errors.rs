//! ConnectWise answers and transport errors turned into a [`Failure`].
//!
//! ConnectWise explains a refusal as `{"code", "message", "errors": [{"code", "message",
//! "field"}]}`; the ErrorMessage keeps its message and every field problem, each prefixed with
//! the field, so a workflow author sees which field to fix:
//! `ConnectWise refused the request (400): member object is invalid; identifier: The identifier 'jdoe' is already in use.`

use crate::prelude::*;
use serde_json::Value;

use super::transport::TransportError;
use crate::errors::{Failure, reason_phrase};

/// The failure for a non-2xx answer.
pub fn from_response(status: u16, body: &str) -> Failure {
    let detail = body_message(body).unwrap_or_else(|| {
        let phrase = reason_phrase(status);
        if phrase.is_empty() {
            "no explanation given".to_owned()
        } else {
            phrase.to_owned()
        }
    });
    let message = match status {
        401 => format!(
            "ConnectWise refused the credentials (401): {detail}. Check CONNECTWISE_COMPANY_ID, the keys and CONNECTWISE_CLIENT_ID"
        ),
        403 => format!(
            "ConnectWise refused the request (403): {detail}. The API member's security role lacks this permission"
        ),
        429 => format!("ConnectWise is rate limiting requests (429): {detail}"),
        s if s >= 500 => format!("ConnectWise failed to handle the request ({s}): {detail}"),
        s => format!("ConnectWise refused the request ({s}): {detail}"),
    };
    Failure::Api { status, message }
}

/// ConnectWise's own explanation, with each field error as `field: message`.
pub fn body_message(body: &str) -> Option<String> {
    let value: Value = serde_json::from_str(body).ok()?;
    let text = |v: &Value| {
        v.as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let mut parts: Vec<String> = Vec::new();
    if let Some(message) = value.get("message").and_then(text) {
        parts.push(message);
    }
    for error in value
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let message = error
            .get("message")
            .or_else(|| error.get("code"))
            .and_then(text)
            .unwrap_or_else(|| "invalid".to_owned());
        match error.get("field").and_then(text) {
            Some(field) => parts.push(format!("{field}: {message}")),
            None => parts.push(message),
        }
    }
    if parts.is_empty() {
        return value.get("code").and_then(text);
    }
    // Sentences joined with "; " read badly with their own full stops.
    let parts: Vec<&str> = parts.iter().map(|p| p.trim_end_matches('.')).collect();
    Some(parts.join("; "))
}

/// The failure for a request that got no answer.
pub fn from_transport(error: &TransportError) -> Failure {
    Failure::Transport(match error {
        TransportError::Unreachable(d) => format!("ConnectWise could not be reached: {d}"),
        TransportError::Timeout(d) => format!("ConnectWise did not answer in time: {d}"),
        TransportError::Denied(d) => format!("The host refused the request: {d}"),
        TransportError::UnknownOutcome(d) => {
            // Same lead as HaloPSA's, so people and scripts recognise it whatever the PSA.
            let lead = format!(
                "{}: ConnectWise may or may not have applied the request; check before trying again",
                crate::errors::OUTCOME_UNKNOWN
            );
            let d = d.trim();
            return Failure::UnknownOutcome {
                status: 0,
                message: if d.is_empty() {
                    lead
                } else {
                    format!("{lead} ({d})")
                },
            };
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_are_named() {
        let body = r#"{"code":"InvalidObject","message":"member object is invalid","errors":[
            {"code":"ObjectExists","message":"The identifier 'jdoe' is already in use.","resource":"member","field":"identifier"},
            {"code":"NullValue","message":"The field lastName is required.","field":"lastName"}]}"#;
        let failure = from_response(400, body);
        assert_eq!(failure.status_code(), 200);
        assert_eq!(
            failure.message(),
            "ConnectWise refused the request (400): member object is invalid; identifier: The identifier 'jdoe' is already in use; lastName: The field lastName is required"
        );
    }

    #[test]
    fn bodies_without_detail_fall_back_to_the_status() {
        assert_eq!(
            from_response(404, "").message(),
            "ConnectWise refused the request (404): Not Found"
        );
        assert!(
            from_response(401, r#"{"code":"Unauthorized","message":"bad key"}"#)
                .message()
                .contains("CONNECTWISE_CLIENT_ID")
        );
        let busy = from_response(429, "{}");
        assert_eq!(
            (busy.status_code(), busy.original_status_code()),
            (500, 429)
        );
        assert_eq!(
            body_message(r#"{"code":"NotFound"}"#).as_deref(),
            Some("NotFound")
        );
    }

    #[test]
    fn transport_errors_are_system_errors() {
        let f = from_transport(&TransportError::UnknownOutcome("dropped".into()));
        assert_eq!((f.status_code(), f.original_status_code()), (500, 0));
        assert!(f.is_unknown_outcome());
        assert!(
            f.message()
                .starts_with("outcome unknown: ConnectWise may or may not"),
            "{f}"
        );
        assert!(f.message().ends_with("(dropped)"), "{f}");
    }
}
