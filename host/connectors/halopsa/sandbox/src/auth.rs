//! The OAuth2 client_credentials token endpoint and bearer-token checks.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use base64::Engine as _;
use serde_json::{Value, json};

use crate::Shared;
use crate::model::Entity;

/// Issued access tokens. Each remembers the fault epoch it was issued in, so that
/// `Faults::expire_tokens` can invalidate every earlier token without touching this table.
#[derive(Default)]
pub(crate) struct Tokens {
    /// token → (expiry, fault epoch it was issued in, the scope granted).
    live: HashMap<String, (Instant, u64, String)>,
}

impl Tokens {
    #[cfg(test)]
    pub(crate) fn issue(&mut self, ttl: Duration, epoch: u64) -> String {
        self.issue_scoped(ttl, epoch, "all")
    }

    pub(crate) fn issue_scoped(&mut self, ttl: Duration, epoch: u64, scope: &str) -> String {
        let now = Instant::now();
        // Long-running sandboxes (`psaflow sandbox`) would otherwise grow without bound.
        self.live
            .retain(|_, (expiry, issued_in, _)| *expiry > now && *issued_in == epoch);
        let token = random_token();
        let expiry = now
            .checked_add(ttl)
            .unwrap_or(now + Duration::from_secs(3600 * 24 * 365));
        self.live
            .insert(token.clone(), (expiry, epoch, scope.to_owned()));
        token
    }

    #[cfg(test)]
    pub(crate) fn is_valid(&self, token: &str, epoch: u64) -> bool {
        self.scope(token, epoch).is_some()
    }

    /// The scope a live token was granted; `None` when the token is unknown or expired.
    pub(crate) fn scope(&self, token: &str, epoch: u64) -> Option<&str> {
        match self.live.get(token) {
            Some((expiry, issued_in, scope)) if *issued_in == epoch && Instant::now() < *expiry => {
                Some(scope)
            }
            _ => None,
        }
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source is unavailable");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the token endpoint needs from an HTTP request.
pub(crate) struct TokenRequest<'a> {
    pub(crate) query: &'a str,
    pub(crate) body: &'a [u8],
    pub(crate) authorization: Option<&'a str>,
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> (StatusCode, Value) {
    (
        status,
        json!({ "error": error, "error_description": description }),
    )
}

/// Answers `POST /auth/token` (or `/token`) the way Halo's authorisation server does.
pub(crate) fn token(shared: &Shared, req: TokenRequest<'_>) -> (StatusCode, Value) {
    let Ok(form) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(req.body) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The request body must be application/x-www-form-urlencoded.",
        );
    };
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };

    let Some(grant_type) = field("grant_type") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "grant_type is required.",
        );
    };
    if grant_type != "client_credentials" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Only the client_credentials grant is supported.",
        );
    }

    let basic = req.authorization.and_then(basic_credentials);
    let (client_id, client_secret) = match (field("client_id"), field("client_secret")) {
        (Some(id), Some(secret)) => (id.to_owned(), secret.to_owned()),
        _ => match basic {
            Some(pair) => pair,
            None => {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "client_id and client_secret are required.",
                );
            }
        },
    };

    // The tenant may come in the query (HaloAPI, n8n) or the form (pyhalopsa). An on-premise
    // install ignores it, which is why n8n's empty `?tenant=` works there.
    let query_tenant = serde_urlencoded::from_str::<Vec<(String, String)>>(req.query)
        .unwrap_or_default()
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("tenant"))
        .map(|(_, v)| v);
    let tenant = query_tenant
        .filter(|t| !t.is_empty())
        .or_else(|| field("tenant").map(str::to_owned));
    let wrong_tenant = match (&shared.tenant, &tenant) {
        (Some(ours), Some(theirs)) => !ours.eq_ignore_ascii_case(theirs),
        _ => false,
    };

    if client_id != shared.client_id || client_secret != shared.client_secret || wrong_tenant {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed.",
        );
    }

    // The application logs in as the API agent: deactivated, its credentials stop working
    // (seed 000), answered as any client Halo no longer accepts (the reference's 401
    // `invalid_client`).
    if crate::rules::api_agent_disabled(&crate::lock(&shared.store)) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed: the agent this API application logs in as is inactive.",
        );
    }

    let epoch = shared.faults.token_epoch();
    let scope = field("scope").unwrap_or("all");
    let access_token = crate::lock(&shared.tokens).issue_scoped(shared.token_ttl, epoch, scope);
    (
        StatusCode::OK,
        json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": shared.token_ttl.as_secs(),
            "scope": scope,
        }),
    )
}

/// The permission area of an entity in Halo's scope names (`read:agents`, `edit:customers`).
fn scope_area(entity: Entity) -> &'static str {
    match entity {
        Entity::Client | Entity::Site | Entity::User => "customers",
        Entity::Agent => "agents",
        Entity::Team => "teams",
        Entity::Ticket
        | Entity::TicketType
        | Entity::Status
        | Entity::Priority
        | Entity::Action => "tickets",
    }
}

/// The scope a request needs, or `None` when `granted` (space-separated) covers it. Seed 001's
/// table: `read:<area>` for GET, `edit:<area>` for POST and DELETE; `all` (and `all:standard`)
/// covers everything, and an `edit:` scope includes reading.
pub(crate) fn missing_scope(granted: &str, entity: Entity, writes: bool) -> Option<String> {
    let area = scope_area(entity);
    let edit = format!("edit:{area}");
    let read = format!("read:{area}");
    let ok = granted.split_whitespace().any(|s| {
        let s = s.to_ascii_lowercase();
        s == "all" || s == "all:standard" || s == edit || (!writes && s == read)
    });
    (!ok).then_some(if writes { edit } else { read })
}

/// Decodes `Basic base64(client_id:client_secret)`.
fn basic_credentials(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// The token carried by `Authorization: Bearer <token>`, if that is what the header holds.
pub(crate) fn bearer(header: Option<&str>) -> Option<&str> {
    let (scheme, token) = header?.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_long() {
        let mut tokens = Tokens::default();
        let a = tokens.issue(Duration::from_secs(60), 0);
        let b = tokens.issue(Duration::from_secs(60), 0);
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert!(tokens.is_valid(&a, 0));
        assert!(!tokens.is_valid("not-a-token", 0));
    }

    #[test]
    fn a_new_epoch_invalidates_old_tokens() {
        let mut tokens = Tokens::default();
        let a = tokens.issue(Duration::from_secs(60), 0);
        assert!(!tokens.is_valid(&a, 1));
        let b = tokens.issue(Duration::from_secs(60), 1);
        assert!(tokens.is_valid(&b, 1));
    }

    #[test]
    fn zero_ttl_tokens_are_never_valid() {
        let mut tokens = Tokens::default();
        let a = tokens.issue(Duration::ZERO, 0);
        assert!(!tokens.is_valid(&a, 0));
    }

    #[test]
    fn parses_basic_and_bearer_headers() {
        // "id:sec:ret" — the secret may itself contain a colon.
        assert_eq!(
            basic_credentials("Basic aWQ6c2VjOnJldA=="),
            Some(("id".to_owned(), "sec:ret".to_owned()))
        );
        assert_eq!(basic_credentials("Bearer aWQ6c2VjOnJldA=="), None);
        assert_eq!(bearer(Some("bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("Bearer ")), None);
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(None), None);
    }

    #[test]
    fn scopes_follow_the_seed_table() {
        assert_eq!(missing_scope("all", Entity::Agent, true), None);
        assert_eq!(missing_scope("read:agents", Entity::Agent, false), None);
        assert_eq!(
            missing_scope("read:agents read:teams", Entity::Agent, true),
            Some("edit:agents".to_owned())
        );
        assert_eq!(missing_scope("edit:agents", Entity::Agent, false), None);
        assert_eq!(
            missing_scope("edit:agents", Entity::Client, false),
            Some("read:customers".to_owned())
        );
        assert_eq!(missing_scope("read:teams edit:teams", Entity::Team, true), None);
    }
}
