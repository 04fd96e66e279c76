//! What a node declares about itself (its WIT `describe`), and the one rule that decides whether
//! an API call is within what it declared. The runtime enforces the rule on every call; the
//! workflow engine reads the effect for destructive/confirm decisions.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What running a node changes in the PSA, ordered by how far it reaches (a call given a
/// parameter value with a further-reaching effect has that effect).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// Changes nothing.
    #[default]
    Read,
    /// Makes a new record; not idempotent, so a retry after an unknown outcome must look first.
    Create,
    /// Changes fields of an existing record.
    Update,
    /// Makes a record inactive; it can be made active again.
    Deactivate,
    /// Removes a record for good.
    Delete,
}

impl Effect {
    /// The WIT enum case names, in order.
    pub const NAMES: [&'static str; 5] = ["read", "create", "update", "deactivate", "delete"];

    /// The case with this WIT name (`"deactivate"`), or `None` for a name the contract does not have.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "read" => Effect::Read,
            "create" => Effect::Create,
            "update" => Effect::Update,
            "deactivate" => Effect::Deactivate,
            "delete" => Effect::Delete,
            _ => return None,
        })
    }

    /// The WIT name of the case, as `psaflow nodes` and reports print it.
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// Deletes or deactivates records: marked in dry runs and summaries, and inside `for_each`
    /// it needs `confirm: true`.
    pub fn is_destructive(self) -> bool {
        matches!(self, Effect::Delete | Effect::Deactivate)
    }
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A parameter value that makes one call do more than the node's declared effect:
/// `halopsa.user.update` given `Inactive: true` deactivates the user. The node declares it beside
/// its effect (WIT `param-effect`), so a deactivation through an update is confirmed, counted
/// and audited as one, never guessed from parameter names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamEffect {
    /// The parameter, as users write it (`Inactive`).
    pub param: String,
    /// The value that has the effect (`true`).
    pub equals: serde_json::Value,
    /// What the call does then.
    pub effect: Effect,
}

impl ParamEffect {
    /// Whether a call with `params` is given this value.
    pub fn is_given(&self, params: &serde_json::Map<String, serde_json::Value>) -> bool {
        params.get(&self.param) == Some(&self.equals)
    }

    /// `Inactive: true`, as messages and `psaflow nodes` show the condition.
    pub fn condition(&self) -> String {
        format!("{}: {}", self.param, self.equals)
    }
}

/// An API call a node may make: a method and a path prefix below the API base.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capability {
    /// Upper case, e.g. `GET`.
    pub method: String,
    /// e.g. `/Client`; matches `/Client` and `/Client/7`, not `/ClientContact`.
    pub path_prefix: String,
}

impl Capability {
    /// Checks a declaration as the node gave it; the message says what is wrong.
    pub fn check(&self) -> Result<(), String> {
        const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
        if !METHODS.contains(&self.method.as_str()) {
            return Err(format!(
                "capability method {:?} is not one of {}",
                self.method,
                METHODS.join(", ")
            ));
        }
        let prefix = &self.path_prefix;
        if !prefix.starts_with('/') || prefix.len() < 2 {
            return Err(format!(
                "capability path prefix {prefix:?} must start with / and name a resource (\"/\" alone would allow the whole API)"
            ));
        }
        if prefix.ends_with('/') || unsafe_path(prefix).is_some() {
            return Err(format!(
                "capability path prefix {prefix:?} must be plain path segments without a trailing /"
            ));
        }
        Ok(())
    }

    /// Whether a call of `method` on `path` is within this capability: same method, and the path
    /// equals the prefix or continues it with `/` (segments compared ignoring letter case, as
    /// HaloPSA routes are).
    pub fn allows(&self, method: &str, path: &str) -> bool {
        if !self.method.eq_ignore_ascii_case(method) || unsafe_path(path).is_some() {
            return false;
        }
        let prefix = self.path_prefix.as_bytes();
        let path = path.as_bytes();
        path.len() >= prefix.len()
            && path[..prefix.len()].eq_ignore_ascii_case(prefix)
            && (path.len() == prefix.len() || path[prefix.len()] == b'/')
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path_prefix)
    }
}

/// Why a request path cannot be matched against prefixes safely, if it cannot: a server would
/// resolve `..`, `.`, empty segments, backslashes or encoded separators to a different resource
/// than the text says.
pub fn unsafe_path(path: &str) -> Option<&'static str> {
    if !path.starts_with('/') {
        return Some("the path does not start with /");
    }
    if path.contains(['\\', '?', '#']) {
        return Some("the path contains \\, ? or #");
    }
    let lower = path.to_ascii_lowercase();
    if ["%2e", "%2f", "%5c"].iter().any(|e| lower.contains(e)) {
        return Some("the path contains an encoded dot or separator");
    }
    if path[1..]
        .split('/')
        .any(|segment| segment.is_empty() || segment == "." || segment == "..")
        && path != "/"
    {
        return Some("the path has an empty, . or .. segment");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap(method: &str, prefix: &str) -> Capability {
        Capability {
            method: method.into(),
            path_prefix: prefix.into(),
        }
    }

    #[test]
    fn prefix_matches_whole_segments_ignoring_case() {
        let c = cap("GET", "/Client");
        assert!(c.allows("GET", "/Client"));
        assert!(c.allows("GET", "/Client/7"));
        assert!(c.allows("GET", "/client/7/notes"));
        assert!(c.allows("get", "/CLIENT"));
        assert!(!c.allows("GET", "/ClientContact"));
        assert!(!c.allows("GET", "/Clien"));
        assert!(!c.allows("DELETE", "/Client/1"));
        assert!(!c.allows("GET", "/Users"));
    }

    #[test]
    fn paths_that_resolve_elsewhere_never_match() {
        let c = cap("GET", "/Client");
        for path in [
            "/Client/../Users",
            "/Client/./7",
            "/Client//7",
            "/Client/%2e%2e/Users",
            "/Client%2F..%2FUsers",
            "/Client\\..\\Users",
            "/Client/7?x=1",
            "Client/7",
        ] {
            assert!(!c.allows("GET", path), "{path} must not match");
        }
    }

    #[test]
    fn declarations_are_checked() {
        assert!(cap("GET", "/Client").check().is_ok());
        assert!(cap("PATCH", "/system/members").check().is_ok());
        assert!(cap("get", "/Client").check().unwrap_err().contains("method"));
        assert!(cap("TRACE", "/Client").check().is_err());
        assert!(cap("GET", "/").check().unwrap_err().contains("whole API"));
        assert!(cap("GET", "Client").check().is_err());
        assert!(cap("GET", "/Client/").check().is_err());
        assert!(cap("GET", "/Client/../Users").check().is_err());
    }

    #[test]
    fn destructive_effects() {
        assert!(Effect::Delete.is_destructive());
        assert!(Effect::Deactivate.is_destructive());
        assert!(!Effect::Update.is_destructive());
        assert_eq!(Effect::from_name("deactivate"), Some(Effect::Deactivate));
        assert_eq!(Effect::Deactivate.name(), "deactivate");
        assert_eq!(Effect::from_name("remove"), None);
    }
}
