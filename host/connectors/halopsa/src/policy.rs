//! What the host allows a node request to do. Kept apart from the HTTP code so that the rules
//! can be read, reviewed and tested on their own.
//!
//! 1. **Transport security**: `https://` always; plain `http://` only to a loopback host
//!    (`127.0.0.0/8`, `::1`, `localhost`), which is how the local sandbox and tests run.
//!    No user name or password inside a URL.
//! 2. **Request paths** are relative API paths such as `/Client/7`. A path may not be an
//!    absolute URL, may not contain `.`/`..` segments (plain or percent-encoded), backslashes,
//!    control characters, `?` or `#` (query parameters travel separately), and the final URL
//!    must stay below the API base URL.
//!
//! Both rules are checked when the connection is configured and again before every request.

use std::fmt;
use std::net::IpAddr;
use url::{Host, Url};

/// Why a URL or a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyViolation(pub String);

impl fmt::Display for PolicyViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PolicyViolation {}

/// True for `localhost`, `127.0.0.0/8`, `::1` (and `::ffff:127.x.y.z`).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => {
            let d = d.strip_suffix('.').unwrap_or(d);
            d.eq_ignore_ascii_case("localhost")
        }
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => {
            IpAddr::V6(ip).is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        None => false,
    }
}

/// Rule 1: https, or http to loopback; a host; no credentials in the URL.
pub fn check_transport_security(url: &Url) -> Result<(), PolicyViolation> {
    if url.host().is_none() {
        return Err(PolicyViolation(format!("{} has no host", shown(url))));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(url) => {}
        "http" => {
            return Err(PolicyViolation(format!(
                "{} uses plain http:// to a remote host; use https:// (http is allowed only for \
                 localhost, 127.0.0.0/8 and ::1)",
                shown(url)
            )));
        }
        other => {
            return Err(PolicyViolation(format!(
                "{} uses the scheme {other}:, only https:// (or http:// to loopback) is allowed",
                shown(url)
            )));
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(PolicyViolation(format!(
            "{} carries a user name or password; credentials belong in the client id and secret",
            shown(url)
        )));
    }
    Ok(())
}

/// Rule 2: turns a node's relative path and query pairs into a URL below `api_base`.
pub fn api_url_for(
    api_base: &Url,
    path: &str,
    query: &[(String, String)],
) -> Result<Url, PolicyViolation> {
    check_transport_security(api_base)?;
    check_relative_path(path)?;

    let base_path = api_base.path().trim_end_matches('/');
    let relative = path.strip_prefix('/').unwrap_or(path);
    let mut url = api_base.clone();
    url.set_path(&format!("{base_path}/{relative}"));
    url.set_query(None);
    url.set_fragment(None);
    if !query.is_empty() {
        url.query_pairs_mut()
            .extend_pairs(query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    }

    // Belt and braces: whatever the URL parser made of the path, it must still point below the base.
    let stays_inside = url.scheme() == api_base.scheme()
        && url.host() == api_base.host()
        && url.port_or_known_default() == api_base.port_or_known_default()
        && url.path().starts_with(&format!("{base_path}/"));
    if !stays_inside {
        return Err(PolicyViolation(format!(
            "request path {path:?} leaves the HaloPSA API"
        )));
    }
    Ok(url)
}

fn check_relative_path(path: &str) -> Result<(), PolicyViolation> {
    let deny = |why: &str| {
        Err(PolicyViolation(format!(
            "request path {path:?} refused: {why}"
        )))
    };

    if path.chars().any(char::is_control) {
        return deny("it contains control characters");
    }
    let relative = match path.strip_prefix('/') {
        Some(rest) => {
            if rest.starts_with('/') {
                return deny(
                    "it is an absolute URL (starts with //); give a path such as /Client/7",
                );
            }
            rest
        }
        None => {
            let first = path.split('/').next().unwrap_or_default();
            if first.contains(':') {
                return deny(
                    "it is an absolute URL; give a path relative to the API such as /Client/7",
                );
            }
            path
        }
    };
    if relative.is_empty() {
        return deny("it names no API resource");
    }
    if path.contains('\\') {
        return deny("it contains a backslash");
    }
    if path.contains(['?', '#']) {
        return deny("query parameters go in the query list, not in the path");
    }
    let lower = path.to_ascii_lowercase();
    if ["%2e", "%2f", "%5c"].iter().any(|enc| lower.contains(enc)) {
        return deny("it contains a percent-encoded dot, slash or backslash");
    }
    let segments: Vec<&str> = relative.split('/').collect();
    for (i, seg) in segments.iter().enumerate() {
        if *seg == "." || *seg == ".." {
            return deny("it contains a . or .. segment");
        }
        // A single trailing slash (`/Client/`) is harmless; an empty segment elsewhere is not a path HaloPSA has.
        if seg.is_empty() && i + 1 != segments.len() {
            return deny("it contains an empty segment (//)");
        }
    }
    Ok(())
}

/// The URL as shown in messages: without any user info (which the policy refuses anyway).
fn shown(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn https_anywhere_http_only_to_loopback() {
        for ok in [
            "https://acme.halopsa.com/api",
            "http://127.0.0.1:8080/api",
            "http://127.5.6.7/api",
            "http://localhost:3000/api",
            "http://LOCALHOST/api",
            "http://[::1]:9000/api",
        ] {
            assert!(check_transport_security(&url(ok)).is_ok(), "{ok}");
        }
        for bad in [
            "http://acme.halopsa.com/api",
            "http://10.0.0.1/api",
            "http://localhost.evil.com/api",
            "http://[::2]/api",
            "ftp://acme.halopsa.com/api",
            "https://user:pw@acme.halopsa.com/api",
        ] {
            assert!(check_transport_security(&url(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn credentials_in_a_url_are_not_echoed() {
        let err = check_transport_security(&url("https://user:topsecretpw@acme.halopsa.com/api"))
            .unwrap_err();
        assert!(!err.0.contains("topsecretpw"), "{err}");
        assert!(err.0.contains("acme.halopsa.com"));
    }

    #[test]
    fn relative_paths_are_joined_below_the_base() {
        let base = url("https://acme.halopsa.com/api");
        assert_eq!(
            api_url_for(&base, "/Client/7", &[]).unwrap().as_str(),
            "https://acme.halopsa.com/api/Client/7"
        );
        assert_eq!(
            api_url_for(&base, "Client/7", &[]).unwrap().as_str(),
            "https://acme.halopsa.com/api/Client/7"
        );
        let with_slash = url("https://acme.halopsa.com/api/");
        assert_eq!(
            api_url_for(&with_slash, "/Tickets", &[]).unwrap().as_str(),
            "https://acme.halopsa.com/api/Tickets"
        );
        let q = vec![
            ("search".to_string(), "a b&c=d".to_string()),
            ("page_no".to_string(), "2".to_string()),
        ];
        assert_eq!(
            api_url_for(&base, "/Client", &q).unwrap().as_str(),
            "https://acme.halopsa.com/api/Client?search=a+b%26c%3Dd&page_no=2"
        );
    }

    #[test]
    fn escaping_paths_are_refused() {
        let base = url("https://acme.halopsa.com/api");
        for bad in [
            "/../auth/token",
            "/Client/../../x",
            "/Client/./7",
            "..",
            "https://evil.example/steal",
            "//evil.example/steal",
            "/Client/%2e%2e/%2E%2E/x",
            "/Client%2f..%2fx",
            "/Client\\..\\x",
            "/Client?x=1",
            "/Client#frag",
            "/Client//7",
            "/",
            "",
            "/Client/7\n",
            "javascript:alert(1)",
        ] {
            assert!(
                api_url_for(&base, bad, &[]).is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn remote_http_base_is_refused_at_send_time_too() {
        let base = url("http://acme.halopsa.com/api");
        let err = api_url_for(&base, "/Client/7", &[]).unwrap_err();
        assert!(err.0.contains("plain http"), "{err}");
    }
}
