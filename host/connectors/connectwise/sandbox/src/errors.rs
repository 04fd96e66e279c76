//! ConnectWise's error body: `{"code", "message", "errors": [{"code", "message", "resource", "field"}]}`.

use axum::http::StatusCode;
use serde_json::{Value, json};

/// One entry of `errors[]`: a problem with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub(crate) code: &'static str,
    pub(crate) field: String,
    pub(crate) message: String,
}

impl FieldError {
    pub(crate) fn new(code: &'static str, field: &str, message: impl Into<String>) -> Self {
        FieldError {
            code,
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// A refused request: status, top-level code and message, and the field problems.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) errors: Vec<FieldError>,
    /// The `resource` of each field error (the object the request was about).
    pub(crate) resource: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            errors: Vec::new(),
            resource: String::new(),
        }
    }

    /// 400 `InvalidObject` listing every field problem found.
    pub(crate) fn invalid(resource: &str, errors: Vec<FieldError>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "InvalidObject",
            message: format!("{resource} object is invalid"),
            errors,
            resource: resource.to_owned(),
        }
    }

    pub(crate) fn not_found(label: &str, id: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("{label} with id {id} was not found."),
        )
    }

    pub(crate) fn body(&self) -> Value {
        let mut body = json!({"code": self.code, "message": self.message});
        if !self.errors.is_empty() {
            body["errors"] = self
                .errors
                .iter()
                .map(|e| {
                    json!({
                        "code": e.code,
                        "message": e.message,
                        "resource": self.resource,
                        "field": e.field,
                    })
                })
                .collect();
        }
        body
    }
}
