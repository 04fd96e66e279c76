//! What `psaflow serve` keeps in the run store besides runs: API tokens (as hashes) and the
//! submissions that make `PUT /v1/runs/{id}` and `Idempotency-Key` idempotent.
use serde::Serialize;

/// A token about to be stored. `token_sha256` is the hex SHA-256 of the token: the token
/// itself is never stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewToken {
    /// The token's name, unique in the store (shown in audit rows as `started_by`).
    pub name: String,
    /// Hex SHA-256 of the token.
    pub token_sha256: String,
    /// The scopes it was given (`read`, `invoke`, ...), as `psaflow serve` names them.
    pub scopes: Vec<String>,
    /// When it was made (ms since the epoch).
    pub created_at: i64,
}

/// A token as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenRecord {
    /// The token's name.
    pub name: String,
    /// Hex SHA-256 of the token (not secret: the token cannot be found from it).
    #[serde(skip)]
    pub token_sha256: String,
    /// What the token may do.
    pub scopes: Vec<String>,
    /// When it was made (ms since the epoch).
    pub created_at: i64,
    /// When it was revoked; a revoked token is refused.
    pub revoked_at: Option<i64>,
    /// When it last authenticated a request, for finding unused tokens.
    pub last_used_at: Option<i64>,
}

impl TokenRecord {
    /// False once revoked.
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }
}

/// One idempotent submission: the key it came with, the run it made and its body's hash.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    /// The client's key: the run id of a `PUT`, or the `Idempotency-Key` header.
    pub key: String,
    /// The run the first submission made; a repeat gets this run back.
    pub run_id: String,
    /// Hex SHA-256 of the first body, so a repeat with a different body is refused.
    pub body_sha256: String,
    /// When it was first submitted (ms since the epoch).
    pub created_at: i64,
}
