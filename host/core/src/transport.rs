//! How the host sends one node request to HaloPSA. Mirrors the WIT `transport` interface;
//! the runtime converts between the two so the HTTP side knows nothing about wasm.

use crate::BoxFuture;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        })
    }
}

/// A request relative to the API base URL (`/Client/7`, not `https://.../api/Client/7`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRequest {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResponse {
    pub status: u16,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// DNS, connect, TLS, dropped connection; also the token endpoint being unreachable.
    #[error("HaloPSA could not be reached: {0}")]
    Unreachable(String),
    #[error("HaloPSA did not answer in time: {0}")]
    Timeout(String),
    /// The host refused to send the request (policy: a path outside the API, plain http to a remote host).
    #[error("request refused by the host: {0}")]
    Denied(String),
    /// The request may have reached HaloPSA but no answer came (a timeout or a dropped
    /// connection after a non-GET request was sent): it may or may not have been applied.
    /// Never re-sent by the transport.
    #[error("the outcome is unknown: {0}")]
    UnknownOutcome(String),
}

/// Sends requests to one HaloPSA API on behalf of nodes. Implementations add the base URL
/// and the token, and handle token refresh, 429/503 backoff and timeouts.
pub trait Transport: Send + Sync {
    fn send(&self, request: ApiRequest) -> BoxFuture<'_, Result<ApiResponse, TransportError>>;
}
