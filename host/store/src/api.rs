//! What `psaflow serve` keeps in the run store besides runs: API tokens (as hashes) and the
//! submissions that make `PUT /v1/runs/{id}` and `Idempotency-Key` idempotent.
use serde::Serialize;

/// A token about to be stored. `token_sha256` is the hex SHA-256 of the token: the token
/// itself is never stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewToken {
    pub name: String,
    pub token_sha256: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
}

/// A token as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenRecord {
    pub name: String,
    /// Hex SHA-256 of the token (not secret: the token cannot be found from it).
    #[serde(skip)]
    pub token_sha256: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

impl TokenRecord {
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }
}

/// One idempotent submission: the key it came with, the run it made and its body's hash.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    pub key: String,
    pub run_id: String,
    pub body_sha256: String,
    pub created_at: i64,
}
