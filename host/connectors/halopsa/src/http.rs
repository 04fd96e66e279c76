//! Small pieces shared by the API client and the token source: reading a response and
//! turning a reqwest failure into a short message that never carries a secret.

use psaflow_core::Secret;
use psaflow_core::TransportError;
use std::time::{Duration, SystemTime};
use url::Url;

/// A response read in full.
pub(crate) struct RawResponse {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: String,
}

/// The largest response body read: a bigger one is refused with a clear error instead of
/// being buffered (a runaway listing or a hostile server cannot exhaust memory).
pub const MAX_BODY_BYTES: usize = 32 << 20;

/// Why a response could not be read.
pub(crate) enum ReadError {
    Http(reqwest::Error),
    /// The body is larger than [`MAX_BODY_BYTES`].
    TooLarge,
}

impl From<reqwest::Error> for ReadError {
    fn from(e: reqwest::Error) -> Self {
        ReadError::Http(e)
    }
}

pub(crate) async fn read(response: reqwest::Response) -> Result<RawResponse, ReadError> {
    read_limited(response, MAX_BODY_BYTES).await
}

pub(crate) async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<RawResponse, ReadError> {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| crate::retry::parse_retry_after(v, SystemTime::now()));
    if response
        .content_length()
        .is_some_and(|n| n > limit as u64)
    {
        return Err(ReadError::TooLarge);
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if bytes.len() + chunk.len() > limit {
            return Err(ReadError::TooLarge);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(RawResponse {
        status,
        retry_after,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    })
}

/// The failure for a body over [`MAX_BODY_BYTES`].
pub(crate) fn too_large(what: &str, url: &Url) -> Failure {
    Failure::TooLarge(format!(
        "the answer of {what} at {} is larger than {} MiB, the most psaflow reads; it was not read (ask for less, e.g. a smaller Count or PageSize)",
        shown(url),
        MAX_BODY_BYTES >> 20
    ))
}

/// How a request failed before a complete response arrived.
#[derive(Debug)]
pub(crate) enum Failure {
    /// No answer within the request timeout.
    Timeout(String),
    /// No connection could be made (refused, DNS, TLS handshake).
    Unreachable(String),
    /// The connection was made but broke before the response was complete.
    Dropped(String),
    /// The answer came but was too large to read.
    TooLarge(String),
}

impl Failure {
    /// The transport error of a request that read nothing (`changes_data` false: a GET or the
    /// token request, which change nothing in HaloPSA) or that may have changed data (a POST or
    /// DELETE: a timeout or a dropped connection after sending leaves its outcome unknown).
    pub(crate) fn into_transport_error(self, changes_data: bool) -> TransportError {
        match self {
            Failure::Timeout(m) | Failure::Dropped(m) | Failure::TooLarge(m) if changes_data => {
                TransportError::UnknownOutcome(m)
            }
            Failure::TooLarge(m) => TransportError::Denied(m),
            Failure::Timeout(m) => TransportError::Timeout(m),
            Failure::Unreachable(m) | Failure::Dropped(m) => TransportError::Unreachable(m),
        }
    }
}

/// Classifies a reqwest error. `what` names the party ("HaloPSA's token endpoint").
pub(crate) fn classify(
    error: &reqwest::Error,
    what: &str,
    url: &Url,
    timeout: Duration,
    secret: &Secret,
) -> Failure {
    let place = shown(url);
    let cause = root_cause(error);
    let failure = if error.is_timeout() {
        Failure::Timeout(format!(
            "{what} at {place} did not answer within {}",
            human(timeout)
        ))
    } else if error.is_builder() {
        Failure::Unreachable(format!(
            "the request to {what} at {place} could not be built ({cause})"
        ))
    } else if error.is_connect() {
        Failure::Unreachable(format!("could not connect to {what} at {place} ({cause})"))
    } else {
        Failure::Dropped(format!(
            "the connection to {what} at {place} broke before the response was complete ({cause})"
        ))
    };
    match failure {
        Failure::Timeout(m) => Failure::Timeout(secret.redact(&m)),
        Failure::Unreachable(m) => Failure::Unreachable(secret.redact(&m)),
        Failure::Dropped(m) => Failure::Dropped(secret.redact(&m)),
        Failure::TooLarge(m) => Failure::TooLarge(secret.redact(&m)),
    }
}

/// The URL without its query string (enough to say where; shorter to read).
fn shown(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

fn root_cause(error: &reqwest::Error) -> String {
    let mut current: &dyn std::error::Error = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

fn human(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}
