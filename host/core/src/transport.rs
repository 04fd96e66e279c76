//! How the host sends one node request to HaloPSA. Mirrors the WIT `transport` interface;
//! the runtime converts between the two so the HTTP side knows nothing about wasm.

use crate::BoxFuture;
use std::fmt;

/// An HTTP method a node may use; the same five cases as the WIT `transport` functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Reads; never changes anything, so always safe to repeat.
    Get,
    /// Creates a record (HaloPSA also updates with POST when the body carries an id).
    Post,
    /// Replaces a record (ConnectWise).
    Put,
    /// Changes some fields of a record (ConnectWise JSON Patch).
    Patch,
    /// Removes a record.
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
    /// What to do.
    pub method: Method,
    /// The path below the API base, starting with `/`.
    pub path: String,
    /// Query parameters in the order the node gave them (repeated keys allowed).
    pub query: Vec<(String, String)>,
    /// The JSON body, as text, when the method carries one.
    pub body: Option<String>,
}

/// The API's answer to one request, whatever its status: deciding what a status means is
/// the node's job (through the kit), not the transport's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The response body as text (JSON for HaloPSA and ConnectWise; may be empty).
    pub body: String,
    /// The `Link` response header, where an API that pages by it says whether another page
    /// exists (ConnectWise: `<...page=3>; rel="next"`); `None` when the answer had none.
    pub link: Option<String>,
}

impl ApiResponse {
    /// An answer without a `Link` header.
    pub fn new(status: u16, body: impl Into<String>) -> Self {
        ApiResponse {
            status,
            body: body.into(),
            link: None,
        }
    }
}

/// Why a request got no answer. Each case tells the node (and the retry policy) something
/// different: whether the request was sent, and whether it may have been applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// DNS, connect, TLS, dropped connection; also the token endpoint being unreachable.
    #[error("HaloPSA could not be reached: {0}")]
    Unreachable(String),
    /// The API did not answer in time and the request changed nothing (a read, or a request
    /// that never left the host).
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
    /// Sends one request and waits for the answer, after the implementation's own retries.
    fn send(&self, request: ApiRequest) -> BoxFuture<'_, Result<ApiResponse, TransportError>>;
}
