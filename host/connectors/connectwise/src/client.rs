//! `ConnectWiseClient`: the ConnectWise transport. One `send` is:
//!
//! 1. policy: the path stays below the REST base (no `..`, no scheme, no query in the path);
//! 2. the request with `Authorization: Basic base64(company+public:private)`, `clientId`,
//!    `Accept: application/vnd.connectwise.com+json; version=<pinned>` and, with a body,
//!    `Content-Type: application/json`;
//! 3. on 429/503: wait (`Retry-After`, else 1 s, 2 s, 4 s … capped) and retry, up to
//!    `max_attempts`; then the last answer is returned as it is;
//! 4. connection failures become `Unreachable`, time-outs `Timeout`. A connection that broke
//!    mid-way is retried once for GET only: any other method may have been applied.
//!
//! Redirects are not followed, so the credential never travels to another host.

use crate::config::{ConnectionConfig, is_loopback};
use psaflow_core::retry_policy;
use psaflow_core::Secret;
use base64::Engine;
use psaflow_core::{
    ApiRequest, ApiResponse, BoxFuture, Clock, Method, RequestBudget, SystemClock, Transport,
    TransportError, WindowBudget,
};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};
use url::Url;

/// The API version every request pins in its `Accept` header, so a ConnectWise upgrade
/// cannot change the shapes the nodes read.
pub const API_VERSION: &str = "2025.1";

/// How patient the client is.
#[derive(Clone)]
pub struct ClientOptions {
    /// Whole-request limit (connect, send, read the body). Default 30 s.
    pub request_timeout: Duration,
    /// Attempts in total for a request answered 429 or 503. Default 4.
    pub max_attempts: u32,
    /// Longest single wait; a longer `Retry-After` returns the 429 instead. Default 60 s.
    pub max_backoff: Duration,
    /// Time source for waits. Default `SystemClock`.
    pub clock: Arc<dyn Clock>,
    /// The budget every request draws from. `None`: one for the connection's `rate_limit`
    /// when it has one, else no pacing. Pass one to share a budget between clients.
    pub budget: Option<Arc<dyn RequestBudget>>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            request_timeout: Duration::from_secs(30),
            max_attempts: 4,
            max_backoff: Duration::from_secs(60),
            clock: Arc::new(SystemClock::default()),
            budget: None,
        }
    }
}

impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientOptions")
            .field("request_timeout", &self.request_timeout)
            .field("max_attempts", &self.max_attempts)
            .field("max_backoff", &self.max_backoff)
            .field(
                "budget",
                &self.budget.as_ref().map(|b| b.limit().to_string()),
            )
            .finish_non_exhaustive()
    }
}

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// An option is out of range (zero attempts, a zero timeout): what and why.
    #[error("{0}")]
    Options(String),
    /// reqwest could not build its client (TLS roots, proxy settings).
    #[error("the HTTP client could not be set up: {0}")]
    Http(String),
}

/// The ConnectWise transport. Cheap to clone; clones share the HTTP pool and counters.
#[derive(Clone)]
pub struct ConnectWiseClient {
    inner: Arc<Inner>,
}

struct Inner {
    api_url: Url,
    http: reqwest::Client,
    /// `Basic …`: carries the private key, so it is a Secret too.
    authorization: Secret,
    private_key: Secret,
    client_id: String,
    options: ClientOptions,
    budget: Option<Arc<dyn RequestBudget>>,
    requests: AtomicU64,
    retries: AtomicU64,
}

impl fmt::Debug for ConnectWiseClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectWiseClient")
            .field("api_url", &self.inner.api_url.as_str())
            .field("client_id", &self.inner.client_id)
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

/// Counters for benchmarks and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// HTTP requests sent, retries included.
    pub requests: u64,
    /// Retries after 429/503 or a dropped GET.
    pub retries: u64,
}

impl ConnectWiseClient {
    /// A client for the tenant in `config`; refuses options that could never send a request.
    pub fn new(config: ConnectionConfig, options: ClientOptions) -> Result<Self, ClientError> {
        if options.max_attempts == 0 {
            return Err(ClientError::Options(
                "max_attempts must be at least 1".into(),
            ));
        }
        if options.request_timeout.is_zero() {
            return Err(ClientError::Options(
                "request_timeout must be longer than zero".into(),
            ));
        }
        let mut http = reqwest::Client::builder()
            .timeout(options.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("psaflow/", env!("CARGO_PKG_VERSION")));
        // Every request carries the private key (Basic auth). A loopback server is reached
        // over plain http, so it must never go through an HTTP_PROXY from the environment.
        if is_loopback(&config.api_url) {
            http = http.no_proxy();
        }
        let http = http
            .build()
            .map_err(|e| ClientError::Http(config.private_key.redact(&e.to_string())))?;
        let credential = format!(
            "{}+{}:{}",
            config.company_id,
            config.public_key,
            config.private_key.expose()
        );
        let authorization = Secret::new(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(credential)
        ));
        let budget = options.budget.clone().or_else(|| {
            config.rate_limit.map(|limit| {
                Arc::new(WindowBudget::new(limit, options.clock.clone())) as Arc<dyn RequestBudget>
            })
        });
        Ok(ConnectWiseClient {
            inner: Arc::new(Inner {
                api_url: config.api_url,
                http,
                authorization,
                private_key: config.private_key,
                client_id: config.client_id,
                options,
                budget,
                requests: AtomicU64::new(0),
                retries: AtomicU64::new(0),
            }),
        })
    }

    /// The REST base requests go to.
    pub fn api_url(&self) -> &Url {
        &self.inner.api_url
    }

    /// Requests and retries so far.
    pub fn stats(&self) -> Stats {
        Stats {
            requests: self.inner.requests.load(Ordering::Relaxed),
            retries: self.inner.retries.load(Ordering::Relaxed),
        }
    }

    /// The full URL for a request, or why the host refuses it.
    fn url_for(&self, request: &ApiRequest) -> Result<Url, TransportError> {
        let path = &request.path;
        let refuse = |why: &str| {
            Err(TransportError::Denied(format!(
                "the path '{path}' {why}; nodes may only name paths below the ConnectWise REST base"
            )))
        };
        if !path.starts_with('/') {
            return refuse("does not start with '/'");
        }
        if path.contains(['?', '#', '\\']) || path.contains("://") {
            return refuse("contains a query, fragment or scheme");
        }
        if path
            .split('/')
            .any(|segment| segment == ".." || segment == ".")
        {
            return refuse("contains a '.' or '..' segment");
        }
        let mut url = self.inner.api_url.clone();
        url.set_path(&format!("{}{}", self.inner.api_url.path(), path));
        if !request.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&request.query);
        }
        if url.scheme() != "https" && !is_loopback(&url) {
            return Err(TransportError::Denied(
                "plain http is allowed only for loopback addresses".into(),
            ));
        }
        Ok(url)
    }

    async fn send_request(&self, request: ApiRequest) -> Result<ApiResponse, TransportError> {
        let inner = &*self.inner;
        let url = self.url_for(&request)?;
        let mut attempt = 1;
        let mut retried_drop = false;
        loop {
            if let Some(budget) = &inner.budget {
                budget.acquire().await;
            }
            inner.requests.fetch_add(1, Ordering::Relaxed);
            let answer = match self.exchange(&url, &request).await {
                Ok(answer) => {
                    if let Some(budget) = &inner.budget {
                        match answer.status {
                            429 => budget.throttled(answer.retry_after),
                            s if s < 500 => budget.succeeded(),
                            _ => {}
                        }
                    }
                    answer
                }
                Err(Failure::Dropped(message))
                    if request.method == Method::Get && !retried_drop =>
                {
                    retried_drop = true;
                    inner.retries.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(method = %request.method, path = %request.path, "{message}; trying once more");
                    continue;
                }
                Err(failure) => {
                    return Err(failure.into_transport_error(request.method != Method::Get));
                }
            };
            let o = &inner.options;
            if let Some(wait) = retry_policy::wait_before_retry(
                answer.status,
                answer.retry_after,
                attempt,
                o.max_attempts,
                o.max_backoff,
            ) {
                tracing::warn!(
                    method = %request.method, path = %request.path, status = answer.status,
                    wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX), attempt,
                    "ConnectWise is busy; waiting before trying again"
                );
                inner.retries.fetch_add(1, Ordering::Relaxed);
                o.clock.sleep(wait).await;
                attempt += 1;
                continue;
            }
            return Ok(ApiResponse {
                status: answer.status,
                body: answer.body,
                link: answer.link,
            });
        }
    }

    async fn exchange(&self, url: &Url, request: &ApiRequest) -> Result<Answer, Failure> {
        let inner = &*self.inner;
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut builder = inner
            .http
            .request(method, url.clone())
            .header(
                reqwest::header::ACCEPT,
                format!("application/vnd.connectwise.com+json; version={API_VERSION}"),
            )
            .header(reqwest::header::AUTHORIZATION, inner.authorization.expose())
            .header("clientId", &inner.client_id);
        if let Some(body) = &request.body {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let result = async {
            let mut response = builder.send().await?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| retry_policy::parse_retry_after(v, SystemTime::now()));
            // ConnectWise's paging: whether another page exists (the node reads rel="next").
            let link = response
                .headers()
                .get(reqwest::header::LINK)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            // Read at most MAX_BODY_BYTES: a runaway answer must not take the host's memory.
            if response
                .content_length()
                .is_some_and(|n| n > MAX_BODY_BYTES as u64)
            {
                return Ok(Err(()));
            }
            let mut bytes = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                if bytes.len() + chunk.len() > MAX_BODY_BYTES {
                    return Ok(Err(()));
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok::<_, reqwest::Error>(Ok(Answer {
                status,
                retry_after,
                link,
                body: String::from_utf8_lossy(&bytes).into_owned(),
            }))
        }
        .await;
        match result {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(())) => {
                let mut place = url.clone();
                place.set_query(None);
                Err(Failure::TooLarge(format!(
                    "the answer of ConnectWise at {place} is larger than {} MiB, the most psaflow reads; it was not read (ask for less, e.g. a smaller Count or PageSize)",
                    MAX_BODY_BYTES >> 20
                )))
            }
            Err(e) => Err(classify(
                &e,
                url,
                inner.options.request_timeout,
                &inner.private_key,
            )),
        }
    }
}

struct Answer {
    status: u16,
    retry_after: Option<Duration>,
    /// The `Link` header.
    link: Option<String>,
    body: String,
}

/// The most of an answer the client reads (as for HaloPSA).
pub const MAX_BODY_BYTES: usize = 32 << 20;

enum Failure {
    Timeout(String),
    Unreachable(String),
    /// Connected, then the connection broke before the answer was complete.
    Dropped(String),
    /// The answer came but was larger than [`MAX_BODY_BYTES`].
    TooLarge(String),
}

impl Failure {
    /// `changes_data`: the request was a POST, PUT, PATCH or DELETE. A timeout or a broken
    /// connection after such a request was sent leaves its outcome unknown (ConnectWise may
    /// have applied it), so it is never sent again here and the node is told so.
    fn into_transport_error(self, changes_data: bool) -> TransportError {
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

fn classify(error: &reqwest::Error, url: &Url, timeout: Duration, secret: &Secret) -> Failure {
    let mut place = url.clone();
    place.set_query(None);
    let mut cause: &dyn std::error::Error = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let cause = secret.redact(&cause.to_string());
    if error.is_timeout() {
        Failure::Timeout(format!(
            "ConnectWise at {place} did not answer within {}s",
            timeout.as_secs_f64()
        ))
    } else if error.is_connect() || error.is_builder() {
        Failure::Unreachable(format!(
            "could not connect to ConnectWise at {place} ({cause})"
        ))
    } else {
        Failure::Dropped(format!(
            "the connection to ConnectWise at {place} broke before the answer was complete ({cause})"
        ))
    }
}

impl Transport for ConnectWiseClient {
    fn send(&self, request: ApiRequest) -> BoxFuture<'_, Result<ApiResponse, TransportError>> {
        Box::pin(self.send_request(request))
    }
}
