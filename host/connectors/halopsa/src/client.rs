//! `HaloClient`: the real HaloPSA transport. One `send` is:
//!
//! 1. policy: the path must stay below the API base, the base must be https (or loopback);
//! 2. a token from [`TokenSource`](crate::token) (cached; fetched once for concurrent callers);
//! 3. the HTTP request, with `Accept: application/json`, `Authorization: <type> <token>` and,
//!    when there is a body, `Content-Type: application/json`;
//! 4. on 401: refresh the token and try once more; a second 401 in the same attempt is
//!    returned as it is;
//! 5. on 429/503: wait (`Retry-After`, else 1 s, 2 s, 4 s … capped) and retry, up to
//!    `max_attempts` in total, taking a fresh-enough token before each attempt (so a token
//!    that expires during a wait is renewed, and each attempt may refresh once after a 401);
//!    then the last response is returned as it is;
//! 6. connection failures become `TransportError::Unreachable`, timeouts
//!    `TransportError::Timeout`. A connection that broke mid-way is retried once for GET. A POST
//!    or DELETE that timed out or lost its connection after it was sent is never sent again: it
//!    may have been applied, so it becomes `TransportError::UnknownOutcome` and the node decides
//!    (a create looks for the record it may have made).
//!
//! Redirects are not followed: a 3xx goes back to the node as it is, so a token is never
//! carried to another host.

use crate::config::ConnectionConfig;
use crate::error::{ConfigError, ConfigOrigin, ProblemKind};
use crate::http::{self, Failure, RawResponse};
use crate::policy;
use crate::retry;
use psaflow_core::Secret;
use crate::stats::{Counters, TransportStats};
use crate::token::{AccessToken, TokenFailure, TokenSettings, TokenSource};
use psaflow_core::{
    ApiRequest, ApiResponse, BoxFuture, Clock, Method, RequestBudget, SystemClock, Transport,
    TransportError, WindowBudget,
};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// How patient the client is.
#[derive(Clone)]
pub struct ClientOptions {
    /// Whole-request limit (connect, send, read the body). Default 30 s.
    pub request_timeout: Duration,
    /// Attempts in total for a request answered 429 or 503 (so 4 = 1 try + 3 retries). Default 4.
    pub max_attempts: u32,
    /// Longest single wait between attempts. Default 60 s. A `Retry-After` longer than this
    /// is not waited for: the 429/503 is returned instead.
    pub max_backoff: Duration,
    /// Refresh the token this long before it expires. Default 60 s.
    pub refresh_margin: Duration,
    /// Time source for waits and token expiry. Default `SystemClock`.
    pub clock: Arc<dyn Clock>,
    /// The budget every API request draws from. `None`: a [`WindowBudget`] for the
    /// connection's `rate_limit` when it has one, else no pacing. Pass one to share a budget
    /// beyond this client (several connections to one tenant, several processes).
    pub budget: Option<Arc<dyn RequestBudget>>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
            max_attempts: 4,
            max_backoff: Duration::from_secs(60),
            refresh_margin: Duration::from_secs(60),
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
            .field("refresh_margin", &self.refresh_margin)
            .field("budget", &self.budget.as_ref().map(|b| b.limit().to_string()))
            .finish_non_exhaustive()
    }
}

/// The real HaloPSA transport. Cheap to clone: clones share the token cache and counters.
#[derive(Clone)]
pub struct HaloClient {
    inner: Arc<Inner>,
}

struct Inner {
    api_url: Url,
    token_url: Url,
    http: reqwest::Client,
    tokens: TokenSource,
    options: ClientOptions,
    /// Drawn from before every API request (never for token requests).
    budget: Option<Arc<dyn RequestBudget>>,
    counters: Arc<Counters>,
    /// Kept only to scrub it from messages we build from text we do not control.
    secret: Secret,
}

impl fmt::Debug for HaloClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HaloClient")
            .field("api_url", &self.inner.api_url.as_str())
            .field("token_url", &self.inner.token_url.as_str())
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl HaloClient {
    /// Checks the configuration (URL policy included) and sets up the HTTP client. Nothing is
    /// sent until the first request.
    pub fn new(config: ConnectionConfig, options: ClientOptions) -> Result<Self, ConfigError> {
        config.validate()?;
        if options.max_attempts == 0 {
            return Err(ConfigError::single(
                ConfigOrigin::Options,
                "max_attempts",
                ProblemKind::Malformed,
                "must be at least 1",
            ));
        }
        if options.request_timeout.is_zero() {
            return Err(ConfigError::single(
                ConfigOrigin::Options,
                "request_timeout",
                ProblemKind::Malformed,
                "must be longer than zero",
            ));
        }
        let token_url = config.token_url();
        let http_client = |url: &url::Url| {
            http_client_for(url, options.request_timeout).map_err(|e| {
                ConfigError::single(
                    ConfigOrigin::HttpClient,
                    "tls",
                    ProblemKind::Malformed,
                    config.client_secret.redact(&e.to_string()),
                )
            })
        };
        let http = http_client(&config.api_url)?;
        let token_http = http_client(&token_url)?;
        let counters = Arc::new(Counters::default());
        let budget = options.budget.clone().or_else(|| {
            config.rate_limit.map(|limit| {
                Arc::new(WindowBudget::new(limit, options.clock.clone())) as Arc<dyn RequestBudget>
            })
        });
        let tokens = TokenSource::new(
            token_http,
            TokenSettings {
                token_url: token_url.clone(),
                client_id: config.client_id.clone(),
                client_secret: config.client_secret.clone(),
                scope: config.scope.clone(),
                refresh_margin: options.refresh_margin,
                request_timeout: options.request_timeout,
                max_attempts: options.max_attempts,
                max_backoff: options.max_backoff,
            },
            options.clock.clone(),
            counters.clone(),
        );
        Ok(Self {
            inner: Arc::new(Inner {
                api_url: config.api_url,
                token_url,
                http,
                tokens,
                options,
                budget,
                counters,
                secret: config.client_secret,
            }),
        })
    }

    /// What this client (and its clones) have done so far.
    pub fn stats(&self) -> TransportStats {
        self.inner.counters.snapshot()
    }

    /// The request budget this client paces itself to, if any.
    pub fn budget(&self) -> Option<&Arc<dyn RequestBudget>> {
        self.inner.budget.as_ref()
    }

    /// The resource server this client talks to.
    pub fn api_url(&self) -> &Url {
        &self.inner.api_url
    }

    async fn send_request(&self, request: ApiRequest) -> Result<ApiResponse, TransportError> {
        let inner = &*self.inner;
        let url = policy::api_url_for(&inner.api_url, &request.path, &request.query)
            .map_err(|v| TransportError::Denied(v.0))?;

        let o = &inner.options;
        let busy = retry::BusyRetry {
            max_attempts: o.max_attempts,
            max_backoff: o.max_backoff,
            clock: &*o.clock,
            counters: &inner.counters,
        };
        let mut attempt = 1;
        // 401 refreshes over the whole request: one per attempt, so at most `max_attempts`.
        let mut refreshes = 0;
        loop {
            // A fresh-enough token before every attempt: a backoff wait may outlast it.
            let mut token = match inner.tokens.token().await {
                Ok(t) => t,
                Err(failure) => return token_failure(failure),
            };
            let mut response = self.send_once(&url, &request, &token).await?;
            if response.status == 401 && refreshes < o.max_attempts {
                // The token was refused (revoked, expired early): one new token, one more try
                // within this attempt. A 401 cannot have changed anything, so resending is safe.
                refreshes += 1;
                inner.counters.refresh_after_401();
                tracing::info!(method = %request.method, path = %request.path, "HaloPSA refused the access token; refreshing it and trying once more");
                token = match inner.tokens.refresh_after_401(token.generation).await {
                    Ok(t) => t,
                    Err(failure) => return token_failure(failure),
                };
                response = self.send_once(&url, &request, &token).await?;
            }

            if busy.waited("HaloPSA", &response, attempt).await {
                attempt += 1;
                continue;
            }

            tracing::debug!(method = %request.method, path = %request.path, status = response.status, "HaloPSA answered");
            return Ok(ApiResponse::new(response.status, response.body));
        }
    }

    /// One HTTP exchange; a connection that broke mid-way is retried once for GET only.
    async fn send_once(
        &self,
        url: &Url,
        request: &ApiRequest,
        token: &AccessToken,
    ) -> Result<RawResponse, TransportError> {
        let inner = &*self.inner;
        // Checked again here in case the base was ever swapped after construction.
        policy::check_transport_security(url).map_err(|v| TransportError::Denied(v.0))?;
        // Only a read is sent again after a broken connection: a POST or DELETE may have been
        // applied before the connection broke.
        let reads_only = request.method == Method::Get;
        let mut retried_drop = false;
        loop {
            if let Some(budget) = &inner.budget {
                budget.acquire().await;
            }
            inner.counters.request();
            match self.exchange(url, request, token).await {
                Ok(response) => {
                    if let Some(budget) = &inner.budget {
                        match response.status {
                            429 => budget.throttled(response.retry_after),
                            s if s < 500 => budget.succeeded(),
                            _ => {}
                        }
                    }
                    return Ok(response);
                }
                Err(Failure::Dropped(message)) if reads_only && !retried_drop => {
                    retried_drop = true;
                    inner.counters.retry();
                    tracing::warn!(method = %request.method, path = %request.path, "{message}; trying once more");
                }
                Err(failure) => return Err(failure.into_transport_error(!reads_only)),
            }
        }
    }

    async fn exchange(
        &self,
        url: &Url,
        request: &ApiRequest,
        token: &AccessToken,
    ) -> Result<RawResponse, Failure> {
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
            .header(reqwest::header::ACCEPT, "application/json")
            .header(reqwest::header::AUTHORIZATION, token.authorization.clone());
        if let Some(body) = &request.body {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let result = match builder.send().await {
            Ok(response) => http::read(response).await,
            Err(e) => Err(e.into()),
        };
        result.map_err(|e| match e {
            http::ReadError::TooLarge => http::too_large("HaloPSA", url),
            http::ReadError::Http(e) => http::classify(
                &e,
                "HaloPSA",
                url,
                inner.options.request_timeout,
                &inner.secret,
            ),
        })
    }
}

fn token_failure(failure: TokenFailure) -> Result<ApiResponse, TransportError> {
    match failure {
        TokenFailure::Rejected(response) => Ok(response),
        TokenFailure::Transport(error) => Err(error),
    }
}

impl Transport for HaloClient {
    fn send(&self, request: ApiRequest) -> BoxFuture<'_, Result<ApiResponse, TransportError>> {
        Box::pin(self.send_request(request))
    }
}

/// The HTTP client for requests to `url`. A loopback server (the sandbox, an SSH-tunnelled
/// on-premises HaloPSA) is always reached directly: an `HTTP_PROXY` from the environment would
/// otherwise receive the client secret and the token in clear text, since loopback is allowed
/// plain `http://`. Remote servers use the proxies of the environment as reqwest reads them
/// (`HTTPS_PROXY`, `ALL_PROXY`, with `NO_PROXY` exceptions); they are `https://`, so a proxy
/// only sees a CONNECT tunnel, not the secret.
fn http_client_for(
    url: &url::Url,
    timeout: std::time::Duration,
) -> Result<reqwest::Client, reqwest::Error> {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("psaflow/", env!("CARGO_PKG_VERSION")));
    if crate::policy::is_loopback(url) {
        builder = builder.no_proxy();
    }
    builder.build()
}
