//! The connection settings, read from the `CONNECTWISE_*` variables. Every problem is reported
//! at once, each naming its variable, and the private key never appears in any of them.

use psaflow_core::Secret;
use psaflow_core::RateLimit;
use std::fmt;
use std::net::IpAddr;
use url::{Host, Url};

/// The REST base, `https://<host>/v4_6_release/apis/3.0`.
pub const ENV_API_URL: &str = "CONNECTWISE_API_URL";
/// The company id users log in with.
pub const ENV_COMPANY_ID: &str = "CONNECTWISE_COMPANY_ID";
/// The API member's public key.
pub const ENV_PUBLIC_KEY: &str = "CONNECTWISE_PUBLIC_KEY";
/// The API member's private key (a secret).
pub const ENV_PRIVATE_KEY: &str = "CONNECTWISE_PRIVATE_KEY";
/// The integration's clientId, sent as a header on every request.
pub const ENV_CLIENT_ID: &str = "CONNECTWISE_CLIENT_ID";
/// Optional request budget, `<requests>/<span>` (`100/1m`) or `off`. ConnectWise publishes no
/// quota, so there is none by default; it answers 429 with `Retry-After` when pressed.
pub const ENV_RATE_LIMIT: &str = "CONNECTWISE_RATE_LIMIT";
/// The connection's variables; with none of them set, psaflow uses the embedded sandbox.
pub const ENV_VARS: [&str; 5] = [
    ENV_API_URL,
    ENV_COMPANY_ID,
    ENV_PUBLIC_KEY,
    ENV_PRIVATE_KEY,
    ENV_CLIENT_ID,
];

/// The REST base must end here (`https://host/v4_6_release/apis/3.0`).
const API_SUFFIX: &str = "/apis/3.0";

/// A complete, checked ConnectWise connection.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionConfig {
    /// The REST base, without a trailing slash.
    pub api_url: Url,
    /// The company id (first half of the Basic user name, `company+publicKey`).
    pub company_id: String,
    /// The API member's public key.
    pub public_key: String,
    /// The API member's private key (the Basic password).
    pub private_key: Secret,
    /// The integration's clientId (a GUID from developer.connectwise.com).
    pub client_id: String,
    /// At most this many requests in any span of its length (`CONNECTWISE_RATE_LIMIT`).
    pub rate_limit: Option<RateLimit>,
}

impl fmt::Debug for ConnectionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionConfig")
            .field("api_url", &self.api_url.as_str())
            .field("company_id", &self.company_id)
            .field("public_key", &self.public_key)
            .field("private_key", &self.private_key)
            .field("client_id", &self.client_id)
            .field("rate_limit", &self.rate_limit.map(|r| r.to_string()))
            .finish()
    }
}

/// One thing wrong with the settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The variable at fault, e.g. `CONNECTWISE_API_URL`.
    pub variable: &'static str,
    /// What is wrong with it and what to write instead.
    pub message: String,
}

/// Every problem found in the settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// Every problem, so users fix them all at once.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the ConnectWise connection is not usable:")?;
        for p in &self.problems {
            write!(f, "\n  - {}: {}", p.variable, p.message)?;
        }
        Ok(())
    }
}

impl ConnectionConfig {
    /// Reads the process environment. `Ok(None)` when none of the variables is set.
    pub fn from_process_env() -> Result<Option<ConnectionConfig>, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (the environment, in production). An empty value
    /// counts as unset.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<ConnectionConfig>, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        if ENV_VARS.iter().all(|name| get(name).is_none()) {
            return Ok(None);
        }
        let mut problems = Vec::new();
        let mut required = |variable: &'static str, what: &str| {
            let value = get(variable);
            if value.is_none() {
                problems.push(Problem {
                    variable,
                    message: format!("is not set; it must hold {what}"),
                });
            }
            value
        };
        let api_url = required(
            ENV_API_URL,
            "the REST base, e.g. https://api-na.myconnectwise.net/v4_6_release/apis/3.0",
        );
        let company_id = required(ENV_COMPANY_ID, "the company id you log in with");
        let public_key = required(ENV_PUBLIC_KEY, "the API member's public key");
        let private_key = required(ENV_PRIVATE_KEY, "the API member's private key");
        let client_id = required(
            ENV_CLIENT_ID,
            "the integration's clientId from developer.connectwise.com",
        );
        let api_url = api_url.and_then(|text| match check_api_url(text.trim()) {
            Ok(url) => Some(url),
            Err(message) => {
                problems.push(Problem {
                    variable: ENV_API_URL,
                    message,
                });
                None
            }
        });
        // '+' and ':' separate the parts of the Basic credential, so they cannot occur inside.
        for (variable, value, forbidden) in [
            (ENV_COMPANY_ID, &company_id, ['+', ':']),
            (ENV_PUBLIC_KEY, &public_key, [':', ':']),
        ] {
            if let Some(value) = value
                && let Some(c) = value
                    .chars()
                    .find(|c| forbidden.contains(c) || c.is_whitespace())
            {
                problems.push(Problem {
                    variable,
                    message: format!("must not contain '{c}'"),
                });
            }
        }
        let rate_limit = read_rate_limit(&get).unwrap_or_else(|problem| {
            problems.push(problem);
            None
        });
        if let Some(key) = &private_key
            && key.trim() != key
        {
            problems.push(Problem {
                variable: ENV_PRIVATE_KEY,
                message: "has spaces around it; copy the key exactly".into(),
            });
        }
        match (api_url, company_id, public_key, private_key, client_id) {
            (
                Some(api_url),
                Some(company_id),
                Some(public_key),
                Some(private_key),
                Some(client_id),
            ) if problems.is_empty() => Ok(Some(ConnectionConfig {
                api_url,
                company_id,
                public_key,
                private_key: Secret::new(private_key),
                client_id: client_id.trim().to_owned(),
                rate_limit,
            })),
            _ => Err(ConfigError { problems }),
        }
    }
}

/// `CONNECTWISE_RATE_LIMIT` for the embedded sandbox (no tenant is configured): the sandbox is
/// paced by it too, as the HaloPSA sandbox is by `HALOPSA_RATE_LIMIT`, so pacing can be tried
/// without a tenant. `off` or unset: none.
pub fn sandbox_rate_limit(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<RateLimit>, ConfigError> {
    let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
    read_rate_limit(&get).map_err(|mut problem| {
        problem.message += " (with no CONNECTWISE_* tenant it paces the embedded sandbox)";
        ConfigError {
            problems: vec![problem],
        }
    })
}

/// `CONNECTWISE_RATE_LIMIT`, read by `get`: `off` or unset is none.
fn read_rate_limit(get: &impl Fn(&str) -> Option<String>) -> Result<Option<RateLimit>, Problem> {
    match get(ENV_RATE_LIMIT) {
        Some(text) if !text.trim().eq_ignore_ascii_case("off") => {
            text.parse().map(Some).map_err(|err| Problem {
                variable: ENV_RATE_LIMIT,
                message: format!("{err}, or off"),
            })
        }
        _ => Ok(None),
    }
}

/// True for 127.0.0.0/8, ::1 and `localhost`: the only hosts plain http may reach.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

fn check_api_url(text: &str) -> Result<Url, String> {
    let mut url = Url::parse(text).map_err(|e| format!("'{text}' is not a URL ({e})"))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(format!(
                "'{text}' uses plain http; use https (http is allowed only for loopback addresses)"
            ));
        }
        other => return Err(format!("'{text}' must be an https URL, not {other}")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain credentials; use the CONNECTWISE_*_KEY variables".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("'{text}' must not have a query or fragment"));
    }
    let path = url.path().trim_end_matches('/').to_owned();
    if !path.to_ascii_lowercase().ends_with(API_SUFFIX) {
        return Err(format!(
            "'{text}' must be the full REST base ending in {API_SUFFIX}, e.g. https://api-na.myconnectwise.net/v4_6_release/apis/3.0"
        ));
    }
    url.set_path(&path);
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(vars: &[(&str, &str)]) -> Result<Option<ConnectionConfig>, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ConnectionConfig::from_lookup(|name| map.get(name).cloned())
    }

    const FULL: [(&str, &str); 5] = [
        (
            ENV_API_URL,
            "https://api-na.myconnectwise.net/v4_6_release/apis/3.0/",
        ),
        (ENV_COMPANY_ID, "acme"),
        (ENV_PUBLIC_KEY, "pub123"),
        (ENV_PRIVATE_KEY, "very-private-key"),
        (ENV_CLIENT_ID, "b1f0c0de-0000-4000-8000-000000000001"),
    ];

    #[test]
    fn none_set_means_sandbox_and_empty_counts_as_unset() {
        assert_eq!(read(&[]), Ok(None));
        assert_eq!(read(&[(ENV_API_URL, "  ")]), Ok(None));
    }

    #[test]
    fn a_full_set_reads_and_the_url_loses_its_trailing_slash() {
        let config = read(&FULL).unwrap().unwrap();
        assert_eq!(
            config.api_url.as_str(),
            "https://api-na.myconnectwise.net/v4_6_release/apis/3.0"
        );
        let debug = format!("{config:?}");
        assert!(debug.contains("private_key: ***"), "{debug}");
        assert!(!debug.contains("very-private-key"));
    }

    #[test]
    fn every_missing_variable_is_named_at_once() {
        let err = read(&[(ENV_COMPANY_ID, "acme")]).unwrap_err();
        let named: Vec<&str> = err.problems.iter().map(|p| p.variable).collect();
        assert_eq!(
            named,
            [ENV_API_URL, ENV_PUBLIC_KEY, ENV_PRIVATE_KEY, ENV_CLIENT_ID]
        );
        let text = err.to_string();
        assert!(text.contains("CONNECTWISE_CLIENT_ID: is not set"), "{text}");
    }

    #[test]
    fn url_rules() {
        let with_url = |url: &str| {
            let mut vars = FULL.to_vec();
            vars[0].1 = url;
            read(&vars)
        };
        assert!(with_url("http://127.0.0.1:8080/v4_6_release/apis/3.0").is_ok());
        assert!(with_url("http://localhost/x/apis/3.0").is_ok());
        for (url, needle) in [
            ("http://cw.example.com/v4_6_release/apis/3.0", "plain http"),
            ("https://cw.example.com/v4_6_release", "ending in /apis/3.0"),
            ("ftp://cw.example.com/apis/3.0", "https URL"),
            ("not a url", "not a URL"),
            ("https://u:p@cw.example.com/apis/3.0", "credentials"),
            ("https://cw.example.com/apis/3.0?x=1", "query"),
        ] {
            let err = with_url(url).unwrap_err();
            assert_eq!(err.problems.len(), 1, "{url}: {err}");
            assert_eq!(err.problems[0].variable, ENV_API_URL);
            assert!(err.problems[0].message.contains(needle), "{url}: {err}");
        }
    }

    #[test]
    fn the_rate_limit_is_optional_and_checked() {
        let mut vars = FULL.to_vec();
        assert_eq!(read(&vars).unwrap().unwrap().rate_limit, None);
        vars.push((ENV_RATE_LIMIT, "20/2s"));
        let limit = read(&vars).unwrap().unwrap().rate_limit.unwrap();
        assert_eq!(
            (limit.requests, limit.per),
            (20, std::time::Duration::from_secs(2))
        );
        vars.pop();
        vars.push((ENV_RATE_LIMIT, "off"));
        assert_eq!(read(&vars).unwrap().unwrap().rate_limit, None);
        vars.pop();
        vars.push((ENV_RATE_LIMIT, "lots"));
        let err = read(&vars).unwrap_err();
        assert_eq!(err.problems[0].variable, ENV_RATE_LIMIT);
        assert!(err.to_string().ends_with(", or off"), "{err}");
        // Alone, it does not make a tenant: the sandbox is used, paced by it.
        assert_eq!(read(&[(ENV_RATE_LIMIT, "5/1s")]), Ok(None));
        let sandbox = |value: &str| {
            sandbox_rate_limit(|name| (name == ENV_RATE_LIMIT).then(|| value.to_owned()))
        };
        assert_eq!(sandbox("5/1s").unwrap().unwrap().to_string(), "5/1s");
        assert_eq!(sandbox("off"), Ok(None));
        assert_eq!(
            sandbox("lots").unwrap_err().problems[0].variable,
            ENV_RATE_LIMIT
        );
    }

    #[test]
    fn separators_in_credentials_are_refused_and_the_key_is_never_shown() {
        let mut vars = FULL.to_vec();
        vars[1].1 = "ac+me";
        vars[2].1 = "pub:1";
        vars[3].1 = " very-private-key";
        let err = read(&vars).unwrap_err();
        let named: Vec<&str> = err.problems.iter().map(|p| p.variable).collect();
        assert_eq!(named, [ENV_COMPANY_ID, ENV_PUBLIC_KEY, ENV_PRIVATE_KEY]);
        assert!(!err.to_string().contains("very-private-key"));
    }
}
