//! API tokens: made, hashed and checked here; stored (as SHA-256 only) in the run store.
//!
//! A token is `psf_` and 64 hex digits (256 random bits). The store keeps its SHA-256; a
//! presented token is hashed and compared with every active token's hash in constant time, so
//! neither the comparison nor which token matched shows in the time taken.
use psaflow_store::{NewToken, RunStore, StoreError, TokenRecord, now_ms};
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

/// What a token may do. `admin` includes every other scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Submit, cancel and read runs.
    Run,
    /// Invoke single nodes.
    Invoke,
    /// Decide approvals.
    Approve,
    /// Read runs, nodes, workflows and the audit trail.
    Read,
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::Run,
        Scope::Invoke,
        Scope::Approve,
        Scope::Read,
        Scope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Run => "run",
            Scope::Invoke => "invoke",
            Scope::Approve => "approve",
            Scope::Read => "read",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `run,read` to scopes, or a message naming the unknown one.
pub fn parse_scopes(text: &str) -> Result<Vec<Scope>, String> {
    let mut scopes = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some(scope) = Scope::parse(part) else {
            return Err(format!(
                "unknown scope '{part}'; scopes are {}",
                Scope::ALL.map(Scope::as_str).join(", ")
            ));
        };
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    if scopes.is_empty() {
        return Err(format!(
            "give at least one scope: {}",
            Scope::ALL.map(Scope::as_str).join(", ")
        ));
    }
    scopes.sort();
    Ok(scopes)
}

/// A token's name: what runs, approvals and audit rows show as who acted.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "token name {name:?} must be 1 to 64 letters, digits, '-', '_', '.' or '@'"
        ))
    }
}

/// Hex SHA-256 of a token, as the store keeps it.
pub fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new random token.
pub fn generate() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| format!("the operating system gave no random bytes for a token: {e}"))?;
    Ok(format!(
        "psf_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

/// Makes and stores a token; returns the token (shown once, never stored).
pub fn create(store: &dyn RunStore, name: &str, scopes: &[Scope]) -> Result<String, String> {
    check_name(name)?;
    let token = generate()?;
    let record = NewToken {
        name: name.to_string(),
        token_sha256: hash(&token),
        scopes: scopes.iter().map(|s| s.as_str().to_string()).collect(),
        created_at: now_ms(),
    };
    match store.create_token(&record) {
        Ok(()) => Ok(token),
        Err(StoreError::Duplicate(_)) => Err(format!(
            "a token named '{name}' already exists; revoke it first (psaflow tokens revoke {name}) or choose another name"
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// Who a request acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub scopes: Vec<Scope>,
}

impl Identity {
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&Scope::Admin) || self.scopes.contains(&scope)
    }
}

/// The active token whose hash equals the presented token's, compared in constant time with
/// every active token (no early exit).
pub fn find(tokens: &[TokenRecord], presented: &str) -> Option<Identity> {
    let wanted = hash(presented);
    let mut found: Option<&TokenRecord> = None;
    for token in tokens.iter().filter(|t| t.is_active()) {
        let equal: bool = token
            .token_sha256
            .as_bytes()
            .ct_eq(wanted.as_bytes())
            .into();
        if equal {
            found = Some(token);
        }
    }
    found.map(|t| Identity {
        name: t.name.clone(),
        scopes: t.scopes.iter().filter_map(|s| Scope::parse(s)).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str, token: &str, revoked: bool) -> TokenRecord {
        TokenRecord {
            name: name.into(),
            token_sha256: hash(token),
            scopes: vec!["read".into()],
            created_at: 0,
            revoked_at: revoked.then_some(1),
            last_used_at: None,
        }
    }

    #[test]
    fn tokens_are_found_by_hash_and_revoked_ones_refused() {
        let tokens = vec![record("a", "psf_1", false), record("b", "psf_2", true)];
        assert_eq!(find(&tokens, "psf_1").unwrap().name, "a");
        assert!(find(&tokens, "psf_2").is_none(), "revoked");
        assert!(find(&tokens, "psf_3").is_none());
    }

    #[test]
    fn scopes_parse_and_admin_allows_all() {
        assert_eq!(
            parse_scopes("read, run,read").unwrap(),
            vec![Scope::Run, Scope::Read]
        );
        assert!(
            parse_scopes("rad")
                .unwrap_err()
                .contains("unknown scope 'rad'")
        );
        assert!(parse_scopes("").is_err());
        let admin = Identity {
            name: "x".into(),
            scopes: vec![Scope::Admin],
        };
        assert!(admin.allows(Scope::Approve));
        let reader = Identity {
            name: "x".into(),
            scopes: vec![Scope::Read],
        };
        assert!(!reader.allows(Scope::Run));
    }

    #[test]
    fn generated_tokens_differ_and_names_are_checked() {
        let a = generate().unwrap();
        assert!(a.starts_with("psf_") && a.len() == 68);
        assert_ne!(a, generate().unwrap());
        assert!(check_name("ci-bot").is_ok());
        assert!(check_name("a b").is_err());
        assert!(check_name("").is_err());
    }
}
