//! Connection settings: from the environment, from a connection file, and the URL shapes.
//!
//! # Environment
//!
//! | variable | meaning |
//! |---|---|
//! | `HALOPSA_API_URL` | resource server, e.g. `https://acme.halopsa.com/api` (required) |
//! | `HALOPSA_AUTH_URL` | authorisation server, e.g. `https://acme.halopsa.com/auth`; derived from the API URL when unset |
//! | `HALOPSA_TENANT` | hosted tenant; sent as `?tenant=<value>` on the token request |
//! | `HALOPSA_CLIENT_ID`, `HALOPSA_CLIENT_SECRET` | client_credentials (required) |
//! | `HALOPSA_SCOPE` | default `all` |
//!
//! With none of them set, [`ConnectionConfig::from_env`] returns `Ok(None)` and the caller uses
//! the embedded sandbox. A variable set to an empty (or blank) value counts as not set. Values
//! are trimmed.
//!
//! # URL shapes
//!
//! The token URL is always `<auth_url>/token`, plus `?tenant=<tenant>` when a tenant is set:
//!
//! * hosted by Halo: API `https://acme.halopsa.com/api`, auth `https://acme.halopsa.com/auth`,
//!   tenant `acme` → `https://acme.halopsa.com/auth/token?tenant=acme`
//! * on-premises: API `https://halo.example.com/api`, auth `https://halo.example.com/auth`, no
//!   tenant → `https://halo.example.com/auth/token`
//! * trial tenants: the authorisation server is a **separate host without `/auth`**, e.g.
//!   `https://uk-trial.halopsa.com` → `https://uk-trial.halopsa.com/token?tenant=T`. It cannot be
//!   derived from the API URL, so `HALOPSA_AUTH_URL` (or `auth_url` in the file) must be set.
//!
//! When the auth URL is not given it is derived from the API URL by replacing a final `/api`
//! path segment with `/auth` (`https://x.halopsa.com/api` → `https://x.halopsa.com/auth`).
//! Halo shows both values under Configuration > Integrations > Halo API > API Details.
//!
//! # Connection file
//!
//! A TOML file with the same fields. The secret is **not** in the file: the file names the
//! environment variable that holds it.
//!
//! ```toml
//! api_url = "https://acme.halopsa.com/api"
//! auth_url = "https://acme.halopsa.com/auth"      # optional, derived from api_url when absent
//! tenant = "acme"                                 # optional, hosted tenants only
//! client_id = "4f1c…"
//! client_secret_env = "HALOPSA_CLIENT_SECRET"     # optional, this is the default
//! scope = "all"                                   # optional, this is the default
//! ```
//!
//! `host/connectors/halopsa/connection.example.toml` is a commented example.
//!
//! A `client_secret` key is refused, and so is any key not listed above (typos such as
//! `tennant` would otherwise be silently ignored).

use crate::error::{ConfigError, ConfigOrigin, Problem, ProblemKind};
use crate::policy;
use psaflow_core::Secret;
use psaflow_core::RateLimit;
use std::path::Path;
use url::Url;

/// The resource server, `https://<host>/api`.
pub const ENV_API_URL: &str = "HALOPSA_API_URL";
/// The authorisation server, when it cannot be derived from the API URL (trial tenants).
pub const ENV_AUTH_URL: &str = "HALOPSA_AUTH_URL";
/// The hosted tenant name, sent with the token request.
pub const ENV_TENANT: &str = "HALOPSA_TENANT";
/// The OAuth client id of the API application.
pub const ENV_CLIENT_ID: &str = "HALOPSA_CLIENT_ID";
/// The OAuth client secret (the only secret; never written in a file).
pub const ENV_CLIENT_SECRET: &str = "HALOPSA_CLIENT_SECRET";
/// The OAuth scopes, space-separated.
pub const ENV_SCOPE: &str = "HALOPSA_SCOPE";
/// The request budget, `<requests>/<span>` (`500/3m`) or `off`. Setting it alone does not
/// configure a tenant.
pub const ENV_RATE_LIMIT: &str = "HALOPSA_RATE_LIMIT";
/// Every variable [`ConnectionConfig::from_env`] reads.
pub const ENV_VARS: [&str; 6] = [
    ENV_API_URL,
    ENV_AUTH_URL,
    ENV_TENANT,
    ENV_CLIENT_ID,
    ENV_CLIENT_SECRET,
    ENV_SCOPE,
];

/// The scope asked for when none is set: what the API application was granted.
pub const DEFAULT_SCOPE: &str = "all";
/// The variable a connection file reads the secret from unless it names another.
pub const DEFAULT_CLIENT_SECRET_ENV: &str = ENV_CLIENT_SECRET;

const FILE_KEYS: [&str; 7] = [
    "rate_limit",
    "api_url",
    "auth_url",
    "tenant",
    "client_id",
    "client_secret_env",
    "scope",
];

/// Everything needed to reach one HaloPSA instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionConfig {
    /// Resource server, e.g. `https://acme.halopsa.com/api`. Request paths are relative to it.
    pub api_url: Url,
    /// Authorisation server, e.g. `https://acme.halopsa.com/auth`; see [`ConnectionConfig::token_url`].
    pub auth_url: Url,
    /// Hosted tenant name; `None` on-premises.
    pub tenant: Option<String>,
    /// The OAuth client id.
    pub client_id: String,
    /// The OAuth client secret.
    pub client_secret: Secret,
    /// Space-separated OAuth scopes; `all` by default.
    pub scope: String,
    /// At most this many API requests in any span of its length (token requests not counted).
    /// `HALOPSA_RATE_LIMIT` / `rate_limit` in a file; [`RateLimit::HOSTED_HALOPSA`] by default
    /// for hosted tenants (a tenant name, or a `*.halopsa.com` API host); `None` when turned
    /// `off` or for an on-premises install that sets none.
    pub rate_limit: Option<RateLimit>,
}

impl ConnectionConfig {
    /// Reads the `HALOPSA_*` variables through `lookup`.
    ///
    /// `Ok(None)` when none is set (the caller then uses the embedded sandbox). When some are
    /// set, the error names every missing or malformed variable.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        if ENV_VARS.iter().all(|name| get(name).is_none()) {
            return Ok(None);
        }
        let raw = Raw {
            api_url: Field::unlined(get(ENV_API_URL)),
            auth_url: Field::unlined(get(ENV_AUTH_URL)),
            tenant: Field::unlined(get(ENV_TENANT)),
            client_id: Field::unlined(get(ENV_CLIENT_ID)),
            scope: Field::unlined(get(ENV_SCOPE)),
            rate_limit: Field::unlined(get(ENV_RATE_LIMIT)),
            client_secret: get(ENV_CLIENT_SECRET).map(Secret::new),
        };
        let labels = Labels {
            rate_limit: ENV_RATE_LIMIT,
            api_url: ENV_API_URL,
            auth_url: ENV_AUTH_URL,
            tenant: ENV_TENANT,
            client_id: ENV_CLIENT_ID,
            client_secret: ENV_CLIENT_SECRET,
        };
        assemble(raw, &labels, Vec::new(), ConfigOrigin::Environment).map(Some)
    }

    /// [`ConnectionConfig::from_env`] over the process environment.
    pub fn from_process_env() -> Result<Option<Self>, ConfigError> {
        Self::from_env(|name| std::env::var(name).ok())
    }

    /// Reads a TOML connection file (see the module docs); the secret comes from the
    /// environment variable the file names, read through `lookup`.
    pub fn from_file(
        path: impl AsRef<Path>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let origin = ConfigOrigin::File(path.to_path_buf());
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::single(
                origin.clone(),
                "file",
                ProblemKind::Unreadable,
                format!("cannot be read: {e}"),
            )
        })?;
        parse_file(&text, origin, lookup)
    }

    /// Reads a workflow's `connection:` block; the secret comes from the environment variable
    /// the block names in `client_secret_env` (default [`DEFAULT_CLIENT_SECRET_ENV`]), read
    /// through `lookup`. The error names every problem at once, as for files and variables.
    pub fn from_workflow_block(
        block: &WorkflowBlock<'_>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let field = |value: Option<&str>| {
            Field::unlined(value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()))
        };
        let mut problems = Vec::new();
        let secret_env = field(block.client_secret_env);
        let client_secret = secret_from_env(
            &secret_env,
            "connection.client_secret_env",
            &lookup,
            &mut problems,
        );
        let raw = Raw {
            api_url: field(block.api_url),
            auth_url: field(block.auth_url),
            tenant: field(block.tenant),
            client_id: field(block.client_id),
            scope: field(block.scope),
            // A block has no rate_limit key, and its connection has never been paced.
            rate_limit: Field::unlined(Some("off".to_owned())),
            client_secret,
        };
        let labels = Labels {
            rate_limit: "connection.rate_limit",
            api_url: "connection.api_url",
            auth_url: "connection.auth_url",
            tenant: "connection.tenant",
            client_id: "connection.client_id",
            client_secret: "connection.client_secret_env",
        };
        assemble(raw, &labels, problems, ConfigOrigin::Workflow)
    }

    /// `<auth_url>/token`, plus `?tenant=<tenant>` when a tenant is set.
    pub fn token_url(&self) -> Url {
        let mut url = self.auth_url.clone();
        let base = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base}/token"));
        url.set_query(None);
        url.set_fragment(None);
        if let Some(tenant) = &self.tenant {
            url.query_pairs_mut().append_pair("tenant", tenant);
        }
        url
    }

    /// Derives the authorisation server from the API URL: a final `/api` segment becomes
    /// `/auth`. `None` when the API URL's path does not end in `/api`.
    pub fn derive_auth_url(api_url: &Url) -> Option<Url> {
        let path = api_url.path().trim_end_matches('/');
        let (head, last) = path.rsplit_once('/')?;
        if !last.eq_ignore_ascii_case("api") {
            return None;
        }
        let mut url = api_url.clone();
        url.set_path(&format!("{head}/auth"));
        url.set_query(None);
        url.set_fragment(None);
        Some(url)
    }

    /// Applies the URL policy (https required except for loopback hosts; no credentials,
    /// query or fragment in the URLs) and checks that the credentials are not empty.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        url_problems(&self.api_url, "api_url", None, UrlRole::Api, &mut problems);
        url_problems(
            &self.auth_url,
            "auth_url",
            None,
            UrlRole::Auth,
            &mut problems,
        );
        if self.client_id.trim().is_empty() {
            problems.push(problem("client_id", ProblemKind::Missing, "is empty", None));
        }
        if self.client_secret.expose().trim().is_empty() {
            problems.push(problem(
                "client_secret",
                ProblemKind::Missing,
                "is empty",
                None,
            ));
        }
        if self.scope.trim().is_empty() {
            problems.push(problem(
                "scope",
                ProblemKind::Malformed,
                "is empty (HaloPSA's usual scope is \"all\")",
                None,
            ));
        }
        finish(problems, &self.client_secret, ConfigOrigin::Settings)
    }
}

/// The fields of a workflow's `connection:` block, as written. It never holds the secret,
/// only the name of the variable to read it from.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorkflowBlock<'a> {
    /// `api_url:`.
    pub api_url: Option<&'a str>,
    /// `auth_url:`.
    pub auth_url: Option<&'a str>,
    /// `tenant:`.
    pub tenant: Option<&'a str>,
    /// `client_id:`.
    pub client_id: Option<&'a str>,
    /// `client_secret_env:`: the variable holding the secret (a `HALOPSA_*` name).
    pub client_secret_env: Option<&'a str>,
    /// `scope:`.
    pub scope: Option<&'a str>,
}

/// One raw value and, for files, the line it was found on.
struct Field {
    value: Option<String>,
    line: Option<usize>,
}

impl Field {
    fn unlined(value: Option<String>) -> Self {
        Self { value, line: None }
    }
}

struct Raw {
    api_url: Field,
    auth_url: Field,
    tenant: Field,
    client_id: Field,
    scope: Field,
    /// `500/3m`, `off`, or absent (the default applies).
    rate_limit: Field,
    client_secret: Option<Secret>,
}

/// How each field is called where it came from (environment variable or file key).
struct Labels {
    rate_limit: &'static str,
    api_url: &'static str,
    auth_url: &'static str,
    tenant: &'static str,
    client_id: &'static str,
    client_secret: &'static str,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum UrlRole {
    Api,
    Auth,
}

fn problem(
    field: &str,
    kind: ProblemKind,
    message: impl Into<String>,
    line: Option<usize>,
) -> Problem {
    Problem {
        field: field.to_owned(),
        kind,
        message: message.into(),
        line,
    }
}

/// Turns raw values into a config, collecting every problem (`problems` may already hold some).
fn assemble(
    raw: Raw,
    labels: &Labels,
    mut problems: Vec<Problem>,
    origin: ConfigOrigin,
) -> Result<ConnectionConfig, ConfigError> {
    let api_url = match &raw.api_url.value {
        None => {
            problems.push(problem(
                labels.api_url,
                ProblemKind::Missing,
                "not set (e.g. https://acme.halopsa.com/api)",
                None,
            ));
            None
        }
        Some(text) => parse_url(
            text,
            labels.api_url,
            raw.api_url.line,
            UrlRole::Api,
            &mut problems,
        ),
    };

    let auth_url = match &raw.auth_url.value {
        Some(text) => parse_url(
            text,
            labels.auth_url,
            raw.auth_url.line,
            UrlRole::Auth,
            &mut problems,
        ),
        None => match &api_url {
            Some(api) => match ConnectionConfig::derive_auth_url(api) {
                Some(derived) => Some(derived),
                None => {
                    problems.push(problem(
                        labels.auth_url,
                        ProblemKind::Missing,
                        format!(
                            "not set, and it cannot be derived from {} because that path does not end in /api; \
                             set it to the authorisation server shown in HaloPSA under Halo API > API Details \
                             (trial tenants use a separate auth host such as https://uk-trial.halopsa.com)",
                            labels.api_url
                        ),
                        None,
                    ));
                    None
                }
            },
            // The API URL problem is already reported; nothing to derive from.
            None => None,
        },
    };

    let client_id = raw.client_id.value.clone();
    if client_id.is_none() {
        problems.push(problem(
            labels.client_id,
            ProblemKind::Missing,
            "not set",
            None,
        ));
    }
    // (A connection file reports a missing secret itself, naming the variable it looked in.)
    if raw.client_secret.is_none() && !problems.iter().any(|p| p.field == labels.client_secret) {
        problems.push(problem(
            labels.client_secret,
            ProblemKind::Missing,
            "not set",
            None,
        ));
    }
    let tenant = raw.tenant.value.clone();
    if let Some(t) = &tenant
        && t.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        problems.push(problem(
            labels.tenant,
            ProblemKind::Malformed,
            "contains whitespace",
            raw.tenant.line,
        ));
    }
    let scope = raw
        .scope
        .value
        .clone()
        .unwrap_or_else(|| DEFAULT_SCOPE.to_owned());

    let rate_limit = read_rate_limit(&raw.rate_limit, labels.rate_limit, &mut problems);

    let secret = raw.client_secret.clone().unwrap_or_else(|| Secret::new(""));
    finish(problems, &secret, origin)?;
    let api_url = api_url.expect("no problems means the API URL parsed");
    let rate_limit = match rate_limit {
        RateLimitSetting::Default if is_hosted(&api_url, tenant.as_deref()) => {
            Some(RateLimit::HOSTED_HALOPSA)
        }
        RateLimitSetting::Default | RateLimitSetting::Off => None,
        RateLimitSetting::Set(limit) => Some(limit),
    };
    Ok(ConnectionConfig {
        api_url,
        rate_limit,
        auth_url: auth_url.expect("no problems means the auth URL is known"),
        tenant,
        client_id: client_id.expect("no problems means the client id is set"),
        client_secret: secret,
        scope,
    })
}

/// What the user said about the request budget.
enum RateLimitSetting {
    Default,
    Off,
    Set(RateLimit),
}

fn read_rate_limit(field: &Field, label: &str, problems: &mut Vec<Problem>) -> RateLimitSetting {
    let Some(text) = &field.value else {
        return RateLimitSetting::Default;
    };
    if text.eq_ignore_ascii_case("off") || text.eq_ignore_ascii_case("none") {
        return RateLimitSetting::Off;
    }
    match text.parse::<RateLimit>() {
        Ok(limit) => RateLimitSetting::Set(limit),
        Err(e) => {
            problems.push(problem(
                label,
                ProblemKind::Malformed,
                format!("{e}, or off"),
                field.line,
            ));
            RateLimitSetting::Default
        }
    }
}

/// Hosted tenants are throttled per API application; on-premises installs are not by default.
fn is_hosted(api_url: &Url, tenant: Option<&str>) -> bool {
    tenant.is_some()
        || api_url
            .host_str()
            .is_some_and(|h| h.to_ascii_lowercase().ends_with(".halopsa.com"))
}

fn finish(
    problems: Vec<Problem>,
    secret: &Secret,
    origin: ConfigOrigin,
) -> Result<(), ConfigError> {
    if problems.is_empty() {
        return Ok(());
    }
    let problems = problems
        .into_iter()
        .map(|p| Problem {
            message: secret.redact(&p.message),
            ..p
        })
        .collect();
    Err(ConfigError::new(origin, problems))
}

fn parse_url(
    text: &str,
    label: &str,
    line: Option<usize>,
    role: UrlRole,
    problems: &mut Vec<Problem>,
) -> Option<Url> {
    let example = match role {
        UrlRole::Api => "https://acme.halopsa.com/api",
        UrlRole::Auth => "https://acme.halopsa.com/auth",
    };
    match Url::parse(text) {
        Err(e) => {
            // The value itself is not echoed: it might be a pasted secret or carry a password.
            problems.push(problem(
                label,
                ProblemKind::Malformed,
                format!("is not a valid absolute URL ({e}); expected something like {example}"),
                line,
            ));
            None
        }
        Ok(url) => {
            let before = problems.len();
            url_problems(&url, label, line, role, problems);
            (problems.len() == before).then_some(url)
        }
    }
}

fn url_problems(
    url: &Url,
    label: &str,
    line: Option<usize>,
    role: UrlRole,
    problems: &mut Vec<Problem>,
) {
    if let Err(violation) = policy::check_transport_security(url) {
        problems.push(problem(label, ProblemKind::Insecure, violation.0, line));
        return;
    }
    if url.cannot_be_a_base() {
        problems.push(problem(
            label,
            ProblemKind::Malformed,
            "is not a hierarchical http(s) URL",
            line,
        ));
        return;
    }
    if url.query().is_some() || url.fragment().is_some() {
        let hint = match role {
            UrlRole::Api => "",
            UrlRole::Auth => " (the tenant has its own setting)",
        };
        problems.push(problem(
            label,
            ProblemKind::Malformed,
            format!("must not carry a query or fragment{hint}"),
            line,
        ));
    }
    if role == UrlRole::Auth {
        let path = url.path().trim_end_matches('/');
        if path
            .rsplit('/')
            .next()
            .is_some_and(|last| last.eq_ignore_ascii_case("token"))
        {
            problems.push(problem(
                label,
                ProblemKind::Malformed,
                "is the token endpoint; give the authorisation server instead (drop the trailing /token, psaflow adds it)",
                line,
            ));
        }
    }
}

fn parse_file(
    text: &str,
    origin: ConfigOrigin,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<ConnectionConfig, ConfigError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|span| line_at(text, span.start));
        // Only the parser's message, never the offending source line: it could hold anything.
        let message = format!(
            "is not valid TOML: {}",
            e.message().trim().replace('\n', "; ")
        );
        ConfigError::new(
            origin.clone(),
            vec![problem("file", ProblemKind::Unreadable, message, line)],
        )
    })?;

    let mut problems = Vec::new();
    for key in table.keys() {
        if FILE_KEYS.contains(&key.as_str()) {
            continue;
        }
        let line = line_of_key(text, key);
        if key.eq_ignore_ascii_case("client_secret") || key.eq_ignore_ascii_case("secret") {
            problems.push(problem(
                key,
                ProblemKind::NotAllowed,
                format!(
                    "the secret must not be written in a connection file; put it in an environment variable \
                     and name that variable with client_secret_env (default {DEFAULT_CLIENT_SECRET_ENV})"
                ),
                line,
            ));
        } else {
            problems.push(problem(
                key,
                ProblemKind::NotAllowed,
                format!("unknown key; expected one of {}", FILE_KEYS.join(", ")),
                line,
            ));
        }
    }

    let string_field = |key: &str, problems: &mut Vec<Problem>| -> Field {
        let line = line_of_key(text, key);
        let value = match table.get(key) {
            None => None,
            Some(toml::Value::String(s)) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
            Some(other) => {
                problems.push(problem(
                    key,
                    ProblemKind::Malformed,
                    format!("expected a string, found {}", other.type_str()),
                    line,
                ));
                None
            }
        };
        Field { value, line }
    };

    let api_url = string_field("api_url", &mut problems);
    let auth_url = string_field("auth_url", &mut problems);
    let tenant = string_field("tenant", &mut problems);
    let client_id = string_field("client_id", &mut problems);
    let scope = string_field("scope", &mut problems);
    let secret_env = string_field("client_secret_env", &mut problems);
    let rate_limit = rate_limit_field(&table, text, &mut problems);

    let client_secret = secret_from_env(&secret_env, "client_secret_env", &lookup, &mut problems);

    let raw = Raw {
        api_url,
        auth_url,
        tenant,
        client_id,
        scope,
        rate_limit,
        client_secret,
    };
    let labels = Labels {
        rate_limit: "rate_limit",
        api_url: "api_url",
        auth_url: "auth_url",
        tenant: "tenant",
        client_id: "client_id",
        client_secret: "client_secret_env",
    };
    assemble(raw, &labels, problems, origin)
}

/// The client secret from the environment variable `secret_env` names (default
/// [`DEFAULT_CLIENT_SECRET_ENV`]); a bad name or an unset variable is a problem on `label`.
fn secret_from_env(
    secret_env: &Field,
    label: &str,
    lookup: &impl Fn(&str) -> Option<String>,
    problems: &mut Vec<Problem>,
) -> Option<Secret> {
    let secret_var = secret_env
        .value
        .clone()
        .unwrap_or_else(|| DEFAULT_CLIENT_SECRET_ENV.to_owned());
    let mut client_secret = None;
    if secret_var.contains(['=', '\0']) || secret_var.chars().any(char::is_whitespace) {
        problems.push(problem(
            label,
            ProblemKind::Malformed,
            "must be the name of an environment variable (no spaces or '=')",
            secret_env.line,
        ));
    } else {
        client_secret = lookup(&secret_var)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .map(Secret::new);
        if client_secret.is_none() {
            let how = if secret_env.value.is_some() {
                "named by client_secret_env"
            } else {
                "the default for client_secret_env"
            };
            problems.push(problem(
                label,
                ProblemKind::Missing,
                format!("the environment variable {secret_var} ({how}) is not set, so there is no client secret"),
                secret_env.line,
            ));
        }
    }

    client_secret
}

/// `rate_limit = "500/3m"` or `rate_limit = { requests = 500, per = "3m" }`, read as the text
/// form so one parser checks both.
fn rate_limit_field(table: &toml::Table, text: &str, problems: &mut Vec<Problem>) -> Field {
    let line = line_of_key(text, "rate_limit");
    let value = match table.get("rate_limit") {
        None => None,
        Some(toml::Value::String(s)) => Some(s.trim().to_owned()),
        Some(toml::Value::Table(t)) => {
            let requests = t.get("requests").and_then(toml::Value::as_integer);
            let per = t.get("per").and_then(toml::Value::as_str);
            let unknown: Vec<&str> = t
                .keys()
                .map(String::as_str)
                .filter(|k| !matches!(*k, "requests" | "per"))
                .collect();
            match (requests, per) {
                (Some(requests), Some(per)) if unknown.is_empty() => Some(format!("{requests}/{per}")),
                _ => {
                    problems.push(problem(
                        "rate_limit",
                        ProblemKind::Malformed,
                        "expected { requests = <whole number>, per = \"<span such as 3m>\" } and nothing else",
                        line,
                    ));
                    None
                }
            }
        }
        Some(other) => {
            problems.push(problem(
                "rate_limit",
                ProblemKind::Malformed,
                format!(
                    "expected \"500/3m\", \"off\" or {{ requests, per }}, found {}",
                    other.type_str()
                ),
                line,
            ));
            None
        }
    };
    Field { value, line }
}

/// 1-based line of a byte offset.
fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The line on which `key = …` appears at the top level (best effort, for messages only).
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|line| {
            let line = line.trim_start();
            let rest = line
                .strip_prefix(key)
                .or_else(|| line.strip_prefix(&format!("\"{key}\"")))
                .or_else(|| line.strip_prefix(&format!("'{key}'")));
            rest.is_some_and(|r| r.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const SECRET: &str = "s3cr3t-value-9f8e7d";

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name: &str| map.get(name).cloned()
    }

    fn full_env() -> Vec<(&'static str, &'static str)> {
        vec![
            (ENV_API_URL, "https://acme.halopsa.com/api"),
            (ENV_TENANT, "acme"),
            (ENV_CLIENT_ID, "client-1"),
            (ENV_CLIENT_SECRET, SECRET),
        ]
    }

    #[test]
    fn workflow_block_reads_the_secret_from_the_variable_it_names() {
        let block = WorkflowBlock {
            api_url: Some("https://acme.halopsa.com/api"),
            client_id: Some("client-1"),
            client_secret_env: Some("ACME_SECRET"),
            tenant: Some("acme"),
            ..WorkflowBlock::default()
        };
        let c = ConnectionConfig::from_workflow_block(&block, env(&[("ACME_SECRET", SECRET)]))
            .unwrap();
        assert_eq!(c.auth_url.as_str(), "https://acme.halopsa.com/auth");
        assert_eq!(c.client_secret.expose(), SECRET);
        assert_eq!(c.scope, "all");
        assert_eq!(c.rate_limit, None, "a workflow block is not paced");
    }

    #[test]
    fn workflow_block_names_every_problem_at_once() {
        let block = WorkflowBlock {
            api_url: Some("http://acme.example.com/api"),
            ..WorkflowBlock::default()
        };
        let err = ConnectionConfig::from_workflow_block(&block, env(&[])).unwrap_err();
        assert_eq!(err.origin(), &ConfigOrigin::Workflow);
        let fields: Vec<&str> = err.problems().iter().map(|p| p.field.as_str()).collect();
        assert!(fields.contains(&"connection.api_url"), "{err}");
        assert!(fields.contains(&"connection.client_id"), "{err}");
        assert!(fields.contains(&"connection.client_secret_env"), "{err}");
        assert!(
            err.to_string()
                .starts_with("the workflow's HaloPSA connection block is unusable:"),
            "{err}"
        );
    }

    #[test]
    fn nothing_set_means_sandbox() {
        assert_eq!(ConnectionConfig::from_env(env(&[])).unwrap(), None);
        // Blank values count as unset.
        assert_eq!(
            ConnectionConfig::from_env(env(&[(ENV_TENANT, ""), (ENV_SCOPE, "  ")])).unwrap(),
            None
        );
    }

    #[test]
    fn full_env_with_defaults() {
        let c = ConnectionConfig::from_env(env(&full_env()))
            .unwrap()
            .unwrap();
        assert_eq!(c.api_url.as_str(), "https://acme.halopsa.com/api");
        assert_eq!(c.auth_url.as_str(), "https://acme.halopsa.com/auth");
        assert_eq!(c.tenant.as_deref(), Some("acme"));
        assert_eq!(c.client_id, "client-1");
        assert_eq!(c.client_secret.expose(), SECRET);
        assert_eq!(c.scope, "all");
        assert_eq!(
            c.token_url().as_str(),
            "https://acme.halopsa.com/auth/token?tenant=acme"
        );
        c.validate().unwrap();
    }

    #[test]
    fn explicit_auth_url_and_scope_win() {
        let mut vars = full_env();
        vars.push((ENV_AUTH_URL, "https://auth.haloservicedesk.com"));
        vars.push((ENV_SCOPE, "read:tickets edit:tickets"));
        let c = ConnectionConfig::from_env(env(&vars)).unwrap().unwrap();
        assert_eq!(c.auth_url.as_str(), "https://auth.haloservicedesk.com/");
        assert_eq!(c.scope, "read:tickets edit:tickets");
        assert_eq!(
            c.token_url().as_str(),
            "https://auth.haloservicedesk.com/token?tenant=acme"
        );
    }

    #[test]
    fn partial_env_names_every_missing_variable() {
        let err = ConnectionConfig::from_env(env(&[(ENV_TENANT, "acme")])).unwrap_err();
        assert_eq!(err.origin(), &ConfigOrigin::Environment);
        assert_eq!(
            err.missing(),
            vec![ENV_API_URL, ENV_CLIENT_ID, ENV_CLIENT_SECRET]
        );
        let text = err.to_string();
        for name in [ENV_API_URL, ENV_CLIENT_ID, ENV_CLIENT_SECRET] {
            assert!(text.contains(name), "{text}");
        }
        assert!(!text.contains(ENV_SCOPE), "scope has a default: {text}");
    }

    #[test]
    fn malformed_and_missing_are_reported_together() {
        let err = ConnectionConfig::from_env(env(&[
            (ENV_API_URL, "acme.halopsa.com/api"),
            (ENV_AUTH_URL, "http://acme.halopsa.com/auth"),
            (ENV_CLIENT_SECRET, SECRET),
        ]))
        .unwrap_err();
        let fields: Vec<(&str, ProblemKind)> = err
            .problems()
            .iter()
            .map(|p| (p.field.as_str(), p.kind))
            .collect();
        assert_eq!(
            fields,
            vec![
                (ENV_API_URL, ProblemKind::Malformed),
                (ENV_AUTH_URL, ProblemKind::Insecure),
                (ENV_CLIENT_ID, ProblemKind::Missing),
            ]
        );
        assert!(!err.to_string().contains(SECRET));
        assert!(!format!("{err:?}").contains(SECRET));
    }

    #[test]
    fn auth_url_that_cannot_be_derived_asks_for_it() {
        let mut vars = full_env();
        vars[0] = (ENV_API_URL, "https://uk-trial.halopsa.com/");
        let err = ConnectionConfig::from_env(env(&vars)).unwrap_err();
        assert_eq!(err.problems().len(), 1);
        assert_eq!(err.problems()[0].field, ENV_AUTH_URL);
        assert!(err.to_string().contains("uk-trial"), "{err}");
    }

    #[test]
    fn token_url_shapes() {
        let base = ConnectionConfig::from_env(env(&full_env()))
            .unwrap()
            .unwrap();
        let with = |auth: &str, tenant: Option<&str>| ConnectionConfig {
            auth_url: Url::parse(auth).unwrap(),
            tenant: tenant.map(str::to_owned),
            ..base.clone()
        };
        // Hosted tenant.
        assert_eq!(
            with("https://acme.halopsa.com/auth", Some("acme"))
                .token_url()
                .as_str(),
            "https://acme.halopsa.com/auth/token?tenant=acme"
        );
        // On-premises, no tenant.
        assert_eq!(
            with("https://halo.example.com/auth", None)
                .token_url()
                .as_str(),
            "https://halo.example.com/auth/token"
        );
        assert_eq!(
            with("https://halo.example.com/auth/", None)
                .token_url()
                .as_str(),
            "https://halo.example.com/auth/token"
        );
        // Trial: separate auth host without /auth.
        assert_eq!(
            with("https://uk-trial.halopsa.com", Some("T"))
                .token_url()
                .as_str(),
            "https://uk-trial.halopsa.com/token?tenant=T"
        );
        // Tenant values are encoded.
        assert_eq!(
            with("https://x.example/auth", Some("a&b c"))
                .token_url()
                .as_str(),
            "https://x.example/auth/token?tenant=a%26b+c"
        );
    }

    #[test]
    fn derive_auth_url_shapes() {
        let d = |s: &str| {
            ConnectionConfig::derive_auth_url(&Url::parse(s).unwrap()).map(|u| u.to_string())
        };
        assert_eq!(
            d("https://x.halopsa.com/api").as_deref(),
            Some("https://x.halopsa.com/auth")
        );
        assert_eq!(
            d("https://x.halopsa.com/api/").as_deref(),
            Some("https://x.halopsa.com/auth")
        );
        assert_eq!(
            d("https://halo.example.com/halo/API").as_deref(),
            Some("https://halo.example.com/halo/auth")
        );
        assert_eq!(
            d("http://127.0.0.1:8080/api").as_deref(),
            Some("http://127.0.0.1:8080/auth")
        );
        assert_eq!(d("https://x.halopsa.com/"), None);
        assert_eq!(d("https://x.halopsa.com/apis"), None);
    }

    #[test]
    fn validate_applies_the_url_policy() {
        let good = ConnectionConfig::from_env(env(&full_env()))
            .unwrap()
            .unwrap();
        good.validate().unwrap();
        let local = ConnectionConfig {
            api_url: Url::parse("http://127.0.0.1:9000/api").unwrap(),
            auth_url: Url::parse("http://localhost:9000/auth").unwrap(),
            ..good.clone()
        };
        local.validate().unwrap();
        let ipv6 = ConnectionConfig {
            api_url: Url::parse("http://[::1]:9000/api").unwrap(),
            auth_url: Url::parse("http://[::1]:9000/auth").unwrap(),
            ..good.clone()
        };
        ipv6.validate().unwrap();
        let remote_http = ConnectionConfig {
            api_url: Url::parse("http://acme.halopsa.com/api").unwrap(),
            ..good.clone()
        };
        let err = remote_http.validate().unwrap_err();
        assert_eq!(err.problems()[0].field, "api_url");
        assert_eq!(err.problems()[0].kind, ProblemKind::Insecure);
        let token_as_auth = ConnectionConfig {
            auth_url: Url::parse("https://acme.halopsa.com/auth/token").unwrap(),
            ..good.clone()
        };
        assert!(
            token_as_auth
                .validate()
                .unwrap_err()
                .to_string()
                .contains("token endpoint")
        );
        let query = ConnectionConfig {
            auth_url: Url::parse("https://acme.halopsa.com/auth?tenant=acme").unwrap(),
            ..good
        };
        assert!(query.validate().is_err());
    }

    #[test]
    fn rate_limit_from_the_environment_with_the_hosted_default() {
        // full_env names a hosted tenant: the conservative default applies.
        let hosted = ConnectionConfig::from_env(env(&full_env())).unwrap().unwrap();
        assert_eq!(hosted.rate_limit, Some(RateLimit::HOSTED_HALOPSA));
        let mut vars = full_env();
        vars.push((ENV_RATE_LIMIT, "20/2s"));
        let set = ConnectionConfig::from_env(env(&vars)).unwrap().unwrap();
        assert_eq!(set.rate_limit, Some("20/2s".parse().unwrap()));
        vars.pop();
        vars.push((ENV_RATE_LIMIT, "off"));
        let off = ConnectionConfig::from_env(env(&vars)).unwrap().unwrap();
        assert_eq!(off.rate_limit, None);
        // On-premises (no tenant, own host): no default.
        let on_prem: Vec<_> = full_env()
            .into_iter()
            .filter(|(k, _)| *k != ENV_TENANT)
            .map(|(k, v)| (k, if k == ENV_API_URL { "https://halo.acme.example/api" } else { v }))
            .collect();
        let on_prem = ConnectionConfig::from_env(env(&on_prem)).unwrap().unwrap();
        assert_eq!(on_prem.rate_limit, None);
    }

    #[test]
    fn a_bad_rate_limit_is_reported_with_the_other_problems() {
        let err = ConnectionConfig::from_env(env(&[
            (ENV_API_URL, "https://acme.halopsa.com/api"),
            (ENV_RATE_LIMIT, "500 per 3m"),
        ]))
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains(ENV_RATE_LIMIT) && text.contains("500/3m"), "{text}");
        assert!(text.contains(ENV_CLIENT_ID), "all problems at once: {text}");
    }

    #[test]
    fn rate_limit_in_a_file_as_text_or_table() {
        let vars = [("HALOPSA_CLIENT_SECRET", "s3cret")];
        let base = "api_url = \"https://halo.acme.example/api\"\nclient_id = \"c\"\n";
        let table = file(&format!("{base}rate_limit = {{ requests = 100, per = \"10s\" }}\n"), &vars).unwrap();
        assert_eq!(table.rate_limit, Some("100/10s".parse().unwrap()));
        let text = file(&format!("{base}rate_limit = \"5/1s\"\n"), &vars).unwrap();
        assert_eq!(text.rate_limit, Some("5/1s".parse().unwrap()));
        let bad = file(&format!("{base}rate_limit = {{ requests = 100 }}\n"), &vars)
            .unwrap_err()
            .to_string();
        assert!(bad.contains("rate_limit") && bad.contains("line 3"), "{bad}");
        let bad = file(&format!("{base}rate_limit = 100\n"), &vars).unwrap_err().to_string();
        assert!(bad.contains("found integer"), "{bad}");
    }

    fn file(text: &str, vars: &[(&str, &str)]) -> Result<ConnectionConfig, ConfigError> {
        parse_file(text, ConfigOrigin::File("conn.toml".into()), env(vars))
    }

    #[test]
    fn file_with_default_secret_variable() {
        let c = file(
            "api_url = \"https://acme.halopsa.com/api\"\ntenant = \"acme\"\nclient_id = \"client-1\"\n",
            &[(ENV_CLIENT_SECRET, SECRET)],
        )
        .unwrap();
        assert_eq!(c.auth_url.as_str(), "https://acme.halopsa.com/auth");
        assert_eq!(c.client_secret.expose(), SECRET);
        assert_eq!(c.scope, "all");
    }

    #[test]
    fn file_with_named_secret_variable_and_all_fields() {
        let text = r#"
            api_url = "https://halo.example.com/api"
            auth_url = "https://halo.example.com/auth"
            client_id = "client-2"
            client_secret_env = "HALO_PROD_SECRET"
            scope = "all:standard"
        "#;
        let c = file(
            text,
            &[("HALO_PROD_SECRET", SECRET), (ENV_CLIENT_SECRET, "other")],
        )
        .unwrap();
        assert_eq!(c.client_secret.expose(), SECRET);
        assert_eq!(c.tenant, None);
        assert_eq!(c.scope, "all:standard");
        assert_eq!(
            c.token_url().as_str(),
            "https://halo.example.com/auth/token"
        );
    }

    #[test]
    fn shipped_example_file_parses() {
        let text = include_str!("../connection.example.toml");
        let c = file(text, &[(ENV_CLIENT_SECRET, SECRET)]).unwrap();
        assert_eq!(
            c.token_url().as_str(),
            "https://acme.halopsa.com/auth/token?tenant=acme"
        );
        assert_eq!(c.scope, "all");
    }

    #[test]
    fn file_refuses_an_inline_secret_without_echoing_it() {
        let text = "api_url = \"https://acme.halopsa.com/api\"\nclient_id = \"c\"\nclient_secret = \"inline-secret-xyz\"\n";
        let err = file(text, &[(ENV_CLIENT_SECRET, SECRET)]).unwrap_err();
        assert_eq!(err.problems().len(), 1);
        let p = &err.problems()[0];
        assert_eq!(
            (p.field.as_str(), p.kind, p.line),
            ("client_secret", ProblemKind::NotAllowed, Some(3))
        );
        assert!(!err.to_string().contains("inline-secret-xyz"));
        assert!(err.to_string().contains("conn.toml"));
    }

    #[test]
    fn file_errors_name_file_field_line_and_problem() {
        let text =
            "api_url = \"http://acme.halopsa.com/api\"\ntennant = \"acme\"\nclient_id = 42\n";
        let err = file(text, &[]).unwrap_err();
        let got: Vec<(&str, ProblemKind, Option<usize>)> = err
            .problems()
            .iter()
            .map(|p| (p.field.as_str(), p.kind, p.line))
            .collect();
        assert_eq!(
            got,
            vec![
                ("tennant", ProblemKind::NotAllowed, Some(2)),
                ("client_id", ProblemKind::Malformed, Some(3)),
                ("client_secret_env", ProblemKind::Missing, None),
                ("api_url", ProblemKind::Insecure, Some(1)),
                ("client_id", ProblemKind::Missing, None),
            ]
        );
        let text = err.to_string();
        assert!(
            text.starts_with("HaloPSA connection file conn.toml is unusable:"),
            "{text}"
        );
        assert!(text.contains("HALOPSA_CLIENT_SECRET"), "{text}");
        assert!(text.contains("expected a string, found integer"), "{text}");
    }

    #[test]
    fn file_syntax_errors_carry_a_line_but_not_the_source() {
        let text =
            "api_url = \"https://acme.halopsa.com/api\"\nclient_id = \"unterminated-secretish\n";
        let err = file(text, &[(ENV_CLIENT_SECRET, SECRET)]).unwrap_err();
        let p = &err.problems()[0];
        assert_eq!(
            (p.field.as_str(), p.kind, p.line),
            ("file", ProblemKind::Unreadable, Some(2))
        );
        assert!(!err.to_string().contains("unterminated-secretish"), "{err}");
    }

    #[test]
    fn unreadable_file_is_reported() {
        let err =
            ConnectionConfig::from_file("/nonexistent/psaflow/conn.toml", env(&[])).unwrap_err();
        assert_eq!(err.problems()[0].kind, ProblemKind::Unreadable);
        assert!(err.to_string().contains("/nonexistent/psaflow/conn.toml"));
    }
}
