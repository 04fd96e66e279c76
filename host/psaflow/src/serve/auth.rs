//! Who is calling: the API token in `Authorization: Bearer <token>` (or, for the console's
//! GET requests, in its session cookie), checked against the run store's hashes; then its
//! scopes and its rate limit.
use super::app::AppState;
use super::error::ApiError;
use super::tokens::{self, Identity, Scope};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, header};
use psaflow_store::now_ms;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The console's session cookie: the API token itself, HttpOnly and SameSite=Strict.
pub const SESSION_COOKIE: &str = "psaflow_session";

/// How often `last_used_at` is written for one token (not on every request: each write is a
/// committed transaction).
const TOUCH_EVERY_MS: i64 = 60_000;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller(pub Identity);

impl Caller {
    /// 403 unless the token has `scope` (or admin).
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.0.allows(scope) {
            Ok(())
        } else {
            let has: Vec<&str> = self.0.scopes.iter().map(|s| s.as_str()).collect();
            Err(ApiError::forbidden(format!(
                "token '{}' lacks the '{scope}' scope this call needs (it has: {}); make one with psaflow tokens create NAME --scopes {scope}",
                self.0.name,
                has.join(", ")
            )))
        }
    }

    pub fn name(&self) -> &str {
        &self.0.name
    }
}

/// The token a request carries: the bearer header, else (GET only) the console cookie.
pub fn presented_token(parts: &Parts) -> Option<String> {
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        let text = value.to_str().ok()?;
        let (kind, token) = text.split_once(' ')?;
        return kind
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_string());
    }
    // The cookie is sent by the browser on its own, so it authenticates only reads; the
    // console's forms carry a CSRF token and go to console routes that check it.
    if parts.method == Method::GET || parts.method == Method::HEAD {
        return session_cookie(&parts.headers);
    }
    None
}

pub fn session_cookie(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == SESSION_COOKIE && !value.is_empty()).then(|| value.to_string())
        })
}

/// Checks a token against the store: the identity, or 401.
pub async fn authenticate(
    state: &Arc<AppState>,
    token: Option<String>,
) -> Result<Identity, ApiError> {
    let Some(token) = token else {
        return Err(ApiError::unauthorized(
            "this call needs an API token: send Authorization: Bearer <token> (make one with psaflow tokens create NAME --scopes ...)",
        ));
    };
    let store = state.store.clone();
    let all = tokio::task::spawn_blocking(move || store.tokens())
        .await
        .map_err(|e| ApiError::internal("reading the tokens did not finish", e))??;
    let Some(identity) = tokens::find(&all, &token) else {
        return Err(ApiError::unauthorized(
            "the API token is not valid (unknown or revoked)",
        ));
    };
    state.note_use(&identity.name);
    state.limiter.check(&identity.name)?;
    Ok(identity)
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let token = presented_token(parts);
        authenticate(state, token).await.map(Caller)
    }
}

impl AppState {
    /// Writes `last_used_at` at most once a minute per token, off the request's path.
    fn note_use(&self, name: &str) {
        let now = now_ms();
        let mut touched = self.touched.lock().unwrap_or_else(|e| e.into_inner());
        let due = touched
            .get(name)
            .is_none_or(|last| now - *last >= TOUCH_EVERY_MS);
        if due {
            touched.insert(name.to_string(), now);
            let store = self.store.clone();
            let name = name.to_string();
            tokio::task::spawn_blocking(move || {
                if let Err(err) = store.token_used(&name, now) {
                    tracing::warn!(token = %name, error = %err, "could not record the token's last use");
                }
            });
        }
    }
}

/// Per-token request budget: at most `limit` requests in each window of `per`.
pub struct RateLimiter {
    limit: Option<(u32, Duration)>,
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    pub fn new(limit: Option<(u32, Duration)>) -> RateLimiter {
        RateLimiter {
            limit,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// `600/1m`, or `off`.
    pub fn parse(text: &str) -> Result<Option<(u32, Duration)>, String> {
        if text.trim().eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        let bad =
            || format!("--rate-limit {text:?}: write <requests>/<duration>, e.g. 600/1m, or off");
        let (n, per) = text.split_once('/').ok_or_else(bad)?;
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        let per = psaflow_workflow::parse_duration(per.trim()).ok_or_else(bad)?;
        if n == 0 || per.is_zero() {
            return Err(bad());
        }
        Ok(Some((n, per)))
    }

    pub fn check(&self, name: &str) -> Result<(), ApiError> {
        let Some((limit, per)) = self.limit else {
            return Ok(());
        };
        let now = Instant::now();
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let (start, count) = windows.entry(name.to_string()).or_insert((now, 0));
        if now.duration_since(*start) >= per {
            *start = now;
            *count = 0;
        }
        if *count >= limit {
            let wait = per.saturating_sub(now.duration_since(*start));
            metrics::counter!("psaflow_http_rate_limited_total").increment(1);
            let mut err = ApiError::new(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "token '{name}' sent more than {limit} requests in {}; wait {} s",
                    psaflow_workflow::format_duration(per),
                    wait.as_secs().max(1)
                ),
            );
            err.retry_after = Some(wait.as_secs().max(1));
            return Err(err);
        }
        *count += 1;
        Ok(())
    }
}
