//! Every error the API answers is JSON: `{"error": {"code", "message"}}`, plus
//! `"diagnostics"` (file, line, column, message, help) for workflow problems. Nothing answers a
//! bare 500: internal failures say what failed.
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// A stable word for programs: `unauthorized`, `not_found`, `conflict`, ...
    pub code: &'static str,
    pub message: String,
    pub diagnostics: Option<Vec<DiagnosticJson>>,
    /// Seconds, for 429.
    pub retry_after: Option<u64>,
}

/// The body of every error answer.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable word for programs: unauthorized, forbidden, not_found, conflict, invalid, ...
    pub code: String,
    /// What is wrong, for people.
    pub message: String,
    /// Workflow problems with their place in the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<Vec<DiagnosticJson>>,
}

/// One workflow problem: `file:line:column: message`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DiagnosticJson {
    pub file: String,
    /// 1-based; 0 when the problem has no place in the file.
    pub line: usize,
    /// 1-based, in characters; 0 when unknown.
    pub column: usize,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl DiagnosticJson {
    pub fn from_all(d: &psaflow_workflow::Diagnostics) -> Vec<DiagnosticJson> {
        d.iter()
            .map(|d| DiagnosticJson {
                file: d.file.clone(),
                line: d.line,
                column: d.column,
                message: d.message.clone(),
                help: d.help.clone(),
            })
            .collect()
    }
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            diagnostics: None,
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// A workflow or its inputs are not valid: 422 with every problem and its place.
    pub fn invalid(message: impl Into<String>, d: &psaflow_workflow::Diagnostics) -> ApiError {
        ApiError {
            diagnostics: Some(DiagnosticJson::from_all(d)),
            ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
        }
    }

    /// Something on the server's side failed (the run store, a task): said, not hidden.
    pub fn internal(what: &str, err: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("{what}: {err}"),
        )
    }

    pub fn body(&self) -> Value {
        let mut detail = json!({"code": self.code, "message": self.message});
        if let Some(d) = &self.diagnostics {
            detail["diagnostics"] = serde_json::to_value(d).unwrap_or(Value::Null);
        }
        json!({ "error": detail })
    }
}

impl From<psaflow_store::StoreError> for ApiError {
    fn from(e: psaflow_store::StoreError) -> Self {
        ApiError::internal("the run store failed", e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"psaflow\""),
            );
        }
        response
    }
}

/// A JSON request body whose problems (not JSON, wrong shape, too large) answer as
/// [`ApiError`]s instead of axum's plain-text rejections.
pub struct JsonBody<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for JsonBody<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => {
                let status = rejection.status();
                let message = rejection.body_text();
                // 422 (JSON of the wrong shape) is "invalid", as documented for every 422.
                let code = match status {
                    StatusCode::PAYLOAD_TOO_LARGE => "too_large",
                    StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
                    StatusCode::UNPROCESSABLE_ENTITY => "invalid",
                    _ => "bad_request",
                };
                Err(ApiError::new(status, code, message))
            }
        }
    }
}

/// Answers that axum or a library made as plain text (a query string or path that does not
/// parse, a missing content type) become JSON errors like every other: the text is kept as the
/// message. HTML pages of the console and event streams pass untouched.
pub async fn json_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|t| t.starts_with("text/plain"));
    if !(status.is_client_error() || status.is_server_error()) || !plain {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, 64 * 1024).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_string(),
        Err(_) => String::new(),
    };
    let code = match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    };
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("the request failed")
            .to_string()
    } else {
        text
    };
    let mut wrapped = ApiError::new(status, code, message).into_response();
    // Keep headers such as Retry-After and Allow.
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            wrapped.headers_mut().insert(name.clone(), value.clone());
        }
    }
    wrapped
}
