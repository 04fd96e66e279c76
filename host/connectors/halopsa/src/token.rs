//! The OAuth2 access token: fetched with client_credentials, cached, and refreshed here.
//!
//! * **Where the token is refreshed:** [`TokenSource::token`] (proactively, `refresh_margin`
//!   before expiry) and [`TokenSource::refresh_after_401`] (when the API rejected it).
//! * **Single flight:** the cache sits behind one async mutex, held while a fetch runs. When 50
//!   requests start together, the first fetches and the other 49 wait, then reuse its token.
//!   After a 401 only the first caller fetches; the rest see the token has already been
//!   replaced (its generation changed) and use the new one.
//! * **Rejected credentials are not errors:** a token endpoint that says 400/401
//!   `{"error": ...}` becomes an `ApiResponse` with that status and an explanatory JSON body,
//!   so the node reports it like any other API error. Only an unreachable or silent token
//!   endpoint is a `TransportError`.
//! * Token endpoint 429/503 answers are retried like API answers (see `retry.rs`).
//! * Time comes from the client's `Clock`, so expiry can be tested with a virtual clock.

use crate::http::{self, RawResponse};
use crate::retry;
use psaflow_core::Secret;
use crate::stats::Counters;
use psaflow_core::{ApiResponse, Clock, TransportError};
use reqwest::header::HeaderValue;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use url::Url;

/// The `source` of the answers a node gets when the token endpoint gave no token (see
/// [`TokenFailure::Rejected`]); the node kit reads it.
pub const TOKEN_ENDPOINT_SOURCE: &str = "token_endpoint";

/// A token ready to use: the whole `Authorization` header value.
#[derive(Debug)]
pub(crate) struct AccessToken {
    /// `"<token_type> <access_token>"`, e.g. `Bearer eyJ…`, marked sensitive (prints as `Sensitive`).
    pub authorization: HeaderValue,
    /// Increases with every fetch; tells a stale token from its replacement.
    pub generation: u64,
}

/// Why no token could be had.
#[derive(Debug)]
pub(crate) enum TokenFailure {
    /// The token endpoint answered, but not with a token. Given to the node as the API's answer.
    Rejected(ApiResponse),
    /// The token endpoint could not be reached or did not answer in time.
    Transport(TransportError),
}

pub(crate) struct TokenSettings {
    pub token_url: Url,
    pub client_id: String,
    pub client_secret: Secret,
    pub scope: String,
    pub refresh_margin: Duration,
    pub request_timeout: Duration,
    pub max_attempts: u32,
    pub max_backoff: Duration,
}

pub(crate) struct TokenSource {
    http: reqwest::Client,
    settings: TokenSettings,
    clock: Arc<dyn Clock>,
    counters: Arc<Counters>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    current: Option<Cached>,
    generation: u64,
}

struct Cached {
    token: Arc<AccessToken>,
    /// Clock time from which the token counts as due for refresh; `None` when the token
    /// endpoint gave no lifetime (then only a 401 replaces it).
    refresh_at: Option<Duration>,
}

impl Cached {
    fn is_fresh(&self, now: Duration) -> bool {
        self.refresh_at.is_none_or(|at| now < at)
    }
}

/// The longest token lifetime believed: longer `expires_in` values count as a day.
pub(crate) const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// A finite number of seconds sent as a float, rounded down; negatives are 0.
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "saturating is intended: clamp_lifetime caps the result at a day anyway"
)]
fn whole_seconds(seconds: f64) -> u64 {
    seconds.max(0.0) as u64
}

fn clamp_lifetime(seconds: u64) -> Duration {
    Duration::from_secs(seconds).min(MAX_TOKEN_LIFETIME)
}

/// The lifetime assumed usable: `refresh_margin` before expiry, but never less than half the
/// lifetime (a token that lives 60 s with a 60 s margin would otherwise be fetched every time).
fn refresh_after(lifetime: Duration, margin: Duration) -> Duration {
    lifetime - margin.min(lifetime / 2)
}

impl TokenSource {
    pub(crate) fn new(
        http: reqwest::Client,
        settings: TokenSettings,
        clock: Arc<dyn Clock>,
        counters: Arc<Counters>,
    ) -> Self {
        Self {
            http,
            settings,
            clock,
            counters,
            state: Mutex::new(State::default()),
        }
    }

    /// A valid token: the cached one, or a new one when none is cached or it is within
    /// `refresh_margin` of expiry.
    pub(crate) async fn token(&self) -> Result<Arc<AccessToken>, TokenFailure> {
        let mut state = self.state.lock().await;
        if let Some(cached) = &state.current
            && cached.is_fresh(self.clock.elapsed())
        {
            return Ok(cached.token.clone());
        }
        self.fetch_into(&mut state).await
    }

    /// The API answered 401 to the token with generation `rejected`: fetch a new one, unless
    /// another request already did.
    pub(crate) async fn refresh_after_401(
        &self,
        rejected: u64,
    ) -> Result<Arc<AccessToken>, TokenFailure> {
        let mut state = self.state.lock().await;
        if let Some(cached) = &state.current
            && cached.token.generation != rejected
            && cached.is_fresh(self.clock.elapsed())
        {
            return Ok(cached.token.clone());
        }
        self.fetch_into(&mut state).await
    }

    /// Fetches a token and caches it. Called with the lock held: this is the single flight.
    async fn fetch_into(&self, state: &mut State) -> Result<Arc<AccessToken>, TokenFailure> {
        let started = self.clock.elapsed();
        let (authorization, lifetime) = self.fetch().await?;
        state.generation += 1;
        let token = Arc::new(AccessToken {
            authorization,
            generation: state.generation,
        });
        let refresh_at = lifetime.map(|l| {
            started.saturating_add(refresh_after(l, self.settings.refresh_margin))
        });
        state.current = Some(Cached {
            token: token.clone(),
            refresh_at,
        });
        tracing::debug!(
            generation = state.generation,
            lifetime_s = lifetime.map(|l| l.as_secs()),
            "fetched a HaloPSA access token"
        );
        Ok(token)
    }

    /// One client_credentials exchange, with 429/503 retries.
    async fn fetch(&self) -> Result<(HeaderValue, Option<Duration>), TokenFailure> {
        let s = &self.settings;
        crate::policy::check_transport_security(&s.token_url)
            .map_err(|v| TokenFailure::Transport(TransportError::Denied(v.0)))?;
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", s.client_id.as_str()),
            ("client_secret", s.client_secret.expose()),
            ("scope", s.scope.as_str()),
        ];
        let busy = retry::BusyRetry {
            max_attempts: s.max_attempts,
            max_backoff: s.max_backoff,
            clock: &*self.clock,
            counters: &self.counters,
        };
        let mut attempt = 1;
        loop {
            self.counters.token_fetch();
            let sent = self
                .http
                .post(s.token_url.clone())
                .header(reqwest::header::ACCEPT, "application/json")
                .form(&form)
                .send()
                .await;
            let response = match sent {
                Ok(r) => http::read(r).await,
                Err(e) => Err(e.into()),
            }
            .map_err(|e| {
                let failure = match e {
                    http::ReadError::TooLarge => {
                        http::too_large("HaloPSA's token endpoint", &s.token_url)
                    }
                    http::ReadError::Http(e) => http::classify(
                        &e,
                        "HaloPSA's token endpoint",
                        &s.token_url,
                        s.request_timeout,
                        &s.client_secret,
                    ),
                };
                TokenFailure::Transport(failure.into_transport_error(false))
            })?;

            if (200..300).contains(&response.status) {
                return self.accept(&response);
            }
            if busy.waited("HaloPSA's token endpoint", &response, attempt).await {
                attempt += 1;
                continue;
            }
            tracing::warn!(
                status = response.status,
                "HaloPSA's token endpoint refused the token request"
            );
            return Err(TokenFailure::Rejected(self.rejection(&response)));
        }
    }

    /// Reads a 2xx token response.
    fn accept(
        &self,
        response: &RawResponse,
    ) -> Result<(HeaderValue, Option<Duration>), TokenFailure> {
        let parsed: Option<Value> = serde_json::from_str(&response.body).ok();
        let field = |name: &str| parsed.as_ref().and_then(|v| v.get(name));
        let invalid = |what: &str| {
            TokenFailure::Rejected(ApiResponse {
                status: 502,
                link: None,
                body: json!({
                    "source": TOKEN_ENDPOINT_SOURCE,
                    "error": "invalid_token_response",
                    "message": format!(
                        "HaloPSA's token endpoint answered {} {what}; no request was sent to the API",
                        response.status
                    ),
                })
                .to_string(),
            })
        };
        let access_token = field("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty());
        let Some(access_token) = access_token else {
            return Err(invalid("without an access_token"));
        };
        let token_type = field("token_type")
            .and_then(Value::as_str)
            .filter(|t| !t.trim().is_empty())
            .unwrap_or("Bearer");
        // expires_in is a number of seconds; some servers send it as a string. Clamped to a
        // day, so an absurd value cannot overflow the refresh instant or keep a token forever.
        let lifetime = field("expires_in")
            .and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(whole_seconds))
                    .or_else(|| v.as_str()?.trim().parse().ok())
            })
            .map(clamp_lifetime);
        let mut header = HeaderValue::from_str(&format!("{} {access_token}", token_type.trim()))
            .map_err(|_| invalid("with an access_token that cannot be sent in a header"))?;
        header.set_sensitive(true);
        Ok((header, lifetime))
    }

    /// The answer a node sees when the token endpoint would not give a token.
    fn rejection(&self, response: &RawResponse) -> ApiResponse {
        let s = &self.settings;
        let parsed: Option<Value> = serde_json::from_str(&response.body).ok();
        let text = |name: &str| {
            parsed
                .as_ref()
                .and_then(|v| v.get(name))
                .and_then(Value::as_str)
                .map(|t| s.client_secret.redact(t))
        };
        let server_error = text("error");
        let description = text("error_description");
        let credentials = "HaloPSA's token endpoint rejected the client credentials (check HALOPSA_CLIENT_ID and HALOPSA_CLIENT_SECRET)";

        let (error, message) = match (response.status, server_error.as_deref()) {
            (_, Some(e @ ("invalid_client" | "unauthorized_client"))) => {
                (e.to_owned(), credentials.to_owned())
            }
            (_, Some(e @ "invalid_scope")) => (
                e.to_owned(),
                format!(
                    "HaloPSA's token endpoint rejected the scope {:?} (check HALOPSA_SCOPE)",
                    s.scope
                ),
            ),
            (400 | 401 | 403, Some(e)) => (
                e.to_owned(),
                format!("HaloPSA's token endpoint refused the token request ({e})"),
            ),
            (401, None) => ("invalid_client".to_owned(), credentials.to_owned()),
            (400 | 403, None) => (
                "token_request_rejected".to_owned(),
                format!(
                    "HaloPSA's token endpoint refused the token request with status {}",
                    response.status
                ),
            ),
            (404, _) => (
                "token_endpoint_not_found".to_owned(),
                format!(
                    "HaloPSA's token endpoint {} answered 404 (check HALOPSA_AUTH_URL and HALOPSA_TENANT)",
                    s.token_url
                ),
            ),
            (status, _) => (
                "token_endpoint_error".to_owned(),
                format!(
                    "HaloPSA's token endpoint answered {status}; no request was sent to the API"
                ),
            ),
        };
        // `source` tells nodes the answer is the token endpoint's, not the API's: its 404 means
        // a wrong auth URL, never a missing record.
        let mut body = json!({ "error": error, "message": message, "source": TOKEN_ENDPOINT_SOURCE });
        if let Some(d) = description {
            body["error_description"] = Value::String(d);
        }
        ApiResponse::new(response.status, body.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_point_respects_margin_but_not_below_half_the_lifetime() {
        let s = Duration::from_secs;
        assert_eq!(refresh_after(s(3600), s(60)), s(3540));
        assert_eq!(refresh_after(s(60), s(60)), s(30));
        assert_eq!(refresh_after(s(0), s(60)), s(0));
    }

    #[test]
    fn lifetimes_are_clamped_to_a_day() {
        assert_eq!(clamp_lifetime(3600), Duration::from_secs(3600));
        assert_eq!(clamp_lifetime(u64::MAX), MAX_TOKEN_LIFETIME);
        // The refresh instant of the longest lifetime cannot overflow the clock.
        let at = Duration::MAX.saturating_add(refresh_after(MAX_TOKEN_LIFETIME, Duration::from_secs(60)));
        assert_eq!(at, Duration::MAX);
    }

    #[test]
    fn token_without_lifetime_stays_fresh_until_rejected() {
        let cached = Cached {
            token: Arc::new(AccessToken {
                authorization: HeaderValue::from_static("Bearer x"),
                generation: 1,
            }),
            refresh_at: None,
        };
        assert!(cached.is_fresh(Duration::from_secs(1_000_000)));
        let timed = Cached {
            refresh_at: Some(Duration::from_secs(10)),
            ..cached
        };
        assert!(timed.is_fresh(Duration::from_secs(9)));
        assert!(!timed.is_fresh(Duration::from_secs(10)));
    }
}
